//! Token lifetimes (issue 4, item 1) and refresh tokens (REF-1..12, TV-11).

use crate::helpers::*;

const NINETY_DAYS: i64 = 90 * 86_400;

#[tokio::test]
async fn default_lifetime_is_ninety_days_and_expires_in_tells_the_truth_ref_1() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile create").await;
    assert_eq!(t["expires_in"], NINETY_DAYS);
    assert!(
        t["refresh_token"].is_string(),
        "an expiring grant gets a refresh token"
    );
    let secret = app.resource_server_secret("micropub").await;
    let a = app
        .introspect(Some(&secret), &[("token", &str_of(&t, "access_token"))])
        .await;
    let v = a.json();
    assert_eq!(
        v["exp"].as_i64().unwrap() - v["iat"].as_i64().unwrap(),
        NINETY_DAYS,
        "exp agrees with expires_in"
    );
}

#[tokio::test]
async fn chosen_lifetime_is_reported_and_enforced_when_the_clock_moves() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_with_lifetime(&client, "create", "86400").await;
    assert_eq!(t["expires_in"], 86_400);
    let access = str_of(&t, "access_token");
    app.clock.advance(86_400 - 1);
    assert_eq!(app.verify_get(&access, None).await.0, 200);
    app.clock.advance(1);
    assert_eq!(
        app.verify_get(&access, None).await.0,
        401,
        "expired after one day"
    );
    assert!(!app.is_active(&access).await);
}

#[tokio::test]
async fn until_revoked_has_no_expires_in_and_no_refresh_token_ref_1() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_with_lifetime(&client, "create", "never").await;
    assert!(t.get("expires_in").is_none(), "{t}");
    assert!(t.get("refresh_token").is_none(), "nothing to refresh: {t}");
    let access = str_of(&t, "access_token");
    app.clock.advance(5 * 365 * 86_400);
    assert_eq!(app.verify_get(&access, None).await.0, 200);
}

#[tokio::test]
async fn refresh_rotates_and_answers_like_a_token_response_ref_2_ref_5_ref_7_tv_11() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile create").await;
    let r1 = str_of(&t, "refresh_token");
    let a = app.refresh(&client.client_id, &r1, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("cache-control"), Some("no-store"));
    assert_eq!(a.header("pragma"), Some("no-cache"));
    let v = a.json();
    assert_eq!(v["me"], app.me());
    assert_eq!(v["scope"], "profile create");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], NINETY_DAYS);
    assert_eq!(
        v["profile"]["name"], "Test Owner",
        "REF-5: profile with that scope"
    );
    let r2 = str_of(&v, "refresh_token");
    assert_ne!(r2, r1, "REF-7: rotated");
    assert_ne!(v["access_token"], t["access_token"]);
    assert_eq!(
        app.verify_get(&str_of(&v, "access_token"), None).await.0,
        200
    );
    // The rotated chain keeps working.
    let again = app.refresh(&client.client_id, &r2, None).await;
    assert_eq!(again.status, 200, "{}", again.body);
}

#[tokio::test]
async fn reused_refresh_token_revokes_the_family_ref_8_tv_11() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile create").await;
    let r1 = str_of(&t, "refresh_token");
    let first = app.refresh(&client.client_id, &r1, None).await.json();
    let r2 = str_of(&first, "refresh_token");
    let new_access = str_of(&first, "access_token");
    app.clock.advance(60); // past the grace window
    let reuse = app.refresh(&client.client_id, &r1, None).await;
    assert_oauth_error(&reuse, "invalid_grant");
    let after = app.refresh(&client.client_id, &r2, None).await;
    assert_oauth_error(&after, "invalid_grant");
    assert_eq!(
        app.verify_get(&new_access, None).await.0,
        401,
        "and its access tokens"
    );
    assert!(!app.is_active(&str_of(&t, "access_token")).await);
}

