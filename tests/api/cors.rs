//! DISC-18 / SEC-14: browser-based clients can read the token, revocation
//! and userinfo endpoints cross-origin; the authorization endpoint and the
//! owner's pages never allow it.

use crate::helpers::*;

#[tokio::test]
async fn token_revocation_and_userinfo_allow_any_origin_without_credentials_disc_18() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "profile create").await;
    let resp = app.redeem_at("/token", &client, &code).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
    assert!(resp.header("access-control-allow-credentials").is_none());
    let access = resp.json()["access_token"].as_str().unwrap().to_owned();
    for path in ["/token", "/userinfo", "/revoke"] {
        let pre = app
            .api
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("Origin", "https://client.example")
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "authorization")
            .send()
            .await
            .unwrap();
        assert_eq!(pre.status(), 204, "{path}");
        assert_eq!(pre.headers()["access-control-allow-origin"], "*", "{path}");
        let allowed = pre.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap();
        assert!(allowed.contains("Authorization"), "{path}: {allowed}");
    }
    let info = app
        .api
        .get(app.url("/userinfo"))
        .bearer_auth(&access)
        .header("Origin", "https://client.example")
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    assert_eq!(info.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn authorization_endpoint_and_owner_pages_never_allow_cross_origin_reads_sec_14() {
    let app = TestApp::spawn().await;
    for path in ["/auth", "/login", "/dashboard", "/auth/request"] {
        let resp = app
            .api
            .get(app.url(path))
            .header("Origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert!(
            resp.headers().get("access-control-allow-origin").is_none(),
            "{path}"
        );
    }
}
