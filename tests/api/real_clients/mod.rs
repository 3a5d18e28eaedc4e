//! Real clients, libraries and resource servers, replayed request by
//! request from their published source (PRODUCT "Compatibility with the
//! clients people use"), one module per program or library. Each test
//! follows one program's source — which rels it looks for and where (HEAD
//! or GET, `Link` header or `<link>`), the exact parameters, headers and
//! encodings it sends, and how it reads the answer — and asserts that
//! doorstep gives that program what it needs. Each test names the
//! repository and files it follows; comments quote the details.
//!
//! This module holds what the programs' discovery and encoding code does,
//! in Rust, for the tests to share.

mod indieauth_client_php;
mod indieauth_helper;
mod indiekit;
mod indielib_go;
mod indieweb_utils;
mod micropublish;
mod native_apps;
mod resource_servers;

pub(crate) use crate::fixtures::{Fixture, Reply};
pub(crate) use crate::helpers::*;
pub(crate) use base64::Engine;
pub(crate) use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
pub(crate) use reqwest::header::HeaderMap;
pub(crate) use scraper::{Html, Selector};
pub(crate) use sha2::{Digest, Sha256};
pub(crate) use std::collections::HashMap;
pub(crate) use url::Url;

/// `(rel, absolute href)` of every `Link` header, in order, the way
/// `IndieWeb\http_rels()` (indieauth-client-php) and Ruby's `LinkHeader`
/// (Micropublish) read them: `<href>; rel="a b"`, several links per header
/// or several headers, relative hrefs resolved against the page URL.
fn header_rels(headers: &HeaderMap, base: &Url) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for value in headers.get_all("link") {
        let mut rest = value.to_str().expect("ascii Link header");
        while let Some(start) = rest.find('<') {
            let end = start + rest[start..].find('>').expect("closing >");
            let href = &rest[start + 1..end];
            let after = &rest[end + 1..];
            let next = after.find('<').unwrap_or(after.len());
            for param in after[..next].split(';') {
                let param = param.trim().trim_end_matches(',').trim();
                if let Some(v) = param.strip_prefix("rel=") {
                    for rel in v.trim_matches('"').split_whitespace() {
                        let abs = base.join(href).expect("resolvable href");
                        out.push((rel.to_owned(), abs.to_string()));
                    }
                }
            }
            rest = &after[next..];
        }
    }
    out
}

/// `(rel, absolute href)` of every `Link` header value, in order, read
/// the simple way: split on `,`, then on `;` (jsoup-based Indigenous for
/// Android, rel-parser in indieauth-helper).
fn split_header_rels(headers: &HeaderMap, base: &Url) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for value in headers.get_all("link") {
        let value = value.to_str().expect("ascii Link header");
        for link in value.split(',') {
            let mut parts = link.split(';');
            let href = parts.next().unwrap().trim();
            let href = href.trim_start_matches('<').trim_end_matches('>');
            for p in parts {
                if let Some(v) = p.trim().strip_prefix("rel=") {
                    for rel in v.trim_matches('"').split_whitespace() {
                        out.push((rel.to_owned(), base.join(href).unwrap().to_string()));
                    }
                }
            }
        }
    }
    out
}

/// A GET of the homepage, `Link` headers first and then the HTML, the way
/// rel-parser (indieauth-helper), Micropub-helper and most clients read it.
async fn get_rels(app: &TestApp, me: &str) -> Vec<(String, String)> {
    let base = Url::parse(me).unwrap();
    let resp = app
        .api
        .get(me)
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut rels = split_header_rels(resp.headers(), &base);
    rels.extend(html_rels(&resp.text().await.unwrap(), &base));
    rels
}

/// indieauth-client-php 1.1.x `_discoverEndpoint()`: a HEAD request first
/// (`self::$http->head($url)`, `\IndieWeb\http_rels($headers)`), and only
/// if the header has no such rel, a GET and php-mf2's `rels`.
async fn php_discover(app: &TestApp, me: &str, rel: &str) -> Option<String> {
    let base = Url::parse(me).unwrap();
    let head = app.api.head(me).send().await.expect("HEAD");
    assert_eq!(head.status(), 200, "HEAD {me}");
    if let Some(found) = first(&header_rels(head.headers(), &base), rel) {
        return Some(found);
    }
    let body = app.api.get(me).send().await.unwrap().text().await.unwrap();
    first(&html_rels(&body, &base), rel)
}

/// `generateRandomString($n)` of indieauth-client-php: `bin2hex(random_bytes($n))`.
fn php_hex(n: usize) -> String {
    (0..n)
        .map(|i| format!("{:02x}", (i * 37 + 11) % 256))
        .collect()
}

/// A form body, as every client here sends it (`http_build_query`,
/// `URI.encode_www_form`, HTTParty's hash body).
fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).expect("encode")
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

async fn post_raw(
    app: &TestApp,
    url: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: String,
) -> Response {
    let mut req = app
        .api
        .post(url)
        .header("Content-Type", content_type)
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    Response::read(req.send().await.expect("request")).await
}

async fn live_token(app: &TestApp, scope: &str) -> (TestClient, String) {
    let client = app.client();
    let body = app.token_for(&client, scope).await;
    (client, str_of(&body, "access_token"))
}

/// `(rel, absolute href)` of every `<link>` and `<a>` with a rel, in
/// document order, as rel parsers in clients see a page (php-mf2's `rels`
/// for Quill and Aperture, Nokogiri's `css('link')` for Micropublish).
pub fn html_rels(body: &str, base: &Url) -> Vec<(String, String)> {
    let doc = Html::parse_document(body);
    let sel = Selector::parse("link[rel][href], a[rel][href]").expect("selector");
    let mut out = Vec::new();
    for e in doc.select(&sel) {
        let (Some(href), Some(rels)) = (e.value().attr("href"), e.value().attr("rel")) else {
            continue;
        };
        for rel in rels.split_whitespace() {
            if let Ok(abs) = base.join(href) {
                out.push((rel.to_owned(), abs.to_string()));
            }
        }
    }
    out
}

/// The first href for `rel` among `rels`.
pub fn first(rels: &[(String, String)], rel: &str) -> Option<String> {
    rels.iter().find(|(r, _)| r == rel).map(|(_, h)| h.clone())
}

/// PHP's `json_decode($body, true)`, then `parse_str($body)` when that
/// fails: the fallback the PHP clients replayed in the real-client suites use.
pub fn php_decode(body: &str) -> HashMap<String, serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => m.into_iter().collect(),
        _ => url::form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
            .collect(),
    }
}

/// doorstep serving a homepage that also advertises `micropub` and
/// `microsub`, which most Micropub and Microsub clients require.
pub async fn with_micropub() -> TestApp {
    TestApp::spawn_with(|s| {
        s.micropub = Some(Url::parse("https://example.net/micropub").expect("url"));
        s.microsub = Some(Url::parse("https://example.net/microsub").expect("url"));
    })
    .await
}
