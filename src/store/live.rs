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
//!   process) from its own read-only mapping of that file (`wal_index`),
//!   without a system call: the header changes with every commit — this
//!   server's writer or `doorstep tokens revoke` in another process — and
//!   any change empties the map, so a revocation is seen by the very next
//!   request. If that file cannot be mapped, `PRAGMA data_version` (a read
//!   transaction) decides instead.
//!
//! Once the database file is found deleted or replaced (`Store::check_file`,
//! run by housekeeping every `WATCH_EVERY`), nothing is answered at all:
//! an atomic load per request, where a `stat` per request would cost a
//! system call.
//!
//! Only positive answers are remembered: unknown tokens always reach SQLite,
//! so guessing cannot grow the map, and the map is bounded anyway.
//!
//! What the map keeps of a token is the body its endpoint answers with
//! (`Shape`: the legacy GET's JSON or form, introspection's JSON), written
//! once when the token is found, plus what every hit needs besides: the
//! expiry and the grant. A hit is then a hash, a lookup and a reference
//! count, with no JSON or form encoding (issue 10). The map also remembers
//! the second in which this thread last answered for the token, so that
//! "last used" (`usage`) is noted once a second per token and thread, not
//! on every request: the note would repeat the same time.
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
//! and 0.80 (introspection) with the header check. The header is now read
//! from a mapping instead of with `pread` (issue 10): see `wal_index` for
//! what that saved. Writes are rare
//! (sign-ins, revocations, the batched last-used flush every 30 s), so the
//! map is nearly always warm.
//!
//! This module never writes, and runs on the calling (async worker) thread:
//! one short read, no pool hop.

use super::wal_index::{self, WalIndex};
use super::{Store, StoreError, StoreResult, file, resource_servers, tokens};
use crate::clock::UnixTime;
use crate::domain::{SecretHash, constant_time_eq};
use bytes::Bytes;
use rusqlite::Connection;
use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Bytes each thread's map of live tokens may take, table and heap
/// (`View::bytes_with_one_more`); the map is emptied when the next token
/// would go beyond. About 1,100 tokens of a typical app (about 450 bytes
/// each, half of it the table's share): a single owner has a few dozen
/// live, and `bench/verify.sh` verifies 1,000 hot ones.
/// The bound is in bytes because what a token costs depends on its client
/// ID, profile URL and scopes, which the client chose.
const MAP_BUDGET: usize = 512 * 1024;

/// malloc's share of an allocation of `len` bytes: rounded up to its
/// 16-byte granule, with its 8-byte header.
fn malloc_size(len: usize) -> usize {
    (len + 8).div_ceil(16) * 16
}

/// The heap a remembered token takes besides its slot in the table: its
/// body, and the three words `Bytes` adds once the body is shared.
fn heap_cost(t: &Live) -> usize {
    malloc_size(t.body.len()) + malloc_size(3 * std::mem::size_of::<usize>())
}

/// The table of a map holding `n` tokens, as hashbrown sizes it: a power of
/// two of buckets (4 and 8 for the smallest), at most 7/8 of them full,
/// each a key, a value and a control byte. Between two doublings it is
/// 7/16 to 7/8 full, so it is up to half the map's bytes.
fn table_bytes(n: usize) -> usize {
    use std::mem::size_of;
    let buckets = match n {
        0 => 0,
        1..4 => 4,
        4..8 => 8,
        _ => (n * 8).div_ceil(7).next_power_of_two(),
    };
    buckets * (size_of::<SecretHash>() + size_of::<Live>() + 1)
}

/// How one endpoint answers for a live access token: a name the view
/// compares, and the function writing the body. The view keeps the body
/// with the token, so that a hit answers without writing it again.
#[derive(Clone, Copy)]
pub struct Shape {
    pub name: &'static str,
    pub render: fn(&tokens::ActiveToken) -> Bytes,
}

/// A live access token, answered in the `Shape` asked for.
#[derive(Debug, Clone)]
pub struct Answer {
    pub grant_id: i64,
    pub body: Bytes,
    /// True for the first answer this thread gives for the token in this
    /// second: the caller notes the use ("last used", `usage`). Later ones
    /// in the same second would note the same time again.
    pub fresh_use: bool,
}

