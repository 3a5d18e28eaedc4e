//! Passkeys over HTTP: the WebAuthn ceremonies behind the sign-in page's
//! "Sign in with a passkey" (and its autofill), and behind the dashboard's
//! "Add a passkey". `/static/webauthn.js` asks for options as JSON, lets
//! the browser do the ceremony, and submits the result in an ordinary form,
//! so success and failure are ordinary pages.
//!
//! Challenges are single-use (taken from `pending`), bound to the browser
//! (its login cookie before sign-in, its session after) and expire in five
//! minutes. A sign-in challenge is held under the browser's login cookie
//! and the challenge itself, which the answer names in its signed client
//! data: every login page starts one for autofill, and two tabs' must not
//! replace each other. A passkey sign-in never meets the password
//! throttle's global cap — that is what keeps strangers' guessing from
//! locking a passkey owner out — but failed assertions are rate-limited
//! per address.

use super::AppState;
use super::body::Body;
use super::dashboard::back_to_dashboard;
use super::forms::{FreshOwnerForm, fresh_owner_form};
use super::login::{render_login, safe_continue, signed_in};
use super::respond::{body_text, internal_error_page, json, log_chain, see_other};
use super::security::clean_label;
use super::session;
use crate::errors::error_chain;
use crate::oauth::Params;
use crate::owner::passkeys::parse_all;
use crate::owner::pending::{CHALLENGE_SECONDS, Pending, StartedBy};
use crate::store::events::EventKind;
use crate::store::{events, factors};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential, Uuid};
use webauthn_rs_proto::ResidentKeyRequirement;

const SIGN_IN: &str = "passkey-sign-in";
const REGISTER: &str = "passkey-register";

fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    json(status, &serde_json::json!({ "error": message }))
}

/// `POST /login/passkey/options`: `csrf`, and `autofill=1` for the
/// browser's autofill (conditional mediation), which offers whatever
/// passkeys the browser holds for doorstep. Without it, the owner's
/// passkeys are listed, so security keys that keep no credential work too.
pub async fn sign_in_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body,
) -> HttpResponse {
    let params = Params::parse(body_text(&body));
    if !session::login_csrf_ok(&req, &state, params.get("csrf").ok().flatten()) {
        return json_error(StatusCode::FORBIDDEN, "This page has expired. Reload it.");
    }
    let Some(webauthn) = state.webauthn.as_deref() else {
        return json_error(StatusCode::NOT_FOUND, "Passkeys are not available here.");
    };
    let now = state.now();
    let addr = session::client_addr(&req, &state);
    if let Err(wait) = state.passkey_failures.check(addr, now) {
        return json_error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed attempts. Try again in {wait} seconds."),
        );
    }
    if session::login_pending_key(&req, &state, SIGN_IN).is_none() {
        return json_error(StatusCode::FORBIDDEN, "Signing in needs cookies.");
    }
    // A browser that gave the right password (the passkey is its second
    // factor), or one the owner signed in with before: strangers'
    // challenges can never push its out (`pending`).
    let password_given = session::login_pending_key(&req, &state, super::second_factor::PENDING)
        .is_some_and(|k| state.pending.awaits_second_factor(&k, now));
    let by = if password_given || session::known_device(&req, &state).await {
        StartedBy::Trusted
    } else {
        StartedBy::address(addr)
    };
    let stored = match state.store.read(factors::passkeys).await {
        Ok(s) => s,
        Err(e) => {
            log_chain(&e);
            return json_error(StatusCode::INTERNAL_SERVER_ERROR, "Try again in a moment.");
        }
    };
    let passkeys: Vec<_> = parse_all(stored).into_iter().map(|r| r.passkey).collect();
    if passkeys.is_empty() {
        return json_error(StatusCode::NOT_FOUND, "No passkey is registered.");
    }
    let started = if params.get("autofill").ok().flatten() == Some("1") {
        webauthn
            .start_discoverable_authentication()
            .map(|(rcr, st)| (rcr, Pending::DiscoverableAuthentication(Box::new(st))))
    } else {
        webauthn
            .start_passkey_authentication(&passkeys)
            .map(|(rcr, st)| (rcr, Pending::PasskeyAuthentication(Box::new(st))))
    };
    match started {
        Ok((rcr, pending)) => {
            let purpose = challenge_purpose(rcr.public_key.challenge.as_ref());
            if let Some(key) = session::login_pending_key(&req, &state, &purpose) {
                state.pending.put(key, by, now, CHALLENGE_SECONDS, pending);
            }
            json(StatusCode::OK, &rcr)
        }
        Err(e) => {
            log_chain(&e);
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "Try again in a moment.")
        }
    }
}

