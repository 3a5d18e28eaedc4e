//! The guarded HTTP fetcher used for every outbound request doorstep makes on
//! a client's behalf (SEC-7; CID-7..10).
//!
//! This module owns the SSRF defences: a DNS resolver that drops forbidden
//! addresses so that reqwest can only connect to addresses we checked (no
//! DNS-rebinding gap), a pre-flight check of IP-literal hosts (which never
//! reach the resolver), manual redirect handling with a hop limit, a status
//! and content-type gate, and a body reader that stops at a byte cap. It must
//! never buffer more than the cap, follow a non-http(s) URL, use a proxy or
//! keep cookies. Callers bound the total time with `tokio::time::timeout`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, LOCATION};
use reqwest::{StatusCode, redirect};
use url::{Host, Url};

use super::FetchPolicy;
use super::addr::is_public;
use crate::domain::{is_loopback_name, same_origin};

/// Redirects followed at most (CID-9 "a few"); loops end here too.
pub const MAX_REDIRECTS: usize = 3;

/// Why a fetch failed. `reason()` is the text shown to people; the variant
/// and its source are for the log only (STYLE habit 4).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("could not build the HTTP client")]
    Build(#[source] reqwest::Error),
    #[error("the task building the HTTP client failed")]
    Setup,
    #[error("refused to fetch a non-public address")]
    ForbiddenAddress,
    #[error("refused to fetch a non-http(s) URL")]
    UnsupportedScheme,
    #[error("timed out")]
    Timeout,
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("redirect to another origin")]
    CrossOriginRedirect,
    #[error("redirect without a usable Location")]
    BadRedirect,
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    #[error("unexpected content type {0:?}")]
    ContentType(String),
    #[error("could not connect")]
    Connect(#[source] reqwest::Error),
    #[error("HTTP transport error")]
    Transport(#[source] reqwest::Error),
}

impl FetchError {
    /// A short sentence for the owner, with no internal detail.
    pub fn reason(&self) -> String {
        match self {
            FetchError::Build(_) | FetchError::Setup | FetchError::Transport(_) => {
                "the app's page could not be read".into()
            }
            FetchError::ForbiddenAddress => {
                "the app's address points to a private or special network".into()
            }
            FetchError::UnsupportedScheme => "the app's address does not use http or https".into(),
            FetchError::Timeout => "the app's page took too long to answer".into(),
            FetchError::TooLarge(_) => "the app's page is too large".into(),
            FetchError::TooManyRedirects => "the app's page redirects too many times".into(),
            FetchError::CrossOriginRedirect => "the app's page redirects to another site".into(),
            FetchError::BadRedirect => "the app's page redirects to an invalid address".into(),
            FetchError::Status(code) => format!("the app's page answered with HTTP status {code}"),
            FetchError::ContentType(_) => "the app's page is neither JSON nor HTML".into(),
            FetchError::Connect(_) => "the app's site could not be reached".into(),
        }
    }
}

/// Which redirects a fetch may follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redirects {
    /// Only to the origin of the first URL, or its https upgrade (client
    /// pages, CID-9).
    SameOrigin,
    /// Anywhere http(s) (logos on CDNs); every hop still passes the guard.
    AnyOrigin,
}

/// A successful (HTTP 200) response, read within the cap.
#[derive(Debug)]
pub struct Fetched {
    /// The URL the body came from, after redirects.
    pub final_url: Url,
    /// True when at least one redirect was followed.
    pub redirected: bool,
    /// Lower-cased media type without parameters, e.g. `application/json`.
    pub media_type: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// The reqwest client and the policy it was built from.
#[derive(Clone)]
pub struct GuardedClient {
    client: reqwest::Client,
    allow_private: bool,
}

impl GuardedClient {
    pub fn new(policy: &FetchPolicy) -> Result<Self, FetchError> {
        Self::with_resolver(policy, GuardedResolver::new(policy.allow_private))
    }

