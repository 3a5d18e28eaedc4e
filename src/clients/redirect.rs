//! Redirect URI verification against a client's identity and published list
//! (CID-23..26, SEC-3).
//!
//! This module owns the one decision "may an authorization response for this
//! client be sent to this redirect URI?". It is pure: it uses only the
//! client_id, the redirect URI and the discovered [`ClientInfo`]. It must
//! never accept a prefix, suffix or wildcard match (CID-25).

use url::Url;

use super::{ClientInfo, InfoSource};
use crate::domain::{has_loopback_ip, is_dangerous_scheme, same_origin};

/// Why a redirect URI is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectVerdict {
    /// Same scheme, host and port as the client_id (CID-23).
    SameOrigin,
    /// Listed by the client itself, matched exactly (CID-24, CID-25), the
    /// port of a loopback IP redirect ignored (CID-26).
    Published,
}

/// A refused redirect URI; `reason` is a sentence for the error page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectRefusal {
    pub reason: String,
}

/// Decide whether `redirect_uri` may receive responses for `client_id`.
pub fn verify_redirect_uri(
    client_id: &Url,
    redirect_uri: &Url,
    info: &ClientInfo,
) -> Result<RedirectVerdict, RedirectRefusal> {
    // CID-22 is checked by the caller; refuse script schemes again here so a
    // mistake upstream cannot turn into a script redirect.
    if is_dangerous_scheme(redirect_uri.scheme()) || redirect_uri.fragment().is_some() {
        return Err(refuse("The redirect address is not allowed."));
    }
    // CID-23. The port counts here even for loopback client ids: the
    // RFC 8252 §7.3 port freedom applies to matching a *published* loopback
    // redirect (CID-26, `matches_published`), not to the origin rule.
    if same_origin(client_id, redirect_uri) {
        return Ok(RedirectVerdict::SameOrigin);
    }
    // Only information the client itself vouched for may widen the set
    // (CID-12, CID-24): an unavailable or invalid document publishes nothing.
    let published = match &info.source {
        InfoSource::Metadata | InfoSource::Microformats
            if same_client(client_id, &info.client_id) =>
        {
            &info.redirect_uris
        }
        _ => {
            return Err(refuse(
                "The redirect address is on a different site from the app, and the app's own page could not confirm it.",
            ));
        }
    };
    if published.iter().any(|p| matches_published(p, redirect_uri)) {
        Ok(RedirectVerdict::Published)
    } else {
        Err(refuse(
            "The redirect address is on a different site from the app, and the app does not list it as one of its own.",
        ))
    }
}

fn refuse(reason: &str) -> RedirectRefusal {
    RedirectRefusal {
        reason: reason.to_owned(),
    }
}

/// The info must be about this very client_id (it always is when it came
/// from `discover`; this guards against a mixed-up cache entry).
fn same_client(client_id: &Url, info_client_id: &str) -> bool {
    client_id.as_str() == info_client_id
}

