//! One log line per request off the hot path, with method, route pattern,
//! status and latency — and never the query string, which can carry a
//! setup link or a code. Runs the real binary to read its log.

use crate::cli::{doorstep, set_password_via_cli};
use crate::helpers::*;
use std::process::Stdio;

#[tokio::test]
async fn requests_are_logged_by_route_without_their_query_and_not_on_the_hot_path() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    assert!(
        set_password_via_cli(&db, "the owner's password\n")
            .await
            .status
            .success()
    );
    let mut cmd = doorstep();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(&db)
        .env("DOORSTEP_LOG", "debug")
        .stdout(Stdio::null());
    let served = Served::start(cmd).await;
    let base = served.base();
    let browser = Browser::new(&base);
    let page = browser.get("/setup?token=do-not-log-this-secret").await;
    assert_eq!(page.status, 404);
    let page = browser.get("/login").await;
    assert_eq!(page.status, 200);
    let _ = browser
        .http
        .get(format!("{base}token"))
        .bearer_auth("hot-path-token")
        .send()
        .await
        .unwrap();
    let log = served.stop().await;
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("request")).collect();
    assert!(
        lines.iter().any(|l| l.contains("route=\"/login\"")
            && l.contains("status=200")
            && l.contains("latency_ms")),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("route=\"/setup\"") && l.contains("status=404")),
        "{log}"
    );
    assert!(!log.contains("do-not-log-this-secret"), "{log}");
    assert!(
        !lines.iter().any(|l| l.contains("route=\"/token\"")),
        "{log}"
    );
}
