//! The three kinds of URL IndieAuth treats specially: the owner's profile URL
//! (`me`, IA §3.2), a client identifier (IA §3.3) and a redirect URI.
//!
//! The spec's rules apply to the URL *as given*, so dot segments, userinfo,
//! ports and fragments are checked on the raw string before the `url` crate
//! parses (and would silently normalise) it (CID-4). Canonical form (IA §3.4,
//! CID-5) is the `url` crate's serialisation: lower-case host, `/` for an
//! empty path.

use super::host::{is_dangerous_scheme, is_loopback_url, same_origin};
use std::fmt;
use std::net::Ipv4Addr;
use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("is missing")]
    Missing,
    #[error("contains spaces, control characters or backslashes")]
    BadCharacters,
    #[error("must be written in ASCII (a non-ASCII domain name in its xn-- form)")]
    NotAscii,
    #[error("is not an absolute URL")]
    NotAbsolute,
    #[error("must use http or https")]
    BadScheme,
    #[error("must not contain a fragment (#…)")]
    Fragment,
    #[error("must not contain a user name or password")]
    Userinfo,
    #[error("must not contain . or .. path segments")]
    DotSegment,
    #[error("must not contain a port")]
    Port,
    #[error("must have a domain name as its host, not an IP address")]
    IpHost,
    #[error("uses a scheme that is never allowed as a redirect")]
    DangerousScheme,
}

/// The pieces of a raw `scheme://authority/path?query#fragment` string.
struct RawParts<'a> {
    authority: &'a str,
    path: &'a str,
    has_fragment: bool,
}

/// Splits an http(s) URL without normalising anything.
fn split_http(raw: &str) -> Result<RawParts<'_>, UrlError> {
    if raw.is_empty() {
        return Err(UrlError::Missing);
    }
    if raw
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Err(UrlError::BadCharacters);
    }
    let (scheme, rest) = raw.split_once("://").ok_or(UrlError::NotAbsolute)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(UrlError::BadScheme);
    }
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(auth_end);
    let path_end = after.find(['?', '#']).unwrap_or(after.len());
    Ok(RawParts {
        authority,
        path: &after[..path_end],
        has_fragment: raw.contains('#'),
    })
}

/// True for `.` and `..` segments, including percent-encoded spellings
/// such as `%2e%2E` that a URL parser would quietly resolve.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|seg| {
        let decoded = seg.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

/// The host part of a raw authority (no userinfo), without its port.
fn raw_host(authority: &str) -> (&str, bool) {
    if let Some(end) = authority.find(']') {
        let host = &authority[..=end];
        (host, authority.len() > end + 1)
    } else if let Some((host, _port)) = authority.rsplit_once(':') {
        (host, true)
    } else {
        (authority, false)
    }
}

/// Shared checks for profile URLs and client ids (IA §3.2, §3.3).
fn parse_identifier(raw: &str) -> Result<(Url, RawParts<'_>), UrlError> {
    let parts = split_http(raw)?;
    if parts.has_fragment {
        return Err(UrlError::Fragment);
    }
    if parts.authority.contains('@') {
        return Err(UrlError::Userinfo);
    }
    if has_dot_segment(parts.path) {
        return Err(UrlError::DotSegment);
    }
    let url = Url::parse(raw).map_err(|_| UrlError::NotAbsolute)?;
    if url.host().is_none() {
        return Err(UrlError::NotAbsolute);
    }
    Ok((url, parts))
}

/// A client identifier (IA §3.3): http(s), a domain name or a loopback
/// address, port and query allowed; canonical form per IA §3.4.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientId(Url);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        let (url, parts) = parse_identifier(raw)?;
        let (host, _) = raw_host(parts.authority);
        match url.host() {
            Some(Host::Domain(_)) => {}
            // CID-3: only the two loopback literals, spelled exactly so
            // (`https://0x7f.1/` also parses as 127.0.0.1 and is refused).
            Some(Host::Ipv4(ip)) if ip == Ipv4Addr::LOCALHOST && host == "127.0.0.1" => {}
            Some(Host::Ipv6(ip)) if ip.is_loopback() => {}
            _ => return Err(UrlError::IpHost),
        }
        Ok(ClientId(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.0
    }

    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// The host as the owner is shown it, with its port if it has one:
    /// `app.example.com:8443` is not `app.example.com`.
    pub fn display_host(&self) -> String {
        host_and_port(&self.0).unwrap_or_default()
    }

    /// IA §4.2 / CID-7: loopback clients are never fetched.
    pub fn is_loopback(&self) -> bool {
        is_loopback_url(&self.0)
    }

    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.0)
    }
}

