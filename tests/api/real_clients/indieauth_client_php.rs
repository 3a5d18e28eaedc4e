//! Apps built on indieauth-client-php (indieweb/indieauth-client-php):
//! Quill, Aperture's sign-in, OwnYourSwarm on the old 0.2.1, Monocle, and
//! the library alone as a "sign in with your domain" button.

use super::*;

/// Quill (aaronpk/Quill `controllers/auth.php`) through indieauth-client-php
/// 1.1.6 (indieweb/indieauth-client-php `src/IndieAuth/Client.php`):
/// `begin($me, 'create update media profile')`, Quill's own check for a
/// `micropub` rel, `complete($_GET)`, and `revoke_micropub_token()` from
/// Quill's `lib/helpers.php`.
#[tokio::test]
async fn quill_signs_in_with_indieauth_client_php_shapes() {
    let app = with_micropub().await;
    let me = app.me();

    // discoverMetadataEndpoint(): HEAD, Link rel="indieauth-metadata".
    let metadata_url = php_discover(&app, &me, "indieauth-metadata")
        .await
        .expect("indieauth-metadata in the HEAD Link headers");
    // _fetchMetadata(): a plain GET, json_decode.
    let metadata: serde_json::Value = app
        .api
        .get(&metadata_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .expect("metadata is JSON");
    // discoverIssuer() / _isIssuerValid(): issuer present, no query or
    // fragment, and normalizeMeURL($metadata_endpoint) starts with it. (It
    // also wants https, which the test's loopback issuer is not; DISC-19.)
    let issuer = metadata["issuer"].as_str().expect("issuer").to_owned();
    assert!(!issuer.contains(['?', '#']));
    assert!(
        metadata_url.starts_with(&issuer),
        "{metadata_url} / {issuer}"
    );
    // _discoverEndpoint() reads the metadata first for these two…
    let authorization_endpoint = metadata["authorization_endpoint"].as_str().unwrap();
    let token_endpoint = metadata["token_endpoint"].as_str().unwrap();
    // …and they agree with the legacy rels older copies of the library use.
    assert_eq!(
        php_discover(&app, &me, "authorization_endpoint")
            .await
            .as_deref(),
        Some(authorization_endpoint)
    );
    assert_eq!(
        php_discover(&app, &me, "token_endpoint").await.as_deref(),
        Some(token_endpoint)
    );
    // Quill: `if(!$micropubEndpoint) $error['error'] = 'missing_micropub_endpoint'`.
    assert_eq!(
        php_discover(&app, &me, "micropub").await.as_deref(),
        Some("https://example.net/micropub")
    );

    // buildAuthorizationURL(): parse_url + http_build_query in this order;
    // state is bin2hex(random_bytes(8)), the verifier bin2hex(random_bytes(32)).
    let quill = format!("http://127.0.0.1:{}/", app.unused_port());
    let redirect_uri = format!("{quill}auth/callback");
    let state = php_hex(8);
    let verifier = php_hex(32);
    let mut auth_url = Url::parse(authorization_endpoint).unwrap();
    assert_eq!(auth_url.query(), None, "clients append ? blindly");
    auth_url
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("me", &me)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("client_id", &quill)
        .append_pair("state", &state)
        .append_pair("scope", "create update media profile")
        .append_pair("code_challenge", &s256(&verifier))
        .append_pair("code_challenge_method", "S256");
    let (back, _) = app.owner_approves(auth_url.as_str()).await;

    // complete(): error? code? validateStateMatch (!==) and
    // validateIssuerMatch (!==, against the metadata issuer).
    assert!(back.as_str().starts_with(&redirect_uri), "{back}");
    let q = query_map(&back);
    assert!(!q.contains_key("error"), "{back}");
    assert_eq!(q["state"], state);
    assert_eq!(
        q["iss"], issuer,
        "iss must equal the metadata issuer byte for byte"
    );

    // exchangeAuthorizationCode() at the token endpoint (non-profile
    // scopes were asked for): curl POST of http_build_query(...), so
    // Content-Type: application/x-www-form-urlencoded, and this Accept.
    let data = php_redeem(
        &app,
        token_endpoint,
        Some("Mozilla/5.0 indieauth-client/1.1.6"),
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", &redirect_uri),
            ("client_id", &quill),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    // complete(): `if(!isset($data['response']['me']))` is an error; Quill
    // then needs `k($token['response'], ['me','access_token','scope'])`.
    for key in ["me", "access_token", "scope"] {
        assert!(data[key].is_string(), "{key}: {data:?}");
    }
    assert_eq!(data["me"], me.as_str(), "entered URL == returned me");
    assert_eq!(data["scope"], "create update media profile");
    let access_token = data["access_token"].as_str().unwrap().to_owned();
    assert!(app.is_active(&access_token).await);

    // Quill's "reset" revokes: curl POST action=revoke&token=… to the token
    // endpoint, no Accept, answer ignored.
    let resp = app
        .api
        .post(token_endpoint)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "*/*")
        .body(form(&[("action", "revoke"), ("token", &access_token)]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!app.is_active(&access_token).await);
}

/// indieauth-client-php 1.1.6 used for sign-in only (`begin($url)` with no
/// scope, as indielogin-style "sign in with your domain" sites do): no token
/// endpoint is needed, and the code is redeemed at the authorization
/// endpoint with the same form and Accept as above. The answer must carry
/// `me`; a `me` different from the entered URL makes the library rediscover
/// and compare authorization endpoints.
#[tokio::test]
async fn indieauth_client_php_sign_in_redeems_at_the_authorization_endpoint() {
    let app = TestApp::spawn().await;
    let me = app.me();
    let authorization_endpoint = php_discover(&app, &me, "authorization_endpoint")
        .await
        .expect("authorization_endpoint rel");
    let client_id = format!("http://127.0.0.1:{}/", app.unused_port());
    let redirect_uri = format!("{client_id}redirect.php");
    let (state, verifier) = (php_hex(8), php_hex(32));
    let mut auth_url = Url::parse(&authorization_endpoint).unwrap();
    auth_url
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("me", &me)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("client_id", &client_id)
        .append_pair("state", &state)
        .append_pair("code_challenge", &s256(&verifier))
        .append_pair("code_challenge_method", "S256");
    let (back, _) = app.owner_approves(auth_url.as_str()).await;
    let q = query_map(&back);
    assert_eq!(q["state"], state);

    let data = php_redeem(
        &app,
        &authorization_endpoint,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", &redirect_uri),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(data["me"], me.as_str());
    assert!(!data.contains_key("access_token"));
    // The Authorization Server Confirmation step the library runs when the
    // returned me differs: the returned me must name this same endpoint.
    assert_eq!(
        php_discover(&app, data["me"].as_str().unwrap(), "authorization_endpoint")
            .await
            .as_deref(),
        Some(authorization_endpoint.as_str())
    );
}

/// Aperture's sign-in (aaronpk/Aperture
/// `aperture/app/Http/Controllers/LoginController.php`): discovers
/// `authorization_endpoint` and `token_endpoint` (refusing to continue
/// without the token endpoint, which it keeps for verifying Microsub
/// tokens), asks for the Microsub scope `read` with `client_id =
/// route('index').'/'`, a 32-character `str_random` state and PKCE, and
/// redeems with indieauth-client-php's `exchangeAuthorizationCode()`.
#[tokio::test]
async fn aperture_signs_in_with_the_read_scope() {
    let app = with_micropub().await;
    let me = app.me();
    let authorization_endpoint = php_discover(&app, &me, "authorization_endpoint")
        .await
        .unwrap();
    let token_endpoint = php_discover(&app, &me, "token_endpoint").await.unwrap();
    let client_id = format!("http://127.0.0.1:{}/", app.unused_port());
    let redirect_uri = format!("{client_id}login/callback");
    let state = "Zx8bQ2mN4pR6tV8xZ0bD2fH4jL6nP8rT";
    let verifier = php_hex(32);
    let mut auth_url = Url::parse(&authorization_endpoint).unwrap();
    auth_url
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("me", &me)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("client_id", &client_id)
        .append_pair("state", state)
        .append_pair("scope", "read")
        .append_pair("code_challenge", &s256(&verifier))
        .append_pair("code_challenge_method", "S256");
    let (back, _) = app.owner_approves(auth_url.as_str()).await;
    let q = query_map(&back);
    // `if(Request::input('state') != session('state'))`.
    assert_eq!(q["state"], state);
    let data = php_redeem(
        &app,
        &token_endpoint,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", &redirect_uri),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    // `if(isset($auth['response']['me']))`, then `session('indieauth_url')
    // != $auth['response']['me']` would trigger a rediscovery.
    assert_eq!(data["me"], me.as_str());
    assert_eq!(
        data["scope"], "read",
        "an unknown-to-doorstep scope is kept"
    );
    assert!(data["access_token"].is_string());
}

/// OwnYourSwarm (aaronpk/OwnYourSwarm `controllers/Auth.php`) with the
/// indieauth-client-php it locks, 0.2.1 (`composer.lock`; indieweb/
/// indieauth-client-php `src/IndieAuth/Client.php` at f5f6efad): discovery
/// by a curl HEAD (`\IndieWeb\http_rels`), then a GET and php-mf2 rels;
/// `token_endpoint`, `micropub` and `authorization_endpoint` all required;
/// `buildAuthorizationURL()` with `client_id = Config::$baseURL` (no
/// slash), `state = mt_rand(1000000, 9999999)`, `scope = 'create update'`
/// and no PKCE; `getAccessToken()` posts `http_build_query(grant_type, me,
/// code, redirect_uri, client_id)` with curl's default `Accept: */*`, then
/// `json_decode`, `parse_str` as fallback, and needs `me`,
/// `access_token` and `scope`.
#[tokio::test]
async fn ownyourswarm_signs_in_with_indieauth_client_0_2_and_no_pkce() {
    let app = with_micropub().await;
    let me = app.me();
    let base = Url::parse(&me).unwrap();
    let head = app.api.head(&me).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let head_rels = split_header_rels(head.headers(), &base);
    let discover = |rel: &str| first(&head_rels, rel).expect(rel);
    let (authorization_endpoint, token_endpoint) = (
        discover("authorization_endpoint"),
        discover("token_endpoint"),
    );
    // A rel missing from the Link headers sends the library to a GET and
    // php-mf2's rels.
    let micropub = match first(&head_rels, "micropub") {
        Some(m) => m,
        None => first(&get_rels(&app, &me).await, "micropub").expect("micropub rel"),
    };
    assert_eq!(micropub, "https://example.net/micropub");

    let base_url = format!("http://127.0.0.1:{}", app.unused_port());
    let redirect_uri = format!("{base_url}/auth/callback");
    let state = "4821937";
    let mut u = Url::parse(&authorization_endpoint).unwrap();
    u.set_query(Some(&form(&[
        ("me", &me),
        ("redirect_uri", &redirect_uri),
        ("client_id", &base_url),
        ("state", state),
        ("scope", "create update"),
        ("response_type", "code"),
    ])));
    let (back, _) = app.owner_approves(u.as_str()).await;
    let q = query_map(&back);
    // `$request->get('state') != $_SESSION['auth_state']`.
    assert_eq!(q["state"], state);

    let resp = post_raw(
        &app,
        &token_endpoint,
        "application/x-www-form-urlencoded",
        &[
            ("Accept", "*/*"),
            (
                "User-Agent",
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_8_2) AppleWebKit/537.36",
            ),
        ],
        form(&[
            ("grant_type", "authorization_code"),
            ("me", &me),
            ("code", &q["code"]),
            ("redirect_uri", &redirect_uri),
            ("client_id", &base_url),
        ]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let auth = php_decode(&resp.body);
    for key in ["me", "access_token", "scope"] {
        assert!(auth.contains_key(key), "k($token['auth'], {key}): {auth:?}");
    }
    assert_eq!(auth["scope"], "create update");
}

/// Monocle (aaronpk/Monocle `app/LoginController.php`):
/// indieauth-client-php's `begin($url, 'create update read follow
/// channels')` and `complete($params)` (the same shapes as Quill,
/// above), then `discoverMicrosubEndpoint($token['me'])` on
/// the returned `me`: without a `microsub` rel there, sign-in fails.
#[tokio::test]
async fn monocle_finds_the_microsub_rel_on_the_returned_me() {
    let app = with_micropub().await;
    let me = app.me();
    let metadata = app.metadata().await;
    let client_id = format!("http://127.0.0.1:{}/", app.unused_port());
    let redirect_uri = format!("{client_id}login/callback");
    let verifier = "a".repeat(64);
    let mut u = Url::parse(metadata["authorization_endpoint"].as_str().unwrap()).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("me", &me)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("client_id", &client_id)
        .append_pair("state", "0a1b2c3d4e5f6a7b")
        .append_pair("scope", "create update read follow channels")
        .append_pair("code_challenge", &s256(&verifier))
        .append_pair("code_challenge_method", "S256");
    let (back, asked) = app.owner_approves(u.as_str()).await;
    assert!(!asked);
    let q = query_map(&back);
    assert_eq!(q["iss"], metadata["issuer"].as_str().unwrap());
    let token = php_redeem(
        &app,
        metadata["token_endpoint"].as_str().unwrap(),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", &redirect_uri),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let returned_me = token["me"].as_str().unwrap();
    let rels = get_rels(&app, returned_me).await;
    assert_eq!(
        first(&rels, "microsub").as_deref(),
        Some("https://example.net/microsub")
    );
    assert_eq!(token["scope"], "create update read follow channels");
}

/// `exchangeAuthorizationCode()`: a curl POST of `http_build_query(...)`
/// with the library's `Accept`, answered 200, and the answer decoded as
/// the library does (JSON, or a form body).
async fn php_redeem(
    app: &TestApp,
    endpoint: &str,
    user_agent: Option<&str>,
    fields: &[(&str, &str)],
) -> HashMap<String, serde_json::Value> {
    let mut req = app
        .api
        .post(endpoint)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(
            "Accept",
            "application/json, application/x-www-form-urlencoded;q=0.8",
        );
    if let Some(agent) = user_agent {
        req = req.header("User-Agent", agent);
    }
    let resp = req.body(form(fields)).send().await.unwrap();
    let status = resp.status();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    php_decode(&body)
}