/// What a sign-in challenge is held under, beside the login cookie.
fn challenge_purpose(challenge: &[u8]) -> String {
    format!("{SIGN_IN}\0{}", URL_SAFE_NO_PAD.encode(challenge))
}

/// What doorstep reads itself of an answer's client data; webauthn-rs
/// checks the rest, and the signature over all of it.
#[derive(serde::Deserialize)]
struct ClientData {
    challenge: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: bool,
    #[serde(rename = "topOrigin", default)]
    top_origin: Option<String>,
}

fn client_data(cred: &PublicKeyCredential) -> Option<ClientData> {
    serde_json::from_slice(cred.response.client_data_json.as_ref()).ok()
}

/// The challenge an answer says it was signed for (webauthn-rs then checks
/// it against the challenge held).
fn answered_challenge(cred: &PublicKeyCredential) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(client_data(cred)?.challenge.trim_end_matches('='))
        .ok()
}

/// WebAuthn Level 2 §7.2 steps 6 and 13, which webauthn-rs leaves to its
/// caller: an answer the browser says was given inside a frame of another
/// origin (`crossOrigin`, or Level 3's `topOrigin`, present only then), or
/// one naming a user handle that is not the owner's, is refused. doorstep's
/// pages cannot be framed, and with one owner the credential already says
/// whose it is; these keep it so. An empty user handle is no handle: older
/// Safari sent an empty one for a credential that has none.
fn foreign_answer(cred: &PublicKeyCredential, owner: Option<&[u8]>) -> Option<Refused> {
    let data = client_data(cred)?;
    if data.cross_origin || data.top_origin.is_some() {
        return Some(Refused::CrossOrigin);
    }
    match &cred.response.user_handle {
        Some(handle) if !handle.is_empty() && Some(handle.as_ref()) != owner => {
            Some(Refused::OtherUser)
        }
        _ => None,
    }
}

/// Why a passkey sign-in failed (logged, and the owner told in general).
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("the answer was given in a frame of another origin")]
    CrossOrigin,
    #[error("no challenge is pending for this browser and answer, or it expired")]
    NoChallenge,
    #[error("the passkey belongs to someone else")]
    OtherUser,
    #[error("the passkey is not registered")]
    Unknown,
    #[error("webauthn-rs refused the assertion: {0}")]
    Webauthn(String),
}

impl Refused {
    /// For the owner's activity list, in plain words (the log keeps the
    /// library's own).
    fn plainly(&self) -> &'static str {
        match self {
            Refused::NoChallenge => "the sign-in had expired",
            Refused::OtherUser | Refused::Unknown => "a passkey this doorstep does not know",
            Refused::CrossOrigin => "the passkey was used inside another site's page",
            Refused::Webauthn(_) => "the passkey's answer did not check out",
        }
    }
}

/// Failed passkey sign-ins reach the owner's activity list at most once in
/// this many seconds: anyone can fetch a challenge and send a bad answer,
/// and one address gets ten tries, so entries for every failure would push
/// the owner's real activity out of the list. The log has each one.
const PASSKEY_FAILURE_EVENT_EVERY: i64 = 24 * 3600;

