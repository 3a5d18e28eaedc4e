//! The server's periodic chores (issue 4, item 8), spawned beside the HTTP
//! server by `Application::run_until_stopped`: flush the batched "last
//! used" notes every `usage::FLUSH_EVERY`, and once an hour purge what can
//! no longer matter — expired codes and their replay tombstones (kept a day
//! past the code's expiry, CODE-3), sessions, pending requests, cached
//! client information, tokens expired or revoked more than a day ago, and
//! events older than `EVENTS_KEPT`. Every write goes through `Store::write`
//! (off the async workers); a failure is logged and retried next time.

use crate::clock::{Clock, UnixTime};
use crate::store::usage::{FLUSH_EVERY, Usage};
use crate::store::{Store, StoreResult, clients, codes, events, owner, pending, sessions, tokens};
use std::sync::Arc;
use std::time::Duration;

/// How often the purge runs.
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How long the owner's activity log reaches back.
pub const EVENTS_KEPT: i64 = 90 * 86_400;

/// Runs forever (the caller aborts it at shutdown).
pub async fn run(store: Store, clock: Clock, usage: Arc<Usage>) {
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    let mut purge_tick = tokio::time::interval(PURGE_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    purge_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = flush.tick() => {
                if let Err(e) = usage.flush(&store).await {
                    tracing::warn!(error = %e, "could not record the last uses of tokens; will retry");
                }
            }
            _ = purge_tick.tick() => {
                let now = clock.now();
                match store.write(move |tx| purge(tx, now)).await {
                    Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired records"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "purge failed; will retry"),
                }
            }
        }
    }
}

/// One purge, in one transaction. Returns the number of rows removed.
pub fn purge(tx: &rusqlite::Transaction<'_>, now: UnixTime) -> StoreResult<usize> {
    Ok(codes::purge_expired(tx, now)?
        + sessions::purge_expired(tx, now)?
        + pending::purge_expired(tx, now)?
        + clients::purge_expired_cache(tx, now)?
        + tokens::purge_dead(tx, now)?
        + events::purge_older_than(tx, now - EVENTS_KEPT)?
        + owner::purge_old_devices(tx, now)?)
}
