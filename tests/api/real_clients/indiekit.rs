//! Indiekit (getindiekit/indiekit): signing in to its own dashboard, and
//! its Micropub and media endpoints introspecting tokens.

use super::*;

/// Indiekit signing in to its own dashboard with an external IndieAuth
/// server (getindiekit/indiekit `packages/indiekit/lib/indieauth.js`,
/// `getAuthUrl()` and `authorizationCodeGrant()`; the endpoints come from
/// `application.authorizationEndpoint` / `tokenEndpoint`, see
/// `packages/indiekit/lib/endpoints.js`). The code exchange sends every
/// parameter in the query string of a POST with no body and no
/// Content-Type, `accept: application/json`, and needs `access_token`
/// (and reads `scope`) from the JSON answer.
#[tokio::test]
async fn indiekit_signs_in_with_the_code_exchange_in_the_query_string() {
    let app = TestApp::spawn().await;
    let metadata = app.metadata().await;
    let authorization_endpoint = metadata["authorization_endpoint"].as_str().unwrap();
    let token_endpoint = metadata["token_endpoint"].as_str().unwrap();
    // getCanonicalUrl(application.url) is `new URL(…).href`: trailing slash.
    let port = app.unused_port();
    let client_id = format!("http://127.0.0.1:{port}/");
    let redirect_uri = format!("http://127.0.0.1:{port}/session/auth?redirect=/posts");
    // randomString(100): randomBytes(100).toString("base64url").slice(0, 100).
    let verifier: String = URL_SAFE_NO_PAD.encode([7u8; 100])[..100].to_owned();
    // generateState(): an encrypted JSON blob, hex.
    let state = php_hex(48);
    let mut auth_url = Url::parse(authorization_endpoint).unwrap();
    auth_url
        .query_pairs_mut()
        .append_pair("client_id", &client_id)
        .append_pair("code_challenge_method", "S256")
        .append_pair("code_challenge", &s256(&verifier))
        .append_pair("me", &app.me())
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", "create update delete media")
        .append_pair("state", &state);
    let (back, _) = app.owner_approves(auth_url.as_str()).await;
    // The redirect keeps Indiekit's own `?redirect=/posts`.
    assert_eq!(back.path(), "/session/auth");
    let q = query_map(&back);
    assert_eq!(q["redirect"], "/posts");
    assert_eq!(q["state"], state);

    let mut token_url = Url::parse(token_endpoint).unwrap();
    token_url
        .query_pairs_mut()
        .append_pair("client_id", &client_id)
        .append_pair("code", &q["code"])
        .append_pair("code_verifier", &verifier)
        .append_pair("grant_type", "authorization_code")
        .append_pair("redirect_uri", &redirect_uri);
    let resp = app
        .api
        .post(token_url)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    // `if (!tokenResponse.ok) throw …`, then `authorizedToken.access_token`.
    assert_eq!(status, 200, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(json["access_token"].is_string(), "{json}");
    assert_eq!(json["scope"], "create update delete media");
    assert_eq!(json["me"], app.me());

    // Only a code exchange is read from the query string: a refresh token
    // there would stay in proxy logs, so it still needs a form body.
    let refresh_token = str_of(&json, "refresh_token");
    let mut refresh_url = Url::parse(token_endpoint).unwrap();
    refresh_url
        .query_pairs_mut()
        .append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", &refresh_token)
        .append_pair("client_id", &client_id);
    let resp = app
        .api
        .post(refresh_url)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(err["error"], "invalid_request");
    let refreshed = app.refresh(&client_id, &refresh_token, None).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
}

/// Indiekit's Micropub and media endpoints (getindiekit/indiekit
/// `packages/indiekit/lib/token.js` `introspectToken()`, called from
/// `lib/indieauth.js` `authenticate()`; PR #614): `POST
/// introspectionEndpoint?token=…` with no body, `accept:
/// application/json` and the same token as `authorization: Bearer`; not
/// ok is an error; then `active` and `me` are required and `me` is
/// compared after `new URL(me).href`.
#[tokio::test]
async fn indiekit_introspects_with_the_token_in_the_query_and_as_bearer() {
    let app = TestApp::spawn().await;
    let (client, token) = live_token(&app, "create update delete media").await;
    let introspection_endpoint = app.metadata().await["introspection_endpoint"]
        .as_str()
        .expect("introspection_endpoint in the metadata")
        .to_owned();
    let introspect = |bearer: String| {
        let app = &app;
        let endpoint = introspection_endpoint.clone();
        async move {
            let mut url = Url::parse(&endpoint).unwrap();
            url.query_pairs_mut().append_pair("token", &bearer);
            let resp = app
                .api
                .post(url)
                .header("accept", "application/json")
                .header("authorization", format!("Bearer {bearer}"))
                .send()
                .await
                .unwrap();
            let ok = resp.status().is_success();
            (
                ok,
                resp.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    let (ok, values) = introspect(token.clone()).await;
    assert!(ok, "{values}");
    assert_eq!(values["active"], true);
    let canonical = |u: &str| Url::parse(u).unwrap().to_string();
    assert_eq!(
        canonical(values["me"].as_str().unwrap()),
        canonical(&app.me())
    );
    assert_eq!(values["scope"], "create update delete media");
    assert_eq!(values["client_id"], client.client_id);

    // A token that is not valid: still 200 (`ok`), `active: false`, and
    // Indiekit answers its own client with "invalid token".
    let (ok, values) = introspect("not-a-real-token-0123456789".into()).await;
    assert!(ok);
    assert_eq!(values, serde_json::json!({"active": false}));
}
