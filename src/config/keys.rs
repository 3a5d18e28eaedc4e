//! The configuration keys, each declared once: its name, the kind of value
//! it takes, its default and its help text (the doc comment). Everything
//! else is derived from this table: which keys the TOML file and the
//! `DOORSTEP_*` variables may set, the command-line flags and their
//! `--help` lines (`cli.rs`), the defaults `Settings::from_raw` falls back
//! on, and the tests that hold the README's table and
//! `doorstep.example.toml` to it. Adding a key means one entry here, one
//! field in `Settings` and the line in `from_raw` that reads it.

/// What a key's value looks like. It decides how a TOML value is read,
/// how a flag is parsed (a boolean flag works bare), the placeholder in
/// `--help`, and the checks `from_raw` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ADDRESS:PORT`.
    SocketAddr,
    /// An absolute http or https URL.
    Url,
    /// A file path.
    Path,
    /// Free text.
    Text,
    /// An email address.
    Email,
    /// Whole seconds (`6`) or a number with a unit (`90s`, `10m`, `30d`),
    /// at least `min_secs` and at most `max_secs`.
    Duration { min_secs: u64, max_secs: u64 },
    /// `true` or `false` (also yes/no, on/off, 1/0).
    Bool,
    /// A whole number, at least `min`.
    Count { min: u64 },
    /// One of these words.
    Choice(&'static [&'static str]),
    /// IP addresses and CIDR ranges, comma-separated (in TOML also a list).
    AddressList,
    /// A `tracing` filter: a level, or `level,module=level,…`.
    LogFilter,
}

impl Kind {
    /// The placeholder `--help` shows for the value.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::SocketAddr => "ADDRESS:PORT",
            Kind::Url => "URL",
            Kind::Path => "PATH",
            Kind::Text => "TEXT",
            Kind::Email => "EMAIL",
            Kind::Duration { .. } => "DURATION",
            Kind::Bool => "BOOL",
            Kind::Count { .. } => "N",
            Kind::Choice(_) => "WORD",
            Kind::AddressList => "ADDRESSES",
            Kind::LogFilter => "FILTER",
        }
    }
}

/// A key's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// This value, written as a user would write it; `from_raw` parses it
    /// like one.
    Value(&'static str),
    /// Worked out from other keys; the words say how.
    Derived(&'static str),
    /// Not set.
    Unset,
}

/// One configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub name: &'static str,
    pub kind: Kind,
    pub default: DefaultValue,
    help: &'static str,
}

impl KeySpec {
    /// What the key means, in one paragraph (README table, `--help`).
    pub fn help(&self) -> &'static str {
        self.help.trim()
    }

    /// `DOORSTEP_CODE_LIFETIME` for `code_lifetime`.
    pub fn env_var(&self) -> String {
        format!("DOORSTEP_{}", self.name.to_ascii_uppercase())
    }

    /// `code-lifetime` for `code_lifetime` (the flag is `--code-lifetime`).
    pub fn flag(&self) -> String {
        self.name.replace('_', "-")
    }

    /// The default in words, as `--help` and `doorstep.example.toml` say
    /// it: the value itself, how it is worked out, or `none`.
    pub fn default_text(&self) -> &'static str {
        match self.default {
            DefaultValue::Value(v) | DefaultValue::Derived(v) => v,
            DefaultValue::Unset => "none",
        }
    }
}

