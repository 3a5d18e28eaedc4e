//! Discovery: the RFC 8414 metadata document (DISC-1..12, TV-4) and the
//! homepage doorstep serves for the owner (DISC-13..15, TV-5, PRODUCT
//! "Compatibility").

use crate::helpers::*;
use scraper::Selector;

/// `(rel, href)` of every `Link` header, in order.
fn link_headers(page: &Response) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for v in page.headers.get_all("link") {
        for part in v.to_str().unwrap().split(',') {
            let part = part.trim();
            let url = part
                .strip_prefix('<')
                .and_then(|p| p.split_once('>'))
                .map(|(u, _)| u.to_owned())
                .unwrap_or_else(|| panic!("bad Link {part}"));
            let rel = part
                .split(';')
                .skip(1)
                .filter_map(|p| p.trim().strip_prefix("rel="))
                .map(|r| r.trim_matches('"').to_owned())
                .next()
                .unwrap_or_else(|| panic!("no rel in {part}"));
            out.push((rel, url));
        }
    }
    out
}

/// `(rel, href)` of every `<link>` element, in document order.
fn link_elements(page: &Response) -> Vec<(String, String)> {
    let doc = page.html();
    let sel = Selector::parse("link[rel][href]").unwrap();
    doc.select(&sel)
        .map(|e| {
            (
                e.value().attr("rel").unwrap().to_owned(),
                e.value().attr("href").unwrap().to_owned(),
            )
        })
        .collect()
}

fn first<'a>(links: &'a [(String, String)], rel: &str) -> Option<&'a str> {
    links
        .iter()
        .find(|(r, _)| r == rel)
        .map(|(_, u)| u.as_str())
}

