//! End-to-end tests of client discovery against hostile and honest fixture
//! servers on 127.0.0.1 (TV-16, CID-7..21, SEC-7).
//!
//! The fixtures are raw `tokio::net::TcpListener`s writing HTTP by hand, so
//! they can misbehave in ways a framework would not allow (never answer,
//! never finish a body, gzip bombs) and count every connection they accept.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use url::Url;

use super::*;

/// The one fixture server, shared with the integration tests.
#[path = "../../tests/api/fixtures.rs"]
mod fixtures;
use fixtures::{Fixture, PNG, Reply};

/// A fixture whose `handler(path, base)` is also told its own base URL
/// (`http://127.0.0.1:<port>`, no trailing slash).
async fn fixture(handler: impl Fn(&str, &str) -> Reply + Send + Sync + 'static) -> Fixture {
    Fixture::start(move |port, path| handler(path, &format!("http://127.0.0.1:{port}"))).await
}

/// Bounds a discovery that should end by itself: a failure instead of a
/// hang if it does not. Generous, so that it never decides a test.
async fn ends<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .expect("discovery did not end")
}

fn response(status: &str, content_type: &str, extra: &[&str], body: &[u8]) -> Reply {
    Reply::Raw(raw_response(status, content_type, extra, body))
}

fn raw_response(status: &str, content_type: &str, extra: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in extra {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn html(body: &str) -> Reply {
    response("200 OK", "text/html; charset=utf-8", &[], body.as_bytes())
}

fn json(body: &str) -> Reply {
    response("200 OK", "application/json", &[], body.as_bytes())
}

fn redirect(status: &str, location: &str) -> Reply {
    response(
        status,
        "text/plain",
        &[&format!("Location: {location}")],
        b"",
    )
}

/// Loopback fetches allowed, and a deadline no honest fetch here comes
/// near even on a loaded machine: the outcome is the fixture's.
fn lax() -> ClientFetcher {
    fetcher(FetchPolicy {
        allow_private: true,
        total_timeout: Duration::from_secs(30),
        ..FetchPolicy::default()
    })
}

/// Loopback fetches allowed and a one-second deadline, for the tests of
/// the deadline itself.
fn hasty() -> ClientFetcher {
    fetcher(FetchPolicy {
        allow_private: true,
        total_timeout: Duration::from_secs(1),
        ..FetchPolicy::default()
    })
}

fn strict() -> ClientFetcher {
    fetcher(FetchPolicy::default())
}

/// A fetcher with `policy` on the system clock.
fn fetcher(policy: FetchPolicy) -> ClientFetcher {
    ClientFetcher::new(policy, Clock::system()).unwrap()
}

fn reason(info: &ClientInfo) -> &str {
    match &info.source {
        InfoSource::Unavailable { reason }
        | InfoSource::NotFetched { reason }
        | InfoSource::Refused { reason } => reason,
        other => panic!("expected a failure, got {other:?}"),
    }
}

const TV16_HTML: &str = r#"<!doctype html><title>Example</title>
<link rel="redirect_uri" href="/redirect">
<div class="h-app"><img src="/logo.png" class="u-logo"><a href="/" class="u-url p-name">Example App</a></div>"#;

fn tv16_json(base: &str) -> String {
    format!(
        r#"{{"client_id":"{base}/","client_name":"Example App","client_uri":"{base}/",
        "logo_uri":"{base}/logo.png","redirect_uris":["{base}/redirect","com.example.app:/callback"]}}"#
    )
}

#[tokio::test]
async fn json_metadata_document_is_verified() {
    let fx = fixture(|_, base| json(&tv16_json(base))).await;
    let id = fx.url("/");
    let (info, ttl) = lax().discover_with_ttl(&id).await;
    assert_eq!(info.source, InfoSource::Metadata);
    assert_eq!(info.client_id, id.as_str());
    assert_eq!(info.name.as_deref(), Some("Example App"));
    assert_eq!(info.logo_uri, Some(fx.url("/logo.png").to_string()));
    assert_eq!(
        info.redirect_uris,
        [
            fx.url("/redirect").to_string(),
            "com.example.app:/callback".into()
        ]
    );
    assert_eq!(ttl, Some(cache_policy::MIN_TTL));
}

