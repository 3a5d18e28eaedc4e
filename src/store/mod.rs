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
//!
//! Opening, configuring and migrating the file is `open`; noticing that it
//! was deleted or replaced under the server, `check_file` here.

pub mod clients;
pub mod codes;
mod columns;
pub mod events;
pub mod factors;
mod file;
pub mod identity;
pub mod live;
mod migrate;
mod open;
pub mod owner;
pub mod pending;
pub mod resource_servers;
pub mod sessions;
pub mod tokens;
pub mod usage;
mod wal_index;

use crate::clock::UnixTime;
use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task running the database work panicked or was
    /// cancelled (at shutdown); the cause says which.
    #[error("database task failed")]
    Task(#[source] tokio::task::JoinError),
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
    #[error(
        "the database {path} has schema version {found}, from an older doorstep (this one uses {known}); start this version's `doorstep serve` once to upgrade it, then run this again"
    )]
    TooOld {
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
    /// Something was committed through `writer` that no checkpoint has
    /// moved into the database file yet (`checkpoint_written`).
    written: AtomicBool,
    writer: Mutex<Connection>,
    /// Idle read connections, reused; a new one is opened when all are busy.
    readers: Mutex<Vec<Connection>>,
}

use open::open_connection;

/// Readers kept idle at most; more are opened under load and then dropped.
const MAX_IDLE_READERS: usize = 4;

impl StoreError {
    /// A failure that passes on its own: the disk is full, or another
    /// process held the database longer than the busy timeout. Endpoints
    /// answer these "try again" (503, `Retry-After`) rather than as a
    /// server error.
    pub fn is_temporary(&self) -> bool {
        self.is_disk_full()
            || matches!(
                self,
                StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _))
                    if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
            )
    }

    /// Whether the disk is full (named in start-up errors and on the
    /// owner's error page; a full disk also starts the recovery watch).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::DiskFull { .. } => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.code == ErrorCode::DiskFull
            }
            _ => false,
        }
    }
}

