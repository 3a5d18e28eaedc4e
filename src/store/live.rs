//! The verification hot path (STYLE habit 7; issue 4, item 9): every
//! Micropub request becomes a legacy GET or an introspection call, so
//! looking a token up must cost little more than answering HTTP at all.
//!
//! Each worker thread keeps its own read connection (statements cached with
//! `prepare_cached`) and, on top of it, a small map of the live access
//! tokens it has already found. The map can never serve a token that is
//! revoked or expired:
//! - expiry is checked against `now` on every hit;
//! - before every lookup the thread reads the header of the WAL index
//!   (`<database>-shm`, shared by every SQLite connection in every
//!   process) with one `pread`: its `iChange` counter moves with every
//!   commit — this server's writer or `doorstep tokens revoke` in another
//!   process — and any change empties the map, so a revocation is seen by
//!   the very next request. If that file cannot be read, `PRAGMA
//!   data_version` (a read transaction) decides instead.
//!
//! Once the database file is found deleted or replaced (`Store::check_file`,
//! run by housekeeping every `WATCH_EVERY`), nothing is answered at all:
//! an atomic load per request, where a `stat` per request would cost a
//! system call.
//!
//! Only positive answers are remembered: unknown tokens always reach SQLite,
//! so guessing cannot grow the map, and the map is bounded anyway.
//!
//! Why (measured with `bench/verify.sh` on the shared 2-core machine,
//! 100,000 tokens; server CPU time per request, which other load on the
//! machine skews less than requests/s): `/health` 8.1–8.5 µs. Legacy GET:
//! 16.6 µs with the per-thread cached statement alone; 12.4–14.1 µs with the
//! map checked by `PRAGMA data_version` (a read transaction: about 1.5
//! `fcntl` and 1.4 `futex` calls per request under strace); 11.1 µs with
//! the map checked by the WAL-index header (one `pread`); 9.0 µs with no
//! check at all, which would be wrong. Introspection: 18.8, 14.0–14.5,
//! 12.0 µs respectively. Throughput relative to `/health` in the same run:
//! 0.65 with the `data_version` check on a quiet machine, 0.85 (legacy GET)
//! and 0.80 (introspection) with the header check. Writes are rare
//! (sign-ins, revocations, the batched last-used flush every 30 s), so the
//! map is nearly always warm.
//!
//! This module never writes, and runs on the calling (async worker) thread:
//! one short read, no pool hop.

use super::{Store, StoreError, StoreResult, file, resource_servers, tokens};
use crate::clock::UnixTime;
use crate::domain::{SecretHash, constant_time_eq};
use rusqlite::Connection;
use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::sync::Arc;

/// Bytes of live tokens each thread's map may hold (as `entry_cost` counts
/// them); the map is emptied when the next one would go beyond. About 1,300
/// tokens of a typical app: a single owner has a few dozen live, and
/// `bench/verify.sh` verifies 1,000 hot ones.
/// The bound is in bytes because what a token costs depends on its client
/// ID, profile URL and scopes, which the client chose.
const MAP_BUDGET: usize = 512 * 1024;

/// What remembering `t` costs: its slot in the table (key, pointer and
/// hashbrown's control byte, at the table's 7/8 load), the `Arc`'s two
/// counts around the token, and the heap its strings take, each rounded up
/// to malloc's 16-byte granule with its 8-byte header. For an app with a
/// 30-byte client ID, the profile URL and three scopes, about 400 bytes.
fn entry_cost(t: &tokens::ActiveToken) -> usize {
    use std::mem::size_of;
    fn heap(len: usize) -> usize {
        (len + 8).div_ceil(16) * 16
    }
    let slot = (size_of::<SecretHash>() + size_of::<Arc<tokens::ActiveToken>>() + 1) * 8 / 7;
    let token = heap(2 * size_of::<usize>() + size_of::<tokens::ActiveToken>());
    let scopes = heap(t.scope.iter().count() * size_of::<String>())
        + t.scope
            .iter()
            .map(|s| heap(s.as_str().len()))
            .sum::<usize>();
    slot + token + heap(t.client_id.as_str().len()) + heap(t.me.len()) + scopes
}

