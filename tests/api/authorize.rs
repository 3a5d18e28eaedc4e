//! The authorization request beyond its error matrix: POSTed requests
//! (AREQ-1), the `me` hint (AREQ-12), authentication-only requests (AREQ-10,
//! LEG-5), scopes (AREQ-11, PROF-2), the pending request (CONS-7) and
//! escaping (CONS-12).

use crate::helpers::*;

#[tokio::test]
async fn posted_authorization_request_shows_the_consent_page_areq_1() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let page = browser
        .post("/auth", &client.auth_params("create", "posted"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let resp = browser
        .submit(&page, "form#consent", &[], Some(("action", "approve")))
        .await;
    let q = query_map(&resp.location_url());
    assert_eq!(q["state"], "posted");
    let token = app.redeem_at("/token", &client, &q["code"]).await;
    assert_eq!(token.status, 200, "{}", token.body);
}

#[tokio::test]
async fn posted_authorization_request_from_an_anonymous_visitor_gets_the_login_page_areq_17() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let mut params = client.auth_params("create", "posted");
    params.push(("response_type".into(), "token".into()));
    let page = app.browser().post("/auth", &params).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.location.is_none());
    assert!(page.has("form#login"));
}

#[tokio::test]
async fn me_hint_is_never_trusted_and_the_configured_me_is_returned_areq_12() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    for hint in ["https://someone-else.example/", "example.com"] {
        let mut params = client.auth_params("profile create", "s");
        params.push(("me".into(), hint.into()));
        let query = serde_urlencoded::to_string(&params).unwrap();
        let page = app.auth_page(&browser, &query).await;
        assert_eq!(page.status, 200, "{hint}: {}", page.body);
        let resp = browser
            .submit(&page, "form#consent", &[], Some(("action", "approve")))
            .await;
        let q = query_map(&resp.location_url());
        assert_eq!(q["me"], app.me(), "{hint}");
        let token = app.redeem_at("/token", &client, &q["code"]).await.json();
        assert_eq!(token["me"], app.me(), "{hint}");
        assert_eq!(token["profile"]["url"], app.me(), "{hint}");
    }
}

#[tokio::test]
async fn request_without_scope_is_authentication_only_areq_10() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let page = app.auth_page(&browser, &client.auth_query("", "s")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (_, fields) = form_fields(&page, "form#consent");
    assert!(!fields.iter().any(|(k, _)| k == "scope"), "no scope boxes");
    // Adding a scope to the answer grants nothing that was not requested.
    let resp = browser
        .submit(
            &page,
            "form#consent",
            &[("scope", "create")],
            Some(("action", "approve")),
        )
        .await;
    let code = query_map(&resp.location_url())["code"].clone();
    let resp = app.redeem_at("/token", &client, &code).await;
    assert_oauth_error(&resp, "invalid_grant");
}

#[tokio::test]
async fn response_type_id_is_authentication_only_even_with_a_scope_leg_5_areq_3() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let params = with_field(
        client.auth_params("create", "s"),
        "response_type",
        Some("id"),
    );
    let query = serde_urlencoded::to_string(&params).unwrap();
    let redirect = app.approve(&browser, &query).await;
    let code = query_map(&redirect)["code"].clone();
    let resp = app.redeem_at("/token", &client, &code).await;
    assert_oauth_error(&resp, "invalid_grant");

    let redirect = app.approve(&browser, &query).await;
    let code = query_map(&redirect)["code"].clone();
    let resp = app.redeem_at("/auth", &client, &code).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["me"], app.me());
}

#[tokio::test]
async fn answer_cannot_add_a_scope_that_was_not_requested_cons_7() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "s"))
        .await;
    let (action, mut fields) = form_fields(&page, "form#consent");
    fields.push(("scope".into(), "delete".into()));
    fields.push(("action".into(), "approve".into()));
    let resp = browser.post(&action, &fields).await;
    let code = query_map(&resp.location_url())["code"].clone();
    let token = app.redeem_at("/token", &client, &code).await.json();
    assert_eq!(token["scope"], "create");
}

#[tokio::test]
async fn email_without_profile_is_not_granted_prof_2() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let token = app.token_for(&client, "email create").await;
    assert_eq!(token["scope"], "create");
    assert!(token.get("profile").is_none(), "{token}");
    // The consent page says so beside the (ticked) email box; with
    // profile asked for too, it does not.
    let browser = app.signed_in_browser().await;
    for (scope, ignored) in [("email create", true), ("profile email", false)] {
        let page = app
            .auth_page(&browser, &client.auth_query(scope, "s"))
            .await;
        assert!(page.has("input[name='scope'][value='email'][checked]"));
        assert_eq!(
            page.body
                .contains("ignored: this app did not ask for profile"),
            ignored,
            "{scope}: {}",
            page.body
        );
    }
}

#[tokio::test]
async fn email_with_profile_is_granted_and_returned_prof_4() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let token = app.token_for(&client, "profile email").await;
    assert_eq!(token["scope"], "profile email");
    assert_eq!(token["profile"]["email"], "owner@example.net");
}

#[tokio::test]
async fn consent_form_expires_with_its_pending_request_cons_7() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "s"))
        .await;
    app.clock.advance(31 * 60);
    let resp = browser
        .submit(&page, "form#consent", &[], Some(("action", "approve")))
        .await;
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert!(resp.location.is_none());
    assert_eq!(app.count("SELECT count(*) FROM codes").await, 0);
}