#[tokio::test]
async fn tv16_h_app_page_yields_name_logo_and_redirect() {
    let fx = fixture(|_, _| html(TV16_HTML)).await;
    let id = fx.url("/");
    let (info, ttl) = lax().discover_with_ttl(&id).await;
    assert_eq!(info.source, InfoSource::Microformats);
    assert_eq!(info.name.as_deref(), Some("Example App"));
    assert_eq!(info.logo_uri, Some(fx.url("/logo.png").to_string()));
    assert_eq!(info.client_uri, Some(id.to_string()));
    assert_eq!(info.redirect_uris, [fx.url("/redirect").to_string()]);
    assert!(ttl.is_some());
}

#[tokio::test]
async fn tv16_h_x_app_page_works_the_same() {
    let fx = fixture(|_, _| html(&TV16_HTML.replace("h-app", "h-x-app"))).await;
    let info = lax().discover_with_ttl(&fx.url("/")).await.0;
    assert_eq!(info.source, InfoSource::Microformats);
    assert_eq!(info.name.as_deref(), Some("Example App"));
    assert_eq!(info.logo_uri, Some(fx.url("/logo.png").to_string()));
    assert_eq!(info.redirect_uris, [fx.url("/redirect").to_string()]);
}

#[tokio::test]
async fn redirect_uri_from_link_headers_only() {
    let fx = fixture(|_, _| {
        response(
            "200 OK",
            "text/html",
            &[
                r#"Link: </cb>; rel="redirect_uri""#,
                r#"Link: <https://other.example/cb>; title="a, b"; rel="me Redirect_URI", </x>; rel=me"#,
            ],
            b"<div class=\"h-app\"><span class=\"p-name\">Header App</span></div>",
        )
    })
    .await;
    let id = fx.url("/");
    let info = lax().discover_with_ttl(&id).await.0;
    assert_eq!(info.source, InfoSource::Microformats);
    assert_eq!(
        info.name.as_deref(),
        Some("Header App"),
        "a lone url-less item at the client_id is used"
    );
    assert_eq!(
        info.redirect_uris,
        [fx.url("/cb").to_string(), "https://other.example/cb".into()]
    );
    let verdict = verify_redirect_uri(&id, &Url::parse("https://other.example/cb").unwrap(), &info);
    assert_eq!(verdict, Ok(RedirectVerdict::Published));
    assert!(
        verify_redirect_uri(&id, &Url::parse("https://other.example/x").unwrap(), &info).is_err()
    );
}

#[tokio::test]
async fn body_that_never_ends_is_cut_off_at_the_total_timeout() {
    // The body trickles and never reaches the size cap: only the deadline
    // can end the fetch, and the reason says it did.
    let fx = fixture(|_, _| Reply::Endless).await;
    let (info, ttl) = ends(hasty().discover_with_ttl(&fx.url("/"))).await;
    assert_eq!(
        reason(&info),
        "the app's page took too long to answer",
        "{info:?}"
    );
    assert_eq!(ttl, None);
}

#[tokio::test]
async fn server_that_never_answers_is_cut_off_at_the_total_timeout() {
    let fx = fixture(|_, _| Reply::Silent).await;
    let info = ends(hasty().discover(&fx.url("/"))).await;
    assert_eq!(
        reason(&info),
        "the app's page took too long to answer",
        "{info:?}"
    );
    assert_eq!(fx.hits(), 1);
}

#[tokio::test]
async fn slow_redirect_chain_is_bounded_by_the_total_timeout() {
    // Each hop answers within the per-request limit; only the bound on the
    // whole discovery stops the chain in time.
    let fx = fixture(|path, _| {
        let location = format!("Location: {path}x");
        Reply::Delayed(
            Duration::from_millis(600),
            Box::new(Reply::Raw(raw_response(
                "302 Found",
                "text/plain",
                &[&location],
                b"",
            ))),
        )
    })
    .await;
    let info = ends(hasty().discover(&fx.url("/"))).await;
    // Unbounded, the chain would run to the redirect limit and say so.
    assert_eq!(
        reason(&info),
        "the app's page took too long to answer",
        "{info:?}"
    );
    assert!(fx.hits() <= fetch::MAX_REDIRECTS, "{}", fx.hits());
}

