//! PKCE (PKCE-*, TV-1..3) and the policy for clients without it: the owner
//! decides per client under the default `pkce = s256` (PRODUCT
//! "Compatibility"), `pkce = any` adds plain, `pkce = optional` accepts all.

use crate::helpers::*;

/// A client using `plain`: the challenge is the verifier itself.
fn plain_client(port: u16) -> TestClient {
    let mut c = TestClient::new(port);
    c.verifier = "plain-verifier-0123456789-0123456789-0123456789".into();
    c.challenge = c.verifier.clone();
    c.method = Some("plain");
    c
}

#[tokio::test]
async fn tv2_indieauth_example_pair_verifies_pkce_6() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.verifier = "a6128783714cfda1d388e2e98b6ae8221ac31aca31959e59512c59f5".into();
    client.challenge = "OfYAxt8zU2dAPDWQxTAUIteRzMsoj9QBdMIVEDOErUo".into();
    let code = app.code_for(&client, "create").await;
    let resp = app.redeem_at("/token", &client, &code).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
}

#[tokio::test]
async fn wrong_verifier_is_invalid_grant_and_consumes_the_code_pkce_7_code_8() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
    let form = with_field(code_form(&client, &code), "code_verifier", Some(wrong));
    let resp = app.post_pairs("/token", &form).await;
    assert_oauth_error(&resp, "invalid_grant");
    // The right verifier is now too late.
    let resp = app.redeem_at("/token", &client, &code).await;
    assert_oauth_error(&resp, "invalid_grant");
    assert_eq!(app.count("SELECT count(*) FROM access_tokens").await, 0);
}

#[tokio::test]
async fn wrong_verifier_at_the_authorization_endpoint_is_invalid_grant_reda_2() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "profile").await;
    let form = with_field(
        code_form(&client, &code),
        "code_verifier",
        Some(&"x".repeat(43)),
    );
    let resp = app.post_pairs("/auth", &form).await;
    assert_oauth_error(&resp, "invalid_grant");
    assert!(resp.json().get("me").is_none());
}

#[tokio::test]
async fn missing_verifier_for_a_code_with_a_challenge_is_refused_and_consumes_it_pkce_8() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let form = with_field(code_form(&client, &code), "code_verifier", None);
    let resp = app.post_pairs("/token", &form).await;
    assert_oauth_error_among(&resp, &["invalid_grant", "invalid_request"]);
    let resp = app.redeem_at("/token", &client, &code).await;
    assert_oauth_error(&resp, "invalid_grant");
}

#[tokio::test]
async fn malformed_verifiers_are_refused_pkce_10_tv3() {
    let app = TestApp::spawn().await;
    for verifier in [
        "a".repeat(42),
        "a".repeat(129),
        format!("{}+", "a".repeat(43)),
        format!("{}/", "a".repeat(43)),
    ] {
        // The client really used this verifier's S256 challenge, so only
        // the syntax is wrong.
        let client = app.client().with_verifier(&verifier);
        let code = app.code_for(&client, "create").await;
        let resp = app.redeem_at("/token", &client, &code).await;
        assert_oauth_error_among(&resp, &["invalid_grant", "invalid_request"]);
    }
}

#[tokio::test]
async fn verifiers_of_43_and_128_characters_are_accepted_tv3() {
    let app = TestApp::spawn().await;
    for verifier in ["A-._~".repeat(8) + "abc", "Z9-._~zz".repeat(16)] {
        assert!(verifier.len() == 43 || verifier.len() == 128);
        let client = app.client().with_verifier(&verifier);
        let code = app.code_for(&client, "create").await;
        let resp = app.redeem_at("/token", &client, &code).await;
        assert_eq!(resp.status, 200, "{verifier}: {}", resp.body);
    }
}