/// DISC-8 (`response_types_supported`), DISC-10 and ISS-5 (the `iss`
/// flag), PKCE-1 and PKCE-2 (S256 advertised) among them.
#[tokio::test]
async fn tv4_metadata_has_every_required_member_and_no_empty_array_disc_1_to_12() {
    let app = TestApp::spawn().await;
    let resp = app
        .api
        .get(app.url("/.well-known/oauth-authorization-server"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/json"), "{ct}");
    let m: serde_json::Value = resp.json().await.unwrap();
    let issuer = m["issuer"].as_str().expect("issuer");
    assert_eq!(issuer, app.issuer());
    assert!(!issuer.contains(['?', '#']), "DISC-3");
    let metadata_url = app.url("/.well-known/oauth-authorization-server");
    assert!(metadata_url.starts_with(issuer), "DISC-3 prefix rule");
    assert_eq!(m["authorization_endpoint"], format!("{issuer}auth"));
    assert_eq!(m["token_endpoint"], format!("{issuer}token"));
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    // DISC-11: JSON client metadata documents are read (issue 3).
    assert_eq!(m["client_id_metadata_document_supported"], true);
    assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
    let grants = m["grant_types_supported"].as_array().expect("DISC-9");
    for g in ["authorization_code", "refresh_token"] {
        assert!(grants.iter().any(|v| v == g), "{g}");
    }
    let scopes = m["scopes_supported"].as_array().expect("DISC-7");
    for s in ["profile", "email", "create", "update", "delete", "media"] {
        assert!(scopes.iter().any(|v| v == s), "{s}");
    }
    for (key, value) in m.as_object().unwrap() {
        if let Some(a) = value.as_array() {
            assert!(!a.is_empty(), "DISC-12: {key} is []");
        }
        // Every endpoint is absolute, under the issuer, without query or
        // fragment (DISC-15).
        if key.ends_with("_endpoint") {
            let url = value.as_str().unwrap();
            assert!(url.starts_with(issuer), "{key}: {url}");
            assert!(!url.contains(['?', '#']), "{key}: {url}");
        }
        if key.ends_with("_supported") && !key.ends_with("s_supported") {
            assert!(value.is_boolean(), "{key} must be a JSON boolean");
        }
    }
    // DISC-6: a published revocation endpoint comes with its auth method.
    if m.get("revocation_endpoint").is_some() {
        assert_eq!(
            m["revocation_endpoint_auth_methods_supported"],
            serde_json::json!(["none"])
        );
    }
}

#[tokio::test]
async fn metadata_and_iss_come_from_configuration_not_from_request_headers_iss_7() {
    let app = TestApp::spawn_with(|s| {
        s.issuer = url::Url::parse("https://auth.example.com/").unwrap();
    })
    .await;
    let resp = app
        .api
        .get(app.url("/.well-known/oauth-authorization-server"))
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .header("X-Forwarded-Proto", "http")
        .send()
        .await
        .unwrap();
    let m: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(m["issuer"], "https://auth.example.com/");
    assert_eq!(m["authorization_endpoint"], "https://auth.example.com/auth");
    assert_eq!(m["token_endpoint"], "https://auth.example.com/token");
}

#[tokio::test]
async fn tv5_homepage_links_agree_with_each_other_and_with_the_metadata_disc_13_14() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("/").await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let headers = link_headers(&page);
    let elements = link_elements(&page);
    let metadata_url = app.url("/.well-known/oauth-authorization-server");
    assert_eq!(
        headers.first().map(|(r, u)| (r.as_str(), u.as_str())),
        Some(("indieauth-metadata", metadata_url.as_str())),
        "the first Link header names the metadata"
    );
    let m = app.metadata().await;
    for rel in [
        "indieauth-metadata",
        "authorization_endpoint",
        "token_endpoint",
    ] {
        let h = first(&headers, rel).unwrap_or_else(|| panic!("Link {rel}"));
        let e = first(&elements, rel).unwrap_or_else(|| panic!("<link> {rel}"));
        assert_eq!(h, e, "{rel}: header and element disagree");
        assert!(url::Url::parse(h).is_ok(), "{rel}: {h} is not absolute");
        assert!(h.starts_with(&app.base), "{rel}: {h}");
        // No conflicting second value.
        assert_eq!(headers.iter().filter(|(r, _)| r == rel).count(), 1, "{rel}");
        assert_eq!(
            elements.iter().filter(|(r, _)| r == rel).count(),
            1,
            "{rel}"
        );
    }
    assert_eq!(
        first(&headers, "authorization_endpoint"),
        m["authorization_endpoint"].as_str()
    );
    assert_eq!(
        first(&headers, "token_endpoint"),
        m["token_endpoint"].as_str()
    );
    // The authorization endpoint has no query: clients append `?` blindly.
    assert!(
        !first(&headers, "authorization_endpoint")
            .unwrap()
            .contains('?')
    );

    // DISC-17: the advertised metadata URL really serves this server's
    // metadata.
    let fetched: serde_json::Value = app
        .api
        .get(first(&headers, "indieauth-metadata").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["issuer"], app.issuer());
}

#[tokio::test]
async fn homepage_head_carries_the_same_link_headers_as_get() {
    let app = TestApp::spawn_with(|s| {
        s.micropub = Some(url::Url::parse("https://example.net/micropub").unwrap());
    })
    .await;
    let browser = app.browser();
    let get = browser.get("/").await;
    let head = browser.head("/").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert!(!link_headers(&get).is_empty());
    assert_eq!(link_headers(&get), link_headers(&head));
}

/// HEAD wherever discovery GETs: some clients look before they fetch.
#[tokio::test]
async fn the_metadata_answers_head_as_get() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let path = "/.well-known/oauth-authorization-server";
    let get = browser.get(path).await;
    let head = browser.head(path).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    for name in [
        "content-type",
        "access-control-allow-origin",
        "cache-control",
    ] {
        assert_eq!(head.header(name), get.header(name), "{name}");
    }
}

#[tokio::test]
async fn homepage_advertises_micropub_and_microsub_when_configured() {
    let app = TestApp::spawn_with(|s| {
        s.micropub = Some(url::Url::parse("https://example.net/micropub").unwrap());
        s.microsub = Some(url::Url::parse("https://example.net/microsub").unwrap());
    })
    .await;
    let page = app.browser().get("/").await;
    let headers = link_headers(&page);
    let elements = link_elements(&page);
    for (rel, url) in [
        ("micropub", "https://example.net/micropub"),
        ("microsub", "https://example.net/microsub"),
    ] {
        assert_eq!(first(&headers, rel), Some(url), "Link {rel}");
        assert_eq!(first(&elements, rel), Some(url), "<link> {rel}");
    }
}

#[tokio::test]
async fn homepage_has_no_micropub_rels_when_none_are_configured() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("/").await;
    for rel in ["micropub", "microsub"] {
        assert!(first(&link_headers(&page), rel).is_none());
        assert!(first(&link_elements(&page), rel).is_none());
    }
}

#[tokio::test]
async fn homepage_is_an_h_card_for_the_owner() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("/").await;
    let doc = page.html();
    let name = Selector::parse(".h-card .p-name").unwrap();
    let el = doc.select(&name).next().expect("h-card name");
    assert_eq!(el.text().collect::<String>().trim(), "Test Owner");
    assert_eq!(el.value().attr("href"), Some(app.me().as_str()));
}
