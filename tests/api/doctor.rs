//! `doorstep doctor` (PRODUCT "Operations"): the real binary checks a live
//! server through its public URL — directly, or through a small proxy
//! here that behaves like a misconfigured nginx (drops `Authorization`,
//! appends to `X-Forwarded-For`) — and exits non-zero on any failure.

use crate::cli::doorstep;
use crate::helpers::*;
use doorstep::domain::ProfileUrl;
use doorstep::store::events::EventKind;
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Runs `doorstep doctor --json` with the app's issuer and database.
async fn doctor(app: &TestApp, extra: &[&str]) -> (bool, serde_json::Value) {
    doctor_for(app, &app.issuer(), extra).await
}

async fn doctor_for(app: &TestApp, issuer: &str, extra: &[&str]) -> (bool, serde_json::Value) {
    let out = doorstep()
        .args(["doctor", "--json", "--issuer", issuer, "--me", issuer])
        .arg("--database")
        .arg(&app.settings.database)
        .args(extra)
        .env("DOORSTEP_LOG", "error")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run doorstep doctor");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

fn status_of<'a>(report: &'a serde_json::Value, name: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"))["status"]
        .as_str()
        .unwrap()
}

fn fix_of(report: &serde_json::Value, name: &str) -> String {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["fix"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Sets the mode of the database and of its `-wal`/`-shm` files.
#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        if Path::new(&p).exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

async fn backup(app: &TestApp) {
    let target = app.settings.database.with_extension("backup");
    let out = doorstep()
        .arg("--database")
        .arg(&app.settings.database)
        .arg("backup")
        .arg(&target)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_healthy_setup_passes_every_check() {
    let app = TestApp::spawn().await;
    backup(&app).await;
    chmod(&app.settings.database, 0o600);
    let (ok, report) = doctor(&app, &[]).await;
    assert!(ok, "{report:#}");
    for name in [
        "database",
        "database permissions",
        "database integrity",
        "database writable",
        "free disk space",
        "public URL",
        "clock",
        "homepage links",
        "Authorization header",
        "client addresses",
        "backup",
    ] {
        if report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == name)
        {
            assert_eq!(status_of(&report, name), "pass", "{name}: {report:#}");
        }
    }
    // Local development is said, not failed.
    assert_eq!(status_of(&report, "https"), "warn");
    // The doctor's throwaway token is revoked afterwards.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM access_tokens WHERE revoked_at IS NULL")
            .await,
        0
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_readable_database_and_a_missing_or_old_backup_fail_with_fixes() {
    let app = TestApp::spawn().await;
    chmod(&app.settings.database, 0o644);
    let (ok, report) = doctor(&app, &[]).await;
    assert!(!ok);
    assert_eq!(status_of(&report, "database permissions"), "fail");
    assert!(fix_of(&report, "database permissions").contains("chmod 600"));
    assert_eq!(status_of(&report, "backup"), "fail");

    chmod(&app.settings.database, 0o600);
    let long_ago = app.clock.now() - 10 * 86400;
    app.store
        .write(move |tx| {
            doorstep::store::events::record(tx, long_ago, EventKind::Backup, None, Some("old"))
        })
        .await
        .unwrap();
    let (ok, report) = doctor(&app, &[]).await;
    assert!(!ok);
    assert_eq!(status_of(&report, "backup"), "fail", "{report:#}");
    backup(&app).await;
    let (ok, report) = doctor(&app, &[]).await;
    assert!(ok, "{report:#}");
}

#[tokio::test]
async fn a_missing_database_fails_and_is_not_created() {
    let app = TestApp::spawn().await;
    let elsewhere = app.settings.database.with_file_name("nowhere.db");
    let out = doorstep()
        .args(["doctor", "--issuer", &app.issuer(), "--database"])
        .arg(&elsewhere)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("✗ database"), "{text}");
    assert!(text.contains("nowhere.db"), "{text}");
    assert!(!elsewhere.exists(), "the doctor created a database");
}

#[tokio::test]
async fn a_configuration_that_does_not_load_is_a_failed_check() {
    let out = doorstep()
        .args(["doctor", "--json", "--pkce", "sometimes"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status_of(&report, "configuration"), "fail");
    assert!(report.to_string().contains("pkce"));
}

#[tokio::test]
async fn an_unreachable_server_fails_the_public_url_check() {
    let app = TestApp::spawn().await;
    let port = app.unused_port();
    let (ok, report) = doctor_for(&app, &format!("http://127.0.0.1:{port}/"), &[]).await;
    assert!(!ok);
    assert_eq!(status_of(&report, "public URL"), "fail", "{report:#}");
}

/// A proxy like a misconfigured nginx: it appends the client to
/// `X-Forwarded-For` and, when told to, drops `Authorization`.
async fn proxy(listener: TcpListener, upstream: u16, drop_authorization: bool) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if inbound.read(&mut byte).await.unwrap_or(0) == 0 {
                    return;
                }
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
            let request_line = lines.next().unwrap_or_default().to_owned();
            let mut out = format!("{request_line}\r\n");
            let mut forwarded = None;
            let mut length = 0usize;
            for line in lines {
                let Some((name, value)) = line.split_once(':') else {
                    continue;
                };
                let lower = name.trim().to_ascii_lowercase();
                match lower.as_str() {
                    "authorization" if drop_authorization => {}
                    "x-forwarded-for" => forwarded = Some(value.trim().to_owned()),
                    "connection" => {}
                    _ => {
                        if lower == "content-length" {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        out.push_str(line);
                        out.push_str("\r\n");
                    }
                }
            }
            let appended = match forwarded {
                Some(f) => format!("{f}, 127.0.0.1"),
                None => "127.0.0.1".to_owned(),
            };
            out.push_str(&format!(
                "X-Forwarded-For: {appended}\r\nConnection: close\r\n\r\n"
            ));
            let mut body = vec![0u8; length];
            if inbound.read_exact(&mut body).await.is_err() {
                return;
            }
            let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                return;
            };
            let _ = up.write_all(out.as_bytes()).await;
            let _ = up.write_all(&body).await;
            let mut answer = Vec::new();
            let _ = up.read_to_end(&mut answer).await;
            let _ = inbound.write_all(&answer).await;
            let _ = inbound.shutdown().await;
        });
    }
}

