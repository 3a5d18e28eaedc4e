//! Password plus an authenticator app, recovery codes, sign-in modes,
//! step-up and `doorstep second-factor reset` (issue 8).

use crate::helpers::*;

#[tokio::test]
async fn after_enrolling_an_app_a_password_sign_in_asks_for_its_code() {
    let app = TestApp::spawn().await;
    let (owner, key, _) = owner_with_app(&app).await;
    let dash = owner.get("/dashboard").await;
    assert!(dash.has("form#remove-totp"), "{}", dash.body);

    let b = app.browser();
    let step = password_step(&b).await;
    assert_eq!(step.status, 200, "{}", step.body);
    assert!(step.has("form#second-factor"), "{}", step.body);
    // The password alone signs nobody in.
    assert!(!is_signed_in(&b).await);
    app.clock.advance(30);
    let code = app_code(&key, app.clock.now());
    let done = enter_code(&b, &step, &code).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/dashboard"));
    assert!(is_signed_in(&b).await);
    assert_activity(&b, &["Signed in to doorstep", "authenticator app"]).await;
    assert_activity(&b, &["Authenticator app added"]).await;
}

#[tokio::test]
async fn an_app_code_is_never_accepted_twice() {
    let app = TestApp::spawn().await;
    let (_, key, _) = owner_with_app(&app).await;
    // The code that confirmed the enrolment is spent already.
    let code = app_code(&key, app.clock.now());
    let b = app.browser();
    let step = password_step(&b).await;
    let again = enter_code(&b, &step, &code).await;
    assert_eq!(again.status, 401, "{}", again.body);
    // The next step's code works once, and only once.
    app.clock.advance(30);
    let next = app_code(&key, app.clock.now());
    let ok = enter_code(&b, &again, &next).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let c = app.browser();
    let step = password_step(&c).await;
    let replay = enter_code(&c, &step, &next).await;
    assert_eq!(replay.status, 401, "{}", replay.body);
    assert!(!is_signed_in(&c).await);
}

/// Authenticator apps show the code as "123 456"; it is typed as shown at
/// sign-in as on the enrolment page (which always took the space).
#[tokio::test]
async fn an_app_code_typed_with_its_space_signs_in() {
    let app = TestApp::spawn().await;
    let (_, key, _) = owner_with_app(&app).await;
    app.clock.advance(30);
    let code = app_code(&key, app.clock.now());
    let shown = format!("{} {}", &code[..3], &code[3..]);
    let b = app.browser();
    let step = password_step(&b).await;
    let done = enter_code(&b, &step, &shown).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(is_signed_in(&b).await);
}

