//! Client information discovery as the authorization endpoint uses it:
//! the SQLite cache of valid documents in front (CID-13), then a fetch
//! (CID-11, AREQ-13). A failed or invalid discovery is never remembered
//! (CID-13): an app whose developer has just fixed its page, or whose
//! server failed once, is read again on the next visit. What bounds the
//! fetches is that only the signed-in owner's browser causes them
//! (AREQ-17), each within the fetch limits (CID-10).
//!
//! It never fails: a failed fetch is an `Unavailable` info, and a cache
//! that cannot be read or written only costs a fetch. Only what the
//! document's own headers allow is cached, for as long as they allow
//! (`cache_policy`).

use super::{ClientFetcher, ClientInfo};
use crate::clock::UnixTime;
use crate::domain::ClientId;
use crate::errors::error_chain;
use crate::store::{Store, clients as client_store};

/// What `client_id` says about itself, from the cheapest place that knows.
pub async fn discover(
    store: &Store,
    fetcher: &ClientFetcher,
    client_id: &ClientId,
    now: UnixTime,
) -> ClientInfo {
    let id = client_id.as_str().to_owned();
    if let Ok(Some(cached)) = store
        .read(move |c| client_store::cached_info(c, &id, now))
        .await
        && let Ok(info) = serde_json::from_str::<ClientInfo>(&cached)
    {
        return info;
    }
    let (info, ttl) = fetcher.discover_with_ttl(client_id.url()).await;
    if let Some(ttl) = ttl
        && let Ok(text) = serde_json::to_string(&info)
    {
        let id = client_id.as_str().to_owned();
        let expires = now + ttl.as_secs() as i64;
        if let Err(e) = store
            .write(move |tx| client_store::cache_info(tx, &id, &text, now, expires))
            .await
        {
            // Not fatal: the page is shown from what was just fetched.
            tracing::error!(error = %error_chain(&e), "client information could not be cached");
        }
    }
    info
}