#[tokio::test]
async fn plain_is_refused_at_authorization_under_the_default_policy_pkce_3() {
    let app = TestApp::spawn().await;
    let client = plain_client(app.unused_port());
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "st"))
        .await;
    assert_eq!(page.status, 302, "{}", page.body);
    let q = query_map(&page.location_url());
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "st");
    assert_eq!(q["iss"], app.issuer());
    assert_eq!(
        app.metadata().await["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
}

#[tokio::test]
async fn pkce_any_accepts_plain_and_advertises_it() {
    let app = TestApp::spawn_with(|s| s.pkce = doorstep::config::PkcePolicy::Any).await;
    let client = plain_client(app.unused_port());
    let code = app.code_for(&client, "create").await;
    let resp = app.redeem_at("/token", &client, &code).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(
        app.metadata().await["code_challenge_methods_supported"],
        serde_json::json!(["S256", "plain"])
    );
    // A plain challenge still has to be matched.
    let code = app.code_for(&client, "create").await;
    let form = with_field(
        code_form(&client, &code),
        "code_verifier",
        Some(&"q".repeat(43)),
    );
    assert_oauth_error(&app.post_pairs("/token", &form).await, "invalid_grant");
}

#[tokio::test]
async fn pkce_optional_accepts_a_client_without_pkce_and_the_consent_page_says_so() {
    let app = TestApp::spawn_with(|s| s.pkce = doorstep::config::PkcePolicy::Optional).await;
    let client = app.client().without_pkce();
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "s"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.has("form#consent"), "{}", page.body);
    assert!(!page.has("form#pkce"));
    assert!(page.body.contains("does not use PKCE"), "{}", page.body);
    let resp = browser
        .submit(&page, "form#consent", &[], Some(("action", "approve")))
        .await;
    let code = query_map(&resp.location_url())["code"].clone();
    let resp = app.redeem_at("/token", &client, &code).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    // PKCE-2, PKCE-3 and SPEC's PKCE decision: `plain` is accepted under
    // this policy, so it is advertised.
    let plain = plain_client(app.unused_port());
    let code = app.code_for(&plain, "create").await;
    assert_eq!(app.redeem_at("/token", &plain, &code).await.status, 200);
    assert_eq!(
        app.metadata().await["code_challenge_methods_supported"],
        serde_json::json!(["S256", "plain"])
    );
}

/// The no-PKCE page's form acts only on a request that lacks the PKCE the
/// policy requires: sent for one that uses S256 (a stale or forged form),
/// nothing is remembered and nothing is sent to the client.
#[tokio::test]
async fn the_no_pkce_answer_does_nothing_for_a_request_that_uses_pkce() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "st"))
        .await;
    assert!(page.has("form#consent"), "{}", page.body);
    let (_, fields) = form_fields(&page, "form#consent");
    for action in ["allow", "refuse"] {
        let mut form: Vec<(String, String)> = fields
            .iter()
            .filter(|(k, _)| k == "csrf" || k == "request")
            .cloned()
            .collect();
        form.push(("action".into(), action.into()));
        let resp = browser.post("/auth/pkce", &form).await;
        let to = resp.location.clone().unwrap_or_default();
        assert!(!to.contains(&client.redirect_uri), "{action}: {to}");
    }
    let dashboard = browser.get("/dashboard").await;
    assert!(
        dashboard
            .body
            .contains("None. Apps that sign in without PKCE ask you first."),
        "{}",
        dashboard.body
    );
    // The consent page still answers.
    let resp = browser
        .submit(&page, "form#consent", &[], Some(("action", "approve")))
        .await;
    let q = query_map(&resp.location_url());
    assert_eq!(
        app.redeem_at("/token", &client, &q["code"]).await.status,
        200
    );
}

#[tokio::test]
async fn verifier_sent_for_a_code_issued_without_a_challenge_is_refused_pkce_9() {
    let app = TestApp::spawn_with(|s| s.pkce = doorstep::config::PkcePolicy::Optional).await;
    let client = app.client().without_pkce();
    let code = app.code_for(&client, "create").await;
    let form = with_field(
        code_form(&client, &code),
        "code_verifier",
        Some(RFC_VERIFIER),
    );
    let resp = app.post_pairs("/token", &form).await;
    assert_oauth_error(&resp, "invalid_grant");
    assert_eq!(app.count("SELECT count(*) FROM access_tokens").await, 0);
}