#[tokio::test]
async fn redirect_loop_ends_at_the_limit() {
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    let fx = fixture(move |_, _| {
        seen.fetch_add(1, Ordering::SeqCst);
        redirect("302 Found", "/")
    })
    .await;
    let info = lax().discover_with_ttl(&fx.url("/")).await.0;
    assert!(reason(&info).contains("redirects too many times"));
    assert_eq!(requests.load(Ordering::SeqCst), 1 + fetch::MAX_REDIRECTS);
}

#[tokio::test]
async fn html_after_same_origin_redirect_is_read_against_the_final_url() {
    let fx = fixture(|path, _| match path {
        "/" => redirect("301 Moved Permanently", "/app/"),
        _ => html(r#"<link rel="redirect_uri" href="cb"><div class="h-app"><a class="u-url p-name" href="/">Moved App</a></div>"#),
    })
    .await;
    let info = lax().discover_with_ttl(&fx.url("/")).await.0;
    assert_eq!(info.source, InfoSource::Microformats);
    assert_eq!(info.name.as_deref(), Some("Moved App"));
    assert_eq!(info.redirect_uris, [fx.url("/app/cb").to_string()]);
}

#[tokio::test]
async fn json_behind_a_redirect_is_not_used() {
    // TV-16: a metadata document reached through a redirect is not valid (CID-9).
    let fx = fixture(|path, base| match path {
        "/" => redirect("301 Moved Permanently", "/meta.json"),
        _ => json(&tv16_json(base)),
    })
    .await;
    let info = lax().discover_with_ttl(&fx.url("/")).await.0;
    assert!(reason(&info).contains("redirect"));
    assert!(info.redirect_uris.is_empty());
}

#[tokio::test]
async fn cross_origin_redirect_is_not_followed() {
    let target = fixture(|_, _| html(TV16_HTML)).await;
    let location = target.url("/").to_string();
    let fx = fixture(move |_, _| redirect("302 Found", &location)).await;
    let info = lax().discover_with_ttl(&fx.url("/")).await.0;
    assert!(reason(&info).contains("another site"));
    assert_eq!(target.hits(), 0);
}

#[tokio::test]
async fn redirect_to_another_scheme_is_not_followed() {
    let fx = fixture(|_, _| redirect("302 Found", "file:///etc/passwd")).await;
    let info = lax().discover_with_ttl(&fx.url("/")).await.0;
    assert!(matches!(info.source, InfoSource::Unavailable { .. }));
}

fn gzip_of_zeros(len: usize) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![b' '; 1024 * 1024];
    for _ in 0..len / block.len() {
        enc.write_all(&block).unwrap();
    }
    enc.finish().unwrap()
}

#[tokio::test]
async fn gzip_bomb_is_stopped_at_the_size_cap() {
    let bomb = Arc::new(gzip_of_zeros(50 * 1024 * 1024));
    assert!(
        bomb.len() < 200 * 1024,
        "the bomb must be small on the wire"
    );
    let body = bomb.clone();
    let fx =
        fixture(move |_, _| response("200 OK", "text/html", &["Content-Encoding: gzip"], &body))
            .await;
    // The cap stops it, long before 50 MB are inflated: not the deadline.
    let (info, ttl) = lax().discover_with_ttl(&fx.url("/")).await;
    assert!(reason(&info).contains("too large"), "{info:?}");
    assert_eq!(ttl, None);
}

