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
//!   request. (So does a checkpoint's progress, read with it: see held
//!   reads below.) If that file cannot be mapped, `PRAGMA data_version` (a read
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
//! expiry and the grant. A hit is then a hash, a lookup and a copy of a
//! few hundred bytes, with no JSON or form encoding (issue 10; with the
//! mapped header, legacy GET over hot tokens went from 13.3 to 9.9 µs and
//! introspection from 15.6 to 13.0 µs, `/health` 9.0–9.2 µs, in one
//! interleaved run). The map also remembers
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
//! what that saved. Writes are rare (sign-ins, revocations, the batched
//! last-used flush every 30 s), so the map is nearly always warm.
//!
//! On the HTTP workers (`hold_reads_here`), a view also keeps its SQLite
//! read transaction open from one lookup to the next, while the WAL-index
//! header stays as it was (issue 10: "a miss must not cost a lock that a
//! hit doesn't"). Beginning and ending a read transaction takes and drops a
//! WAL read lock (`fcntl` on the `-shm` file, with the process-wide mutex
//! SQLite guards it with): 14% of a verification that misses the map, with
//! 100,000 tokens drawn at random. Kept, the transaction's snapshot is the
//! newest one for exactly as long as the header is unchanged — the rule the
//! map already follows — so `sync` ends it together with emptying the map,
//! and the next lookup begins a new one. A held transaction stops SQLite
//! from checkpointing past its snapshot, and one begun before the last
//! checkpoint from starting the WAL over. So `sync` also ends it when a
//! checkpoint made progress (`nBackfill`, read with the header; a
//! transaction begun once everything is checkpointed is in SQLite's way no
//! more), a timer on the worker ends it `HOLD_READS_FOR` after it began,
//! busy or idle, and housekeeping checkpoints after this server's writes
//! (`Store::checkpoint_written`): otherwise, under steady load, SQLite's
//! own checkpoint, right after each commit, finds every worker still on the
//! commit before, and the WAL grows without end.
//!
//! This module never writes, and runs on the calling (async worker) thread:
//! one short read, no pool hop.

use super::wal_index::{self, WalIndex};
use super::{Store, StoreError, StoreResult, file, resource_servers, tokens};
use crate::clock::UnixTime;
use crate::domain::{SecretHash, constant_time_eq};
use bytes::Bytes;
use rusqlite::Connection;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::rc::Rc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long a worker's view keeps one read transaction at most. Under
/// load a worker answers hundreds of lookups in this time, so beginning
/// anew costs nothing measurable; a checkpoint or a WAL restart waits for
/// no longer than this.
pub const HOLD_READS_FOR: Duration = Duration::from_millis(10);

/// Whether this thread's views keep their read transaction between lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holds {
    /// One transaction per statement (SQLite's autocommit): every thread
    /// but the HTTP workers.
    Never,
    /// Kept, and ended by a timer on this thread's runtime (`HoldTimer`)
    /// after `HOLD_READS_FOR`.
    Timed,
    /// Kept until the WAL-index header changes or a test ends it.
    #[cfg(test)]
    Untimed,
}

thread_local! {
    static HOLDS: Cell<Holds> = const { Cell::new(Holds::Never) };
}

/// Makes this thread's views keep their read transaction between lookups.
/// Only for a thread whose tasks run on a tokio `LocalSet` or local runtime
/// (an HTTP worker: the app factory calls it there), where the timer that
/// ends each transaction is spawned.
pub fn hold_reads_here() {
    HOLDS.set(Holds::Timed);
}

/// The page cache of each worker's read connection, in KiB (the pooled
/// readers keep 256: `open`). A lookup that misses the map is one descent
/// of the access tokens' B-tree, keyed by 32-byte hashes: about a hundred
/// inner pages for 100,000 tokens, and the leaf, read from the kernel's
/// page cache with a `pread` (4 KiB copied). With 256 KiB (64 pages) the
/// inner pages did not fit: 1.3–1.6 `pread`s per miss under strace with
/// 100,000 tokens drawn at random; with 1 MiB 1.25, and 0.8–1.0 µs less
/// kernel time per request in the last paired runs (6–9% of such a
/// verification's CPU; issue 10). It costs resident memory only as pages
/// are read: 1.7 MB more at the end of those runs (`bench/verify.sh`: 11.9
/// MB, the target 16), nothing for a single owner's few dozen tokens.
const VIEW_CACHE_KIB: i64 = 1024;

