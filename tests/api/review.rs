//! Security review findings (branch `review`).

use crate::helpers::*;

/// A login form ready to submit: a browser with its login-CSRF cookie and
/// the form page.
async fn login_form(app: &TestApp) -> (Browser, Page) {
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