/// Turns the entries below into one `KeySpec` constant per key, in module
/// `key` (so `from_raw` names keys the compiler checks), and `KEYS`. A
/// doc comment's lines reach the macro one literal each, every one but
/// the first starting with the space after `///`; joined, they are the
/// help text.
macro_rules! keys {
    ($( $(#[doc = $help:literal])+ $name:ident($kind:expr, $default:expr); )*) => {
        /// One constant per configuration key, named as the key.
        #[allow(non_upper_case_globals)]
        pub mod key {
            use super::*;
            $(
                $(#[doc = $help])+
                pub const $name: KeySpec = KeySpec {
                    name: stringify!($name),
                    kind: $kind,
                    default: $default,
                    help: concat!($($help),+),
                };
            )*
        }

        /// Every key, in the order `--help`, the README and the example
        /// file list them.
        pub const KEYS: &[KeySpec] = &[$(key::$name),*];
    };
}

use DefaultValue::{Derived, Unset, Value};

/// The longest lifetime a key accepts: a policy cap, the longest lifetime
/// the consent answer accepts too. Without one, a value near 2^63 seconds
/// made now plus the lifetime wrap round (tokens dead on issue, a sign-in
/// loop).
pub const TEN_YEARS: u64 = 10 * 365 * 86_400;

keys! {
    /// Address and port to listen on. Keep it on loopback behind a reverse
    /// proxy; any other address needs a public https `issuer`.
    listen(Kind::SocketAddr, Value("127.0.0.1:8080"));

    /// doorstep's public base URL, with its trailing slash: what apps see.
    /// The root of a host (nothing after it), and https, except on a
    /// loopback address for local development.
    issuer(Kind::Url, Derived("`http://<listen>/`"));

    /// Your homepage (your IndieAuth profile URL). When it is the issuer,
    /// doorstep serves that homepage itself.
    me(Kind::Url, Derived("the issuer"));

    /// Path of the SQLite database. Give a full path, so that the commands
    /// you run by hand open the same file as the server.
    database(Kind::Path, Value("./doorstep.db"));

    /// Profile name given to apps with the `profile` scope.
    name(Kind::Text, Derived("the host of `me`"));

    /// Profile photo URL, given to apps with the `profile` scope.
    photo(Kind::Url, Unset);

    /// Email address, given only to apps granted the `email` scope.
    email(Kind::Email, Unset);

    /// Micropub endpoint advertised on the homepage doorstep serves and in
    /// the `<link>` tags it gives you (most Micropub apps need one).
    micropub(Kind::Url, Unset);

    /// Microsub endpoint, advertised as the Micropub one is.
    microsub(Kind::Url, Unset);

    /// How long an app has to redeem an authorization code (at most 10
    /// minutes, as the IndieAuth spec recommends).
    code_lifetime(Kind::Duration { min_secs: 1, max_secs: 600 }, Value("120s"));

    /// Access-token lifetime preselected on the consent page (you may pick
    /// 1 day, 1 week, 30 days, 3 months, 1 year or "until revoked" per app);
    /// `expires_in` always reports the real lifetime, and an "until revoked"
    /// token has neither `expires_in` nor a refresh token. At most 10 years.
    access_token_lifetime(Kind::Duration { min_secs: 1, max_secs: TEN_YEARS }, Value("90d"));

    /// A refresh token expires after this long unused (at most 10 years).
    refresh_token_lifetime(Kind::Duration { min_secs: 1, max_secs: TEN_YEARS }, Value("365d"));

    /// How long you stay signed in to doorstep in one browser (at least 60s,
    /// at most 10 years).
    session_lifetime(Kind::Duration { min_secs: 60, max_secs: TEN_YEARS }, Value("30d"));

    /// PKCE policy. `s256`: apps must use S256, and one that uses no PKCE at
    /// all needs your explicit leave, given once per app; `any`: S256 or
    /// plain; `optional`: as `any`, and apps without PKCE are accepted too.
    pkce(Kind::Choice(&["s256", "any", "optional"]), Value("s256"));

    /// Fetch `client_id` URLs on loopback and private addresses. Only for
    /// tests and local development: on a server it lets anyone who gets you
    /// to sign in make doorstep request addresses on your private network.
    allow_private_client_fetch(Kind::Bool, Value("false"));

    /// Let a token authorize its own introspection, as several Micropub
    /// servers (Indiekit) send it; throttled per address (20 inactive
    /// answers in a burst, then one per 2 s; 429 beyond).
    introspection_self_auth(Kind::Bool, Value("true"));

    /// Your reverse proxies, whose `X-Forwarded-For` doorstep believes:
    /// addresses or CIDR ranges, comma-separated (`127.0.0.1, ::1` or
    /// `10.0.0.0/8`). Without it every visitor seems to come from the proxy.
    trusted_proxies(Kind::AddressList, Unset);

    /// Connections one client address may hold open at once (an IPv6 /64
    /// counts as one address); more are closed as soon as they are
    /// accepted. Trusted proxies are exempt.
    connections_per_address(Kind::Count { min: 1 }, Value("128"));

    /// What to log: `error`, `warn`, `info`, `debug`, or per module
    /// (`info,doorstep::clients=debug`). `RUST_LOG` is ignored. Malformed
    /// requests and broken connections are not logged unless `actix_http`
    /// is named (`info,actix_http=debug`).
    log(Kind::LogFilter, Value("info"));

    /// How log lines are written to standard error: `text` for people and
    /// journald, or `json`, one JSON object per line, for log shippers.
    log_format(Kind::Choice(&["text", "json"]), Value("text"));
}

/// The declared key called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.name == name)
}

/// The declared key nearest to a misspelt `name` (`trusted_proxy`,
/// `code_lifetme`), for "did you mean" in an error.
pub fn nearest(name: &str) -> Option<&'static KeySpec> {
    KEYS.iter()
        .map(|k| (edit_distance(k.name, name), k))
        .filter(|(d, k)| *d <= 3.max(k.name.len() / 4) && *d < k.name.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance between two short ASCII words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_declared_once_in_lower_case() {
        for (i, k) in KEYS.iter().enumerate() {
            assert!(
                k.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}",
                k.name
            );
            assert!(!k.help().is_empty(), "{} has no help", k.name);
            assert!(
                !KEYS[..i].iter().any(|other| other.name == k.name),
                "{} twice",
                k.name
            );
        }
    }

    #[test]
    fn the_help_is_the_doc_comment_joined_into_one_paragraph() {
        assert_eq!(
            key::refresh_token_lifetime.help(),
            "A refresh token expires after this long unused (at most 10 years)."
        );
        assert_eq!(
            key::listen.help(),
            "Address and port to listen on. Keep it on loopback behind a reverse proxy; \
             any other address needs a public https `issuer`."
        );
        assert_eq!(key::code_lifetime.env_var(), "DOORSTEP_CODE_LIFETIME");
        assert_eq!(key::code_lifetime.flag(), "code-lifetime");
    }

    #[test]
    fn a_misspelt_key_finds_its_nearest_declared_key() {
        assert_eq!(
            nearest("trusted_proxy").map(|k| k.name),
            Some("trusted_proxies")
        );
        assert_eq!(
            nearest("code_lifetme").map(|k| k.name),
            Some("code_lifetime")
        );
        assert_eq!(nearest("listn").map(|k| k.name), Some("listen"));
        assert_eq!(nearest("colour"), None);
        assert_eq!(nearest("x"), None);
    }
}
