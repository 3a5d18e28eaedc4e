//! Configuration: defaults, then an optional TOML file, then `DOORSTEP_*`
//! environment variables, then command-line flags (STYLE habit 8). Each
//! key is declared once, in `keys.rs`; `sources.rs` gathers the values
//! and refuses unknown keys and variables; `from_raw` below turns them
//! into `Settings`. Every error names the key, where it was set and what
//! to do. The result is fully validated: the rest of the server never
//! re-checks it.

mod error;
pub mod keys;
mod proxies;
mod sources;
mod values;

pub use error::ConfigError;
pub use keys::{DefaultValue, KEYS, KeySpec, Kind, key};
pub use proxies::{ProxyListError, TrustedProxies};
pub use sources::{CONFIG_VAR, Layers, Origin, load, read_env, read_toml};
pub use values::parse_duration;

use crate::domain::{ProfileUrl, is_loopback_ip, is_loopback_url};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;
use values::Values;

/// Where the IndieAuth rules for URLs are explained, for error messages.
const PROFILE_URL_RULES: &str = "https://indieauth.spec.indieweb.org/#user-profile-url";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkcePolicy {
    /// S256 required; a client without PKCE needs the owner's explicit leave.
    S256,
    /// S256 or plain, as the client asks.
    Any,
    /// Requests without PKCE accepted too; the consent page says so.
    Optional,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people and journald.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Always ends with `/`; one spelling everywhere (ISS-2).
    pub issuer: Url,
    pub me: ProfileUrl,
    pub database: PathBuf,
    pub name: String,
    pub photo: Option<Url>,
    pub email: Option<String>,
    pub micropub: Option<Url>,
    pub microsub: Option<Url>,
    pub code_lifetime: Duration,
    pub access_token_lifetime: Duration,
    pub refresh_token_lifetime: Duration,
    pub session_lifetime: Duration,
    pub pkce: PkcePolicy,
    pub allow_private_client_fetch: bool,
    pub introspection_self_auth: bool,
    pub trusted_proxies: TrustedProxies,
    /// What one connection may cost: the per-address cap and the deadlines
    /// on slow clients.
    pub limits: ConnectionLimits,
    pub log: String,
    pub log_format: LogFormat,
    /// Loopback issuer: the spec's URL rules (DISC-16, DISC-19) are relaxed.
    pub local_development: bool,
    /// `issuer` was not given, so it is `http://<listen>/` and names the
    /// address actually bound once the listener is (`name_bound_address`).
    pub issuer_follows_listen: bool,
}

/// Bounds on what slow or greedy clients can hold (issue 11, slow clients).
/// Only `per_address` is a configuration key; the deadlines are fixed for
/// operators and exist as fields so tests can shorten them instead of
/// waiting.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Open connections allowed from one client address (IPv6: one /64).
    /// Trusted proxies are exempt: behind one, every client shares its
    /// address. The default, 128, is far above a browser's 6 and leaves
    /// room for a resource server's pool of keep-alive connections
    /// (`bench/verify.sh` drives 64 from one address).
    pub per_address: usize,
    /// A connection's first request head must arrive within this long of
    /// the connection opening (actix answers 408 and closes).
    pub header_deadline: Duration,
    /// A request body must arrive whole within this long of its head
    /// (408, and the connection is closed).
    pub body_deadline: Duration,
    /// A silent connection between requests is closed after this long. And
    /// whatever it sends, a connection with no request in service is closed
    /// after keep-alive plus the header deadline: a client cannot dribble
    /// the head of a later request forever either.
    pub keep_alive: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            per_address: 128,
            header_deadline: Duration::from_secs(5),
            body_deadline: Duration::from_secs(10),
            keep_alive: Duration::from_secs(5),
        }
    }
}

/// Raw string values by key, as gathered from every layer.
pub type RawValues = BTreeMap<String, String>;

