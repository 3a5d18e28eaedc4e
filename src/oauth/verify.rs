//! Token verification for resource servers: reading the bearer token, and
//! deciding the legacy GET's answer format (VER-L*). The lookup itself is
//! the hot path in `store::live`.

/// The bearer token from an `Authorization` header value, if it is one.
/// The scheme is case-insensitive (RFC 7235 §2.1).
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    let (scheme, token) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// SPEC decision on VER-L5: JSON only when `Accept` asks for JSON
/// (`application/json` or a `+json` type) at a q-value not below any
/// form-encoded preference; otherwise form-encoded, as the original token
/// endpoints answered and micropub-express still expects.
pub fn accept_prefers_json(accept: Option<&str>) -> bool {
    let (json_q, form_q) = accept_weights(accept);
    json_q > 0.0 && json_q >= form_q
}

/// The SPEC decision replacing VER-L5, for the legacy `GET` on the token
/// endpoint: JSON when `Accept` asks for JSON, or is exactly `*/*` while
/// the request has no form `Content-Type` (Python `requests` as
/// indieweb-utils' `is_authenticated()` sends it, before calling
/// `.json()`); form-encoded otherwise: no `Accept` (Flask-IndieAuth reads
/// the answer with `parse_qs`), or a form `Content-Type` on the GET
/// (micropub-express parses the body as a query string).
pub fn legacy_get_answers_json(accept: Option<&str>, request_is_form: bool) -> bool {
    accept_prefers_json(accept) || (accept.map(str::trim) == Some("*/*") && !request_is_form)
}

/// REDA-7: form-encoded only when `Accept` names it and weighs it above
/// JSON; no `Accept`, `*/*` and `application/json` all mean JSON there.
pub fn accept_prefers_form(accept: Option<&str>) -> bool {
    let (json_q, form_q) = accept_weights(accept);
    form_q > 0.0 && form_q > json_q
}

/// The q-values `Accept` gives JSON (`application/json` or a `+json` type)
/// and `application/x-www-form-urlencoded`; 0 for whatever it leaves out.
fn accept_weights(accept: Option<&str>) -> (f32, f32) {
    let Some(accept) = accept else {
        return (0.0, 0.0);
    };
    let mut json_q: f32 = 0.0;
    let mut form_q: f32 = 0.0;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        // Compared without case and without a lowercase copy: this runs on
        // every legacy verification (issue 10).
        let media = parts.next().unwrap_or("").trim();
        let mut q = 1.0f32;
        for param in parts {
            if let Some((k, v)) = param.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        if is_json_media(media) {
            json_q = json_q.max(q);
        } else if media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            form_q = form_q.max(q);
        }
    }
    (json_q, form_q)
}

/// `application/json` or an `application/…+json` type, in any case.
fn is_json_media(media: &str) -> bool {
    const APPLICATION: &str = "application/";
    let b = media.as_bytes();
    let prefixed = b.len() > APPLICATION.len()
        && b[..APPLICATION.len()].eq_ignore_ascii_case(APPLICATION.as_bytes());
    prefixed
        && (b[APPLICATION.len()..].eq_ignore_ascii_case(b"json")
            || (b.len() >= APPLICATION.len() + 5
                && b[b.len() - 5..].eq_ignore_ascii_case(b"+json")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn ver_l5_reversed_json_only_when_asked() {
        assert!(!accept_prefers_json(None));
        assert!(!accept_prefers_json(Some("*/*")));
        assert!(!accept_prefers_json(Some("text/plain")));
        assert!(!accept_prefers_json(Some("application/*")));
        assert!(accept_prefers_json(Some("application/json")));
        assert!(accept_prefers_json(Some("application/ld+json")));
        assert!(accept_prefers_json(Some(
            "text/html, application/json;q=0.9, */*;q=0.8"
        )));
        assert!(!accept_prefers_json(Some(
            "application/json;q=0.5, application/x-www-form-urlencoded"
        )));
        assert!(accept_prefers_json(Some(
            "application/x-www-form-urlencoded;q=0.5, application/json"
        )));
        assert!(!accept_prefers_json(Some("application/json;q=0")));
        assert!(accept_prefers_json(Some("Application/JSON")));
        assert!(accept_prefers_json(Some("APPLICATION/Activity+Json")));
        assert!(!accept_prefers_json(Some("text/json")));
        assert!(accept_prefers_form(Some(
            "Application/X-WWW-Form-Urlencoded"
        )));
    }

    #[test]
    fn reda_7_form_only_when_explicitly_preferred() {
        assert!(!accept_prefers_form(None));
        assert!(!accept_prefers_form(Some("*/*")));
        assert!(!accept_prefers_form(Some("application/json")));
        assert!(!accept_prefers_form(Some(
            "application/json, application/x-www-form-urlencoded"
        )));
        assert!(accept_prefers_form(Some(
            "application/x-www-form-urlencoded"
        )));
        assert!(accept_prefers_form(Some(
            "application/json;q=0.5, application/x-www-form-urlencoded"
        )));
    }

    #[test]
    fn legacy_get_answers_each_real_resource_server_in_its_format() {
        // micropub-express: a form Content-Type on the GET, Accept */*.
        assert!(!legacy_get_answers_json(Some("*/*"), true));
        // Flask-IndieAuth (urllib): no Accept at all.
        assert!(!legacy_get_answers_json(None, false));
        // indieweb-utils (requests): exactly */*, no Content-Type.
        assert!(legacy_get_answers_json(Some("*/*"), false));
        assert!(legacy_get_answers_json(Some(" */* "), false));
        assert!(legacy_get_answers_json(Some("application/json"), true));
        assert!(!legacy_get_answers_json(Some("text/plain"), false));
        assert!(!legacy_get_answers_json(
            Some("text/html, */*;q=0.1"),
            false
        ));
    }

    proptest! {
        #[test]
        fn accept_parsing_never_panics(s in "\\PC{0,200}") {
            let _ = accept_prefers_json(Some(&s));
            let _ = bearer(Some(&s));
        }
    }
}