#[tokio::test]
async fn two_concurrent_refreshes_of_one_token_both_succeed_ref_7() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let r1 = str_of(&t, "refresh_token");
    let (a, b) = tokio::join!(
        app.refresh(&client.client_id, &r1, None),
        app.refresh(&client.client_id, &r1, None)
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(b.status, 200, "{}", b.body);
    let (a, b) = (a.json(), b.json());
    assert_ne!(a["access_token"], b["access_token"]);
    // Both results stay usable: inside the grace window that is no breach.
    assert_eq!(
        app.verify_get(&str_of(&a, "access_token"), None).await.0,
        200
    );
    assert_eq!(
        app.verify_get(&str_of(&b, "access_token"), None).await.0,
        200
    );
    let next = app
        .refresh(&client.client_id, &str_of(&b, "refresh_token"), None)
        .await;
    assert_eq!(next.status, 200, "{}", next.body);
}

/// REF-8: the grace window forgives one concurrent reuse, not a thief who
/// replays the stolen token a third time inside it.
#[tokio::test]
async fn a_second_reuse_inside_the_grace_window_revokes_the_family_ref_8() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let r1 = str_of(&t, "refresh_token");
    let first = app.refresh(&client.client_id, &r1, None).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = app.refresh(&client.client_id, &r1, None).await;
    assert_eq!(second.status, 200, "one reuse is forgiven: {}", second.body);
    let third = app.refresh(&client.client_id, &r1, None).await;
    assert_oauth_error(&third, "invalid_grant");
    for chain in [first.json(), second.json()] {
        let next = app
            .refresh(&client.client_id, &str_of(&chain, "refresh_token"), None)
            .await;
        assert_eq!(next.status, 400, "every chain of the family is revoked");
        assert_eq!(
            app.verify_get(&str_of(&chain, "access_token"), None)
                .await
                .0,
            401
        );
    }
}

/// REF-7, REF-8, SEC-11: the successors handed out for one rotated token
/// are siblings. The first one used wins; the other is spent at that
/// moment, and presenting it later is reuse that ends the whole grant, so
/// a thief replaying a stolen token inside the grace window cannot keep a
/// second chain alive beside the client's.
#[tokio::test]
async fn a_replay_inside_the_grace_window_cannot_fork_the_grant() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let r1 = str_of(&t, "refresh_token");
    let first = app.refresh(&client.client_id, &r1, None).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let r2 = str_of(&first.json(), "refresh_token");
    let replay = app.refresh(&client.client_id, &r1, None).await;
    assert_eq!(replay.status, 200, "inside the window: {}", replay.body);
    let r2_sibling = str_of(&replay.json(), "refresh_token");

    let winner = app.refresh(&client.client_id, &r2, None).await;
    assert_eq!(winner.status, 200, "{}", winner.body);
    let r3 = str_of(&winner.json(), "refresh_token");
    let loser = app.refresh(&client.client_id, &r2_sibling, None).await;
    assert_oauth_error(&loser, "invalid_grant");

    let after = app.refresh(&client.client_id, &r3, None).await;
    assert_eq!(after.status, 400, "the grant is gone: {}", after.body);
    for access in [
        str_of(&t, "access_token"),
        str_of(&first.json(), "access_token"),
        str_of(&replay.json(), "access_token"),
        str_of(&winner.json(), "access_token"),
    ] {
        assert!(!app.is_active(&access).await, "access tokens included");
    }
}

/// REF-8: once a successor has been used the grant has moved on, so the
/// rotated token gets no grace even inside the window.
#[tokio::test]
async fn a_rotated_token_replayed_after_its_successor_was_used_ends_the_grant() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let r1 = str_of(&t, "refresh_token");
    let first = app.refresh(&client.client_id, &r1, None).await.json();
    let second = app
        .refresh(&client.client_id, &str_of(&first, "refresh_token"), None)
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    let replay = app.refresh(&client.client_id, &r1, None).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    let r3 = str_of(&second.json(), "refresh_token");
    assert_eq!(app.refresh(&client.client_id, &r3, None).await.status, 400);
}

#[tokio::test]
async fn broader_scope_is_invalid_scope_ref_4_tv_11() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile create").await;
    let a = app
        .refresh(
            &client.client_id,
            &str_of(&t, "refresh_token"),
            Some("profile create delete"),
        )
        .await;
    assert_oauth_error(&a, "invalid_scope");
}

