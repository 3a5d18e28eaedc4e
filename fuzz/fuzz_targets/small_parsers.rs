//! Fuzz the small parsers of untrusted input: scopes, PKCE values, state,
//! form parameters, Bearer headers and Accept headers. None may panic.
#![no_main]

use doorstep::domain::{CodeChallenge, CodeVerifier, PkceMethod, ScopeSet, State};
use doorstep::oauth::Params;
use doorstep::oauth::verify::{accept_prefers_json, bearer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = ScopeSet::parse(text) {
        assert_eq!(ScopeSet::parse(&set.to_string()).ok(), Some(set));
    }
    let _ = CodeChallenge::parse(text);
    let _ = CodeVerifier::parse(text);
    let _ = PkceMethod::parse(text);
    let _ = State::parse(text);
    let p = Params::parse(text);
    let _ = p.get("code");
    let _ = p.all("scope");
    let _ = bearer(Some(text));
    let _ = accept_prefers_json(Some(text));
});
