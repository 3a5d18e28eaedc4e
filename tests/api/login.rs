//! Signing in and out, throttling, session renewal, and CSRF protection of
//! every form POST (CONS-5, CONS-6, SEC-5, SEC-16, SEC-22).

use crate::helpers::*;

fn session_cookie(page: &Response) -> Option<String> {
    page.set_cookies()
        .into_iter()
        .find(|(n, _)| n == "doorstep")
        .map(|(_, v)| v)
}

/// A plain client presenting a raw `Cookie` header.
async fn dashboard_with_cookie(app: &TestApp, cookie: &str) -> u16 {
    app.api
        .get(app.url("/dashboard"))
        .header("Cookie", cookie)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn is_signed_in(browser: &Browser) -> bool {
    let page = browser.get("/dashboard").await;
    match page.status {
        200 => true,
        303 => {
            assert_eq!(page.location.as_deref(), Some("/login"));
            false
        }
        s => panic!("unexpected dashboard status {s}"),
    }
}

#[tokio::test]
async fn right_password_signs_in_with_303_to_the_dashboard_cons_5() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    assert!(!is_signed_in(&browser).await);
    let page = browser.get("/login").await;
    let resp = browser
        .submit(&page, "form#login", &[("password", PASSWORD)], None)
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    assert_eq!(resp.location.as_deref(), Some("/dashboard"));
    assert!(is_signed_in(&browser).await);
}

#[tokio::test]
async fn wrong_password_gets_the_login_page_with_401_and_no_session() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let page = browser.get("/login").await;
    let resp = browser
        .submit(&page, "form#login", &[("password", "wrong password")], None)
        .await;
    assert_eq!(resp.status, 401, "{}", resp.body);
    assert!(resp.has("form#login"));
    assert!(resp.location.is_none());
    assert!(session_cookie(&resp).is_none());
    assert!(!is_signed_in(&browser).await);
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_address_even_for_the_right_password_sec_16() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let page = browser.get("/login").await;
    let mut failures = 0;
    while failures < 9 {
        let resp = browser
            .submit(&page, "form#login", &[("password", "wrong password")], None)
            .await;
        match resp.status {
            401 => failures += 1,
            429 => {
                let wait: i64 = resp.header("retry-after").unwrap().parse().unwrap();
                app.clock.advance(wait);
            }
            s => panic!("unexpected status {s}: {}", resp.body),
        }
    }
    let resp = browser
        .submit(&page, "form#login", &[("password", PASSWORD)], None)
        .await;
    assert_eq!(resp.status, 429, "{}", resp.body);
    let wait: i64 = resp
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!(wait >= 1, "{wait}");
    assert!(session_cookie(&resp).is_none());
    assert!(!is_signed_in(&browser).await);

    // Once the wait is over, the right password works again.
    app.clock.advance(wait);
    let resp = browser
        .submit(&page, "form#login", &[("password", PASSWORD)], None)
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    assert!(is_signed_in(&browser).await);
}

#[tokio::test]
async fn login_issues_a_new_session_id_and_ends_the_old_one() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let page = browser.get("/login").await;
    let first = browser
        .submit(&page, "form#login", &[("password", PASSWORD)], None)
        .await;
    let old = session_cookie(&first).expect("session cookie");
    assert_eq!(old.len(), 43);
    let attrs = first
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("doorstep="))
        .unwrap()
        .to_ascii_lowercase();
    assert!(attrs.contains("httponly"), "{attrs}");
    assert!(
        attrs.contains("samesite=lax") || attrs.contains("samesite=strict"),
        "{attrs}"
    );
    assert!(attrs.contains("path=/"), "{attrs}");

    let page = browser.get("/login").await;
    let second = browser
        .submit(&page, "form#login", &[("password", PASSWORD)], None)
        .await;
    assert_eq!(second.status, 303);
    let new = session_cookie(&second).expect("session cookie");
    assert_ne!(old, new);
    assert_eq!(
        dashboard_with_cookie(&app, &format!("doorstep={old}")).await,
        303
    );
    assert_eq!(
        dashboard_with_cookie(&app, &format!("doorstep={new}")).await,
        200
    );
}

