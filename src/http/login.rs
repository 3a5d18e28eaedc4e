//! Signing in and out, and the one-time setup link that sets the first
//! password. Failed logins are throttled per address and globally. After a
//! right password, the sign-in mode decides: signed in at once, or a
//! second factor first (`second_factor`); passkey sign-in is in `passkeys`.

use super::AppState;
use super::body::Body;
use super::respond::{
    body_text, error_page, html, internal_error_page, is_form, page_with_next, see_other,
    with_retry_after,
};
use super::second_factor;
use super::session;
use crate::clock::UnixTime;
use crate::domain::SecretHash;
use crate::errors::error_chain;
use crate::oauth::Params;
use crate::owner::factors::SignInMode;
use crate::owner::password;
use crate::owner::pending::{CHALLENGE_SECONDS, Pending, StartedBy};
use crate::owner::throttle::Guesser;
use crate::store::events::EventKind;
use crate::store::{events, owner, sessions};
use crate::views::{LoginPage, SetupPage};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

/// Only doorstep's own authorization endpoint may be continued to after a
/// login: it re-validates everything, so this is no open redirect (SEC-4).
/// The dashboard itself is the other place: a sensitive change asks the
/// owner to sign in again and comes back there (step-up).
pub fn safe_continue(target: Option<&str>) -> Option<&str> {
    let t = target?;
    let ok = (t == "/auth" || t.starts_with("/auth?") || t == "/dashboard")
        && !t.contains(['\\', '\r', '\n', '#'])
        && !t.starts_with("//");
    ok.then_some(t)
}

/// Renders the login form (also used by the authorization endpoint, and
/// for step-up). What it offers follows the sign-in mode: a password, a
/// passkey, or in passkey-only mode a passkey first and the password with
/// a recovery code as the way back in.
pub async fn render_login(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    continue_to: &str,
    client: Option<&str>,
    message: Option<&str>,
) -> HttpResponse {
    let sign_in = match second_factor::load(state).await {
        Ok(s) => s,
        Err(e) => return internal_error_page(state, &e),
    };
    let passkeys = sign_in.factors.passkeys > 0 && state.webauthn.is_some();
    let passkey_note = (sign_in.factors.passkeys > 0 && state.webauthn.is_none())
        .then(|| crate::owner::passkeys::unavailable_reason(&state.settings.issuer));
    with_login_csrf(req, state, |csrf| {
        let resp = html(
            status,
            &LoginPage {
                footer_host: state.footer_host(),
                me: state.settings.me.as_str(),
                csrf,
                continue_to,
                client,
                message,
                passkey_only: sign_in.mode == SignInMode::PasskeyOnly,
                passkeys,
                passkey_note: passkey_note.as_deref(),
            },
        );
        if passkeys {
            super::respond::allow_own_script(resp)
        } else {
            resp
        }
    })
}

/// Renders a form guarded by the login CSRF cookie (no session exists yet),
/// setting that cookie when the browser has none.
pub(super) fn with_login_csrf(
    req: &HttpRequest,
    state: &AppState,
    render: impl FnOnce(&str) -> HttpResponse,
) -> HttpResponse {
    let (secret, new_cookie) = session::login_secret(req, state);
    let mut resp = render(&crate::owner::session::csrf_token(&secret));
    if let Some(c) = new_cookie {
        let _ = resp.add_cookie(&c);
    }
    resp
}

pub async fn login_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = Params::parse(req.query_string());
    let cont = safe_continue(params.get("continue").ok().flatten()).unwrap_or("");
    render_login(&req, &state, StatusCode::OK, cont, None, None).await
}

pub async fn login(req: HttpRequest, state: web::Data<AppState>, body: Body) -> HttpResponse {
    if !is_form(&req) {
        return error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "Unexpected request",
            "The sign-in form must be sent as a form.",
        );
    }
    let params = Params::parse(body_text(&body));
    let cont = safe_continue(params.get("continue").ok().flatten())
        .unwrap_or("")
        .to_owned();
    if !session::login_csrf_ok(&req, &state, params.get("csrf").ok().flatten()) {
        return render_login(
            &req,
            &state,
            StatusCode::FORBIDDEN,
            &cont,
            None,
            Some("This form has expired. Please sign in again."),
        )
        .await;
    }
    let addr = session::client_addr(&req, &state);
    let now = state.now();
    let who = session::guesser(&req, &state).await;
    // The attempt is counted as a failure before the password is checked
    // (and forgiven on success), so simultaneous guesses cannot all slip
    // past the lockout while argon2 runs (SEC-16).
    if let Err(t) = state.login_throttle.begin(who, addr, now) {
        let msg = format!(
            "Too many failed attempts. Try again in {} seconds.",
            t.retry_after
        );
        let resp = render_login(
            &req,
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &cont,
            None,
            Some(&msg),
        )
        .await;
        return with_retry_after(resp, t.retry_after);
    }
    let presented = params
        .get("password")
        .ok()
        .flatten()
        .unwrap_or("")
        .to_owned();
    let ok = match password_matches(&state, presented).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    if !ok {
        tracing::warn!(%addr, "failed sign-in");
        return render_login(
            &req,
            &state,
            StatusCode::UNAUTHORIZED,
            &cont,
            None,
            Some("That password is not right."),
        )
        .await;
    }
    let sign_in = match second_factor::load(&state).await {
        Ok(s) => s,
        Err(e) => return internal_error_page(&state, &e),
    };
    let to = if cont.is_empty() { "/dashboard" } else { &cont };
    if sign_in.mode == SignInMode::Password {
        state.login_throttle.record_success(who);
        return signed_in(&req, &state, to, "with the password").await;
    }
    // A second factor is due: the attempt stays counted until it comes.
    second_factor_due(&req, &state, &sign_in, to, who, now)
}

