//! A real browser against the real binary: Debian's Chromium, driven by
//! `tests/browser/passkey.mjs` (playwright-core, no browser download of its
//! own), adds a passkey from the dashboard through Chromium's virtual
//! authenticator, signs out, signs in with it (the browser's autofill, then
//! the button), and signs in by password with JavaScript off. This is the
//! only test that runs `static/webauthn.js`; the others speak WebAuthn with
//! a software authenticator in Rust.
//!
//! The issuer is `http://localhost:PORT/`: browsers allow WebAuthn on
//! `localhost` over plain http, never on `127.0.0.1`.
//!
//! Needs `/usr/bin/chromium`, `node`, and `npm ci --prefix tests/browser`
//! (the test itself never fetches anything). If any is missing the test
//! says so loudly and passes, except under CI (env `CI` set), where it
//! fails: `.ci/run` installs them.

use crate::cli::{doorstep, set_password_via_cli};
use crate::helpers::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// What is missing for this test, if anything.
fn missing() -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!(
            "{CHROMIUM} is not installed (`apt-get install chromium`)"
        ));
    }
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        return Some("node is not installed (`apt-get install nodejs npm`)".to_owned());
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        return Some(
            "playwright-core is not installed (`npm ci --prefix tests/browser`)".to_owned(),
        );
    }
    None
}

/// Whether the browser test can run; without what it needs, outside CI,
/// says so and skips.
fn browser_ready() -> bool {
    let Some(what) = missing() else {
        return true;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} under CI: .ci/run installs it, and the browser test must not be skipped there"
    );
    // Written to the real standard error, not through `eprintln!`, which
    // the test harness captures and hides for a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "\n\n*** SKIPPED: {what}, so the real-browser passkey test did NOT run. ***\n\n"
    );
    false
}

#[tokio::test]
async fn a_passkey_added_in_chromium_signs_in_and_the_password_works_without_javascript() {
    if !browser_ready() {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let password = "the owner's long password";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let out = set_password_via_cli(&db, &format!("{password}\n")).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // WebAuthn wants `localhost`, so the issuer names the port: one that
    // was free, which the server then binds (or tries another).
    let server = Served::start_on_free_port(|port| {
        let mut cmd = doorstep();
        cmd.args(["serve", "--issuer", &format!("http://localhost:{port}/")])
            .args(["--listen", &format!("127.0.0.1:{port}"), "--database"])
            .arg(&db)
            .env("DOORSTEP_LOG", "warn,doorstep=info")
            .stdout(Stdio::null());
        cmd
    })
    .await;
    let base = format!("http://localhost:{}/", server.addr.port());

    let script = browser_dir().join("passkey.mjs");
    let run = node()
        .arg(&script)
        .arg(&base)
        .arg(password)
        .stdin(Stdio::null())
        .output();
    // Only so that a wedged browser ends the test instead of hanging it;
    // the script's own steps time out long before this.
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the browser script did not finish")
        .expect("run node");
    let server_log = server.stop().await;
    println!(
        "--- passkey.mjs stdout\n{}\n--- passkey.mjs stderr\n{}\n--- doorstep's log\n{server_log}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "the browser script failed ({}); its output is above",
        out.status
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("browser passkey test passed"));
}

/// `node`, killed if the test drops it.
fn node() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("node");
    cmd.kill_on_drop(true);
    cmd
}