#[tokio::test]
async fn six_megabyte_response_is_aborted_at_the_cap() {
    let big = Arc::new(vec![b'a'; 6 * 1024 * 1024]);
    let body = big.clone();
    let fx = fixture(move |_, _| response("200 OK", "application/json", &[], &body)).await;
    assert!(reason(&lax().discover_with_ttl(&fx.url("/")).await.0).contains("too large"));
    // Without Content-Length the streaming cap still stops it.
    let fx = fixture(|_, _| {
        let mut b =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n".to_vec();
        b.extend(std::iter::repeat_n(b'a', 6 * 1024 * 1024));
        Reply::Raw(b)
    })
    .await;
    assert!(reason(&lax().discover_with_ttl(&fx.url("/")).await.0).contains("too large"));
}

#[tokio::test]
async fn script_in_a_name_is_kept_as_plain_text() {
    let fx = fixture(|_, _| {
        html(r#"<div class="h-app"><a class="u-url p-name" href="/">&lt;script&gt;alert(1)&lt;/script&gt;<script>steal()</script> App</a></div>"#)
    })
    .await;
    let info = lax().discover_with_ttl(&fx.url("/")).await.0;
    assert_eq!(info.name.as_deref(), Some("<script>alert(1)</script> App"));
}

#[tokio::test]
async fn javascript_logos_are_dropped() {
    let fx = fixture(|path, base| match path {
        "/json" => json(&format!(
            r#"{{"client_id":"{base}/json","logo_uri":"javascript:alert(1)","client_name":"J"}}"#
        )),
        _ => html(r#"<div class="h-app"><img class="u-logo" src="javascript:alert(1)"><a class="u-url p-name" href="/">H</a></div>"#),
    })
    .await;
    let j = lax().discover_with_ttl(&fx.url("/json")).await.0;
    assert_eq!(j.source, InfoSource::Metadata);
    assert_eq!(j.logo_uri, None);
    let h = lax().discover_with_ttl(&fx.url("/")).await.0;
    assert_eq!(h.source, InfoSource::Microformats);
    assert_eq!(h.name.as_deref(), Some("H"));
    assert_eq!(h.logo_uri, None);
}

#[tokio::test]
async fn mismatched_client_id_uses_none_of_the_document() {
    // TV-7 m: the document names another client, so its redirect_uris are void.
    let fx = fixture(|_, base| {
        json(&format!(
            r#"{{"client_id":"{base}/other","client_name":"Evil","redirect_uris":["https://evil.example/cb"]}}"#
        ))
    })
    .await;
    let id = fx.url("/");
    let (info, ttl) = lax().discover_with_ttl(&id).await;
    assert_eq!(
        reason(&info),
        "metadata document names a different client_id"
    );
    assert_eq!(info.name, None);
    assert!(info.redirect_uris.is_empty());
    assert_eq!(ttl, None, "invalid documents are never cached (CID-13)");
    assert!(
        verify_redirect_uri(&id, &Url::parse("https://evil.example/cb").unwrap(), &info).is_err()
    );
}

#[tokio::test]
async fn confidential_client_is_refused_and_not_cached() {
    let fx = fixture(|_, base| {
        json(&format!(
            r#"{{"client_id":"{base}/","jwks_uri":"{base}/jwks"}}"#
        ))
    })
    .await;
    let (info, ttl) = lax().discover_with_ttl(&fx.url("/")).await;
    assert!(matches!(info.source, InfoSource::Refused { .. }));
    assert_eq!(ttl, None);
}

#[tokio::test]
async fn shared_secret_document_is_invalid() {
    let fx = fixture(|_, base| {
        json(&format!(
            r#"{{"client_id":"{base}/","token_endpoint_auth_method":"client_secret_basic"}}"#
        ))
    })
    .await;
    assert!(matches!(
        lax().discover_with_ttl(&fx.url("/")).await.0.source,
        InfoSource::Unavailable { .. }
    ));
}

#[tokio::test]
async fn error_statuses_and_other_types_are_unavailable() {
    let fx = fixture(|path, _| match path {
        "/404" => response(
            "404 Not Found",
            "text/html",
            &[],
            b"<div class=h-app>x</div>",
        ),
        "/500" => response("500 Internal Server Error", "application/json", &[], b"{}"),
        _ => response("200 OK", "text/plain", &[], b"hello"),
    })
    .await;
    for path in ["/404", "/500", "/plain"] {
        let (info, ttl) = lax().discover_with_ttl(&fx.url(path)).await;
        assert!(
            matches!(info.source, InfoSource::Unavailable { .. }),
            "{path}"
        );
        assert_eq!(ttl, None);
    }
    assert!(reason(&lax().discover_with_ttl(&fx.url("/404")).await.0).contains("404"));
}

#[tokio::test]
async fn cache_headers_set_the_ttl() {
    let fx = fixture(|path, base| {
        let cc = if path == "/nostore" {
            "Cache-Control: no-store"
        } else {
            "Cache-Control: max-age=3600"
        };
        response(
            "200 OK",
            "application/json",
            &[cc],
            tv16_json(base)
                .replace("/\",\"client_name", &format!("{path}\",\"client_name"))
                .as_bytes(),
        )
    })
    .await;
    let (info, ttl) = lax().discover_with_ttl(&fx.url("/long")).await;
    assert_eq!(info.source, InfoSource::Metadata, "{info:?}");
    assert_eq!(ttl, Some(Duration::from_secs(3600)));
    let (info, ttl) = lax().discover_with_ttl(&fx.url("/nostore")).await;
    assert_eq!(info.source, InfoSource::Metadata);
    assert_eq!(ttl, None);
}

/// CID-13: an `Expires` without a `Date` counts from doorstep's own clock,
/// the injected one: standing it at 2001 makes a 2001 date two hours away,
/// and moving it an hour leaves one.
#[tokio::test]
async fn expires_without_a_date_counts_from_the_injected_clock() {
    let at: i64 = 1_000_000_000;
    let expires =
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(at as u64 + 2 * 3600));
    let fx = fixture(move |_, base| {
        response(
            "200 OK",
            "application/json",
            &[&format!("Expires: {expires}")],
            tv16_json(base).as_bytes(),
        )
    })
    .await;
    let clock = Clock::frozen(at);
    let fetcher = ClientFetcher::new(
        FetchPolicy {
            allow_private: true,
            total_timeout: Duration::from_secs(30),
            ..FetchPolicy::default()
        },
        clock.clone(),
    )
    .unwrap();
    let (info, ttl) = fetcher.discover_with_ttl(&fx.url("/")).await;
    assert_eq!(info.source, InfoSource::Metadata, "{info:?}");
    assert_eq!(ttl, Some(Duration::from_secs(2 * 3600)));
    clock.advance(3600);
    let (_, ttl) = fetcher.discover_with_ttl(&fx.url("/")).await;
    assert_eq!(ttl, Some(Duration::from_secs(3600)));
}

#[tokio::test]
async fn without_allow_private_a_loopback_fixture_gets_zero_connections() {
    let fx = fixture(|_, base| json(&tv16_json(base))).await;
    let f = strict();
    let port = fx.port;
    for id in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://app.localhost:{port}/"),
    ] {
        let info = f.discover_with_ttl(&Url::parse(&id).unwrap()).await.0;
        assert!(
            matches!(info.source, InfoSource::NotFetched { .. }),
            "{id}: {info:?}"
        );
    }
    // Logos take the fetcher path: IP literals are refused before
    // connecting, and `localhost` is refused by the resolver.
    assert_eq!(f.fetch_logo(&fx.url("/logo.png")).await, None);
    let by_name = Url::parse(&format!("http://localhost:{port}/logo.png")).unwrap();
    assert_eq!(f.fetch_logo(&by_name).await, None);
    let mapped = Url::parse(&format!("http://[::ffff:127.0.0.1]:{port}/logo.png")).unwrap();
    assert_eq!(f.fetch_logo(&mapped).await, None);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(fx.hits(), 0);
}

