//! Fuzz the JSON client metadata validator (CID-14..18): never panic, and a
//! document it accepts only ever yields absolute http(s) logos.
#![no_main]

use doorstep::clients::metadata::{self, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(id) = url::Url::parse("https://app.example.com/") else {
        return;
    };
    if let Verdict::Valid(m) = metadata::parse(data, &id) {
        if let Some(logo) = m.logo_uri {
            assert!(logo.starts_with("http://") || logo.starts_with("https://"));
        }
    }
});
