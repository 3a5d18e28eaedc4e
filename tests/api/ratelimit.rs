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
