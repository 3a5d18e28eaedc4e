//! Configuration: defaults, then an optional TOML file, then `DOORSTEP_*`
//! environment variables, then command-line flags (STYLE habit 8). Keys are
//! flat; unknown keys are refused; every error names the key and says what
//! to do. The result, `Settings`, is fully validated: the rest of the server
//! never re-checks it.

use crate::domain::ProfileUrl;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Every key, its default and what it means; the README's table mirrors it.
pub const KEYS: &[(&str, &str, &str)] = &[
    ("listen", "127.0.0.1:8080", "address and port to listen on"),
    (
        "issuer",
        "http://<listen>/",
        "public base URL of doorstep, with its trailing slash",
    ),
    ("me", "<issuer>", "the owner's homepage (profile URL)"),
    ("database", "./doorstep.db", "path of the SQLite database"),
    (
        "name",
        "",
        "profile name shown to apps with the profile scope",
    ),
    ("photo", "", "profile photo URL"),
    (
        "email",
        "",
        "profile email, given only with the email scope",
    ),
    (
        "micropub",
        "",
        "Micropub endpoint advertised on the served homepage",
    ),
    (
        "microsub",
        "",
        "Microsub endpoint advertised on the served homepage",
    ),
    ("code_lifetime", "120s", "lifetime of an authorization code"),
    (
        "access_token_lifetime",
        "90d",
        "default access-token lifetime offered at consent",
    ),
    (
        "refresh_token_lifetime",
        "365d",
        "refresh tokens expire after this long unused",
    ),
    (
        "session_lifetime",
        "30d",
        "how long the owner stays signed in",
    ),
    ("pkce", "s256", "PKCE policy: s256, any or optional"),
    (
        "allow_private_client_fetch",
        "false",
        "fetch client_id URLs on loopback/private addresses (tests, development)",
    ),
    (
        "introspection_self_auth",
        "true",
        "let a token authorize its own introspection (rate-limited)",
    ),
    (
        "trusted_proxies",
        "",
        "comma-separated proxy addresses whose X-Forwarded-For is believed",
    ),
    (
        "connections_per_address",
        "128",
        "open connections allowed from one client address (IPv6: one /64); trusted proxies are exempt",
    ),
    ("log", "info", "log filter (tracing EnvFilter syntax)"),
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} is not valid TOML: {source}")]
    Toml {
        path: PathBuf,
        source: toml::de::Error,
    },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkcePolicy {
    /// S256 required; a client without PKCE needs the owner's explicit leave.
    S256,
    /// S256 or plain, as the client asks.
    Any,
    /// Requests without PKCE accepted too; the consent page says so.
    Optional,
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
    pub trusted_proxies: Vec<IpAddr>,
    /// What one connection may cost: the per-address cap and the deadlines
    /// on slow clients.
    pub limits: ConnectionLimits,
    pub log: String,
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

fn is_known(key: &str) -> bool {
    KEYS.iter().any(|(k, _, _)| *k == key)
}

/// Reads a TOML file into raw values, refusing unknown keys and tables.
pub fn read_toml(path: &std::path::Path) -> Result<RawValues, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_toml(&text).map_err(|e| match e {
        TomlProblem::Syntax(source) => ConfigError::Toml {
            path: path.to_owned(),
            source,
        },
        TomlProblem::Key(err) => err,
    })
}

enum TomlProblem {
    Syntax(toml::de::Error),
    Key(ConfigError),
}

fn parse_toml(text: &str) -> Result<RawValues, TomlProblem> {
    let table: toml::Table = toml::from_str(text).map_err(TomlProblem::Syntax)?;
    let mut out = RawValues::new();
    for (key, value) in table {
        if !is_known(&key) {
            return Err(TomlProblem::Key(invalid(
                &key,
                "unknown key (see the configuration table in README.md)",
            )));
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => {
                let mut parts = Vec::new();
                for item in items {
                    match item {
                        toml::Value::String(s) => parts.push(s),
                        _ => {
                            return Err(TomlProblem::Key(invalid(
                                &key,
                                "expected a list of strings",
                            )));
                        }
                    }
                }
                parts.join(",")
            }
            _ => {
                return Err(TomlProblem::Key(invalid(
                    &key,
                    "expected a string, number or boolean",
                )));
            }
        };
        out.insert(key, text);
    }
    Ok(out)
}

/// `DOORSTEP_<KEY>` for every known key.
pub fn read_env(vars: impl Iterator<Item = (String, String)>) -> RawValues {
    let mut out = RawValues::new();
    for (name, value) in vars {
        if let Some(key) = name.strip_prefix("DOORSTEP_") {
            let key = key.to_ascii_lowercase();
            if is_known(&key) {
                out.insert(key, value);
            }
        }
    }
    out
}