/// PKCE-11, SEC-15: requests without PKCE are never silently accepted.
#[tokio::test]
async fn client_without_pkce_is_shown_to_the_owner_only_after_login_areq_17() {
    let app = TestApp::spawn().await;
    let client = app.client().without_pkce();
    let page = app
        .auth_page(&app.browser(), &client.auth_query("create", "s"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.has("form#login"), "{}", page.body);
    assert!(page.location.is_none());
}

#[tokio::test]
async fn owner_allows_a_client_without_pkce_once_and_it_is_remembered_and_withdrawable() {
    let app = TestApp::spawn().await;
    let client = app.client().without_pkce();
    let browser = app.signed_in_browser().await;
    let query = client.auth_query("create", "st-1");

    // The no-PKCE page names the client.
    let page = app.auth_page(&browser, &query).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.has("form#pkce"), "{}", page.body);
    assert!(!page.has("form#consent"));
    assert!(page.body.contains(&client.client_id), "{}", page.body);

    // Allow: back to the same request, now on the consent page.
    let resp = browser
        .submit(&page, "form#pkce", &[], Some(("action", "allow")))
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let consent = browser.get(resp.location.as_deref().unwrap()).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.has("form#consent"), "{}", consent.body);
    let resp = browser
        .submit(&consent, "form#consent", &[], Some(("action", "approve")))
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let q = query_map(&resp.location_url());
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], app.issuer());
    let token = app.redeem_at("/token", &client, &q["code"]).await;
    assert_eq!(token.status, 200, "{}", token.body);
    assert_eq!(token.json()["scope"], "create");

    // Remembered: next time straight to consent.
    let page = app.auth_page(&browser, &query).await;
    assert!(page.has("form#consent"), "{}", page.body);
    assert!(!page.has("form#pkce"));

    // Shown on the dashboard, and withdrawable there.
    let dashboard = browser.get("/dashboard").await;
    assert_eq!(dashboard.status, 200);
    assert!(
        dashboard.body.contains(&client.client_id),
        "{}",
        dashboard.body
    );
    let resp = browser
        .submit(
            &dashboard,
            "form[action=\"/dashboard/pkce/remove\"]",
            &[],
            None,
        )
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let dashboard = browser.get("/dashboard").await;
    // The app still holds its token (listed under "Apps with access"), so
    // only the exemption list is checked.
    assert!(
        !dashboard.has("form[action=\"/dashboard/pkce/remove\"]"),
        "{}",
        dashboard.body
    );
    let page = app.auth_page(&browser, &query).await;
    assert!(page.has("form#pkce"), "{}", page.body);
}

#[tokio::test]
async fn withdrawing_the_exemption_before_consent_is_answered_refuses_the_code() {
    let app = TestApp::spawn().await;
    let client = app.client().without_pkce();
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "st"))
        .await;
    let resp = browser
        .submit(&page, "form#pkce", &[], Some(("action", "allow")))
        .await;
    let consent = browser.get(resp.location.as_deref().unwrap()).await;
    let dashboard = browser.get("/dashboard").await;
    browser
        .submit(
            &dashboard,
            "form[action=\"/dashboard/pkce/remove\"]",
            &[],
            None,
        )
        .await;
    let resp = browser
        .submit(&consent, "form#consent", &[], Some(("action", "approve")))
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let q = query_map(&resp.location_url());
    assert_eq!(q["error"], "invalid_request");
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn owner_refuses_a_client_without_pkce_redirect_invalid_request_with_state_and_iss() {
    let app = TestApp::spawn().await;
    let client = app.client().without_pkce();
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "st/+="))
        .await;
    let resp = browser
        .submit(&page, "form#pkce", &[], Some(("action", "refuse")))
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let to = resp.location_url();
    assert!(to.as_str().starts_with(&client.redirect_uri), "{to}");
    let q = query_map(&to);
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "st/+=");
    assert_eq!(q["iss"], app.issuer());
    assert!(!q.contains_key("code"));
    // Nothing remembered.
    let page = app
        .auth_page(&browser, &client.auth_query("create", "again"))
        .await;
    assert!(page.has("form#pkce"), "{}", page.body);
}
