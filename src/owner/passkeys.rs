//! Passkeys through webauthn-rs: the relying party is the issuer's host
//! and origin. A browser will only use WebAuthn on a host *name* in a
//! secure context (https, or http on `localhost`), never on an IP literal
//! such as `http://127.0.0.1:8080/`; there `relying_party` answers `None`
//! and the pages say why instead of failing mysteriously.
//!
//! The stored credential is webauthn-rs's `Passkey` (public key, sign
//! counter, backup state) as JSON; after each sign-in it is updated from
//! the `AuthenticationResult` as webauthn-rs asks, which also checks the
//! counter so a cloned authenticator is noticed.

use crate::errors::error_chain;
use crate::store::factors::StoredPasskey;
use url::Url;
use webauthn_rs::prelude::{Passkey, Webauthn, WebauthnBuilder};

/// The relying party for `issuer`, or `None` where browsers refuse
/// WebAuthn (an IP address).
pub fn relying_party(issuer: &Url) -> Option<Webauthn> {
    let host = match issuer.host()? {
        url::Host::Domain(d) => d.to_owned(),
        _ => return None,
    };
    let origin = Url::parse(&issuer.origin().ascii_serialization()).ok()?;
    WebauthnBuilder::new(&host, &origin)
        .ok()?
        .rp_name("doorstep")
        .build()
        .ok()
}

/// Why passkeys are not offered, in the owner's words (for pages).
pub fn unavailable_reason(issuer: &Url) -> String {
    let port = issuer.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "Browsers offer passkeys only on a host name, not on an IP address. \
         For local development, open doorstep at http://localhost{port}/ and set \
         the issuer to that address; in production use your https address."
    )
}

/// A stored passkey with its webauthn-rs credential.
pub struct Registered {
    pub stored: StoredPasskey,
    pub passkey: Passkey,
}

/// Parses the stored credentials, skipping (and logging) any unreadable
/// one rather than failing every sign-in.
pub fn parse_all(stored: Vec<StoredPasskey>) -> Vec<Registered> {
    stored
        .into_iter()
        .filter_map(|s| match serde_json::from_str::<Passkey>(&s.passkey) {
            Ok(passkey) => Some(Registered { stored: s, passkey }),
            Err(e) => {
                tracing::error!(id = s.id, error = %error_chain(&e), "a stored passkey cannot be read");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_name_is_a_relying_party_and_an_ip_address_is_not() {
        for ok in [
            "http://localhost:8080/",
            "https://auth.example.com/",
            "https://example.com/doorstep/",
        ] {
            assert!(relying_party(&Url::parse(ok).unwrap()).is_some(), "{ok}");
        }
        for no in ["http://127.0.0.1:8080/", "http://[::1]:8080/"] {
            assert!(relying_party(&Url::parse(no).unwrap()).is_none(), "{no}");
        }
        assert!(
            unavailable_reason(&Url::parse("http://127.0.0.1:8080/").unwrap())
                .contains("http://localhost:8080/")
        );
    }
}
