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

use crate::domain::ProfileUrl;
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

fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

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
    if !given.ends_with('/') {
        return Err(bad(format!("must end with a slash: {given}/")));
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
        Ok(url) if listen.ip().is_loopback() => Ok(url),
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
fn profile_url(v: &Values, issuer: &Url, local: bool) -> Result<ProfileUrl, ConfigError> {
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
        if issuer.port().is_some() {
            s.push_str(" A profile URL may not carry a port, and this one does.");
        }
        if matches!(issuer.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_))) {
            s.push_str(" A profile URL must use a domain name, not an IP address.");
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
            .parse::<TrustedProxies>()
            .map_err(|e| ConfigError::invalid(key::trusted_proxies.name, e.to_string()))?;
        let per_address =
            usize::try_from(v.count(&key::connections_per_address)?).unwrap_or(usize::MAX);

        let email = v.get(&key::email).map(str::to_owned);
        if let Some(e) = &email
            && (!e.contains('@') || e.contains(char::is_whitespace))
        {
            return Err(ConfigError::invalid(
                key::email.name,
                format!("`{e}` is not an email address"),
            ));
        }
        let log = v.get(&key::log).unwrap_or_default().to_owned();
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log) {
            return Err(ConfigError::invalid(
                key::log.name,
                format!(
                    "`{log}` is not a log filter ({e}); write a level such as info, or levels \
                     per module such as info,doorstep::clients=debug"
                ),
            ));
        }

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
        })
    }

    /// An endpoint URL under the issuer (always absolute, no query: DISC-15).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer.as_str(), path.trim_start_matches('/'))
    }

    /// The issuer string, spelled exactly as in the metadata (ISS-2).
    pub fn issuer_str(&self) -> &str {
        self.issuer.as_str()
    }

    pub fn metadata_url(&self) -> String {
        // Host-root issuer recommended (DISC-4): for an issuer with a path the
        // RFC 8414 well-known URL moves in front of the path.
        let path = self.issuer.path().trim_end_matches('/');
        let mut url = self.issuer.clone();
        url.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
        url.to_string()
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
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn raw(pairs: &[(&str, &str)]) -> RawValues {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        Settings::from_raw(&raw(pairs)).unwrap_err().to_string()
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn the_local_development_warning_says_what_is_true_of_the_issuer() {
        let plain = Settings::from_raw(&RawValues::new()).unwrap();
        let w = plain.local_development_warning();
        assert!(
            w.contains("plain http") && w.contains("port") && w.contains("IP address"),
            "{w}"
        );
        let tls = Settings::from_raw(&raw(&[("issuer", "https://localhost:8443/")])).unwrap();
        assert!(tls.local_development);
        let w = tls.local_development_warning();
        assert!(w.contains("loopback") && w.contains("port"), "{w}");
        assert!(
            !w.contains("http endpoints") && !w.contains("plain http"),
            "{w}"
        );
        assert!(!w.contains("IP address"), "{w}");
    }

    #[test]
    fn defaults_are_local_development_on_8080() {
        let s = Settings::from_raw(&RawValues::new()).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.issuer.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(s.me.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(s.name, "127.0.0.1");
        assert_eq!(s.database, PathBuf::from("./doorstep.db"));
        assert!(s.local_development);
        assert!(s.serves_homepage());
        assert_eq!(s.pkce, PkcePolicy::S256);
        assert_eq!(s.code_lifetime, Duration::from_secs(120));
        assert_eq!(s.access_token_lifetime, Duration::from_secs(90 * 86_400));
        assert_eq!(s.session_lifetime, Duration::from_secs(30 * 86_400));
        assert!(!s.allow_private_client_fetch);
        assert!(s.introspection_self_auth);
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(s.log, "info");
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(
            s.metadata_url(),
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server"
        );
    }

    /// The declared defaults are the ones in force: writing each one out
    /// changes nothing.
    #[test]
    fn setting_every_key_to_its_declared_default_changes_nothing() {
        let defaults = Settings::from_raw(&RawValues::new()).unwrap();
        let explicit: RawValues = KEYS
            .iter()
            .filter_map(|k| match k.default {
                DefaultValue::Value(v) => Some((k.name.to_owned(), v.to_owned())),
                _ => None,
            })
            .collect();
        assert!(explicit.len() > 10);
        let written = Settings::from_raw(&explicit).unwrap();
        assert_eq!(format!("{written:?}"), format!("{defaults:?}"));
        assert_eq!(
            defaults.limits.per_address,
            ConnectionLimits::default().per_address
        );
    }

    #[test]
    fn durations_accept_seconds_and_suffixes() {
        assert_eq!(parse_duration("6"), Some(Duration::from_secs(6)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("30d"), Some(Duration::from_secs(30 * 86400)));
        assert_eq!(parse_duration("2w"), Some(Duration::from_secs(14 * 86400)));
        assert_eq!(parse_duration("10x"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("-5"), None);
    }

    /// Also DISC-19 / SEC-1: a non-loopback issuer must be https (TLS is
    /// terminated by the reverse proxy in front of doorstep).
    #[test]
    fn errors_name_the_key_and_say_what_to_write() {
        let e = error(&[("code_lifetime", "soon")]);
        assert!(e.contains("code_lifetime") && e.contains("90s"), "{e}");
        let e = error(&[("issuer", "http://auth.example.com/")]);
        assert!(
            e.contains("`issuer`") && e.contains("https://auth.example.com/"),
            "{e}"
        );
        let e = error(&[("issuer", "https://auth.example.com")]);
        assert!(e.contains("slash: https://auth.example.com/"), "{e}");
        let e = error(&[("colour", "blue")]);
        assert!(e.contains("colour"), "{e}");
        let e = error(&[("session_lifetime", "30")]);
        assert!(e.contains("at least 60"), "{e}");
        let e = error(&[("pkce", "sometimes")]);
        assert!(e.contains("s256, any, optional"), "{e}");
        let e = error(&[("allow_private_client_fetch", "maybe")]);
        assert!(e.contains("true or false"), "{e}");
        let e = error(&[("photo", "me.jpg")]);
        assert!(e.contains("`photo`") && e.contains("absolute"), "{e}");
        let e = error(&[("log_format", "xml")]);
        assert!(e.contains("text, json"), "{e}");
    }

    /// User-facing text says it in words and links the public spec; the
    /// checklist IDs are for the code's comments.
    #[test]
    fn no_error_message_carries_a_checklist_id() {
        let cases: &[&[(&str, &str)]] = &[
            &[("issuer", "http://auth.example.com/")],
            &[("issuer", "https://auth.example.com/?x=1")],
            &[("issuer", "https://auth.example.com:8443/")],
            &[
                ("issuer", "https://auth.example.com/"),
                ("me", "https://example.com:8443/"),
            ],
            &[("issuer", "https://192.0.2.1/")],
            &[("listen", "0.0.0.0:8080")],
            &[("trusted_proxies", "proxy")],
        ];
        for case in cases {
            let e = error(case);
            let has_id = e
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                .any(|w| {
                    w.split_once('-').is_some_and(|(a, b)| {
                        a.len() >= 2
                            && a.chars().all(|c| c.is_ascii_uppercase())
                            && !b.is_empty()
                            && b.chars().all(|c| c.is_ascii_digit())
                    })
                });
            assert!(!has_id, "{case:?}: {e}");
        }
    }

    #[test]
    fn a_public_listener_without_an_issuer_asks_for_the_https_issuer() {
        let e = error(&[("listen", "0.0.0.0:8080")]);
        assert!(e.starts_with("configuration key `listen`"), "{e}");
        assert!(e.contains("set `issuer`"), "{e}");
        assert!(e.contains("https://auth.example.com/"), "{e}");
        assert!(e.contains("127.0.0.1:8080"), "{e}");
        // With the issuer given, a public listener is fine.
        let s = Settings::from_raw(&raw(&[
            ("listen", "0.0.0.0:8080"),
            ("issuer", "https://auth.example.com/"),
        ]))
        .unwrap();
        assert!(!s.local_development);
    }

    /// DISC-16: the error is about `me` even when only the issuer was set,
    /// and says that `me` fell back on it.
    #[test]
    fn an_unset_me_that_falls_back_on_an_issuer_with_a_port_says_to_set_me() {
        let e = error(&[("issuer", "https://auth.example.com:8443/")]);
        assert!(e.contains("`me`") && e.contains("is not set"), "{e}");
        assert!(e.contains("port"), "{e}");
        let s = Settings::from_raw(&raw(&[
            ("issuer", "https://auth.example.com:8443/"),
            ("me", "https://example.com/"),
        ]))
        .unwrap();
        assert_eq!(s.me.as_str(), "https://example.com/");
    }

    #[test]
    fn disc_16_me_must_follow_profile_rules_outside_local_development() {
        let e = error(&[
            ("issuer", "https://auth.example.com/"),
            ("me", "https://example.com:8443/"),
        ]);
        assert!(e.contains("`me`") && e.contains("#user-profile-url"), "{e}");
        let s = Settings::from_raw(&raw(&[
            ("issuer", "https://auth.example.com/"),
            ("me", "https://example.com"),
        ]))
        .unwrap();
        assert_eq!(s.me.as_str(), "https://example.com/");
        assert!(!s.local_development);
        assert!(!s.serves_homepage());
    }

    #[test]
    fn toml_refuses_unknown_keys_and_converts_values_by_kind() {
        let ok = |text: &str| sources::parse_toml(text).ok().unwrap();
        let v = ok("code_lifetime = 6\nallow_private_client_fetch = true\n\
                    trusted_proxies = [\"10.0.0.1\", \"fd00::/8\"]\nconnections_per_address = 9\n");
        assert_eq!(v["code_lifetime"], "6");
        assert_eq!(v["allow_private_client_fetch"], "true");
        assert_eq!(v["trusted_proxies"], "10.0.0.1,fd00::/8");
        assert_eq!(v["connections_per_address"], "9");
        for bad in [
            "nope = 1",
            "[table]\nx = 1",
            "listen = 8080",
            "name = [\"a\"]",
            "allow_private_client_fetch = 1",
            "trusted_proxies = [1]",
        ] {
            assert!(sources::parse_toml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connections_per_address_is_a_positive_whole_number() {
        let s = Settings::from_raw(&RawValues::new()).unwrap();
        assert_eq!(s.limits.per_address, 128);
        let s = Settings::from_raw(&raw(&[("connections_per_address", "100")])).unwrap();
        assert_eq!(s.limits.per_address, 100);
        for bad in ["0", "-1", "many"] {
            let e = error(&[("connections_per_address", bad)]);
            assert!(e.contains("connections_per_address"), "{e}");
        }
    }

    #[test]
    fn trusted_proxies_take_addresses_and_ranges() {
        let s = Settings::from_raw(&raw(&[("trusted_proxies", "127.0.0.1, 10.0.0.0/8")])).unwrap();
        assert!(s.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(
            s.trusted_proxies
                .contains("::ffff:127.0.0.1".parse().unwrap())
        );
        let e = error(&[("trusted_proxies", "10.0.0.1/8")]);
        assert!(
            e.contains("`trusted_proxies`") && e.contains("10.0.0.0/8"),
            "{e}"
        );
    }

    #[test]
    fn log_format_is_text_or_json() {
        let s = Settings::from_raw(&raw(&[("log_format", "json")])).unwrap();
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn environment_variables_map_to_keys_and_unknown_ones_are_refused() {
        let v = read_env(env(&[
            ("DOORSTEP_CODE_LIFETIME", "6"),
            ("DOORSTEP_CONFIG", "x"),
            ("HOME", "/root"),
        ]))
        .unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v["code_lifetime"], "6");

        let e = read_env(env(&[("DOORSTEP_TRUSTED_PROXY", "127.0.0.1")])).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("DOORSTEP_TRUSTED_PROXY:")
                && e.contains("did you mean DOORSTEP_TRUSTED_PROXIES?"),
            "{e}"
        );
        let e = read_env(env(&[("DOORSTEP_COLOUR", "blue")])).unwrap_err();
        assert!(e.to_string().contains("DOORSTEP_COLOUR"), "{e}");
    }

    #[test]
    fn an_error_says_where_the_value_was_set() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "code_lifetime = \"soon\"\npkce = \"any\"\n").unwrap();
        let e = load(Some(file.path()), Vec::new(), RawValues::new()).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("`code_lifetime` (set in ")
                && e.contains(&file.path().display().to_string()),
            "{e}"
        );
        let e = load(
            Some(file.path()),
            env(&[("DOORSTEP_PKCE", "sometimes")]),
            raw(&[("code_lifetime", "6")]),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("`pkce` (set by DOORSTEP_PKCE)"),
            "{e}"
        );
        let e = load(None, Vec::new(), raw(&[("code_lifetime", "later")])).unwrap_err();
        assert!(
            e.to_string()
                .contains("`code_lifetime` (set by --code-lifetime)"),
            "{e}"
        );
        // Flags win over the environment, which wins over the file.
        let s = load(
            Some(file.path()),
            env(&[("DOORSTEP_CODE_LIFETIME", "7")]),
            raw(&[("code_lifetime", "8")]),
        )
        .unwrap();
        assert_eq!(s.code_lifetime, Duration::from_secs(8));
        assert_eq!(s.pkce, PkcePolicy::Any);
    }
}
