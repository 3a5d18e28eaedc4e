//! More real clients, libraries and resource servers, replayed request by
//! request from their published source (PRODUCT "Compatibility with the
//! clients people use"), after `real_clients.rs`. Each test names the
//! repository and file it follows; the comments quote what the program
//! sends and what it needs from the answer.

use crate::fixtures::{Fixture, Reply};
use crate::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use url::Url;

// ---------------------------------------------------------------------------
// What the clients' discovery and encoding code does, in Rust.
// ---------------------------------------------------------------------------

/// `(rel, absolute href)` of every `Link` header value, in order (a
/// generic RFC 8288 reader, as rel-parser, `header.ParseLink` and
/// `\IndieWeb\http_rels` are).
fn header_rels(headers: &HeaderMap, base: &Url) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for value in headers.get_all("link") {
        let value = value.to_str().expect("ascii Link header");
        for link in value.split(',') {
            let mut parts = link.split(';');
            let href = parts.next().unwrap().trim();
            let href = href.trim_start_matches('<').trim_end_matches('>');
            for p in parts {
                if let Some(v) = p.trim().strip_prefix("rel=") {
                    for rel in v.trim_matches('"').split_whitespace() {
                        out.push((rel.to_owned(), base.join(href).unwrap().to_string()));
                    }
                }
            }
        }
    }
    out
}

/// A GET of the homepage, `Link` headers first and then the HTML, the way
/// rel-parser (indieauth-helper), Micropub-helper and most clients read it.
async fn get_rels(app: &TestApp, me: &str) -> Vec<(String, String)> {
    let base = Url::parse(me).unwrap();
    let resp = app
        .api
        .get(me)
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut rels = header_rels(resp.headers(), &base);
    rels.extend(html_rels(&resp.text().await.unwrap(), &base));
    rels
}

fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).expect("encode")
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The owner, signed in, answers what doorstep shows for `auth_url`: the
/// no-PKCE page (allowing this client) when it comes, then the consent
/// page (approve). Returns where the browser is sent and whether the
/// no-PKCE page was shown.
async fn owner_approves(app: &TestApp, auth_url: &str) -> (Url, bool) {
    let browser = app.signed_in_browser().await;
    let mut page = browser.get(auth_url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let asked_about_pkce = page.has("form#pkce");
    if asked_about_pkce {
        let resp = browser
            .submit(&page, "form#pkce", &[], Some(("action", "allow")))
            .await;
        assert_eq!(resp.status, 303, "{}", resp.body);
        page = browser.get(resp.location.as_deref().unwrap()).await;
        assert_eq!(page.status, 200, "{}", page.body);
    }
    let resp = browser
        .submit(&page, "form#consent", &[], Some(("action", "approve")))
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    (resp.location_url(), asked_about_pkce)
}

async fn post_raw(
    app: &TestApp,
    url: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: String,
) -> Response {
    let mut req = app
        .api
        .post(url)
        .header("Content-Type", content_type)
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    Response::read(req.send().await.expect("request")).await
}

// ---------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------

/// Together (cleverdevil/together `graphql/lib/indieauth.js`,
/// `graphql/datasources/indieauth.js`) through indieauth-helper
/// (grantcodes/indieauth-helper `src/main.js`): `clientId: process.env.URL`
/// (no trailing slash), `redirectUri: URL + '/auth'`, no `codeVerifier`
/// (so no PKCE), `getAuthUrl('code', scopes)` with Together's nine
/// scopes, and a `state` that is CryptoJS AES output (base64 with `+`, `/`
/// and `=`). `getToken()` posts `qs.stringify({grant_type, me, code,
/// client_id, redirect_uri})` with `content-type:
/// application/x-www-form-urlencoded;charset=UTF-8` and `accept:
/// application/json, application/x-www-form-urlencoded`, refuses an answer
/// without `me`, `scope` and `access_token`, and compares the hostname of
/// the returned `me` with the one it signed in as. The newer
/// `src/main.ts` also sends `code_verifier=` (empty) when it has none.
#[tokio::test]
async fn together_signs_in_through_indieauth_helper_without_pkce() {
    let app = with_micropub().await;
    let me = app.me();
    // getRelsFromUrl(me, ['micropub', 'microsub']): authorization_endpoint
    // is required, the others are kept when present.
    let rels = get_rels(&app, &me).await;
    let authorization_endpoint = first(&rels, "authorization_endpoint").expect("auth rel");
    let token_endpoint = first(&rels, "token_endpoint").expect("token rel");
    assert!(first(&rels, "micropub").is_some() && first(&rels, "microsub").is_some());

    let together = format!("http://127.0.0.1:{}", app.unused_port());
    let redirect_uri = format!("{together}/auth");
    let scopes = "post create delete update read follow mute block channels";
    let sign_in = |state: &'static str| {
        let mut u = Url::parse(&authorization_endpoint).unwrap();
        u.query_pairs_mut()
            .append_pair("me", &me)
            .append_pair("client_id", &together)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("state", state)
            .append_pair("scope", scopes);
        u
    };
    let state = "U2FsdGVkX1+8Qw3/Zk2m7yq0Xr+9aBc/De4fGh5iJk8=";
    let (back, asked) = owner_approves(&app, sign_in(state).as_str()).await;
    assert!(asked, "a client without PKCE gets the owner's no-PKCE page");
    assert!(back.as_str().starts_with(&redirect_uri), "{back}");
    let q = query_map(&back);
    // validateState(): AES-decrypts the state, so it must come back intact.
    assert_eq!(q["state"], state);

    let exchange = |code: String, extra: Option<(&'static str, &'static str)>| {
        let mut pairs = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("me", me.clone()),
            ("code", code),
            ("client_id", together.clone()),
            ("redirect_uri", redirect_uri.clone()),
        ];
        if let Some((k, v)) = extra {
            pairs.push((k, v.to_owned()));
        }
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        let app = &app;
        let token_endpoint = token_endpoint.clone();
        async move {
            post_raw(
                app,
                &token_endpoint,
                "application/x-www-form-urlencoded;charset=UTF-8",
                &[(
                    "accept",
                    "application/json, application/x-www-form-urlencoded",
                )],
                body,
            )
            .await
        }
    };
    let resp = exchange(q["code"].clone(), None).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let result = resp.json();
    for key in ["me", "scope", "access_token"] {
        assert!(result[key].is_string(), "{key}: {result}");
    }
    assert_eq!(
        Url::parse(result["me"].as_str().unwrap())
            .unwrap()
            .host_str(),
        Url::parse(&me).unwrap().host_str()
    );
    assert_eq!(result["scope"], scopes, "LEG-7: post is granted verbatim");

    // The allowance is remembered; indieauth-helper's main.ts sends an
    // empty code_verifier, which is no verifier at all (AREQ-2, PKCE-9).
    let (back, asked) = owner_approves(&app, sign_in("second").as_str()).await;
    assert!(!asked, "the allowance without PKCE is remembered");
    let code = query_map(&back)["code"].clone();
    let resp = exchange(code, Some(("code_verifier", ""))).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(resp.json()["access_token"].is_string());
}

