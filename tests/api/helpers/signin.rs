//! The owner's sign-in factors (issue 8), for the suites of passkeys and
//! second factors: a doorstep on `http://localhost:PORT/` (WebAuthn needs a
//! host name), authenticator-app codes computed independently with
//! `totp-rs`, a software passkey, and the sequences those suites share —
//! adding a passkey, signing in with it, enrolling an app, answering the
//! second step — written once here.

use super::*;
use std::collections::HashMap;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

/// doorstep whose issuer (and so WebAuthn relying party) is
/// `http://localhost:PORT/`. The tests still connect to 127.0.0.1: only the
/// origin the authenticator signs matters to WebAuthn.
pub async fn localhost_app() -> TestApp {
    localhost_app_with(|_| {}).await
}

pub async fn localhost_app_with(f: impl FnOnce(&mut doorstep::config::Settings)) -> TestApp {
    TestApp::spawn_with(|s| {
        let url = format!("http://localhost:{}/", s.listen.port());
        s.issuer = Url::parse(&url).expect("issuer");
        s.me = doorstep::domain::ProfileUrl::parse(&url, true).expect("me");
        f(s);
    })
    .await
}

/// Moves the clock to the start of a TOTP step, so a test's codes do not
/// straddle a step boundary however slowly the machine runs (29 s margin).
pub fn align_to_step(app: &TestApp) {
    let now = app.clock.now();
    app.clock.advance(30 - now.rem_euclid(30));
}

/// The authenticator app's code at `at`, from the base32 key the page shows.
pub fn app_code(secret_b32: &str, at: i64) -> String {
    let secret = totp_rs::Secret::Encoded(secret_b32.to_owned())
        .to_bytes()
        .expect("base32 key");
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 0, 30, secret, None, "x".into())
        .expect("totp")
        .generate(at as u64)
}