/// Starts an app whose public URL is a proxy in front of it.
async fn behind_proxy(drop_authorization: bool, trusted: bool) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!(
        "http://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let app = TestApp::spawn_with(|s| {
        s.issuer = public.parse().unwrap();
        s.me = ProfileUrl::parse(&public, true).unwrap();
        if trusted {
            s.trusted_proxies = "127.0.0.1".parse().unwrap();
        }
    })
    .await;
    tokio::spawn(proxy(listener, app.port, drop_authorization));
    app
}

#[cfg(unix)]
#[tokio::test]
async fn a_proxy_that_drops_authorization_and_is_not_trusted_fails_both_checks() {
    let app = behind_proxy(true, false).await;
    backup(&app).await;
    chmod(&app.settings.database, 0o600);
    let (ok, report) = doctor(&app, &[]).await;
    assert!(!ok, "{report:#}");
    assert_eq!(status_of(&report, "public URL"), "pass", "{report:#}");
    assert_eq!(status_of(&report, "Authorization header"), "fail");
    assert!(fix_of(&report, "Authorization header").contains("proxy_set_header Authorization"));
    // Without the Authorization header the address check cannot ask.
    assert_ne!(status_of(&report, "client addresses"), "pass");
}

#[cfg(unix)]
#[tokio::test]
async fn a_proxy_missing_from_trusted_proxies_fails_the_address_check() {
    let app = behind_proxy(false, false).await;
    backup(&app).await;
    chmod(&app.settings.database, 0o600);
    let (ok, report) = doctor(&app, &[]).await;
    assert!(!ok);
    assert_eq!(
        status_of(&report, "Authorization header"),
        "pass",
        "{report:#}"
    );
    assert_eq!(status_of(&report, "client addresses"), "fail", "{report:#}");
    assert!(fix_of(&report, "client addresses").contains("trusted_proxies"));

    // Trusted, it passes — with a warning only because the doctor runs on
    // the proxy's own machine here.
    let app = behind_proxy(false, true).await;
    backup(&app).await;
    chmod(&app.settings.database, 0o600);
    let (ok, report) = doctor(&app, &["--trusted-proxies", "127.0.0.1"]).await;
    assert!(ok, "{report:#}");
    assert_eq!(status_of(&report, "client addresses"), "warn", "{report:#}");
}
