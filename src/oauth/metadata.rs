//! The RFC 8414 authorization server metadata document (DISC-1..12).

use crate::config::{PkcePolicy, Settings};
use serde_json::{Value, json};

/// Scopes advertised (DISC-7): the IndieAuth and Micropub/Microsub names.
pub const SCOPES_SUPPORTED: &[&str] = &[
    "profile", "email", "create", "update", "delete", "undelete", "media", "draft", "read",
    "follow", "mute", "block", "channels",
];

/// The rels a homepage carries to lead clients here (DISC-13, DISC-14):
/// the metadata document, the legacy endpoints, and the owner's Micropub and
/// Microsub endpoints when configured (PRODUCT "Compatibility"). One list
/// for the homepage doorstep serves (`<link>` elements and `Link` headers)
/// and for the tags the owner copies onto their own. Every href is
/// absolute (DISC-15).
pub fn homepage_links(settings: &Settings) -> Vec<(&'static str, String)> {
    let mut links = vec![
        ("indieauth-metadata", settings.metadata_url()),
        ("authorization_endpoint", settings.endpoint("auth")),
        ("token_endpoint", settings.endpoint("token")),
    ];
    if let Some(m) = &settings.micropub {
        links.push(("micropub", m.to_string()));
    }
    if let Some(m) = &settings.microsub {
        links.push(("microsub", m.to_string()));
    }
    links
}

pub fn document(settings: &Settings) -> Value {
    // What the authorization endpoint accepts, exactly: `optional` takes
    // `plain` as `any` does (it only adds requests without PKCE).
    let methods: &[&str] = match settings.pkce {
        PkcePolicy::S256 => &["S256"],
        PkcePolicy::Any | PkcePolicy::Optional => &["S256", "plain"],
    };
    json!({
        "issuer": settings.issuer_str(),
        "authorization_endpoint": settings.endpoint("auth"),
        "token_endpoint": settings.endpoint("token"),
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": methods,
        "authorization_response_iss_parameter_supported": true,
        "token_endpoint_auth_methods_supported": ["none"],
        // VER-1, DISC-5. VER-4: no registered auth-method value exists for
        // a bearer secret, so `introspection_endpoint_auth_methods_supported`
        // is left out and the method is described in the README.
        "introspection_endpoint": settings.endpoint("introspect"),
        // DISC-6: public clients revoke without authenticating.
        "revocation_endpoint": settings.endpoint("revoke"),
        "revocation_endpoint_auth_methods_supported": ["none"],
        // UINFO-1, DISC-11.
        "userinfo_endpoint": settings.endpoint("userinfo"),
        "client_id_metadata_document_supported": true,
        "service_documentation": "https://indieauth.spec.indieweb.org/",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawValues;

    #[test]
    fn disc_2_12_required_members_and_no_empty_arrays() {
        let s = Settings::from_raw(&RawValues::new()).unwrap();
        let d = document(&s);
        for key in [
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "code_challenge_methods_supported",
        ] {
            assert!(d.get(key).is_some(), "{key}");
        }
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            d["authorization_response_iss_parameter_supported"],
            json!(true)
        );
        for (_, v) in d.as_object().unwrap() {
            if let Some(a) = v.as_array() {
                assert!(!a.is_empty());
            }
        }
    }
}
