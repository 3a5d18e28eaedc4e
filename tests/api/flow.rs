//! The core sign-in flow end to end.

use crate::helpers::*;

fn is_base64url_43(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

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
    // ISS-2: byte-identical to the metadata issuer.
    let metadata = app.metadata().await;
    assert_eq!(q["iss"], metadata["issuer"].as_str().unwrap());
    assert_eq!(q["iss"], app.issuer());
    assert_eq!(q["me"], app.me());
    // CODE-5, CODE-6: 256 random bits, base64url without padding.
    assert!(is_base64url_43(&q["code"]), "{}", q["code"]);
    let (status, token) = app.redeem(&client, &q["code"]).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["me"], app.me());
    assert_eq!(token["scope"], "profile create");
    assert_eq!(token["profile"]["name"], "Test Owner");
    assert_eq!(token["profile"]["url"], app.me());
    assert!(token["profile"].get("email").is_none());
    assert!(token.get("iss").is_none(), "ISS-6: no iss in token JSON");
    let access = token["access_token"].as_str().unwrap();
    assert!(is_base64url_43(access), "{access}");
    assert_ne!(access, q["code"]);
    let (status, body) = app.verify_get(access, Some("application/json")).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["me"], app.me());
    assert_eq!(v["client_id"], client.client_id);
    assert_eq!(v["scope"], "profile create");
}

#[tokio::test]
async fn consent_page_names_the_client_and_offers_each_scope_ticked_cons_1_cons_2() {
    let app = TestApp::spawn().await;
    let client = TestClient::new(app.port + 1);
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("profile create media", "s"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&client.client_id),
        "full client_id shown"
    );
    let (_, fields) = form_fields(&page, "form#consent");
    let scopes: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(scopes, ["profile", "create", "media"]);
}

#[tokio::test]
async fn unticked_scope_is_missing_from_the_token_cons_4() {
    let app = TestApp::spawn().await;
    let client = TestClient::new(app.port + 1);
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("profile create media", "s"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (action, mut fields) = form_fields(&page, "form#consent");
    fields.retain(|(k, v)| !(k == "scope" && v == "create"));
    fields.push(("action".into(), "approve".into()));
    let resp = browser.post(&action, &fields).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let code = query_map(&resp.location_url())["code"].clone();
    let (status, token) = app.redeem(&client, &code).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["scope"], "profile media");
    let (status, body) = app
        .verify_get(
            token["access_token"].as_str().unwrap(),
            Some("application/json"),
        )
        .await;
    assert_eq!(status, 200);
    assert!(!body.contains("create"), "{body}");
}

#[tokio::test]
async fn consent_post_answers_303_never_307_cons_11() {
    let app = TestApp::spawn().await;
    let client = TestClient::new(app.port + 1);
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "s"))
        .await;
    let resp = browser
        .submit(&page, "form#consent", &[], Some(("action", "approve")))
        .await;
    assert_eq!(resp.status, 303);
    // The request was answered: the same form cannot be used again.
    let again = browser
        .submit(&page, "form#consent", &[], Some(("action", "approve")))
        .await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.location.is_none());
}
