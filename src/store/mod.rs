//! All SQL lives below this module, as small synchronous functions over a
//! `&Connection` or `&Transaction`. `Store` is the one door to them: it
//! decides where SQL runs — on tokio's blocking threads, except the one
//! short, read-only token lookup of the verification hot path (`live`),
//! which runs on the calling worker over that worker's own connection —
//! and wraps every write in an immediate transaction, so that taking a
//! code or rotating a token is atomic. Stored values come back as domain
//! types (`columns`); one that no longer parses is `StoreError::Corrupt`.
//!
//! A function's closure returns `Ok(domain result)` to commit (even when the
//! domain result is a protocol error: a replayed code's revocation must be
//! committed while the request fails) and `Err(StoreError)` only for faults.

pub mod clients;
pub mod codes;
mod columns;
pub mod events;
pub mod factors;
mod file;
pub mod identity;
pub mod live;
mod migrate;
pub mod owner;
pub mod pending;
pub mod resource_servers;
pub mod sessions;
pub mod tokens;
pub mod usage;

use crate::clock::UnixTime;
use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database task failed")]
    Task,
    #[error("database lock poisoned")]
    Poisoned,
    #[error(
        "the database {path} has schema version {found}, newer than this doorstep knows ({known}); run a newer doorstep"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database (or a backup) cannot be used, for a reason in plain
    /// words: found at start-up, before anything is served.
    #[error("{path}: {reason}")]
    Unusable { path: PathBuf, reason: String },
    #[error(
        "there is no database at {path}; only `serve` and `password` create one. Point to the \
         server's database with `--database PATH` or `--config FILE`"
    )]
    Missing { path: PathBuf },
    #[error(
        "the disk holding the database {path} is full; nothing can be saved until space is freed"
    )]
    DiskFull { path: PathBuf },
    #[error(transparent)]
    Lost(#[from] Lost),
}

/// How the database file went away under a running server. From then on
/// the store refuses every read and write (see `Store::check_file`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Lost {
    #[error("the database {0} was deleted while doorstep was running")]
    Deleted(PathBuf),
    #[error("the database {0} was replaced by another file while doorstep was running")]
    Replaced(PathBuf),
    #[error("the database {path} can no longer be reached while doorstep is running: {reason}")]
    Unreachable { path: PathBuf, reason: String },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// SQLite's own consistency check: the problems it lists (none when the
/// file is sound).
pub fn quick_check(conn: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare("PRAGMA quick_check")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let found: Vec<String> = rows.collect::<Result<_, _>>()?;
    Ok(found.into_iter().filter(|r| r != "ok").collect())
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// Tells this store's per-thread hot-path views (`live`) apart from
    /// another store's on the same thread (tests run many servers).
    id: u64,
    path: PathBuf,
    /// The file the path led to when the store was opened.
    file: file::FileId,
    /// Set once, when the path is found to lead elsewhere: every read and
    /// write is refused from then on. Checking it is one atomic load.
    lost: OnceLock<Lost>,
    /// A write failed for lack of disk space, and none has succeeded since.
    disk_full: AtomicBool,
    /// Writes succeed again after a full disk: housekeeping checkpoints the
    /// WAL and truncates it, giving its space back.
    checkpoint_due: AtomicBool,
    writer: Mutex<Connection>,
    /// Idle read connections, reused; a new one is opened when all are busy.
    readers: Mutex<Vec<Connection>>,
}

/// Readers kept idle at most; more are opened under load and then dropped.
const MAX_IDLE_READERS: usize = 4;

/// The WAL is cut back to this size whenever it starts over. The automatic
/// checkpoint (every 1,000 pages, about 4 MB) keeps it near 4 MB in normal
/// use; a burst of writes or a long read can grow it further, and without a
/// limit SQLite keeps that size for good.
const WAL_SIZE_LIMIT: i64 = 8 * 1024 * 1024;