#[tokio::test]
async fn a_session_id_planted_before_login_is_not_kept() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("/login").await;
    let (login_name, login_value) = page
        .set_cookies()
        .into_iter()
        .find(|(n, _)| n == "doorstep-login")
        .expect("login CSRF cookie");
    let (_, fields) = form_fields(&page, "form#login");
    let fields = with_field(fields, "password", Some(PASSWORD));
    let planted = "A".repeat(43);
    let resp = app
        .api
        .post(app.url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(
            "Cookie",
            format!("{login_name}={login_value}; doorstep={planted}"),
        )
        .body(serde_urlencoded::to_string(&fields).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let set: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let session = set
        .iter()
        .find_map(|c| c.strip_prefix("doorstep="))
        .and_then(|c| c.split(';').next())
        .expect("new session cookie");
    assert_ne!(session, planted);
}

#[tokio::test]
async fn logout_ends_the_session_sec_22() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let page = browser.get("/login").await;
    let resp = browser
        .submit(&page, "form#login", &[("password", PASSWORD)], None)
        .await;
    let sid = session_cookie(&resp).unwrap();
    let dashboard = browser.get("/dashboard").await;
    let resp = browser
        .submit(&dashboard, "form[action=\"/logout\"]", &[], None)
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    assert_eq!(resp.location.as_deref(), Some("/login"));
    assert!(!is_signed_in(&browser).await);
    // The server forgot the session, not just the browser.
    assert_eq!(
        dashboard_with_cookie(&app, &format!("doorstep={sid}")).await,
        303
    );
}

#[tokio::test]
async fn logout_with_a_forged_csrf_token_is_refused_cons_6() {
    let app = TestApp::spawn().await;
    let browser = app.signed_in_browser().await;
    let dashboard = browser.get("/dashboard").await;
    let resp = browser
        .submit(
            &dashboard,
            "form[action=\"/logout\"]",
            &[("csrf", "forged")],
            None,
        )
        .await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    assert!(is_signed_in(&browser).await);
}

/// SEC-5, CONS-6: a cross-site form posting to /logout carries no cookie
/// under SameSite=Lax and no CSRF token. It must change nothing and set no
/// cookie: clearing the known-device cookie from another site would put
/// the owner back under the global login cap that strangers can fill.
#[tokio::test]
async fn a_cross_site_sign_out_changes_nothing_and_sets_no_cookie() {
    let app = TestApp::spawn_with(|s| s.trusted_proxies = "127.0.0.1".parse().unwrap()).await;
    let owner = app.browser();
    assert_eq!(
        owner.sign_in(PASSWORD, Some("203.0.113.1")).await.status,
        303
    );
    let cross_site: [&[(&str, &str)]; 3] = [
        &[("Sec-Fetch-Site", "cross-site")],
        &[("Origin", "https://evil.example")],
        &[],
    ];
    for headers in cross_site {
        let mut req = app
            .api
            .post(app.url("/logout"))
            .header("Content-Type", "application/x-www-form-urlencoded");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.body("").send().await.unwrap();
        assert_eq!(resp.status(), 403, "{headers:?}");
        assert!(
            resp.headers().get("set-cookie").is_none(),
            "{headers:?}: a refused sign-out sets no cookie"
        );
    }
    assert!(is_signed_in(&owner).await);
    let attacker = app.browser();
    for i in 0..40 {
        let _ = attacker
            .sign_in("wrong password!", Some(&*format!("198.51.100.{i}")))
            .await
            .status;
    }
    assert_eq!(
        owner.sign_in(PASSWORD, Some("192.0.2.51")).await.status,
        303,
        "the owner's browser is still known"
    );
}