/// indieauth-helper used for sign-in only (grantcodes/indieauth-helper
/// `src/main.js`): `getAuthUrl()` defaults to `response_type=id` with no
/// scope and no PKCE, and `verifyCode(code)` posts `{code, client_id,
/// redirect_uri}` — no `grant_type` — to the authorization endpoint with
/// `Accept: application/json, application/x-www-form-urlencoded`, then
/// compares `me` after stripping trailing slashes (LEG-5, REDA-1).
#[tokio::test]
async fn indieauth_helper_sign_in_verifies_the_code_without_grant_type() {
    let app = TestApp::spawn().await;
    let me = app.me();
    let authorization_endpoint =
        first(&get_rels(&app, &me).await, "authorization_endpoint").unwrap();
    let client_id = format!("http://127.0.0.1:{}", app.unused_port());
    let redirect_uri = format!("{client_id}/auth");
    let mut u = Url::parse(&authorization_endpoint).unwrap();
    u.query_pairs_mut()
        .append_pair("me", &me)
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_type", "id")
        .append_pair("state", "U2FsdGVkX19abc+/=");
    let (back, _) = owner_approves(&app, u.as_str()).await;
    let q = query_map(&back);
    assert_eq!(q["state"], "U2FsdGVkX19abc+/=");

    let resp = post_raw(
        &app,
        &authorization_endpoint,
        "application/x-www-form-urlencoded;charset=UTF-8",
        &[(
            "Accept",
            "application/json, application/x-www-form-urlencoded",
        )],
        form(&[
            ("code", &q["code"]),
            ("client_id", &client_id),
            ("redirect_uri", &redirect_uri),
        ]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let data = resp.json();
    assert!(data.get("error").is_none(), "{data}");
    assert_eq!(
        data["me"].as_str().unwrap().trim_end_matches('/'),
        me.trim_end_matches('/')
    );
    assert!(data.get("access_token").is_none());
}

/// Omnibear (keithjgrant/omnibear `src/util/micropub.js`,
/// `src/stores/authStore.js`, `src/background/authentication.js`) through
/// grantcodes' micropub-helper, which is not in the index: its
/// `getAuthUrl`/`getToken` are taken to send what the same author's
/// indieauth-helper sends (see Together). `clientId: 'https://omnibear.com'` (no
/// trailing slash, LEG-11), `redirectUri:
/// 'https://omnibear.com/auth/success/'`, and one fixed `state:
/// 'very-secret-omnibear-state'` for every sign-in; `scope=create`
/// (`src/components/LoginForm.js`), no PKCE. It needs the
/// `authorization_endpoint`, `token_endpoint` and `micropub` rels, and
/// fails on an answer without `access_token`.
#[tokio::test]
async fn omnibear_signs_in_twice_with_its_fixed_state_and_no_pkce() {
    let app = with_micropub().await;
    let me = app.me();
    let rels = get_rels(&app, &me).await;
    let endpoints: Vec<String> = ["authorization_endpoint", "token_endpoint", "micropub"]
        .iter()
        .map(|r| first(&rels, r).unwrap_or_else(|| panic!("Missing micropub data: {r}")))
        .collect();
    let client_id = format!("http://127.0.0.1:{}", app.unused_port());
    let redirect_uri = format!("{client_id}/auth/success/");
    let state = "very-secret-omnibear-state";
    for round in 0..2 {
        let mut u = Url::parse(&endpoints[0]).unwrap();
        u.query_pairs_mut()
            .append_pair("me", &me)
            .append_pair("client_id", &client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("state", state)
            .append_pair("scope", "create");
        let (back, asked) = owner_approves(&app, u.as_str()).await;
        // The no-PKCE allowance, given once for "https://omnibear.com", is
        // found again for the same client_id without its slash.
        assert_eq!(asked, round == 0, "round {round}");
        let q = query_map(&back);
        assert_eq!(q["state"], state, "a reused state is returned as is");
        let resp = post_raw(
            &app,
            &endpoints[1],
            "application/x-www-form-urlencoded;charset=UTF-8",
            &[(
                "accept",
                "application/json, application/x-www-form-urlencoded",
            )],
            form(&[
                ("grant_type", "authorization_code"),
                ("me", &me),
                ("code", &q["code"]),
                ("client_id", &client_id),
                ("redirect_uri", &redirect_uri),
            ]),
        )
        .await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert!(resp.json()["access_token"].is_string(), "{}", resp.body);
    }
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
    let head_rels = header_rels(head.headers(), &base);
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
    let (back, _) = owner_approves(&app, u.as_str()).await;
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
/// channels')` and `complete($params)` (the same shapes as Quill in
/// `real_clients.rs`), then `discoverMicrosubEndpoint($token['me'])` on
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
    let (back, asked) = owner_approves(&app, u.as_str()).await;
    assert!(!asked);
    let q = query_map(&back);
    assert_eq!(q["iss"], metadata["issuer"].as_str().unwrap());
    let resp = post_raw(
        &app,
        metadata["token_endpoint"].as_str().unwrap(),
        "application/x-www-form-urlencoded",
        &[(
            "Accept",
            "application/json, application/x-www-form-urlencoded;q=0.8",
        )],
        form(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", &redirect_uri),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
        ]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let token = php_decode(&resp.body);
    let returned_me = token["me"].as_str().unwrap();
    let rels = get_rels(&app, returned_me).await;
    assert_eq!(
        first(&rels, "microsub").as_deref(),
        Some("https://example.net/microsub")
    );
    assert_eq!(token["scope"], "create update read follow channels");
}

/// The page a native app publishes at its client_id: an h-app and its
/// custom-scheme redirect URI (IA §4.2.2, CID-20, CID-21, LEG-4).
async fn native_app_page(
    path: &'static str,
    name: &'static str,
    redirect: &'static str,
) -> Fixture {
    Fixture::start(move |_, p| {
        if p == path {
            Reply::html(&format!(
                r#"<!doctype html><html><head>
<link rel="redirect_uri" href="{redirect}">
</head><body>
<div class="h-app"><a href="{path}" class="u-url p-name">{name}</a></div>
</body></html>"#
            ))
        } else {
            Reply::Full(404, vec![], vec![])
        }
    })
    .await
}

/// Indigenous for iOS (IndiePass/indiepass-ios
/// `Indigenous/IndieAuth/IndieAuthLoginViewController.swift` and
/// `IndieAuth/IndieAuth.swift`):
/// `appClientId = "https://indigenous.abode.pub/ios/"`, `callbackUrl =
/// "indigenous://auth/callback"` (published on the client page with
/// `rel=redirect_uri`), the authorization URL from `URLComponents`
/// queryItems `me, redirect_uri, client_id, state (12 characters), scope
/// ("create", plus "read" when a microsub rel exists), response_type=code`,
/// no PKCE. `makeTokenRequest()` concatenates the body without any
/// percent-encoding (`"grant_type=authorization_code&me=" + me + "&code="
/// + code + …`), sends `Accept: application/json`, and on a 200 with a JSON
/// content type decodes `{access_token, scope, me}` as String, String, URL;
/// the scope must contain `create` or `post`.
#[tokio::test]
async fn indigenous_ios_signs_in_with_a_custom_scheme_redirect_uri() {
    let app = with_micropub().await;
    let me = app.me();
    let fx = native_app_page("/ios/", "Indigenous", "indigenous://auth/callback").await;
    let client_id = format!("http://localhost:{}/ios/", fx.port);
    let callback = "indigenous://auth/callback";
    let rels = get_rels(&app, &me).await;
    let authorization_endpoint = first(&rels, "authorization_endpoint").unwrap();
    let token_endpoint = first(&rels, "token_endpoint").unwrap();
    assert!(first(&rels, "micropub").is_some());
    let scope = if first(&rels, "microsub").is_some() {
        "create read"
    } else {
        "create"
    };
    let state = "k3J9xQ2mP7aZ";
    let mut u = Url::parse(&authorization_endpoint).unwrap();
    u.query_pairs_mut()
        .append_pair("me", &me)
        .append_pair("redirect_uri", callback)
        .append_pair("client_id", &client_id)
        .append_pair("state", state)
        .append_pair("scope", scope)
        .append_pair("response_type", "code");
    let (back, asked) = owner_approves(&app, u.as_str()).await;
    assert!(asked, "no PKCE: the owner allows it once");
    assert!(fx.hits() > 0, "doorstep read the app's page");
    // SFAuthenticationSession hands back the indigenous:// URL.
    assert_eq!(back.scheme(), "indigenous");
    assert!(back.as_str().starts_with(callback), "{back}");
    let q = query_map(&back);
    assert_eq!(q["state"], state);

    let body = format!(
        "grant_type=authorization_code&me={me}&code={}&redirect_uri={callback}&client_id={client_id}&state={state}",
        q["code"]
    );
    let resp = post_raw(
        &app,
        &token_endpoint,
        "application/x-www-form-urlencoded",
        &[("Accept", "application/json")],
        body,
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(
        resp.header("content-type")
            .unwrap()
            .contains("application/json")
    );
    #[derive(serde::Deserialize)]
    struct IndieAuthTokenResponse {
        access_token: String,
        scope: String,
        me: String,
    }
    let t: IndieAuthTokenResponse = serde_json::from_str(&resp.body).expect("Codable decode");
    assert!(t.scope.to_lowercase().contains("create"));
    // `let me: URL`: Foundation's URL(string:) must accept it.
    assert_eq!(Url::parse(&t.me).unwrap().as_str(), me);
    assert!(app.is_active(&t.access_token).await);
}

/// Indigenous for Android (IndiePass/indiepass-android
/// `users/AuthActivity.java`, `indieweb/indieauth/IndieAuthAction.java`,
/// `util/Utility.java`): discovery with jsoup — the `Link` header (jsoup
/// joins repeated headers with ", ") split on `,` then `;`, the rel
/// compared exactly after stripping `rel=` and quotes — then
/// `link[href]` elements; it needs both auth endpoints and a micropub or
/// microsub rel. The authorization URL is concatenated unencoded with
/// `code_challenge_method=S256`, `code_challenge =
/// base64url(sha256(two UUIDs without dashes))`, `state =
/// UUID.substring(0, 10)` and `scope=create+update+delete+media+read+follow+channels+mute+block`.
/// Volley posts `code, me, redirect_uri, client_id, grant_type,
/// code_verifier` with `Accept: application/json` and reads
/// `access_token` from the JSON. Signing out posts `action=revoke` and
/// `token` with the same token as `Authorization: Bearer`.
#[tokio::test]
async fn indigenous_android_signs_in_with_pkce_and_revokes_with_action_revoke() {
    let app = with_micropub().await;
    let domain_input = app.me().trim_end_matches('/').to_owned();
    let resp = app.api.get(&domain_input).send().await.unwrap();
    let joined: Vec<&str> = resp
        .headers()
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let joined = joined.join(", ");
    let (mut authorization_endpoint, mut token_endpoint) = (String::new(), String::new());
    let mut has_micropub_or_microsub = false;
    for link in joined.split(',') {
        let split: Vec<&str> = link.split(';').collect();
        let endpoint = split[0].replace(['<', '>'], "").trim().to_owned();
        let rel = split[1].trim().replace("rel=", "").replace('"', "");
        match rel.as_str() {
            "authorization_endpoint" => authorization_endpoint = endpoint,
            "token_endpoint" => token_endpoint = endpoint,
            "micropub" | "microsub" => has_micropub_or_microsub = true,
            _ => {}
        }
    }
    let html = resp.text().await.unwrap();
    for (rel, href) in html_rels(&html, &Url::parse(&app.me()).unwrap()) {
        if rel == "micropub" || rel == "microsub" {
            has_micropub_or_microsub = true;
        }
        if rel == "token_endpoint" && token_endpoint.is_empty() {
            token_endpoint = href;
        }
    }
    assert!(!authorization_endpoint.is_empty() && !token_endpoint.is_empty());
    assert!(has_micropub_or_microsub);

    let port = app.unused_port();
    let client_id = format!("http://127.0.0.1:{port}/");
    let redirect_uri = format!("http://127.0.0.1:{port}/android-callback");
    let state = "3f2b8c1d-9";
    let code_verifier = "3f2b8c1d9a7e4b1c8d2e6f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c";
    let url = format!(
        "{authorization_endpoint}?code_challenge_method=S256&code_challenge={}&response_type=code&redirect_uri={redirect_uri}&client_id={client_id}&me={domain_input}&scope=create+update+delete+media+read+follow+channels+mute+block&state={state}",
        s256(code_verifier)
    );
    let (back, asked) = owner_approves(&app, &url).await;
    assert!(!asked);
    let q = query_map(&back);
    assert_eq!(q["state"], state);

    let resp = post_raw(
        &app,
        &token_endpoint,
        "application/x-www-form-urlencoded; charset=UTF-8",
        &[("Accept", "application/json")],
        form(&[
            ("code", &q["code"]),
            ("me", &domain_input),
            ("redirect_uri", &redirect_uri),
            ("client_id", &client_id),
            ("grant_type", "authorization_code"),
            ("code_verifier", code_verifier),
        ]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let json = resp.json();
    let access_token = str_of(&json, "access_token");
    assert_eq!(
        json["scope"],
        "create update delete media read follow channels mute block"
    );

    // IndieAuthAction.revoke().
    let resp = post_raw(
        &app,
        &token_endpoint,
        "application/x-www-form-urlencoded; charset=UTF-8",
        &[
            ("Accept", "application/json"),
            ("Authorization", &format!("Bearer {access_token}")),
        ],
        form(&[("action", "revoke"), ("token", &access_token)]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(!app.is_active(&access_token).await, "REV-L1");
}

/// Sunlit and micro.blog's own apps signing in to an external blog
/// (microdotblog/sunlit issues #124 and #130; microdotblog/issues #235):
/// the code comes back through `https://sunlit.io/micropub/redirect` to
/// `sunlit://micropub?code=…&state=…&me=…`, the app will not finish without
/// `me` there, `client_id` is `https://sunlit.io/`, `state` an upper-case
/// UUID, `scope=create`, and no PKCE (PRODUCT "Compatibility"). The token
/// request is the plain form exchange with `Accept: application/json` that
/// micro.blog documents for its own endpoint (help.micro.blog "OAuth in
/// Micro.blog").
#[tokio::test]
async fn sunlit_signs_in_without_pkce_and_reads_me_from_the_redirect() {
    let app = with_micropub().await;
    let me = app.me();
    let metadata = app.metadata().await;
    let client_id = format!("http://127.0.0.1:{}/", app.unused_port());
    let redirect_uri = format!("{client_id}micropub/redirect");
    let state = "75769AAC-D3EE-467F-B7F0-D92638E4CA10";
    let mut u = Url::parse(metadata["authorization_endpoint"].as_str().unwrap()).unwrap();
    u.query_pairs_mut()
        .append_pair("me", &me)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("client_id", &client_id)
        .append_pair("state", state)
        .append_pair("scope", "create")
        .append_pair("response_type", "code");
    let (back, asked) = owner_approves(&app, u.as_str()).await;
    assert!(asked);
    let q = query_map(&back);
    assert_eq!(q["state"], state);
    assert_eq!(q.get("me"), Some(&me), "me in the redirect (issue #124)");
    let resp = post_raw(
        &app,
        metadata["token_endpoint"].as_str().unwrap(),
        "application/x-www-form-urlencoded",
        &[("Accept", "application/json")],
        form(&[
            ("code", &q["code"]),
            ("client_id", &client_id),
            ("grant_type", "authorization_code"),
            ("redirect_uri", &redirect_uri),
            ("me", &q["me"]),
        ]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let json = resp.json();
    assert_eq!(json["me"], me);
    assert_eq!(json["scope"], "create");
}

/// Go's go.hacdias.com/indielib (hacdias/indielib `indieauth/client.go`,
/// `indieauth/discovery.go`) on golang.org/x/oauth2: `DiscoverMetadata()`
/// tries a HEAD, then a GET, for the `indieauth-metadata` rel (`Link`
/// header first), and GETs the metadata with `Accept: application/json`;
/// `Authenticate()` builds `AuthCodeURL(state, scope, S256 challenge)`
/// (x/oauth2 sorts the query; state is 64 random bytes, base64url);
/// `ValidateCallback()` wants `iss == metadata.issuer`. `GetToken()` is
/// `oauth2.Config.Exchange` with `client_id` and `code_verifier` added:
/// x/oauth2 first tries `AuthStyleInHeader`, so the request carries
/// `Authorization: Basic base64(client_id + ":")` (retrying with the
/// params only if that fails — after which the code would be gone). The
/// answer must be JSON with `access_token` and a numeric `expires_in`;
/// `ProfileFromToken` reads `me`. `FetchProfile()` redeems a profile-only
/// code at the authorization endpoint with `Accept: application/json`.
#[tokio::test]
async fn indielib_go_client_exchanges_with_basic_auth_and_checks_iss() {
    let app = TestApp::spawn().await;
    let me = app.me();
    let base = Url::parse(&me).unwrap();
    let head = app.api.head(&me).send().await.unwrap();
    let metadata_url = first(&header_rels(head.headers(), &base), "indieauth-metadata")
        .expect("indieauth-metadata in the HEAD Link headers");
    let metadata: serde_json::Value = app
        .api
        .get(&metadata_url)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = format!("http://127.0.0.1:{}/", app.unused_port());
    let redirect_url = format!("{client_id}callback");
    let state = URL_SAFE_NO_PAD.encode([42u8; 64]);
    let verifier = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let authorize = |scope: &str| {
        let mut pairs = [
            ("client_id", client_id.clone()),
            ("code_challenge", s256(&verifier)),
            ("code_challenge_method", "S256".to_owned()),
            ("redirect_uri", redirect_url.clone()),
            ("response_type", "code".to_owned()),
            ("scope", scope.to_owned()),
            ("state", state.clone()),
        ];
        pairs.sort();
        let endpoint = metadata["authorization_endpoint"].as_str().unwrap();
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        format!(
            "{endpoint}{sep}{}",
            serde_urlencoded::to_string(pairs).unwrap()
        )
    };
    let (back, _) = owner_approves(&app, &authorize("create media")).await;
    let q = query_map(&back);
    assert_eq!(q["state"], state);
    assert_eq!(q["iss"], metadata["issuer"].as_str().unwrap());

    let basic = STANDARD.encode(format!(
        "{}:",
        url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect::<String>()
    ));
    let resp = post_raw(
        &app,
        metadata["token_endpoint"].as_str().unwrap(),
        "application/x-www-form-urlencoded",
        &[("Authorization", &format!("Basic {basic}"))],
        form(&[
            ("client_id", &client_id),
            ("code", &q["code"]),
            ("code_verifier", &verifier),
            ("grant_type", "authorization_code"),
            ("redirect_uri", &redirect_url),
        ]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(
        resp.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let tok = resp.json();
    assert!(tok["access_token"].is_string());
    assert_eq!(tok["token_type"], "Bearer");
    assert!(tok["expires_in"].is_u64(), "{tok}");
    assert_eq!(tok["me"], me, "ProfileFromToken");

    // FetchProfile(): identity only, at the authorization endpoint.
    let (back, _) = owner_approves(&app, &authorize("profile")).await;
    let code = query_map(&back)["code"].clone();
    let resp = post_raw(
        &app,
        metadata["authorization_endpoint"].as_str().unwrap(),
        "application/x-www-form-urlencoded",
        &[("Accept", "application/json")],
        form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_url),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
        ]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let profile = resp.json();
    assert_eq!(profile["me"], me);
    assert_eq!(profile["profile"]["name"], "Test Owner");
    assert!(profile["profile"]["url"].is_string());
}

/// Python's indieweb-utils (capjamesg/indieweb-utils
/// `src/indieweb_utils/indieauth/flask.py`): `indieauth_callback_handler`
/// posts `data={code, redirect_uri, client_id, grant_type,
/// code_verifier}` with `Accept: application/json`, wants a 200, `me` equal
/// after `strip("/")` and every required scope in `scope.split(" ")`.
/// `is_authenticated()` GETs the token endpoint with only `Authorization`
/// and `User-Agent` (requests' default `Accept: */*`), then calls
/// `.json()`: SPEC's VER-L5 decision answers exactly that request in JSON.
#[tokio::test]
async fn indieweb_utils_flask_helpers_exchange_and_verify() {
    let app = TestApp::spawn().await;
    let me = app.me();
    let metadata = app.metadata().await;
    let token_endpoint = metadata["token_endpoint"].as_str().unwrap();
    let client = app.client();
    let code = app.code_for(&client, "create update delete").await;
    let resp = post_raw(
        &app,
        token_endpoint,
        "application/x-www-form-urlencoded",
        &[
            ("Accept", "application/json"),
            ("User-Agent", "python-requests/2.31.0"),
        ],
        form(&[
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("client_id", &client.client_id),
            ("grant_type", "authorization_code"),
            ("code_verifier", &client.verifier),
        ]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let data = resp.json();
    assert_eq!(
        data["me"].as_str().unwrap().trim_matches('/'),
        me.trim_matches('/')
    );
    let granted: Vec<&str> = data["scope"].as_str().unwrap().split(' ').collect();
    for s in ["create", "update", "delete"] {
        assert!(granted.contains(&s));
    }
    let token = str_of(&data, "access_token");

    let check = app
        .verify_raw(Some(&format!("Bearer {token}")), Some("*/*"), "")
        .await;
    assert_eq!(check.status, 200);
    // `.json()` must succeed: the decided VER-L5 answer to a bare `*/*`.
    let parsed: serde_json::Value = serde_json::from_str(&check.body).expect("JSON");
    assert_eq!(parsed["me"], me);
}

/// indieweb-utils' Flask decorator (`indieauth/decorators.py`,
/// `discover_auth_endpoint_decorator`) builds its request by hand: `scope`
/// twice (`scope=profile` and the required scopes), a 30-character
/// verifier, and `code_challenge = base64(hex(sha256(verifier)))` with
/// `=` padding — not an RFC 7636 challenge. doorstep cannot honour that
/// (AREQ-2, AREQ-8); once the owner is signed in it tells the client with
/// an `invalid_request` redirect carrying `state` and `iss` (AREQ-14),
/// never a bare page.
#[tokio::test]
async fn indieweb_utils_flask_decorator_request_is_refused_by_redirect() {
    let app = TestApp::spawn().await;
    let me = app.me();
    let client_id = format!("http://127.0.0.1:{}/", app.unused_port());
    let callback = format!("{client_id}callback");
    let random_code = "Q7W2E9R4T1Y6U3I8O5P0A2S7D4F9G1";
    let hex = hex_sha256(random_code);
    let code_challenge = STANDARD.encode(hex.as_bytes());
    assert!(code_challenge.ends_with('='));
    let url = format!(
        "/auth?client_id={client_id}&redirect_uri={callback}&scope=profile&response_type=code&code_challenge={code_challenge}&code_challenge_method=S256&state=ABCDE12345&scope=create update&me={me}"
    );
    let browser = app.signed_in_browser().await;
    let page = browser.get(&url).await;
    assert!([302, 303].contains(&page.status), "{}", page.body);
    let back = page.location_url();
    assert!(back.as_str().starts_with(&callback), "{back}");
    let q = query_map(&back);
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "ABCDE12345");
    assert_eq!(q["iss"], app.issuer());
}

fn hex_sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------
// Resource servers verifying tokens
// ---------------------------------------------------------------------------

/// The `indieauth-token-verification` Ruby gem (srushe/
/// indieauth-token-verification `lib/indie_auth/token_verification.rb`),
/// used by Ruby Micropub endpoints for static sites: `http.get(uri, {'Accept'
/// => 'application/json', 'Authorization' => "Bearer #{token}"})`, a
/// `Net::HTTPSuccess`, `JSON.parse`, `me` equal to `ENV['DOMAIN']` by
/// string, and the scope split on whitespace (`post` satisfied by
/// `create`).
#[tokio::test]
async fn ruby_indieauth_token_verification_gem_verifies_with_a_json_get() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let token = str_of(
        &app.token_for(&client, "create media").await,
        "access_token",
    );
    let check = app
        .verify_raw(
            Some(&format!("Bearer {token}")),
            Some("application/json"),
            "",
        )
        .await;
    assert!((200..300).contains(&check.status));
    let body = check.json();
    assert_eq!(
        body["me"],
        app.settings.me.as_str(),
        "ENV['DOMAIN'] by string"
    );
    let scopes: Vec<&str> = body["scope"].as_str().unwrap().split_whitespace().collect();
    assert!(scopes.contains(&"create"));

    let check = app
        .verify_raw(Some("Bearer nope"), Some("application/json"), "")
        .await;
    assert!(!(200..300).contains(&check.status), "ForbiddenUserError");
}

/// The tokens.indieauth.com era token endpoint (aaronpk/
/// IndieAuth-Token-Endpoint `controllers/controller.php`): `GET /token`
/// answered `http_build_query(me, scope, client_id, issued)` as
/// `application/x-www-form-urlencoded` whatever the `Accept`, and 400 for
/// a bad token. Resource servers written against it (`parse_str` without
/// an `Accept`) get the same shape from doorstep (VER-L5 decision), and
/// any non-200 for a bad token (VER-L2).
#[tokio::test]
async fn tokens_indieauth_com_era_servers_parse_a_form_encoded_get() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let token = str_of(&app.token_for(&client, "create").await, "access_token");
    let check = app
        .verify_raw(Some(&format!("Bearer {token}")), None, "")
        .await;
    assert_eq!(check.status, 200);
    assert!(
        check
            .header("content-type")
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    let parsed = php_decode(&check.body);
    assert_eq!(parsed["me"], app.me().as_str());
    assert_eq!(parsed["scope"], "create");
    assert_eq!(parsed["client_id"], client.client_id.as_str());

    let bad = app.verify_raw(Some("Bearer nope"), None, "").await;
    assert!(bad.status >= 400 && bad.status < 500);
    assert!(!php_decode(&bad.body).contains_key("me"));
}
