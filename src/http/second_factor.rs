//! The second step of a password sign-in: an authenticator-app code or a
//! recovery code (or, on the same page, a passkey). The step is bound to
//! the browser's login cookie and expires with the WebAuthn challenges;
//! every code tried counts against the same login throttle as passwords,
//! and a right password forgives nothing until the second factor comes.

use super::AppState;
use super::body::Body;
use super::login::{render_login, signed_in, with_login_csrf};
use super::respond::{allow_own_script, body_text, html, internal_error_page, with_retry_after};
use super::session;
use crate::errors::error_chain;
use crate::oauth::Params;
use crate::owner::factors::{Factors, SignInMode};
use crate::owner::pending::{Pending, StartedBy};
use crate::owner::throttle::FIRST_PAUSE_AT;
use crate::owner::{recovery, totp};
use crate::store::events::EventKind;
use crate::store::{StoreResult, events, factors};
use crate::views::SecondFactorPage;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

/// The purpose under which a half-finished sign-in is held.
pub const PENDING: &str = "second-factor";

/// The owner's sign-in settings, as the pages need them.
pub struct SignIn {
    pub mode: SignInMode,
    pub factors: Factors,
    pub recovery_codes_left: i64,
}

pub async fn load(state: &AppState) -> StoreResult<SignIn> {
    let s = state.store.read(factors::summary).await?;
    Ok(SignIn {
        mode: s.mode,
        factors: Factors {
            passkeys: s.passkeys,
            totp: s.totp,
        },
        recovery_codes_left: s.recovery_codes_left,
    })
}

/// The second-factor form. In passkey-only mode only a recovery code is
/// asked for (the passkey was the way in; this is the way back in).
pub fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    sign_in: &SignIn,
    message: Option<&str>,
) -> HttpResponse {
    let recovery_only = sign_in.mode == SignInMode::PasskeyOnly;
    let totp = sign_in.factors.totp && !recovery_only;
    let passkeys = !recovery_only && sign_in.factors.passkeys > 0 && state.webauthn.is_some();
    with_login_csrf(req, state, |csrf| {
        let resp = html(
            status,
            &SecondFactorPage {
                footer_host: state.footer_host(),
                csrf,
                totp,
                passkeys,
                recovery_only,
                message,
            },
        );
        if passkeys {
            allow_own_script(resp)
        } else {
            resp
        }
    })
}

/// How a code was accepted, for the activity list.
enum Accepted {
    App,
    Recovery { left: i64 },
}

/// Takes `code` if it is an unused recovery code, or (when the mode allows
/// the app) the authenticator app's code for a time step not used yet:
/// each works once.
fn take_code(
    tx: &rusqlite::Transaction<'_>,
    now: i64,
    code: &str,
    app_allowed: bool,
) -> StoreResult<Option<Accepted>> {
    if recovery::looks_like_one(code) {
        if !factors::take_recovery_code(tx, &recovery::hash(code))? {
            return Ok(None);
        }
        let left = factors::recovery_codes_left(tx)?;
        events::record(
            tx,
            now,
            EventKind::RecoveryCodeUsed,
            None,
            Some(&format!("{left} left")),
        )?;
        return Ok(Some(Accepted::Recovery { left }));
    }
    if !app_allowed {
        return Ok(None);
    }
    let Some(secret) = factors::totp_secret(tx)? else {
        return Ok(None);
    };
    match totp::matching_step(&secret, code, now) {
        Some(step) if factors::take_totp_step(tx, step)? => Ok(Some(Accepted::App)),
        _ => Ok(None),
    }
}

/// 429 with `Retry-After`, on the same form, saying `message`.
fn too_many(
    req: &HttpRequest,
    state: &AppState,
    sign_in: &SignIn,
    retry_after: i64,
    message: &str,
) -> HttpResponse {
    let resp = render(
        req,
        state,
        StatusCode::TOO_MANY_REQUESTS,
        sign_in,
        Some(message),
    );
    with_retry_after(resp, retry_after)
}

/// The login throttle holds this sign-in back.
fn throttled(
    req: &HttpRequest,
    state: &AppState,
    sign_in: &SignIn,
    retry_after: i64,
) -> HttpResponse {
    let msg = format!("Too many failed attempts. Try again in {retry_after} seconds.");
    too_many(req, state, sign_in, retry_after, &msg)
}

/// App-code entry is paused after wrong codes in a row; a passkey, a
/// recovery code, or a browser the owner signed in from before still gets
/// in.
fn code_entry_paused(
    req: &HttpRequest,
    state: &AppState,
    sign_in: &SignIn,
    retry_after: i64,
) -> HttpResponse {
    let minutes = (retry_after + 59) / 60;
    let msg = format!(
        "Too many wrong codes in a row: authenticator codes are not taken for {minutes} \
         minute{}. A passkey or a recovery code still works, and so does a browser you signed \
         in from before. If these were not your tries, someone knows your password: change it.",
        if minutes == 1 { "" } else { "s" }
    );
    too_many(req, state, sign_in, retry_after, &msg)
}

