//! Three questions every layer asks of a URL, each answered once here: is
//! its host this machine (loopback), are two URLs the same site (origin),
//! and is its scheme one that can carry script.
//!
//! Client ids (CID-3, CID-7), redirect URIs (CID-23, CID-26, CID-27), the
//! owner's profile URL in local development and the fetch guard (SEC-7)
//! all use these predicates, so "local" and "same site" mean one thing
//! wherever doorstep decides something by them. Pure: no I/O, no lookups.

use std::net::IpAddr;
use url::{Host, Url};

/// True for the loopback IP addresses: any 127/8 address and `::1`, also
/// in their IPv4-mapped form (`::ffff:127.0.0.1`), which would otherwise
/// smuggle a loopback target past a check for IPv4 only.
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
    }
}

/// True for host names that name the local machine: `localhost`, any
/// `*.localhost` (RFC 6761 §6.3 reserves the whole tree for loopback) and the
/// usual /etc/hosts aliases. A trailing dot and letter case are ignored.
pub fn is_loopback_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "localhost.localdomain"
        || host == "ip6-localhost"
        || host == "ip6-loopback"
}

/// True when the URL's host is this machine: a loopback IP literal or a
/// loopback name.
pub fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => is_loopback_name(name),
        Some(_) => has_loopback_ip(url),
        None => false,
    }
}

/// True when the URL's host is a loopback IP *literal*: the only hosts for
/// which RFC 8252 §7.3 lets a native app choose its port (CID-26). Names
/// such as `localhost` do not count here.
pub fn has_loopback_ip(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => is_loopback_ip(ip.into()),
        Some(Host::Ipv6(ip)) => is_loopback_ip(ip.into()),
        _ => false,
    }
}

/// Same scheme, host and port, default ports made explicit (RFC 6454 §4;
/// CID-23). The `url` crate has already lower-cased the host of an http(s)
/// URL.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Schemes that run script or read local data in the browser that follows
/// them, never acceptable as a redirect, a published redirect or a link
/// (CID-22). `scheme` as the `url` crate gives it: lower case.
pub fn is_dangerous_scheme(scheme: &str) -> bool {
    matches!(
        scheme,
        "javascript" | "data" | "vbscript" | "file" | "blob" | "about" | "filesystem"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_names_are_recognised() {
        for h in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "app.localhost",
            "a.b.localhost.",
            "ip6-localhost",
        ] {
            assert!(is_loopback_name(h), "{h}");
        }
        for h in [
            "localhost.example",
            "mylocalhost",
            "example.com",
            "localhostx",
        ] {
            assert!(!is_loopback_name(h), "{h}");
        }
    }

    #[test]
    fn loopback_ips_are_recognised() {
        for s in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback_ip(s.parse().unwrap()), "{s}");
        }
        for s in ["10.0.0.1", "::2", "8.8.8.8"] {
            assert!(!is_loopback_ip(s.parse().unwrap()), "{s}");
        }
    }

    #[test]
    fn a_loopback_url_is_an_ip_literal_or_a_name_but_only_literals_free_the_port() {
        for u in [
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:3000/",
            "https://app.localhost/",
        ] {
            assert!(is_loopback_url(&url(u)), "{u}");
        }
        assert!(!is_loopback_url(&url("https://app.example.com/")));
        assert!(!is_loopback_url(&url("com.example.app:/cb")));
        assert!(has_loopback_ip(&url("http://127.0.0.1:5555/cb")));
        assert!(has_loopback_ip(&url("http://[::1]/cb")));
        assert!(!has_loopback_ip(&url("http://localhost/cb")));
    }

    #[test]
    fn same_origin_compares_scheme_host_and_port_cid_23() {
        let a = url("https://app.example.com/");
        assert!(same_origin(&a, &url("https://APP.example.com:443/cb?x")));
        for other in [
            "http://app.example.com/",
            "https://app.example.com:8443/",
            "https://other.example.com/",
            "com.example.app://app.example.com/",
        ] {
            assert!(!same_origin(&a, &url(other)), "{other}");
        }
    }

    #[test]
    fn script_and_local_schemes_are_dangerous() {
        for s in ["javascript", "data", "vbscript", "file", "blob", "about"] {
            assert!(is_dangerous_scheme(s), "{s}");
        }
        for s in ["http", "https", "com.example.app", "indigenous"] {
            assert!(!is_dangerous_scheme(s), "{s}");
        }
    }
}
