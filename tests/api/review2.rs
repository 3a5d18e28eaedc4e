//! Security review findings, second round (branch `review2`): the
//! per-address failure limiter, `X-Forwarded-For` parsing, the refresh
//! grace window, the known-device cookie.

use crate::helpers::*;

/// Legacy GET verification with a made-up token, as the owner's Micropub
/// server relays every token it is sent (micropub-express, Aperture).
async fn junk_verification(app: &TestApp, i: usize) -> u16 {
    app.verify_get(&format!("junk-token-{i}"), None).await.0
}

/// SEC-16 (and the limiter's own contract, `ratelimit.rs`: "an app ...
/// using valid credentials is never slowed or refused"): strangers can make
/// an address fail — junk tokens sent to the owner's Micropub endpoint are
/// relayed to the legacy GET, junk codes sent to a client's callback are
/// relayed to /token. That must not get the valid code exchange of a client
/// on the same address refused with 429, as the first review established
/// for introspection (44f3d79).
#[tokio::test]
async fn relayed_junk_tokens_do_not_block_a_valid_code_exchange_sec_16() {
    let app = TestApp::spawn().await;
    let client = TestClient::new(app.port + 1);
    let code = app.code_for(&client, "create").await;
    for i in 0..40 {
        let status = junk_verification(&app, i).await;
        assert!(status == 401 || status == 429, "{status}");
    }
    assert_eq!(junk_verification(&app, 99).await, 429, "guessing is slowed");
    let (status, body) = app.redeem(&client, &code).await;
    assert_eq!(status, 200, "a valid code was refused: {body}");
}

#[tokio::test]
async fn relayed_junk_codes_do_not_block_valid_exchanges_or_refreshes_sec_16() {
    let app = TestApp::spawn().await;
    let client = TestClient::new(app.port + 1);
    let token = app.token_for(&client, "create").await;
    let code_for_token = app.code_for(&client, "create").await;
    let code_for_auth = app.code_for(&client, "profile").await;
    for i in 0..40 {
        let r = app.redeem_at("/token", &client, &format!("junk{i}")).await;
        assert!(r.status == 400 || r.status == 429, "{}", r.text);
    }
    let r = app.redeem_at("/token", &client, "junk-more").await;
    assert_eq!(r.status, 429, "guessing is slowed: {}", r.text);
    let (status, body) = app.redeem(&client, &code_for_token).await;
    assert_eq!(status, 200, "a valid code was refused at /token: {body}");
    let r = app.redeem_at("/auth", &client, &code_for_auth).await;
    assert_eq!(
        r.status, 200,
        "a valid code was refused at /auth: {}",
        r.text
    );
    let r = app
        .refresh(&client.client_id, &str_of(&token, "refresh_token"), None)
        .await;
    assert_eq!(r.status, 200, "a valid refresh was refused: {}", r.body);
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
