//! Micropub and Microsub servers verifying the tokens apps present:
//! micropub-express, Aperture, the WordPress IndieAuth plugin in remote
//! mode, the Ruby token-verification gem, and the tokens.indieauth.com-era
//! servers that read a form-encoded GET.

use super::*;

/// micropub-express (voxpelli/node-micropub-express `lib/token.js`
/// `validateToken()`, `lib/core.js`): `fetch(endpoint, {headers:
/// {Authorization, 'Content-Type': 'application/x-www-form-urlencoded',
/// 'User-Agent'}})` — a GET, with undici's default `Accept: */*` — then
/// `querystring.parse(await response.text())` whatever the status, `me` and
/// `scope` required and not repeated, `normalizeUrl(me)` (adds a trailing
/// slash) among the configured references, and `create` or `post` among
/// the scopes split on ' ' or ','.
#[tokio::test]
async fn micropub_express_verifies_with_a_bare_get_and_parses_a_query_string() {
    let app = TestApp::spawn().await;
    let (_, token) = live_token(&app, "create media").await;
    let token_endpoint = app.metadata().await["token_endpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let validate = |bearer: String| {
        let app = &app;
        let token_endpoint = token_endpoint.clone();
        async move {
            let resp = app
                .api
                .get(&token_endpoint)
                .header("Authorization", format!("Bearer {bearer}"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header(
                    "User-Agent",
                    "micropub-express/0.9 (+https://github.com/voxpelli/node-micropub-express)",
                )
                .header("Accept", "*/*")
                .send()
                .await
                .unwrap();
            let text = resp.text().await.unwrap();
            let mut parsed: HashMap<String, Vec<String>> = HashMap::new();
            for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
                parsed
                    .entry(k.into_owned())
                    .or_default()
                    .push(v.into_owned());
            }
            parsed
        }
    };

    let parsed = validate(token.clone()).await;
    // `if (!me || !scope || Array.isArray(me) || Array.isArray(scope))`.
    assert_eq!(parsed["me"].len(), 1, "{parsed:?}");
    assert_eq!(parsed["scope"].len(), 1, "{parsed:?}");
    let normalize = |u: &str| {
        if u.ends_with('/') {
            u.to_owned()
        } else {
            format!("{u}/")
        }
    };
    assert_eq!(normalize(&parsed["me"][0]), normalize(&app.me()));
    let scope = &parsed["scope"][0];
    assert!(
        [' ', ',']
            .iter()
            .any(|sep| scope.split(*sep).any(|s| s == "create" || s == "post")),
        "{scope}"
    );

    // An invalid token must not parse into a `me` (the status is not read).
    let parsed = validate("not-a-token".into()).await;
    assert!(!parsed.contains_key("me"), "{parsed:?}");
}

/// Aperture's Microsub endpoint (aaronpk/Aperture
/// `aperture/app/Http/Middleware/VerifyIndieAuthAccessToken.php`): `$http->
/// get($user->token_endpoint, ['Authorization: Bearer '.$token, 'Accept:
/// application/json'])`; anything but 200 is "could not verify"; then
/// json_decode (parse_str as fallback), `me` required and equal after
/// normalizeMeURL, and `scope` exploded on spaces.
#[tokio::test]
async fn aperture_verifies_microsub_tokens_with_a_json_get() {
    let app = TestApp::spawn().await;
    let (client, token) = live_token(&app, "read follow channels").await;
    let token_endpoint = php_discover(&app, &app.me(), "token_endpoint")
        .await
        .unwrap();
    let get = |bearer: String| {
        let app = &app;
        let token_endpoint = token_endpoint.clone();
        async move {
            let resp = app
                .api
                .get(&token_endpoint)
                .header("Authorization", format!("Bearer {bearer}"))
                .header("Accept", "application/json")
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let (code, body) = get(token.clone()).await;
    assert_eq!(code, 200, "{body}");
    let data = php_decode(&body);
    assert_eq!(data["me"], app.me().as_str());
    assert_eq!(data["client_id"], client.client_id.as_str());
    let scopes: Vec<&str> = data["scope"].as_str().unwrap().split(' ').collect();
    assert_eq!(scopes, ["read", "follow", "channels"]);

    let (code, _) = get("forged".into()).await;
    assert_ne!(code, 200);
    app.revoke(&[("token", token.as_str())]).await;
    let (code, _) = get(token).await;
    assert_ne!(code, 200, "a revoked token is refused at once (REV-4)");
}

/// The WordPress IndieAuth plugin in remote mode, verifying tokens for the
/// WordPress Micropub plugin against an external token endpoint
/// (indieweb/wordpress-indieauth
/// `includes/class-indieauth-remote-authorize.php`
/// `verify_access_token()`): `wp_remote_get($token_endpoint, headers
/// Accept: application/json, Authorization: Bearer …)`, a 2xx status,
/// `json_decode($body, true)` and the user looked up by `$params['me']`.
#[tokio::test]
async fn wordpress_indieauth_remote_mode_verifies_with_a_json_get() {
    let app = TestApp::spawn().await;
    let (_, token) = live_token(&app, "create update").await;
    let token_endpoint = app.metadata().await["token_endpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = app
        .api
        .get(&token_endpoint)
        .header("Accept", "application/json")
        .header("Authorization", format!("Bearer {token}"))
        .header("User-Agent", "WordPress/6.5; https://example.net")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16() / 100, 2);
    let params: serde_json::Value = resp.json().await.expect("JSON, not form-encoded");
    // get_user_by_identifier( $params['me'] ): the exact profile URL.
    assert_eq!(params["me"], app.me());
    assert_eq!(params["scope"], "create update");
}

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
