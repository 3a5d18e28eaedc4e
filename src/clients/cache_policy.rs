//! How long a fetched client document may be cached (CID-13; RFC 9111 §4.2,
//! §5.2.2).
//!
//! This module owns turning a response's `Cache-Control`, `Expires`, `Date`
//! and `Age` headers into a lifetime clamped to doorstep's own bounds. It is
//! pure (time is a parameter) and only ever asked about successful, valid
//! documents: errors and invalid documents are never cached (CID-13).

use std::time::{Duration, SystemTime};

use reqwest::header::{AGE, CACHE_CONTROL, DATE, EXPIRES, HeaderMap};

/// Shortest lifetime: saves refetching between the authorization request
/// and the consent form post, and bounds how often a client is hit.
pub const MIN_TTL: Duration = Duration::from_secs(5 * 60);
/// Longest lifetime: a client that changes its redirect URIs is seen within
/// a day whatever its headers say.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The lifetime for a successful response with these headers, or None when
/// the response forbids reuse.
///
/// * `no-store` → not cached.
/// * `no-cache` → not cached: it asks for revalidation on every use, and
///   doorstep does not revalidate, so the honest reading is "fetch again".
/// * `max-age=N` (less `Age`) → N, clamped; `private` is fine for us.
/// * `Expires` (relative to `Date` when present, else `now`) → clamped.
/// * nothing → [`MIN_TTL`].
pub fn ttl(headers: &HeaderMap, now: SystemTime, min: Duration, max: Duration) -> Option<Duration> {
    let mut max_age: Option<u64> = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in split_directives(value) {
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (directive.trim(), None),
            };
            let name = name.to_ascii_lowercase();
            match name.as_str() {
                "no-store" | "no-cache" => return None,
                // RFC 9111 §5.2.2.1: the first valid value counts; digits only.
                "max-age" if max_age.is_none() => {
                    max_age = arg
                        .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
                        .map(|a| a.parse::<u64>().unwrap_or(u64::MAX));
                }
                _ => {}
            }
        }
    }

    let life = if let Some(secs) = max_age {
        let age = header_str(headers, AGE)
            .and_then(|a| a.trim().parse::<u64>().ok())
            .unwrap_or(0);
        Duration::from_secs(secs.saturating_sub(age))
    } else if let Some(expires) = header_str(headers, EXPIRES) {
        // RFC 9111 §5.3: an invalid Expires (e.g. "0") means already expired.
        let date = header_str(headers, DATE)
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .unwrap_or(now);
        httpdate::parse_http_date(expires)
            .ok()
            .and_then(|e| e.duration_since(date).ok())
            .unwrap_or(Duration::ZERO)
    } else {
        min
    };
    Some(life.clamp(min, max.max(min)))
}

fn header_str(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Split a Cache-Control value on commas outside quoted strings.
fn split_directives(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out.into_iter().filter(|d| !d.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> SystemTime {
        // Sun, 06 Nov 1994 08:49:37 GMT
        SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777)
    }

    fn ttl_of(pairs: &[(&'static str, &'static str)]) -> Option<Duration> {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        ttl(&h, now(), MIN_TTL, MAX_TTL)
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn max_age_is_used_and_clamped() {
        assert_eq!(ttl_of(&[("cache-control", "max-age=3600")]), Some(HOUR));
        assert_eq!(
            ttl_of(&[("cache-control", "public, MAX-AGE=3600")]),
            Some(HOUR)
        );
        assert_eq!(
            ttl_of(&[("cache-control", "max-age=\"3600\", private")]),
            Some(HOUR)
        );
        assert_eq!(ttl_of(&[("cache-control", "max-age=10")]), Some(MIN_TTL));
        assert_eq!(ttl_of(&[("cache-control", "max-age=0")]), Some(MIN_TTL));
        assert_eq!(
            ttl_of(&[("cache-control", "max-age=99999999999999999999999")]),
            Some(MAX_TTL)
        );
        assert_eq!(
            ttl_of(&[("cache-control", "max-age=31536000")]),
            Some(MAX_TTL)
        );
    }

    #[test]
    fn age_is_subtracted() {
        assert_eq!(
            ttl_of(&[("cache-control", "max-age=7200"), ("age", "3600")]),
            Some(HOUR)
        );
    }

    #[test]
    fn no_store_and_no_cache_forbid_caching() {
        assert_eq!(ttl_of(&[("cache-control", "no-store")]), None);
        assert_eq!(ttl_of(&[("cache-control", "max-age=3600, no-store")]), None);
        assert_eq!(
            ttl_of(&[
                ("cache-control", "max-age=3600"),
                ("cache-control", "No-Cache")
            ]),
            None
        );
        assert_eq!(
            ttl_of(&[("cache-control", "no-cache=\"set-cookie, x\"")]),
            None
        );
    }

    #[test]
    fn quoted_commas_do_not_split_directives() {
        assert_eq!(
            ttl_of(&[("cache-control", "private=\"a, no-store\", max-age=3600")]),
            Some(HOUR)
        );
    }

    #[test]
    fn expires_is_relative_to_date() {
        assert_eq!(
            ttl_of(&[
                ("date", "Sun, 06 Nov 1994 08:00:00 GMT"),
                ("expires", "Sun, 06 Nov 1994 10:00:00 GMT")
            ]),
            Some(2 * HOUR)
        );
        assert_eq!(
            ttl_of(&[("expires", "Sun, 06 Nov 1994 10:49:37 GMT")]),
            Some(2 * HOUR)
        );
        assert_eq!(ttl_of(&[("expires", "0")]), Some(MIN_TTL));
        assert_eq!(
            ttl_of(&[("expires", "Sun, 06 Nov 1994 07:00:00 GMT")]),
            Some(MIN_TTL)
        );
        // max-age wins over Expires (RFC 9111 §5.3).
        assert_eq!(
            ttl_of(&[("cache-control", "max-age=3600"), ("expires", "0")]),
            Some(HOUR)
        );
    }

    #[test]
    fn no_headers_means_minimum() {
        assert_eq!(ttl_of(&[]), Some(MIN_TTL));
        assert_eq!(ttl_of(&[("cache-control", "max-age=abc")]), Some(MIN_TTL));
    }
}