/// CID-25: exact string comparison; CID-26: for `http` loopback IP
/// redirects, the port is ignored and everything else must still match.
fn matches_published(published: &str, redirect_uri: &Url) -> bool {
    if published == redirect_uri.as_str() {
        return true;
    }
    if redirect_uri.scheme() != "http" || !has_loopback_ip(redirect_uri) {
        return false;
    }
    let Ok(mut p) = Url::parse(published) else {
        return false;
    };
    if p.scheme() != "http" || p.host() != redirect_uri.host() {
        return false;
    }
    let mut r = redirect_uri.clone();
    // set_port only fails for URLs that cannot have a port, which http
    // URLs with a host always can; on failure we simply do not match.
    if p.set_port(None).is_err() || r.set_port(None).is_err() {
        return false;
    }
    p == r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn info(source: InfoSource, uris: &[&str]) -> ClientInfo {
        ClientInfo {
            client_id: "https://app.example.com/".into(),
            source,
            name: None,
            client_uri: None,
            logo_uri: None,
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn unavailable() -> ClientInfo {
        info(InfoSource::Unavailable { reason: "x".into() }, &[])
    }

    fn check(redirect: &str, info: &ClientInfo) -> Result<RedirectVerdict, RedirectRefusal> {
        verify_redirect_uri(&url("https://app.example.com/"), &url(redirect), info)
    }

    #[test]
    fn same_origin_needs_no_registration() {
        assert_eq!(
            check("https://app.example.com/redirect", &unavailable()),
            Ok(RedirectVerdict::SameOrigin)
        );
        assert_eq!(
            check("https://app.example.com:443/x?y=1", &unavailable()),
            Ok(RedirectVerdict::SameOrigin)
        );
        assert_eq!(
            check("https://APP.example.com/cb", &unavailable()),
            Ok(RedirectVerdict::SameOrigin)
        );
    }

    #[test]
    fn scheme_or_port_change_is_cross_origin() {
        assert!(check("http://app.example.com/redirect", &unavailable()).is_err());
        assert!(check("https://app.example.com:8443/redirect", &unavailable()).is_err());
        assert!(check("https://sub.app.example.com/redirect", &unavailable()).is_err());
    }

    #[test]
    fn tv7_i_unregistered_cross_origin_is_refused() {
        let i = info(InfoSource::Metadata, &["https://app.example.com/redirect"]);
        assert!(check("https://evil.example/cb", &i).is_err());
    }

    #[test]
    fn tv7_l_prefix_and_suffix_tricks_are_refused() {
        let i = info(
            InfoSource::Metadata,
            &[
                "https://app.example.com/redirect",
                "https://other.example/cb",
            ],
        );
        for r in [
            "https://app.example.com.evil.example/redirect",
            "https://other.example/cb/extra",
            "https://other.example/c",
            "https://other.example/cb?x=1",
            "https://other.example.evil/cb",
        ] {
            assert!(check(r, &i).is_err(), "{r}");
        }
    }

    #[test]
    fn published_uris_match_exactly() {
        for source in [InfoSource::Metadata, InfoSource::Microformats] {
            let i = info(
                source,
                &["https://other.example/cb", "com.example.app:/callback"],
            );
            assert_eq!(
                check("https://other.example/cb", &i),
                Ok(RedirectVerdict::Published)
            );
            assert_eq!(
                check("com.example.app:/callback", &i),
                Ok(RedirectVerdict::Published)
            );
        }
    }

    #[test]
    fn unverified_sources_publish_nothing() {
        for source in [
            InfoSource::Unavailable { reason: "x".into() },
            InfoSource::NotFetched { reason: "x".into() },
            InfoSource::Refused { reason: "x".into() },
        ] {
            let i = info(source, &["https://other.example/cb"]);
            assert!(check("https://other.example/cb", &i).is_err());
        }
    }

    #[test]
    fn info_for_another_client_is_not_used() {
        let mut i = info(InfoSource::Metadata, &["https://other.example/cb"]);
        i.client_id = "https://evil.example/".into();
        assert!(check("https://other.example/cb", &i).is_err());
    }

    #[test]
    fn loopback_redirect_ignores_port_only() {
        let i = info(
            InfoSource::Metadata,
            &["http://127.0.0.1/callback", "http://[::1]:1234/cb"],
        );
        assert_eq!(
            check("http://127.0.0.1:49152/callback", &i),
            Ok(RedirectVerdict::Published)
        );
        assert_eq!(
            check("http://127.0.0.1/callback", &i),
            Ok(RedirectVerdict::Published)
        );
        assert_eq!(
            check("http://[::1]:5555/cb", &i),
            Ok(RedirectVerdict::Published)
        );
        assert!(check("http://127.0.0.1:49152/callback2", &i).is_err());
        assert!(check("http://127.0.0.1:49152/callback?x", &i).is_err());
        assert!(check("https://127.0.0.1:49152/callback", &i).is_err());
        assert!(check("http://[::1]:5555/callback", &i).is_err());
        // Port flexibility is for loopback IPs only, not for names.
        let i = info(
            InfoSource::Metadata,
            &["http://localhost/callback", "https://other.example/cb"],
        );
        assert!(check("http://localhost:8080/callback", &i).is_err());
        assert!(check("https://other.example:444/cb", &i).is_err());
    }

    #[test]
    fn loopback_client_id_redirect_must_keep_its_port_cid_23() {
        let id = url("http://127.0.0.1:8080/");
        let i = ClientInfo {
            client_id: id.to_string(),
            ..info(
                InfoSource::NotFetched {
                    reason: "loopback".into(),
                },
                &[],
            )
        };
        assert_eq!(
            verify_redirect_uri(&id, &url("http://127.0.0.1:8080/cb"), &i),
            Ok(RedirectVerdict::SameOrigin)
        );
        assert!(verify_redirect_uri(&id, &url("http://127.0.0.1:9999/cb"), &i).is_err());
        assert!(verify_redirect_uri(&id, &url("http://[::1]:8080/cb"), &i).is_err());
        assert!(verify_redirect_uri(&id, &url("https://evil.example/cb"), &i).is_err());
    }

    #[test]
    fn dangerous_schemes_are_refused_even_if_published() {
        let i = info(InfoSource::Metadata, &["javascript:alert(1)"]);
        assert!(check("javascript:alert(1)", &i).is_err());
        assert!(check("https://app.example.com/cb#frag", &i).is_err());
    }
}
