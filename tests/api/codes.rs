//! Authorization codes: single use across both endpoints, bound to the
//! client and redirect URI, short-lived, and redeemed atomically (CODE-*,
//! REDA-*, REDT-*).

use crate::helpers::*;
use futures_util::future::join_all;

#[tokio::test]
async fn replayed_code_is_refused_and_revokes_its_tokens_code_3() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let first = app.redeem_at("/token", &client, &code).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let token = first.json()["access_token"].as_str().unwrap().to_owned();
    let (status, _) = app.verify_get(&token, Some("application/json")).await;
    assert_eq!(status, 200);

    let replay = app.redeem_at("/token", &client, &code).await;
    assert_oauth_error(&replay, "invalid_grant");
    assert!(replay.json().get("access_token").is_none());

    let resp = app
        .verify_raw(
            Some(&format!("Bearer {token}")),
            Some("application/json"),
            "",
        )
        .await;
    assert_eq!(resp.status, 401, "the first token must be revoked");
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn replay_also_revokes_the_refresh_token_of_the_first_exchange_code_3() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let first = app.redeem_at("/token", &client, &code).await.json();
    let refresh = first["refresh_token"].as_str().expect("refresh token");
    let replay = app.redeem_at("/token", &client, &code).await;
    assert_oauth_error(&replay, "invalid_grant");
    let resp = app
        .post_pairs(
            "/token",
            &[
                ("grant_type".into(), "refresh_token".into()),
                ("refresh_token".into(), refresh.into()),
                ("client_id".into(), client.client_id.clone()),
            ],
        )
        .await;
    assert_oauth_error(&resp, "invalid_grant");
}

#[tokio::test]
async fn code_redeemed_at_the_authorization_endpoint_is_dead_at_the_token_endpoint_code_2() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "profile create").await;
    let first = app.redeem_at("/auth", &client, &code).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = app.redeem_at("/token", &client, &code).await;
    assert_oauth_error(&second, "invalid_grant");
    let third = app.redeem_at("/auth", &client, &code).await;
    assert_oauth_error(&third, "invalid_grant");
}

#[tokio::test]
async fn code_redeemed_at_the_token_endpoint_is_dead_at_the_authorization_endpoint_code_2() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "profile create").await;
    let first = app.redeem_at("/token", &client, &code).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = app.redeem_at("/auth", &client, &code).await;
    assert_oauth_error(&second, "invalid_grant");
    assert!(second.json().get("me").is_none());
}

#[tokio::test]
async fn redirect_uri_mismatch_at_redemption_is_invalid_grant_redt_3() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let other = format!("{}other", client.client_id);
    let form = with_field(code_form(&client, &code), "redirect_uri", Some(&other));
    let resp = app.post_pairs("/token", &form).await;
    assert_oauth_error(&resp, "invalid_grant");
    // CODE-8: the failed attempt consumed the code.
    let resp = app.redeem_at("/token", &client, &code).await;
    assert_oauth_error(&resp, "invalid_grant");
}

#[tokio::test]
async fn client_id_mismatch_at_redemption_is_invalid_grant_redt_3() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    for (endpoint, other) in [
        ("/token", "https://other.example/"),
        ("/token", "not a url"),
        ("/auth", "https://other.example/"),
    ] {
        let code = if endpoint == "/auth" {
            app.code_for(&client, "create").await
        } else {
            code.clone()
        };
        let form = with_field(code_form(&client, &code), "client_id", Some(other));
        let resp = app.post_pairs(endpoint, &form).await;
        assert_oauth_error(&resp, "invalid_grant");
    }
}

#[tokio::test]
async fn client_id_without_trailing_slash_redeems_its_code_leg_11_cid_5() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let bare = client.client_id.trim_end_matches('/').to_owned();
    let form = with_field(code_form(&client, &code), "client_id", Some(&bare));
    let resp = app.post_pairs("/token", &form).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
}