/// Whether `presented` is the owner's password; Err is the page to answer
/// with when there is none yet or it cannot be checked.
async fn password_matches(state: &AppState, presented: String) -> Result<bool, HttpResponse> {
    let stored = match state.store.read(owner::password_hash).await {
        Ok(h) => h,
        Err(e) => return Err(internal_error_page(state, &e)),
    };
    let Some(stored) = stored else {
        return Err(error_page(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "No password is set yet",
            "Open the setup link doorstep printed when it started, or run \u{201c}doorstep password\u{201d} on the server.",
        ));
    };
    // argon2 is slow by design: on its own thread, off the async workers.
    state
        .passwords
        .verify(presented, stored)
        .await
        .map_err(|e| internal_error_page(state, &e))
}

/// The right password, and a second factor still to come: the sign-in is
/// held, bound to this browser's login cookie, and the second-factor form
/// is shown.
fn second_factor_due(
    req: &HttpRequest,
    state: &AppState,
    sign_in: &second_factor::SignIn,
    to: &str,
    counted: Guesser,
    now: UnixTime,
) -> HttpResponse {
    if sign_in.mode == SignInMode::PasskeyOnly && sign_in.recovery_codes_left == 0 {
        return error_page(
            state,
            StatusCode::FORBIDDEN,
            "Sign in with a passkey",
            "doorstep is set to sign in with passkeys only, and no recovery codes are left. \
             Use a passkey, or run `doorstep second-factor reset` on the server.",
        );
    }
    let Some(key) = session::login_pending_key(req, state, second_factor::PENDING) else {
        return error_page(
            state,
            StatusCode::BAD_REQUEST,
            "Cookies are needed",
            "Signing in needs cookies for doorstep. Allow them and try again.",
        );
    };
    state.pending.put(
        key,
        // Only the password's holder gets here.
        StartedBy::Trusted,
        now,
        CHALLENGE_SECONDS,
        Pending::SecondFactor {
            continue_to: to.to_owned(),
            attempts: 1,
            counted,
        },
    );
    second_factor::render(req, state, StatusCode::OK, sign_in, None)
}

/// Replaces any old session with a fresh one, records the sign-in and how
/// it was made (`method`, for the activity list), and redirects (303).
pub(super) async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    to: &str,
    method: &str,
) -> HttpResponse {
    if let Ok(Some(old)) = session::owner(req, state).await {
        let h = old.hash();
        // The new session is started anyway; the old one expires on its own.
        if let Err(e) = state.store.write(move |tx| sessions::delete(tx, &h)).await {
            tracing::warn!("could not end the old session: {}", error_chain(&e));
        }
    }
    let started = match session::start(state).await {
        Ok(cookie) => cookie,
        Err(e) => return internal_error_page(state, &e),
    };
    // The owner is in, by whatever means: a run of wrong app codes is over.
    state.code_guard.record_success();
    let now = state.now();
    let detail = method.to_owned();
    if let Err(e) = state
        .store
        .write(move |tx| events::record(tx, now, EventKind::Login, None, Some(&detail)))
        .await
    {
        // Not fatal: the owner is signed in, only the log line is missing.
        super::respond::log_chain(&e);
    }
    let mut resp = see_other(to);
    let _ = resp.add_cookie(&started);
    match session::remember_device(req, state).await {
        Ok(device) => {
            let _ = resp.add_cookie(&device);
        }
        // Not fatal: the owner is signed in, only the exemption is missing.
        Err(e) => super::respond::log_chain(&e),
    }
    resp
}

