//! One log line per request off the hot path, with method, route pattern,
//! status and latency — and never the query string, which can carry a
//! setup link or a code. Runs the real binary to read its log.

use crate::cli::{doorstep, set_password_via_cli};
use crate::helpers::*;
use std::process::Stdio;
use tokio::io::AsyncReadExt;

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
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = doorstep()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
        ])
        .arg(&db)
        .env("DOORSTEP_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn doorstep serve");
    let browser = Browser::new(&base);
    let mut up = false;
    for _ in 0..600 {
        if browser
            .http
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "doorstep did not start");
    let page = browser.get("/setup?token=do-not-log-this-secret").await;
    assert_eq!(page.status, 404);
    let page = browser.get("/login").await;
    assert_eq!(page.status, 200);
    let _ = browser
        .http
        .get(format!("{base}/token"))
        .bearer_auth("hot-path-token")
        .send()
        .await
        .unwrap();
    child.start_kill().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .await
        .unwrap();
    let _ = child.wait().await;
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