/// What the map keeps of a live token.
struct Live {
    grant_id: i64,
    /// `UnixTime::MAX` for a token that lives until revoked.
    expires_at: UnixTime,
    shape: &'static str,
    body: Bytes,
    /// When this thread last answered for it.
    used_at: UnixTime,
}

/// The resource server whose secret an introspection call presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceServer {
    pub id: i64,
    /// As `Answer::fresh_use`: the first call this thread answers for it
    /// in this second.
    pub fresh_use: bool,
}

/// What a presented token is, for introspection (VER-2: every kind of
/// token is searched, whatever the hint says).
#[derive(Debug, Clone)]
pub enum Found {
    Access(Answer),
    /// A refresh token (live or not): never active for resource servers
    /// (VER-9).
    Refresh,
    /// Unknown, expired or revoked.
    Nothing,
}

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

type TokenMap = HashMap<SecretHash, Live, std::hash::BuildHasherDefault<DigestHasher>>;

struct View {
    conn: Connection,
    /// `<database>-shm`, the WAL index every SQLite connection in WAL mode
    /// shares, from any process, mapped. Its header changes with every
    /// commit, so reading it (no lock, no system call) tells whether
    /// anything was committed since the last look. None if it cannot be
    /// mapped: then `PRAGMA data_version` (a read transaction) decides
    /// instead. Only read while `conn` is open, which keeps SQLite from
    /// truncating the file under the mapping (`wal_index`).
    shm: Option<WalIndex>,
    shm_header: wal_index::Header,
    data_version: i64,
    access: TokenMap,
    /// The heap `access`'s tokens take besides the table (`heap_cost`).
    access_heap: usize,
    /// The active resource-server secrets (id, hash, when this thread
    /// last answered one of its calls), loaded on first use.
    resource_servers: Option<Vec<(i64, SecretHash, UnixTime)>>,
}

impl View {
    fn open(store: &Store) -> StoreResult<View> {
        let conn = store.open_reader()?;
        // This read also makes sure the WAL index exists before it is opened.
        let data_version = data_version(&conn)?;
        let shm = WalIndex::open(&file::companion(store.path(), "-shm"));
        let mut view = View {
            conn,
            shm,
            shm_header: wal_index::Header::default(),
            data_version,
            access: TokenMap::default(),
            access_heap: 0,
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
        if let Some(shm) = &self.shm {
            let header = shm.header();
            if header != self.shm_header {
                self.shm_header = header;
                self.forget();
            }
            return Ok(());
        }
        // No mapped WAL index: ask SQLite.
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
        self.access_heap = 0;
    }

    /// The answer for the live access token with this hash, in `shape`.
    fn answer(
        &mut self,
        hash: &SecretHash,
        now: UnixTime,
        shape: Shape,
    ) -> StoreResult<Option<Answer>> {
        if let Some(live) = self.access.get_mut(hash) {
            if live.expires_at <= now {
                self.forget_token(hash);
                return Ok(None);
            }
            if live.shape == shape.name {
                let fresh_use = live.used_at != now;
                live.used_at = now;
                return Ok(Some(Answer {
                    grant_id: live.grant_id,
                    body: live.body.clone(),
                    fresh_use,
                }));
            }
            // Asked for in another shape: written anew below.
            self.forget_token(hash);
        }
        let Some(found) = tokens::find_active_access_token(&self.conn, hash, now)? else {
            return Ok(None);
        };
        let live = Live {
            grant_id: found.grant_id,
            expires_at: found.expires_at.unwrap_or(UnixTime::MAX),
            shape: shape.name,
            body: (shape.render)(&found),
            used_at: now,
        };
        let answer = Answer {
            grant_id: live.grant_id,
            body: live.body.clone(),
            fresh_use: true,
        };
        let cost = heap_cost(&live);
        if self.bytes_with_one_more(cost) > MAP_BUDGET {
            self.forget_tokens();
        }
        self.access.insert(*hash, live);
        self.access_heap += cost;
        Ok(Some(answer))
    }

    fn forget_token(&mut self, hash: &SecretHash) {
        if let Some(gone) = self.access.remove(hash) {
            self.access_heap = self.access_heap.saturating_sub(heap_cost(&gone));
        }
    }

    /// What the map would take with one more token costing `heap` bytes
    /// besides its slot. Tokens are only removed one by one when they
    /// expire or change shape, so the table's size follows the count.
    fn bytes_with_one_more(&self, heap: usize) -> usize {
        table_bytes(self.access.len() + 1) + self.access_heap + heap
    }
}

impl View {
    fn find(&mut self, hash: &SecretHash, now: UnixTime, shape: Shape) -> StoreResult<Found> {
        if let Some(a) = self.answer(hash, now, shape)? {
            return Ok(Found::Access(a));
        }
        Ok(if tokens::is_refresh_token(&self.conn, hash)? {
            Found::Refresh
        } else {
            Found::Nothing
        })
    }

