//! Reading and writing the owner's session cookie, the login form's CSRF
//! cookie, and the client's address for throttling.

use super::AppState;
use crate::domain::{Secret, SecretHash};
use crate::owner::session::{csrf_matches, csrf_token, login_cookie_name, session_cookie_name};
use crate::store::{StoreResult, sessions};
use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use std::net::IpAddr;

/// The signed-in owner's session: the secret the browser holds.
pub struct OwnerSession {
    secret: String,
}

impl OwnerSession {
    pub fn csrf(&self) -> String {
        csrf_token(&self.secret)
    }

    pub fn csrf_ok(&self, presented: Option<&str>) -> bool {
        csrf_matches(&self.secret, presented)
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.secret)
    }
}

/// The owner's session, if this browser is signed in.
pub async fn owner(req: &HttpRequest, state: &AppState) -> StoreResult<Option<OwnerSession>> {
    let name = session_cookie_name(state.settings.secure_cookies());
    let Some(cookie) = req.cookie(name) else {
        return Ok(None);
    };
    let secret = cookie.value().to_owned();
    if secret.len() != 43 {
        return Ok(None);
    }
    let hash = SecretHash::of(&secret);
    let now = state.now();
    let found = state
        .store
        .read(move |c| sessions::find(c, &hash, now))
        .await?;
    Ok(match found {
        Some(true) => Some(OwnerSession { secret }),
        _ => None,
    })
}

fn base_cookie<'c>(name: &'c str, value: String, state: &AppState) -> Cookie<'c> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.secure_cookies())
        .finish()
}

/// Starts a fresh signed-in session (a new id at every login).
pub async fn start(state: &AppState) -> StoreResult<Cookie<'static>> {
    let secret = Secret::generate();
    let hash = secret.hash();
    let now = state.now();
    let lifetime = state.settings.session_lifetime.as_secs() as i64;
    state
        .store
        .write(move |tx| sessions::create(tx, &hash, true, now, now + lifetime))
        .await?;
    let mut c = base_cookie(
        session_cookie_name(state.settings.secure_cookies()),
        secret.expose().to_owned(),
        state,
    );
    c.set_max_age(CookieDuration::seconds(lifetime));
    Ok(c)
}

pub fn clear(state: &AppState) -> Cookie<'static> {
    let mut c = base_cookie(
        session_cookie_name(state.settings.secure_cookies()),
        String::new(),
        state,
    );
    c.make_removal();
    c
}

/// The login form's CSRF secret: a double-submit cookie, so anonymous
/// visitors cause no database writes. Returns the secret and, when a new
/// one was made, the cookie to set.
pub fn login_secret(req: &HttpRequest, state: &AppState) -> (String, Option<Cookie<'static>>) {
    let name = login_cookie_name(state.settings.secure_cookies());
    if let Some(c) = req.cookie(name)
        && c.value().len() == 43
    {
        return (c.value().to_owned(), None);
    }
    let secret = Secret::generate().expose().to_owned();
    let mut c = base_cookie(name, secret.clone(), state);
    c.set_max_age(CookieDuration::hours(12));
    (secret, Some(c))
}

pub fn login_csrf_ok(req: &HttpRequest, state: &AppState, presented: Option<&str>) -> bool {
    let name = login_cookie_name(state.settings.secure_cookies());
    match req.cookie(name) {
        Some(c) => csrf_matches(c.value(), presented),
        None => false,
    }
}

/// The client's address: the peer, or — only when the peer is a trusted
/// proxy — the right-most `X-Forwarded-For` entry that is not one (SEC-18).
///
/// Addresses are compared in canonical form: on a dual-stack listener
/// (`[::]`) an IPv4 proxy connects as `::ffff:a.b.c.d`, and it must still
/// match `trusted_proxies = "a.b.c.d"`; otherwise every visitor would share
/// the proxy's address and a stranger's failed logins would lock the owner
/// out too (SEC-16).
pub fn client_addr(req: &HttpRequest, state: &AppState) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_canonical())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let trusted = |a: &IpAddr| {
        state
            .settings
            .trusted_proxies
            .iter()
            .any(|t| t.to_canonical() == *a)
    };
    if !trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(|a| a.to_canonical())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted(a))
        .unwrap_or(peer)
}