/// A browser whose session expired can still sign out from doorstep's own
/// page (same-origin), which forgets it as a known device.
#[tokio::test]
async fn a_same_origin_sign_out_without_a_session_forgets_the_device() {
    let app = TestApp::spawn().await;
    let resp = app
        .api
        .post(app.url("/logout"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Sec-Fetch-Site", "same-origin")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(resp.headers().get("set-cookie").is_some());
    let resp = app
        .api
        .post(app.url("/logout"))
        .header("Origin", app.issuer().trim_end_matches('/'))
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
}

#[tokio::test]
async fn login_without_or_with_a_forged_csrf_token_is_refused_cons_6() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let page = browser.get("/login").await;
    let (action, fields) = form_fields(&page, "form#login");
    let fields = with_field(fields, "password", Some(PASSWORD));
    for csrf in [None, Some("forged"), Some("")] {
        let resp = browser
            .post(&action, &with_field(fields.clone(), "csrf", csrf))
            .await;
        assert_eq!(resp.status, 403, "{csrf:?}: {}", resp.body);
        assert!(session_cookie(&resp).is_none());
    }
    // A browser without the login cookie cannot replay someone's form.
    let stranger = app.browser();
    let resp = stranger.post(&action, &fields).await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    assert!(!is_signed_in(&browser).await);
    assert!(!is_signed_in(&stranger).await);
}

#[tokio::test]
async fn consent_without_or_with_a_forged_csrf_token_issues_no_code_cons_6() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "s"))
        .await;
    let (action, fields) = form_fields(&page, "form#consent");
    let fields = with_field(fields, "action", Some("approve"));
    for csrf in [None, Some("forged"), Some("")] {
        let resp = browser
            .post(&action, &with_field(fields.clone(), "csrf", csrf))
            .await;
        assert_eq!(resp.status, 403, "{csrf:?}: {}", resp.body);
        assert!(resp.location.is_none());
    }
    // An attacker's own browser posting the owner's form: refused too.
    let resp = app.browser().post(&action, &fields).await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    assert_eq!(app.count("SELECT count(*) FROM codes").await, 0);
    // The genuine answer still works: the request was not used up.
    let resp = browser.post(&action, &fields).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    assert!(query_map(&resp.location_url()).contains_key("code"));
}

#[tokio::test]
async fn no_pkce_decision_without_or_with_a_forged_csrf_token_is_refused_cons_6() {
    let app = TestApp::spawn().await;
    let client = app.client().without_pkce();
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "s"))
        .await;
    let (action, fields) = form_fields(&page, "form#pkce");
    let fields = with_field(fields, "action", Some("allow"));
    for csrf in [None, Some("forged")] {
        let resp = browser
            .post(&action, &with_field(fields.clone(), "csrf", csrf))
            .await;
        assert_eq!(resp.status, 403, "{csrf:?}: {}", resp.body);
    }
    let resp = app.browser().post(&action, &fields).await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    assert_eq!(app.count("SELECT count(*) FROM pkce_exemptions").await, 0);
}

#[tokio::test]
async fn withdrawing_an_exemption_with_a_forged_csrf_token_is_refused_cons_6() {
    let app = TestApp::spawn().await;
    let client = app.client().without_pkce();
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("create", "s"))
        .await;
    browser
        .submit(&page, "form#pkce", &[], Some(("action", "allow")))
        .await;
    let dashboard = browser.get("/dashboard").await;
    let resp = browser
        .submit(
            &dashboard,
            "form[action=\"/dashboard/pkce/remove\"]",
            &[("csrf", "forged")],
            None,
        )
        .await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    assert_eq!(app.count("SELECT count(*) FROM pkce_exemptions").await, 1);
}

/// SEC-16: strangers failing logins from everywhere trip the global cap,
/// but the owner's browser — known from an earlier sign-in — still gets in.
#[tokio::test]
async fn the_global_login_cap_never_keeps_out_the_owners_known_browser_sec_16() {
    let app = TestApp::spawn_with(|s| s.trusted_proxies = "127.0.0.1".parse().unwrap()).await;
    let owner = app.browser();
    assert_eq!(
        owner.sign_in(PASSWORD, Some("203.0.113.1")).await.status,
        303
    );
    let _ = owner
        .http
        .post(format!("{}/logout", owner.base))
        .send()
        .await;
    let attacker = app.browser();
    for i in 0..40 {
        let _ = attacker
            .sign_in("wrong password!", Some(&*format!("198.51.100.{i}")))
            .await
            .status;
    }
    let stranger = app.browser();
    assert_eq!(
        stranger.sign_in(PASSWORD, Some("192.0.2.50")).await.status,
        429,
        "the global cap holds for unknown browsers"
    );
    assert_eq!(
        owner.sign_in(PASSWORD, Some("192.0.2.51")).await.status,
        303,
        "the owner's known browser is not kept out"
    );
}

/// SEC-16: a stranger sharing the owner's address (shared Wi-Fi, a
/// carrier's NAT, one IPv6 /64) who fails again and again locks out that
/// address, but not the owner's known browser there: a known browser's
/// attempts are counted on their own.
#[tokio::test]
async fn a_stranger_at_the_owner_s_address_cannot_lock_out_the_known_browser_sec_16() {
    let app = TestApp::spawn_with(|s| s.trusted_proxies = "127.0.0.1".parse().unwrap()).await;
    let shared = "203.0.113.7";
    let owner = app.browser();
    assert_eq!(owner.sign_in(PASSWORD, Some(shared)).await.status, 303);
    let stranger = app.browser();
    let mut last = 0;
    for _ in 0..12 {
        last = stranger
            .sign_in("wrong password!", Some(shared))
            .await
            .status;
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429, "the address is locked");
    assert_eq!(
        app.browser().sign_in(PASSWORD, Some(shared)).await.status,
        429,
        "an unknown browser at that address waits"
    );
    assert_eq!(
        owner.sign_in(PASSWORD, Some(shared)).await.status,
        303,
        "the owner's known browser there does not"
    );
}

