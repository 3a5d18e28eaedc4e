//! Client information discovery (IA §4.2, CID-7..27, SEC-7).
//!
//! This module owns everything doorstep learns about a client app from its
//! `client_id` URL: the guarded fetch (no loopback or private targets, no
//! proxies, bounded time and size, checked redirects), the JSON client
//! metadata document (CID-14..18), the legacy HTML page with `h-app` /
//! `h-x-app` and `rel=redirect_uri` (CID-20, CID-21), the logo fetch for
//! re-serving (CID-19), how long a result may be cached (CID-13), and the
//! redirect URI verification built on it (CID-23..26), the CPU bound on
//! parsing a page, and the brief memory of failed discoveries.
//!
//! It must never fetch a loopback client_id in production (CID-7), never
//! use any part of an invalid document, never let a fetch failure escape as
//! an error (it becomes [`InfoSource::Unavailable`]) and never put internal
//! error text into a `reason`. The `client_id` it receives has already been
//! validated and canonicalised by `domain` (CID-1..5).
//!
//! Map: `fetch` (guarded HTTP, private), [`addr`] (address filter), [`metadata`]
//! (JSON), [`html`] (microformats), [`html_budget`] (CPU bounds of the
//! HTML parse), [`link_header`] (RFC 8288), [`redirect`] (verification),
//! [`cache_policy`] (TTL), [`info_cache`] (discovery behind the SQLite
//! cache), [`canon`] (URL canonicalisation and name cleaning).

pub mod addr;
pub mod cache_policy;
pub mod canon;
mod fetch;
pub mod html;
pub mod html_budget;
pub mod info_cache;
pub mod link_header;
pub mod logo_cache;
pub mod metadata;
pub mod redirect;

#[cfg(test)]
mod fixture_tests;

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use url::Url;

pub use fetch::FetchError;
pub use redirect::{RedirectRefusal, RedirectVerdict, verify_redirect_uri};

use crate::clock::Clock;
use crate::errors::error_chain;
use canon::canonical_url;
use fetch::{Fetched, GuardedClient, Redirects};

/// reqwest is built without a default TLS crypto provider (to avoid
/// aws-lc's C build); every outbound client needs `ring` installed first,
/// or building it panics. Idempotent.
pub fn ensure_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Limits for every outbound fetch made for a client (CID-10, SEC-7).
#[derive(Clone, Debug)]
pub struct FetchPolicy {
    /// Fetch loopback and private addresses too. Off in production; tests
    /// and local development turn it on (`allow_private_client_fetch`).
    pub allow_private: bool,
    pub connect_timeout: Duration,
    /// Bound on the whole discovery: connect, redirects, headers and body.
    pub total_timeout: Duration,
    /// Byte cap for HTML pages (inflated size).
    pub max_body: usize,
    /// Byte cap for JSON metadata documents (inflated size).
    pub max_json_body: usize,
    /// CPU bounds on parsing an HTML page within `max_body`.
    pub html_limits: html_budget::Limits,
    pub user_agent: String,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            allow_private: false,
            connect_timeout: Duration::from_secs(3),
            total_timeout: Duration::from_secs(5),
            max_body: 512 * 1024,
            // CIMD recommends 5 KB; real documents with long redirect lists
            // exceed that, so be tolerant but still small.
            max_json_body: 64 * 1024,
            html_limits: html_budget::Limits::default(),
            user_agent: format!(
                "doorstep/{} (IndieAuth client discovery)",
                env!("CARGO_PKG_VERSION")
            ),
        }
    }
}

/// What doorstep knows about a client, for the consent page and for
/// redirect URI verification.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClientInfo {
    /// The canonical client_id that was looked up.
    pub client_id: String,
    pub source: InfoSource,
    /// Plain text (not HTML-escaped), trimmed, at most 100 characters.
    pub name: Option<String>,
    /// Absolute http(s) URL, a prefix of client_id for JSON (CID-15).
    pub client_uri: Option<String>,
    /// Absolute http(s) URL only; fetch it with [`ClientFetcher::fetch_logo`].
    pub logo_uri: Option<String>,
    /// Absolute URLs the client published (resolved when relative in HTML).
    pub redirect_uris: Vec<String>,
}

