//! `Settings::from_raw` and the configuration sources, end to end.

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
    // With its own `me`, the issuer is no profile URL: nothing said of one.
    let own_me = Settings::from_raw(&raw(&[("me", "https://example.com/u/")])).unwrap();
    let w = own_me.local_development_warning();
    assert!(w.contains("plain http"), "{w}");
    assert!(!w.contains("profile URL"), "{w}");
    // A `me` of its own that breaks the profile URL's rules is named.
    let local_me = Settings::from_raw(&raw(&[("me", "http://localhost:19201/")])).unwrap();
    let w = local_me.local_development_warning();
    assert!(
        w.contains("may not carry a port, and `me` does") && w.contains("`me` is plain http"),
        "{w}"
    );
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
    // CODE-1: a code expires shortly; IndieAuth recommends 10 minutes at most.
    let e = error(&[("code_lifetime", "11m")]);
    assert!(e.contains("at most 600 seconds (10m)"), "{e}");
    // Past ten years, now plus the lifetime would overflow the store's
    // seconds: refused, not wrapped into a token dead on issue.
    for key in [
        "access_token_lifetime",
        "refresh_token_lifetime",
        "session_lifetime",
    ] {
        let e = error(&[(key, "9223372036854775807")]);
        assert!(
            e.contains("at most 315360000 seconds (3650d)"),
            "{key}: {e}"
        );
        let e = error(&[(key, "3651d")]);
        assert!(e.contains("at most"), "{key}: {e}");
    }
    let e = error(&[("pkce", "sometimes")]);
    assert!(e.contains("s256, any, optional"), "{e}");
    let e = error(&[("allow_private_client_fetch", "maybe")]);
    assert!(e.contains("true or false"), "{e}");
    let e = error(&[("photo", "me.jpg")]);
    assert!(e.contains("`photo`") && e.contains("absolute"), "{e}");
    let e = error(&[("log_format", "xml")]);
    assert!(e.contains("text, json"), "{e}");
}

/// Plain http is allowed exactly where `domain` says the host is this
/// machine: the configuration has no loopback rule of its own.
#[test]
fn a_plain_http_issuer_is_allowed_exactly_on_what_domain_calls_loopback() {
    for issuer in [
        "http://127.0.0.1:8080/",
        "http://127.5.6.7/",
        "http://[::1]:8080/",
        "http://localhost:8080/",
        "http://app.localhost/",
        "http://localhost.localdomain/",
        "http://auth.example.com/",
        "http://localhost.example/",
        "http://10.0.0.1/",
    ] {
        let loopback = is_loopback_url(&Url::parse(issuer).unwrap());
        assert_eq!(parse_issuer(issuer).is_ok(), loopback, "{issuer}");
    }
}

/// DISC-3, DISC-4: doorstep answers at the root of its address, so an
/// issuer with a path (whose endpoints would all be 404, and whose metadata
/// URL would not start with it) is refused at start-up, in words.
#[test]
fn an_issuer_with_a_path_is_refused() {
    for issuer in [
        "https://example.com/indieauth/",
        "https://auth.example.com/a/b/",
        "http://127.0.0.1:8080/x/",
    ] {
        let e = parse_issuer(issuer).unwrap_err().to_string();
        assert!(e.contains("root of a host"), "{issuer}: {e}");
        assert!(e.contains("https://auth.example.com/"), "{issuer}: {e}");
    }
    // Without its slash, too: the message to follow is the same.
    let e = parse_issuer("https://auth.example.com/indieauth")
        .unwrap_err()
        .to_string();
    assert!(e.contains("root of a host"), "{e}");
    // A dot segment is the root: the slash message suggests the root.
    let e = parse_issuer("http://localhost:8080/.")
        .unwrap_err()
        .to_string();
    assert!(e.contains("slash: http://localhost:8080/"), "{e}");
    assert!(!e.contains("/./"), "{e}");
    let ok = parse_issuer("https://auth.example.com/").unwrap();
    assert_eq!(ok.path(), "/");
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
        e.contains("`code_lifetime` (set in ") && e.contains(&file.path().display().to_string()),
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

#[test]
fn only_an_issuer_left_to_the_listener_follows_the_bound_port() {
    let bound: SocketAddr = "127.0.0.1:41234".parse().unwrap();
    let mut default = Settings::from_raw(&raw(&[("listen", "127.0.0.1:0")])).unwrap();
    default.name_bound_address(bound);
    assert_eq!(default.issuer_str(), "http://127.0.0.1:41234/");
    assert_eq!(default.me.as_str(), "http://127.0.0.1:41234/");
    assert_eq!(default.listen, bound);

    let mut own_me = Settings::from_raw(&raw(&[
        ("listen", "127.0.0.1:0"),
        ("me", "https://example.com/"),
    ]))
    .unwrap();
    own_me.name_bound_address(bound);
    assert_eq!(own_me.issuer_str(), "http://127.0.0.1:41234/");
    assert_eq!(own_me.me.as_str(), "https://example.com/");

    let mut given = Settings::from_raw(&raw(&[
        ("listen", "127.0.0.1:0"),
        ("issuer", "https://auth.example.com/"),
    ]))
    .unwrap();
    given.name_bound_address(bound);
    assert_eq!(given.issuer_str(), "https://auth.example.com/");
}