/// A fetcher whose resolver answers from a fixed table, standing in for DNS
/// that points public-looking names at private addresses.
fn with_hosts(allow_private: bool, hosts: &[(&str, &str)]) -> ClientFetcher {
    let policy = FetchPolicy {
        allow_private,
        total_timeout: Duration::from_secs(30),
        ..FetchPolicy::default()
    };
    let table = hosts
        .iter()
        .map(|(name, ip)| (name.to_string(), vec![ip.parse().unwrap()]))
        .collect();
    let resolver = fetch::GuardedResolver::with_static_hosts(allow_private, table);
    let client = fetch::GuardedClient::with_resolver(&policy, resolver).unwrap();
    ClientFetcher::with_client(policy, client)
}

#[tokio::test]
async fn a_public_name_resolving_to_a_private_address_is_never_connected() {
    // TV-16: `loopback-alias.example` resolving to 127.0.0.1 or 10.x: no fetch.
    let fx = fixture(|_, base| {
        let port = base.rsplit(':').next().unwrap_or_default();
        json(&tv16_json(&format!("http://loopback-alias.example:{port}")))
    })
    .await;
    let port = fx.port;
    let hosts = [
        ("loopback-alias.example", "127.0.0.1"),
        ("ten.example", "10.0.0.7"),
        ("mapped.example", "::ffff:127.0.0.1"),
    ];
    let strict = with_hosts(false, &hosts);
    for name in ["loopback-alias.example", "ten.example", "mapped.example"] {
        let id = Url::parse(&format!("http://{name}:{port}/")).unwrap();
        let info = strict.discover_with_ttl(&id).await.0;
        assert!(reason(&info).contains("private"), "{name}: {info:?}");
        assert_eq!(
            strict.fetch_logo(&id.join("/logo.png").unwrap()).await,
            None
        );
    }
    assert_eq!(fx.hits(), 0);
    // The same table with the development knob on connects to exactly the
    // address the resolver returned: the check and the connection use the
    // same answer, so DNS cannot change it in between.
    let lax = with_hosts(true, &hosts);
    let id = Url::parse(&format!("http://loopback-alias.example:{port}/")).unwrap();
    let info = lax.discover_with_ttl(&id).await.0;
    assert_eq!(info.source, InfoSource::Metadata, "{info:?}");
    assert_eq!(fx.hits(), 1);
}

