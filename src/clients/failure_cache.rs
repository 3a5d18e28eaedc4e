//! Failed client discoveries, remembered for about a minute (CID-10,
//! SEC-7), so that reloading a consent page, or a client retrying its
//! authorization request, does not make doorstep fetch and parse a broken
//! or hostile page again each time.
//!
//! It keeps only the outcome (the same `Unavailable` or `Refused` info the
//! first attempt showed, with its short reason), never anything of the
//! response: CID-13 forbids caching error responses and invalid documents
//! as documents, and nothing here is ever used as client information. It
//! holds at most [`CAPACITY`] entries, so a stream of distinct failing
//! client_ids cannot grow it; time is a parameter (STYLE habit 5).

use std::collections::HashMap;
use std::sync::Mutex;

use super::{ClientInfo, InfoSource};
use crate::clock::UnixTime;

/// How long a failure is remembered, in seconds.
pub const LIFETIME: i64 = 60;
/// Entries kept at most; the oldest go first.
pub const CAPACITY: usize = 256;

#[derive(Default)]
pub struct FailureCache {
    inner: Mutex<HashMap<String, (ClientInfo, UnixTime)>>,
}

impl FailureCache {
    /// The failure remembered for `client_id`, if it is recent.
    pub fn get(&self, client_id: &str, now: UnixTime) -> Option<ClientInfo> {
        let inner = self.inner.lock().ok()?;
        inner
            .get(client_id)
            .filter(|(_, at)| fresh(*at, now))
            .map(|(info, _)| info.clone())
    }

    /// Remembers `info` for `client_id` if it is a failed discovery;
    /// anything else (a document, or a client that was never fetched) is
    /// ignored.
    pub fn remember(&self, client_id: &str, info: &ClientInfo, now: UnixTime) {
        if !matches!(
            info.source,
            InfoSource::Unavailable { .. } | InfoSource::Refused { .. }
        ) {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.retain(|_, (_, at)| fresh(*at, now));
        if !inner.contains_key(client_id) {
            while inner.len() >= CAPACITY {
                let Some(oldest) = inner
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                inner.remove(&oldest);
            }
        }
        inner.insert(client_id.to_owned(), (info.clone(), now));
    }
}

/// Also false for a time in the future (a clock moved back): retry then.
fn fresh(at: UnixTime, now: UnixTime) -> bool {
    (0..LIFETIME).contains(&(now - at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, source: InfoSource) -> ClientInfo {
        ClientInfo {
            client_id: id.to_owned(),
            source,
            name: None,
            client_uri: None,
            logo_uri: None,
            redirect_uris: Vec::new(),
        }
    }

    fn failed(id: &str) -> ClientInfo {
        info(
            id,
            InfoSource::Unavailable {
                reason: "the app's page is too complex to read".into(),
            },
        )
    }

    #[test]
    fn a_failure_is_remembered_for_a_minute_then_forgotten() {
        let c = FailureCache::default();
        c.remember("https://a.example/", &failed("https://a.example/"), 1000);
        assert_eq!(
            c.get("https://a.example/", 1000),
            Some(failed("https://a.example/"))
        );
        assert!(c.get("https://a.example/", 1000 + LIFETIME - 1).is_some());
        assert!(c.get("https://a.example/", 1000 + LIFETIME).is_none());
        assert!(c.get("https://b.example/", 1000).is_none());
        // A clock moved back does not stretch the window.
        assert!(c.get("https://a.example/", 999).is_none());
    }

    #[test]
    fn only_failures_are_remembered() {
        let c = FailureCache::default();
        c.remember(
            "https://m.example/",
            &info("https://m.example/", InfoSource::Metadata),
            0,
        );
        c.remember(
            "https://h.example/",
            &info("https://h.example/", InfoSource::Microformats),
            0,
        );
        let local = InfoSource::NotFetched {
            reason: "local".into(),
        };
        c.remember("http://localhost/", &info("http://localhost/", local), 0);
        assert!(c.get("https://m.example/", 1).is_none());
        assert!(c.get("https://h.example/", 1).is_none());
        assert!(c.get("http://localhost/", 1).is_none());
        let refused = InfoSource::Refused {
            reason: "confidential".into(),
        };
        c.remember(
            "https://r.example/",
            &info("https://r.example/", refused),
            0,
        );
        assert!(c.get("https://r.example/", 1).is_some());
    }

    #[test]
    fn the_oldest_entries_go_beyond_the_capacity() {
        let c = FailureCache::default();
        for i in 0..CAPACITY + 10 {
            let id = format!("https://{i}.example/");
            c.remember(&id, &failed(&id), i as i64 / 10);
        }
        let kept = c.inner.lock().unwrap().len();
        assert_eq!(kept, CAPACITY);
        assert!(c.get("https://0.example/", 30).is_none());
        assert!(
            c.get(&format!("https://{}.example/", CAPACITY + 9), 30)
                .is_some()
        );
    }
}
