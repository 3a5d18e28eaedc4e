//! Legacy GET verification at the token endpoint (VER-L1..L5, TV-13), as
//! the Micropub servers in use call it.

use crate::helpers::*;
use std::collections::HashMap;

fn form_map(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn a_check_without_accept_parses_as_a_query_string_ver_l1_ver_l5() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create media").await;
    // As Flask-IndieAuth (urllib) and old PHP servers check: a GET with a
    // Bearer header and no Accept at all, the body read as a query string.
    let bearer = format!("Bearer {}", str_of(&t, "access_token"));
    let resp = app
        .raw_get("/token", &[("Authorization", bearer.as_str())])
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let body = form_map(&resp.body);
    assert_eq!(body["me"], app.me(), "me is the exact configured string");
    assert_eq!(body["client_id"], client.client_id);
    assert_eq!(body["scope"], "create media");
    assert!(body["scope"].split(' ').any(|s| s == "create"));
}

#[tokio::test]
async fn json_accept_gets_json_tv13_ver_l1() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile create").await;
    let (status, body) = app
        .verify_get(&str_of(&t, "access_token"), Some("application/json"))
        .await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["me"], app.me());
    assert_eq!(v["client_id"], client.client_id);
    assert_eq!(v["scope"], "profile create");
}

/// The SPEC decision replacing VER-L5, for the three real resource servers
/// that disagree: Python `requests` (indieweb-utils) sends exactly `*/*`
/// and calls `.json()`; micropub-express sends `*/*` with a form
/// `Content-Type` and parses a query string; Flask-IndieAuth sends no
/// `Accept` and uses `parse_qs`.
#[tokio::test]
async fn star_accept_gets_json_unless_the_get_carries_a_form_content_type_ver_l5_decision() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let token = str_of(&app.token_for(&client, "create").await, "access_token");
    let (status, body) = app.verify_get(&token, Some("*/*")).await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON for requests' */*");
    assert_eq!(v["me"], app.me());

    let resp = app
        .api
        .get(app.url("/token"))
        .bearer_auth(&token)
        .header("Accept", "*/*")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    assert_eq!(form_map(&resp.text().await.unwrap())["me"], app.me());

    let (status, body) = app.verify_get(&token, None).await;
    assert_eq!(status, 200);
    assert_eq!(form_map(&body)["me"], app.me(), "no Accept: form-encoded");
}

#[tokio::test]
async fn invalid_token_is_401_invalid_token_ver_l2() {
    let app = TestApp::spawn().await;
    let resp = app
        .api
        .get(app.url("/token"))
        .bearer_auth("not-a-token")
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    let a = Response::read(resp).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    assert_eq!(a.json()["error"], "invalid_token");
}

#[tokio::test]
async fn no_authorization_is_401_with_a_bare_challenge_ver_l3() {
    let app = TestApp::spawn().await;
    let a = Response::read(app.api.get(app.url("/token")).send().await.unwrap()).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn a_token_in_the_query_string_is_ignored_ver_l4() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let url = app.url(&format!(
        "/token?access_token={}",
        str_of(&t, "access_token")
    ));
    let a = Response::read(app.api.get(url).send().await.unwrap()).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_401_ver_l2() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let short = app.token_with_lifetime(&client, "create", "3600").await;
    let other = app.token_for(&client, "create").await;
    let short = str_of(&short, "access_token");
    let other = str_of(&other, "access_token");
    assert_eq!(app.verify_get(&short, None).await.0, 200);
    app.clock.advance(3601);
    assert_eq!(app.verify_get(&short, None).await.0, 401);
    assert_eq!(app.verify_get(&other, None).await.0, 200);
    assert_eq!(app.revoke(&[("token", &other)]).await.status, 200);
    assert_eq!(app.verify_get(&other, None).await.0, 401);
}
