//! The userinfo endpoint (UINFO-1..5, TV-15) and the profile and email
//! scopes (PROF-1..8).

use crate::helpers::*;

#[tokio::test]
async fn tv15_profile_token_gets_name_url_photo_and_no_email_uinfo_2_prof_1_prof_4() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile create").await;
    let a = app.userinfo(Some(&str_of(&t, "access_token"))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("cache-control"), Some("no-store"), "UINFO-5");
    let v = a.json();
    assert_eq!(v["name"], "Test Owner");
    assert_eq!(v["url"], app.me());
    assert_eq!(v["photo"], "https://example.net/photo.jpg");
    assert!(v.get("email").is_none(), "{v}");
}

#[tokio::test]
async fn email_is_given_only_with_the_email_scope_prof_4() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile email").await;
    let v = app.userinfo(Some(&str_of(&t, "access_token"))).await.json();
    assert_eq!(v["email"], "owner@example.net");
}

#[tokio::test]
async fn token_without_profile_is_403_insufficient_scope_uinfo_3() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let a = app.userinfo(Some(&str_of(&t, "access_token"))).await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope", scope="profile""#)
    );
}

#[tokio::test]
async fn email_without_profile_gives_no_profile_data_prof_2() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "email create").await;
    assert!(t.get("profile").is_none(), "{t}");
    assert!(!t["scope"].as_str().unwrap().contains("email"), "{t}");
    assert_eq!(
        app.userinfo(Some(&str_of(&t, "access_token"))).await.status,
        403
    );
}

#[tokio::test]
async fn no_token_is_401_bare_and_a_bad_one_401_invalid_token_uinfo_3() {
    let app = TestApp::spawn().await;
    let a = app.userinfo(None).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    let a = app.userinfo(Some("nope")).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
}

#[tokio::test]
async fn the_token_is_read_from_the_header_not_the_query_uinfo_4() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile").await;
    let url = app.url(&format!(
        "/userinfo?access_token={}",
        str_of(&t, "access_token")
    ));
    let a = Response::read(app.api.get(url).send().await.unwrap()).await;
    assert_eq!(a.status, 401);
}

#[tokio::test]
async fn code_exchange_carries_the_profile_object_prof_3_prof_5_prof_6() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile create").await;
    // PROF-6: configuration values; PROF-5: url is the configured homepage
    // here, and `me` never comes from the profile.
    assert_eq!(t["profile"]["name"], "Test Owner");
    assert_eq!(t["profile"]["url"], app.me());
    assert_eq!(t["me"], app.me());
}

#[tokio::test]
async fn a_profile_only_code_yields_a_token_usable_at_userinfo_prof_7() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile").await;
    assert_eq!(t["scope"], "profile");
    let a = app.userinfo(Some(&str_of(&t, "access_token"))).await;
    assert_eq!(a.status, 200);
    // At the authorization endpoint the same kind of code gives no token.
    let code = app.code_for(&client, "profile").await;
    let resp = app
        .post_form(
            "/auth",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", &client.client_id),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", &client.verifier),
            ],
        )
        .await;
    let v = resp.json();
    assert_eq!(v["me"], app.me());
    assert_eq!(v["profile"]["name"], "Test Owner");
    assert!(v.get("access_token").is_none());
}

#[tokio::test]
async fn the_consent_page_says_what_profile_and_email_disclose_prof_8() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let page = browser
        .get(&format!(
            "/auth?{}",
            client.auth_query("profile email", "s")
        ))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name, photo"), "{}", page.body);
    assert!(page.body.to_lowercase().contains("email"), "{}", page.body);
}