/// Where the information came from, which decides how far it is trusted.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum InfoSource {
    /// A JSON metadata document whose client_id matched: "verified".
    Metadata,
    /// An HTML page (h-app / h-x-app, rel=redirect_uri): "claimed by the app".
    Microformats,
    /// Loopback client_id (CID-7): never fetched.
    NotFetched { reason: String },
    /// Fetch failed or the document was invalid: a short human reason.
    Unavailable { reason: String },
    /// A valid document declaring a confidential client (CID-18): show an
    /// error page.
    Refused { reason: String },
}

/// Byte cap for logos (CID-19): plenty for an app icon.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// Fetches and interprets client_id documents. Cheap to clone.
#[derive(Clone)]
pub struct ClientFetcher {
    /// Built at the first fetch, not at start-up: loading the system's
    /// trust roots was most of doorstep's cold start, and only outbound
    /// fetches need them.
    client: std::sync::Arc<tokio::sync::OnceCell<GuardedClient>>,
    policy: std::sync::Arc<FetchPolicy>,
    /// The server's clock: an `Expires` without a `Date` counts from it
    /// (CID-13), so a test that moves the clock moves that too.
    clock: Clock,
}

const ACCEPT_CLIENT: &str = "application/json, text/html;q=0.9";
const ACCEPT_LOGO: &str = "image/png, image/jpeg, image/gif, image/webp, image/x-icon;q=0.9";

impl ClientFetcher {
    pub fn new(policy: FetchPolicy, clock: Clock) -> Result<Self, FetchError> {
        if policy.allow_private {
            tracing::warn!(
                "client discovery may fetch loopback and private addresses (allow_private_client_fetch is on)"
            );
        }
        Ok(ClientFetcher {
            client: std::sync::Arc::new(tokio::sync::OnceCell::new()),
            policy: std::sync::Arc::new(policy),
            clock,
        })
    }

    /// The HTTP client, built on first use on a blocking thread (reading
    /// the trust roots is file I/O and parsing).
    async fn client(&self) -> Result<&GuardedClient, fetch::FetchError> {
        self.client
            .get_or_try_init(|| async {
                let policy = self.policy.clone();
                tokio::task::spawn_blocking(move || GuardedClient::new(&policy))
                    .await
                    .map_err(|_| fetch::FetchError::Setup)?
            })
            .await
    }

    /// A fetcher over a given guarded client (tests use a fixed host table).
    #[cfg(test)]
    fn with_client(policy: FetchPolicy, client: GuardedClient) -> Self {
        ClientFetcher {
            client: std::sync::Arc::new(tokio::sync::OnceCell::new_with(Some(client))),
            policy: std::sync::Arc::new(policy),
            clock: Clock::system(),
        }
    }

    /// What discovery finds, without the cache lifetime (tests).
    #[cfg(test)]
    pub async fn discover(&self, client_id: &Url) -> ClientInfo {
        self.discover_with_ttl(client_id).await.0
    }

    /// Discover what `client_id` says about itself, and how long the result
    /// may be cached: None for anything but a valid document, or when its
    /// headers forbid caching (CID-13). Never panics, never takes longer
    /// than `total_timeout`, never returns an error: failures become
    /// [`InfoSource::Unavailable`]. The authorization endpoint calls it
    /// through [`info_cache::discover`].
    pub async fn discover_with_ttl(&self, client_id: &Url) -> (ClientInfo, Option<Duration>) {
        // CID-7: a loopback client runs on the user's own machine; fetching
        // it would be a request into our own host. With `allow_private` on
        // (tests, development) it is fetched like any other client.
        if !self.policy.allow_private && crate::domain::is_loopback_url(client_id) {
            let reason = "the app runs on this computer, so its page is not fetched".to_owned();
            return (info(client_id, InfoSource::NotFetched { reason }), None);
        }
        let work = self.fetch_and_read(client_id);
        match tokio::time::timeout(self.policy.total_timeout, work).await {
            Ok(result) => result,
            Err(_) => {
                tracing::info!(client_id = %client_id, "client discovery timed out");
                (
                    unavailable(client_id, fetch::FetchError::Timeout.reason()),
                    None,
                )
            }
        }
    }