#[tokio::test]
async fn logos_are_fetched_only_as_raster_images() {
    let fx = fixture(|path, base| match path {
        "/logo.png" => response("200 OK", "image/png", &[], PNG),
        "/moved.png" => redirect("302 Found", &format!("{base}/logo.png")),
        "/logo.svg" => response("200 OK", "image/svg+xml", &[], b"<svg onload=alert(1)/>"),
        "/fake.png" => response("200 OK", "image/png", &[], b"<html><script>x</script>"),
        "/big.png" => {
            let mut b = PNG.to_vec();
            b.resize(MAX_LOGO_BYTES + 1, 0);
            response("200 OK", "image/png", &[], &b)
        }
        _ => response("404 Not Found", "text/plain", &[], b""),
    })
    .await;
    let f = lax();
    assert_eq!(
        f.fetch_logo(&fx.url("/logo.png")).await,
        Some(("image/png", Bytes::copy_from_slice(PNG)))
    );
    assert_eq!(
        f.fetch_logo(&fx.url("/moved.png")).await,
        Some(("image/png", Bytes::copy_from_slice(PNG)))
    );
    assert_eq!(f.fetch_logo(&fx.url("/logo.svg")).await, None);
    assert_eq!(f.fetch_logo(&fx.url("/fake.png")).await, None);
    assert_eq!(f.fetch_logo(&fx.url("/big.png")).await, None);
    assert_eq!(f.fetch_logo(&fx.url("/missing.png")).await, None);
}

#[tokio::test]
async fn the_request_is_honest_and_cookieless() {
    let fx =
        fixture(|_, _| Reply::html("<div class=h-app>x</div>").with_header("Set-Cookie", "a=b"))
            .await;
    let f = lax();
    f.discover(&fx.url("/")).await;
    f.discover(&fx.url("/")).await;
    let seen = fx.requests();
    assert_eq!(seen.len(), 2);
    for req in &seen {
        let lower = req.to_ascii_lowercase();
        assert!(lower.contains("user-agent: doorstep/"), "{req}");
        assert!(
            lower.contains("accept: application/json, text/html;q=0.9"),
            "{req}"
        );
        assert!(!lower.contains("cookie:"), "{req}");
    }
}