/// Never with `SQLITE_OPEN_CREATE`: the file is created by `file`, with its
/// mode, and a connection opened after it was deleted must fail, not make a
/// fresh empty database in its place.
/// SQLite's page cache per connection, in KiB. Its default is 2,000 KiB for
/// every connection, and doorstep opens several: one reader per HTTP worker
/// (the verification hot path, `live`), a few pooled readers, the writer.
/// A token lookup is one descent of the access tokens' B-tree: what a cache
/// keeps useful is the inner pages, a few dozen even for 100,000 tokens;
/// the leaves are found in the kernel's page cache with one `pread`, and
/// the hot tokens are in `live`'s map anyway. So readers keep 256 KiB
/// each. The writer, which updates rows across the file in the batched
/// last-used flush and the purge, keeps 1 MiB. Measured with
/// `bench/verify.sh` (README, "Benchmark").
const READER_CACHE_KIB: i64 = 256;
const WRITER_CACHE_KIB: i64 = 1024;

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = open_unconfigured(path)?;
    configure(&conn)?;
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
    Ok(conn)
}

fn open_unconfigured(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// Switching to WAL writes to the file: only for a doorstep database.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    Ok(())
}

/// A process-unique number per opened store (not a handle to anything).
fn next_store_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn is_disk_full(e: &StoreError) -> bool {
    match e {
        StoreError::DiskFull { .. } => true,
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => f.code == ErrorCode::DiskFull,
        _ => false,
    }
}

/// A start-up failure from SQLite, as the path and a reason in plain words.
fn explain(path: &Path, e: StoreError) -> StoreError {
    let reason = match &e {
        _ if is_disk_full(&e) => "the disk is full".to_owned(),
        StoreError::Sqlite(inner @ rusqlite::Error::SqliteFailure(f, _)) => {
            let cannot_write = matches!(
                f.code,
                ErrorCode::ReadOnly
                    | ErrorCode::CannotOpen
                    | ErrorCode::PermissionDenied
                    | ErrorCode::SystemIoFailure
            );
            match cannot_write
                .then(|| file::diagnose_unwritable(path))
                .flatten()
            {
                Some(reason) => reason,
                None => format!("cannot use it: {inner}"),
            }
        }
        _ => return e,
    };
    StoreError::Unusable {
        path: path.to_owned(),
        reason,
    }
}

impl Store {
    /// Opens the database for `serve` and `password`, creating it (mode
    /// 0600) if there is none, applies migrations, and proves that it can
    /// be written with one real commit. A database that cannot be written
    /// stops start-up here, naming the path and the reason, rather than
    /// after "listening". A file created here is taken away again if that
    /// fails. Runs at start-up, before the listener binds.
    pub fn open(path: &Path) -> StoreResult<Store> {
        let created = file::create_or_open(path).map_err(|reason| StoreError::Unusable {
            path: path.to_owned(),
            reason,
        })?;
        file::make_private(path);
        let opened = Self::open_file(path, true).and_then(|store| {
            store.probe_write()?;
            Ok(store)
        });
        match opened {
            Ok(store) => {
                if created {
                    tracing::info!(database = %path.display(), "created a new database");
                }
                Ok(store)
            }
            Err(e) => {
                let e = explain(path, e);
                if created {
                    for p in std::iter::once(path.to_owned()).chain(file::sqlite_companions(path)) {
                        let _ = std::fs::remove_file(p);
                    }
                }
                Err(e)
            }
        }
    }