/// Tokens each thread's map holds at most: hashbrown's table of 2,048
/// buckets, 7/8 of them used, allocated once (on the first token) and
/// reused, never grown: about 160 KB. A single owner has a few dozen
/// tokens live, and `bench/verify.sh` verifies 1,000 hot ones.
const MAP_TOKENS: usize = 1_792;

/// Bytes of answers each thread's map holds at most, end to end in one
/// buffer allocated with the table. Typical answers take 130–250 bytes, so
/// the token count binds first; a client with very long URLs cannot make
/// the map hold more than this. Emptying the map empties both, and gives
/// nothing back to malloc: one table and one buffer per thread, reused,
/// rather than a table and a body per token freed in a heap that thousands
/// of small allocations have fragmented (issue 10: that left each worker's
/// arena at 2.8 MB after the 100,000-token benchmark).
const MAP_BODIES: usize = 352 * 1024;

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
    /// Where its body is in `View::bodies`: start and length.
    body: (u32, u32),
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
    /// The store this view reads (`Inner::id`), for the timer that ends a
    /// held transaction.
    store_id: u64,
    /// Only ever in a transaction `read` began and kept open (everything
    /// else it runs is a single read), so SQLite's autocommit flag says
    /// whether a transaction is held.
    conn: Connection,
    /// Ends a held transaction on an HTTP worker; started with the first.
    timer: Option<HoldTimer>,
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
    /// The bodies of `access`'s tokens, end to end (`MAP_BODIES`).
    bodies: Vec<u8>,
    /// The active resource-server secrets (id, hash, when this thread
    /// last answered one of its calls), loaded on first use.
    resource_servers: Option<Vec<(i64, SecretHash, UnixTime)>>,
}

impl View {
    fn open(store: &Store) -> StoreResult<View> {
        let conn = store.open_reader()?;
        conn.pragma_update(None, "cache_size", -VIEW_CACHE_KIB)?;
        // This read also makes sure the WAL index exists before it is opened.
        let data_version = data_version(&conn)?;
        let shm = WalIndex::open(&file::companion(store.path(), "-shm"));
        let mut view = View {
            store_id: store.inner.id,
            conn,
            timer: None,
            shm,
            shm_header: wal_index::Header::default(),
            data_version,
            access: TokenMap::default(),
            bodies: Vec::new(),
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
                self.release()?;
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

    /// The connection to read with. On a thread that holds reads, and with
    /// the WAL index mapped (without it, `PRAGMA data_version` watches for
    /// commits, and it cannot see past a transaction's own snapshot), in a
    /// read transaction kept open until `release`: `BEGIN` here, the
    /// snapshot at the first read after it, so it is never older than the
    /// header `sync` kept.
    fn read(&mut self) -> StoreResult<&Connection> {
        if self.conn.is_autocommit() && self.shm.is_some() {
            let holds = HOLDS.get();
            if holds != Holds::Never {
                self.conn.prepare_cached("BEGIN")?.execute([])?;
                if holds == Holds::Timed {
                    let store_id = self.store_id;
                    let timer = self.timer.get_or_insert_with(|| HoldTimer::spawn(store_id));
                    timer.begun.notify_one();
                }
            }
        }
        Ok(&self.conn)
    }

    /// Ends the read transaction `read` kept open, if any.
    fn release(&mut self) -> StoreResult<()> {
        if !self.conn.is_autocommit() {
            self.conn.prepare_cached("COMMIT")?.execute([])?;
        }
        Ok(())
    }

    fn forget(&mut self) {
        self.forget_tokens();
        self.resource_servers = None;
    }

    /// Empties the map, keeping its table and buffer for the next tokens.
    fn forget_tokens(&mut self) {
        self.access.clear();
        self.bodies.clear();
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
                let (at, len) = (live.body.0 as usize, live.body.1 as usize);
                return Ok(Some(Answer {
                    grant_id: live.grant_id,
                    body: Bytes::copy_from_slice(&self.bodies[at..at + len]),
                    fresh_use,
                }));
            }
            // Asked for in another shape: written anew below.
            self.forget_token(hash);
        }
        let Some(found) = tokens::find_active_access_token(self.read()?, hash, now)? else {
            return Ok(None);
        };
        let body = (shape.render)(&found);
        self.remember(
            hash,
            Live {
                grant_id: found.grant_id,
                expires_at: found.expires_at.unwrap_or(UnixTime::MAX),
                shape: shape.name,
                body: (0, 0),
                used_at: now,
            },
            &body,
        );
        Ok(Some(Answer {
            grant_id: found.grant_id,
            body,
            fresh_use: true,
        }))
    }

