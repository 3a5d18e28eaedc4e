//! URL canonicalisation for comparisons (IA §3.4, CID-5, CID-14, CID-20) and
//! the small checks applied to every URL or name taken from a client's document.
//!
//! This module owns the rule "lower-case scheme and host, empty path becomes
//! `/`" applied to *strings* as published, so that a document's `client_id`
//! is compared without the extra normalisation a URL parser would apply
//! (CID-4, CID-14). It must never make two different resources compare equal.

use crate::domain::is_dangerous_scheme;
use url::Url;

/// The IA §3.4 canonical form of an absolute http(s) URL string, or None if
/// it is not one (no scheme, other scheme, userinfo, fragment).
///
/// Besides lower-casing scheme and host and turning an empty path into `/`,
/// a default port (`:443` for https, `:80` for http) is dropped: the
/// `client_id` we are handed was already parsed by the `url` crate, which
/// drops it, so keeping it here would make an honest document mismatch.
pub fn canonical(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') || tail.contains('#') {
        return None;
    }
    let mut authority = authority.to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    if let Some(stripped) = authority.strip_suffix(default_port) {
        authority = stripped.to_owned();
    }
    let tail = if tail.starts_with('/') {
        tail.to_owned()
    } else {
        format!("/{tail}")
    };
    Some(format!("{scheme}://{authority}{tail}"))
}

/// Canonical form of an already parsed URL (see [`canonical`]).
pub fn canonical_url(u: &Url) -> Option<String> {
    canonical(u.as_str())
}

/// True when `u` is an absolute `http`/`https` URL with a host. Used to
/// drop `javascript:`, `data:` and other schemes from logos and links.
pub fn is_http_url(u: &Url) -> bool {
    matches!(u.scheme(), "http" | "https") && u.host().is_some()
}

/// True when `u` may stand in a client's published redirect URI list,
/// whichever way it is published (JSON `redirect_uris`, `rel=redirect_uri`
/// in HTML or a `Link` header): absolute (RFC 7591 §2), without fragment
/// (RFC 6749 §3.1.2) and never a script-bearing scheme (CID-22). A native
/// app's custom scheme (`indigenous://auth/callback`, `com.example.app:/cb`)
/// is allowed: it is what such apps publish (IA §4.2.2, CID-21).
pub fn is_publishable_redirect(u: &Url) -> bool {
    u.fragment().is_none() && !is_dangerous_scheme(u.scheme())
}

/// Longest display name kept, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// A client name made safe to display as plain text: control and bidi
/// override characters removed (they can make a name lie about itself),
/// whitespace collapsed, trimmed, capped at [`MAX_NAME_CHARS`]. Not HTML
/// escaped: the consent template escapes on output. Empty becomes None.
pub fn clean_name(raw: &str) -> Option<String> {
    let mut out = String::new();
    let mut pending_space = false;
    let mut count = 0;
    for c in raw.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() || is_bidi_control(c) || c == '\u{feff}' {
            continue;
        }
        if pending_space {
            if count + 1 >= MAX_NAME_CHARS {
                break;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        if count >= MAX_NAME_CHARS {
            break;
        }
        out.push(c);
        count += 1;
    }
    (!out.is_empty()).then_some(out)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_path_becomes_slash_and_host_is_lowercased() {
        assert_eq!(
            canonical("https://APP.Example.com").as_deref(),
            Some("https://app.example.com/")
        );
        assert_eq!(
            canonical("HTTPS://app.example.com?x=1").as_deref(),
            Some("https://app.example.com/?x=1")
        );
        assert_eq!(
            canonical("https://app.example.com/A/b").as_deref(),
            Some("https://app.example.com/A/b")
        );
    }

    #[test]
    fn default_port_is_dropped_other_ports_kept() {
        assert_eq!(
            canonical("https://a.example:443/").as_deref(),
            Some("https://a.example/")
        );
        assert_eq!(
            canonical("http://a.example:80").as_deref(),
            Some("http://a.example/")
        );
        assert_eq!(
            canonical("https://a.example:8443/").as_deref(),
            Some("https://a.example:8443/")
        );
        assert_eq!(
            canonical("http://a.example:443/").as_deref(),
            Some("http://a.example:443/")
        );
    }

    #[test]
    fn non_urls_and_unsafe_forms_are_refused() {
        for s in [
            "",
            "app.example.com",
            "ftp://a.example/",
            "https://",
            "https://u:p@a.example/",
            "https://a.example/#x",
            "javascript:alert(1)",
        ] {
            assert_eq!(canonical(s), None, "{s}");
        }
    }

    #[test]
    fn path_is_not_normalised() {
        // CID-14: only the IA §3.4 steps; dot segments stay and so mismatch.
        assert_eq!(
            canonical("https://a.example/x/../").as_deref(),
            Some("https://a.example/x/../")
        );
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(
            clean_name("  Example \n\t App  ").as_deref(),
            Some("Example App")
        );
        assert_eq!(
            clean_name("Evil\u{202e}ppA\u{0007}").as_deref(),
            Some("EvilppA")
        );
        assert_eq!(
            clean_name("<script>alert(1)</script>").as_deref(),
            Some("<script>alert(1)</script>")
        );
        assert_eq!(clean_name(" \n "), None);
        let long = "x".repeat(500);
        assert_eq!(
            clean_name(&long).map(|n| n.chars().count()),
            Some(MAX_NAME_CHARS)
        );
    }

    proptest! {
        #[test]
        fn clean_name_is_bounded_and_clean(s in ".{0,400}") {
            if let Some(n) = clean_name(&s) {
                prop_assert!(n.chars().count() <= MAX_NAME_CHARS);
                prop_assert!(!n.chars().any(|c| c.is_control()));
                prop_assert_eq!(n.trim(), n.as_str());
                prop_assert!(!n.contains("  "));
            }
        }

        #[test]
        fn canonical_is_idempotent(s in "(https?|HTTP)://[a-zA-Z0-9.:]{1,20}[/?]?[a-z/?=]{0,10}") {
            if let Some(c) = canonical(&s) {
                prop_assert_eq!(canonical(&c), Some(c.clone()));
            }
        }
    }
}