#[tokio::test]
async fn forged_request_id_issues_no_code_cons_7() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "s"))
        .await;
    let resp = browser
        .submit(
            &page,
            "form#consent",
            &[("request", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")],
            Some(("action", "approve")),
        )
        .await;
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert!(resp.location.is_none());
    assert_eq!(app.count("SELECT count(*) FROM codes").await, 0);
}

#[tokio::test]
async fn values_echoed_into_pages_are_escaped_cons_12() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let evil = "\"><script>alert(1)</script>";
    let mut params = client.auth_params("create", evil);
    params.push(("me".into(), evil.into()));
    let query = serde_urlencoded::to_string(&params).unwrap();
    let page = app.auth_page(&browser, &query).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("<script>"), "{}", page.body);
    // And the login page shown to an anonymous visitor for the same request.
    let page = app.auth_page(&app.browser(), &query).await;
    assert!(page.has("form#login"));
    assert!(!page.body.contains("<script>"), "{}", page.body);
    // And an error page naming a bad redirect URI.
    let params = with_field(
        client.auth_params("create", "s"),
        "redirect_uri",
        Some("https://evil.example/<script>alert(1)</script>"),
    );
    let page = app
        .auth_page(&browser, &serde_urlencoded::to_string(&params).unwrap())
        .await;
    assert_eq!(page.status, 400);
    assert!(!page.body.contains("<script>"), "{}", page.body);
}

#[tokio::test]
async fn login_never_continues_to_another_site_sec_4() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let page = browser.get("/login").await;
    for target in [
        "https://evil.example/",
        "//evil.example/",
        "/dashboard\\@evil",
    ] {
        let resp = browser
            .submit(
                &page,
                "form#login",
                &[("password", PASSWORD), ("continue", target)],
                None,
            )
            .await;
        assert_eq!(resp.status, 303, "{target}");
        assert_eq!(resp.location.as_deref(), Some("/dashboard"), "{target}");
    }
    let page = browser
        .get("/login?continue=https%3A%2F%2Fevil.example%2F")
        .await;
    let (_, fields) = form_fields(&page, "form#login");
    assert!(
        fields
            .iter()
            .all(|(k, v)| k != "continue" || !v.contains("evil")),
        "{fields:?}"
    );
}

#[tokio::test]
async fn session_ends_after_its_lifetime() {
    let app = TestApp::spawn().await;
    let browser = app.signed_in_browser().await;
    assert_eq!(browser.get("/dashboard").await.status, 200);
    let lifetime = app.settings.session_lifetime.as_secs() as i64;
    app.clock.advance(lifetime + 1);
    let page = browser.get("/dashboard").await;
    assert_eq!(page.status, 303);
    let client = app.client();
    let page = app
        .auth_page(&browser, &client.auth_query("create", "s"))
        .await;
    assert!(page.has("form#login"), "{}", page.body);
}

#[tokio::test]
async fn valid_client_id_spellings_are_accepted_and_canonicalised_cid_5_leg_11() {
    let app = TestApp::spawn().await;
    let p = app.unused_port();
    let browser = app.signed_in_browser().await;
    let cases = [
        (
            format!("http://APP.localhost:{p}"),
            format!("http://app.localhost:{p}/cb"),
            format!("http://app.localhost:{p}/"),
        ),
        (
            format!("http://[::1]:{p}/"),
            format!("http://[::1]:{p}/cb"),
            format!("http://[::1]:{p}/"),
        ),
        (
            format!("http://127.0.0.1:{p}/?v=1"),
            format!("http://127.0.0.1:{p}/cb"),
            format!("http://127.0.0.1:{p}/?v=1"),
        ),
    ];
    for (raw, redirect, canonical) in cases {
        let mut client = TestClient::new(p);
        client.client_id = raw.clone();
        client.redirect_uri = redirect;
        let redirect = app
            .approve(&browser, &client.auth_query("create", "s"))
            .await;
        let code = query_map(&redirect)["code"].clone();
        client.client_id = canonical.clone();
        let resp = app.redeem_at("/token", &client, &code).await;
        assert_eq!(resp.status, 200, "{raw}: {}", resp.body);
        let token = resp.json()["access_token"].as_str().unwrap().to_owned();
        let (_, body) = app.verify_get(&token, Some("application/json")).await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["client_id"], canonical, "{raw}");
    }
}

#[tokio::test]
async fn redemption_at_the_authorization_endpoint_adds_scope_only_for_codes_without_pkce_reda_6() {
    let app = TestApp::spawn_with(|s| s.pkce = doorstep::config::PkcePolicy::Optional).await;
    let legacy = app.client().without_pkce();
    let code = app.code_for(&legacy, "profile create").await;
    let body = app.redeem_at("/auth", &legacy, &code).await.json();
    assert_eq!(body["me"], app.me());
    assert_eq!(body["scope"], "profile create");
    assert!(body.get("access_token").is_none());

    let modern = app.client();
    let code = app.code_for(&modern, "profile create").await;
    let body = app.redeem_at("/auth", &modern, &code).await.json();
    assert_eq!(body["me"], app.me());
    assert!(body.get("scope").is_none(), "{body}");
}

#[tokio::test]
async fn authorization_endpoint_redeems_only_authorization_codes_reda_4() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "profile").await;
    let form = with_field(
        code_form(&client, &code),
        "grant_type",
        Some("refresh_token"),
    );
    let resp = app.post_pairs("/auth", &form).await;
    assert_oauth_error(&resp, "unsupported_grant_type");
    // Legacy clients may leave grant_type out (REDA-1 compat).
    let form = with_field(code_form(&client, &code), "grant_type", None);
    let resp = app.post_pairs("/auth", &form).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
}