/// What a presented token is, for introspection (VER-2: every kind of
/// token is searched, whatever the hint says).
#[derive(Debug, Clone)]
pub enum Found {
    Access(Arc<tokens::ActiveToken>),
    /// A refresh token (live or not): never active for resource servers
    /// (VER-9).
    Refresh,
    /// Unknown, expired or revoked.
    Nothing,
}

/// Bytes of the WAL-index header read per request: both copies of the
/// 48-byte `WalIndexHdr` (sqlite.org/walformat.html, section 2.1.1).
const SHM_HEADER: usize = 96;

/// Hashes a `SecretHash` by its first eight bytes. The keys are SHA-256
/// digests of secrets, already uniformly spread, and only tokens found live
/// in the database enter the map, so no one can choose keys to collide.
/// SipHash, std's default, would hash a hash again on every verification:
/// the lookup (`View::access_token`) was the largest of doorstep's own
/// entries in a `perf` profile of the hot path.
#[derive(Default, Clone, Copy)]
struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        match bytes.first_chunk::<8>() {
            Some(first) => self.0 ^= u64::from_le_bytes(*first),
            None => {
                for b in bytes {
                    self.0 = self.0.rotate_left(8) ^ u64::from(*b);
                }
            }
        }
    }
}

type TokenMap =
    HashMap<SecretHash, Arc<tokens::ActiveToken>, std::hash::BuildHasherDefault<DigestHasher>>;

struct View {
    conn: Connection,
    /// `<database>-shm`, the WAL index every SQLite connection in WAL mode
    /// shares, from any process. Its header carries `iChange`, which every
    /// committing transaction increments, so reading those bytes (one
    /// `pread`, no lock) tells whether anything was committed since the
    /// last look. None if it cannot be read: then `PRAGMA data_version`
    /// (a read transaction) decides instead.
    shm: Option<File>,
    shm_header: [u8; SHM_HEADER],
    data_version: i64,
    access: TokenMap,
    /// What `access` holds, by `entry_cost`.
    access_bytes: usize,
    /// The active resource-server secrets (id, hash), loaded on first use.
    resource_servers: Option<Vec<(i64, SecretHash)>>,
}

impl View {
    fn open(store: &Store) -> StoreResult<View> {
        let conn = store.open_reader()?;
        // This read also makes sure the WAL index exists before it is opened.
        let data_version = data_version(&conn)?;
        let shm = File::open(file::companion(store.path(), "-shm")).ok();
        let mut view = View {
            conn,
            shm,
            shm_header: [0; SHM_HEADER],
            data_version,
            access: TokenMap::default(),
            access_bytes: 0,
            resource_servers: None,
        };
        view.sync()?;
        Ok(view)
    }

    /// Forgets everything if anything was committed — by this server's
    /// writer or by another process — since the last look. Must run before
    /// every answer. A torn read of a header being rewritten differs from
    /// the stored copy too, so it can only cause a needless refill.
    fn sync(&mut self) -> StoreResult<()> {
        let mut header = [0u8; SHM_HEADER];
        let read = self
            .shm
            .as_ref()
            .is_some_and(|f| read_header(f, &mut header));
        if read {
            if header != self.shm_header {
                self.shm_header = header;
                self.forget();
            }
            return Ok(());
        }
        // No readable WAL index: ask SQLite, and make sure the next
        // successful header read refills too.
        self.shm_header = [0; SHM_HEADER];
        let now_version = data_version(&self.conn)?;
        if now_version != self.data_version {
            self.data_version = now_version;
            self.forget();
        }
        Ok(())
    }

    fn forget(&mut self) {
        self.forget_tokens();
        self.resource_servers = None;
    }

    /// Empties the map and gives its table back: after a burst of many
    /// tokens, an emptied table of their size would stay allocated.
    fn forget_tokens(&mut self) {
        self.access = TokenMap::default();
        self.access_bytes = 0;
    }

