//! Reading and writing the owner's session cookie, the login form's CSRF
//! cookie, and the client's address for throttling.

use super::AppState;
use crate::config::TrustedProxies;
use crate::domain::{Secret, SecretHash};
use crate::errors::error_chain;
use crate::owner::session::{
    csrf_matches, csrf_token, device_cookie_name, login_cookie_name, session_cookie_name,
};
use crate::owner::throttle::Guesser;
use crate::store::{StoreResult, owner as owner_store, sessions};
use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use std::net::IpAddr;

/// The signed-in owner's session: the secret the browser holds.
pub struct OwnerSession {
    secret: String,
    verified_at: Option<i64>,
}

/// How recent a sign-in must be for the sensitive changes (step-up).
pub const STEP_UP_SECONDS: i64 = 5 * 60;

impl OwnerSession {
    /// Whether the owner signed in to this session within the last five
    /// minutes: adding or removing a factor, changing the mode or the
    /// password, new recovery codes and new resource-server secrets ask
    /// for it, so a browser left signed in is not enough for them.
    pub fn fresh(&self, now: i64) -> bool {
        self.verified_at
            .is_some_and(|t| now >= t && now - t <= STEP_UP_SECONDS)
    }

    /// A key for what this session has pending (a WebAuthn challenge, a
    /// TOTP secret being enrolled), never the session id itself.
    pub fn pending_key(&self, purpose: &str) -> SecretHash {
        SecretHash::of(&format!("{purpose}\0{}", self.secret))
    }

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
    if !Secret::is_well_formed(&secret) {
        return Ok(None);
    }
    let hash = SecretHash::of(&secret);
    let now = state.now();
    let found = state
        .store
        .read(move |c| sessions::find(c, &hash, now))
        .await?;
    Ok(match found {
        Some(f) if f.authenticated => Some(OwnerSession {
            secret,
            verified_at: f.verified_at,
        }),
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

/// The hash of this browser's device cookie, if it carries a well-formed one.
fn device_hash(req: &HttpRequest, state: &AppState) -> Option<SecretHash> {
    req.cookie(device_cookie_name(state.settings.secure_cookies()))
        .filter(|c| Secret::is_well_formed(c.value()))
        .map(|c| SecretHash::of(c.value()))
}

/// Signing out forgets this browser as a known device, so a shared
/// computer does not keep the owner's exemption from the global login cap.
/// Returns the cookie that removes it.
pub async fn forget_device(req: &HttpRequest, state: &AppState) -> StoreResult<Cookie<'static>> {
    if let Some(hash) = device_hash(req, state) {
        state
            .store
            .write(move |tx| owner_store::forget_device(tx, &hash))
            .await?;
    }
    let mut c = base_cookie(
        device_cookie_name(state.settings.secure_cookies()),
        String::new(),
        state,
    );
    c.make_removal();
    Ok(c)
}

/// True when this browser carries the cookie of a device the owner signed
/// in from before (it exempts the browser from the global login cap).
pub async fn known_device(req: &HttpRequest, state: &AppState) -> bool {
    known_device_hash(req, state).await.is_some()
}

/// Who this browser's sign-in attempts count against: its known device,
/// or its address.
pub async fn guesser(req: &HttpRequest, state: &AppState) -> Guesser {
    match known_device_hash(req, state).await {
        Some(hash) => Guesser::KnownDevice(hash),
        None => Guesser::Address(client_addr(req, state)),
    }
}

/// The hash of this browser's device cookie, when it names a device the
/// owner signed in from before.
async fn known_device_hash(req: &HttpRequest, state: &AppState) -> Option<SecretHash> {
    let hash = device_hash(req, state)?;
    state
        .store
        .read(move |conn| owner_store::is_known_device(conn, &hash))
        .await
        .unwrap_or_else(|e| {
            // Not known, then: the browser is asked for the second factor.
            tracing::warn!("could not look up a known device: {}", error_chain(&e));
            false
        })
        .then_some(hash)
}

/// Remembers this browser after a successful sign-in: refreshes its device
/// cookie if it has a valid one, or issues a new one (a year long).
pub async fn remember_device(req: &HttpRequest, state: &AppState) -> StoreResult<Cookie<'static>> {
    let secure = state.settings.secure_cookies();
    let secret = match req.cookie(device_cookie_name(secure)) {
        Some(c) if Secret::is_well_formed(c.value()) && known_device(req, state).await => {
            c.value().to_owned()
        }
        _ => Secret::generate().expose().to_owned(),
    };
    let hash = SecretHash::of(&secret);
    let now = state.now();
    state
        .store
        .write(move |tx| owner_store::remember_device(tx, &hash, now))
        .await?;
    let mut c = base_cookie(device_cookie_name(secure), secret, state);
    c.set_max_age(CookieDuration::seconds(owner_store::DEVICE_LIFETIME));
    Ok(c)
}

/// The login form's CSRF secret: a double-submit cookie, so anonymous
/// visitors cause no database writes. Returns the secret and, when a new
/// one was made, the cookie to set.
pub fn login_secret(req: &HttpRequest, state: &AppState) -> (String, Option<Cookie<'static>>) {
    let name = login_cookie_name(state.settings.secure_cookies());
    if let Some(c) = req.cookie(name)
        && Secret::is_well_formed(c.value())
    {
        return (c.value().to_owned(), None);
    }
    let secret = Secret::generate().expose().to_owned();
    let mut c = base_cookie(name, secret.clone(), state);
    c.set_max_age(CookieDuration::hours(12));
    (secret, Some(c))
}

/// A key for what this (not yet signed-in) browser has pending: a password
/// accepted and a second factor awaited, a WebAuthn sign-in challenge. Bound
/// to the login cookie, so another browser cannot finish it.
pub fn login_pending_key(req: &HttpRequest, state: &AppState, purpose: &str) -> Option<SecretHash> {
    let name = login_cookie_name(state.settings.secure_cookies());
    req.cookie(name)
        .filter(|c| Secret::is_well_formed(c.value()))
        .map(|c| SecretHash::of(&format!("{purpose}\0{}", c.value())))
}

pub fn login_csrf_ok(req: &HttpRequest, state: &AppState, presented: Option<&str>) -> bool {
    let name = login_cookie_name(state.settings.secure_cookies());
    match req.cookie(name) {
        Some(c) => csrf_matches(c.value(), presented),
        None => false,
    }
}

/// Whether a browser says this request comes from doorstep's own pages:
/// `Sec-Fetch-Site: same-origin`, or else an `Origin` equal to the
/// issuer's. Browsers set both and pages cannot forge them; a request
/// with neither is not taken as same-origin (SEC-5).
pub fn same_origin(req: &HttpRequest, state: &AppState) -> bool {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(site) = header("sec-fetch-site") {
        return site.eq_ignore_ascii_case("same-origin");
    }
    header("origin")
        == Some(
            state
                .settings
                .issuer
                .origin()
                .ascii_serialization()
                .as_str(),
        )
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
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    // SEC-18: read every line, even one with bytes outside visible ASCII.
    // A proxy appends the client's address to the line the client sent
    // (nginx `$proxy_add_x_forwarded_for`), so dropping an unreadable line
    // dropped the proxy's own entry too: the client was taken for the proxy
    // and escaped its own limits (SEC-16). An odd byte now only makes its
    // entry garbage, which ends the walk there.
    let values: Vec<std::borrow::Cow<'_, str>> = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|v| String::from_utf8_lossy(v.as_bytes()))
        .collect();
    forwarded_client(
        peer,
        values.iter().map(|v| v.as_ref()),
        &state.settings.trusted_proxies,
    )
}

/// SEC-18: walks `X-Forwarded-For` from the right, past the trusted
/// proxies, to the first address a trusted proxy vouched for. Addresses
/// are compared in canonical form (a dual-stack listener sees an IPv4
/// proxy as `::ffff:a.b.c.d`). An entry that is not an address — `unknown`,
/// garbage — ends the walk at the last trusted hop: everything left of it
/// was written by the client and must not be believed.
pub fn forwarded_client<'a>(
    peer: IpAddr,
    header_values: impl Iterator<Item = &'a str>,
    trusted_proxies: &TrustedProxies,
) -> IpAddr {
    let trusted = |a: &IpAddr| trusted_proxies.contains(*a);
    let mut client = peer.to_canonical();
    if !trusted(&client) {
        return client;
    }
    let entries: Vec<&str> = header_values.flat_map(|v| v.split(',')).collect();
    for entry in entries.into_iter().rev() {
        let Some(addr) = parse_forwarded_entry(entry.trim()) else {
            return client;
        };
        client = addr.to_canonical();
        if !trusted(&client) {
            return client;
        }
    }
    client
}

