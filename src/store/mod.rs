//! All SQL lives below this module, as small synchronous functions over a
//! `&Connection` or `&Transaction`. `Store` is the one door to them: it
//! decides where SQL runs — on tokio's blocking threads, never on the async
//! workers — and wraps every write in an immediate transaction, so that
//! taking a code or rotating a token is atomic.
//!
//! A function's closure returns `Ok(domain result)` to commit (even when the
//! domain result is a protocol error: a replayed code's revocation must be
//! committed while the request fails) and `Err(StoreError)` only for faults.

pub mod clients;
pub mod codes;
pub mod events;
pub mod factors;
pub mod live;
mod migrate;
pub mod owner;
pub mod pending;
pub mod resource_servers;
pub mod sessions;
pub mod tokens;
pub mod usage;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
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
    writer: Mutex<Connection>,
    /// Idle read connections, reused; a new one is opened when all are busy.
    readers: Mutex<Vec<Connection>>,
}

/// Readers kept idle at most; more are opened under load and then dropped.
const MAX_IDLE_READERS: usize = 4;

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// A process-unique number per opened store (not a handle to anything).
fn next_store_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Store {
    /// Opens (creating if needed) the database and applies migrations.
    /// Runs at start-up, before the listener binds.
    pub fn open(path: &Path) -> StoreResult<Store> {
        let mut writer = open_connection(path)?;
        migrate::apply(&mut writer, path)?;
        Ok(Store {
            inner: Arc::new(Inner {
                id: next_store_id(),
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in an immediate write transaction on a blocking thread.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write_now(f))
            .await
            .map_err(|_| StoreError::Task)?
    }

    /// The same, on the calling thread: for the command line and for code
    /// already on a blocking thread.
    pub fn write_now<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.inner.writer.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs `f` on a read connection on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_now(f))
            .await
            .map_err(|_| StoreError::Task)?
    }

    pub fn read_now<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let idle = self
            .inner
            .readers
            .lock()
            .map_err(|_| StoreError::Poisoned)?
            .pop();
        let conn = match idle {
            Some(c) => c,
            None => open_connection(&self.inner.path)?,
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
    /// verification hot path keeps one per worker thread).
    pub fn open_reader(&self) -> StoreResult<Connection> {
        Ok(open_connection(&self.inner.path)?)
    }

    /// `VACUUM INTO`: a consistent copy of the live database.
    pub fn backup_now(&self, target: &Path) -> StoreResult<()> {
        let conn = self.inner.writer.lock().map_err(|_| StoreError::Poisoned)?;
        conn.execute("VACUUM INTO ?1", [target.display().to_string()])?;
        Ok(())
    }
}