/// Pages just under the 512 KB cap whose shape costs html5ever quadratic
/// time when unbounded (issue 11; see `bench/hostile_pages.sh`).
fn hostile_pages() -> Vec<(&'static str, String)> {
    const CAP: usize = 512 * 1024 - 64;
    let fill = |prefix: &str, unit: &dyn Fn(usize) -> String| {
        let mut page = prefix.to_owned();
        for i in 0.. {
            let next = unit(i);
            if page.len() + next.len() + 1 > CAP {
                break;
            }
            page.push_str(&next);
        }
        page
    };
    let spans = "<span>".repeat(CAP / 2 / 6);
    let stray = "</x>".repeat(CAP / 2 / 4);
    vec![
        ("/nested-div", "<div>".repeat(100_000)),
        ("/nested-span-stray-ends", format!("{spans}{stray}")),
        (
            "/distinct-b-then-p",
            fill("", &|i| format!("<b id={i}><p>x")),
        ),
        ("/unclosed-a-div", fill("", &|_| "<a href=x><div>".into())),
        ("/many-attributes", fill("<p", &|i| format!(" a{i}")) + ">"),
        (
            "/body-attributes",
            fill("<body>", &|i| format!("<body z{i}>")),
        ),
    ]
}

#[tokio::test]
async fn hostile_page_shapes_are_refused_as_too_complex_cid_10() {
    let pages: std::collections::HashMap<_, _> = hostile_pages().into_iter().collect();
    let pages = Arc::new(pages);
    let served = pages.clone();
    let fx = fixture(move |path, _| match served.get(path) {
        Some(page) => html(page),
        None => response("404 Not Found", "text/plain", &[], b""),
    })
    .await;
    // A deadline no parse comes near, so the outcome is the limits'.
    let patient = fetcher(FetchPolicy {
        allow_private: true,
        total_timeout: Duration::from_secs(60),
        ..FetchPolicy::default()
    });
    for (path, page) in pages.iter() {
        assert!(page.len() <= FetchPolicy::default().max_body, "{path}");
        let (info, ttl) = patient.discover_with_ttl(&fx.url(path)).await;
        assert_eq!(
            reason(&info),
            "the app's page is too complex to read",
            "{path}"
        );
        assert!(info.redirect_uris.is_empty() && info.name.is_none());
        assert_eq!(ttl, None);
    }
    assert_eq!(fx.hits(), pages.len());
}

#[test]
fn a_parse_past_the_deadline_stops_and_frees_its_thread_cid_10() {
    // One blocking thread: were the abandoned parse to run on, the next
    // page could not be parsed until it finished, minutes later.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let (abandoned, next) = runtime.block_on(async {
        let deep = Arc::new("<div>".repeat(100_000));
        let fx = fixture(move |path, _| match path {
            "/deep" => html(&deep),
            _ => html(TV16_HTML),
        })
        .await;
        let unbounded = fetcher(FetchPolicy {
            allow_private: true,
            total_timeout: Duration::from_millis(300),
            html_limits: html_budget::Limits {
                max_work: u64::MAX,
                max_elements: u64::MAX,
                max_cpu: Duration::from_secs(3600),
                ..html_budget::Limits::default()
            },
            ..FetchPolicy::default()
        });
        let abandoned = unbounded.discover(&fx.url("/deep")).await;
        (abandoned, lax().discover(&fx.url("/")).await)
    });
    // Not waiting for a parse that might still run (dropping would).
    runtime.shutdown_background();
    assert!(reason(&abandoned).contains("too long"), "{abandoned:?}");
    assert_eq!(next.source, InfoSource::Microformats, "{next:?}");
    assert_eq!(next.name.as_deref(), Some("Example App"));
}
