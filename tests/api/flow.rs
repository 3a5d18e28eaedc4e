//! The core sign-in flow end to end.

use crate::helpers::*;

#[tokio::test]
async fn tv6_tv10_happy_path_issues_a_token_a_micropub_server_accepts() {
    let app = TestApp::spawn().await;
    let client = TestClient::new(app.port + 1);
    let browser = app.signed_in_browser().await;
    let redirect = app
        .approve(&browser, &client.auth_query("profile create", "1234567890"))
        .await;
    assert!(redirect.as_str().starts_with(&client.redirect_uri));
    let q = query_map(&redirect);
    assert_eq!(q["state"], "1234567890");
    assert_eq!(q["iss"], app.issuer());
    assert_eq!(q["me"], app.me());
    let (status, token) = app.redeem(&client, &q["code"]).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["me"], app.me());
    assert_eq!(token["scope"], "profile create");
    assert_eq!(token["profile"]["name"], "Test Owner");
    assert!(token["profile"].get("email").is_none());
    let access = token["access_token"].as_str().unwrap();
    let (status, body) = app.verify_get(access, Some("application/json")).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["me"], app.me());
    assert_eq!(v["client_id"], client.client_id);
}

#[tokio::test]
async fn served_homepage_shows_the_owners_photo_and_still_forbids_framing_disc_13() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("/").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("class=\"u-photo\" src=\"https://example.net/photo.jpg\""));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("img-src 'self' https://example.net"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
}