    /// Build with a given resolver (tests use one with a fixed host table).
    pub fn with_resolver(
        policy: &FetchPolicy,
        resolver: GuardedResolver,
    ) -> Result<Self, FetchError> {
        super::ensure_tls_provider();
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(resolver))
            // Redirects are followed by hand in `get`, one checked hop at a time.
            .redirect(redirect::Policy::none())
            // A proxy would connect on our behalf to names we never checked.
            .no_proxy()
            .referer(false)
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.total_timeout)
            .user_agent(policy.user_agent.clone())
            .build()
            .map_err(FetchError::Build)?;
        Ok(GuardedClient {
            client,
            allow_private: policy.allow_private,
        })
    }

    /// Refuse URLs we must never request, before any connection is made.
    /// IP-literal hosts never reach the resolver (hyper connects to them
    /// directly), so they are checked here; names are checked again by the
    /// resolver after lookup.
    pub fn check_target(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::UnsupportedScheme);
        }
        // `allow_private` is the test/development knob: with it on, loopback
        // and private targets are fetched (fixture servers live on 127.0.0.1).
        if self.allow_private {
            return Ok(());
        }
        let allowed = match url.host() {
            Some(Host::Ipv4(ip)) => is_public(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => is_public(IpAddr::V6(ip)),
            Some(Host::Domain(name)) => !is_loopback_name(name),
            None => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(FetchError::ForbiddenAddress)
        }
    }

    /// GET `start`, following at most [`MAX_REDIRECTS`] redirects allowed by
    /// `redirects`. `cap_for` maps the response media type to its byte cap,
    /// or None to refuse that type. Only HTTP 200 is a success (CID-9).
    pub async fn get(
        &self,
        start: &Url,
        accept: &'static str,
        redirects: Redirects,
        cap_for: impl Fn(&str) -> Option<usize>,
    ) -> Result<Fetched, FetchError> {
        let mut url = start.clone();
        let mut hops = 0;
        loop {
            self.check_target(&url)?;
            let response = self
                .client
                .get(url.clone())
                .header(ACCEPT, accept)
                .send()
                .await
                .map_err(classify)?;
            let status = response.status();
            if is_redirect(status) {
                if hops >= MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects);
                }
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .ok_or(FetchError::BadRedirect)?;
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(FetchError::UnsupportedScheme);
                }
                if redirects == Redirects::SameOrigin && !same_origin_or_upgrade(start, &next) {
                    return Err(FetchError::CrossOriginRedirect);
                }
                hops += 1;
                url = next;
                continue;
            }
            if status != StatusCode::OK {
                return Err(FetchError::Status(status.as_u16()));
            }
            let media_type = media_type(response.headers());
            let cap =
                cap_for(&media_type).ok_or_else(|| FetchError::ContentType(media_type.clone()))?;
            let headers = response.headers().clone();
            let body = read_capped(response, cap).await?;
            return Ok(Fetched {
                final_url: url,
                redirected: hops > 0,
                media_type,
                headers,
                body,
            });
        }
    }
}