/// The issuer as given: an absolute https URL (http only on loopback), in
/// canonical form, with its trailing slash and nothing after the path.
fn parse_issuer(given: &str) -> Result<Url, ConfigError> {
    let bad = |message: String| ConfigError::invalid(key::issuer.name, message);
    let issuer = Url::parse(given).map_err(|_| {
        bad(format!(
            "`{given}` is not an absolute URL; write your public address in full, such as \
             https://auth.example.com/"
        ))
    })?;
    if issuer.query().is_some() || issuer.fragment().is_some() || given.contains(['?', '#']) {
        return Err(bad(
            "must not have a query (?…) or fragment (#…): apps add their own parameters to \
             the endpoints under it"
                .into(),
        ));
    }
    // DISC-3, DISC-4: doorstep answers at the root of its address, and the
    // metadata URL (RFC 8414 §3) must start with the issuer; with a path
    // after the host neither holds, and no app could sign in.
    if issuer.path() != "/" {
        return Err(bad(
            "must be the root of a host, with nothing after it: doorstep answers at the \
             root of its address. Give doorstep a host of its own, such as \
             https://auth.example.com/ \
             (https://indieauth.spec.indieweb.org/#indieauth-server-metadata)"
                .into(),
        ));
    }
    if !given.ends_with('/') {
        return Err(bad(format!("must end with a slash: {}", issuer.as_str())));
    }
    if issuer.as_str() != given {
        return Err(bad(format!(
            "write it as {} (apps compare it letter for letter)",
            issuer.as_str()
        )));
    }
    if !issuer.username().is_empty() || issuer.password().is_some() {
        return Err(bad("must not contain a user name or password".into()));
    }
    match issuer.scheme() {
        "https" => {}
        "http" if is_loopback_url(&issuer) => {}
        _ => {
            return Err(bad(format!(
                "must be https: IndieAuth apps refuse a server on plain http \
                 (https://indieauth.spec.indieweb.org/). Put doorstep behind a reverse proxy \
                 that holds the certificate and set issuer to its https address, such as \
                 https://{}/; plain http is only for local development on a loopback address \
                 (127.0.0.1, ::1, localhost)",
                issuer.host_str().unwrap_or("auth.example.com")
            )));
        }
    }
    Ok(issuer)
}

/// The issuer when none is given: `http://<listen>/`, which only makes
/// sense on loopback. Listening anywhere else means other machines are
/// meant to reach doorstep, and they need its public https address.
fn default_issuer(listen: SocketAddr) -> Result<Url, ConfigError> {
    let local = format!("http://{listen}/");
    match Url::parse(&local) {
        Ok(url) if is_loopback_ip(listen.ip()) => Ok(url),
        _ => Err(ConfigError::invalid(
            key::listen.name,
            format!(
                "{listen} can be reached from other machines, so doorstep needs the public \
                 https address they reach it by: set `issuer`, such as \
                 issuer = \"https://auth.example.com/\" in the file or \
                 --issuer https://auth.example.com/ (the default, {local}, works only on this \
                 machine). Behind a reverse proxy on this machine, keep listen on loopback, \
                 such as 127.0.0.1:{}",
                listen.port()
            ),
        )),
    }
}

/// `me`, or the issuer when it is not set: an IndieAuth profile URL.
fn profile_url(v: &Values<'_>, issuer: &Url, local: bool) -> Result<ProfileUrl, ConfigError> {
    let bad = |message: String| ConfigError::invalid(key::me.name, message);
    match v.given(&key::me) {
        Some(given) => ProfileUrl::parse(given, local).map_err(|e| {
            bad(format!(
                "`{given}` {e}, so it cannot be a profile URL (see {PROFILE_URL_RULES})"
            ))
        }),
        None => ProfileUrl::parse(issuer.as_str(), local).map_err(|e| {
            bad(format!(
                "is not set, so your profile URL would be the issuer, {issuer}, which {e}. \
                 Set `me` to your homepage, such as https://example.com/ (see \
                 {PROFILE_URL_RULES})"
            ))
        }),
    }
}

fn email(v: &Values<'_>) -> Result<Option<String>, ConfigError> {
    match v.get(&key::email) {
        Some(e) if !e.contains('@') || e.contains(char::is_whitespace) => Err(
            ConfigError::invalid(key::email.name, format!("`{e}` is not an email address")),
        ),
        e => Ok(e.map(str::to_owned)),
    }
}

fn log_filter(v: &Values<'_>) -> Result<String, ConfigError> {
    let log = v.get(&key::log).unwrap_or_default();
    match crate::telemetry::parse_filter(log) {
        Ok(_) => Ok(log.to_owned()),
        Err(e) => Err(ConfigError::invalid(
            key::log.name,
            format!(
                "`{log}` is not a log filter ({e}); write a level such as info, or levels per \
                 module such as info,doorstep::clients=debug"
            ),
        )),
    }
}

