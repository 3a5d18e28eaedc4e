//! Fuzz the h-app / h-x-app and rel=redirect_uri page parser (CID-20,
//! CID-21): never panic, never overflow, only absolute http(s) URLs out.
#![no_main]

use doorstep::clients::html;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(page_url) = url::Url::parse("https://app.example.com/") else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let page = html::parse_page(&text, &page_url);
    for u in page
        .apps
        .iter()
        .flat_map(|a| a.urls.iter().chain(&a.logos).chain(&a.photos))
    {
        assert!(matches!(u.scheme(), "http" | "https"));
    }
    for u in &page.redirect_uris {
        assert!(matches!(u.scheme(), "http" | "https"));
    }
});
