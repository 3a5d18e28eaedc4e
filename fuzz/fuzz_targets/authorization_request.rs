//! Fuzz the authorization request pipeline on an arbitrary query string:
//! parameters, client/redirect validation, and every other parameter. It
//! must never panic, and a redirected error must go to the verified URI.
#![no_main]

use doorstep::clients::{ClientInfo, InfoSource};
use doorstep::config::PkcePolicy;
use doorstep::oauth::Params;
use doorstep::oauth::authorize::{parse_client, parse_request, verify_redirect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let params = Params::parse(query);
    let Ok((client_id, redirect_uri)) = parse_client(&params) else {
        return;
    };
    let info = ClientInfo {
        client_id: client_id.as_str().to_owned(),
        source: InfoSource::Unavailable { reason: "fuzz".into() },
        name: None,
        client_uri: None,
        logo_uri: None,
        redirect_uris: vec![],
    };
    let raw_redirect = redirect_uri.as_str().to_owned();
    let Ok(verified) = verify_redirect(client_id, redirect_uri, &info) else {
        return;
    };
    for policy in [PkcePolicy::S256, PkcePolicy::Any, PkcePolicy::Optional] {
        if let Err(e) = parse_request(&params, verified.clone(), policy) {
            assert!(e.location("https://auth.example.com/").starts_with(&raw_redirect));
        }
    }
});