#[tokio::test]
async fn expired_code_is_invalid_grant_code_1() {
    let app = TestApp::spawn_with(|s| s.code_lifetime = std::time::Duration::from_secs(6)).await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    app.clock.advance(6);
    let resp = app.redeem_at("/token", &client, &code).await;
    assert_oauth_error(&resp, "invalid_grant");
    assert_eq!(app.count("SELECT count(*) FROM access_tokens").await, 0);
}

#[tokio::test]
async fn code_within_its_lifetime_is_redeemed_code_1() {
    let app = TestApp::spawn_with(|s| s.code_lifetime = std::time::Duration::from_secs(60)).await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    app.clock.advance(59);
    let resp = app.redeem_at("/token", &client, &code).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
}

#[tokio::test]
async fn twenty_concurrent_redemptions_of_one_code_give_exactly_one_token_code_2() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let attempts = (0..20).map(|_| app.redeem_at("/token", &client, &code));
    let results = join_all(attempts).await;
    let ok: Vec<_> = results.iter().filter(|r| r.status == 200).collect();
    assert_eq!(ok.len(), 1, "exactly one success");
    for r in results.iter().filter(|r| r.status != 200) {
        assert_oauth_error(r, "invalid_grant");
    }
    // The replays revoked the one token that was issued (CODE-3).
    let token = ok[0].json()["access_token"].as_str().unwrap().to_owned();
    let (status, _) = app.verify_get(&token, Some("application/json")).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn tv9_redemption_at_the_authorization_endpoint_returns_me_and_profile_but_no_token_reda_3() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "profile create").await;
    let resp = app.redeem_at("/auth", &client, &code).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(
        resp.header("content-type")
            .unwrap_or("")
            .starts_with("application/json")
    );
    assert_eq!(resp.header("cache-control"), Some("no-store"), "REDA-5");
    let body = resp.json();
    assert_eq!(body["me"], app.me());
    assert_eq!(body["profile"]["name"], "Test Owner");
    assert_eq!(body["profile"]["url"], app.me());
    assert_eq!(body["profile"]["photo"], "https://example.net/photo.jpg");
    assert!(body.get("access_token").is_none(), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body["profile"].get("email").is_none(), "{body}");
    assert!(body.get("email").is_none(), "{body}");
}

#[tokio::test]
async fn redemption_at_the_authorization_endpoint_includes_email_only_when_granted_prof_4() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "profile email").await;
    let body = app.redeem_at("/auth", &client, &code).await.json();
    assert_eq!(body["profile"]["email"], "owner@example.net", "{body}");
    assert!(body.get("access_token").is_none());
}

#[tokio::test]
async fn identity_only_code_gives_me_without_profile_at_the_authorization_endpoint_reda_3() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "").await;
    let body = app.redeem_at("/auth", &client, &code).await.json();
    assert_eq!(body, serde_json::json!({ "me": app.me() }));
}

#[tokio::test]
async fn code_without_scope_is_refused_at_the_token_endpoint_and_consumed_redt_4() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "").await;
    let resp = app.redeem_at("/token", &client, &code).await;
    assert_oauth_error(&resp, "invalid_grant");
    assert!(resp.json().get("access_token").is_none());
    assert_eq!(app.count("SELECT count(*) FROM access_tokens").await, 0);
    let again = app.redeem_at("/auth", &client, &code).await;
    assert_oauth_error(&again, "invalid_grant");
}

#[tokio::test]
async fn unticking_every_scope_gives_an_identity_only_code_redt_4() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "s"))
        .await;
    let (action, mut fields) = form_fields(&page, "form#consent");
    fields.retain(|(k, _)| k != "scope");
    fields.push(("action".into(), "approve".into()));
    let resp = browser.post(&action, &fields).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let code = query_map(&resp.location_url())["code"].clone();
    let resp = app.redeem_at("/token", &client, &code).await;
    assert_oauth_error(&resp, "invalid_grant");
}

