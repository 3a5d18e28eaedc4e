//! "Last used" without a database write per verification (STYLE habit 7;
//! issue 4, item 7): verifications note the grant (and the resource server
//! that asked) in memory, and the housekeeping task flushes the notes in one
//! transaction every `FLUSH_EVERY`. The dashboard merges the unflushed
//! notes in, so the owner never sees a stale time.

use super::{Store, StoreResult, resource_servers, tokens};
use crate::clock::UnixTime;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often notes reach the database. A crash loses at most this much
/// "last used" history, which is only informational.
pub const FLUSH_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Notes {
    grants: HashMap<i64, UnixTime>,
    resource_servers: HashMap<i64, UnixTime>,
}

/// Notes held before a flush is asked for early. A single owner's apps use
/// a handful of grants; only a flood of distinct tokens (a benchmark over
/// 100,000 of them) reaches this, and without the bound the notes would
/// grow with every grant used between two flushes. 28,000 notes fill
/// hashbrown's table of 32,768 slots (7/8) of 17 bytes each: about 550 KB,
/// which a flush drains but keeps: growing it again from nothing after
/// every flush, table after table in the workers' heaps, left them 3 MB
/// larger at the end of the 100,000-token benchmark (12.2–13.7 MB instead
/// of 15.0–16.4). A smaller bound flushes more often, and every flush is a
/// commit, which empties every worker's map of live tokens and SQLite's
/// page caches.
pub const MAX_NOTES: usize = 28_000;

#[derive(Debug, Default)]
pub struct Usage {
    notes: Mutex<Notes>,
    /// Woken when the notes reach `MAX_NOTES`; housekeeping then flushes.
    full: tokio::sync::Notify,
}

impl Usage {
    /// A verification succeeded for `grant_id` at `now`. A lock and a map
    /// insert: no I/O.
    pub fn note_grant(&self, grant_id: i64, now: UnixTime) {
        if let Ok(mut n) = self.notes.lock() {
            keep_latest(&mut n.grants, grant_id, now);
            if n.grants.len() == MAX_NOTES {
                self.full.notify_one();
            }
        }
    }

    pub fn note_resource_server(&self, id: i64, now: UnixTime) {
        if let Ok(mut n) = self.notes.lock() {
            keep_latest(&mut n.resource_servers, id, now);
        }
    }

    /// Returns once the notes have reached `MAX_NOTES` (or had, since the
    /// last call): time to flush before the next tick.
    pub async fn filled(&self) {
        self.full.notified().await;
    }

    /// The unflushed last use of a grant, if any.
    pub fn pending_grant(&self, grant_id: i64) -> Option<UnixTime> {
        self.notes.lock().ok()?.grants.get(&grant_id).copied()
    }

    pub fn pending_resource_server(&self, id: i64) -> Option<UnixTime> {
        self.notes.lock().ok()?.resource_servers.get(&id).copied()
    }

    /// Writes every note in one transaction, off the async workers. Notes
    /// that fail to be written are put back for the next flush.
    pub async fn flush(&self, store: &Store) -> StoreResult<()> {
        // Drained, not taken: the tables keep their size for the next notes
        // instead of growing again from nothing, table after table, in the
        // workers' heaps (issue 10).
        let (mut grants, servers) = match self.notes.lock() {
            Ok(mut n) => (drained(&mut n.grants), drained(&mut n.resource_servers)),
            Err(_) => return Ok(()),
        };
        if grants.is_empty() && servers.is_empty() {
            return Ok(());
        }
        // In the order of the grants table: each page is then changed in one
        // run, rather than again and again in hash order.
        grants.sort_unstable();
        let grants: Arc<[(i64, UnixTime)]> = grants.into();
        let servers: Arc<[(i64, UnixTime)]> = servers.into();
        // Shared with the write, to be put back if it fails.
        let (g, s) = (grants.clone(), servers.clone());
        let result = store
            .write_batch(move |tx| {
                tokens::touch_grants(tx, &g)?;
                resource_servers::touch(tx, &s)
            })
            .await;
        if result.is_err() {
            // Put back without waking housekeeping: it retries on its tick,
            // not at once against a database that just failed.
            if let Ok(mut n) = self.notes.lock() {
                for &(id, at) in grants.iter() {
                    keep_latest(&mut n.grants, id, at);
                }
                for &(id, at) in servers.iter() {
                    keep_latest(&mut n.resource_servers, id, at);
                }
            }
        }
        result
    }
}

/// Every note of `notes`, which keeps its table for the next ones.
fn drained(notes: &mut HashMap<i64, UnixTime>) -> Vec<(i64, UnixTime)> {
    notes.drain().collect()
}

/// Notes `at` for `id`, keeping the later of it and what was noted before.
fn keep_latest(notes: &mut HashMap<i64, UnixTime>, id: i64, at: UnixTime) {
    let kept = notes.entry(id).or_insert(at);
    *kept = (*kept).max(at);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn notes_reaching_the_bound_ask_for_a_flush_before_the_tick() {
        let usage = Usage::default();
        for id in 0..MAX_NOTES as i64 - 1 {
            usage.note_grant(id, 1000);
        }
        // Not yet: nothing is waiting to be woken.
        let early = tokio::time::timeout(std::time::Duration::ZERO, usage.filled()).await;
        assert!(early.is_err(), "a flush was asked for below the bound");
        // A grant noted again does not count twice.
        usage.note_grant(0, 1001);
        assert!(
            tokio::time::timeout(std::time::Duration::ZERO, usage.filled())
                .await
                .is_err()
        );
        usage.note_grant(MAX_NOTES as i64, 1000);
        tokio::time::timeout(std::time::Duration::from_secs(60), usage.filled())
            .await
            .expect("the bound asks for a flush");
    }
}
