//! The database file (issue 11, item 5): created readable by its owner
//! only, never created by the commands that only read or change it,
//! proved writable before `serve` says it is listening, and watched while
//! the server runs: deleted or replaced, the server refuses everything and
//! stops, saving what it held, rather than lose it silently.

use crate::cli::{BIN, doorstep, without_doorstep_env};
use crate::helpers::*;
use doorstep::app::RunError;
use doorstep::store::{Store, tokens};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// How long anything here may take on a loaded machine; tests wait for an
/// outcome, never assert on how fast it came.
const PATIENCE: Duration = Duration::from_secs(60);

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    s.into()
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Starts `serve` on `db` through `cmd` (the binary, or a shell that runs
/// it) and waits until it answers. Its standard error is kept.
async fn start_serving(mut cmd: Command, db: &Path) -> Served {
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(db)
        .stdout(Stdio::null());
    Served::start(cmd).await
}

/// Whether `token` passes the legacy verification right now; a server that
/// no longer answers does not pass it.
async fn verifies(app: &TestApp, token: &str) -> bool {
    app.api
        .get(app.url("/token"))
        .bearer_auth(token)
        .header("Accept", "application/json")
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

/// Waits until `token` stops verifying; false if it never does.
async fn stops_verifying(app: &TestApp, token: &str) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if !verifies(app, token).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The copy a server saved beside `db` when it lost it.
fn rescued_copy(db: &Path) -> PathBuf {
    let dir = db.parent().unwrap();
    let prefix = format!("{}.rescued-", db.file_name().unwrap().to_string_lossy());
    let name = listing(dir)
        .into_iter()
        .find(|n| n.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix}* in {:?}", listing(dir)));
    dir.join(name)
}

#[tokio::test]
async fn database_wal_shm_and_backups_are_created_0600_under_a_permissive_umask() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    // The binary through a shell that sets umask 000 first, so every bit
    // of the mode is doorstep's (or SQLite's) choice.
    let umask_000 = || {
        let mut cmd = without_doorstep_env(Command::new("sh"));
        cmd.args(["-c", "umask 000 && exec \"$0\" \"$@\"", BIN]);
        cmd
    };
    let server = start_serving(umask_000(), &db).await;
    for f in [
        db.clone(),
        with_suffix(&db, "-wal"),
        with_suffix(&db, "-shm"),
    ] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    let backup = dir.path().join("backup.db");
    let out = umask_000()
        .arg("backup")
        .arg(&backup)
        .arg("--database")
        .arg(&db)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&backup), 0o600);
    server.stop().await;
}

#[tokio::test]
async fn commands_other_than_serve_and_password_refuse_a_missing_database_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let backup = dir.path().join("backup.db");
    let backup = backup.to_str().unwrap();
    for args in [
        vec!["backup", backup],
        vec!["tokens", "list"],
        vec!["tokens", "revoke", "1"],
        vec!["resource-server", "list"],
        vec!["resource-server", "add", "micropub"],
        vec!["resource-server", "revoke", "1"],
    ] {
        let out = doorstep()
            .args(&args)
            .arg("--database")
            .arg(&db)
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        assert!(
            err.contains(db.to_str().unwrap()) && err.contains("--database"),
            "{args:?}: {err}"
        );
        assert!(
            listing(dir.path()).is_empty(),
            "{args:?} created {:?}",
            listing(dir.path())
        );
    }
    // Run from the wrong directory with the default `./doorstep.db`: the
    // message names the whole path it looked at.
    let out = doorstep()
        .current_dir(dir.path())
        .args(["backup", "backup.db"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let looked_at = dir.path().canonicalize().unwrap().join("doorstep.db");
    let err = stderr(&out);
    assert!(err.contains(looked_at.to_str().unwrap()), "{err}");
    assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
}

/// Runs `serve` on `db` (as `uid`, if given) and returns its output. It
/// must stop by itself: a server that says "listening" and keeps going
/// fails here.
async fn serve_refusal(db: &Path, uid: Option<u32>) -> std::process::Output {
    let mut cmd = doorstep();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let out = tokio::time::timeout(PATIENCE, cmd.output())
        .await
        .expect("serve kept running on a database it cannot use")
        .unwrap();
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("listening"), "{}", stderr(&out));
    out
}