/// ERR-4, ERR-5: RFC 6749 §5.2 JSON with token-endpoint codes only.
#[tokio::test]
async fn unknown_code_is_invalid_grant_at_both_endpoints_reda_4_redt_7() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for endpoint in ["/token", "/auth"] {
        let resp = app
            .redeem_at(
                endpoint,
                &client,
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )
            .await;
        assert_oauth_error(&resp, "invalid_grant");
    }
}

#[tokio::test]
async fn missing_or_repeated_redemption_parameters_are_invalid_request_redt_7_reda_4() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let form = code_form(&client, &code);
    for endpoint in ["/token", "/auth"] {
        for name in ["code", "client_id", "redirect_uri"] {
            let resp = app
                .post_pairs(endpoint, &with_field(form.clone(), name, None))
                .await;
            assert_oauth_error(&resp, "invalid_request");
        }
        let mut repeated = form.clone();
        repeated.push(("code".into(), code.clone()));
        let resp = app.post_pairs(endpoint, &repeated).await;
        assert_oauth_error(&resp, "invalid_request");
    }
    // None of those consumed the code.
    let resp = app.post_pairs("/token", &form).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
}

#[tokio::test]
async fn codes_and_tokens_are_stored_only_as_hashes_code_5() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let token = app.redeem_at("/token", &client, &code).await.json();
    let secrets = [
        code.clone(),
        token["access_token"].as_str().unwrap().to_owned(),
        token["refresh_token"].as_str().unwrap().to_owned(),
    ];
    let db = app.settings.database.clone();
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", db.display());
        if let Ok(b) = std::fs::read(&path) {
            bytes.extend(b);
        }
    }
    // The search works: what is stored in clear is found.
    let id = client.client_id.as_bytes();
    assert!(bytes.windows(id.len()).any(|w| w == id));
    for s in &secrets {
        let found = bytes.windows(s.len()).any(|w| w == s.as_bytes());
        assert!(!found, "a secret is stored in clear");
    }
}

/// PKCE-5: the challenge stays bound to the code on the server.
#[tokio::test]
async fn challenge_never_leaves_the_server_and_errors_never_echo_the_code_code_7_err_11() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "s"))
        .await;
    assert!(!page.body.contains(RFC_CHALLENGE));
    let resp = browser
        .submit(&page, "form#consent", &[], Some(("action", "approve")))
        .await;
    let location = resp.location.clone().unwrap();
    assert!(!location.contains(RFC_CHALLENGE));
    let code = query_map(&resp.location_url())["code"].clone();
    app.redeem_at("/token", &client, &code).await;
    let replay = app.redeem_at("/token", &client, &code).await;
    assert_eq!(replay.status, 400);
    assert!(!replay.body.contains(&code), "{}", replay.body);
    let wrong = with_field(
        code_form(&client, "x"),
        "code_verifier",
        Some(&"v".repeat(43)),
    );
    let resp = app.post_pairs("/token", &wrong).await;
    assert!(!resp.body.contains(&"v".repeat(43)), "{}", resp.body);
}

/// A code whose stored values were changed outside doorstep is a fault
/// (500 `server_error`), never redeemed with what a failed parse would
/// default to: no scope, or a plain PKCE method that anyone can satisfy.
#[tokio::test]
async fn a_tampered_stored_code_is_a_server_error_not_a_code_with_defaults() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for tamper in [
        "UPDATE codes SET scope = 'create\"'",
        "UPDATE codes SET code_challenge_method = 'S512'",
        "UPDATE codes SET client_id = 'not a client id'",
    ] {
        let code = app.code_for(&client, "create").await;
        app.store
            .write_now(|tx| Ok(tx.execute(tamper, [])?))
            .unwrap();
        let (status, body) = app.redeem(&client, &code).await;
        assert_eq!(status, 500, "{tamper}: {body}");
        assert_eq!(body["error"], "server_error", "{tamper}: {body}");
        assert!(body.get("access_token").is_none());
    }
}