/// As its canonical string.
impl serde::Serialize for ClientId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// The owner's profile URL (IA §3.2, DISC-16). In local development (a
/// loopback issuer) a loopback host and a port are tolerated; the caller
/// decides that and says so loudly.
#[derive(Clone, PartialEq, Eq)]
pub struct ProfileUrl(Url);

impl ProfileUrl {
    pub fn parse(raw: &str, allow_local_development: bool) -> Result<Self, UrlError> {
        let (url, parts) = parse_identifier(raw)?;
        let (_, has_port) = raw_host(parts.authority);
        let local = allow_local_development && is_loopback_url(&url);
        if has_port && !local {
            return Err(UrlError::Port);
        }
        match url.host() {
            Some(Host::Domain(_)) => {}
            Some(_) if local => {}
            _ => return Err(UrlError::IpHost),
        }
        Ok(ProfileUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl fmt::Debug for ProfileUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProfileUrl({})", self.0)
    }
}

/// A redirect URI as the client sent it. The raw string is kept: matching is
/// exact string comparison (CID-25), and the redirect we send keeps the
/// client's own spelling and query (AREQ-14).
#[derive(Clone, PartialEq, Eq)]
pub struct RedirectUri {
    raw: String,
    url: Url,
}

impl RedirectUri {
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        if raw.is_empty() {
            return Err(UrlError::Missing);
        }
        // Printable ASCII only: it goes into a Location header verbatim.
        if !raw.is_ascii() {
            return Err(UrlError::NotAscii);
        }
        if !raw.bytes().all(|b| (0x21..=0x7e).contains(&b)) || raw.contains('\\') {
            return Err(UrlError::BadCharacters);
        }
        if raw.contains('#') {
            return Err(UrlError::Fragment);
        }
        let url = Url::parse(raw).map_err(|_| UrlError::NotAbsolute)?;
        // `https://paypal.com@app.example/cb` goes to app.example, but a
        // person reading the consent page sees paypal.com first; client ids
        // refuse userinfo for the same reason (IA §3.3).
        let authority = raw.split_once("://").map(|(_, rest)| {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            &rest[..end]
        });
        if authority.is_some_and(|a| a.contains('@'))
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(UrlError::Userinfo);
        }
        match url.scheme() {
            scheme if is_dangerous_scheme(scheme) => return Err(UrlError::DangerousScheme),
            "http" | "https" if url.host().is_none() || !raw.contains("://") => {
                return Err(UrlError::NotAbsolute);
            }
            _ => {}
        }
        Ok(RedirectUri {
            raw: raw.to_owned(),
            url,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Human-readable "where the code goes": the host, or the scheme for
    /// app-specific schemes such as `com.example.app:/callback`.
    pub fn display_host(&self) -> String {
        host_and_port(&self.url).unwrap_or_else(|| format!("{}:", self.url.scheme()))
    }

    /// An app-specific scheme (`com.example.app:/callback`, RFC 8252
    /// §7.1), which has no web host.
    pub fn is_app_scheme(&self) -> bool {
        !matches!(self.url.scheme(), "http" | "https")
    }

    pub fn is_insecure_http(&self) -> bool {
        self.url.scheme() == "http" && !is_loopback_url(&self.url)
    }

    /// CID-23: same scheme, host and port as the client id.
    pub fn same_origin_as(&self, client: &ClientId) -> bool {
        same_origin(&self.url, client.url())
    }

    /// The redirect with parameters added to whatever query the client's URI
    /// already has (AREQ-14), form-urlencoded so `+`, `/`, `=` survive.
    pub fn with_params(&self, params: &[(&str, &str)]) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            ser.append_pair(k, v);
        }
        let encoded = ser.finish();
        let sep = match self.raw.find('?') {
            None => "?",
            Some(_) if self.raw.ends_with('?') || self.raw.ends_with('&') => "",
            Some(_) => "&",
        };
        format!("{}{sep}{encoded}", self.raw)
    }
}