impl Settings {
    /// What is actually wrong with a loopback issuer, in plain words: it is
    /// reachable only from this machine, and, depending on how it is written,
    /// it also breaks IndieAuth's https and profile URL rules
    /// (https://indieauth.spec.indieweb.org/#url).
    pub fn local_development_warning(&self) -> String {
        let issuer = &self.issuer;
        let mut s = String::from(
            "the issuer is a loopback address, reachable only from this machine; apps and \
             servers elsewhere cannot use it.",
        );
        if issuer.scheme() == "http" {
            s.push_str(" IndieAuth requires https endpoints; this one is plain http.");
        }
        // The profile URL's own rules (IndieAuth §3.2), which local
        // development lets `me` break: whether it is the issuer (doorstep
        // serving the homepage) or a page of its own.
        let me = self.me.url();
        let which = if self.serves_homepage() {
            "this one (the issuer)"
        } else {
            "`me`"
        };
        if me.port().is_some() {
            s.push_str(&format!(
                " A profile URL may not carry a port, and {which} does."
            ));
        }
        if matches!(me.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_))) {
            s.push_str(&format!(
                " A profile URL must use a domain name, not an IP address, as {which} does."
            ));
        }
        if !self.serves_homepage() && me.scheme() == "http" {
            s.push_str(" `me` is plain http; apps expect your homepage on https.");
        }
        s.push_str(" Set `issuer` (and `me`) to your public https URLs to go live.");
        s
    }

    /// Builds settings from the merged raw values (later layers already
    /// overwrote earlier ones).
    pub fn from_raw(raw: &RawValues) -> Result<Settings, ConfigError> {
        if let Some(unknown) = raw.keys().find(|k| keys::find(k).is_none()) {
            return Err(ConfigError::unknown_key(unknown));
        }
        let v = Values(raw);

        let listen_s = v.get(&key::listen).unwrap_or_default();
        let listen: SocketAddr = listen_s.parse().map_err(|_| {
            ConfigError::invalid(
                key::listen.name,
                format!(
                    "`{listen_s}` is not ADDRESS:PORT; write an IP address and a port, such as \
                     127.0.0.1:8080 or [::1]:8080"
                ),
            )
        })?;
        let issuer_follows_listen = v.given(&key::issuer).is_none();
        let issuer = match v.given(&key::issuer) {
            Some(given) => parse_issuer(given)?,
            None => default_issuer(listen)?,
        };
        let local_development = is_loopback_url(&issuer);
        let me = profile_url(&v, &issuer, local_development)?;

        let pkce = match v.choice(&key::pkce)? {
            "any" => PkcePolicy::Any,
            "optional" => PkcePolicy::Optional,
            _ => PkcePolicy::S256,
        };
        let log_format = match v.choice(&key::log_format)? {
            "json" => LogFormat::Json,
            _ => LogFormat::Text,
        };
        let trusted_proxies = v
            .get(&key::trusted_proxies)
            .unwrap_or_default()
            .parse()
            .map_err(|e: ProxyListError| {
                ConfigError::invalid(key::trusted_proxies.name, e.to_string())
            })?;
        let per_address =
            usize::try_from(v.count(&key::connections_per_address)?).unwrap_or(usize::MAX);

        let email = email(&v)?;
        let log = log_filter(&v)?;

        Ok(Settings {
            listen,
            database: PathBuf::from(v.get(&key::database).unwrap_or_default()),
            name: v.get(&key::name).map_or_else(
                || me.url().host_str().unwrap_or("me").to_owned(),
                str::to_owned,
            ),
            photo: v.url(&key::photo)?,
            email,
            micropub: v.url(&key::micropub)?,
            microsub: v.url(&key::microsub)?,
            code_lifetime: v.duration(&key::code_lifetime)?,
            access_token_lifetime: v.duration(&key::access_token_lifetime)?,
            refresh_token_lifetime: v.duration(&key::refresh_token_lifetime)?,
            session_lifetime: v.duration(&key::session_lifetime)?,
            pkce,
            allow_private_client_fetch: v.flag(&key::allow_private_client_fetch)?,
            introspection_self_auth: v.flag(&key::introspection_self_auth)?,
            trusted_proxies,
            limits: ConnectionLimits {
                per_address,
                ..ConnectionLimits::default()
            },
            log,
            log_format,
            issuer,
            me,
            local_development,
            issuer_follows_listen,
        })
    }

    /// Names the address the server really listens on where the issuer was
    /// left to follow `listen`: with `--listen 127.0.0.1:0` and no `issuer`,
    /// the issuer becomes `http://127.0.0.1:<port>/` with the port the
    /// system chose, not port 0, and `me` follows when it is the issuer (its
    /// default). An issuer or `me` that was given stays as it was.
    pub fn name_bound_address(&mut self, bound: SocketAddr) {
        self.listen = bound;
        if !self.issuer_follows_listen || !is_loopback_ip(bound.ip()) {
            return;
        }
        let Ok(issuer) = Url::parse(&format!("http://{bound}/")) else {
            return;
        };
        if self.serves_homepage() {
            match ProfileUrl::parse(issuer.as_str(), self.local_development) {
                Ok(me) => self.me = me,
                // The same shape as the issuer it replaces, which was a
                // valid profile URL: not reached; keep both as they were.
                Err(_) => return,
            }
        }
        self.issuer = issuer;
    }

    /// An endpoint URL under the issuer (always absolute, no query: DISC-15).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer.as_str(), path.trim_start_matches('/'))
    }

    /// The issuer string, spelled exactly as in the metadata (ISS-2).
    pub fn issuer_str(&self) -> &str {
        self.issuer.as_str()
    }

    /// The issuer is always the root of its host (`parse_issuer`, DISC-4).
    pub fn metadata_url(&self) -> String {
        format!("{}.well-known/oauth-authorization-server", self.issuer)
    }

    /// True when doorstep serves the owner's homepage itself.
    pub fn serves_homepage(&self) -> bool {
        self.me.as_str() == self.issuer.as_str()
    }

    pub fn secure_cookies(&self) -> bool {
        self.issuer.scheme() == "https"
    }
}

#[cfg(test)]
mod tests;