    /// Compared in constant time against every active secret (SEC-19).
    fn resource_server(
        &mut self,
        hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<ResourceServer>> {
        let servers = match &mut self.resource_servers {
            Some(servers) => servers,
            None => {
                let loaded = resource_servers::active_hashes(&self.conn)?;
                self.resource_servers
                    .insert(loaded.into_iter().map(|(id, h)| (id, h, 0)).collect())
            }
        };
        let mut found = None;
        for (id, h, used_at) in servers.iter_mut() {
            // No early exit: every secret is compared.
            if constant_time_eq(h.as_bytes(), hash.as_bytes()) {
                found = Some(ResourceServer {
                    id: *id,
                    fresh_use: *used_at != now,
                });
                *used_at = now;
            }
        }
        Ok(found)
    }
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

    /// The answer, in `shape`, for the live access token with this hash
    /// (VER-7, VER-L2: revoked, expired and unknown tokens are all `None`).
    pub fn live_answer(
        &self,
        hash: &SecretHash,
        now: UnixTime,
        shape: Shape,
    ) -> StoreResult<Option<Answer>> {
        self.with_view(|v| v.answer(hash, now, shape))
    }

    /// The live access token with this hash, read from SQLite: for the
    /// endpoints that need more than an answer (`/userinfo`, the doctor's
    /// address check), which are not the hot path.
    pub fn live_access_token(
        &self,
        hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<tokens::ActiveToken>> {
        self.with_view(|v| tokens::find_active_access_token(&v.conn, hash, now))
    }

    /// One introspection's reads, after one look for changes (`View::sync`):
    /// the resource server whose secret hashes to `secret` (if one is
    /// given), and the inspected token (VER-2: access or refresh, whatever
    /// the hint says), answered in `shape` if it is a live access token.
    pub fn introspection(
        &self,
        secret: Option<&SecretHash>,
        token: &SecretHash,
        now: UnixTime,
        shape: Shape,
    ) -> StoreResult<(Option<ResourceServer>, Found)> {
        self.with_view(|v| {
            let server = match secret {
                Some(s) => v.resource_server(s, now)?,
                None => None,
            };
            Ok((server, v.find(token, now, shape)?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClientId, ScopeSet, Secret};

    /// A shape whose body is the profile URL and the scopes.
    const TEST: Shape = Shape {
        name: "test",
        render: |t| Bytes::from(format!("{} {}", t.me, t.scope)),
    };
    const OTHER: Shape = Shape {
        name: "other",
        render: |t| Bytes::from(t.client_id.as_str().to_owned()),
    };

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

    fn body(store: &Store, hash: &SecretHash, now: UnixTime, shape: Shape) -> Option<Bytes> {
        store.live_answer(hash, now, shape).unwrap().map(|a| a.body)
    }

    #[test]
    fn a_commit_by_another_connection_empties_the_map_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path).unwrap();
        let hash = token(&store, 1000);
        assert!(body(&store, &hash, 1000, TEST).is_some());
        assert_eq!(held().0, 1, "remembered");
        assert!(body(&store, &hash, 1000, TEST).is_some(), "from the map");
        let watching = VIEWS.with(|v| v.borrow().values().all(|view| view.shm.is_some()));
        assert!(watching, "the WAL index header is what is watched");
        // Another process's view of the file: a connection of its own.
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute("UPDATE access_tokens SET revoked_at = 1001", [])
            .unwrap();
        assert!(body(&store, &hash, 1001, TEST).is_none());
        assert!(store.live_access_token(&hash, 1001).unwrap().is_none());
    }

    #[test]
    fn each_shape_gets_its_own_body_and_a_use_is_fresh_once_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let hash = token(&store, 1000);
        let first = store.live_answer(&hash, 1000, TEST).unwrap().unwrap();
        assert_eq!(first.body, "https://me.example/ create");
        assert!(first.fresh_use);
        let again = store.live_answer(&hash, 1000, TEST).unwrap().unwrap();
        assert_eq!(again.body, first.body);
        assert!(!again.fresh_use, "the same second was noted already");
        assert!(
            store
                .live_answer(&hash, 1001, TEST)
                .unwrap()
                .unwrap()
                .fresh_use
        );
        let other = store.live_answer(&hash, 1001, OTHER).unwrap().unwrap();
        assert_eq!(other.body, "https://app.example/");
        assert_eq!(held().0, 1, "one entry per token, in its last shape");
        let structured = store.live_access_token(&hash, 1001).unwrap().unwrap();
        assert_eq!(structured.grant_id, first.grant_id);
    }

    /// Tokens and bytes the maps of this thread hold.
    fn held() -> (usize, usize) {
        VIEWS.with(|v| {
            v.borrow()
                .values()
                .map(|w| (w.access.len(), table_bytes(w.access.len()) + w.access_heap))
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
        let heap = heap_cost(&Live {
            grant_id: 1,
            expires_at: 1100,
            shape: TEST.name,
            body: (TEST.render)(&sample),
            used_at: 1000,
        });
        let fits = |n: usize| table_bytes(n) + n * heap <= MAP_BUDGET;
        let most_that_fit = (1..).take_while(|&n| fits(n)).last().unwrap();
        assert!(
            (500..5000).contains(&most_that_fit),
            "{most_that_fit} small tokens fit"
        );
        // Enough tokens to fill the budget and then some.
        let n = most_that_fit + 10;
        let hashes: Vec<SecretHash> = (0..n).map(|_| token(&store, 1000)).collect();
        let mut most = 0;
        for (i, hash) in hashes.iter().enumerate() {
            assert!(body(&store, hash, 1000, TEST).is_some());
            let (held, bytes) = held();
            assert!(bytes <= MAP_BUDGET, "{bytes} bytes held after {i} tokens");
            most = most.max(held);
        }
        assert_eq!(most, most_that_fit, "the map fills up to its budget");
        assert_eq!(
            held().0,
            n - most,
            "it started over when the next token would not fit"
        );
    }

    #[test]
    fn the_table_is_counted_as_hashbrown_sizes_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let slot = std::mem::size_of::<SecretHash>() + std::mem::size_of::<Live>() + 1;
        // Written first: every commit empties the map.
        let hashes: Vec<SecretHash> = (0..300).map(|_| token(&store, 1000)).collect();
        for (i, hash) in (1..).zip(&hashes) {
            assert!(body(&store, hash, 1000, TEST).is_some());
            let capacity = VIEWS.with(|v| {
                v.borrow()
                    .values()
                    .map(|w| w.access.capacity())
                    .sum::<usize>()
            });
            // Full at 7/8 of its buckets from eight buckets up.
            if i >= 8 {
                assert_eq!(table_bytes(i), capacity * 8 / 7 * slot, "{i} tokens");
            }
        }
    }

    #[test]
    fn expiry_is_checked_on_every_hit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let hash = token(&store, 1000);
        assert!(body(&store, &hash, 1099, TEST).is_some());
        assert!(body(&store, &hash, 1099, TEST).is_some(), "from the map");
        assert!(body(&store, &hash, 1100, TEST).is_none());
        assert_eq!(held().0, 0, "and the expired token is forgotten");
    }

    #[test]
    fn without_a_readable_wal_index_data_version_still_sees_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path).unwrap();
        let hash = token(&store, 1000);
        assert!(body(&store, &hash, 1000, TEST).is_some());
        VIEWS.with(|v| {
            for view in v.borrow_mut().values_mut() {
                view.shm = None;
            }
        });
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute("UPDATE access_tokens SET revoked_at = 1001", [])
            .unwrap();
        assert!(body(&store, &hash, 1001, TEST).is_none());
    }
}
