//! Opening the database: creating it with its mode, or refusing to where
//! only an existing one will do; configuring each connection (WAL, busy
//! timeout, foreign keys); applying migrations; proving it can be written;
//! and saying in plain words why a file cannot be used. All of it runs at
//! start-up or for a command, before anything is served.

use super::migrate::Upgrade;
use super::{Inner, Store, StoreError, StoreResult, file, migrate};
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The WAL is cut back to this size whenever it starts over. The automatic
/// checkpoint (every 1,000 pages, about 4 MB) keeps it near 4 MB in normal
/// use; a burst of writes or a long read can grow it further, and without a
/// limit SQLite keeps that size for good.
pub(super) const WAL_SIZE_LIMIT: i64 = 8 * 1024 * 1024;

/// SQLite's page cache per connection, in KiB. Its default is 2,000 KiB for
/// every connection, and doorstep opens several: one reader per HTTP worker
/// (the verification hot path, `live`, which sizes its own: see
/// `live::VIEW_CACHE_KIB`), a few pooled readers, the writer. The pooled
/// readers serve the dashboard, sign-in and the token endpoint's lookups,
/// a few pages each: 256 KiB. The writer, which updates rows across the
/// file in the batched last-used flush and the purge, keeps 1 MiB.
/// Measured with `bench/verify.sh` (README, "Benchmark").
const READER_CACHE_KIB: i64 = 256;
const WRITER_CACHE_KIB: i64 = 1024;

pub(super) fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = open_unconfigured(path)?;
    configure(&conn)?;
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
    Ok(conn)
}

/// Never with `SQLITE_OPEN_CREATE`: the file is created by `file`, with its
/// mode, and a connection opened after it was deleted must fail, not make a
/// fresh empty database in its place.
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

/// A start-up failure from SQLite, as the path and a reason in plain words.
fn explain(path: &Path, e: StoreError) -> StoreError {
    let reason = match &e {
        _ if e.is_disk_full() => "the disk is full".to_owned(),
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
    /// Opens the database for `serve`, creating it (mode 0600) if there is
    /// none, applies migrations, and proves that it can be written with one
    /// real commit. A database that cannot be written
    /// stops start-up here, naming the path and the reason, rather than
    /// after "listening". A file created here is taken away again if that
    /// fails. Runs at start-up, before the listener binds.
    pub fn open(path: &Path) -> StoreResult<Store> {
        Self::open_or_create(path, Upgrade::Apply)
    }

    /// `open` for `doorstep password`: it creates a new database as `serve`
    /// would, but does not upgrade one from an older doorstep, which the
    /// older server may still be using (`Upgrade::Refuse`).
    pub fn open_for_password(path: &Path) -> StoreResult<Store> {
        Self::open_or_create(path, Upgrade::Refuse)
    }

    fn open_or_create(path: &Path, upgrade: Upgrade) -> StoreResult<Store> {
        let created = file::create_or_open(path).map_err(|reason| StoreError::Unusable {
            path: path.to_owned(),
            reason,
        })?;
        let opened = Self::open_file(path, true, upgrade).and_then(|store| {
            store.probe_write()?;
            Ok(store)
        });
        match opened {
            Ok(store) => {
                // Only once it is known to be doorstep's: a mistyped path
                // to another file keeps its mode.
                file::make_private(path);
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
    /// succeed. Nor do they change its mode; `serve` does that. Nor do they
    /// upgrade a database from an older doorstep (`Upgrade::Refuse`): it
    /// may be in use by the older server still running.
    pub fn open_existing(path: &Path) -> StoreResult<Store> {
        Self::open_existing_with(path, Upgrade::Refuse)
    }

    fn open_existing_with(path: &Path, upgrade: Upgrade) -> StoreResult<Store> {
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
        Self::open_file(path, false, upgrade).map_err(|e| explain(path, e))
    }

    /// `open_existing` for `backup`, which copies a database from an older
    /// doorstep as it is, without upgrading it: the copy a rollback needs.
    pub fn open_as_found(path: &Path) -> StoreResult<Store> {
        Self::open_existing_with(path, Upgrade::AsFound)
    }

    fn open_file(path: &Path, fresh_ok: bool, upgrade: Upgrade) -> StoreResult<Store> {
        let mut writer = open_unconfigured(path)?;
        let file = file::identify(path).map_err(|e| StoreError::Unusable {
            path: path.to_owned(),
            reason: file::reason(&e),
        })?;
        if migrate::version(&writer)? == 0 {
            if !fresh_ok {
                return Err(StoreError::Unusable {
                    path: path.to_owned(),
                    reason: "it holds no doorstep data (an empty database); is this the path \
                             `serve` uses? Point to it with `--database PATH` or `--config FILE`"
                        .into(),
                });
            }
            // Tables but no doorstep version: another program's database,
            // which doorstep's tables must not be written into.
            let tables: i64 =
                writer.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
            if tables > 0 {
                return Err(StoreError::Unusable {
                    path: path.to_owned(),
                    reason: "it is a SQLite database of another program (it has tables, but \
                             not doorstep's); give doorstep a file of its own"
                        .into(),
                });
            }
        }
        configure(&writer)?;
        writer.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        migrate::apply(&mut writer, path, upgrade)?;
        Ok(Store {
            inner: Arc::new(Inner {
                id: next_store_id(),
                path: path.to_owned(),
                file,
                lost: OnceLock::new(),
                disk_full: AtomicBool::new(false),
                checkpoint_due: AtomicBool::new(false),
                written: AtomicBool::new(false),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Why the missing database at `path` must not be created anew, if
    /// something of an earlier one is left beside it (`doctor` says so).
    pub fn missing_with_leftovers(path: &Path) -> Option<String> {
        file::missing_with_leftovers(path)
    }

    /// One real commit, as every later write will need: it rewrites the
    /// schema version with its own value, which puts a page in the WAL. A
    /// read-only file or directory, or a full disk, fails here (an empty
    /// transaction would not: it writes nothing).
    pub fn probe_write(&self) -> StoreResult<()> {
        let mut conn = self.inner.writer.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = migrate::version(&tx)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        Ok(())
    }
}
