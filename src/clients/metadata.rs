//! Validation of JSON client metadata documents (IA §4.2.1, CIMD; CID-14..18).
//!
//! This module owns turning the bytes of a JSON document fetched from a
//! `client_id` into trusted client information, or a verdict saying why none
//! of it may be used. It never fetches anything and never uses any field of a
//! document that fails a check: an invalid document yields no data at all.

use serde::Deserialize;
use url::Url;

use super::canon::{canonical, clean_name, is_http_url, is_publishable_redirect};

/// The fields doorstep reads. Unknown properties are ignored (CID-16); every
/// field is optional here so that a wrong type is caught as "invalid" by our
/// own checks rather than by a parse failure deep in serde.
#[derive(Deserialize, Default)]
struct RawMetadata {
    client_id: Option<serde_json::Value>,
    client_name: Option<serde_json::Value>,
    client_uri: Option<serde_json::Value>,
    logo_uri: Option<serde_json::Value>,
    redirect_uris: Option<serde_json::Value>,
    token_endpoint_auth_method: Option<serde_json::Value>,
    client_secret: Option<serde_json::Value>,
    client_secret_expires_at: Option<serde_json::Value>,
    jwks_uri: Option<serde_json::Value>,
    jwks: Option<serde_json::Value>,
}

/// Client information taken from a valid document.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    pub name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub redirect_uris: Vec<String>,
}

/// The outcome of validating a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Valid(Metadata),
    /// Not usable; the reason is a short sentence for the owner.
    Invalid(&'static str),
    /// A well-formed document for a confidential client (CID-18 decision).
    Confidential(&'static str),
}

/// Shared-secret client authentication methods CIMD forbids (CID-18).
const SHARED_SECRET_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
];

const SECRET: &str = "the client's metadata declares a client secret, which is not allowed";
const CONFIDENTIAL: &str = "this app is a confidential client, which this server does not support";

/// Validate `body` as the metadata document fetched from `fetched`.
pub fn parse(body: &[u8], fetched: &Url) -> Verdict {
    match read(body, fetched) {
        Ok(metadata) => Verdict::Valid(metadata),
        Err(verdict) => verdict,
    }
}

/// The checks in order; the first that fails decides the verdict, and
/// nothing of the document is used then.
fn read(body: &[u8], fetched: &Url) -> Result<Metadata, Verdict> {
    let raw = decode(body)?;
    let client_id = named_client_id(&raw, fetched)?;
    refuse_secrets_and_keys(&raw)?;
    let client_uri = client_uri(&raw, &client_id)?;
    let name = raw
        .client_name
        .as_ref()
        .and_then(|v| v.as_str())
        .and_then(clean_name);
    // CID-16/19: only absolute http(s) logos; javascript:, data: and relative
    // references are dropped, not resolved.
    let logo_uri = raw
        .logo_uri
        .as_ref()
        .and_then(|v| v.as_str())
        .and_then(|s| Url::parse(s).ok())
        .filter(is_http_url)
        .map(String::from);
    Ok(Metadata {
        name,
        client_uri,
        logo_uri,
        redirect_uris: redirect_uris(raw.redirect_uris.as_ref()),
    })
}

/// A JSON object, with the fields doorstep reads.
fn decode(body: &[u8]) -> Result<RawMetadata, Verdict> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v @ serde_json::Value::Object(_)) => serde_json::from_value(v)
            .map_err(|_| Verdict::Invalid("the client's metadata document is not valid")),
        _ => Err(Verdict::Invalid(
            "the client's metadata document is not valid JSON",
        )),
    }
}

/// CID-14: the document must name the URL it was fetched from, compared
/// after IA §3.4 canonicalisation of both sides. Returns that canonical
/// client_id.
fn named_client_id(raw: &RawMetadata, fetched: &Url) -> Result<String, Verdict> {
    let named = raw
        .client_id
        .as_ref()
        .and_then(|v| v.as_str())
        .and_then(canonical);
    match named {
        Some(named) if Some(&named) == canonical(fetched.as_str()).as_ref() => Ok(named),
        _ => Err(Verdict::Invalid(
            "metadata document names a different client_id",
        )),
    }
}