    async fn fetch_and_read(&self, client_id: &Url) -> (ClientInfo, Option<Duration>) {
        let policy = &self.policy;
        let client = match self.client().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "cannot set up client discovery");
                return (unavailable(client_id, e.reason()), None);
            }
        };
        let fetched = client
            .get(client_id, ACCEPT_CLIENT, Redirects::SameOrigin, |media| {
                if is_json(media) {
                    Some(policy.max_json_body)
                } else if is_html(media) {
                    Some(policy.max_body)
                } else {
                    None
                }
            })
            .await;
        let fetched = match fetched {
            Ok(f) => f,
            Err(e) => {
                tracing::info!(client_id = %client_id, error = %error_chain(&e), "client discovery failed");
                return (unavailable(client_id, e.reason()), None);
            }
        };
        let ttl = cache_policy::ttl(
            &fetched.headers,
            self.clock.system_time(),
            cache_policy::MIN_TTL,
            cache_policy::MAX_TTL,
        );
        let result = if is_json(&fetched.media_type) {
            read_metadata(client_id, &fetched)
        } else {
            read_html(client_id, fetched, policy.html_limits.clone()).await
        };
        match result.source {
            InfoSource::Metadata | InfoSource::Microformats => (result, ttl),
            _ => (result, None),
        }
    }

    /// Fetch a logo to re-serve it (CID-19): same address guard, a small
    /// cap, raster image types only (never SVG, which can carry script), and
    /// content that really starts like the declared type.
    pub async fn fetch_logo(&self, logo: &Url) -> Option<(&'static str, Bytes)> {
        let client = match self.client().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "cannot set up logo fetching");
                return None;
            }
        };
        let work = client.get(logo, ACCEPT_LOGO, Redirects::AnyOrigin, |media| {
            image_type(media).map(|_| MAX_LOGO_BYTES)
        });
        let fetched = match tokio::time::timeout(self.policy.total_timeout, work).await {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                tracing::info!(logo = %logo, error = %error_chain(&e), "logo fetch failed");
                return None;
            }
            Err(_) => {
                tracing::info!(logo = %logo, "logo fetch timed out");
                return None;
            }
        };
        let kind = image_type(&fetched.media_type)?;
        if !kind.matches(&fetched.body) {
            tracing::info!(logo = %logo, "logo content does not match its type");
            return None;
        }
        Some((kind.content_type(), Bytes::from(fetched.body)))
    }
}

/// `application/json` or `application/<x>+json` (CID-14).
fn is_json(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

fn is_html(media: &str) -> bool {
    media == "text/html" || media == "application/xhtml+xml"
}

fn info(client_id: &Url, source: InfoSource) -> ClientInfo {
    ClientInfo {
        client_id: client_id.to_string(),
        source,
        name: None,
        client_uri: None,
        logo_uri: None,
        redirect_uris: Vec::new(),
    }
}

fn unavailable(client_id: &Url, reason: String) -> ClientInfo {
    info(client_id, InfoSource::Unavailable { reason })
}

fn read_metadata(client_id: &Url, fetched: &Fetched) -> ClientInfo {
    // CID-9: a metadata document is only valid at the client_id itself.
    if fetched.redirected {
        return unavailable(
            client_id,
            "the app's metadata document is behind a redirect".into(),
        );
    }
    match metadata::parse(&fetched.body, client_id) {
        metadata::Verdict::Valid(m) => ClientInfo {
            client_id: client_id.to_string(),
            source: InfoSource::Metadata,
            name: m.name,
            client_uri: m.client_uri,
            logo_uri: m.logo_uri,
            redirect_uris: m.redirect_uris,
        },
        metadata::Verdict::Invalid(reason) => unavailable(client_id, reason.into()),
        metadata::Verdict::Confidential(reason) => info(
            client_id,
            InfoSource::Refused {
                reason: reason.into(),
            },
        ),
    }
}

async fn read_html(client_id: &Url, fetched: Fetched, limits: html_budget::Limits) -> ClientInfo {
    let Fetched {
        final_url,
        headers,
        body,
        ..
    } = fetched;
    // CID-21: Link headers resolve against the URL actually fetched.
    let header_values: Vec<String> = headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let page_url = final_url.clone();
    // Parsing up to max_body of HTML is CPU work: keep it off the async
    // workers. The discovery deadline drops this future; the guard then
    // tells the parse to stop at its next chunk instead of running on.
    let cancel = CancelOnDrop::default();
    let flag = cancel.0.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        let text = String::from_utf8_lossy(&body);
        html::parse_page_within(&text, &page_url, &limits, &flag)
    })
    .await;
    drop(cancel);
    let page = match parsed {
        Ok(Ok(p)) => p,
        Ok(Err(unread)) => {
            tracing::info!(client_id = %client_id, ?unread, "client page refused by the parsing limits");
            return unavailable(client_id, "the app's page is too complex to read".into());
        }
        Err(e) => {
            tracing::warn!(client_id = %client_id, error = %error_chain(&e), "client page parser failed");
            return unavailable(client_id, "the app's page could not be read".into());
        }
    };

    let mut redirect_uris: Vec<String> = Vec::new();
    let from_headers = link_header::parse_all(header_values.iter().map(String::as_str))
        .into_iter()
        // A link with an anchor describes some other resource (RFC 8288 §3.2).
        .filter(|l| l.has_rel("redirect_uri") && l.param("anchor").is_none())
        .filter_map(|l| final_url.join(l.target.trim()).ok())
        // Custom schemes too, as in the HTML (CID-21; see html.rs).
        .filter(canon::is_publishable_redirect);
    for u in page.redirect_uris.into_iter().chain(from_headers) {
        let s = u.to_string();
        if !redirect_uris.contains(&s) {
            redirect_uris.push(s);
        }
    }

    let app = select_app(client_id, &final_url, page.apps);
    let (name, client_uri, logo_uri) = match app {
        Some((app, url)) => {
            let logo = app
                .logos
                .into_iter()
                .chain(app.photos)
                .next()
                .map(String::from);
            (app.name, url, logo)
        }
        None => (None, None, None),
    };
    ClientInfo {
        client_id: client_id.to_string(),
        source: InfoSource::Microformats,
        name,
        client_uri,
        logo_uri,
        redirect_uris,
    }
}