#[tokio::test]
async fn serve_refuses_a_database_in_a_missing_directory_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = dir.path().join("nowhere");
    let db = nowhere.join("doorstep.db");
    let err = stderr(&serve_refusal(&db, None).await);
    assert!(err.contains(db.to_str().unwrap()), "{err}");
    assert!(
        err.contains(&format!("{} does not exist", nowhere.display())),
        "{err}"
    );
    // A path through a file is refused as plainly.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let err = stderr(&serve_refusal(&file.join("doorstep.db"), None).await);
    assert!(
        err.contains(&format!("{} is not a directory", file.display())),
        "{err}"
    );
    assert_eq!(listing(dir.path()), ["a-file"]);
}

/// Permission bits bind every user but root. When the tests run as root,
/// doorstep runs as `nobody` here, so what is proved is the same either
/// way: a directory or file that doorstep's user cannot write, as the
/// kernel decides (not a read-only file system, whose error is mapped the
/// same way and covered by the unit tests of `store::file`).
#[tokio::test]
async fn serve_refuses_a_read_only_directory_or_file_naming_the_path() {
    let base = tempfile::tempdir().unwrap();
    chmod(base.path(), 0o755);
    let as_root = std::fs::metadata(base.path()).unwrap().uid() == 0;
    let nobody = 65534;
    let uid = as_root.then_some(nobody);
    let give_to_doorstep = |p: &Path| {
        if as_root {
            std::os::unix::fs::chown(p, Some(nobody), Some(nobody)).unwrap();
        }
    };
    let make_database = |db: &Path| {
        drop(Store::open(db).unwrap());
        give_to_doorstep(db);
    };

    // A directory doorstep cannot create the database in.
    let ro_dir = base.path().join("read-only-dir");
    std::fs::create_dir(&ro_dir).unwrap();
    chmod(&ro_dir, 0o555);
    let db = ro_dir.join("doorstep.db");
    let err = stderr(&serve_refusal(&db, uid).await);
    assert!(err.contains(db.to_str().unwrap()), "{err}");
    assert!(
        err.contains(&format!(
            "the directory {} is not writable",
            ro_dir.display()
        )),
        "{err}"
    );
    assert!(listing(&ro_dir).is_empty(), "{:?}", listing(&ro_dir));

    // A database file doorstep may read but not write, in a directory it
    // may write.
    let rw_dir = base.path().join("writable-dir");
    std::fs::create_dir(&rw_dir).unwrap();
    give_to_doorstep(&rw_dir);
    let db = rw_dir.join("doorstep.db");
    make_database(&db);
    chmod(&db, 0o400);
    let before = listing(&rw_dir);
    let err = stderr(&serve_refusal(&db, uid).await);
    assert!(err.contains(db.to_str().unwrap()), "{err}");
    assert!(err.contains("the file is not writable"), "{err}");
    assert_eq!(listing(&rw_dir), before);
    assert_eq!(mode(&db), 0o400, "left as it was");

    // A writable database in a directory doorstep cannot write: SQLite
    // cannot create the -wal and -shm files beside it.
    let fixed_dir = base.path().join("fixed-dir");
    std::fs::create_dir(&fixed_dir).unwrap();
    let db = fixed_dir.join("doorstep.db");
    make_database(&db);
    chmod(&fixed_dir, 0o555);
    let err = stderr(&serve_refusal(&db, uid).await);
    assert!(err.contains(db.to_str().unwrap()), "{err}");
    assert!(
        err.contains(&format!(
            "the directory {} is not writable",
            fixed_dir.display()
        )) && err.contains("-wal"),
        "{err}"
    );
    assert_eq!(listing(&fixed_dir), ["doorstep.db"]);

    // A writable database in a writable directory, beside a -shm file left
    // read-only (by a command run as another user, say): the file that
    // keeps the database read-only is named.
    let shm_dir = base.path().join("stale-shm-dir");
    std::fs::create_dir(&shm_dir).unwrap();
    give_to_doorstep(&shm_dir);
    let db = shm_dir.join("doorstep.db");
    make_database(&db);
    let shm = shm_dir.join("doorstep.db-shm");
    std::fs::write(&shm, vec![0u8; 32 * 1024]).unwrap();
    chmod(&shm, 0o400);
    let err = stderr(&serve_refusal(&db, uid).await);
    assert!(
        err.contains(&format!("{} (the file is not writable", shm.display())),
        "{err}"
    );

    for d in [&ro_dir, &fixed_dir] {
        chmod(d, 0o755);
    }
}