    fn access_token(
        &mut self,
        hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<Arc<tokens::ActiveToken>>> {
        if let Some(t) = self.access.get(hash) {
            if t.expires_at.is_none_or(|e| e > now) {
                return Ok(Some(t.clone()));
            }
            if let Some(gone) = self.access.remove(hash) {
                self.access_bytes = self.access_bytes.saturating_sub(entry_cost(&gone));
            }
            return Ok(None);
        }
        let Some(found) = tokens::find_active_access_token(&self.conn, hash, now)? else {
            return Ok(None);
        };
        let found = Arc::new(found);
        let cost = entry_cost(&found);
        if self.access_bytes + cost > MAP_BUDGET {
            self.forget_tokens();
        }
        self.access.insert(*hash, found.clone());
        self.access_bytes += cost;
        Ok(Some(found))
    }
}

impl View {
    fn find(&mut self, hash: &SecretHash, now: UnixTime) -> StoreResult<Found> {
        if let Some(t) = self.access_token(hash, now)? {
            return Ok(Found::Access(t));
        }
        Ok(if tokens::is_refresh_token(&self.conn, hash)? {
            Found::Refresh
        } else {
            Found::Nothing
        })
    }

    /// Compared in constant time against every active secret (SEC-19).
    fn resource_server(&mut self, hash: &SecretHash) -> StoreResult<Option<i64>> {
        if self.resource_servers.is_none() {
            self.resource_servers = Some(resource_servers::active_hashes(&self.conn)?);
        }
        let mut found = None;
        for (id, h) in self.resource_servers.iter().flatten() {
            // No early exit: every secret is compared.
            if constant_time_eq(h.as_bytes(), hash.as_bytes()) {
                found = Some(*id);
            }
        }
        Ok(found)
    }
}

#[cfg(unix)]
fn read_header(f: &File, buf: &mut [u8; SHM_HEADER]) -> bool {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, 0).is_ok()
}

/// Elsewhere the WAL index is not a plain shared file: always ask SQLite.
#[cfg(not(unix))]
fn read_header(_: &File, _: &mut [u8; SHM_HEADER]) -> bool {
    false
}

fn data_version(conn: &Connection) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}

thread_local! {
    /// One view per store per thread (STYLE habit 7: a per-worker
    /// connection). Keyed by the store's id, because tests run many
    /// servers in one process.
    static VIEWS: RefCell<HashMap<u64, View>> = RefCell::new(HashMap::new());
}