/// `POST /login/passkey`: `csrf`, `continue`, `credential` (the browser's
/// answer as JSON). Signs in, and stores the credential as webauthn-rs
/// updated it (counter, backup state).
pub async fn sign_in(req: HttpRequest, state: web::Data<AppState>, body: Body) -> HttpResponse {
    let params = Params::parse(body_text(&body));
    let cont = safe_continue(params.get("continue").ok().flatten())
        .unwrap_or("/dashboard")
        .to_owned();
    let cont_field = if cont == "/dashboard" {
        ""
    } else {
        cont.as_str()
    };
    if !session::login_csrf_ok(&req, &state, params.get("csrf").ok().flatten()) {
        return render_login(
            &req,
            &state,
            StatusCode::FORBIDDEN,
            cont_field,
            None,
            Some("This form has expired. Please sign in again."),
        )
        .await;
    }
    let Some(webauthn) = state.webauthn.clone() else {
        return see_other("/login");
    };
    let now = state.now();
    let addr = session::client_addr(&req, &state);
    // Spent up front, given back on success: concurrent failures cannot
    // outrun the count, and a sign-in that succeeds is never refused.
    let spent = state.passkey_failures.record_failure(addr, now);
    let answered = params
        .get("credential")
        .ok()
        .flatten()
        .and_then(|c| serde_json::from_str::<PublicKeyCredential>(c).ok())
        .and_then(|cred| {
            let purpose = challenge_purpose(&answered_challenge(&cred)?);
            let key = session::login_pending_key(&req, &state, &purpose)?;
            Some((state.pending.take(&key, now)?, cred))
        });
    let checked = verify(&state, &webauthn, answered, now).await;
    match checked {
        Ok(Ok(label)) => {
            if spent.is_ok() {
                state.passkey_failures.refund(addr, now);
            }
            let to = finish_password_sign_in(&req, &state, now)
                .filter(|_| cont_field.is_empty())
                .unwrap_or(cont);
            signed_in(&req, &state, &to, &format!("with the passkey “{label}”")).await
        }
        Ok(Err(Refused::NoChallenge)) => {
            // Nothing was checked, so nothing was guessed: the attempt is
            // given back, and no event is written. A challenge expires, an
            // answer may be unreadable or sent twice; the owner's attempts
            // must not run out for that, nor strangers' answers sent with
            // no challenge at all fill the activity list.
            tracing::info!(%addr, reason = %Refused::NoChallenge, "passkey sign-in without a challenge");
            let (status, message) = match spent {
                Ok(()) => {
                    state.passkey_failures.refund(addr, now);
                    (
                        StatusCode::BAD_REQUEST,
                        "That sign-in took too long, or was already used. \
                         Try your passkey once more."
                            .to_owned(),
                    )
                }
                Err(_) => failure_message(spent),
            };
            render_login(&req, &state, status, cont_field, None, Some(&message)).await
        }
        Ok(Err(why)) => {
            tracing::warn!(%addr, reason = %why, "failed passkey sign-in");
            let detail = format!(
                "{}; further failures today are only in the server's log",
                why.plainly()
            );
            if let Err(e) = state
                .store
                .write(move |tx| {
                    let since = now - PASSKEY_FAILURE_EVENT_EVERY;
                    if events::recorded_since(tx, EventKind::PasskeyFailed, since)? {
                        return Ok(());
                    }
                    events::record(tx, now, EventKind::PasskeyFailed, None, Some(&detail))
                })
                .await
            {
                tracing::warn!(
                    "could not record a failed passkey sign-in: {}",
                    error_chain(&e)
                );
            }
            let (status, message) = failure_message(spent);
            render_login(&req, &state, status, cont_field, None, Some(&message)).await
        }
        Err(e) => internal_error_page(&state, &e),
    }
}