    /// Opens an existing database, for the commands beside `serve` and
    /// `password`, which never create one: run from the wrong directory,
    /// `doorstep backup` would otherwise copy a new empty database and
    /// succeed. Nor do they change its mode; `serve` does that.
    pub fn open_existing(path: &Path) -> StoreResult<Store> {
        match std::fs::metadata(path) {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                // Named in full: the usual mistake is a relative path run
                // from the wrong directory.
                return Err(StoreError::Missing {
                    path: std::path::absolute(path).unwrap_or_else(|_| path.to_owned()),
                });
            }
            Err(e) => {
                return Err(StoreError::Unusable {
                    path: path.to_owned(),
                    reason: file::reason(&e),
                });
            }
        }
        Self::open_file(path, false).map_err(|e| explain(path, e))
    }

    fn open_file(path: &Path, fresh_ok: bool) -> StoreResult<Store> {
        let mut writer = open_unconfigured(path)?;
        let file = file::identify(path).map_err(|e| StoreError::Unusable {
            path: path.to_owned(),
            reason: file::reason(&e),
        })?;
        if !fresh_ok && migrate::version(&writer)? == 0 {
            return Err(StoreError::Unusable {
                path: path.to_owned(),
                reason: "it holds no doorstep data (an empty database); is this the path \
                         `serve` uses? Point to it with `--database PATH` or `--config FILE`"
                    .into(),
            });
        }
        configure(&writer)?;
        writer.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        migrate::apply(&mut writer, path)?;
        Ok(Store {
            inner: Arc::new(Inner {
                id: next_store_id(),
                path: path.to_owned(),
                file,
                lost: OnceLock::new(),
                disk_full: AtomicBool::new(false),
                checkpoint_due: AtomicBool::new(false),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// One real commit, as every later write will need: it rewrites the
    /// schema version with its own value, which puts a page in the WAL. A
    /// read-only file or directory, or a full disk, fails here.
    fn probe_write(&self) -> StoreResult<()> {
        let mut conn = self.inner.writer.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = migrate::version(&tx)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        Ok(())
    }

    /// The database path (the hot-path views find its WAL index by it).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Fails closed once the database file is lost.
    fn refuse_if_lost(&self) -> StoreResult<()> {
        match self.inner.lost.get() {
            Some(lost) => Err(lost.clone().into()),
            None => Ok(()),
        }
    }

    /// Whether the database path still leads to the file this store opened
    /// (one `stat`). If it was deleted or replaced, the store is marked
    /// lost: this server's connections still reach the old file, so it
    /// would go on answering from, and writing to, data that is gone at the
    /// next start, while a new connection would open the other file. Every
    /// read and write is refused from then on. Called by housekeeping every
    /// `WATCH_EVERY` and whenever a connection is opened, never per request.
    pub fn check_file(&self) -> StoreResult<()> {
        self.refuse_if_lost()?;
        let path = &self.inner.path;
        let lost = match file::identify(path) {
            Ok(id) if id == self.inner.file => return Ok(()),
            Ok(_) => Lost::Replaced(path.clone()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                Lost::Deleted(path.clone())
            }
            Err(e) => Lost::Unreachable {
                path: path.clone(),
                reason: file::reason(&e),
            },
        };
        let _ = self.inner.lost.set(lost);
        self.refuse_if_lost()
    }

    /// Runs `f` on a blocking thread, never on the async workers.
    async fn off_workers<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> StoreResult<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|_| StoreError::Task)?
    }

    /// `check_file`, off the async workers.
    pub async fn watch_file(&self) -> StoreResult<()> {
        self.off_workers(Store::check_file).await
    }

    /// Runs `f` in an immediate write transaction on a blocking thread.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        self.off_workers(move |store| store.write_now(f)).await
    }

    /// The same, on the calling thread: for the command line and for code
    /// already on a blocking thread.
    pub fn write_now<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.refuse_if_lost()?;
        let mut conn = self.inner.writer.lock().map_err(|_| StoreError::Poisoned)?;
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        match result {
            Ok(value) => {
                if self.inner.disk_full.swap(false, Ordering::AcqRel) {
                    self.inner.checkpoint_due.store(true, Ordering::Release);
                    tracing::info!(database = %self.inner.path.display(), "the database can be written again");
                }
                Ok(value)
            }
            Err(e) if is_disk_full(&e) => {
                if !self.inner.disk_full.swap(true, Ordering::AcqRel) {
                    tracing::error!(
                        database = %self.inner.path.display(),
                        "the disk holding the database is full: sign-ins, new tokens and \
                         revocations fail until space is freed"
                    );
                }
                Err(StoreError::DiskFull {
                    path: self.inner.path.clone(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// After writes succeed again following a full disk: moves the WAL into
    /// the database and truncates it to nothing, giving its space back.
    /// Returns whether that was due and done; housekeeping calls it every
    /// `WATCH_EVERY`, so it is retried while readers are in the way.
    pub async fn checkpoint_after_disk_full(&self) -> StoreResult<bool> {
        if !self.inner.checkpoint_due.load(Ordering::Acquire) {
            return Ok(false);
        }
        self.off_workers(Store::checkpoint_now).await
    }

    fn checkpoint_now(&self) -> StoreResult<bool> {
        self.refuse_if_lost()?;
        let conn = self.inner.writer.lock().map_err(|_| StoreError::Poisoned)?;
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Ok(false);
        }
        self.inner.checkpoint_due.store(false, Ordering::Release);
        tracing::info!(
            database = %self.inner.path.display(),
            "after the full disk, the write-ahead log was checkpointed and truncated"
        );
        Ok(true)
    }

    /// Runs `f` on a read connection on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.off_workers(move |store| store.read_now(f)).await
    }

    pub fn read_now<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.refuse_if_lost()?;
        let idle = self
            .inner
            .readers
            .lock()
            .map_err(|_| StoreError::Poisoned)?
            .pop();
        let conn = match idle {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let result = f(&conn);
        if let Ok(mut readers) = self.inner.readers.lock()
            && readers.len() < MAX_IDLE_READERS
        {
            readers.push(conn);
        }
        result
    }

    /// A connection of its own, for a caller that keeps it (the token
    /// verification hot path keeps one per worker thread). It is refused
    /// unless the path still leads to the file the store opened: a
    /// connection to a replacement would see other data than the writer.
    fn open_reader(&self) -> StoreResult<Connection> {
        self.refuse_if_lost()?;
        match open_connection(&self.inner.path) {
            Ok(conn) => {
                self.check_file()?;
                Ok(conn)
            }
            Err(e) => {
                self.check_file()?;
                Err(e.into())
            }
        }
    }

    /// `VACUUM INTO`: a consistent copy of the live database, into a new
    /// file created with mode 0600 (never over an existing one).
    pub fn backup_now(&self, target: &Path) -> StoreResult<()> {
        self.refuse_if_lost()?;
        self.copy_to(target)
    }

    /// Saves what this server still holds of a lost database (its
    /// connections keep the old file open) in a copy beside the database
    /// path, then removes the `-wal` and `-shm` files at the path: they
    /// belong to the lost file, their content is in the copy, and SQLite
    /// would mix them into whatever database is opened there next. Until
    /// the copy is moved into place or removed, `open` refuses to create a
    /// new database at the path.
    pub async fn rescue(&self, now: UnixTime) -> StoreResult<PathBuf> {
        let target = file::rescue_path(&self.inner.path, now);
        self.off_workers(move |store| {
            store.copy_to(&target)?;
            for stale in file::sqlite_companions(&store.inner.path) {
                if std::fs::remove_file(&stale).is_ok() {
                    tracing::warn!(file = %stale.display(), "removed, as it belonged to the lost database");
                }
            }
            Ok(target)
        })
        .await
    }

    fn copy_to(&self, target: &Path) -> StoreResult<()> {
        let unusable = |reason: String| StoreError::Unusable {
            path: target.to_owned(),
            reason,
        };
        file::create_private(target).map_err(|e| {
            unusable(match e.kind() {
                std::io::ErrorKind::AlreadyExists => "it already exists; choose a new file".into(),
                _ => format!("cannot create it: {}", file::reason(&e)),
            })
        })?;
        let copied = self
            .inner
            .writer
            .lock()
            .map_err(|_| StoreError::Poisoned)
            .and_then(|conn| {
                conn.execute("VACUUM INTO ?1", [target.display().to_string()])?;
                Ok(())
            });
        if let Err(e) = copied {
            let _ = std::fs::remove_file(target);
            if is_disk_full(&e) {
                return Err(unusable("the disk is full".into()));
            }
            return Err(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_len(path: &Path) -> u64 {
        std::fs::metadata(file::companion(path, "-wal"))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    fn insert_blob(store: &Store, bytes: usize) -> StoreResult<()> {
        store.write_now(|tx| {
            tx.execute(
                "INSERT INTO events (at, kind, detail) VALUES (1, 'test', ?1)",
                ["x".repeat(bytes)],
            )?;
            Ok(())
        })
    }

    #[test]
    fn a_reader_opened_after_the_file_is_deleted_fails_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(store.open_reader().is_err());
        assert!(!path.exists(), "no fresh empty database in its place");
        assert!(matches!(
            store.read_now(|_| Ok(())),
            Err(StoreError::Lost(Lost::Deleted(_)))
        ));
    }

    #[test]
    fn a_replaced_file_is_noticed_and_every_read_and_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path).unwrap();
        let other = dir.path().join("other.db");
        store.backup_now(&other).unwrap();
        store.check_file().unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(matches!(
            store.check_file(),
            Err(StoreError::Lost(Lost::Replaced(_)))
        ));
        assert!(store.read_now(|_| Ok(())).is_err());
        assert!(insert_blob(&store, 1).is_err());
        let hash = crate::domain::Secret::generate().hash();
        assert!(
            store.live_access_token(&hash, 1).is_err(),
            "the hot path too"
        );
    }

    #[test]
    fn other_commands_refuse_a_missing_or_empty_database_and_create_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        assert!(matches!(
            Store::open_existing(&path),
            Err(StoreError::Missing { .. })
        ));
        assert!(!path.exists());
        std::fs::write(&path, b"").unwrap();
        match Store::open_existing(&path) {
            Err(StoreError::Unusable { reason, .. }) => {
                assert!(reason.contains("no doorstep data"))
            }
            other => panic!("expected Unusable, got {:?}", other.err()),
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "left as it was");
    }

    #[test]
    fn a_full_disk_is_named_and_the_wal_is_truncated_once_writes_succeed_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path).unwrap();
        // A full disk, as SQLite sees it: no page may be added.
        let pages: i64 = {
            let conn = store.inner.writer.lock().unwrap();
            let pages: i64 = conn
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .unwrap();
            conn.pragma_update(None, "max_page_count", pages).unwrap();
            pages
        };
        match insert_blob(&store, 64 * 1024) {
            Err(StoreError::DiskFull { path: p }) => assert_eq!(p, path),
            other => panic!("expected DiskFull, got {other:?}"),
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(
            !rt.block_on(store.checkpoint_after_disk_full()).unwrap(),
            "nothing to do while writes still fail"
        );
        // Space again.
        store
            .inner
            .writer
            .lock()
            .unwrap()
            .pragma_update(None, "max_page_count", pages * 100)
            .unwrap();
        insert_blob(&store, 64 * 1024).unwrap();
        assert!(wal_len(&path) > 0);
        assert!(rt.block_on(store.checkpoint_after_disk_full()).unwrap());
        assert_eq!(wal_len(&path), 0, "truncated");
        assert!(
            !rt.block_on(store.checkpoint_after_disk_full()).unwrap(),
            "once"
        );
    }

    #[test]
    fn the_wal_is_cut_back_to_its_limit_after_it_grew_beyond() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path).unwrap();
        // A reader in the middle of a transaction keeps the WAL from being
        // checkpointed and reused, so it grows past the limit.
        let reader = Connection::open(&path).unwrap();
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM events;")
            .unwrap();
        for _ in 0..40 {
            insert_blob(&store, 256 * 1024).unwrap();
        }
        assert!(wal_len(&path) > WAL_SIZE_LIMIT as u64);
        reader.execute_batch("COMMIT").unwrap();
        // The next commit after a complete checkpoint starts the WAL over,
        // and only then is its size limited.
        store
            .inner
            .writer
            .lock()
            .unwrap()
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .unwrap();
        insert_blob(&store, 1).unwrap();
        assert!(wal_len(&path) <= WAL_SIZE_LIMIT as u64);
    }

    #[cfg(unix)]
    #[test]
    fn backups_are_new_private_files_and_never_overwrite() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let copy = dir.path().join("copy.db");
        store.backup_now(&copy).unwrap();
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        match store.backup_now(&copy) {
            Err(StoreError::Unusable { reason, .. }) => assert!(reason.contains("already exists")),
            other => panic!("expected a refusal, got {other:?}"),
        }
        Store::open_existing(&copy).unwrap();
    }
}
