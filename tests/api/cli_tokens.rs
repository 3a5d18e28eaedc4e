//! `doorstep tokens list|revoke` and `doorstep resource-server
//! add|list|revoke`, run as a separate process against a running server's
//! database: the server must notice changes it did not make (issue 4,
//! items 7 and 9). Also the periodic purge (item 8).

use crate::helpers::*;

fn stdout(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "doorstep failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn tokens_list_and_revoke_from_another_process_take_effect_at_once() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile create").await;
    let access = str_of(&t, "access_token");
    // Warm the server's hot-path views.
    for _ in 0..4 {
        assert_eq!(app.verify_get(&access, None).await.0, 200);
    }
    let list = stdout(&app.cli(&["tokens", "list"]));
    assert!(list.contains(&client.client_id), "{list}");
    assert!(list.contains("profile create"), "{list}");
    let id = list
        .lines()
        .nth(1)
        .and_then(|l| l.split('\t').next())
        .expect("a grant row")
        .to_owned();
    stdout(&app.cli(&["tokens", "revoke", &id]));
    for _ in 0..4 {
        assert_eq!(
            app.verify_get(&access, None).await.0,
            401,
            "seen on the next request"
        );
    }
    assert!(!app.is_active(&access).await);
    let list = stdout(&app.cli(&["tokens", "list"]));
    assert!(!list.contains(&client.client_id), "{list}");
    let again = app.cli(&["tokens", "revoke", &id]);
    assert!(!again.status.success(), "revoking twice says so");
}

#[tokio::test]
async fn resource_server_add_prints_a_secret_once_that_introspects() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let secret = stdout(&app.cli(&["resource-server", "add", "micropub"]))
        .trim()
        .to_owned();
    assert_eq!(secret.len(), 43);
    let a = app
        .introspect(Some(&secret), &[("token", &str_of(&t, "access_token"))])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["active"], serde_json::json!(true));
    // Only the hash is stored.
    let raw: Vec<u8> = app
        .store
        .read(|c| Ok(c.query_row("SELECT secret_hash FROM resource_servers", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(raw.len(), 32);
    assert!(!String::from_utf8_lossy(&raw).contains(&secret));
    let list = stdout(&app.cli(&["resource-server", "list"]));
    assert!(
        list.contains("micropub") && list.contains("active"),
        "{list}"
    );
    assert!(!list.contains(&secret));
    stdout(&app.cli(&["resource-server", "revoke", "1"]));
    let a = app.introspect(Some(&secret), &[("token", "x")]).await;
    assert_eq!(a.status, 401);
}

/// The command line keeps a name as the dashboard does: trimmed, at most
/// 100 characters; a blank one is refused.
#[tokio::test]
async fn resource_server_names_follow_the_dashboard_s_rule() {
    let app = TestApp::spawn().await;
    let long = "m".repeat(150);
    stdout(&app.cli(&["resource-server", "add", &format!("  {long} ")]));
    let name: String = app
        .store
        .read(|c| Ok(c.query_row("SELECT name FROM resource_servers", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(name, "m".repeat(100));
    let blank = app.cli(&["resource-server", "add", "   "]);
    assert!(!blank.status.success());
    assert!(
        String::from_utf8_lossy(&blank.stderr).contains("give the resource server a name"),
        "{blank:?}"
    );
}

#[tokio::test]
async fn housekeeping_purges_expired_codes_sessions_and_dead_tokens() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let short = app.token_with_lifetime(&client, "create", "3600").await;
    let _code_left_unused = app.code_for(&client, "create").await;
    let count = |table: &'static str| {
        let store = app.store.clone();
        async move {
            store
                .read(move |c| {
                    Ok(
                        c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
                            r.get::<_, i64>(0)
                        })?,
                    )
                })
                .await
                .unwrap()
        }
    };
    assert!(count("codes").await >= 1);
    assert!(count("sessions").await >= 1);
    let later = app.clock.now() + 400 * 86_400;
    let removed = app
        .store
        .write(move |tx| doorstep::housekeeping::purge(tx, later))
        .await
        .unwrap();
    assert!(removed > 0);
    assert_eq!(count("codes").await, 0);
    assert_eq!(count("used_codes").await, 0, "tombstones past their use");
    assert_eq!(count("sessions").await, 0);
    assert_eq!(count("access_tokens").await, 0);
    assert_eq!(count("refresh_tokens").await, 0);
    drop(short);
}

/// PRODUCT "never a stack trace": output to a reader that went away
/// (`doorstep tokens list | head -1`, `| true`) ends the command quietly
/// with status 141, as a Unix tool stopped by SIGPIPE, instead of a panic.
#[tokio::test]
async fn output_to_a_closed_pipe_ends_quietly() {
    let app = TestApp::spawn().await;
    for args in [&["tokens", "list"][..], &["resource-server", "list"]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_doorstep"))
            .arg("--database")
            .arg(&app.settings.database)
            .args(args)
            .env_remove("DOORSTEP_CONFIG")
            .env("DOORSTEP_LOG", "warn")
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run doorstep");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}
