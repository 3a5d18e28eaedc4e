//! Memory of the real binary under repeated password checks: argon2's
//! 19 MiB working block must be given back after each check, not left
//! behind per sign-in (a stranger posting wrong passwords could otherwise
//! grow the process until the kernel kills it on a small VPS), nor held
//! while the server is idle. Runs the `doorstep` binary so that its
//! resident size is its own, not the test process's.

use crate::cli::{doorstep, set_password_via_cli};
use crate::helpers::*;
use std::process::Stdio;

/// A figure of `pid` in KiB from /proc/PID/status: `VmRSS` (all resident
/// memory) or `RssAnon` (the part that is not pages of files, such as the
/// binary's code).
#[cfg(target_os = "linux")]
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

#[cfg(target_os = "linux")]
fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_hundred_password_checks_leave_resident_memory_where_one_left_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let out = set_password_via_cli(&db, "the owner's password\n").await;
    assert!(out.status.success());
    let mut cmd = doorstep();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(&db)
        // Quiet, but for the line that says where it listens.
        .env("DOORSTEP_LOG", "error,doorstep=info")
        .stdout(Stdio::null());
    let served = Served::start(cmd).await;
    let pid = served.pid();
    let browser = Browser::new(&served.base());
    // The login page first, so that the figure before holds what any
    // request sets up (the connection, the templates).
    assert_eq!(browser.get("/login").await.status, 200);
    let anon_before = status_kib(pid, "RssAnon");

    assert_eq!(
        browser.sign_in("the owner's password", None).await.status,
        303
    );
    let after_one = rss_kib(pid);
    let anon_after_one = status_kib(pid, "RssAnon");
    // Right and wrong passwords both run argon2; a right one after each
    // wrong one keeps this address clear of the lockout.
    for i in 1..100 {
        let (password, expected) = if i % 3 == 0 {
            ("not the password at all", 401)
        } else {
            ("the owner's password", 303)
        };
        assert_eq!(
            browser.sign_in(password, None).await.status,
            expected,
            "sign-in {i}"
        );
    }
    let after_hundred = rss_kib(pid);
    println!(
        "anonymous memory before any sign-in: {anon_before} KiB, after 1: {anon_after_one} KiB; \
         RSS after 1 sign-in: {after_one} KiB; after 100 (right and wrong): {after_hundred} KiB"
    );
    served.stop().await;
    // Holding the 19 MiB block would show as at least 19 MiB more.
    assert!(
        anon_after_one < anon_before + 8 * 1024,
        "one password check left {} KiB of anonymous memory behind: argon2's block was kept",
        anon_after_one.saturating_sub(anon_before)
    );
    assert!(
        after_hundred < after_one + 4 * 1024,
        "resident memory grew from {after_one} KiB to {after_hundred} KiB over 100 password checks"
    );
}