impl Store {
    /// Runs `f` on this thread's synced view, opening it on first use. A
    /// failing view is dropped, so the next request starts afresh. Nothing
    /// is answered once the database file is lost (`Store::check_file`):
    /// that costs one atomic load here, no system call.
    fn with_view<T>(&self, f: impl FnOnce(&mut View) -> StoreResult<T>) -> StoreResult<T> {
        self.refuse_if_lost()?;
        VIEWS.with(|cell| {
            let mut views = cell.try_borrow_mut().map_err(|_| StoreError::Poisoned)?;
            let view = match views.entry(self.inner.id) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(View::open(self)?),
            };
            let result = view.sync().and_then(|()| f(view));
            if result.is_err() {
                views.remove(&self.inner.id);
            }
            result
        })
    }

    /// The live access token with this hash (VER-7, VER-L2: revoked,
    /// expired and unknown tokens are all `None`).
    pub fn live_access_token(
        &self,
        hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<Arc<tokens::ActiveToken>>> {
        self.with_view(|v| v.access_token(hash, now))
    }

    /// One introspection's reads, after one look for changes (`View::sync`):
    /// the resource server whose secret hashes to `secret` (if one is
    /// given), and the inspected token (VER-2: access or refresh, whatever
    /// the hint says).
    pub fn introspection(
        &self,
        secret: Option<&SecretHash>,
        token: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<(Option<i64>, Found)> {
        self.with_view(|v| {
            let server = match secret {
                Some(s) => v.resource_server(s)?,
                None => None,
            };
            Ok((server, v.find(token, now)?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClientId, ScopeSet, Secret};

    fn token(store: &Store, now: UnixTime) -> SecretHash {
        let secret = Secret::generate();
        let hash = secret.hash();
        store
            .write_now(|tx| {
                let grant = tokens::Grant {
                    client_id: ClientId::parse("https://app.example/").unwrap(),
                    client_name: None,
                    client_logo: None,
                    redirect_uri: "https://app.example/cb".into(),
                    scope: ScopeSet::parse("create").unwrap(),
                    me: "https://me.example/".into(),
                    access_lifetime: None,
                };
                tokens::create_grant_with_token(tx, &grant, &hash, now, Some(now + 100)).map(|_| ())
            })
            .unwrap();
        hash
    }

    #[test]
    fn a_commit_by_another_connection_empties_the_map_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path).unwrap();
        let hash = token(&store, 1000);
        assert!(store.live_access_token(&hash, 1000).unwrap().is_some());
        assert!(
            store.live_access_token(&hash, 1000).unwrap().is_some(),
            "from the map"
        );
        let watching = VIEWS.with(|v| v.borrow().values().all(|view| view.shm.is_some()));
        assert!(watching, "the WAL index header is what is watched");
        // Another process's view of the file: a connection of its own.
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute("UPDATE access_tokens SET revoked_at = 1001", [])
            .unwrap();
        assert!(store.live_access_token(&hash, 1001).unwrap().is_none());
    }

    /// Tokens and bytes the maps of this thread hold.
    fn held() -> (usize, usize) {
        VIEWS.with(|v| {
            v.borrow()
                .values()
                .map(|w| (w.access.len(), w.access_bytes))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        })
    }

    #[test]
    fn the_map_holds_at_most_its_budget_in_bytes_and_then_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let sample = tokens::ActiveToken {
            grant_id: 1,
            client_id: ClientId::parse("https://app.example/").unwrap(),
            me: "https://me.example/".into(),
            scope: ScopeSet::parse("create").unwrap(),
            issued_at: 1000,
            expires_at: Some(1100),
        };
        let per_token = entry_cost(&sample);
        assert!(
            (150..1000).contains(&per_token),
            "a small token costs {per_token} bytes"
        );
        // Enough tokens to fill the budget and then some.
        let n = MAP_BUDGET / per_token + 10;
        let hashes: Vec<SecretHash> = (0..n).map(|_| token(&store, 1000)).collect();
        let mut most = 0;
        for (i, hash) in hashes.iter().enumerate() {
            assert!(store.live_access_token(hash, 1000).unwrap().is_some());
            let (held, bytes) = held();
            assert!(bytes <= MAP_BUDGET, "{bytes} bytes held after {i} tokens");
            assert_eq!(
                bytes,
                held * per_token,
                "every token of this test costs the same"
            );
            most = most.max(held);
        }
        assert_eq!(
            most,
            MAP_BUDGET / per_token,
            "the map fills up to its budget"
        );
        assert_eq!(
            held().0,
            n - most,
            "it started over when the next token would not fit"
        );
    }

    #[test]
    fn expiry_is_checked_on_every_hit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let hash = token(&store, 1000);
        assert!(store.live_access_token(&hash, 1099).unwrap().is_some());
        assert!(store.live_access_token(&hash, 1100).unwrap().is_none());
    }

    #[test]
    fn without_a_readable_wal_index_data_version_still_sees_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path).unwrap();
        let hash = token(&store, 1000);
        assert!(store.live_access_token(&hash, 1000).unwrap().is_some());
        VIEWS.with(|v| {
            for view in v.borrow_mut().values_mut() {
                view.shm = None;
            }
        });
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute("UPDATE access_tokens SET revoked_at = 1001", [])
            .unwrap();
        assert!(store.live_access_token(&hash, 1001).unwrap().is_none());
    }
}
