//! The dashboard's "Signing in" section: the sign-in mode, the
//! authenticator app, recovery codes, and renaming or removing passkeys
//! (adding one is in `passkeys`). Every form carries the session's CSRF
//! token; all but renaming also need a fresh sign-in (step-up). No change
//! may lock the owner out (`owner::factors`), and every change is recorded
//! in the activity list.

use super::AppState;
use super::dashboard::{back_to_dashboard, id_param};
use super::forms::{FreshOwnerForm, OwnerForm};
use super::respond::{dashboard_error_page, html, internal_error_page, see_other};
use super::second_factor;
use crate::domain::SecretHash;
use crate::owner::factors::{self as rules, LockOut, SignInMode};
use crate::owner::pending::{ENROLMENT_SECONDS, Pending, StartedBy};
use crate::owner::{recovery, totp};
use crate::store::events::EventKind;
use crate::store::{StoreError, StoreResult, events, factors};
use crate::views::{RecoveryCodesPage, TotpEnrolPage};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

const TOTP_PENDING: &str = "totp-enrolment";

fn locked_out(state: &AppState, why: LockOut) -> HttpResponse {
    dashboard_error_page(
        state,
        StatusCode::CONFLICT,
        "That would lock you out",
        &why.to_string(),
    )
}

/// The current sign-in mode and the factors it may depend on: what every
/// change here is checked against, inside the change's own transaction.
fn standing(s: &factors::Summary) -> (SignInMode, rules::Factors) {
    let mode = s.mode;
    let f = rules::Factors {
        passkeys: s.passkeys,
        totp: s.totp,
    };
    (mode, f)
}

/// Back to the dashboard after a change, or why it was refused.
fn back_unless_locked_out(
    state: &AppState,
    outcome: Result<Result<(), LockOut>, StoreError>,
) -> HttpResponse {
    match outcome {
        Ok(Ok(())) => see_other("/dashboard"),
        Ok(Err(why)) => locked_out(state, why),
        Err(e) => internal_error_page(state, &e),
    }
}

/// Makes a new set of recovery codes (voiding the old) and shows them.
async fn new_recovery_codes(
    state: &AppState,
    csrf: &str,
    intro: &str,
    confirm_mode: Option<SignInMode>,
) -> HttpResponse {
    let (codes, hashes) = recovery::generate();
    let now = state.now();
    let saved = state
        .store
        .write(move |tx| {
            factors::replace_recovery_codes(tx, &hashes, now)?;
            events::record(tx, now, EventKind::RecoveryCodesCreated, None, None)
        })
        .await;
    if let Err(e) = saved {
        return internal_error_page(state, &e);
    }
    html(
        StatusCode::OK,
        &RecoveryCodesPage {
            footer_host: state.footer_host(),
            csrf,
            codes: &codes,
            intro,
            confirm_mode: confirm_mode.map(SignInMode::as_str),
            confirm_label: match confirm_mode {
                Some(SignInMode::PasskeyOnly) => "sign in with passkeys only",
                Some(SignInMode::SecondFactor) => "ask for a second factor",
                _ => "",
            },
        },
    )
}

/// `POST /dashboard/sign-in-mode`: `mode`, and `confirm=saved` once the
/// owner has seen fresh recovery codes. A mode with a second factor (or
/// passkeys only) first shows new recovery codes; it is switched on only
/// when the owner confirms they saved them.
pub async fn set_mode(
    FreshOwnerForm { params, owner }: FreshOwnerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(mode) = params
        .get("mode")
        .ok()
        .flatten()
        .and_then(SignInMode::parse)
    else {
        return see_other("/dashboard");
    };
    let current = match second_factor::load(&state).await {
        Ok(s) => s,
        Err(e) => return internal_error_page(&state, &e),
    };
    if let Err(why) = rules::check_mode(mode, current.factors) {
        return locked_out(&state, why);
    }
    let confirmed = params.get("confirm").ok().flatten() == Some("saved");
    if mode != SignInMode::Password && !confirmed {
        return new_recovery_codes(
            &state,
            &owner.csrf(),
            "Before you switch, save these codes: they bring you back in if you lose your passkeys or your authenticator app.",
            Some(mode),
        )
        .await;
    }
    let now = state.now();
    let changed = state
        .store
        .write(move |tx| {
            // Checked again inside the transaction: a passkey removed in
            // between must not leave a mode that nobody can sign in with.
            let s = factors::summary(tx)?;
            let (_, f) = standing(&s);
            if let Err(why) = rules::check_switch(mode, f, s.recovery_codes_left) {
                return Ok(Err(why));
            }
            if s.mode != mode {
                factors::set_mode(tx, mode)?;
                events::record(
                    tx,
                    now,
                    EventKind::SignInModeChanged,
                    None,
                    Some(mode.describe()),
                )?;
            }
            Ok(Ok(()))
        })
        .await;
    back_unless_locked_out(&state, changed)
}