/// A full disk needs a small file system of its own: a tmpfs, mounted in a
/// mount namespace of the child's own (`unshare`), which takes root. Where
/// that is not allowed the test says so and checks nothing; the unit tests
/// in `store` cover how SQLite's "disk full" is named and recovered from.
#[tokio::test]
async fn serve_refuses_a_full_disk_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
        mount -t tmpfs -o size=512k tmpfs "$1" || exit 0
        echo MOUNTED
        printf 'a long enough password' | "$2" password --stdin --database "$1/existing.db" >/dev/null 2>&1 || exit 3
        dd if=/dev/zero of="$1/fill" bs=4k >/dev/null 2>&1
        timeout 60 "$2" serve --listen 127.0.0.1:0 --database "$1/new.db"; echo "new: $?"
        timeout 60 "$2" serve --listen 127.0.0.1:0 --database "$1/existing.db"; echo "existing: $?"
        ls "$1"
    "#;
    let run = without_doorstep_env(Command::new("unshare"))
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(dir.path())
        .arg(BIN)
        .output();
    let Ok(Ok(out)) = tokio::time::timeout(PATIENCE * 3, run).await else {
        panic!("the full-disk run did not finish");
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.contains("MOUNTED") {
        eprintln!(
            "SKIPPED serve_refuses_a_full_disk_naming_the_path: cannot mount a tmpfs here ({})",
            stderr(&out).trim()
        );
        return;
    }
    let err = stderr(&out);
    assert!(stdout.contains("new: 1"), "{stdout}\n{err}");
    assert!(stdout.contains("existing: 1"), "{stdout}\n{err}");
    for name in ["new.db", "existing.db"] {
        let db = dir.path().join(name);
        assert!(
            err.contains(&format!("{}: the disk is full", db.display())),
            "{err}"
        );
    }
    assert!(!err.contains("listening"), "{err}");
    // The database that could not be created is not left behind.
    assert!(!stdout.lines().any(|l| l == "new.db"), "{stdout}");
}

#[tokio::test]
async fn deleting_the_database_under_a_running_server_fails_closed_and_makes_no_new_one() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let token = str_of(&app.token_for(&client, "create").await, "access_token");
    assert!(verifies(&app, &token).await);
    let db = app.settings.database.clone();

    std::fs::remove_file(&db).unwrap();

    assert!(
        stops_verifying(&app, &token).await,
        "the server went on answering from a deleted database"
    );
    // It stops, once it has saved what it held.
    let ended = app.stopped().await;
    assert!(matches!(ended, Err(RunError::DatabaseLost(_))), "{ended:?}");
    assert!(!verifies(&app, &token).await);
    assert!(!db.exists(), "a fresh, empty database appeared");
    // What the server held is saved beside the path, privately, and the
    // -wal and -shm of the lost file are gone (SQLite would mix them into
    // the next database at the path).
    let copy = rescued_copy(&db);
    assert_eq!(mode(&copy), 0o600);
    let grants = Store::open_existing(&copy)
        .unwrap()
        .read_now(|c| tokens::active_grants(c, app.clock.now(), None))
        .unwrap();
    assert!(
        grants
            .iter()
            .any(|g| g.client_id.as_str() == client.client_id),
        "the copy holds the grant"
    );
    assert!(!with_suffix(&db, "-wal").exists());
    assert!(!with_suffix(&db, "-shm").exists());
    // A restart does not quietly start afresh while that copy is there.
    match Store::open(&db) {
        Ok(_) => panic!("a new database was created beside the saved copy"),
        Err(e) => assert!(e.to_string().contains(copy.to_str().unwrap()), "{e}"),
    }
    assert!(!db.exists());
}

