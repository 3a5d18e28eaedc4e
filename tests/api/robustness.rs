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

/// ERR-4, ERR-10, TV-17: a body doorstep will not or cannot read is
/// answered in doorstep's own words — the OAuth JSON error with no-store
/// (and, on the token and revocation endpoints, readable from any origin)
/// for apps, the error page for a browser's form — not actix-web's plain
/// text ("payload reached size limit", or its debug output).
#[tokio::test]
async fn an_unreadable_body_gets_an_oauth_error_or_a_page() {
    let app = TestApp::spawn().await;
    let raw = |path: &str, extra: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n{extra}\r\n{body}"
        )
    };
    let big = "a".repeat(70_000);
    let too_long = format!("Content-Length: {}\r\n", big.len());
    for path in ["/token", "/revoke", "/introspect", "/auth"] {
        let a = parse_raw(
            &app.raw_exchange(&[raw(path, &too_long, &big).as_bytes()])
                .await,
        );
        assert_eq!(a.status, 413, "{path}: {}", a.body);
        assert_eq!(a.header("content-type"), Some("application/json"), "{path}");
        assert_eq!(a.json()["error"], "invalid_request", "{path}");
        assert!(a.body.contains("larger than 64 KiB"), "{path}: {}", a.body);
        assert_eq!(a.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(a.header("pragma"), Some("no-cache"), "{path}");
        let cors = matches!(path, "/token" | "/revoke");
        assert_eq!(
            a.header("access-control-allow-origin").is_some(),
            cors,
            "{path}"
        );
    }

    // A chunk size that is not hexadecimal.
    let broken = raw("/token", "Transfer-Encoding: chunked\r\n", "zz\r\n");
    let a = parse_raw(&app.raw_exchange(&[broken.as_bytes()]).await);
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.json()["error"], "invalid_request");
    assert_nothing_internal("a broken chunk", &a);
    assert!(!a.body.contains("None"), "{}", a.body);

    // The OAuth endpoints answer JSON whatever the request accepts.
    for path in ["/token", "/revoke", "/introspect"] {
        let html_too = too_long.clone() + "Accept: text/html,*/*\r\n";
        let a = parse_raw(
            &app.raw_exchange(&[raw(path, &html_too, &big).as_bytes()])
                .await,
        );
        assert_eq!(a.status, 413, "{path}: {}", a.body);
        assert_eq!(a.header("content-type"), Some("application/json"), "{path}");
    }

    // A browser's form, too large: the error page.
    let form = raw(
        "/login",
        &(too_long.clone() + "Accept: text/html\r\n"),
        &big,
    );
    let a = parse_raw(&app.raw_exchange(&[form.as_bytes()]).await);
    assert_eq!(a.status, 413, "{}", a.body);
    assert!(
        a.header("content-type")
            .unwrap_or("")
            .starts_with("text/html"),
        "{:?}",
        a.header("content-type")
    );
    assert!(a.body.contains("larger than 64 KiB"), "{}", a.body);
    assert_nothing_internal("a form too large", &a);
}
