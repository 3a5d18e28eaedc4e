//! The server's periodic chores (issue 4, item 8), spawned beside the HTTP
//! server by `Application::run_until_stopped`: flush the batched "last
//! used" notes every `usage::FLUSH_EVERY`, and once an hour purge what can
//! no longer matter — expired codes and their replay tombstones (kept a day
//! past the code's expiry, CODE-3), sessions, pending requests, cached
//! client information, tokens expired or revoked more than a day ago,
//! known devices unseen for a year, and events older than `EVENTS_KEPT`.
//! Every write goes through `Store::write` (off the async workers); a
//! failure is logged and retried next time.
//!
//! Every `WATCH_EVERY` it also looks at the database file (issue 11,
//! item 5). If the file was deleted or replaced, the store already refuses
//! everything; `run` saves what the server still holds beside the path,
//! says so loudly, and returns, which stops the server (`app`): the process
//! exits with an error rather than carry on with data that is gone at the
//! next start. In the same look it checkpoints the WAL after this
//! server's writes (`Store::watch`), and after writes succeed again
//! following a full disk, it checkpoints and truncates it.

use crate::clock::{Clock, UnixTime};
use crate::errors::error_chain;
use crate::store::usage::{FLUSH_EVERY, Usage};
use crate::store::{
    Store, StoreError, StoreResult, clients, codes, events, owner, pending, sessions, tokens,
};
use std::sync::Arc;
use std::time::Duration;

/// How often the purge runs.
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How often the database file is looked at (one `stat`), the WAL
/// checkpointed after writes, and a checkpoint after a full disk retried.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);
/// How long the owner's activity log reaches back.
pub const EVENTS_KEPT: i64 = 90 * 86_400;

/// Runs until the database file is lost, and returns why (the caller
/// aborts it at shutdown).
pub async fn run(store: Store, clock: Clock, usage: Arc<Usage>) -> StoreError {
    let mut watch = tokio::time::interval(WATCH_EVERY);
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    let mut purge_tick = tokio::time::interval(PURGE_EVERY);
    watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    purge_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = watch.tick() => {
                if let Err(lost @ StoreError::Lost(_)) = store.watch().await {
                    report_loss(&store, &lost, clock.now()).await;
                    return lost;
                }
                if let Err(e) = store.checkpoint_after_disk_full().await {
                    tracing::warn!(error = %error_chain(&e), "could not checkpoint the database after the full disk; will retry");
                }
            }
            _ = flush.tick() => flush_usage(&usage, &store, RETRY).await,
            // Early, when the notes fill up before the tick.
            _ = usage.filled() => flush_usage(&usage, &store, RETRY).await,
            _ = purge_tick.tick() => {
                let now = clock.now();
                match store.write_batch(move |tx| purge(tx, now)).await {
                    Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired records"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %error_chain(&e), "purge failed; will retry"),
                }
            }
        }
    }
}

const RETRY: &str = "could not record the last uses of tokens; will retry";

/// Writes the "last used" notes, logging a failure as `failed`.
pub(crate) async fn flush_usage(usage: &Usage, store: &Store, failed: &str) {
    if let Err(e) = usage.flush(store).await {
        tracing::warn!(error = %error_chain(&e), "{failed}");
    }
}

/// Saves what the server still holds (its connections keep the old file
/// open) and tells the operator, as loudly as a log can.
async fn report_loss(store: &Store, lost: &StoreError, now: UnixTime) {
    match store.rescue(now).await {
        Ok(copy) => tracing::error!(
            copy = %copy.display(),
            "{lost}. doorstep refuses everything that needs the database and stops, rather than \
             go on with data that would be gone at the next start. What it still held is saved in \
             the copy: to keep it, move the copy to the database path; to start afresh, remove it"
        ),
        Err(e) => tracing::error!(
            copy_error = %error_chain(&e),
            "{lost}. doorstep refuses everything that needs the database and stops, rather than \
             go on with data that would be gone at the next start. It could not save a copy of \
             what it still held"
        ),
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
