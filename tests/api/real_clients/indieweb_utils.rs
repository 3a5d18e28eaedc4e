//! Python's indieweb-utils (capjamesg/indieweb-utils): the Flask helpers
//! and decorator.

use super::*;

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