#[tokio::test]
async fn app_codes_one_step_either_side_are_accepted_and_two_steps_are_not() {
    let app = TestApp::spawn().await;
    let (_, key, _) = owner_with_app(&app).await;
    app.clock.advance(300);
    let now = app.clock.now();
    let b = app.browser();
    let step = password_step(&b).await;
    let two_late = app_code(&key, now - 60);
    if two_late != app_code(&key, now - 30)
        && two_late != app_code(&key, now)
        && two_late != app_code(&key, now + 30)
    {
        let r = enter_code(&b, &step, &two_late).await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let one_late = app_code(&key, now - 30);
    let r = enter_code(&b, &step, &one_late).await;
    assert_eq!(r.status, 303, "{}", r.body);
    // A clock one step ahead is fine too (a newer step than any used).
    let c = app.browser();
    let step = password_step(&c).await;
    let one_early = app_code(&key, now + 30);
    let r = enter_code(&c, &step, &one_early).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

#[tokio::test]
async fn app_code_guesses_count_against_the_login_throttle_sec_16() {
    let app = TestApp::spawn().await;
    let (_, key, _) = owner_with_app(&app).await;
    let b = app.browser();
    let mut page = password_step(&b).await;
    let mut refused = None;
    for i in 0..8 {
        page = enter_code(&b, &page, "000000").await;
        if page.status == 429 {
            refused = Some(i);
            break;
        }
        assert_eq!(page.status, 401, "{}", page.body);
    }
    // The password counted, and five free failures in all: the lockout
    // comes after the fifth wrong code at the latest.
    assert!(matches!(refused, Some(i) if i <= 5), "{refused:?}");
    assert!(page.header("retry-after").is_some());
    // While locked, even the right code is not tried.
    let right = app_code(&key, app.clock.now() + 30);
    let r = enter_code(&b, &page, &right).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(!is_signed_in(&b).await);
}

#[tokio::test]
async fn a_recovery_code_replaces_the_second_factor_once() {
    let app = TestApp::spawn().await;
    let (_, _, codes) = owner_with_app(&app).await;
    let b = app.browser();
    let step = password_step(&b).await;
    // Typed in capitals with spaces instead of dashes: still the code.
    let typed = codes[3].to_uppercase().replace('-', " ");
    let r = enter_code(&b, &step, &typed).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let dash = b.get("/dashboard").await;
    assert_eq!(text_of(&dash, "#recovery-codes-left"), "9");
    assert_activity(&b, &["Recovery code used"]).await;
    let c = app.browser();
    let step = password_step(&c).await;
    let r = enter_code(&c, &step, &codes[3]).await;
    assert_eq!(r.status, 401, "{}", r.body);
    // Stored hashed: the database holds none of the codes.
    let stored: Vec<Vec<u8>> = app
        .store
        .read(|c| {
            let mut s = c.prepare("SELECT code_hash FROM recovery_codes")?;
            let rows = s.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 9);
    for h in stored {
        assert_eq!(h.len(), 32);
        for code in &codes {
            assert!(!String::from_utf8_lossy(&h).contains(code.as_str()));
        }
    }
}

#[tokio::test]
async fn new_recovery_codes_void_the_old_set() {
    let app = TestApp::spawn().await;
    let (owner, _, old) = owner_with_app(&app).await;
    let dash = owner.get("/dashboard").await;
    let page = owner
        .submit(&dash, "form#new-recovery-codes", &[], None)
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let new = recovery_codes(&page);
    assert_eq!(new.len(), 10);
    let b = app.browser();
    let step = password_step(&b).await;
    let r = enter_code(&b, &step, &old[0]).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = enter_code(&b, &r, &new[0]).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

#[tokio::test]
async fn sensitive_changes_need_a_sign_in_within_five_minutes() {
    let app = TestApp::spawn().await;
    let owner = app.signed_in_browser().await;
    let dash = owner.get("/dashboard").await;
    app.clock.advance(301);
    for form in [
        "form#new-recovery-codes",
        "form#add-totp",
        "form#add-resource-server",
    ] {
        let r = owner.submit(&dash, form, &[], None).await;
        assert_eq!(r.status, 401, "{form}: {}", r.body);
        assert!(r.has("form#login"), "{form}");
        assert_eq!(fields_of(&r, "form#login")["continue"], "/dashboard");
    }
    let mode = choose_mode(&owner, &dash, "second_factor").await;
    assert_eq!(mode.status, 401, "{}", mode.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM resource_servers").await, 0);
    // Signing in again (from that page) makes the change possible, and
    // comes back to the dashboard.
    let again = owner
        .submit(&mode, "form#login", &[("password", PASSWORD)], None)
        .await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(again.location.as_deref(), Some("/dashboard"));
    let dash = owner.get("/dashboard").await;
    let r = owner
        .submit(&dash, "form#new-recovery-codes", &[], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes").await, 10);
}

#[tokio::test]
async fn the_dashboard_never_lets_the_owner_lock_themselves_out() {
    let app = TestApp::spawn().await;
    align_to_step(&app);
    let owner = app.signed_in_browser().await;
    let dash = owner.get("/dashboard").await;
    for mode in ["second_factor", "passkey_only"] {
        let r = choose_mode(&owner, &dash, mode).await;
        assert_eq!(r.status, 409, "{mode}: {}", r.body);
        let r = owner
            .submit(
                &dash,
                "form#sign-in-mode",
                &[("mode", mode), ("confirm", "saved")],
                None,
            )
            .await;
        assert_eq!(r.status, 409, "{mode}: {}", r.body);
    }
    enrol_app(&app, &owner).await;
    let dash = owner.get("/dashboard").await;
    assert!(
        text_of(&dash, "#sign-in-mode-now").contains("second factor"),
        "{}",
        dash.body
    );
    // The app is the only second factor: it cannot go while the mode needs it.
    let r = owner.submit(&dash, "form#remove-totp", &[], None).await;
    assert_eq!(r.status, 409, "{}", r.body);
    // Passkey only still needs a passkey.
    let r = owner
        .submit(
            &dash,
            "form#sign-in-mode",
            &[("mode", "passkey_only"), ("confirm", "saved")],
            None,
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    // Back to the password, and then the app can go.
    let r = choose_mode(&owner, &dash, "password").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let dash = owner.get("/dashboard").await;
    let r = owner.submit(&dash, "form#remove-totp", &[], None).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let b = app.browser();
    assert_eq!(password_step(&b).await.status, 303);
    assert_activity(&owner, &["Authenticator app removed"]).await;
    assert_activity(&owner, &["Changed how you sign in"]).await;
}

#[tokio::test]
async fn a_second_factor_mode_shows_new_recovery_codes_before_switching() {
    let app = TestApp::spawn().await;
    let (owner, _, _) = owner_with_app(&app).await;
    let dash = owner.get("/dashboard").await;
    let r = choose_mode(&owner, &dash, "password").await;
    assert_eq!(r.status, 303);
    let dash = owner.get("/dashboard").await;
    let shown = choose_mode(&owner, &dash, "second_factor").await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(recovery_codes(&shown).len(), 10);
    // Not switched yet.
    assert_eq!(password_step(&app.browser()).await.status, 303);
    let done = owner.submit(&shown, "form#confirm-mode", &[], None).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(password_step(&app.browser()).await.status, 200);
}

#[tokio::test]
async fn new_sign_in_forms_refuse_a_missing_csrf_token_sec_5() {
    let app = TestApp::spawn().await;
    let (owner, key, codes) = owner_with_app(&app).await;
    for path in [
        "/dashboard/sign-in-mode",
        "/dashboard/recovery-codes",
        "/dashboard/totp/new",
        "/dashboard/totp/remove",
        "/dashboard/passkeys/rename",
        "/dashboard/passkeys/remove",
        "/dashboard/passkeys",
    ] {
        let r = owner
            .post(path, &[("mode".into(), "password".into())])
            .await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes").await, 10);
    let b = app.browser();
    let step = password_step(&b).await;
    assert_eq!(step.status, 200);
    let r = b
        .post("/login/second-factor", &[("code".into(), codes[0].clone())])
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("This form has expired"), "{}", r.body);
    assert!(!is_signed_in(&b).await);
    let _ = key;
}

#[tokio::test]
async fn second_factor_reset_brings_back_password_only_sign_in() {
    let app = TestApp::spawn().await;
    let (owner, _, _) = owner_with_app(&app).await;
    assert_eq!(password_step(&app.browser()).await.status, 200);
    let out = app.cli(&["second-factor", "reset"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every browser was signed out; the password alone signs in again.
    assert!(!is_signed_in(&owner).await);
    let b = app.browser();
    assert_eq!(password_step(&b).await.status, 303);
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes").await, 0);
    assert_activity(&b, &["Sign-in reset to password only"]).await;
}

#[tokio::test]
async fn second_factor_reset_never_creates_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_doorstep"))
        .arg("--database")
        .arg(&db)
        .args(["second-factor", "reset"])
        .env_remove("DOORSTEP_CONFIG")
        .env("DOORSTEP_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database"));
    assert!(!db.exists());
}

#[tokio::test]
async fn the_password_changes_on_the_dashboard_only_after_a_fresh_sign_in() {
    let app = TestApp::spawn().await;
    let owner = app.signed_in_browser().await;
    let other = app.signed_in_browser().await;
    let new = "a new and longer password";
    let dash = owner.get("/dashboard").await;
    app.clock.advance(301);
    let r = owner
        .submit(
            &dash,
            "form#change-password",
            &[("password", new), ("confirm", new)],
            None,
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    let again = owner
        .submit(&r, "form#login", &[("password", PASSWORD)], None)
        .await;
    assert_eq!(again.status, 303, "{}", again.body);
    let dash = owner.get("/dashboard").await;
    let r = owner
        .submit(
            &dash,
            "form#change-password",
            &[("password", new), ("confirm", new)],
            None,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // This browser stays signed in; every other one is signed out.
    assert!(is_signed_in(&owner).await);
    assert!(!is_signed_in(&other).await);
    let b = app.browser();
    assert_eq!(password_step(&b).await.status, 401);
    let page = b.get("/login").await;
    let r = b
        .submit(&page, "form#login", &[("password", new)], None)
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
}

/// Answers the second step on `page` with `code`, through the trusted
/// proxy as a client at `addr`.
async fn code_from(browser: &Browser, page: &Response, code: &str, addr: &str) -> Response {
    let (action, mut fields) = form_fields(page, "form#second-factor");
    fields.retain(|(k, _)| k != "code");
    fields.push(("code".into(), code.into()));
    let req = browser
        .http
        .post(format!("{}{action}", browser.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Forwarded-For", addr)
        .body(serde_urlencoded::to_string(&fields).expect("encode"));
    Response::read(req.send().await.expect("code")).await
}

/// RFC 6238 §5.2, SEC-16: someone who has the password cannot guess the
/// authenticator code at the login throttle's global pace from many
/// addresses: five wrong codes in a row pause code entry for the account,
/// wherever the next one comes from, and the owner's activity list says so
/// once. After the pause the right code works.
#[tokio::test]
async fn wrong_codes_in_a_row_pause_code_entry_from_every_address() {
    let app = TestApp::spawn_with(|s| s.trusted_proxies = "127.0.0.1".parse().unwrap()).await;
    let (owner, key, recovery_codes) = owner_with_app(&app).await;
    let now = app.clock.now();
    let valid = [now - 30, now, now + 30].map(|t| app_code(&key, t));
    let wrong = (0..10)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| !valid.contains(c))
        .expect("a wrong code");
    let thief = app.browser();
    let mut page = thief.sign_in(PASSWORD, Some("198.51.100.1")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.has("form#second-factor"), "{}", page.body);
    for i in 0..5 {
        page = code_from(&thief, &page, &wrong, &format!("198.51.100.{}", 10 + i)).await;
        assert_eq!(page.status, 401, "{}", page.body);
    }
    let right = app_code(&key, app.clock.now());
    let paused = code_from(&thief, &page, &right, "203.0.113.50").await;
    assert_eq!(paused.status, 429, "{}", paused.body);
    assert!(
        paused.body.contains("Too many wrong codes"),
        "{}",
        paused.body
    );
    assert!(paused.header("retry-after").is_some());
    assert!(!is_signed_in(&thief).await);
    assert_activity(&owner, &["Wrong codes after the right password"]).await;
    // A recovery code is not paused: nothing to guess in 80 random bits,
    // and it is the way back in for an owner who lost the app.
    let owner_elsewhere = app.browser();
    let step = owner_elsewhere.sign_in(PASSWORD, Some("192.0.2.80")).await;
    assert_eq!(step.status, 200, "{}", step.body);
    let r = code_from(&owner_elsewhere, &step, &recovery_codes[0], "192.0.2.80").await;
    assert_eq!(r.status, 303, "{}", r.body);

    app.clock.advance(61);
    let right = app_code(&key, app.clock.now());
    let done = code_from(&thief, &paused, &right, "203.0.113.51").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(is_signed_in(&thief).await);
}
