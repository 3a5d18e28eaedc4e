//! Revocation: the RFC 7009 endpoint (REV-1..7, TV-14) and the legacy
//! `action=revoke` (REV-L1, REV-L2).

use crate::helpers::*;

#[tokio::test]
async fn tv14_revoking_an_access_token_ends_the_grant_at_once_rev_1_rev_3_rev_4_rev_5() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile create").await;
    let access = str_of(&t, "access_token");
    assert_eq!(app.verify_get(&access, None).await.0, 200);
    assert_eq!(app.userinfo(Some(&access)).await.status, 200);
    let a = app
        .revoke(&[("token", &access), ("token_type_hint", "access_token")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("cache-control"), Some("no-store"));
    // REV-4: every way of using it fails right away.
    assert!(!app.is_active(&access).await);
    assert_eq!(app.verify_get(&access, None).await.0, 401);
    let u = app.userinfo(Some(&access)).await;
    assert_eq!(u.status, 401);
    assert_eq!(
        u.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    // REV-5: the grant's refresh token went with it.
    let r = app
        .refresh(&client.client_id, &str_of(&t, "refresh_token"), None)
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_the_access_tokens_rev_2_rev_5() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let a = app
        .revoke(&[
            ("token", &str_of(&t, "refresh_token")),
            ("token_type_hint", "refresh_token"),
        ])
        .await;
    assert_eq!(a.status, 200);
    assert!(!app.is_active(&str_of(&t, "access_token")).await);
}

#[tokio::test]
async fn unknown_or_already_revoked_tokens_get_200_rev_3() {
    let app = TestApp::spawn().await;
    assert_eq!(app.revoke(&[("token", "unknown-value")]).await.status, 200);
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let access = str_of(&t, "access_token");
    assert_eq!(app.revoke(&[("token", &access)]).await.status, 200);
    assert_eq!(app.revoke(&[("token", &access)]).await.status, 200);
}

#[tokio::test]
async fn an_unknown_hint_is_ignored_rev_1() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let access = str_of(&t, "access_token");
    let a = app
        .revoke(&[("token", &access), ("token_type_hint", "something_else")])
        .await;
    assert_eq!(a.status, 200);
    assert!(!app.is_active(&access).await);
}

#[tokio::test]
async fn missing_token_is_invalid_request_rev_7() {
    let app = TestApp::spawn().await;
    let a = app.revoke(&[("token_type_hint", "access_token")]).await;
    assert_oauth_error(&a, "invalid_request");
}

#[tokio::test]
async fn a_json_body_is_invalid_request_rev_7() {
    let app = TestApp::spawn().await;
    let resp = app
        .api
        .post(app.url("/revoke"))
        .header("Content-Type", "application/json")
        .body(r#"{"token":"x"}"#)
        .send()
        .await
        .unwrap();
    let a = Response::read(resp).await;
    assert_oauth_error(&a, "invalid_request");
}

#[tokio::test]
async fn another_clients_token_is_refused_and_kept_rev_6() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let access = str_of(&t, "access_token");
    let a = app
        .revoke(&[("token", &access), ("client_id", "https://other.example/")])
        .await;
    assert_oauth_error(&a, "invalid_request");
    assert!(app.is_active(&access).await, "nothing was revoked");
    // The right client, even spelled without its trailing slash (LEG-11).
    let own = client.client_id.trim_end_matches('/').to_owned();
    let a = app.revoke(&[("token", &access), ("client_id", &own)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(!app.is_active(&access).await);
}

#[tokio::test]
async fn legacy_action_revoke_revokes_and_ignores_a_stray_bearer_rev_l1() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let access = str_of(&t, "access_token");
    let resp = app
        .api
        .post(app.url("/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .bearer_auth("some-old-token")
        .body(format!("action=revoke&token={access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(app.verify_get(&access, None).await.0, 401);
    let unknown = app
        .post_form("/token", &[("action", "revoke"), ("token", "unknown")])
        .await;
    assert_eq!(unknown.status, 200, "REV-L1: also for unknown tokens");
}

#[tokio::test]
async fn action_with_grant_type_or_an_unknown_action_is_invalid_request_rev_l2() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let access = str_of(&t, "access_token");
    for form in [
        vec![
            ("action", "revoke"),
            ("grant_type", "authorization_code"),
            ("token", access.as_str()),
        ],
        vec![("action", "delete"), ("token", access.as_str())],
    ] {
        let a = app.post_form("/token", &form).await;
        assert_oauth_error(&a, "invalid_request");
    }
    assert!(app.is_active(&access).await, "nothing was revoked");
}