/// A passkey used as the second step after a password ends that sign-in:
/// its destination (if one was held), with the throttle's advance count
/// given back.
fn finish_password_sign_in(req: &HttpRequest, state: &AppState, now: i64) -> Option<String> {
    let key = session::login_pending_key(req, state, super::second_factor::PENDING)?;
    match state.pending.take(&key, now)? {
        Pending::SecondFactor {
            continue_to,
            attempts,
            counted,
        } => {
            state.login_throttle.record_success_after(counted, attempts);
            Some(continue_to)
        }
        _ => None,
    }
}

/// What the sign-in page says after a failed passkey: try again, or
/// (past the limit, `spent` is Err) wait.
fn failure_message(spent: Result<(), i64>) -> (StatusCode, String) {
    match spent {
        Ok(()) => (
            StatusCode::UNAUTHORIZED,
            "That passkey did not work here. Try again, or use another way to sign in.".to_owned(),
        ),
        Err(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed attempts. Try again in {wait} seconds."),
        ),
    }
}

/// Checks an answer against the challenge it named (taken from
/// `pending`) and the stored passkeys; on success updates the stored
/// credential and returns its label.
async fn verify(
    state: &AppState,
    webauthn: &webauthn_rs::Webauthn,
    answered: Option<(Pending, PublicKeyCredential)>,
    now: i64,
) -> crate::store::StoreResult<Result<String, Refused>> {
    let Some((pending, cred)) = answered else {
        return Ok(Err(Refused::NoChallenge));
    };
    let stored = state.store.read(factors::passkeys).await?;
    let user_id = state.store.read(factors::webauthn_user_id).await?;
    if let Some(why) = foreign_answer(&cred, user_id.as_deref()) {
        return Ok(Err(why));
    }
    let mut registered = parse_all(stored);
    let result = match pending {
        Pending::PasskeyAuthentication(st) => webauthn.finish_passkey_authentication(&cred, &st),
        Pending::DiscoverableAuthentication(st) => {
            let (user, cred_id) = match webauthn.identify_discoverable_authentication(&cred) {
                Ok(found) => found,
                Err(e) => return Ok(Err(Refused::Webauthn(e.to_string()))),
            };
            if user_id.as_deref() != Some(user.as_bytes().as_slice()) {
                return Ok(Err(Refused::OtherUser));
            }
            let Some(r) = registered
                .iter()
                .find(|r| r.passkey.cred_id().as_slice() == cred_id)
            else {
                return Ok(Err(Refused::Unknown));
            };
            webauthn.finish_discoverable_authentication_v2(&cred, *st, &r.passkey)
        }
        _ => return Ok(Err(Refused::NoChallenge)),
    };
    let result = match result {
        Ok(r) => r,
        Err(e) => return Ok(Err(Refused::Webauthn(e.to_string()))),
    };
    let Some(used) = registered
        .iter_mut()
        .find(|r| r.passkey.cred_id() == result.cred_id())
    else {
        return Ok(Err(Refused::Unknown));
    };
    // webauthn-rs's guidance: update the stored credential from the result
    // (the counter it checked, the backup state).
    let updated = match used.passkey.update_credential(&result) {
        Some(true) => serde_json::to_string(&used.passkey).ok(),
        _ => None,
    };
    let cred_id = used.stored.credential_id.clone();
    let label = state
        .store
        .write(move |tx| factors::passkey_used(tx, &cred_id, updated.as_deref(), now))
        .await?;
    Ok(Ok(label.unwrap_or_else(|| used.stored.label.clone())))
}

