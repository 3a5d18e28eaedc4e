//! The `doorstep` binary itself (PRODUCT "Interface contract"): setting the
//! password from standard input, configuration errors that name their key,
//! and the one-time setup link `serve` prints when no password is set.

use crate::helpers::*;
use doorstep::owner::password;
use doorstep::store::{Store, owner};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_doorstep");

/// The binary with no `DOORSTEP_*` variables from the environment.
pub(crate) fn doorstep() -> Command {
    without_doorstep_env(Command::new(BIN))
}

/// `cmd` (the binary, or a shell that runs it) with no `DOORSTEP_*`
/// variables from the environment, killed if the test drops it.
pub(crate) fn without_doorstep_env(mut cmd: Command) -> Command {
    for (k, _) in std::env::vars() {
        if k.starts_with("DOORSTEP_") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("RUST_LOG");
    cmd.kill_on_drop(true);
    cmd
}

pub(crate) async fn set_password_via_cli(
    db: &std::path::Path,
    input: &str,
) -> std::process::Output {
    let mut child = doorstep()
        .args(["password", "--stdin", "--database"])
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn doorstep");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

fn stored_hash(db: &std::path::Path) -> Option<String> {
    Store::open(db)
        .expect("open store")
        .read_now(owner::password_hash)
        .expect("read")
}

/// doorstep faces the open internet: the passwords guessed first, and one
/// of spaces only, are refused wherever a password is set (this path and
/// the setup and dashboard forms share `password::hash`).
#[tokio::test]
async fn password_stdin_refuses_the_commonest_passwords_and_blank_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    for (input, said) in [
        ("password\n", "most common"),
        ("12345678\n", "most common"),
        ("        \n", "only spaces"),
    ] {
        let out = set_password_via_cli(&db, input).await;
        assert!(!out.status.success(), "{input:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(said), "{input:?}: {err}");
        assert!(stored_hash(&db).is_none(), "{input:?} was stored");
    }
}

#[tokio::test]
async fn password_stdin_sets_the_password_without_its_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let out = set_password_via_cli(&db, "a new long password\n").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = stored_hash(&db).expect("a password hash");
    assert!(password::verify("a new long password", &hash));
    assert!(!password::verify("a new long password\n", &hash));
}

#[tokio::test]
async fn password_stdin_keeps_all_but_one_trailing_newline_and_inner_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let out = set_password_via_cli(&db, " spaced  password \n\n").await;
    assert!(out.status.success());
    let hash = stored_hash(&db).unwrap();
    assert!(password::verify(" spaced  password \n", &hash));
}

#[tokio::test]
async fn password_stdin_refuses_a_short_password_and_sets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let out = set_password_via_cli(&db, "short\n").await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least"));
    assert!(stored_hash(&db).is_none());
}

#[tokio::test]
async fn password_set_by_the_cli_signs_in_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let app = TestApp::spawn_with(|s| s.database = db.clone()).await;
    let out = set_password_via_cli(&db, "from the command line\n").await;
    assert!(out.status.success());
    let browser = app.browser();
    let page = browser.get("/login").await;
    let resp = browser
        .submit(&page, "form#login", &[("password", PASSWORD)], None)
        .await;
    assert_eq!(resp.status, 401, "the old password is gone");
    let resp = browser
        .submit(
            &page,
            "form#login",
            &[("password", "from the command line")],
            None,
        )
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
}

#[tokio::test]
async fn invalid_configuration_exits_non_zero_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    // Each must be refused before anything binds.
    let listen = "127.0.0.1:0";

    let out = doorstep()
        .args([
            "serve",
            "--code-lifetime",
            "soon",
            "--listen",
            listen,
            "--database",
        ])
        .arg(&db)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("code_lifetime"), "{err}");

    let out = doorstep()
        .args(["serve", "--listen", listen, "--database"])
        .arg(&db)
        .env("DOORSTEP_PKCE", "sometimes")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pkce"), "{err}");

    let config = dir.path().join("doorstep.toml");
    std::fs::write(&config, "colour = \"blue\"\n").unwrap();
    let out = doorstep()
        .args(["serve", "--listen", listen, "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("colour"), "{err}");
}

#[tokio::test]
async fn short_durations_are_accepted_for_code_lifetime() {
    // `password` loads the same configuration as `serve`.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let mut child = doorstep()
        .args(["password", "--stdin", "--code-lifetime", "6", "--database"])
        .arg(&db)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"long enough password").await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn serve_without_a_password_prints_a_one_time_setup_link_that_sets_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    // The public address is not where it listens (as behind a proxy): the
    // link must name the issuer.
    let issuer = "http://doorstep.localhost/";
    let mut cmd = doorstep();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--issuer", issuer])
        .arg("--database")
        .arg(&db)
        .stdout(Stdio::piped());
    let mut served = Served::start(cmd).await;
    let base = served.base();
    let mut lines = BufReader::new(served.child.stdout.take().unwrap()).lines();
    let find_link = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(i) = line.find(&format!("{issuer}setup?token=")) {
                return line[i..].trim().to_owned();
            }
        }
        panic!("doorstep exited without printing a setup link");
    };
    let link = tokio::time::timeout(PROCESS_PATIENCE, find_link)
        .await
        .expect("setup link printed");
    // Reached, as a proxy would pass it on, at the address it listens on.
    let link = link.replacen(issuer, &base, 1);

    let browser = Browser::new(&base);
    let page = browser.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let chosen = "my brand new password";
    let resp = browser
        .submit(
            &page,
            "form#setup",
            &[("password", chosen), ("confirm", chosen)],
            None,
        )
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    assert_eq!(resp.location.as_deref(), Some("/dashboard"));
    let dashboard = browser.get("/dashboard").await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert!(dashboard.body.contains(issuer), "{}", dashboard.body);

    // The link works once.
    let again = Browser::new(&base).get(&link).await;
    assert_eq!(again.status, 404);
    // And the password is the one chosen.
    let fresh = Browser::new(&base);
    let login = fresh.get("/login").await;
    let resp = fresh
        .submit(&login, "form#login", &[("password", chosen)], None)
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);

    served.stop().await;
}

/// Under systemd standard error is journald: no colour codes when it is
/// not a terminal. `RUST_LOG` does not silently override the `log` key.
#[tokio::test]
async fn logs_carry_no_colour_codes_off_a_terminal_and_rust_log_does_not_override_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let run = |log: &'static str, rust_log: Option<&'static str>| {
        let db = db.clone();
        async move {
            let mut cmd = doorstep();
            cmd.args(["password", "--stdin", "--database"])
                .arg(&db)
                .env("DOORSTEP_LOG", log)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if let Some(r) = rust_log {
                cmd.env("RUST_LOG", r);
            }
            let mut child = cmd.spawn().unwrap();
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"long enough password").await.unwrap();
            drop(stdin);
            let out = child.wait_with_output().await.unwrap();
            assert!(out.status.success());
            String::from_utf8_lossy(&out.stderr).into_owned()
        }
    };
    let first = run("info", None).await;
    assert!(first.contains("migration"), "{first}");
    assert!(!first.contains('\u{1b}'), "no ANSI escapes: {first:?}");

    std::fs::remove_file(&db).unwrap();
    let quiet = run("warn", Some("trace")).await;
    assert!(!quiet.contains("migration"), "`log = warn` holds: {quiet}");
    assert!(
        quiet.contains("RUST_LOG"),
        "and says RUST_LOG was ignored: {quiet}"
    );
}
