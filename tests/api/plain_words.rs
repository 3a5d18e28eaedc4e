//! No checklist IDs in front of users (issue 9, §7): the pages, the
//! README, the example configuration and the deployment files speak plain
//! words and link public specs; internal SPEC.md item IDs such as
//! "DISC-19" or "CID-12" mean nothing to the people reading them. Code
//! comments and tests may cite IDs.

use crate::tour::visit_every_page;
use std::path::Path;

/// Ordinary technical terms of the same shape as a checklist ID.
const NOT_IDS: &[&str] = &["SHA", "UTF", "ISO", "AES", "ECDSA", "RSA", "HTTP", "DNS"];

/// Every `[A-Z]{2,6}-L?[0-9]+` standing alone as a word, less `NOT_IDS`.
fn checklist_ids(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_uppercase() || (i > 0 && is_word(b[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i;
        while j < b.len() && b[j].is_ascii_uppercase() {
            j += 1;
        }
        let letters = j - start;
        let mut k = j;
        let shaped = (2..=6).contains(&letters) && b.get(k) == Some(&b'-') && {
            k += 1;
            if b.get(k) == Some(&b'L') {
                k += 1;
            }
            let digits_from = k;
            while k < b.len() && b[k].is_ascii_digit() {
                k += 1;
            }
            k > digits_from && !b.get(k).copied().is_some_and(is_word)
        };
        if shaped && !NOT_IDS.contains(&&text[start..j]) {
            found.push(text[start..k].to_owned());
        }
        i = j.max(i + 1);
    }
    found
}

#[test]
fn the_matcher_finds_checklist_ids_and_nothing_else() {
    assert_eq!(
        checklist_ids("must be https (DISC-19); see CID-12, SEC-L3 and AREQ-7."),
        ["DISC-19", "CID-12", "SEC-L3", "AREQ-7"]
    );
    for fine in [
        "SHA-256 and UTF-8, an HTTP-01 challenge",
        "RFC 6749 §5.2",
        "X-Forwarded-For",
        "cid_24_tv7",
        "ABCDEFG-1",
        "ABC-12x",
        "aDISC-1",
    ] {
        assert!(checklist_ids(fine).is_empty(), "{fine}");
    }
}

/// The files people read: pages' templates, the stylesheet served with
/// them, the README, the example configuration, the deployment files.
fn user_facing_files() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![
        root.join("README.md"),
        root.join("doorstep.example.toml"),
        root.join("static/style.css"),
    ];
    for dir in ["templates", "contrib"] {
        let mut listed: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        listed.sort();
        files.extend(listed);
    }
    files
}

#[test]
fn templates_readme_example_configuration_and_contrib_cite_no_checklist_ids() {
    let files = user_facing_files();
    assert!(files.iter().any(|f| f.ends_with("templates/consent.html")));
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for id in checklist_ids(line) {
                found.push(format!("{}:{}: {id}", file.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "checklist IDs in user-facing text; say it in plain words and link the public spec \
         (https://indieauth.spec.indieweb.org/, an RFC) instead:\n{}",
        found.join("\n")
    );
}

#[tokio::test]
async fn every_page_a_person_sees_cites_no_checklist_ids() {
    let tour = visit_every_page().await;
    let names: Vec<&str> = tour.pages.iter().map(|p| p.name).collect();
    for expected in [
        "homepage",
        "login",
        "not-found",
        "authorization-error",
        "setup",
        "setup-link-used",
        "consent",
        "no-pkce",
        "dashboard",
        "revoke-all",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} not visited: {names:?}"
        );
    }
    for page in &tour.pages {
        assert!(
            page.html.contains("</html>"),
            "{}: {}",
            page.name,
            page.html
        );
        let ids = checklist_ids(&readable_text(&page.html));
        assert!(ids.is_empty(), "{} shows {ids:?}", page.name);
    }
}

/// What a person reads or hears on a page: its text and the attributes
/// that are spoken or shown. Random secrets shown once (base64url, which
/// has `-`) are left out, so that they cannot look like an ID by chance;
/// hidden inputs (CSRF tokens) are never read.
fn readable_text(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let secret_sel = scraper::Selector::parse("#secret").unwrap();
    let secrets: Vec<String> = doc
        .select(&secret_sel)
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let mut out = String::new();
    for node in doc.root_element().descendants() {
        if let Some(text) = node.value().as_text() {
            out.push_str(text);
            out.push('\n');
        } else if let Some(el) = node.value().as_element() {
            for attr in ["aria-label", "title", "alt", "placeholder", "content"] {
                if let Some(v) = el.attr(attr) {
                    out.push_str(v);
                    out.push('\n');
                }
            }
            if el.attr("type") == Some("submit") {
                out.push_str(el.attr("value").unwrap_or(""));
                out.push('\n');
            }
        }
    }
    for secret in secrets {
        out = out.replace(&secret, "");
    }
    out
}