/// `192.0.2.1`, `192.0.2.1:5678`, `2001:db8::1`, `[2001:db8::1]` or
/// `[2001:db8::1]:443` (proxies differ in whether they add the port).
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(a) = entry.parse::<IpAddr>() {
        return Some(a);
    }
    if let Ok(sa) = entry.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse::<IpAddr>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn sec_18_only_trusted_proxies_are_walked_past() {
        let proxy = TrustedProxies::from(ip("127.0.0.1"));
        // Not from the proxy: the header is ignored.
        assert_eq!(
            forwarded_client(ip("198.51.100.1"), ["203.0.113.9"].into_iter(), &proxy),
            ip("198.51.100.1")
        );
        // From the proxy: the right-most untrusted entry, ports or not.
        for header in [
            "203.0.113.9",
            "10.9.9.9, 203.0.113.9",
            "203.0.113.9:4711",
            "1.1.1.1, 203.0.113.9:4711, 127.0.0.1",
        ] {
            assert_eq!(
                forwarded_client(ip("127.0.0.1"), [header].into_iter(), &proxy),
                ip("203.0.113.9"),
                "{header}"
            );
        }
        assert_eq!(
            forwarded_client(
                ip("::ffff:127.0.0.1"),
                ["[2001:db8::7]:443"].into_iter(),
                &proxy
            ),
            ip("2001:db8::7")
        );
    }

    /// A range in `trusted_proxies` (a proxy pool, a container network)
    /// is walked past like a single address.
    #[test]
    fn sec_18_a_trusted_range_is_walked_past_as_a_whole() {
        let pool: TrustedProxies = "10.0.0.0/8, fd00::/8".parse().unwrap();
        assert_eq!(
            forwarded_client(
                ip("::ffff:10.2.2.2"),
                ["203.0.113.9, 10.1.1.1, [fd00::5]:80"].into_iter(),
                &pool
            ),
            ip("203.0.113.9")
        );
        assert_eq!(
            forwarded_client(ip("11.0.0.1"), ["203.0.113.9"].into_iter(), &pool),
            ip("11.0.0.1")
        );
    }

    #[test]
    fn sec_18_garbage_stops_the_walk_instead_of_trusting_the_client() {
        let proxy = TrustedProxies::from(ip("127.0.0.1"));
        // The client wrote "1.2.3.4, unknown"; the proxy appended nothing
        // parseable: we must not fall through to the client's 1.2.3.4.
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), ["1.2.3.4, unknown"].into_iter(), &proxy),
            ip("127.0.0.1")
        );
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), std::iter::empty(), &proxy),
            ip("127.0.0.1")
        );
    }
}