/// Signs out: ends the session and forgets this browser as a known device.
/// Only from doorstep's own pages (SEC-5, CONS-6): with a session, the form
/// must carry its CSRF token; without one (it expired), the browser must
/// say the request is same-origin. Otherwise nothing changes and no cookie
/// is set, so a cross-site form cannot clear the known-device cookie that
/// keeps the owner clear of strangers' guessing.
pub async fn logout(req: HttpRequest, state: web::Data<AppState>, body: Body) -> HttpResponse {
    let params = Params::parse(body_text(&body));
    match session::owner(&req, &state).await {
        Ok(Some(s)) if s.csrf_ok(params.get("csrf").ok().flatten()) => {
            let h = s.hash();
            if let Err(e) = state.store.write(move |tx| sessions::delete(tx, &h)).await {
                return internal_error_page(&state, &e);
            }
        }
        Ok(None) if session::same_origin(&req, &state) => {}
        Ok(_) => {
            return page_with_next(
                &state,
                StatusCode::FORBIDDEN,
                "You were not signed out",
                "This sign-out request did not come from doorstep's own pages, so nothing was changed.",
                "To sign out, open the dashboard and use its Sign out button.",
                Some(("/dashboard", "Open the dashboard")),
            );
        }
        Err(e) => return internal_error_page(&state, &e),
    }
    let mut resp = see_other("/login");
    let _ = resp.add_cookie(&session::clear(&state));
    match session::forget_device(&req, &state).await {
        Ok(c) => {
            let _ = resp.add_cookie(&c);
        }
        Err(e) => super::respond::log_chain(&e),
    }
    resp
}

fn setup_form(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    token: &str,
    message: Option<&str>,
) -> HttpResponse {
    with_login_csrf(req, state, |csrf| {
        html(
            status,
            &SetupPage {
                footer_host: state.footer_host(),
                me: state.settings.me.as_str(),
                csrf,
                token,
                min_len: password::MIN_LEN,
                message,
            },
        )
    })
}

fn expired_link(state: &AppState) -> HttpResponse {
    page_with_next(
        state,
        StatusCode::NOT_FOUND,
        "This setup link has been used or has expired",
        "A setup link sets the password once, within an hour of being printed.",
        "If you have set your password, sign in with it. Otherwise run \u{201c}doorstep password\u{201d} on the server, or restart doorstep to print a new link.",
        Some(("/login", "Sign in")),
    )
}

pub async fn setup_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = Params::parse(req.query_string());
    let token = params.get("token").ok().flatten().unwrap_or("").to_owned();
    let hash = SecretHash::of(&token);
    let now = state.now();
    match state
        .store
        .read(move |c| owner::setup_link_valid(c, &hash, now))
        .await
    {
        Ok(true) => setup_form(&req, &state, StatusCode::OK, &token, None),
        Ok(false) => expired_link(&state),
        Err(e) => internal_error_page(&state, &e),
    }
}

/// The new password from a form, if its `confirm` field repeats it.
pub(super) fn confirmed_password(params: &Params) -> Option<String> {
    let pw = params.get("password").ok().flatten().unwrap_or("");
    (params.get("confirm").ok().flatten().unwrap_or("") == pw).then(|| pw.to_owned())
}

pub async fn setup(req: HttpRequest, state: web::Data<AppState>, body: Body) -> HttpResponse {
    let params = Params::parse(body_text(&body));
    let token = params.get("token").ok().flatten().unwrap_or("").to_owned();
    if !session::login_csrf_ok(&req, &state, params.get("csrf").ok().flatten()) {
        return setup_form(
            &req,
            &state,
            StatusCode::FORBIDDEN,
            &token,
            Some("This form has expired. Please try again."),
        );
    }
    let Some(pw) = confirmed_password(&params) else {
        return setup_form(
            &req,
            &state,
            StatusCode::BAD_REQUEST,
            &token,
            Some("The two passwords differ."),
        );
    };
    // Only the holder of a live setup link may make doorstep hash: checked
    // before the (slow, memory-hungry) argon2 run, so anyone's POST with a
    // made-up token costs nothing. `take_setup_link` below still decides.
    let link = SecretHash::of(&token);
    let now = state.now();
    match state
        .store
        .read(move |c| owner::setup_link_valid(c, &link, now))
        .await
    {
        Ok(true) => {}
        Ok(false) => return expired_link(&state),
        Err(e) => return internal_error_page(&state, &e),
    }
    let hashing = state.passwords.hash(pw).await;
    let hashed = match hashing {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            return setup_form(
                &req,
                &state,
                StatusCode::BAD_REQUEST,
                &token,
                Some(&e.to_string()),
            );
        }
        Err(e) => return internal_error_page(&state, &e),
    };
    let taken = state
        .store
        .write(move |tx| {
            if !owner::take_setup_link(tx, &link, now)? {
                return Ok(false);
            }
            owner::set_password(tx, &hashed, now, "through the setup link")?;
            Ok(true)
        })
        .await;
    match taken {
        Ok(true) => signed_in(&req, &state, "/dashboard", "through the setup link").await,
        Ok(false) => expired_link(&state),
        Err(e) => internal_error_page(&state, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_continue;

    #[test]
    fn only_the_authorization_endpoint_can_be_continued_to() {
        assert_eq!(
            safe_continue(Some("/auth?client_id=x")),
            Some("/auth?client_id=x")
        );
        assert_eq!(safe_continue(Some("/dashboard")), Some("/dashboard"));
        for bad in [
            "https://evil/",
            "//evil/",
            "/auth\\@evil",
            "/dashboard/x",
            "/authx",
            "/auth?x#y",
        ] {
            assert_eq!(safe_continue(Some(bad)), None, "{bad}");
        }
    }
}