/// The half-finished sign-in is gone (expired, or the form is stale):
/// start again with the password.
async fn took_too_long(req: &HttpRequest, state: &AppState) -> HttpResponse {
    render_login(
        req,
        state,
        StatusCode::UNAUTHORIZED,
        "",
        None,
        Some("That sign-in took too long. Please enter your password again."),
    )
    .await
}

/// `POST /login/second-factor`: `csrf` and `code`.
pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: Body) -> HttpResponse {
    let params = Params::parse(body_text(&body));
    let expired = || took_too_long(&req, &state);
    if !session::login_csrf_ok(&req, &state, params.get("csrf").ok().flatten()) {
        return render_login(
            &req,
            &state,
            StatusCode::FORBIDDEN,
            "",
            None,
            Some("This form has expired. Please sign in again."),
        )
        .await;
    }
    let now = state.now();
    let Some(key) = session::login_pending_key(&req, &state, PENDING) else {
        return expired().await;
    };
    let Some((
        expires,
        Pending::SecondFactor {
            continue_to,
            attempts,
            counted,
        },
    )) = state.pending.take_with_expiry(&key, now)
    else {
        return expired().await;
    };
    let sign_in = match load(&state).await {
        Ok(s) => s,
        Err(e) => return internal_error_page(&state, &e),
    };
    let addr = session::client_addr(&req, &state);
    let put_back = |attempts: u32| {
        state.pending.put_back(
            key,
            StartedBy::Trusted,
            expires,
            Pending::SecondFactor {
                continue_to: continue_to.clone(),
                attempts,
                counted,
            },
        )
    };
    // Codes are guesses like passwords: the same throttle, counted first
    // against whoever gave the password (`counted`: its address, or its
    // known device), wherever the codes come from; and wrong app codes in
    // a row pause app-code entry for the account (`CodeGuard`, which
    // leaves recovery codes alone: nothing to guess there).
    let code = params.get("code").ok().flatten().unwrap_or("").to_owned();
    let guarded = !recovery::looks_like_one(&code);
    let known_device = counted.is_known_device();
    if guarded && let Err(t) = state.code_guard.check(now, known_device) {
        put_back(attempts);
        return code_entry_paused(&req, &state, &sign_in, t.retry_after);
    }
    if let Err(t) = state.login_throttle.begin(counted, addr, now) {
        put_back(attempts);
        return throttled(&req, &state, &sign_in, t.retry_after);
    }
    let attempts = attempts + 1;
    // Counted as wrong before it is checked, so codes sent at once cannot
    // all pass the pause; a right code takes it back.
    let pause = if guarded {
        match state.code_guard.begin(now, known_device) {
            Ok(p) => p,
            Err(t) => {
                put_back(attempts);
                return code_entry_paused(&req, &state, &sign_in, t.retry_after);
            }
        }
    } else {
        None
    };
    let app_allowed = sign_in.mode == SignInMode::SecondFactor;
    let checked = state
        .store
        .write(move |tx| take_code(tx, now, &code, app_allowed))
        .await;
    let accepted = match checked {
        Ok(a) => a,
        Err(e) => {
            put_back(attempts);
            return internal_error_page(&state, &e);
        }
    };
    let Some(accepted) = accepted else {
        tracing::warn!(%addr, "failed second factor");
        if let Some(pause) = pause {
            tracing::warn!(
                %addr,
                wrong_codes = pause.failures,
                pause_seconds = pause.seconds,
                "wrong second-factor codes in a row after the right password: code entry paused"
            );
            // Told to the owner once per run, not per guess: the activity
            // list must not fill with a guesser's attempts.
            if pause.failures == FIRST_PAUSE_AT {
                let detail = format!("{} wrong codes in a row", pause.failures);
                let recorded = state
                    .store
                    .write(move |tx| {
                        events::record(tx, now, EventKind::SecondFactorPaused, None, Some(&detail))
                    })
                    .await;
                if let Err(e) = recorded {
                    tracing::warn!("could not record the pause: {}", error_chain(&e));
                }
            }
        }
        put_back(attempts);
        return render(
            &req,
            &state,
            StatusCode::UNAUTHORIZED,
            &sign_in,
            Some("That code is not right, or it was used already."),
        );
    };
    state.login_throttle.record_success_after(counted, attempts);
    let method = match accepted {
        Accepted::App => "with the password and the authenticator app".to_owned(),
        Accepted::Recovery { left } => {
            format!("with the password and a recovery code ({left} left)")
        }
    };
    signed_in(&req, &state, &continue_to, &method).await
}
