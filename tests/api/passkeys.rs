//! Passkeys (issue 8): registration on the dashboard and sign-in with a
//! software authenticator (webauthn-authenticator-rs's SoftPasskey),
//! challenges that are single-use, bound to the browser and short-lived,
//! passkey-only mode, and the lock-out-by-guessing scenario.

use crate::helpers::*;

#[tokio::test]
async fn a_passkey_added_on_the_dashboard_signs_in_and_the_activity_list_says_so() {
    let app = localhost_app().await;
    let (owner, mut key) = owner_with_passkey(&app, "phone").await;
    let dash = owner.get("/dashboard").await;
    assert_eq!(text_of(&dash, "li.passkey .passkey-label"), "phone");
    assert!(dash.body.contains("last used never"), "{}", dash.body);

    let b = app.browser();
    let login = b.get("/login").await;
    assert!(login.has("form#passkey-login"), "{}", login.body);
    assert!(login.has("script[src='/static/webauthn.js']"));
    let done = passkey_sign_in(&b, &mut key).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/dashboard"));
    assert!(is_signed_in(&b).await);
    let dash = b.get("/dashboard").await;
    assert!(!dash.body.contains("last used never"), "{}", dash.body);
    assert_activity(&b, &["Signed in to doorstep", "passkey “phone”"]).await;
    assert_activity(&b, &["Passkey added"]).await;
}

#[tokio::test]
async fn the_stored_credential_is_updated_after_each_sign_in() {
    let app = localhost_app().await;
    let (_, mut key) = owner_with_passkey(&app, "key").await;
    let stored = || async {
        app.store
            .read(|c| {
                Ok(c.query_row("SELECT passkey FROM passkeys", [], |r| {
                    r.get::<_, String>(0)
                })?)
            })
            .await
            .unwrap()
    };
    let before = stored().await;
    assert_eq!(passkey_sign_in(&app.browser(), &mut key).await.status, 303);
    let after = stored().await;
    // SoftPasskey counts its signatures: webauthn-rs checked the counter
    // went up and the new value was stored.
    assert_ne!(before, after);
    assert_eq!(passkey_sign_in(&app.browser(), &mut key).await.status, 303);
}

#[tokio::test]
async fn a_passkey_challenge_is_single_use_bound_to_the_browser_and_expires() {
    let app = localhost_app().await;
    let (_, mut key) = owner_with_passkey(&app, "key").await;

    // Replay: the same signed answer a second time.
    let b = app.browser();
    let page = b.get("/login").await;
    let cred = key.sign(&passkey_options(&b, &page, false).await);
    let ok = submit_passkey(&b, &page, &cred).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let c = app.browser();
    // No challenge is pending for C: nothing is checked (400, not a
    // failure that counts).
    let replay = submit_passkey(&c, &c.get("/login").await, &cred).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(!is_signed_in(&c).await);

    // Another browser's challenge: signed for browser D, sent by browser E
    // while E has a challenge of its own pending. The answer is held
    // under E's cookie and D's challenge: nothing there.
    let d = app.browser();
    let page_d = d.get("/login").await;
    let cred = key.sign(&passkey_options(&d, &page_d, false).await);
    let e = app.browser();
    let page_e = e.get("/login").await;
    let own = passkey_options(&e, &page_e, false).await;
    let stolen = submit_passkey(&e, &page_e, &cred).await;
    assert_eq!(stolen.status, 400, "{}", stolen.body);
    assert!(!is_signed_in(&e).await);
    // E's own challenge was left alone.
    let ok = submit_passkey(&e, &page_e, &key.sign(&own)).await;
    assert_eq!(ok.status, 303, "{}", ok.body);

    // Five minutes later the challenge is gone.
    let cred = key.sign(&passkey_options(&d, &page_d, false).await);
    app.clock.advance(301);
    let late = submit_passkey(&d, &page_d, &cred).await;
    assert_eq!(late.status, 400, "{}", late.body);
    assert!(!is_signed_in(&d).await);
}

