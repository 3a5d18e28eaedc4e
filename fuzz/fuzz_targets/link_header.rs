//! Fuzz the RFC 8288 `Link` header parser: it must never panic, and what it
//! parses must survive a format/parse round trip unchanged.
#![no_main]

use doorstep::clients::link_header;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let links = link_header::parse(text);
    for link in &links {
        let _ = link.rels();
    }
    // Targets never contain '>' once parsed, so formatting is lossless
    // for everything the parser can produce.
    let again = link_header::parse(&link_header::format(&links));
    assert_eq!(again, links);
});
