//! The start-up check of DISC-17: when doorstep does not serve the owner's
//! homepage itself, that page must lead clients back to this server, or
//! every client rejects the sign-in at its Authorization Server
//! Confirmation step (IA §5.4). A failing check only warns: the homepage
//! may simply be offline while doorstep starts.

use crate::clients::{html, link_header};
use crate::config::Settings;
use crate::errors::error_chain;
use std::time::Duration;
use url::Url;

/// What the homepage says about its authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// It points at this doorstep (by metadata or the legacy rel).
    PointsHere,
    /// It names another server, or nothing at all.
    PointsElsewhere(String),
}

/// Decides from the homepage's `Link` headers and HTML. Clients take the
/// first `Link` header before the first `<link>` (DISC-13), so that order
/// is followed here.
pub fn judge(settings: &Settings, page_url: &Url, link_headers: &[&str], body: &str) -> Finding {
    let links = link_header::parse_all(link_headers.iter().copied());
    let from_headers = |rel: &str| {
        links
            .iter()
            .find(|l| l.has_rel(rel))
            .and_then(|l| page_url.join(&l.target).ok())
    };
    let first = |rel: &str| {
        from_headers(rel).or_else(|| html::rel_urls(body, page_url, rel).into_iter().next())
    };
    let metadata = settings.metadata_url();
    let auth = settings.endpoint("auth");
    match first("indieauth-metadata") {
        Some(u) if u.as_str() == metadata => Finding::PointsHere,
        Some(u) => Finding::PointsElsewhere(format!(
            "its indieauth-metadata link is {u}, not {metadata}"
        )),
        None => match first("authorization_endpoint") {
            Some(u) if u.as_str() == auth => Finding::PointsHere,
            Some(u) => Finding::PointsElsewhere(format!(
                "its authorization_endpoint link is {u}, not {auth}"
            )),
            None => Finding::PointsElsewhere(
                "it has no indieauth-metadata or authorization_endpoint link".into(),
            ),
        },
    }
}

/// Fetches `me` and judges it. The URL is the owner's own configuration,
/// so ordinary limits apply rather than the client-discovery guard.
pub async fn check_homepage(settings: &Settings) -> Result<Finding, String> {
    crate::clients::ensure_tls_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!(
            "doorstep/",
            env!("CARGO_PKG_VERSION"),
            " (start-up check)"
        ))
        .build()
        .map_err(|e| e.to_string())?;
    fetch_and_judge(&client, settings, settings.me.url().clone()).await
}

/// Fetches `url` (the owner's homepage) with `client` and judges what it
/// says: its `Link` headers and the first MiB of its page. Errors come back
/// as words with their causes, for a log line or `doctor`'s report.
pub async fn fetch_and_judge(
    client: &reqwest::Client,
    settings: &Settings,
    url: Url,
) -> Result<Finding, String> {
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("could not fetch it ({})", error_chain(&e)))?;
    let page_url = resp.url().clone();
    let headers: Vec<String> = resp
        .headers()
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("could not read it ({})", error_chain(&e)))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > PAGE_LIMIT {
            break;
        }
    }
    let text = String::from_utf8_lossy(&body);
    let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    Ok(judge(settings, &page_url, &refs, &text))
}

/// How much of the homepage is read: its `<head>` is near the top.
const PAGE_LIMIT: usize = 1024 * 1024;

/// Runs the check and logs the outcome; for `serve`.
pub async fn log_homepage_check(settings: &Settings) {
    let me = settings.me.as_str();
    match check_homepage(settings).await {
        Ok(Finding::PointsHere) => tracing::info!(me, "your homepage points to doorstep"),
        Ok(Finding::PointsElsewhere(why)) => tracing::warn!(
            me,
            "your homepage does not point to this doorstep: {why}. Apps will refuse the sign-in, \
             as they must confirm that your homepage names this server \
             (https://indieauth.spec.indieweb.org/#authorization-server-confirmation). Add the \
             <link> tags shown on the dashboard."
        ),
        Err(why) => tracing::warn!(me, "could not check your homepage: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawValues;

    fn settings() -> Settings {
        let mut raw = RawValues::new();
        raw.insert("issuer".into(), "https://auth.example.com/".into());
        raw.insert("me".into(), "https://example.com/".into());
        Settings::from_raw(&raw).unwrap()
    }

    #[test]
    fn disc_17_metadata_link_in_html_or_header_points_here() {
        let s = settings();
        let me = Url::parse("https://example.com/").unwrap();
        let html = r#"<link rel="indieauth-metadata" href="https://auth.example.com/.well-known/oauth-authorization-server">"#;
        assert_eq!(judge(&s, &me, &[], html), Finding::PointsHere);
        let header = "<https://auth.example.com/.well-known/oauth-authorization-server>; rel=\"indieauth-metadata\"";
        assert_eq!(judge(&s, &me, &[header], ""), Finding::PointsHere);
        let legacy = r#"<link rel="authorization_endpoint" href="https://auth.example.com/auth">"#;
        assert_eq!(judge(&s, &me, &[], legacy), Finding::PointsHere);
    }

    #[test]
    fn disc_13_the_first_link_header_wins_over_html() {
        let s = settings();
        let me = Url::parse("https://example.com/").unwrap();
        let header = "<https://other.example/meta>; rel=\"indieauth-metadata\"";
        let html = r#"<link rel="indieauth-metadata" href="https://auth.example.com/.well-known/oauth-authorization-server">"#;
        assert!(matches!(
            judge(&s, &me, &[header], html),
            Finding::PointsElsewhere(_)
        ));
        assert!(matches!(
            judge(&s, &me, &[], "<p>hi</p>"),
            Finding::PointsElsewhere(_)
        ));
    }
}