/// The text of the first element matching `selector`.
pub fn text_of(page: &Response, selector: &str) -> String {
    let sel = scraper::Selector::parse(selector).expect("selector");
    page.html()
        .select(&sel)
        .next()
        .unwrap_or_else(|| panic!("no {selector} in {}", page.body))
        .text()
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The recovery codes a page shows.
pub fn recovery_codes(page: &Response) -> Vec<String> {
    let sel = scraper::Selector::parse("#recovery-codes code").expect("selector");
    page.html()
        .select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect()
}

/// Enrols an authenticator app from the dashboard; returns its base32 key
/// and the recovery codes shown after it.
pub async fn enrol_app(app: &TestApp, browser: &Browser) -> (String, Vec<String>) {
    let dash = browser.get("/dashboard").await;
    let page = browser.submit(&dash, "form#add-totp", &[], None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.has("#totp-qr svg"), "{}", page.body);
    let key = text_of(&page, "#totp-secret");
    let code = app_code(&key, app.clock.now());
    let done = browser
        .submit(&page, "form#totp-confirm", &[("code", &code)], None)
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let codes = recovery_codes(&done);
    assert_eq!(codes.len(), 10, "{}", done.body);
    (key, codes)
}

/// Submits the password; returns the page that follows.
pub async fn password_step(browser: &Browser) -> Response {
    let page = browser.get("/login").await;
    browser
        .submit(&page, "form#login", &[("password", PASSWORD)], None)
        .await
}

pub async fn is_signed_in(browser: &Browser) -> bool {
    browser.get("/dashboard").await.status == 200
}

/// The recent-activity lines of the dashboard.
pub async fn activity(browser: &Browser) -> Vec<String> {
    let page = browser.get("/dashboard").await;
    let sel = scraper::Selector::parse("ul.events li").expect("selector");
    page.html()
        .select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect()
}

/// Asserts that the dashboard's activity list, as `browser` sees it, has a
/// line holding every one of `parts`.
pub async fn assert_activity(browser: &Browser, parts: &[&str]) {
    let log = activity(browser).await;
    assert!(
        log.iter().any(|l| parts.iter().all(|p| l.contains(p))),
        "no line with {parts:?} in {log:?}"
    );
}

/// A software passkey (user verification claimed, as a phone's would be).
pub struct Passkey {
    auth: SoftPasskey,
    pub origin: Url,
}

impl Passkey {
    pub fn new(app: &TestApp) -> Passkey {
        Passkey {
            auth: SoftPasskey::new(true),
            origin: Url::parse(&format!("http://localhost:{}", app.port)).expect("origin"),
        }
    }

    pub fn register(&mut self, options: &str) -> String {
        let ccr: CreationChallengeResponse = serde_json::from_str(options).expect("options");
        let cred = self
            .auth
            .do_registration(self.origin.clone(), ccr)
            .expect("registration");
        serde_json::to_string(&cred).expect("json")
    }

    pub fn sign(&mut self, options: &str) -> String {
        let rcr: RequestChallengeResponse = serde_json::from_str(options).expect("options");
        let cred = self
            .auth
            .do_authentication(self.origin.clone(), rcr)
            .expect("authentication");
        serde_json::to_string(&cred).expect("json")
    }

    /// As a browser holding a discoverable credential answers autofill:
    /// the authenticator picks its credential (`credential_id`) and returns
    /// the user handle it stored (`user_id`, base64url). SoftPasskey keeps
    /// no resident credentials, so the test names them: the user handle is
    /// not covered by the signature, the rest is real.
    pub fn sign_discoverable(
        &mut self,
        options: &str,
        credential_id: &str,
        user_id: &str,
    ) -> String {
        let mut v: serde_json::Value = serde_json::from_str(options).expect("options");
        v["publicKey"]["allowCredentials"] =
            serde_json::json!([{ "type": "public-key", "id": credential_id }]);
        let signed = self.sign(&v.to_string());
        let mut cred: serde_json::Value = serde_json::from_str(&signed).expect("json");
        cred["response"]["userHandle"] = serde_json::Value::String(user_id.to_owned());
        cred.to_string()
    }
}

/// POSTs `fields` and returns (status, body) — for the JSON option calls.
pub async fn post_json(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let owned: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let page = browser.post(path, &owned).await;
    (page.status, page.body)
}

/// The hidden fields of a form (its CSRF token and so on).
pub fn fields_of(page: &Response, selector: &str) -> HashMap<String, String> {
    form_fields(page, selector).1.into_iter().collect()
}

/// The WebAuthn options the dashboard's "Add a passkey" form asks for:
/// (status, body).
pub async fn registration_options(browser: &Browser, dashboard: &Response) -> (u16, String) {
    let csrf = fields_of(dashboard, "form#add-passkey")["csrf"].clone();
    post_json(browser, "/dashboard/passkeys/options", &[("csrf", &csrf)]).await
}

/// Adds a passkey from the dashboard (the browser must have signed in
/// within five minutes). Returns the credential id (base64url).
pub async fn add_passkey(browser: &Browser, key: &mut Passkey, label: &str) -> String {
    let dash = browser.get("/dashboard").await;
    let (status, options) = registration_options(browser, &dash).await;
    assert_eq!(status, 200, "{options}");
    let cred = key.register(&options);
    let id = serde_json::from_str::<serde_json::Value>(&cred).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let done = browser
        .submit(
            &dash,
            "form#add-passkey",
            &[("credential", &cred), ("label", label)],
            None,
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    id
}

/// A browser signed in as the owner, who has just added a passkey
/// labelled `label` with it; and that passkey.
pub async fn owner_with_passkey(app: &TestApp, label: &str) -> (Browser, Passkey) {
    let owner = app.signed_in_browser().await;
    let mut key = Passkey::new(app);
    add_passkey(&owner, &mut key, label).await;
    (owner, key)
}

/// The WebAuthn options for the passkey form on `page` (the login page or
/// the second step), as its script asks for them, or as the browser's
/// autofill does.
pub async fn passkey_options(browser: &Browser, page: &Response, autofill: bool) -> String {
    let csrf = fields_of(page, "form#passkey-login")["csrf"].clone();
    let mut fields = vec![("csrf", csrf.as_str())];
    if autofill {
        fields.push(("autofill", "1"));
    }
    let (status, options) = post_json(browser, "/login/passkey/options", &fields).await;
    assert_eq!(status, 200, "{options}");
    options
}

/// Sends `credential` with the passkey form on `page`.
pub async fn submit_passkey(browser: &Browser, page: &Response, credential: &str) -> Response {
    browser
        .submit(
            page,
            "form#passkey-login",
            &[("credential", credential)],
            None,
        )
        .await
}

/// Answers the passkey form on `page` with `key`: the options, signed,
/// sent back.
pub async fn passkey_answer(browser: &Browser, page: &Response, key: &mut Passkey) -> Response {
    let credential = key.sign(&passkey_options(browser, page, false).await);
    submit_passkey(browser, page, &credential).await
}

/// Signs in with the passkey from the login page (the button's flow).
pub async fn passkey_sign_in(browser: &Browser, key: &mut Passkey) -> Response {
    let page = browser.get("/login").await;
    passkey_answer(browser, &page, key).await
}

/// A browser signed in as the owner, who has then enrolled an
/// authenticator app (so a password sign-in asks for a second step), with
/// the clock at the start of a TOTP step; the app's key and the recovery
/// codes.
pub async fn owner_with_app(app: &TestApp) -> (Browser, String, Vec<String>) {
    align_to_step(app);
    let owner = app.signed_in_browser().await;
    let (key, codes) = enrol_app(app, &owner).await;
    (owner, key, codes)
}

/// Answers the second step on `page` with `code` (from the app, or a
/// recovery code).
pub async fn enter_code(browser: &Browser, page: &Response, code: &str) -> Response {
    browser
        .submit(page, "form#second-factor", &[("code", code)], None)
        .await
}

/// Chooses a sign-in mode on the dashboard `page`.
pub async fn choose_mode(browser: &Browser, page: &Response, mode: &str) -> Response {
    browser
        .submit(page, "form#sign-in-mode", &[("mode", mode)], None)
        .await
}