/// Same origin, or the same host moving from `http` to `https` on default
/// ports: the common "force TLS" redirect of an `http` client_id, which only
/// makes the fetch safer.
fn same_origin_or_upgrade(start: &Url, next: &Url) -> bool {
    if same_origin(start, next) {
        return true;
    }
    start.scheme() == "http"
        && next.scheme() == "https"
        && start.host() == next.host()
        && start.port().is_none()
        && next.port().is_none()
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// `type/subtype` from Content-Type, lower-cased, parameters dropped.
fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Read the body chunk by chunk and stop as soon as it would pass `cap`.
/// reqwest decompresses gzip inside this stream, so the cap applies to the
/// inflated size and a gzip bomb stops at `cap` bytes too (CID-10).
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, FetchError> {
    // Content-Length is the compressed size when gzip is used, so it is only
    // a shortcut for refusing early, never a guarantee.
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Err(FetchError::TooLarge(cap));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > cap {
            return Err(FetchError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Sort a reqwest error into the kinds we report differently.
fn classify(e: reqwest::Error) -> FetchError {
    if is_forbidden(&e) {
        FetchError::ForbiddenAddress
    } else if e.is_timeout() {
        FetchError::Timeout
    } else if e.is_connect() {
        FetchError::Connect(e)
    } else {
        FetchError::Transport(e)
    }
}

/// True when the error chain contains our resolver's refusal.
fn is_forbidden(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<ForbiddenResolution>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The resolver refused every address a name resolved to.
#[derive(Debug, thiserror::Error)]
#[error("name resolves only to non-public addresses")]
pub struct ForbiddenResolution;

/// Resolves with the system resolver and keeps only public addresses
/// (CID-8). reqwest connects only to what this returns, so a second lookup
/// cannot swap in a private address (DNS rebinding).
pub struct GuardedResolver {
    allow_private: bool,
    /// A fixed host table instead of the system resolver, so tests can make
    /// a public-looking name resolve to a private address.
    static_hosts: Option<Arc<HashMap<String, Vec<IpAddr>>>>,
}

impl GuardedResolver {
    pub fn new(allow_private: bool) -> Self {
        GuardedResolver {
            allow_private,
            static_hosts: None,
        }
    }

    /// A resolver answering from `hosts` only (for tests).
    #[cfg(test)]
    pub fn with_static_hosts(allow_private: bool, hosts: HashMap<String, Vec<IpAddr>>) -> Self {
        GuardedResolver {
            allow_private,
            static_hosts: Some(Arc::new(hosts)),
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        let static_hosts = self.static_hosts.clone();
        Box::pin(async move {
            if !allow_private && is_loopback_name(&host) {
                return Err(
                    Box::new(ForbiddenResolution) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            // Port 0: reqwest substitutes the URL's port.
            let found: Vec<SocketAddr> = match static_hosts {
                Some(table) => table
                    .get(&host)
                    .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect())
                    .unwrap_or_default(),
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(
                    Box::new(ForbiddenResolution) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[tokio::test]
    async fn resolver_refuses_localhost_unless_private_allowed() {
        let strict = GuardedResolver::new(false);
        let err = strict
            .resolve(Name::from_str("localhost").unwrap())
            .await
            .err()
            .unwrap();
        assert!(err.is::<ForbiddenResolution>());
        let lax = GuardedResolver::new(true);
        let addrs: Vec<_> = lax
            .resolve(Name::from_str("localhost").unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
        assert!(!addrs.is_empty());
    }

    #[tokio::test]
    async fn resolver_filters_literal_private_answers() {
        // A name that resolves to a private address: the system resolver
        // returns IP-literal "names" as themselves, which exercises the
        // filter without any network.
        let strict = GuardedResolver::new(false);
        for name in ["127.0.0.1", "10.1.2.3", "169.254.169.254"] {
            let res = strict.resolve(Name::from_str(name).unwrap()).await;
            assert!(res.is_err(), "{name}");
        }
    }

    #[test]
    fn check_target_refuses_private_literals_and_other_schemes() {
        let strict = GuardedClient::new(&FetchPolicy::default()).unwrap();
        for u in [
            "http://127.0.0.1/",
            "http://[::1]:8080/",
            "http://10.0.0.1/",
            "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost/",
            "http://app.localhost./",
            "http://0x7f.1/",
            "ftp://example.com/",
            "file:///etc/passwd",
        ] {
            assert!(strict.check_target(&Url::parse(u).unwrap()).is_err(), "{u}");
        }
        assert!(
            strict
                .check_target(&Url::parse("https://app.example.com/").unwrap())
                .is_ok()
        );
        assert!(
            strict
                .check_target(&Url::parse("http://93.184.215.14/").unwrap())
                .is_ok()
        );
        let lax = GuardedClient::new(&FetchPolicy {
            allow_private: true,
            ..FetchPolicy::default()
        })
        .unwrap();
        assert!(
            lax.check_target(&Url::parse("http://127.0.0.1:1/").unwrap())
                .is_ok()
        );
        assert!(
            lax.check_target(&Url::parse("ftp://127.0.0.1/").unwrap())
                .is_err()
        );
    }

    #[test]
    fn redirect_origin_rule() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin_or_upgrade(
            &u("http://a.example/"),
            &u("https://a.example/x")
        ));
        assert!(same_origin_or_upgrade(
            &u("https://a.example/"),
            &u("https://a.example:443/x")
        ));
        assert!(!same_origin_or_upgrade(
            &u("https://a.example/"),
            &u("http://a.example/")
        ));
        assert!(!same_origin_or_upgrade(
            &u("http://a.example/"),
            &u("https://b.example/")
        ));
        assert!(!same_origin_or_upgrade(
            &u("http://a.example:8080/"),
            &u("https://a.example:8443/")
        ));
        assert!(!same_origin_or_upgrade(
            &u("https://a.example/"),
            &u("https://a.example.evil/")
        ));
    }

    #[test]
    fn media_type_drops_parameters() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, "Text/HTML; charset=utf-8".parse().unwrap());
        assert_eq!(media_type(&h), "text/html");
        assert_eq!(media_type(&HeaderMap::new()), "");
    }

    #[test]
    fn reasons_carry_no_internal_detail() {
        let e = FetchError::ContentType("application/x-secret-internal".into());
        assert!(!e.reason().contains("secret"));
        assert!(!FetchError::TooLarge(524288).reason().contains("524288"));
    }
}