#[tokio::test]
async fn strangers_filling_the_global_password_cap_do_not_keep_a_passkey_owner_out_sec_16() {
    let app = localhost_app_with(|s| {
        s.trusted_proxies = "127.0.0.1".parse().unwrap();
    })
    .await;
    let (_, mut key) = owner_with_passkey(&app, "phone").await;
    // Thirty strangers, each from an address of their own, guess once.
    for i in 0..30 {
        let s = app.browser();
        let page = s.get("/login").await;
        let (_, fields) = form_fields(&page, "form#login");
        let fields = with_field(fields, "password", Some("guess guess guess"));
        let body = serde_urlencoded::to_string(&fields).unwrap();
        let r = s
            .http
            .post(app.url("/login"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Forwarded-For", format!("203.0.113.{}", i + 1))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    // A new browser of the owner's (no known-device cookie): the password
    // waits for the cap...
    let b = app.browser();
    let capped = password_step(&b).await;
    assert_eq!(capped.status, 429, "{}", capped.body);
    // ...the passkey does not.
    let done = passkey_sign_in(&b, &mut key).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(is_signed_in(&b).await);
}

#[tokio::test]
async fn failed_passkey_sign_ins_are_rate_limited_per_address() {
    let app = localhost_app().await;
    let (owner, mut key) = owner_with_passkey(&app, "key").await;
    let b = app.browser();
    let page = b.get("/login").await;
    let csrf = fields_of(&page, "form#passkey-login")["csrf"].clone();
    // Real challenges, answered with a signature that does not check out:
    // a failure that counts (an unreadable answer, or one naming no
    // pending challenge, checks nothing and does not).
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let (started, options) = post_json(&b, "/login/passkey/options", &[("csrf", &csrf)]).await;
        let answer = if started == 200 {
            let mut cred: serde_json::Value = serde_json::from_str(&key.sign(&options)).unwrap();
            cred["response"]["signature"] = serde_json::json!("AAAA");
            cred.to_string()
        } else {
            "{}".to_owned()
        };
        let answered = submit_passkey(&b, &page, &answer).await.status;
        statuses.push((started, answered));
    }
    assert!(
        statuses[..10].iter().all(|s| *s == (200, 401)),
        "{statuses:?}"
    );
    assert_eq!(statuses[10], (429, 429), "{statuses:?}");
    // Ten failures, one line in the owner's activity, in plain words: a
    // stranger's bad answers must not push the owner's activity out.
    let log = activity(&owner).await;
    let failed: Vec<_> = log
        .iter()
        .filter(|l| l.contains("A passkey sign-in failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{log:?}");
    assert!(failed[0].contains("did not check out"), "{log:?}");
    assert!(!failed[0].contains("webauthn"), "{log:?}");
}

#[tokio::test]
async fn autofill_signs_in_with_a_discoverable_passkey() {
    let app = localhost_app().await;
    let owner = app.signed_in_browser().await;
    let mut key = Passkey::new(&app);
    let dash = owner.get("/dashboard").await;
    let (_, options) = registration_options(&owner, &dash).await;
    let reg: serde_json::Value = serde_json::from_str(&options).unwrap();
    // A discoverable credential is asked for, with user verification.
    let sel = &reg["publicKey"]["authenticatorSelection"];
    assert_eq!(sel["residentKey"], "preferred", "{reg}");
    assert_eq!(sel["userVerification"], "required", "{reg}");
    let user_id = reg["publicKey"]["user"]["id"].as_str().unwrap().to_owned();
    let cred = key.register(&options);
    let cred_id = serde_json::from_str::<serde_json::Value>(&cred).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = owner
        .submit(&dash, "form#add-passkey", &[("credential", &cred)], None)
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let b = app.browser();
    let page = b.get("/login").await;
    let options = passkey_options(&b, &page, true).await;
    let v: serde_json::Value = serde_json::from_str(&options).unwrap();
    assert_eq!(v["mediation"], "conditional", "{v}");
    assert!(
        v["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{v}"
    );
    // Someone else's user handle is refused...
    let wrong = key.sign_discoverable(&options, &cred_id, "AAAAAAAAAAAAAAAAAAAAAA");
    let r = submit_passkey(&b, &page, &wrong).await;
    assert_eq!(r.status, 401, "{}", r.body);
    // ...the owner's signs in.
    let options = passkey_options(&b, &page, true).await;
    let cred = key.sign_discoverable(&options, &cred_id, &user_id);
    let r = submit_passkey(&b, &page, &cred).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(is_signed_in(&b).await);
}

#[tokio::test]
async fn passkey_only_mode_shows_recovery_codes_first_and_keeps_one_passkey() {
    let app = localhost_app().await;
    let owner = app.signed_in_browser().await;
    let dash = owner.get("/dashboard").await;
    let r = choose_mode(&owner, &dash, "passkey_only").await;
    assert_eq!(r.status, 409, "no passkey yet: {}", r.body);
    let mut key = Passkey::new(&app);
    add_passkey(&owner, &mut key, "laptop").await;
    let dash = owner.get("/dashboard").await;
    let shown = choose_mode(&owner, &dash, "passkey_only").await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let codes = recovery_codes(&shown);
    assert_eq!(codes.len(), 10);
    let done = owner.submit(&shown, "form#confirm-mode", &[], None).await;
    assert_eq!(done.status, 303, "{}", done.body);

    // The last passkey cannot be removed now.
    let dash = owner.get("/dashboard").await;
    let r = owner.submit(&dash, "form.remove-passkey", &[], None).await;
    assert_eq!(r.status, 409, "{}", r.body);

    // The password alone no longer signs in; with a recovery code it does.
    let b = app.browser();
    let login = b.get("/login").await;
    assert!(login.body.contains("Lost your passkeys?"), "{}", login.body);
    let step = password_step(&b).await;
    assert_eq!(step.status, 200, "{}", step.body);
    assert!(!is_signed_in(&b).await);
    let r = enter_code(&b, &step, &codes[0]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    // And the passkey, of course.
    assert_eq!(passkey_sign_in(&app.browser(), &mut key).await.status, 303);
}

#[tokio::test]
async fn passkeys_can_be_renamed_and_removed_and_removal_needs_a_fresh_sign_in() {
    let app = localhost_app().await;
    let (owner, mut key) = owner_with_passkey(&app, "phone").await;
    let dash = owner.get("/dashboard").await;
    let r = owner
        .submit(
            &dash,
            "form.rename-passkey",
            &[("label", "old phone")],
            None,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let dash = owner.get("/dashboard").await;
    assert_eq!(text_of(&dash, "li.passkey .passkey-label"), "old phone");
    app.clock.advance(301);
    let r = owner.submit(&dash, "form.remove-passkey", &[], None).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 1);
    // Adding one is refused as well.
    let (status, _) = registration_options(&owner, &dash).await;
    assert_eq!(status, 401);
    // A fresh sign-in (with the passkey) allows it.
    let again = passkey_sign_in(&owner, &mut key).await;
    assert_eq!(again.status, 303);
    let dash = owner.get("/dashboard").await;
    let r = owner.submit(&dash, "form.remove-passkey", &[], None).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 0);
    assert_activity(&owner, &["Passkey renamed"]).await;
    assert_activity(&owner, &["Passkey removed"]).await;
}

#[tokio::test]
async fn on_an_ip_address_the_pages_say_why_there_are_no_passkeys() {
    let app = TestApp::spawn().await;
    let owner = app.signed_in_browser().await;
    let dash = owner.get("/dashboard").await;
    assert!(!dash.has("form#add-passkey"));
    let note = text_of(&dash, "#passkey-note");
    assert!(
        note.contains(&format!("http://localhost:{}/", app.port)),
        "{note}"
    );
    // No script on a page that does not need one.
    let csp = dash.header("content-security-policy").unwrap();
    assert!(!csp.contains("script-src"), "{csp}");
}

#[tokio::test]
async fn only_pages_offering_passkeys_allow_a_script_and_only_doorsteps_own() {
    let app = localhost_app().await;
    let b = app.browser();
    let login = b.get("/login").await;
    // No passkey yet: the login page allows no script at all.
    let csp = login.header("content-security-policy").unwrap();
    assert!(!csp.contains("script-src"), "{csp}");
    owner_with_passkey(&app, "k").await;
    let login = b.get("/login").await;
    let csp = login.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    // The script fetches the ceremony's options from doorstep itself.
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(!login.body.contains("<script>"), "no inline script");
    // The password form still works as a plain form (no JavaScript).
    assert!(login.has("form#login[method=post][action='/login'] input[name=password]"));
    let js = b.get("/static/webauthn.js").await;
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.body.contains("navigator.credentials.get"));
}

#[tokio::test]
async fn in_second_factor_mode_a_passkey_alone_signs_in() {
    let app = localhost_app().await;
    align_to_step(&app);
    let (owner, mut key) = owner_with_passkey(&app, "key").await;
    enrol_app(&app, &owner).await;
    let b = app.browser();
    let step = password_step(&b).await;
    assert_eq!(step.status, 200);
    // The second step offers the passkey as the second factor.
    assert!(step.has("form#passkey-login"), "{}", step.body);
    let r = passkey_answer(&b, &step, &mut key).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(is_signed_in(&b).await);
}

#[tokio::test]
async fn a_passkey_as_the_second_step_returns_to_the_app_that_asked() {
    let app = localhost_app().await;
    align_to_step(&app);
    let (owner, mut key) = owner_with_passkey(&app, "key").await;
    enrol_app(&app, &owner).await;
    let client = app.client();
    let b = app.browser();
    let login = b
        .get(&format!("/auth?{}", client.auth_query("create", "s")))
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let step = b
        .submit(&login, "form#login", &[("password", PASSWORD)], None)
        .await;
    assert!(step.has("form#second-factor"), "{}", step.body);
    let r = passkey_answer(&b, &step, &mut key).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location.as_deref().unwrap_or("").starts_with("/auth?"),
        "{:?}",
        r.location
    );
}

/// SEC-16; PRODUCT, "a passkey owner is never locked out by strangers":
/// anyone can start a passkey sign-in, so strangers at another address
/// start more than the server holds in all (1,024 steps). The owner's
/// challenge, started before them, still signs in; and answers that find
/// no challenge at all (expired, or started again in another tab) do not
/// spend the owner's attempts either.
#[tokio::test]
async fn strangers_starting_sign_ins_neither_push_out_the_owner_s_challenge_nor_spend_its_attempts()
{
    let app = localhost_app_with(|s| s.trusted_proxies = "127.0.0.1".parse().unwrap()).await;
    let (_, mut key) = owner_with_passkey(&app, "phone").await;
    let owner = app.browser();
    let page = owner.get("/login").await;
    let options = passkey_options(&owner, &page, false).await;
    // The strangers come after: the owner's challenge is the oldest held.
    app.clock.advance(1);

    strangers_start_sign_ins(&app, 1_120, |_| "203.0.113.9".to_owned()).await;

    // More answers without a challenge than the failures allowed (10).
    for _ in 0..12 {
        let b = app.browser();
        let stale = submit_passkey(&b, &b.get("/login").await, "{}").await;
        assert_eq!(stale.status, 400, "{}", stale.body);
        assert!(
            stale.body.contains("Try your passkey once more"),
            "{}",
            stale.body
        );
    }

    let done = submit_passkey(&owner, &page, &key.sign(&options)).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(is_signed_in(&owner).await);
}

/// Every login page starts a challenge (for autofill), so a browser with
/// two login tabs holds two: each answers its own, neither replaces the
/// other.
#[tokio::test]
async fn two_tabs_each_keep_their_challenge() {
    let app = localhost_app().await;
    let (_, mut key) = owner_with_passkey(&app, "phone").await;
    let b = app.browser();
    let first = b.get("/login").await;
    let first_options = passkey_options(&b, &first, false).await;
    let second = b.get("/login").await;
    let second_options = passkey_options(&b, &second, false).await;
    // The first tab answers after the second one asked.
    let done = submit_passkey(&b, &first, &key.sign(&first_options)).await;
    assert_eq!(done.status, 303, "{}", done.body);
    // The second tab's challenge is still held, for this browser only.
    let signed = key.sign(&second_options);
    let c = app.browser();
    let elsewhere = submit_passkey(&c, &c.get("/login").await, &signed).await;
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
    let done = submit_passkey(&b, &second, &signed).await;
    assert_eq!(done.status, 303, "{}", done.body);
}

/// `n` strangers each load the login page (a fresh login cookie) and start
/// a passkey sign-in, from `address(i)` (`X-Forwarded-For`; the app must
/// trust 127.0.0.1 as its proxy), eight at a time.
async fn strangers_start_sign_ins(app: &TestApp, n: usize, address: fn(usize) -> String) {
    let stranger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut flood = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let (stranger, login, options) = (
            stranger.clone(),
            app.url("/login"),
            app.url("/login/passkey/options"),
        );
        flood.spawn(async move {
            for i in (worker..n).step_by(8) {
                let from = address(i);
                let get = stranger
                    .get(&login)
                    .header("X-Forwarded-For", &from)
                    .send()
                    .await
                    .expect("get");
                let page = Response::read(get).await;
                let cookies: Vec<String> = page
                    .set_cookies()
                    .into_iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let csrf = fields_of(&page, "form#passkey-login")["csrf"].clone();
                let started = stranger
                    .post(&options)
                    .header("X-Forwarded-For", &from)
                    .header("Cookie", cookies.join("; "))
                    .form(&[("csrf", csrf)])
                    .send()
                    .await
                    .expect("post");
                assert_eq!(started.status(), 200);
            }
        });
    }
    while let Some(done) = flood.join_next().await {
        done.expect("stranger");
    }
}

/// SEC-16: a browser that gave the right password holds a trusted step,
/// and so does its passkey challenge for the second factor: strangers at
/// more addresses than the map holds steps do not push it out.
#[tokio::test]
async fn a_second_factor_passkey_challenge_survives_strangers_at_many_addresses() {
    let app = localhost_app_with(|s| s.trusted_proxies = "127.0.0.1".parse().unwrap()).await;
    align_to_step(&app);
    let (owner, mut key) = owner_with_passkey(&app, "key").await;
    enrol_app(&app, &owner).await;
    let b = app.browser();
    let step = password_step(&b).await;
    assert!(step.has("form#second-factor"), "{}", step.body);
    let options = passkey_options(&b, &step, false).await;
    app.clock.advance(1);
    strangers_start_sign_ins(&app, 1_100, |i| format!("10.9.{}.{}", i / 250, i % 250 + 1)).await;
    let done = submit_passkey(&b, &step, &key.sign(&options)).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(is_signed_in(&b).await);
}

/// WebAuthn Level 2 §7.2 steps 6 and 13: an answer naming a user handle
/// that is not the owner's (unsigned, so anyone may put one there), or
/// given in a cross-origin frame, does not sign in; the owner's own answer
/// still does.
#[tokio::test]
async fn an_answer_for_another_user_or_from_a_cross_origin_frame_is_refused() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let app = localhost_app().await;
    let (owner, mut key) = owner_with_passkey(&app, "key").await;

    let b = app.browser();
    let page = b.get("/login").await;
    let mut cred: serde_json::Value =
        serde_json::from_str(&key.sign(&passkey_options(&b, &page, false).await)).unwrap();
    cred["response"]["userHandle"] = serde_json::json!(URL_SAFE_NO_PAD.encode([7u8; 16]));
    let r = submit_passkey(&b, &page, &cred.to_string()).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(!is_signed_in(&b).await);
    assert_activity(&owner, &["A passkey sign-in failed", "does not know"]).await;

    let c = app.browser();
    let page = c.get("/login").await;
    let mut cred: serde_json::Value =
        serde_json::from_str(&key.sign(&passkey_options(&c, &page, false).await)).unwrap();
    let data = URL_SAFE_NO_PAD
        .decode(cred["response"]["clientDataJSON"].as_str().unwrap())
        .unwrap();
    let mut data: serde_json::Value = serde_json::from_slice(&data).unwrap();
    data["crossOrigin"] = serde_json::json!(true);
    data["topOrigin"] = serde_json::json!("https://evil.example");
    cred["response"]["clientDataJSON"] =
        serde_json::json!(URL_SAFE_NO_PAD.encode(data.to_string()));
    let r = submit_passkey(&c, &page, &cred.to_string()).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(!is_signed_in(&c).await);

    let d = app.browser();
    let done = passkey_sign_in(&d, &mut key).await;
    assert_eq!(done.status, 303, "{}", done.body);

    // An empty user handle is no handle (older Safari sent one).
    let e = app.browser();
    let page = e.get("/login").await;
    let mut cred: serde_json::Value =
        serde_json::from_str(&key.sign(&passkey_options(&e, &page, false).await)).unwrap();
    cred["response"]["userHandle"] = serde_json::json!("");
    let r = submit_passkey(&e, &page, &cred.to_string()).await;
    assert_eq!(r.status, 303, "{}", r.body);
}
