//! SEC-16: addresses that keep failing at the token endpoint or at bearer
//! verification are slowed down with 429, while valid credentials — from
//! the same address even — keep working.

use crate::helpers::*;

#[tokio::test]
async fn repeated_failed_code_redemptions_get_429_with_retry_after_sec_16() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let mut limited = None;
    for i in 0..40 {
        let resp = app.redeem_at("/token", &client, &format!("guess{i}")).await;
        if resp.status == 429 {
            limited = Some(resp);
            break;
        }
        assert_eq!(resp.status, 400, "{}", resp.body);
    }
    let resp = limited.expect("the token endpoint never slowed a guesser down");
    assert!(resp.header("retry-after").is_some());
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    assert_eq!(resp.json()["error"], "invalid_request");
    // The bucket refills with time.
    app.clock.advance(60);
    let resp = app.redeem_at("/token", &client, "guess-after").await;
    assert_eq!(resp.status, 400, "{}", resp.body);
}

#[tokio::test]
async fn token_scanning_at_legacy_get_is_slowed_but_valid_tokens_still_verify_sec_16() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let token = app.token_for(&client, "create").await;
    let access = token["access_token"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    for i in 0..40 {
        let (status, _) = app.verify_get(&format!("scan{i}"), None).await;
        statuses.push(status);
    }
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert_eq!(statuses[0], 401);
    assert!(statuses.contains(&429), "{statuses:?}");
    // The owner's Micropub server, on the same address, is not refused.
    let (status, body) = app.verify_get(&access, Some("application/json")).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn repeated_failed_redemptions_at_the_authorization_endpoint_get_429_sec_16() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let statuses: Vec<u16> = futures_util::future::join_all((0..40).map(|i| {
        let (app, client) = (&app, &client);
        async move {
            app.redeem_at("/auth", client, &format!("guess{i}"))
                .await
                .status
        }
    }))
    .await;
    assert!(
        statuses.iter().all(|s| *s == 400 || *s == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
}

/// The owner's Micropub server (Indiekit) introspects every token it is
/// sent with the token itself as the credential. Anyone can send it junk
/// tokens; that must not get the server's valid tokens refused (SEC-16
/// throttles the guessing, as at the legacy GET, not the valid answers).
#[tokio::test]
async fn junk_tokens_relayed_by_a_resource_server_do_not_block_its_valid_ones_sec_16() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let access = str_of(&t, "access_token");
    for i in 0..40 {
        let junk = format!("junk-{i}");
        let a = app.introspect(Some(&junk), &[("token", &junk)]).await;
        assert!(a.status == 200 || a.status == 429, "{}", a.status);
    }
    let a = app.introspect(Some(&access), &[("token", &access)]).await;
    assert_eq!(a.status, 200, "a valid token was refused: {}", a.body);
    assert_eq!(a.json()["active"], serde_json::json!(true));
    // The guessing itself is still throttled.
    let a = app.introspect(Some("junk-x"), &[("token", "junk-x")]).await;
    assert_eq!(a.status, 429);
}

/// Legacy GET verification with a made-up token, as the owner's Micropub
/// server relays every token it is sent (micropub-express, Aperture).
async fn junk_verification(app: &TestApp, i: usize) -> u16 {
    app.verify_get(&format!("junk-token-{i}"), None).await.0
}

/// SEC-16 (and the limiter's own contract, `src/ratelimit.rs`: "an app ...
/// using valid credentials is never slowed or refused"): strangers can make
/// an address fail — junk tokens sent to the owner's Micropub endpoint are
/// relayed to the legacy GET, junk codes sent to a client's callback are
/// relayed to /token. That must not get the valid code exchange of a client
/// on the same address refused with 429, as the first review established
/// for introspection (44f3d79).
#[tokio::test]
async fn relayed_junk_tokens_do_not_block_a_valid_code_exchange_sec_16() {
    let app = TestApp::spawn().await;
    let client = app.client();
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
    let client = app.client();
    let token = app.token_for(&client, "create").await;
    let code_for_token = app.code_for(&client, "create").await;
    let code_for_auth = app.code_for(&client, "profile").await;
    for i in 0..40 {
        let r = app.redeem_at("/token", &client, &format!("junk{i}")).await;
        assert!(r.status == 400 || r.status == 429, "{}", r.body);
    }
    let r = app.redeem_at("/token", &client, "junk-more").await;
    assert_eq!(r.status, 429, "guessing is slowed: {}", r.body);
    let (status, body) = app.redeem(&client, &code_for_token).await;
    assert_eq!(status, 200, "a valid code was refused at /token: {body}");
    let r = app.redeem_at("/auth", &client, &code_for_auth).await;
    assert_eq!(
        r.status, 200,
        "a valid code was refused at /auth: {}",
        r.body
    );
    let r = app
        .refresh(&client.client_id, &str_of(&token, "refresh_token"), None)
        .await;
    assert_eq!(r.status, 200, "a valid refresh was refused: {}", r.body);
}

/// SEC-16 at the revocation endpoint: naming a valid token with the wrong
/// `client_id` is refused (400) where an unknown token is not (REV-3), so
/// repeated refusals are slowed; a revocation that works never is.
#[tokio::test]
async fn repeated_refused_revocations_get_429_but_valid_ones_still_work_sec_16() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let token = str_of(&t, "access_token");
    let mut statuses = Vec::new();
    for i in 0..40 {
        let other = format!("https://other{i}.example/");
        let r = app
            .revoke(&[("token", &token), ("client_id", &other)])
            .await;
        statuses.push(r.status);
    }
    assert!(
        statuses.iter().all(|s| *s == 400 || *s == 429),
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // The token was never revoked by those, and its own revocation works.
    assert_eq!(app.revoke(&[("token", &token)]).await.status, 200);
    assert_eq!(app.revoke(&[("token", "unknown")]).await.status, 200);
}
