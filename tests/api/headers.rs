//! Headers on sensitive responses (TV-17): clickjacking and referrer
//! protection on every page (CONS-9, CONS-10, SEC-6, SEC-9), no caching of
//! anything carrying a credential (REDT-6, REDA-5, ERR-10), and no CORS on
//! the authorization endpoint (SEC-14).

use crate::helpers::*;
use scraper::Selector;

fn assert_page_headers(page: &Response, what: &str) {
    let ct = page.header("content-type").unwrap_or("");
    assert!(ct.starts_with("text/html"), "{what}: content-type {ct}");
    let csp = page
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"));
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-eval"), "{what}: {csp}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(
        page.header("referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(
        page.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert!(
        page.header("access-control-allow-origin").is_none(),
        "{what}: CORS on a page"
    );
}

/// CONS-9: nothing on the page is loaded from, or links to, another site.
fn assert_no_third_party(page: &Response, base: &str, what: &str) {
    let doc = page.html();
    let sel = Selector::parse("[src], [href], [action]").unwrap();
    for el in doc.select(&sel) {
        for attr in ["src", "href", "action"] {
            if let Some(v) = el.value().attr(attr) {
                assert!(
                    v.starts_with('/') && !v.starts_with("//") || v.starts_with(base),
                    "{what}: {attr}={v}"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_html_page_forbids_framing_and_referrers_cons_9_cons_10() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let anonymous = app.browser();
    let mut pages = vec![
        ("homepage", anonymous.get("/").await),
        ("login", anonymous.get("/login").await),
        (
            "login at /auth",
            app.auth_page(&anonymous, &client.auth_query("create", "s"))
                .await,
        ),
        (
            "setup link not valid",
            anonymous.get("/setup?token=nope").await,
        ),
        (
            "error page",
            app.auth_page(&anonymous, "response_type=code&state=s")
                .await,
        ),
    ];
    let login = anonymous.get("/login").await;
    pages.push((
        "wrong password",
        anonymous
            .submit(&login, "form#login", &[("password", "wrong one!")], None)
            .await,
    ));
    let browser = app.signed_in_browser().await;
    let consent = app
        .auth_page(&browser, &client.auth_query("profile create", "s"))
        .await;
    assert!(consent.has("form#consent"));
    pages.push((
        "consent CSRF refusal",
        browser
            .submit(
                &consent,
                "form#consent",
                &[("csrf", "x")],
                Some(("action", "approve")),
            )
            .await,
    ));
    pages.push(("consent", consent));
    pages.push((
        "no-PKCE page",
        app.auth_page(
            &browser,
            &client.clone().without_pkce().auth_query("create", "s"),
        )
        .await,
    ));
    pages.push(("dashboard", browser.get("/dashboard").await));
    pages.push((
        "revoke every app?",
        browser.get("/dashboard/grants/revoke-all").await,
    ));
    for (what, page) in &pages {
        assert_page_headers(page, what);
        if *what != "homepage" {
            assert_no_third_party(page, &app.base, what);
        }
    }
}

#[tokio::test]
async fn token_responses_success_and_error_are_never_cached_redt_6_err_10() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let ok = app.redeem_at("/token", &client, &code).await;
    assert_eq!(ok.status, 200);
    let replay = app.redeem_at("/token", &client, &code).await;
    assert_eq!(replay.status, 400);
    let bad_grant = app
        .post_pairs("/token", &[("grant_type".into(), "password".into())])
        .await;
    assert_eq!(bad_grant.status, 400);
    let json_body = app
        .post_body("/token", "application/json", "{\"code\":\"x\"}".into())
        .await;
    assert_eq!(json_body.status, 400);
    for (what, r) in [
        ("success", &ok),
        ("invalid_grant", &replay),
        ("unsupported_grant_type", &bad_grant),
        ("JSON body", &json_body),
    ] {
        assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
        assert_eq!(r.header("pragma"), Some("no-cache"), "{what}");
        assert!(
            r.header("content-type")
                .unwrap_or("")
                .starts_with("application/json"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn authorization_endpoint_redemptions_are_never_cached_reda_5_tv17() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "profile").await;
    let ok = app.redeem_at("/auth", &client, &code).await;
    assert_eq!(ok.status, 200);
    let replay = app.redeem_at("/auth", &client, &code).await;
    assert_eq!(replay.status, 400);
    for r in [&ok, &replay] {
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("pragma"), Some("no-cache"));
    }
}

#[tokio::test]
async fn legacy_verification_responses_are_never_cached() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let token = app.token_for(&client, "create").await;
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    for accept in [Some("application/json"), None] {
        let r = app.verify_raw(Some(&bearer), accept, "").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("cache-control"), Some("no-store"), "{accept:?}");
    }
}

#[tokio::test]
async fn authorization_endpoint_sends_no_cors_headers_sec_14() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let origin = ("Origin", "https://evil.example");
    let browser = app.signed_in_browser().await;
    let page = browser
        .get_with(
            &format!("/auth?{}", client.auth_query("create", "s")),
            &[origin],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.header("access-control-allow-origin").is_none());

    let preflight = app
        .api
        .request(reqwest::Method::OPTIONS, app.url("/auth"))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let code = app.code_for(&client, "profile").await;
    let resp = app
        .api
        .post(app.url("/auth"))
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(code_form(&client, &code)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}