/// Sets its flag when dropped: with the future that owns it when the
/// deadline passes, or after the parse it guards has finished.
#[derive(Default)]
struct CancelOnDrop(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// CID-20: use the first app item (top-level first) whose `url` matches the
/// client_id after canonicalisation. Choice for items without any `url`: if
/// the page holds exactly one app item and it was served at the client_id
/// itself (no redirect), it describes that page, so it is used.
fn select_app(
    client_id: &Url,
    final_url: &Url,
    apps: Vec<html::App>,
) -> Option<(html::App, Option<String>)> {
    let want = canonical_url(client_id)?;
    let only_one = apps.len() == 1;
    let at_client_id = canonical_url(final_url).as_deref() == Some(want.as_str());
    for app in apps {
        if let Some(u) = app
            .urls
            .iter()
            .find(|u| canonical_url(u).as_deref() == Some(want.as_str()))
        {
            let u = u.to_string();
            return Some((app, Some(u)));
        }
        if app.urls.is_empty() && only_one && at_client_id {
            return Some((app, None));
        }
    }
    None
}

/// Raster image formats doorstep will re-serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ImageType {
    Png,
    Jpeg,
    Gif,
    Webp,
    Icon,
}

fn image_type(media: &str) -> Option<ImageType> {
    match media {
        "image/png" => Some(ImageType::Png),
        "image/jpeg" | "image/jpg" => Some(ImageType::Jpeg),
        "image/gif" => Some(ImageType::Gif),
        "image/webp" => Some(ImageType::Webp),
        "image/x-icon" | "image/vnd.microsoft.icon" => Some(ImageType::Icon),
        _ => None,
    }
}

impl ImageType {
    fn content_type(self) -> &'static str {
        match self {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
            ImageType::Gif => "image/gif",
            ImageType::Webp => "image/webp",
            ImageType::Icon => "image/x-icon",
        }
    }

    /// Magic bytes: what we re-serve under an image type must be that image,
    /// not HTML a browser might sniff.
    fn matches(self, body: &[u8]) -> bool {
        match self {
            ImageType::Png => body.starts_with(b"\x89PNG\r\n\x1a\n"),
            ImageType::Jpeg => body.starts_with(b"\xff\xd8\xff"),
            ImageType::Gif => body.starts_with(b"GIF87a") || body.starts_with(b"GIF89a"),
            ImageType::Webp => {
                body.len() >= 12 && body.starts_with(b"RIFF") && body.get(8..12) == Some(b"WEBP")
            }
            ImageType::Icon => body.starts_with(b"\x00\x00\x01\x00"),
        }
    }
}

#[cfg(test)]
mod tests;