/// `POST /dashboard/recovery-codes`: a new set; the old one stops working.
pub async fn regenerate_recovery_codes(
    FreshOwnerForm { owner, .. }: FreshOwnerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    new_recovery_codes(
        &state,
        &owner.csrf(),
        "Here are your new recovery codes.",
        None,
    )
    .await
}

/// The account name an authenticator app shows: the owner's host.
fn totp_account(state: &AppState) -> String {
    state
        .settings
        .me
        .url()
        .host_str()
        .unwrap_or("doorstep")
        .to_owned()
}

fn enrol_page(state: &AppState, csrf: &str, secret: &[u8], message: Option<&str>) -> HttpResponse {
    let drawn =
        totp::provisioning_url(secret, &totp_account(state)).and_then(|url| totp::qr_svg(&url));
    let svg = match drawn {
        Ok(s) => s,
        Err(e) => return internal_error_page(state, &e),
    };
    html(
        if message.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &TotpEnrolPage {
            footer_host: state.footer_host(),
            csrf,
            qr_svg: &svg,
            secret: &totp::secret_base32(secret),
            message,
        },
    )
}

/// `POST /dashboard/totp/new`: a fresh secret, shown as a QR code; nothing
/// is stored until a code from the app confirms it.
pub async fn totp_new(
    FreshOwnerForm { owner, .. }: FreshOwnerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    let secret = totp::new_secret();
    state.pending.put(
        owner.pending_key(TOTP_PENDING),
        StartedBy::Trusted,
        state.now(),
        ENROLMENT_SECONDS,
        Pending::TotpEnrolment {
            secret: secret.clone(),
        },
    );
    enrol_page(&state, &owner.csrf(), &secret, None)
}

/// `POST /dashboard/totp/confirm`: `code`. A right code stores the secret
/// (its step is spent), and a password-only owner is switched to asking
/// for a second factor, with fresh recovery codes shown first.
pub async fn totp_confirm(
    OwnerForm { params, owner }: OwnerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    let now = state.now();
    let key = owner.pending_key(TOTP_PENDING);
    let Some((expires, Pending::TotpEnrolment { secret })) =
        state.pending.take_with_expiry(&key, now)
    else {
        return dashboard_error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "Start again",
            "Adding the authenticator app took too long. Start again from the dashboard.",
        );
    };
    let code = params.get("code").ok().flatten().unwrap_or("");
    let Some(step) = totp::matching_step(&secret, code, now) else {
        state.pending.put_back(
            key,
            StartedBy::Trusted,
            expires,
            Pending::TotpEnrolment {
                secret: secret.clone(),
            },
        );
        return enrol_page(
            &state,
            &owner.csrf(),
            &secret,
            Some("That code is not right. Check the app's clock and try the current code."),
        );
    };
    let (codes, hashes) = recovery::generate();
    let saved = state
        .store
        .write(move |tx| save_totp(tx, now, &secret, step, &hashes))
        .await;
    match saved {
        Ok(true) => html(
            StatusCode::OK,
            &RecoveryCodesPage {
                footer_host: state.footer_host(),
                csrf: &owner.csrf(),
                codes: &codes,
                intro: "The authenticator app is set up: from now on, signing in with your password asks for its code. Save these recovery codes for the day you lose the app.",
                confirm_mode: None,
                confirm_label: "",
            },
        ),
        Ok(false) => see_other("/dashboard"),
        Err(e) => internal_error_page(&state, &e),
    }
}