impl Store {
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
            .map_err(StoreError::Task)?
    }

    /// `write` for a batch (the hourly purge, the last-used flush): after
    /// the commit, in the same trip off the workers, the writer gives its
    /// page cache back (`PRAGMA shrink_memory`). The purge reads whole tables
    /// and a flush updates rows all over the file; the pages they leave
    /// cached (up to the writer's 1 MiB) would otherwise stay resident until
    /// the next batch, where a sign-in or a new token needs a few (issue 10).
    /// Even a run of early flushes gains little from keeping them: each
    /// updates 28,000 grants from all over the file, more than it holds.
    pub async fn write_batch<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        self.off_workers(move |store| store.write_batch_now(f))
            .await
    }

    /// `write_batch` on the calling thread. Before the batch, what earlier
    /// writes left in the WAL is moved into the database file
    /// (`checkpoint_written`), and the batch waits `live::HOLD_READS_FOR`,
    /// by which time every HTTP worker's kept read transaction has ended or
    /// begun again after the checkpoint, out of the way: the batch can then
    /// start the WAL over instead of adding to it. Batches come in bursts
    /// under heavy use (`bench/verify.sh` flushes "last used" for 28,000
    /// grants several times a second), and between two of housekeeping's
    /// checkpoints, a second apart, they took the WAL to 39–54 MB; with
    /// this, 25–28 MB (each such flush writes about 14 MB). The wait holds
    /// a blocking thread, not the writer, and only after writes. If a
    /// reader is still in the way, the batch appends, as before.
    fn write_batch_now<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        if self.checkpoint_written_or_warn() {
            std::thread::sleep(live::HOLD_READS_FOR);
        }
        let value = self.write_now(f)?;
        let released = self
            .inner
            .writer
            .lock()
            .map_err(|_| StoreError::Poisoned)
            .and_then(|conn| Ok(conn.execute_batch("PRAGMA shrink_memory")?));
        if let Err(e) = released {
            tracing::warn!(error = %crate::errors::error_chain(&e), "could not release the database cache");
        }
        Ok(value)
    }

    /// Housekeeping's look every `WATCH_EVERY`: `check_file`, then, after
    /// this server's writes, `checkpoint_written`. In one trip off the
    /// async workers: a second trip right after the first often starts a
    /// second blocking thread (the first is not yet back in tokio's pool),
    /// and each such thread keeps a malloc arena of its own.
    pub async fn watch(&self) -> StoreResult<()> {
        self.off_workers(|store| {
            store.check_file()?;
            store.checkpoint_written_or_warn();
            Ok(())
        })
        .await
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
                self.inner.written.store(true, Ordering::Release);
                if self.inner.disk_full.swap(false, Ordering::AcqRel) {
                    self.inner.checkpoint_due.store(true, Ordering::Release);
                    tracing::info!(database = %self.inner.path.display(), "the database can be written again");
                }
                Ok(value)
            }
            Err(e) if StoreError::is_disk_full(&e) => {
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

    /// After this server's writes, moves the WAL into the database file
    /// (a passive checkpoint: it waits for no one), so that the next commit
    /// can start the WAL over instead of appending to it. SQLite's own
    /// checkpoint runs right after a commit, when the HTTP workers' held
    /// read transactions (`live`) still see the commit before, so under
    /// steady verification load it never completes and the WAL grows
    /// without end (hundreds of MB in a minute of `bench/verify.sh`); this
    /// one, run by housekeeping every `WATCH_EVERY`, finds them on the
    /// newest commit or ended (`live::HOLD_READS_FOR`). One that could not
    /// move every frame (a reader such as Litestream in the way) is tried
    /// again at the next call; one that failed (a full disk) only after the
    /// next write, so that a lasting failure is not logged every second.
    /// Returns whether one was due.
    pub(crate) fn checkpoint_written(&self) -> StoreResult<bool> {
        if !self.inner.written.swap(false, Ordering::AcqRel) {
            return Ok(false);
        }
        if !self.checkpoint_passive()? {
            self.inner.written.store(true, Ordering::Release);
        }
        Ok(true)
    }

    /// `checkpoint_written` for housekeeping and batches, which go on
    /// whatever became of it: a failure is logged (and retried, as that
    /// says). Whether one was due and ran.
    fn checkpoint_written_or_warn(&self) -> bool {
        self.checkpoint_written().unwrap_or_else(|e| {
            tracing::warn!(error = %crate::errors::error_chain(&e), "could not checkpoint the database; will retry");
            false
        })
    }

    /// Whether every frame in the WAL is now in the database file.
    fn checkpoint_passive(&self) -> StoreResult<bool> {
        self.refuse_if_lost()?;
        let conn = self.inner.writer.lock().map_err(|_| StoreError::Poisoned)?;
        let (log, done): (i64, i64) =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })?;
        Ok(done == log)
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

    /// `doorstep backup`: a consistent copy of the live database (`VACUUM
    /// INTO`), into a new file created with mode 0600 (never over an
    /// existing one). The record `doorstep doctor` reads (the newest
    /// backup's age) is written into the copy as well as into the live
    /// database: a database restored from the copy would otherwise say
    /// that no backup was ever made, or name the one before.
    pub fn backup_now(&self, target: &Path, now: UnixTime) -> StoreResult<()> {
        self.refuse_if_lost()?;
        self.copy_to(target)?;
        let detail = target.display().to_string();
        let record = |tx: &Transaction<'_>| {
            events::record(tx, now, events::EventKind::Backup, None, Some(&detail))
        };
        // The copy as `VACUUM INTO` left it (a rollback journal, its mode
        // 0600); nothing else has it open yet. If it cannot take the
        // record, it is taken away, so that the command can be run again.
        let recorded = Connection::open_with_flags(
            target,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(StoreError::from)
        .and_then(|mut copy| {
            let tx = copy.transaction()?;
            record(&tx)?;
            tx.commit()?;
            Ok(())
        });
        if let Err(e) = recorded {
            let _ = std::fs::remove_file(target);
            return Err(e);
        }
        self.write_now(|tx| record(tx))
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
                std::io::ErrorKind::NotFound => match target.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => format!(
                        "cannot create it: the directory {} does not exist; create it first",
                        dir.display()
                    ),
                    _ => format!("cannot create it: {}", file::reason(&e)),
                },
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
            if e.is_disk_full() {
                return Err(unusable("the disk is full".into()));
            }
            return Err(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
