//! Logos fetched on the server (CID-19) and kept briefly in memory, so the
//! consent page shows them from doorstep's own origin and the owner's
//! browser never contacts the client's host. The route that serves them
//! only reads this cache: it can never be used to make doorstep fetch.

use crate::clock::UnixTime;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

/// Total bytes kept; the oldest logos go first beyond this.
const BUDGET: usize = 2 * 1024 * 1024;
/// How long a fetched logo is kept.
const LIFETIME: i64 = 3600;

/// A cached logo. Cloning it shares the bytes (a reference count), so
/// serving one copies nothing.
#[derive(Clone, Debug)]
pub struct Logo {
    pub content_type: &'static str,
    pub body: Bytes,
    fetched_at: UnixTime,
}

#[derive(Default)]
pub struct LogoCache {
    inner: Mutex<HashMap<String, Logo>>,
}

impl LogoCache {
    pub fn get(&self, url: &str, now: UnixTime) -> Option<Logo> {
        let inner = self.inner.lock().ok()?;
        inner
            .get(url)
            .filter(|l| now - l.fetched_at < LIFETIME)
            .cloned()
    }

    pub fn put(&self, url: &str, content_type: &'static str, body: Bytes, now: UnixTime) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.retain(|_, l| now - l.fetched_at < LIFETIME);
        inner.insert(
            url.to_owned(),
            Logo {
                content_type,
                body,
                fetched_at: now,
            },
        );
        while inner.values().map(|l| l.body.len()).sum::<usize>() > BUDGET {
            let Some(oldest) = inner
                .iter()
                .min_by_key(|(_, l)| l.fetched_at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            inner.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logos_expire_and_the_budget_evicts_the_oldest() {
        let c = LogoCache::default();
        c.put("a", "image/png", Bytes::from(vec![0; 1024]), 0);
        assert!(c.get("a", 10).is_some());
        assert!(c.get("a", LIFETIME).is_none());
        c.put("b", "image/png", Bytes::from(vec![0; BUDGET]), 1);
        c.put("c", "image/png", Bytes::from(vec![0; 1024]), 2);
        assert!(c.get("b", 3).is_none());
        assert!(c.get("c", 3).is_some());
    }
}