/// Durations: whole seconds (`6`) or a number with `s`, `m`, `h`, `d` or `w`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mult = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult).map(Duration::from_secs)
}

fn parse_bool(key: &str, s: &str) -> Result<bool, ConfigError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(invalid(key, "expected true or false")),
    }
}

fn optional_url(raw: &RawValues, key: &str) -> Result<Option<Url>, ConfigError> {
    match raw.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            let url = Url::parse(s).map_err(|_| invalid(key, "expected an absolute URL"))?;
            if url.scheme() != "http" && url.scheme() != "https" {
                return Err(invalid(key, "expected an http or https URL"));
            }
            Ok(Some(url))
        }
    }
}

fn duration(raw: &RawValues, key: &str, default: &str, min: u64) -> Result<Duration, ConfigError> {
    let s = raw.get(key).map(String::as_str).unwrap_or(default);
    let d = parse_duration(s).ok_or_else(|| {
        invalid(
            key,
            "expected seconds (`6`) or a suffixed duration (`90s`, `10m`, `30d`)",
        )
    })?;
    if d.as_secs() < min {
        return Err(invalid(key, format!("must be at least {min} second(s)")));
    }
    Ok(d)
}

fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
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
        for key in raw.keys() {
            if !is_known(key) {
                return Err(invalid(
                    key,
                    "unknown key (see the configuration table in README.md)",
                ));
            }
        }
        let get = |k: &str| {
            raw.get(k)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };

        let listen_s = get("listen").unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_s
            .parse()
            .map_err(|_| invalid("listen", "expected ADDRESS:PORT such as 127.0.0.1:8080"))?;

        let issuer_s = get("issuer").unwrap_or_else(|| format!("http://{listen}/"));
        let issuer = Url::parse(&issuer_s).map_err(|_| {
            invalid(
                "issuer",
                "expected an absolute URL such as https://auth.example.com/",
            )
        })?;
        if issuer.query().is_some() || issuer.fragment().is_some() || issuer_s.contains(['?', '#'])
        {
            return Err(invalid(
                "issuer",
                "must not have a query or fragment (DISC-3)",
            ));
        }
        if !issuer_s.ends_with('/') {
            return Err(invalid(
                "issuer",
                "must end with a slash, e.g. https://auth.example.com/",
            ));
        }
        if issuer.as_str() != issuer_s {
            return Err(invalid(
                "issuer",
                format!("write it in canonical form: {}", issuer.as_str()),
            ));
        }
        let local_development = is_loopback_url(&issuer);
        match issuer.scheme() {
            "https" => {}
            "http" if local_development => {}
            _ => {
                return Err(invalid(
                    "issuer",
                    "must be https (DISC-19); plain http is only allowed on a loopback address for local development",
                ));
            }
        }
        if !issuer.username().is_empty() || issuer.password().is_some() {
            return Err(invalid(
                "issuer",
                "must not contain a user name or password",
            ));
        }

        let me_s = get("me").unwrap_or_else(|| issuer.as_str().to_owned());
        let me = ProfileUrl::parse(&me_s, local_development)
            .map_err(|e| invalid("me", format!("{e} (IndieAuth profile URL rules, DISC-16)")))?;

        let pkce = match get("pkce").as_deref().unwrap_or("s256") {
            "s256" | "S256" => PkcePolicy::S256,
            "any" => PkcePolicy::Any,
            "optional" => PkcePolicy::Optional,
            _ => return Err(invalid("pkce", "expected s256, any or optional")),
        };

        let mut trusted_proxies = Vec::new();
        for part in get("trusted_proxies").unwrap_or_default().split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            trusted_proxies.push(part.parse::<IpAddr>().map_err(|_| {
                invalid("trusted_proxies", format!("`{part}` is not an IP address"))
            })?);
        }

        let per_address = match get("connections_per_address") {
            None => ConnectionLimits::default().per_address,
            Some(s) => s.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                invalid(
                    "connections_per_address",
                    "expected a whole number, at least 1",
                )
            })?,
        };

        let email = get("email");
        if let Some(e) = &email
            && (!e.contains('@') || e.contains(char::is_whitespace))
        {
            return Err(invalid("email", "expected an email address"));
        }

        Ok(Settings {
            listen,
            database: PathBuf::from(get("database").unwrap_or_else(|| "./doorstep.db".into())),
            name: get("name").unwrap_or_else(|| me.url().host_str().unwrap_or("me").to_owned()),
            photo: optional_url(raw, "photo")?,
            email,
            micropub: optional_url(raw, "micropub")?,
            microsub: optional_url(raw, "microsub")?,
            code_lifetime: duration(raw, "code_lifetime", "120s", 1)?,
            access_token_lifetime: duration(raw, "access_token_lifetime", "90d", 1)?,
            refresh_token_lifetime: duration(raw, "refresh_token_lifetime", "365d", 1)?,
            session_lifetime: duration(raw, "session_lifetime", "30d", 60)?,
            pkce,
            allow_private_client_fetch: parse_bool(
                "allow_private_client_fetch",
                raw.get("allow_private_client_fetch")
                    .map(String::as_str)
                    .unwrap_or("false"),
            )?,
            introspection_self_auth: parse_bool(
                "introspection_self_auth",
                raw.get("introspection_self_auth")
                    .map(String::as_str)
                    .unwrap_or("true"),
            )?,
            trusted_proxies,
            limits: ConnectionLimits {
                per_address,
                ..ConnectionLimits::default()
            },
            log: get("log").unwrap_or_else(|| "info".into()),
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

    /// Settings for tests: loopback issuer on the given port, a database
    /// path, everything else at its default.
    pub fn for_tests(database: PathBuf) -> Settings {
        let mut raw = RawValues::new();
        raw.insert("listen".into(), "127.0.0.1:0".into());
        raw.insert("database".into(), database.display().to_string());
        raw.insert("allow_private_client_fetch".into(), "true".into());
        match Settings::from_raw(&raw) {
            Ok(s) => s,
            Err(e) => panic!("test settings are invalid: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawValues {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
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
        let mut raw = RawValues::new();
        raw.insert("issuer".into(), "https://localhost:8443/".into());
        let tls = Settings::from_raw(&raw).unwrap();
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
        assert!(s.local_development);
        assert!(s.serves_homepage());
        assert_eq!(s.pkce, PkcePolicy::S256);
        assert_eq!(s.code_lifetime, Duration::from_secs(120));
        assert_eq!(
            s.metadata_url(),
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server"
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
    fn errors_name_the_key() {
        let e = Settings::from_raw(&raw(&[("code_lifetime", "soon")])).unwrap_err();
        assert!(e.to_string().contains("code_lifetime"), "{e}");
        let e = Settings::from_raw(&raw(&[("issuer", "http://auth.example.com/")])).unwrap_err();
        assert!(e.to_string().contains("issuer"), "{e}");
        let e = Settings::from_raw(&raw(&[("issuer", "https://auth.example.com")])).unwrap_err();
        assert!(e.to_string().contains("slash"), "{e}");
        let e = Settings::from_raw(&raw(&[("colour", "blue")])).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn disc_16_me_must_follow_profile_rules_outside_local_development() {
        let e = Settings::from_raw(&raw(&[
            ("issuer", "https://auth.example.com/"),
            ("me", "https://example.com:8443/"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("`me`"), "{e}");
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
    fn toml_refuses_unknown_keys_and_converts_values() {
        let v = parse_toml("code_lifetime = 6\nallow_private_client_fetch = true\ntrusted_proxies = [\"10.0.0.1\"]\n")
            .ok()
            .unwrap();
        assert_eq!(v["code_lifetime"], "6");
        assert_eq!(v["allow_private_client_fetch"], "true");
        assert_eq!(v["trusted_proxies"], "10.0.0.1");
        assert!(parse_toml("nope = 1").is_err());
        assert!(parse_toml("[table]\nx = 1").is_err());
    }

    #[test]
    fn connections_per_address_is_a_positive_whole_number() {
        let s = Settings::from_raw(&RawValues::new()).unwrap();
        assert_eq!(s.limits.per_address, 128);
        let s = Settings::from_raw(&raw(&[("connections_per_address", "100")])).unwrap();
        assert_eq!(s.limits.per_address, 100);
        for bad in ["0", "-1", "many"] {
            let e = Settings::from_raw(&raw(&[("connections_per_address", bad)])).unwrap_err();
            assert!(e.to_string().contains("connections_per_address"), "{e}");
        }
    }

    #[test]
    fn environment_variables_map_to_keys() {
        let v = read_env(
            vec![
                ("DOORSTEP_CODE_LIFETIME".to_string(), "6".to_string()),
                ("DOORSTEP_CONFIG".to_string(), "x".to_string()),
                ("HOME".to_string(), "/root".to_string()),
            ]
            .into_iter(),
        );
        assert_eq!(v.len(), 1);
        assert_eq!(v["code_lifetime"], "6");
    }
}
