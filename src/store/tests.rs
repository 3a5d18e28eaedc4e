//! Tests of the store's door: opening, transactions, the WAL and a lost file.

use super::open::WAL_SIZE_LIMIT;
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

/// Issue 10: a batch first checkpoints what earlier writes left in the
/// WAL, so batches in a row (the "last used" flushes under heavy use) use
/// the WAL from its start again instead of adding to it until
/// housekeeping's next checkpoint. Each batch here is about 50 pages,
/// far from SQLite's own checkpoint at 1,000.
#[test]
fn batches_in_a_row_start_the_wal_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = Store::open(&path).unwrap();
    insert_blob(&store, 200_000).unwrap();
    let batch = |fill: &str| {
        store
            .write_batch_now(|tx| {
                tx.execute("UPDATE events SET detail = ?1", [fill.repeat(200_000)])?;
                Ok(())
            })
            .unwrap();
    };
    batch("a");
    let after_one = wal_len(&path);
    assert!(after_one > 40 * 4096, "{after_one}");
    for fill in ["b", "c", "d", "e"] {
        batch(fill);
    }
    assert_eq!(wal_len(&path), after_one, "each batch started the WAL over");
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
    store.backup_now(&other, 1).unwrap();
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
    store.backup_now(&copy, 1).unwrap();
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    match store.backup_now(&copy, 1) {
        Err(StoreError::Unusable { reason, .. }) => assert!(reason.contains("already exists")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    Store::open_existing(&copy).unwrap();
}

/// A database restored from a backup knows that backup was made: the
/// record `doorstep doctor` reads is in the copy too, and the copy is left
/// as `VACUUM INTO` made it (no WAL beside it).
#[test]
fn a_backup_holds_the_record_of_itself() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    let copy = dir.path().join("copy.db");
    store.backup_now(&copy, 1_000).unwrap();
    let last = |s: &Store| {
        s.read_now(|c| events::last_at(c, events::EventKind::Backup))
            .unwrap()
    };
    assert_eq!(last(&store), Some(1_000));
    for stale in file::sqlite_companions(&copy) {
        assert!(!stale.exists(), "{}", stale.display());
    }
    let restored = Store::open_existing(&copy).unwrap();
    assert_eq!(last(&restored), Some(1_000));
}

/// A database opened with permissive bits is narrowed to its owner's; a
/// file that is no database at all (a mistyped `database` setting) is
/// refused and keeps its mode.
#[cfg(unix)]
#[test]
fn only_a_database_is_made_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let set = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    let db = dir.path().join("t.db");
    drop(Store::open(&db).unwrap());
    set(&db, 0o644);
    drop(Store::open(&db).unwrap());
    assert_eq!(mode(&db), 0o600);

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello, this is not a database\n").unwrap();
    set(&text, 0o644);
    match Store::open(&text) {
        Err(StoreError::Unusable { reason, .. }) => {
            assert!(reason.contains("not a database"), "{reason}")
        }
        Err(other) => panic!("expected a refusal in words, got {other}"),
        Ok(_) => panic!("a text file opened as a database"),
    }
    assert_eq!(mode(&text), 0o644);
    assert_eq!(
        std::fs::read_to_string(&text).unwrap(),
        "hello, this is not a database\n"
    );
}

/// A backup into a directory that does not exist says so.
#[test]
fn a_backup_into_a_missing_directory_names_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    let target = dir.path().join("nowhere").join("b.db");
    match store.backup_now(&target, 1) {
        Err(StoreError::Unusable { reason, .. }) => {
            assert!(reason.contains("directory"), "{reason}");
            assert!(reason.contains("nowhere"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Another program's SQLite database named by mistake is refused, and
/// nothing of doorstep's is written into it.
#[test]
fn another_program_s_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.sqlite");
    {
        let c = Connection::open(&other).unwrap();
        c.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
            .unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    match Store::open(&other) {
        Err(StoreError::Unusable { reason, .. }) => {
            assert!(reason.contains("another program"), "{reason}")
        }
        Err(other) => panic!("expected a refusal in words, got {other}"),
        Ok(_) => panic!("another program's database was taken"),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&other).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "its mode is left as it was");
    }
    let c = Connection::open(&other).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(tables, ["notes"]);
}
