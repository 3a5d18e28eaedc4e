//! Unit tests of discovery's own rules: the default policy, media types,
//! which h-app is the client's, and the image magic bytes. The tests against
//! fixture servers are `fixture_tests`.

use super::*;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

#[test]
fn default_policy_matches_the_contract() {
    let p = FetchPolicy::default();
    assert!(!p.allow_private);
    assert_eq!(p.connect_timeout, Duration::from_secs(3));
    assert_eq!(p.total_timeout, Duration::from_secs(5));
    assert_eq!(p.max_body, 512 * 1024);
    assert_eq!(p.max_json_body, 64 * 1024);
    assert!(p.user_agent.starts_with("doorstep/"));
}

#[tokio::test]
async fn loopback_client_id_is_not_fetched() {
    let f = ClientFetcher::new(FetchPolicy::default(), Clock::system()).unwrap();
    let i = f.discover_with_ttl(&url("http://127.0.0.1:9/")).await.0;
    assert!(matches!(i.source, InfoSource::NotFetched { .. }));
    assert_eq!(i.client_id, "http://127.0.0.1:9/");
}

#[test]
fn json_and_html_media_types() {
    assert!(is_json("application/json"));
    assert!(is_json("application/ld+json"));
    assert!(!is_json("text/json+html"));
    assert!(!is_json("application/jsonx"));
    assert!(is_html("text/html"));
    assert!(!is_html("text/plain"));
}

fn app(urls: &[&str], name: &str) -> html::App {
    html::App {
        name: Some(name.into()),
        urls: urls.iter().map(|u| url(u)).collect(),
        top_level: true,
        ..Default::default()
    }
}

#[test]
fn app_selection_requires_matching_url() {
    let id = url("https://app.example.com/");
    let picked = select_app(
        &id,
        &id,
        vec![
            app(&["https://other.example/"], "Other"),
            app(&["https://APP.example.com"], "Mine"),
        ],
    );
    assert_eq!(picked.map(|(a, _)| a.name), Some(Some("Mine".into())));
    assert!(select_app(&id, &id, vec![app(&["https://other.example/"], "Other")]).is_none());
}

#[test]
fn app_without_url_is_used_only_when_alone_and_at_the_client_id() {
    let id = url("https://app.example.com/");
    assert!(select_app(&id, &id, vec![app(&[], "Solo")]).is_some());
    assert!(
        select_app(
            &id,
            &url("https://app.example.com/moved"),
            vec![app(&[], "Solo")]
        )
        .is_none()
    );
    assert!(select_app(&id, &id, vec![app(&[], "A"), app(&[], "B")]).is_none());
}

#[test]
fn image_magic_bytes_are_checked() {
    assert!(ImageType::Png.matches(b"\x89PNG\r\n\x1a\nrest"));
    assert!(!ImageType::Png.matches(b"<html>"));
    assert!(ImageType::Webp.matches(b"RIFF\0\0\0\0WEBPVP8 "));
    assert!(!ImageType::Webp.matches(b"RIFF\0\0\0\0WAVE"));
    assert_eq!(image_type("image/svg+xml"), None);
}
