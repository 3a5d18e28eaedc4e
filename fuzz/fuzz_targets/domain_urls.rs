//! Fuzz the IndieAuth URL rules (client_id, profile URL, redirect URI):
//! never panic, and an accepted client_id is canonical (parsing its own
//! serialisation gives it back).
#![no_main]

use doorstep::domain::{ClientId, ProfileUrl, RedirectUri};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = ClientId::parse(text) {
        let again = ClientId::parse(id.as_str()).expect("canonical client_id reparses");
        assert_eq!(again.as_str(), id.as_str());
    }
    let _ = ProfileUrl::parse(text, false);
    let _ = ProfileUrl::parse(text, true);
    if let Ok(r) = RedirectUri::parse(text) {
        assert_eq!(r.as_str(), text);
        let _ = r.with_params(&[("code", "x"), ("state", text)]);
    }
});
