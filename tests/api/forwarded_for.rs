//! Telling visitors apart behind a trusted reverse proxy (SEC-18): doorstep
//! takes a client's address from the entry the proxy appended to
//! `X-Forwarded-For`, so that one stranger's failures lock out that
//! stranger and not everyone behind the proxy (SEC-16). The whole chain
//! through Debian's nginx is in `proxy.rs`.

use crate::helpers::*;

/// SEC-18 / SEC-16: on a dual-stack listener (`listen = "[::]:8080"`), a
/// proxy at 127.0.0.1 connects as `::ffff:127.0.0.1`. It is still the
/// configured proxy: otherwise every visitor shares the proxy's address,
/// and one stranger's failed logins lock the owner out.
#[tokio::test]
async fn a_trusted_proxy_is_recognised_on_a_dual_stack_listener_sec_18() {
    let app = TestApp::spawn_on("[::]:0".parse().unwrap(), |s| {
        s.trusted_proxies = "127.0.0.1".parse().unwrap();
    })
    .await;
    assert!(app.settings.listen.is_ipv6(), "{}", app.settings.listen);
    // The lock grows with each failure; under load one password check can
    // outlast the first steps, so keep failing until it shows.
    let mut last = 0;
    for _ in 0..12 {
        last = app
            .browser()
            .sign_in("wrong password!", Some("198.51.100.7"))
            .await
            .status;
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429, "the stranger is locked out");
    assert_eq!(
        app.browser()
            .sign_in(PASSWORD, Some("203.0.113.9"))
            .await
            .status,
        303,
        "the owner, at another address behind the same proxy, is not"
    );
}

/// Legacy GET verification of a made-up token, through a reverse proxy
/// that appended the client's address to `X-Forwarded-For` (nginx's
/// `$proxy_add_x_forwarded_for` joins what the client sent and the address
/// into one header line).
async fn junk_verification_via_proxy(app: &TestApp, forwarded_for: &[u8]) -> u16 {
    app.api
        .get(app.url("/token"))
        .bearer_auth("junk-token")
        .header(
            "X-Forwarded-For",
            reqwest::header::HeaderValue::from_bytes(forwarded_for).expect("header value"),
        )
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

/// SEC-18/SEC-16: the entry the trusted proxy appended is the client's
/// address whatever the client wrote to its left. A byte outside visible
/// ASCII in the client's part made the whole header line unreadable, so the
/// walk never saw the proxy's entry: the client was taken for the proxy
/// itself and escaped its own lockout (all such clients then share the
/// proxy's bucket).
#[tokio::test]
async fn a_non_ascii_byte_in_x_forwarded_for_does_not_hide_the_client_sec_18() {
    let app = TestApp::spawn_with(|s| s.trusted_proxies = "127.0.0.1".parse().unwrap()).await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(junk_verification_via_proxy(&app, b"203.0.113.9").await);
    }
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
    // The same client, writing one odd byte before the proxy's entry.
    let status = junk_verification_via_proxy(&app, b"\xff, 203.0.113.9").await;
    assert_eq!(status, 429, "the client escaped its own limit");
    // Another client behind the proxy is unaffected.
    assert_eq!(
        junk_verification_via_proxy(&app, b"198.51.100.4").await,
        401
    );
}
