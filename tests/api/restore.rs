//! Backup and restore (issue 9, §4): a token issued before `doorstep backup`
//! still verifies on a new server started on that backup restored to a
//! fresh path, as README "Backups" tells the owner to do it; and a database
//! started under other addresses than it was made for is named loudly at
//! start-up and failed by `doorstep doctor`.

use crate::cli::doorstep;
use crate::helpers::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::Command;

/// The start-up warning's first words.
const MISMATCH: &str = "WRONG ADDRESSES FOR THIS DATABASE";

/// `doorstep backup FILE` against the running app's database.
fn backup(app: &TestApp, dir: &Path) -> PathBuf {
    let file = dir.join("doorstep-backup.db");
    let out = app.cli(&["backup", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    file
}

/// The README's restore: copy the backup to the database path, readable
/// by doorstep's user only.
fn restore(backup: &Path, db: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::copy(backup, db).unwrap();
    std::fs::set_permissions(db, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// `doorstep serve` on `db`, listening on `listen`, with `args`.
fn serve_command(db: &Path, listen: &str, args: &[&str]) -> Command {
    let mut cmd = doorstep();
    cmd.args(["serve", "--listen", listen, "--database"])
        .arg(db)
        .args(args)
        .env("DOORSTEP_LOG", "info")
        .stdout(Stdio::null());
    cmd
}

/// `doorstep serve` on `db` with `args`, on a port of its own, once it
/// answers.
async fn serve(db: &Path, args: &[&str]) -> Served {
    Served::start(serve_command(db, "127.0.0.1:0", args)).await
}

/// The legacy verification of `token` at `port`: (status, `me`).
async fn verify_at(port: u16, token: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/token"))
        .bearer_auth(token)
        .header("Accept", "application/json")
        .send()
        .await
        .expect("verify");
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    (status, body["me"].as_str().unwrap_or_default().to_owned())
}

/// `doorstep doctor --json` with `args`; the named check's status and detail.
async fn doctor_check(db: &Path, args: &[&str], name: &str) -> (String, String) {
    let out = doorstep()
        .args(["doctor", "--json", "--database"])
        .arg(db)
        .args(args)
        .env("DOORSTEP_LOG", "error")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run doorstep doctor");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report:#}"))
        .clone();
    (
        check["status"].as_str().unwrap().to_owned(),
        format!("{} {}", check["detail"], check["fix"]),
    )
}

#[tokio::test]
async fn a_token_issued_before_a_backup_verifies_on_a_new_server_started_on_the_restored_copy() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let before = str_of(&app.token_for(&client, "create").await, "access_token");
    let dir = tempfile::tempdir().unwrap();
    let copy = backup(&app, dir.path());
    let after = str_of(&app.token_for(&client, "create").await, "access_token");

    // A new machine: the backup copied to a fresh path, the same issuer
    // and `me` in the configuration, a server started on it.
    let db = dir.path().join("restored").join("doorstep.db");
    std::fs::create_dir(db.parent().unwrap()).unwrap();
    restore(&copy, &db);
    let issuer = app.issuer();
    let me = app.me();
    let server = serve(&db, &["--issuer", &issuer, "--me", &me]).await;
    let port = server.addr.port();

    assert_eq!(
        verify_at(port, &before).await,
        (200, me.clone()),
        "the token from before the backup verifies, as the same `me`"
    );
    assert_eq!(
        verify_at(port, &after).await.0,
        401,
        "a token issued after the backup is not in it"
    );
    let (status, detail) = doctor_check(
        &db,
        &["--issuer", &issuer, "--me", &me],
        "database identity",
    )
    .await;
    assert_eq!(status, "pass", "{detail}");
    let log = server.stop().await;
    assert!(
        !log.contains(MISMATCH),
        "no warning for the same addresses: {log}"
    );
}

#[tokio::test]
async fn a_database_started_under_another_issuer_is_named_loudly_and_fails_the_doctor() {
    let app = TestApp::spawn().await;
    let client = app.client();
    // One app signed in, so the database holds a token issued as its `me`.
    app.token_for(&client, "create").await;
    let dir = tempfile::tempdir().unwrap();
    let copy = backup(&app, dir.path());
    let db = dir.path().join("doorstep.db");
    restore(&copy, &db);

    // Restored without its configuration: the issuer defaults to the new
    // listen address, with the port it was given.
    let server = serve(&db, &[]).await;
    let port = server.addr.port();
    let other = format!("http://127.0.0.1:{port}/");
    let log = server.stop().await;
    let warning = log
        .lines()
        .find(|l| l.contains(MISMATCH))
        .unwrap_or_else(|| panic!("no warning in: {log}"));
    assert!(warning.contains(" WARN "), "{warning}");
    assert!(
        warning.contains(&format!("made for issuer and profile URL {}", app.issuer())),
        "says what the database was made for: {warning}"
    );
    assert!(
        warning.contains(&format!("names issuer and profile URL {other}")),
        "says what the configuration names: {warning}"
    );
    assert!(
        warning.contains("1 app holds a token") && warning.contains("revoke every app"),
        "says why it matters and what to do: {warning}"
    );

    let (status, detail) = doctor_check(
        &db,
        &["--listen", &format!("127.0.0.1:{port}")],
        "database identity",
    )
    .await;
    assert_eq!(status, "fail", "{detail}");
    assert!(
        detail.contains(&app.issuer()) && detail.contains(&other),
        "{detail}"
    );
    assert!(detail.contains("set `issuer` and `me`"), "{detail}");

    // Nothing was changed: under its own addresses the database starts
    // without a warning.
    let server = serve(&db, &["--issuer", &app.issuer()]).await;
    let log = server.stop().await;
    assert!(!log.contains(MISMATCH), "{log}");
}

#[tokio::test]
async fn revoking_every_app_on_the_dashboard_lets_the_database_adopt_the_configured_addresses() {
    let app = TestApp::spawn().await;
    let client = app.client();
    app.token_for(&client, "create").await;
    // As if this database had been made by a doorstep at another address.
    app.store
        .write(|tx| {
            tx.execute(
                "UPDATE identity SET issuer = 'https://auth.old.example/', me = 'https://old.example/'",
                [],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let recorded = |app: &TestApp| {
        app.store
            .read_now(doorstep::store::identity::recorded)
            .unwrap()
            .unwrap()
    };
    let browser = app.signed_in_browser().await;
    let page = browser.get("/dashboard/grants/revoke-all").await;
    assert_eq!(
        recorded(&app).me,
        "https://old.example/",
        "asking changes nothing"
    );
    let resp = browser.submit(&page, "form#revoke-all", &[], None).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let now = recorded(&app);
    assert_eq!((now.issuer, now.me), (app.issuer(), app.me()));
}