/// `POST /dashboard/passkeys/options`: `csrf`. Starts adding a passkey
/// (needs a fresh sign-in). Asks for a discoverable credential, so the
/// browser can offer it by itself (autofill), and for user verification.
pub async fn register_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body,
) -> HttpResponse {
    let (_, owner) = match fresh_owner_form(&req, &state, &body).await {
        Ok(p) => p,
        Err(resp) if resp.status() == StatusCode::UNAUTHORIZED => {
            return json_error(
                StatusCode::UNAUTHORIZED,
                "Adding a passkey needs a fresh sign-in. Sign out and in again, then add it.",
            );
        }
        Err(_) => return json_error(StatusCode::FORBIDDEN, "Reload the dashboard and try again."),
    };
    let Some(webauthn) = state.webauthn.as_deref() else {
        return json_error(StatusCode::NOT_FOUND, "Passkeys are not available here.");
    };
    let fresh_id = *Uuid::new_v4().as_bytes();
    let loaded = state
        .store
        .write(move |tx| {
            let id = factors::ensure_webauthn_user_id(tx, &fresh_id)?;
            Ok((id, factors::passkeys(tx)?))
        })
        .await;
    let (user_id, stored) = match loaded {
        Ok(l) => l,
        Err(e) => {
            log_chain(&e);
            return json_error(StatusCode::INTERNAL_SERVER_ERROR, "Try again in a moment.");
        }
    };
    let Ok(user) = Uuid::from_slice(&user_id) else {
        return json_error(StatusCode::INTERNAL_SERVER_ERROR, "Try again in a moment.");
    };
    let exclude = stored.iter().map(|s| s.credential_id.clone()).collect();
    let me = state.settings.me.as_str();
    let host = state.settings.me.url().host_str().unwrap_or(me);
    let display = if state.settings.name.is_empty() {
        host
    } else {
        state.settings.name.as_str()
    };
    match webauthn.start_passkey_registration(user, host, display, Some(exclude)) {
        Ok((mut ccr, reg)) => {
            if let Some(sel) = ccr.public_key.authenticator_selection.as_mut() {
                // Browsers treat "preferred" as "required": a passkey the
                // browser can offer by itself. `requireResidentKey` stays
                // false so a security key with no room left still works
                // with the sign-in button, which lists the owner's keys.
                sel.resident_key = Some(ResidentKeyRequirement::Preferred);
            }
            state.pending.put(
                owner.pending_key(REGISTER),
                StartedBy::Trusted,
                state.now(),
                CHALLENGE_SECONDS,
                Pending::PasskeyRegistration(Box::new(reg)),
            );
            json(StatusCode::OK, &ccr)
        }
        Err(e) => {
            log_chain(&e);
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "Try again in a moment.")
        }
    }
}

/// `POST /dashboard/passkeys`: `csrf`, `label`, `credential`. Stores the
/// new passkey (needs a fresh sign-in).
pub async fn register(
    FreshOwnerForm { params, owner }: FreshOwnerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(webauthn) = state.webauthn.as_deref() else {
        return see_other("/dashboard");
    };
    let now = state.now();
    let failed = |why: &str| {
        tracing::warn!(reason = why, "a passkey could not be added");
        super::respond::error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "The passkey was not added",
            "The browser's answer did not check out, or it took longer than five minutes. Try again from the dashboard.",
        )
    };
    let Some(Pending::PasskeyRegistration(reg)) =
        state.pending.take(&owner.pending_key(REGISTER), now)
    else {
        return failed("no registration is pending");
    };
    let credential = params.get("credential").ok().flatten().unwrap_or("");
    let Ok(cred) = serde_json::from_str::<RegisterPublicKeyCredential>(credential) else {
        return failed("unreadable credential");
    };
    let passkey = match webauthn.finish_passkey_registration(&cred, &reg) {
        Ok(p) => p,
        Err(e) => return failed(&e.to_string()),
    };
    let Ok(stored) = serde_json::to_string(&passkey) else {
        return failed("cannot serialise the passkey");
    };
    let cred_id = passkey.cred_id().to_vec();
    let label = clean_label(params.get("label").ok().flatten());
    back_to_dashboard(&state, move |tx| {
        factors::add_passkey(tx, &cred_id, &label, &stored, now)?;
        events::record(tx, now, EventKind::PasskeyAdded, None, Some(&label))
    })
    .await
}