/// Stores the confirmed authenticator app (its first step spent); a
/// password-only owner now also needs a second factor. Returns whether
/// recovery codes were created (the owner had none left), to be shown.
fn save_totp(
    tx: &rusqlite::Transaction<'_>,
    now: i64,
    secret: &[u8],
    step: i64,
    recovery_hashes: &[SecretHash],
) -> StoreResult<bool> {
    factors::set_totp(tx, secret, step, now)?;
    events::record(tx, now, EventKind::TotpAdded, None, None)?;
    let s = factors::summary(tx)?;
    if s.mode == SignInMode::Password {
        factors::set_mode(tx, SignInMode::SecondFactor)?;
        events::record(
            tx,
            now,
            EventKind::SignInModeChanged,
            None,
            Some(SignInMode::SecondFactor.describe()),
        )?;
    }
    let new_codes = s.recovery_codes_left == 0;
    if new_codes {
        factors::replace_recovery_codes(tx, recovery_hashes, now)?;
        events::record(tx, now, EventKind::RecoveryCodesCreated, None, None)?;
    }
    Ok(new_codes)
}

/// `POST /dashboard/totp/remove`, unless the mode depends on it.
pub async fn totp_remove(_: FreshOwnerForm, state: web::Data<AppState>) -> HttpResponse {
    let now = state.now();
    let removed = state
        .store
        .write(move |tx| {
            let (mode, f) = standing(&factors::summary(tx)?);
            if let Err(why) = rules::check_remove_totp(mode, f) {
                return Ok(Err(why));
            }
            if factors::remove_totp(tx)? {
                events::record(tx, now, EventKind::TotpRemoved, None, None)?;
            }
            Ok(Ok(()))
        })
        .await;
    back_unless_locked_out(&state, removed)
}

/// `POST /dashboard/password`: `password`, `confirm`. As with `doorstep
/// password`, every browser is signed out (a security event); this one is
/// signed in again at once.
pub async fn change_password(
    req: HttpRequest,
    FreshOwnerForm { params, .. }: FreshOwnerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(pw) = super::login::confirmed_password(&params) else {
        return dashboard_error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "The password was not changed",
            "The two passwords differ. Go back and type them again.",
        );
    };
    let hashed = match state.passwords.hash(pw).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            return dashboard_error_page(
                &state,
                StatusCode::BAD_REQUEST,
                "The password was not changed",
                &e.to_string(),
            );
        }
        Err(e) => return internal_error_page(&state, &e),
    };
    let now = state.now();
    let saved = state
        .store
        .write(move |tx| crate::store::owner::set_password(tx, &hashed, now, "on the dashboard"))
        .await;
    match saved {
        Ok(()) => {
            super::login::signed_in(&req, &state, "/dashboard", "after changing the password").await
        }
        Err(e) => internal_error_page(&state, &e),
    }
}

/// A passkey's label as typed: trimmed, at most 60 characters.
pub fn clean_label(raw: Option<&str>) -> String {
    raw.map(|n| n.trim().chars().take(60).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "passkey".to_owned())
}

/// `POST /dashboard/passkeys/rename`: `id`, `label`.
pub async fn passkey_rename(
    OwnerForm { params, .. }: OwnerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(id) = id_param(&params, "id") else {
        return see_other("/dashboard");
    };
    let label = clean_label(params.get("label").ok().flatten());
    let now = state.now();
    back_to_dashboard(&state, move |tx| {
        if let Some(old) = factors::rename_passkey(tx, id, &label)?
            && old != label
        {
            events::record(
                tx,
                now,
                EventKind::PasskeyRenamed,
                None,
                Some(&format!("{old} → {label}")),
            )?;
        }
        Ok(())
    })
    .await
}

/// `POST /dashboard/passkeys/remove`: `id`, unless the mode depends on it.
pub async fn passkey_remove(
    FreshOwnerForm { params, .. }: FreshOwnerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(id) = id_param(&params, "id") else {
        return see_other("/dashboard");
    };
    let now = state.now();
    let removed = state
        .store
        .write(move |tx| {
            let (mode, f) = standing(&factors::summary(tx)?);
            if let Err(why) = rules::check_remove_passkey(mode, f) {
                return Ok(Err(why));
            }
            if let Some(label) = factors::remove_passkey(tx, id)? {
                events::record(tx, now, EventKind::PasskeyRemoved, None, Some(&label))?;
            }
            Ok(Ok(()))
        })
        .await;
    back_unless_locked_out(&state, removed)
}