#[tokio::test]
async fn narrower_scope_narrows_the_access_token_but_not_the_refresh_token_ref_4_ref_6_tv_11() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile create").await;
    let a = app
        .refresh(
            &client.client_id,
            &str_of(&t, "refresh_token"),
            Some("create"),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["scope"], "create");
    assert!(v.get("profile").is_none(), "no profile without that scope");
    let (_, body) = app
        .verify_get(&str_of(&v, "access_token"), Some("application/json"))
        .await;
    assert!(body.contains(r#""scope":"create""#), "{body}");
    // REF-6: the new refresh token still carries the full scope.
    let wide = app
        .refresh(&client.client_id, &str_of(&v, "refresh_token"), None)
        .await;
    assert_eq!(wide.status, 200, "{}", wide.body);
    assert_eq!(wide.json()["scope"], "profile create");
}

#[tokio::test]
async fn another_client_id_is_invalid_grant_ref_3_tv_11() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let a = app
        .refresh("https://other.example/", &str_of(&t, "refresh_token"), None)
        .await;
    assert_oauth_error(&a, "invalid_grant");
}

#[tokio::test]
async fn refresh_token_expires_after_a_year_unused_ref_3_ref_9() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let r1 = str_of(&t, "refresh_token");
    // Sliding: each use starts a new year.
    app.clock.advance(300 * 86_400);
    let v = app.refresh(&client.client_id, &r1, None).await.json();
    let r2 = str_of(&v, "refresh_token");
    app.clock.advance(300 * 86_400);
    let v = app.refresh(&client.client_id, &r2, None).await;
    assert_eq!(v.status, 200, "still within a year of its last use");
    let r3 = str_of(&v.json(), "refresh_token");
    app.clock.advance(366 * 86_400);
    let a = app.refresh(&client.client_id, &r3, None).await;
    assert_oauth_error(&a, "invalid_grant");
}

#[tokio::test]
async fn refresh_tokens_are_opaque_random_values_that_cannot_be_forged_ref_12() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let r = str_of(&t, "refresh_token");
    // 256 random bits, base64url: no grant id inside to tamper with.
    assert_eq!(r.len(), 43);
    assert!(
        r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let mut forged = r.clone().into_bytes();
    forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let a = app.refresh(&client.client_id, &forged, None).await;
    assert_oauth_error(&a, "invalid_grant");
}

#[tokio::test]
async fn revoked_refresh_token_cannot_refresh_ref_3_ref_11() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let r = str_of(&t, "refresh_token");
    assert_eq!(app.revoke(&[("token", &r)]).await.status, 200);
    let a = app.refresh(&client.client_id, &r, None).await;
    assert_oauth_error(&a, "invalid_grant");
    assert_eq!(
        app.verify_get(&str_of(&t, "access_token"), None).await.0,
        401,
        "REF-11: the grant's access tokens go too"
    );
}

#[tokio::test]
async fn revoking_everything_on_the_dashboard_ends_every_refresh_family_ref_10() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let browser = app.signed_in_browser().await;
    let page = browser.get("/dashboard/grants/revoke-all").await;
    let resp = browser.submit(&page, "form#revoke-all", &[], None).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let a = app
        .refresh(&client.client_id, &str_of(&t, "refresh_token"), None)
        .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn missing_refresh_token_is_invalid_request_ref_2() {
    let app = TestApp::spawn().await;
    let a = app
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "https://app.example/"),
            ],
        )
        .await;
    assert_oauth_error(&a, "invalid_request");
}

/// A refresh the database cannot take (another process holds its write
/// lock past the busy timeout) is "try again" — 503 `temporarily_unavailable`
/// with `Retry-After`, as at the revocation endpoint — not a server error,
/// and nothing is spent: the same refresh token works once the lock is
/// gone.
#[tokio::test]
async fn a_refresh_while_the_database_is_locked_is_try_again_and_spends_nothing() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let refresh = str_of(&t, "refresh_token");
    let lock = app.hold_write_lock();
    let r = app.refresh(&client.client_id, &refresh, None).await;
    drop(lock);
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let again = app.refresh(&client.client_id, &refresh, None).await;
    assert_eq!(again.status, 200, "{}", again.body);
}