impl fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedirectUri({})", self.raw)
    }
}

/// `host` or `host:port` (a port other than the scheme's default), as the
/// owner is shown where an app lives or sends codes; `None` without a host.
pub fn host_and_port(url: &Url) -> Option<String> {
    let h = url.host_str()?;
    Some(match url.port() {
        Some(p) => format!("{h}:{p}"),
        None => h.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tv7_client_ids_that_must_be_refused() {
        for (raw, err) in [
            ("", UrlError::Missing),
            ("https://app.example.com/#frag", UrlError::Fragment),
            ("https://user:pass@app.example.com/", UrlError::Userinfo),
            ("https://app.example.com/foo/../bar", UrlError::DotSegment),
            ("https://app.example.com/foo/./bar", UrlError::DotSegment),
            (
                "https://app.example.com/foo/%2e%2E/bar",
                UrlError::DotSegment,
            ),
            ("https://app.example.com/foo/.%2e", UrlError::DotSegment),
            ("ftp://app.example.com/", UrlError::BadScheme),
            ("app.example.com", UrlError::NotAbsolute),
            ("https://10.0.0.1/", UrlError::IpHost),
            ("https://[2001:db8::1]/", UrlError::IpHost),
            ("https://0x7f.1/", UrlError::IpHost),
            ("https://app.example.com\\@evil/", UrlError::BadCharacters),
            ("https://app.example.com/ x", UrlError::BadCharacters),
        ] {
            assert_eq!(ClientId::parse(raw), Err(err), "{raw}");
        }
    }

    /// The consent page and the dashboard show an app's host the same way,
    /// with a port that is not the scheme's default.
    #[test]
    fn an_app_is_shown_with_its_port() {
        let shown = |raw: &str| ClientId::parse(raw).unwrap().display_host();
        assert_eq!(
            shown("https://app.example.com:8443/"),
            "app.example.com:8443"
        );
        assert_eq!(shown("https://app.example.com:443/"), "app.example.com");
        assert_eq!(shown("https://app.example.com/"), "app.example.com");
    }

    /// CID-2: a missing path is `/`; a query and a port are allowed.
    #[test]
    fn tv7_client_ids_that_must_be_accepted_cid_5_leg_11() {
        for (raw, canonical) in [
            ("https://app.example.com", "https://app.example.com/"),
            (
                "https://app.example.com:8443/",
                "https://app.example.com:8443/",
            ),
            (
                "https://app.example.com/?v=1",
                "https://app.example.com/?v=1",
            ),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/"),
            ("http://[::1]/", "http://[::1]/"),
            ("https://APP.Example.com/", "https://app.example.com/"),
            ("http://localhost:3000/app", "http://localhost:3000/app"),
        ] {
            assert_eq!(ClientId::parse(raw).unwrap().as_str(), canonical, "{raw}");
        }
        assert!(
            ClientId::parse("http://127.0.0.1:8080/")
                .unwrap()
                .is_loopback()
        );
        assert!(
            !ClientId::parse("https://app.example.com/")
                .unwrap()
                .is_loopback()
        );
    }

    #[test]
    fn disc_16_profile_url_rules() {
        assert_eq!(
            ProfileUrl::parse("https://user.example.net", false)
                .unwrap()
                .as_str(),
            "https://user.example.net/"
        );
        assert!(ProfileUrl::parse("https://user.example.net/?u=1", false).is_ok());
        assert_eq!(
            ProfileUrl::parse("https://user.example.net:8443/", false),
            Err(UrlError::Port)
        );
        assert_eq!(
            ProfileUrl::parse("https://192.0.2.1/", false),
            Err(UrlError::IpHost)
        );
        assert_eq!(
            ProfileUrl::parse("http://127.0.0.1:8080/", false),
            Err(UrlError::Port)
        );
        assert!(ProfileUrl::parse("http://127.0.0.1:8080/", true).is_ok());
        assert_eq!(
            ProfileUrl::parse("https://example.com:8080/", true),
            Err(UrlError::Port)
        );
    }

    #[test]
    fn cid_22_redirect_uri_rules() {
        assert!(RedirectUri::parse("https://app.example.com/redirect").is_ok());
        assert!(RedirectUri::parse("com.example.app:/callback").is_ok());
        assert_eq!(
            RedirectUri::parse("https://app.example.com/redirect#x"),
            Err(UrlError::Fragment)
        );
        assert_eq!(
            RedirectUri::parse("javascript:alert(1)"),
            Err(UrlError::DangerousScheme)
        );
        assert_eq!(
            RedirectUri::parse("JavaScript:alert(1)"),
            Err(UrlError::DangerousScheme)
        );
        assert_eq!(
            RedirectUri::parse("data:text/html,hi"),
            Err(UrlError::DangerousScheme)
        );
        assert_eq!(RedirectUri::parse("/relative"), Err(UrlError::NotAbsolute));
        // Said as it is, not as "spaces or control characters".
        assert_eq!(
            RedirectUri::parse("http://\u{2603}.example/cb"),
            Err(UrlError::NotAscii)
        );
        assert!(RedirectUri::parse("http://xn--n3h.example/cb").is_ok());
        assert_eq!(RedirectUri::parse("https:evil"), Err(UrlError::NotAbsolute));
        for userinfo in [
            "https://paypal.com@app.example/cb",
            "https://user:pass@app.example/cb",
            "https://@app.example/cb",
            "com.example.app://evil@host/cb",
        ] {
            assert_eq!(
                RedirectUri::parse(userinfo),
                Err(UrlError::Userinfo),
                "{userinfo}"
            );
        }
        assert!(RedirectUri::parse("https://app.example/cb?who=a@b").is_ok());
    }

    #[test]
    fn cid_23_same_origin_compares_scheme_host_and_port() {
        let client = ClientId::parse("https://app.example.com/").unwrap();
        let same = RedirectUri::parse("https://APP.example.com:443/cb").unwrap();
        assert!(same.same_origin_as(&client));
        for other in [
            "http://app.example.com/cb",
            "https://app.example.com:8443/cb",
            "https://app.example.com.evil.example/redirect",
            "https://evil.example/cb",
        ] {
            assert!(!RedirectUri::parse(other).unwrap().same_origin_as(&client));
        }
    }

    #[test]
    fn areq_14_params_are_added_to_the_existing_query() {
        let r = RedirectUri::parse("https://app.example.com/redirect?foo=bar").unwrap();
        assert_eq!(
            r.with_params(&[("code", "abc"), ("state", "a b+c&d=e/")]),
            "https://app.example.com/redirect?foo=bar&code=abc&state=a+b%2Bc%26d%3De%2F"
        );
        let r = RedirectUri::parse("https://app.example.com/redirect").unwrap();
        assert_eq!(
            r.with_params(&[("x", "1")]),
            "https://app.example.com/redirect?x=1"
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,200}") {
            let _ = ClientId::parse(&s);
            let _ = ProfileUrl::parse(&s, true);
            let _ = RedirectUri::parse(&s);
        }

        #[test]
        fn accepted_client_ids_are_canonical_and_stable(
            // Not starting with "x": `xn--` begins an IDNA label, and a
            // made-up one is rightly refused as no host at all.
            host in "[a-w][a-z0-9-]{0,20}(\\.[a-z]{2,6}){1,2}",
            path in "(/[A-Za-z0-9_~-]{1,10}){0,3}",
        ) {
            let id = ClientId::parse(&format!("https://{host}{path}")).unwrap();
            prop_assert!(id.as_str().starts_with("https://"));
            let again = ClientId::parse(id.as_str()).unwrap();
            prop_assert_eq!(again.as_str(), id.as_str());
        }

        #[test]
        fn any_dot_segment_is_refused(prefix in "(/[a-z]{1,5}){0,3}", dots in "(\\.|\\.\\.|%2e|%2E%2e)") {
            let raw = format!("https://app.example.com{prefix}/{dots}/x");
            prop_assert_eq!(ClientId::parse(&raw), Err(UrlError::DotSegment));
        }
    }
}