/// Signing out forgets the browser as a known device (a shared computer
/// keeps no exemption from the global login cap).
#[tokio::test]
async fn signing_out_forgets_the_known_device_sec_16() {
    let app = TestApp::spawn_with(|s| s.trusted_proxies = "127.0.0.1".parse().unwrap()).await;
    let owner = app.browser();
    assert_eq!(
        owner.sign_in(PASSWORD, Some("203.0.113.1")).await.status,
        303
    );
    let dash = owner.get("/dashboard").await;
    let (_, fields) = form_fields(&dash, "form[action='/logout']");
    let out = owner.post("/logout", &fields).await;
    assert_eq!(out.status, 303);
    let attacker = app.browser();
    for i in 0..40 {
        let _ = attacker
            .sign_in("wrong password!", Some(&*format!("198.51.100.{i}")))
            .await
            .status;
    }
    assert_eq!(
        owner.sign_in(PASSWORD, Some("192.0.2.51")).await.status,
        429,
        "after signing out, the browser is a stranger again"
    );
}

/// A used or made-up setup link says what happened and links to sign-in,
/// rather than the sign-in flow's "nothing was sent to the app".
#[tokio::test]
async fn a_used_setup_link_says_so_and_links_to_sign_in() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("/setup?token=already-used").await;
    assert_eq!(page.status, 404);
    assert!(
        page.body.contains("has been used or has expired"),
        "{}",
        page.body
    );
    assert!(page.has("a[href=\"/login\"]"), "{}", page.body);
    assert!(!page.body.contains("Nothing was sent to the app"));
}

#[tokio::test]
async fn unknown_paths_get_a_real_not_found_page() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("/no/such/page").await;
    assert_eq!(page.status, 404);
    assert!(
        page.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html"),
        "{:?}",
        page.header("content-type")
    );
    assert!(page.body.contains("Page not found"), "{}", page.body);
    assert!(page.has("a[href=\"/\"]"));
    assert_eq!(
        page.header("x-frame-options"),
        Some("DENY"),
        "security headers on the 404 too"
    );
}

/// A login form ready to submit: a browser with its login-CSRF cookie and
/// the form page.
async fn login_form(app: &TestApp) -> (Browser, Response) {
    let b = app.browser();
    let page = b.get("/login").await;
    assert_eq!(page.status, 200);
    (b, page)
}

/// SEC-16: the per-address lockout must hold when the guesses arrive at
/// once. Checking the throttle, then spending seconds in argon2, then
/// recording the failure let every concurrent guess through the check.
#[tokio::test]
async fn concurrent_login_guesses_cannot_outrun_the_lockout_sec_16() {
    let app = TestApp::spawn().await;
    let mut forms = Vec::new();
    for _ in 0..16 {
        forms.push(login_form(&app).await);
    }
    let attempts = forms
        .iter()
        .map(|(b, page)| b.submit(page, "form#login", &[("password", "wrong password!")], None));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|p| p.status)
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= 6,
        "{checked} passwords were checked despite the lockout: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
}

/// The setup form hashes the new password (argon2: slow, ~19 MiB) only for
/// the holder of a live setup link; a made-up token is refused first.
#[tokio::test]
async fn setup_with_a_made_up_link_is_refused_before_any_password_work() {
    let app = TestApp::spawn().await;
    let (b, _) = login_form(&app).await;
    let csrf = {
        // The login page's CSRF token doubles as the setup form's.
        let page = b.get("/login").await;
        form_fields(&page, "form#login")
            .1
            .into_iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v)
            .expect("csrf field")
    };
    // A too-short password would be reported if it were looked at: it
    // must not be, because the link is checked first.
    let fields: Vec<(String, String)> = [
        ("csrf", csrf.as_str()),
        ("token", "made-up"),
        ("password", "short"),
        ("confirm", "short"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let page = b.post("/setup", &fields).await;
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(!page.body.contains("at least"), "{}", page.body);
}
