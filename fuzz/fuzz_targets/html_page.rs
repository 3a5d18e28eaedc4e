//! Fuzz the h-app / h-x-app and rel=redirect_uri page parser (CID-20,
//! CID-21) and the CPU bounds in front of it (CID-10, SEC-7): never panic,
//! never overflow, only absolute http(s) URLs for the app's properties, no
//! script-bearing redirect URIs (native apps' custom schemes are kept,
//! CID-21), and a page the byte pre-scan refuses is refused by the parser.
#![no_main]

use doorstep::clients::{html, html_budget};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(page_url) = url::Url::parse("https://app.example.com/") else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let limits = html_budget::Limits::default();
    let prescan = html_budget::prescan(text.as_bytes(), limits.max_attributes);
    // A tiny attribute limit exercises the refusal paths on small inputs.
    let _ = html_budget::prescan(data, 2);
    let Ok(page) = html::parse_page(&text, &page_url) else {
        return;
    };
    assert!(prescan.is_ok(), "a page the pre-scan refuses was parsed");
    for u in page
        .apps
        .iter()
        .flat_map(|a| a.urls.iter().chain(&a.logos).chain(&a.photos))
    {
        assert!(matches!(u.scheme(), "http" | "https"));
    }
    for u in &page.redirect_uris {
        assert!(u.fragment().is_none());
        assert!(!matches!(
            u.scheme(),
            "javascript" | "data" | "vbscript" | "file"
        ));
    }
});