    /// Keeps `live` with its `body`, emptying the map first when either
    /// would go beyond its bound.
    fn remember(&mut self, hash: &SecretHash, mut live: Live, body: &[u8]) {
        if body.len() > MAP_BODIES {
            return;
        }
        if self.access.capacity() == 0 {
            self.access.reserve(MAP_TOKENS);
            self.bodies.reserve_exact(MAP_BODIES);
        }
        if self.access.len() >= MAP_TOKENS || self.bodies.len() + body.len() > MAP_BODIES {
            self.forget_tokens();
        }
        // Both fit in u32: MAP_BODIES does.
        live.body = (self.bodies.len() as u32, body.len() as u32);
        self.bodies.extend_from_slice(body);
        self.access.insert(*hash, live);
    }

    /// Forgets one token; its body stays in the buffer, unused, until the
    /// map is emptied.
    fn forget_token(&mut self, hash: &SecretHash) {
        self.access.remove(hash);
    }
}

impl View {
    fn find(&mut self, hash: &SecretHash, now: UnixTime, shape: Shape) -> StoreResult<Found> {
        if let Some(a) = self.answer(hash, now, shape)? {
            return Ok(Found::Access(a));
        }
        Ok(if tokens::is_refresh_token(self.read()?, hash)? {
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
                let loaded = resource_servers::active_hashes(self.read()?)?;
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

/// What ends a view's held read transaction on an HTTP worker
/// (`Holds::Timed`): one task per view, on the worker's runtime, told each
/// time a hold begins and ending it `HOLD_READS_FOR` later (or a newer one
/// sooner: told while waiting, it goes round again). One long-lived task,
/// rather than one spawned per hold, allocates nothing per hold: under
/// load the short-lived tasks, a hundred a second per worker, were
/// scattered through each worker's malloc arena and kept it from shrinking
/// (RSS after the 100,000-token benchmark up to 4 MB higher).
struct HoldTimer {
    begun: Rc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl HoldTimer {
    fn spawn(store_id: u64) -> HoldTimer {
        let begun = Rc::new(Notify::new());
        let told = begun.clone();
        let task = tokio::task::spawn_local(async move {
            loop {
                told.notified().await;
                tokio::time::sleep(HOLD_READS_FOR).await;
                release_held(store_id);
            }
        });
        HoldTimer { begun, task }
    }
}

impl Drop for HoldTimer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Ends the read transaction the view of `store_id` on this thread holds,
/// if any; a view that cannot end it is dropped, which does.
fn release_held(store_id: u64) {
    VIEWS.with(|cell| {
        let Ok(mut views) = cell.try_borrow_mut() else {
            return;
        };
        if let Some(view) = views.get_mut(&store_id)
            && view.release().is_err()
        {
            views.remove(&store_id);
        }
    });
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
        self.with_view(|v| tokens::find_active_access_token(v.read()?, hash, now))
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

    /// Makes this test's thread hold reads without a timer, until dropped.
    struct HoldUntimed;

    impl HoldUntimed {
        fn start() -> HoldUntimed {
            HOLDS.set(Holds::Untimed);
            HoldUntimed
        }
    }

    impl Drop for HoldUntimed {
        fn drop(&mut self) {
            HOLDS.set(Holds::Never);
        }
    }

    fn holding(store: &Store) -> bool {
        VIEWS.with(|v| {
            v.borrow()
                .get(&store.inner.id)
                .is_some_and(|v| !v.conn.is_autocommit())
        })
    }

    /// Issue 10, held reads: the kept transaction ends with every commit,
    /// so a lookup never reads an older snapshot than the newest.
    #[test]
    fn a_held_read_never_answers_from_an_older_snapshot() {
        let _holds = HoldUntimed::start();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path).unwrap();
        let first = token(&store, 1000);
        assert!(body(&store, &first, 1000, TEST).is_some());
        assert!(holding(&store), "the lookup's read transaction is kept");
        let unknown = Secret::generate().hash();
        assert!(body(&store, &unknown, 1000, TEST).is_none());
        assert!(holding(&store), "and kept while nothing is committed");
        // Committed after the kept snapshot was taken.
        let second = token(&store, 1000);
        assert!(
            body(&store, &second, 1000, TEST).is_some(),
            "a token committed since is found at once"
        );
        assert!(holding(&store));
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute("UPDATE access_tokens SET revoked_at = 1001", [])
            .unwrap();
        assert!(body(&store, &second, 1001, TEST).is_none());
        assert!(store.live_access_token(&first, 1001).unwrap().is_none());
        release_held(store.inner.id);
        assert!(!holding(&store), "ended on demand (the timer's way)");
    }

    /// Issue 10, held reads: SQLite's own checkpoint, right after a
    /// commit (here after every one, as when the WAL is past 1,000 pages),
    /// finds the lookups still on the commit before, so with reads held
    /// the WAL never starts over and grows with every write. After a
    /// checkpoint of our own, later (`Store::checkpoint_written`), the next
    /// lookup sees its progress, ends its transaction and begins one that
    /// is not in the way: each commit then starts the WAL over.
    #[test]
    fn held_reads_let_the_wal_start_over_after_a_later_checkpoint() {
        let _holds = HoldUntimed::start();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let wal = file::companion(&path, "-wal");
        let store = Store::open(&path).unwrap();
        store
            .inner
            .writer
            .lock()
            .unwrap()
            .pragma_update(None, "wal_autocheckpoint", 1)
            .unwrap();
        let hash = token(&store, 1000);
        let writes = |checkpoint: bool| {
            let before = std::fs::metadata(&wal).unwrap().len();
            for _ in 0..30 {
                assert!(body(&store, &hash, 1000, TEST).is_some());
                token(&store, 1000);
                assert!(body(&store, &hash, 1000, TEST).is_some());
                assert!(holding(&store));
                if checkpoint {
                    assert!(store.checkpoint_written().unwrap());
                    assert!(
                        !store
                            .inner
                            .written
                            .load(std::sync::atomic::Ordering::Acquire),
                        "every frame moved: the lookup holds the newest snapshot"
                    );
                }
            }
            std::fs::metadata(&wal).unwrap().len() - before
        };
        let grown = writes(false);
        assert!(grown > 30 * 4096, "the WAL grew by {grown} bytes");
        writes(true);
        let grown = writes(true);
        assert_eq!(grown, 0, "each commit started the WAL over");
    }

    /// Tokens, bytes of bodies, and the table's capacity, of the maps of
    /// this thread.
    fn held() -> (usize, usize, usize) {
        VIEWS.with(|v| {
            v.borrow()
                .values()
                .map(|w| (w.access.len(), w.bodies.len(), w.access.capacity()))
                .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
        })
    }

    #[test]
    fn the_map_holds_at_most_its_tokens_then_starts_over_in_the_same_table() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        // Written first: every commit empties the map.
        let n = MAP_TOKENS + 10;
        let hashes: Vec<SecretHash> = (0..n).map(|_| token(&store, 1000)).collect();
        let mut most = 0;
        for hash in &hashes {
            assert!(body(&store, hash, 1000, TEST).is_some());
            let (held, _, capacity) = held();
            assert_eq!(capacity, MAP_TOKENS, "allocated once, never grown");
            most = most.max(held);
        }
        assert_eq!(most, MAP_TOKENS, "the map fills up to its bound");
        assert_eq!(
            held().0,
            n - most,
            "it started over when the next token would not fit"
        );
        // Each body is where its token says.
        let last = body(&store, &hashes[n - 1], 1000, TEST).unwrap();
        assert_eq!(last, "https://me.example/ create");
    }

    #[test]
    fn the_bodies_are_bounded_in_bytes_too() {
        const BIG: Shape = Shape {
            name: "big",
            render: |_| Bytes::from(vec![b'x'; 100 * 1024]),
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let hashes: Vec<SecretHash> = (0..5).map(|_| token(&store, 1000)).collect();
        for (i, hash) in hashes.iter().enumerate() {
            let answer = body(&store, hash, 1000, BIG).unwrap();
            assert_eq!(answer.len(), 100 * 1024);
            let (held, bytes, _) = held();
            assert!(bytes <= MAP_BODIES, "{bytes} bytes of bodies");
            // Three fit in 352 KiB; the fourth starts over.
            assert_eq!(held, [1, 2, 3, 1, 2][i]);
        }
        let again = store.live_answer(&hashes[4], 1000, BIG).unwrap().unwrap();
        assert!(!again.fresh_use, "from the map");
        assert_eq!(again.body.len(), 100 * 1024);
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
