//! "Last used" without a database write per verification (STYLE habit 7;
//! issue 4, item 7): verifications note the grant (and the resource server
//! that asked) in memory, and the housekeeping task flushes the notes in one
//! transaction every `FLUSH_EVERY`. The dashboard merges the unflushed
//! notes in, so the owner never sees a stale time.

use super::{Store, StoreResult, resource_servers, tokens};
use crate::clock::UnixTime;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How often notes reach the database. A crash loses at most this much
/// "last used" history, which is only informational.
pub const FLUSH_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Notes {
    grants: HashMap<i64, UnixTime>,
    resource_servers: HashMap<i64, UnixTime>,
}

#[derive(Debug, Default)]
pub struct Usage {
    notes: Mutex<Notes>,
}

impl Usage {
    /// A verification succeeded for `grant_id` at `now`. A lock and a map
    /// insert: no I/O.
    pub fn note_grant(&self, grant_id: i64, now: UnixTime) {
        if let Ok(mut n) = self.notes.lock() {
            let at = n.grants.entry(grant_id).or_insert(now);
            *at = (*at).max(now);
        }
    }

    pub fn note_resource_server(&self, id: i64, now: UnixTime) {
        if let Ok(mut n) = self.notes.lock() {
            let at = n.resource_servers.entry(id).or_insert(now);
            *at = (*at).max(now);
        }
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
        let taken = match self.notes.lock() {
            Ok(mut n) => std::mem::take(&mut *n),
            Err(_) => return Ok(()),
        };
        if taken.grants.is_empty() && taken.resource_servers.is_empty() {
            return Ok(());
        }
        let grants: Vec<(i64, UnixTime)> = taken.grants.into_iter().collect();
        let servers: Vec<(i64, UnixTime)> = taken.resource_servers.into_iter().collect();
        let (g, s) = (grants.clone(), servers.clone());
        let result = store
            .write(move |tx| {
                tokens::touch_grants(tx, &g)?;
                resource_servers::touch(tx, &s)
            })
            .await;
        if result.is_err() {
            for (id, at) in grants {
                self.note_grant(id, at);
            }
            for (id, at) in servers {
                self.note_resource_server(id, at);
            }
        }
        result
    }
}
