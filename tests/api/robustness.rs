//! Bad input never produces a 5xx or a stack trace (PRODUCT "Errors").
//! A panicking handler would drop the connection, and the request itself
//! would fail the test; what an answer must not carry is anything internal.

use crate::helpers::*;

/// What a leaked internal error would show: Rust's debug output, source
/// locations, the names of the crates underneath.
fn assert_nothing_internal(what: &str, resp: &Response) {
    for leak in [
        ".rs:", "rusqlite", "actix", "tokio", "serde", "Err(", "Some(", "thread '",
    ] {
        assert!(
            !resp.body.contains(leak),
            "{what} shows {leak:?}: {}",
            resp.body
        );
    }
}

#[tokio::test]
async fn malformed_requests_never_cause_a_server_error() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let long = "a".repeat(5000);
    let queries = [
        String::new(),
        "%".into(),
        "client_id=%FF%FE&redirect_uri=%00".into(),
        format!("{}&state={long}", client.auth_query("create", "s")),
        format!("{}&scope={long}", client.auth_query("", "s")),
        client.auth_query(&vec!["s"; 60].join(" "), "s"),
        client
            .auth_query("create", "s")
            .replace("code_challenge=", "code_challenge=%20"),
        format!(
            "response_type=code&client_id={0}&redirect_uri={0}%C3%A9&state=s",
            urlencode(&client.client_id)
        ),
    ];
    for q in &queries {
        for b in [&browser, &app.browser()] {
            let page = b.get(&format!("/auth?{q}")).await;
            assert!(page.status < 500, "{q}: {} {}", page.status, page.body);
            assert_nothing_internal(q, &page);
        }
    }
    let bodies = [
        (
            "/token",
            "application/x-www-form-urlencoded",
            "%".to_owned(),
        ),
        (
            "/token",
            "application/x-www-form-urlencoded",
            "code=%FF&grant_type=authorization_code".to_owned(),
        ),
        (
            "/token",
            "application/x-www-form-urlencoded",
            format!("grant_type=refresh_token&refresh_token={long}&client_id=x"),
        ),
        (
            "/token",
            "application/x-www-form-urlencoded",
            "action=revoke".to_owned(),
        ),
        (
            "/token",
            "application/x-www-form-urlencoded",
            "action=explode".to_owned(),
        ),
        (
            "/token",
            "multipart/form-data; boundary=x",
            "--x--".to_owned(),
        ),
        ("/token", "", String::new()),
        (
            "/auth",
            "application/x-www-form-urlencoded",
            "grant_type=authorization_code".to_owned(),
        ),
        (
            "/auth",
            "application/x-www-form-urlencoded",
            "code=x&client_id=%FF&redirect_uri=x".to_owned(),
        ),
        (
            "/auth/consent",
            "application/x-www-form-urlencoded",
            "action=approve&request=x&csrf=y".to_owned(),
        ),
        (
            "/auth/pkce",
            "application/x-www-form-urlencoded",
            "action=allow".to_owned(),
        ),
        (
            "/login",
            "application/x-www-form-urlencoded",
            format!("password={}", "p".repeat(50_000)),
        ),
        (
            "/setup",
            "application/x-www-form-urlencoded",
            "token=x&password=y".to_owned(),
        ),
    ];
    for (path, ct, body) in &bodies {
        let resp = app.post_body(path, ct, body.clone()).await;
        assert!(
            resp.status < 500,
            "{path} {body:.60}: {} {}",
            resp.status,
            resp.body
        );
        assert_nothing_internal(path, &resp);
    }
    let huge = app
        .post_body(
            "/token",
            "application/x-www-form-urlencoded",
            "a".repeat(200_000),
        )
        .await;
    assert!(huge.status < 500, "{}", huge.status);
    assert_nothing_internal("a huge body", &huge);
    for auth in ["Bearer", "Bearer  ", "Basic abc", &format!("Bearer {long}")] {
        let resp = app.verify_raw(Some(auth), None, "").await;
        assert_eq!(resp.status, 401, "{auth:.40}");
        assert_nothing_internal(auth, &resp);
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