/// CID-18: shared secrets are not allowed for these clients at all, and a
/// secret anywhere in the document makes it invalid, whatever else it
/// says; a client that authenticates with keys is refused, not ignored.
fn refuse_secrets_and_keys(raw: &RawMetadata) -> Result<(), Verdict> {
    if raw.client_secret.is_some() || raw.client_secret_expires_at.is_some() {
        return Err(Verdict::Invalid(SECRET));
    }
    match &raw.token_endpoint_auth_method {
        None => {}
        Some(serde_json::Value::String(m)) => match m.as_str() {
            "none" => {}
            m if SHARED_SECRET_METHODS.contains(&m) => return Err(Verdict::Invalid(SECRET)),
            "private_key_jwt" | "tls_client_auth" | "self_signed_tls_client_auth" => {
                return Err(Verdict::Confidential(CONFIDENTIAL));
            }
            _ => {
                return Err(Verdict::Invalid(
                    "the client's metadata asks for an unknown authentication method",
                ));
            }
        },
        Some(_) => {
            return Err(Verdict::Invalid(
                "the client's metadata document is not valid",
            ));
        }
    }
    // A key set declares a client that authenticates with keys (CID-18
    // decision): only `none` is supported.
    if raw.jwks_uri.is_some() || raw.jwks.is_some() {
        return Err(Verdict::Confidential(CONFIDENTIAL));
    }
    Ok(())
}

/// CID-15: client_uri must be a prefix of client_id. Both are canonicalised
/// first, so `https://app.example.com` cannot pass as a prefix of
/// `https://app.example.com.evil.example/`.
fn client_uri(raw: &RawMetadata, client_id: &str) -> Result<Option<String>, Verdict> {
    let Some(v) = &raw.client_uri else {
        return Ok(None);
    };
    let Some(cu) = v.as_str().and_then(canonical) else {
        return Err(Verdict::Invalid(
            "the client's metadata has an invalid client_uri",
        ));
    };
    if !client_id.starts_with(&cu) {
        return Err(Verdict::Invalid(
            "the client's client_uri does not match its client_id",
        ));
    }
    Ok(Url::parse(&cu).ok().filter(is_http_url).map(String::from))
}

/// The published redirect URIs: absolute (RFC 7591 §2), without fragment
/// (RFC 6749 §3.1.2) and never a script-bearing scheme. Entries that are not
/// usable are dropped one by one; a document is not refused for them.
fn redirect_uris(v: Option<&serde_json::Value>) -> Vec<String> {
    let Some(serde_json::Value::Array(items)) = v else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|i| i.as_str())
        .filter_map(|s| Url::parse(s).ok())
        .filter(is_publishable_redirect)
        .map(String::from)
        .take(MAX_REDIRECT_URIS)
        .collect()
}