#[tokio::test]
async fn replacing_the_database_under_a_running_server_stops_it_and_leaves_the_replacement_alone() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let db = app.settings.database.clone();
    let old = str_of(&app.token_for(&client, "create").await, "access_token");
    let backup = db.with_file_name("before.db");
    app.store.backup_now(&backup, 1).unwrap();
    let revoked = app.revoke(&[("token", &old)]).await;
    assert_eq!(revoked.status, 200);
    let current = str_of(&app.token_for(&client, "create").await, "access_token");
    assert!(verifies(&app, &current).await);
    assert!(!verifies(&app, &old).await);

    // An older copy put in its place, as a careless restore would.
    std::fs::rename(&backup, &db).unwrap();

    assert!(
        stops_verifying(&app, &current).await,
        "the server went on answering from a file no longer at its path"
    );
    assert!(
        !verifies(&app, &old).await,
        "a token revoked since the copy was made came back"
    );
    // A restart comes after the old server has finished stopping (it
    // tidies the path on the way out).
    let ended = app.stopped().await;
    assert!(matches!(ended, Err(RunError::DatabaseLost(_))), "{ended:?}");
    // The replacement is what a restart opens, whole, with nothing of the
    // lost file mixed in.
    let store = Store::open_existing(&db).unwrap();
    let check: String = store
        .read_now(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(check, "ok");
    let grants = store
        .read_now(|c| tokens::active_grants(c, app.clock.now(), None))
        .unwrap();
    assert_eq!(grants.len(), 1, "only the grant of the copy: {grants:?}");
    assert!(rescued_copy(&db).exists());
}

#[tokio::test]
async fn serve_exits_with_an_error_naming_the_database_when_it_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let server = start_serving(doorstep(), &db).await;

    std::fs::remove_file(&db).unwrap();

    let (status, err) = server.exit().await;
    assert!(!status.success());
    assert!(
        err.contains(&format!("the database {} was deleted", db.display())),
        "{err}"
    );
    assert!(!db.exists(), "a fresh, empty database appeared");
}

/// Issue 10, held reads: an HTTP worker keeps its read transaction open
/// between verifications, which keeps SQLite from starting the WAL over
/// (and a `TRUNCATE` checkpoint, as after a full disk, from finishing). An
/// idle worker must end it by itself. Here the worker's transaction begins
/// while a reader of the test's own keeps part of the WAL from being
/// checkpointed, so it is in the way; once the test's reader ends, only the
/// worker's own timer can let the checkpoint through.
#[tokio::test]
async fn an_idle_worker_ends_its_read_transaction_so_the_wal_can_be_truncated() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let first = str_of(&app.token_for(&client, "create").await, "access_token");
    let db = app.settings.database.clone();
    let pin = rusqlite::Connection::open(&db).unwrap();
    pin.execute_batch("BEGIN; SELECT count(*) FROM grants;")
        .unwrap();
    let second = str_of(&app.token_for(&client, "create").await, "access_token");
    for token in [&first, &second] {
        assert!(verifies(&app, token).await);
    }
    pin.execute_batch("COMMIT").unwrap();
    let (busy, log, moved) = tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.busy_timeout(PATIENCE).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!((busy, log, moved), (0, 0, 0), "checkpointed and truncated");
    assert!(verifies(&app, &second).await);
}

/// Only `serve` upgrades a database from an older doorstep. The other
/// commands may run beside the older server still using it (a backup
/// timer, a command between installing the new binary and restarting the
/// service, `password` for an owner locked out just then): they refuse it,
/// saying how to upgrade, and `backup` copies it as it is, which is what a
/// rollback needs.
#[tokio::test]
async fn only_serve_upgrades_an_older_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    drop(Store::open(&db).unwrap());
    let version = |p: &Path| -> i64 {
        rusqlite::Connection::open(p)
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    };
    let current = version(&db);
    // As a database from before the identity table looks.
    let older = current - 1;
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(&format!(
            "DROP TABLE identity; PRAGMA user_version = {older};"
        ))
        .unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_doorstep"))
            .arg("--database")
            .arg(&db)
            .args(args)
            .env_remove("DOORSTEP_CONFIG")
            .env("DOORSTEP_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    };

    for args in [
        &["tokens", "list"][..],
        &["resource-server", "add", "micropub"],
        &["second-factor", "reset"],
        &["password", "--stdin"],
    ] {
        let out = run(args, Some("a new password\n"));
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("from an older doorstep") && err.contains("doorstep serve"),
            "{args:?}: {err}"
        );
        assert_eq!(version(&db), older, "{args:?} upgraded it");
    }

    let copy = dir.path().join("before-upgrade.db");
    let out = run(&["backup", copy.to_str().unwrap()], None);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(version(&db), older);
    assert_eq!(version(&copy), older, "the copy is as it was");

    // What `serve` opens it with.
    drop(Store::open(&db).unwrap());
    assert_eq!(version(&db), current, "serve upgrades it");
    let out = run(&["password", "--stdin"], Some("a new password\n"));
    assert!(out.status.success(), "{out:?}");
}