/// More redirect URIs than any real client publishes; bounds memory and the
/// work of matching.
const MAX_REDIRECT_URIS: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id() -> Url {
        Url::parse("https://app.example.com/").unwrap()
    }

    const TV16: &str = r#"{
      "client_id": "https://app.example.com/",
      "client_name": "Example App",
      "client_uri": "https://app.example.com/",
      "logo_uri": "https://app.example.com/logo.png",
      "redirect_uris": ["https://app.example.com/redirect", "com.example.app:/callback"]
    }"#;

    fn with(extra: &str) -> String {
        TV16.replacen('{', &format!("{{ {extra},"), 1)
    }

    #[test]
    fn tv16_document_is_valid() {
        let Verdict::Valid(m) = parse(TV16.as_bytes(), &id()) else {
            panic!("expected valid");
        };
        assert_eq!(m.name.as_deref(), Some("Example App"));
        assert_eq!(m.client_uri.as_deref(), Some("https://app.example.com/"));
        assert_eq!(
            m.logo_uri.as_deref(),
            Some("https://app.example.com/logo.png")
        );
        assert_eq!(
            m.redirect_uris,
            [
                "https://app.example.com/redirect",
                "com.example.app:/callback"
            ]
        );
    }

    #[test]
    fn client_id_without_trailing_slash_is_canonicalised_and_accepted() {
        // TV-16 first bullet: we canonicalise both sides, then compare.
        let doc = TV16.replace(
            r#""client_id": "https://app.example.com/""#,
            r#""client_id": "https://APP.example.com""#,
        );
        assert!(matches!(parse(doc.as_bytes(), &id()), Verdict::Valid(_)));
    }

    #[test]
    fn mismatched_client_id_is_invalid() {
        for other in [
            "https://app.example.com/other",
            "https://evil.example/",
            "https://app.example.com.evil.example/",
            "https://app.example.com/#x",
            "",
        ] {
            let doc = TV16.replace(
                r#""client_id": "https://app.example.com/""#,
                &format!(r#""client_id": "{other}""#),
            );
            assert_eq!(
                parse(doc.as_bytes(), &id()),
                Verdict::Invalid("metadata document names a different client_id"),
                "{other}"
            );
        }
        let doc = TV16.replace(r#""client_id": "https://app.example.com/","#, "");
        assert!(matches!(parse(doc.as_bytes(), &id()), Verdict::Invalid(_)));
        let doc = TV16.replace(
            r#""client_id": "https://app.example.com/""#,
            r#""client_id": 7"#,
        );
        assert!(matches!(parse(doc.as_bytes(), &id()), Verdict::Invalid(_)));
    }

    #[test]
    fn client_uri_must_be_a_prefix_of_client_id() {
        for bad in [
            "https://other.example/",
            "https://app.example.com/deeper/",
            "https://app.example.co",
            "javascript:alert(1)",
        ] {
            let doc = TV16.replace(
                r#""client_uri": "https://app.example.com/""#,
                &format!(r#""client_uri": "{bad}""#),
            );
            assert!(
                matches!(parse(doc.as_bytes(), &id()), Verdict::Invalid(_)),
                "{bad}"
            );
        }
        let doc = TV16.replace(
            r#""client_uri": "https://app.example.com/""#,
            r#""client_uri": "https://app.example.com""#,
        );
        assert!(matches!(parse(doc.as_bytes(), &id()), Verdict::Valid(_)));
        let deep = Url::parse("https://app.example.com/apps/one").unwrap();
        let doc = r#"{"client_id":"https://app.example.com/apps/one","client_uri":"https://app.example.com/apps/"}"#;
        assert!(matches!(parse(doc.as_bytes(), &deep), Verdict::Valid(_)));
    }

    #[test]
    fn shared_secret_documents_are_invalid() {
        for extra in [
            r#""token_endpoint_auth_method": "client_secret_basic""#,
            r#""token_endpoint_auth_method": "client_secret_post""#,
            r#""token_endpoint_auth_method": "client_secret_jwt""#,
            r#""client_secret": "s3cret""#,
            r#""client_secret_expires_at": 0"#,
        ] {
            assert!(
                matches!(parse(with(extra).as_bytes(), &id()), Verdict::Invalid(_)),
                "{extra}"
            );
        }
    }

    #[test]
    fn confidential_clients_are_refused() {
        for extra in [
            r#""token_endpoint_auth_method": "private_key_jwt""#,
            r#""jwks_uri": "https://app.example.com/jwks.json""#,
        ] {
            assert!(
                matches!(
                    parse(with(extra).as_bytes(), &id()),
                    Verdict::Confidential(_)
                ),
                "{extra}"
            );
        }
        assert!(matches!(
            parse(
                with(r#""token_endpoint_auth_method": "none""#).as_bytes(),
                &id()
            ),
            Verdict::Valid(_)
        ));
    }

    #[test]
    fn unsafe_logos_and_redirects_are_dropped() {
        let doc = r#"{"client_id":"https://app.example.com/","logo_uri":"javascript:alert(1)",
            "redirect_uris":["/relative","https://app.example.com/cb#frag","javascript:alert(1)",7,"https://app.example.com/ok"]}"#;
        let Verdict::Valid(m) = parse(doc.as_bytes(), &id()) else {
            panic!()
        };
        assert_eq!(m.logo_uri, None);
        assert_eq!(m.redirect_uris, ["https://app.example.com/ok"]);
        let doc =
            r#"{"client_id":"https://app.example.com/","logo_uri":"data:image/png;base64,AAAA"}"#;
        let Verdict::Valid(m) = parse(doc.as_bytes(), &id()) else {
            panic!()
        };
        assert_eq!(m.logo_uri, None);
    }

    #[test]
    fn names_are_plain_text_and_capped() {
        let doc = format!(
            r#"{{"client_id":"https://app.example.com/","client_name":"<script>alert(1)</script>\n{}"}}"#,
            "y".repeat(300)
        );
        let Verdict::Valid(m) = parse(doc.as_bytes(), &id()) else {
            panic!()
        };
        let name = m.name.unwrap();
        assert!(name.starts_with("<script>alert(1)</script> y"));
        assert_eq!(name.chars().count(), 100);
    }

    #[test]
    fn non_object_json_is_invalid() {
        for doc in [
            "[]",
            "\"x\"",
            "null",
            "{",
            "",
            "{\"client_id\": \"https://app.example.com/\"",
        ] {
            assert!(
                matches!(parse(doc.as_bytes(), &id()), Verdict::Invalid(_)),
                "{doc}"
            );
        }
    }

    proptest! {
        #[test]
        fn parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes, &id());
        }

        #[test]
        fn parser_never_panics_on_objects(
            cid in prop::option::of(".{0,40}"),
            name in prop::option::of(".{0,40}"),
            uris in prop::collection::vec(".{0,30}", 0..4),
        ) {
            let doc = serde_json::json!({"client_id": cid, "client_name": name, "redirect_uris": uris, "logo_uri": name});
            let _ = parse(doc.to_string().as_bytes(), &id());
        }
    }
}
