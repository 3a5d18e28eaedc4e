//! The files shipped for running doorstep, tested so they cannot drift from
//! the code: `doorstep.example.toml` goes through the real configuration
//! loader and names every key, and `contrib/doorstep-backup` (run daily by
//! the systemd timer) keeps the newest copies and never loses one when a
//! backup fails. The systemd units are checked by `.ci/verify-units`, and
//! `contrib/nginx.conf` by the `proxy` tests.

use crate::helpers::*;
use doorstep::config::{self, KEYS, Settings};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/doorstep.example.toml");
const BACKUP_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/doorstep-backup");

/// The key of a commented-out setting line, `# key = value`: a name of
/// lower-case letters and underscores before ` = `.
fn commented_key(line: &str) -> Option<&str> {
    let (key, _) = line.strip_prefix("# ")?.split_once(" = ")?;
    (!key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')).then_some(key)
}

fn load(text: &str) -> Result<(config::RawValues, Settings), config::ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("doorstep.toml");
    std::fs::write(&path, text).expect("write");
    let raw = config::read_toml(&path)?;
    let settings = Settings::from_raw(&raw)?;
    Ok((raw, settings))
}

#[test]
fn the_example_configuration_as_shipped_is_all_defaults() {
    let text = std::fs::read_to_string(EXAMPLE).expect("doorstep.example.toml");
    let (raw, settings) = load(&text).expect("the example loads");
    assert!(raw.is_empty(), "set as shipped: {raw:?}");
    assert_eq!(settings.issuer.as_str(), "http://127.0.0.1:8080/");
}

#[test]
fn the_example_configuration_with_every_setting_uncommented_loads_and_names_every_key() {
    let text = std::fs::read_to_string(EXAMPLE).expect("doorstep.example.toml");
    let uncommented: String = text
        .lines()
        .map(|line| match commented_key(line) {
            Some(_) => &line[2..],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    // read_toml refuses a key it does not know, so a key that was removed
    // or misspelt fails here.
    let (raw, settings) = load(&uncommented).unwrap_or_else(|e| panic!("{e}"));
    let known: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    let set: Vec<&str> = raw.keys().map(String::as_str).collect();
    let mut missing: Vec<&str> = known.iter().copied().filter(|k| !set.contains(k)).collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "doorstep.example.toml has no `# key = value` line for {missing:?}"
    );
    // Uncommented, it is a coherent public setup.
    assert_eq!(settings.issuer.as_str(), "https://auth.example.com/");
    assert_eq!(settings.me.as_str(), "https://example.com/");
    assert!(!settings.local_development);
    assert_eq!(
        settings.database,
        PathBuf::from("/var/lib/doorstep/doorstep.db")
    );
    assert_eq!(settings.trusted_proxies.to_string(), "127.0.0.1");
}

/// Each setting's paragraph says its default (as its declaration in
/// `config::keys` gives it) and its environment variable.
#[test]
fn every_key_in_the_example_configuration_says_its_default_and_environment_variable() {
    let text = std::fs::read_to_string(EXAMPLE).expect("doorstep.example.toml");
    for spec in KEYS {
        let key = spec.name;
        let paragraph = text
            .split("\n\n")
            .find(|p| p.lines().any(|l| commented_key(l) == Some(key)))
            .unwrap_or_else(|| panic!("no paragraph for `{key}`"));
        let env = format!("# Environment: {}", spec.env_var());
        assert!(
            paragraph.lines().any(|l| l == env),
            "`{key}` should say `{env}`:\n{paragraph}"
        );
        let said = paragraph
            .lines()
            .find_map(|l| l.strip_prefix("# Default: "))
            .unwrap_or_else(|| panic!("`{key}` says no default:\n{paragraph}"));
        assert_eq!(said, spec.default_text(), "the default of `{key}`");
    }
}

/// Runs `contrib/doorstep-backup` with the built binary on `database`.
fn run_backup(database: &Path, dir: &Path, keep: &str) -> Output {
    Command::new(BACKUP_SCRIPT)
        .env("BACKUP_DIR", dir)
        .env("BACKUP_KEEP", keep)
        .env("BACKUP_DOORSTEP", env!("CARGO_BIN_EXE_doorstep"))
        .env("DOORSTEP_DATABASE", database)
        .env("DOORSTEP_LOG", "warn")
        .env_remove("DOORSTEP_CONFIG")
        .output()
        .expect("run contrib/doorstep-backup")
}

/// Every file in `dir`, sorted by name.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn access_tokens_in(copy: &Path) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(copy, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the copy");
    conn.query_row("SELECT count(*) FROM access_tokens", [], |r| r.get(0))
        .expect("count")
}

#[tokio::test]
async fn the_daily_backup_keeps_the_newest_copies_readable_only_by_their_owner() {
    let app = TestApp::spawn().await;
    let client = app.client();
    app.token_for(&client, "create").await;
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("backups");

    let mut made = Vec::new();
    for _ in 0..3 {
        let run = run_backup(&app.settings.database, &dir, "2");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let said = String::from_utf8_lossy(&run.stdout);
        assert!(
            !said.contains(".partial"),
            "it names the final copy: {said}"
        );
        let now = files_in(&dir);
        made.extend(
            now.iter()
                .filter(|n| !made.contains(*n))
                .cloned()
                .collect::<Vec<_>>(),
        );
        let newest = made.last().expect("a copy");
        assert!(
            said.contains(&format!("backed up to {}/{newest}", dir.display())),
            "{said}"
        );
    }
    assert_eq!(made.len(), 3, "each run made a new copy: {made:?}");

    // The oldest went; the two newest stayed, and nothing half-written.
    assert_eq!(files_in(&dir), made[1..].to_vec());
    for name in &made[1..] {
        assert!(
            name.starts_with("doorstep-") && name.ends_with(".db"),
            "{name}"
        );
        let path = dir.join(name);
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} is mode {mode:o}");
        assert_eq!(access_tokens_in(&path), 1, "{name} holds the token");
    }
}

#[tokio::test]
async fn a_failed_backup_deletes_no_older_copy_and_leaves_no_partial_file() {
    let app = TestApp::spawn().await;
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("backups");
    for _ in 0..2 {
        let run = run_backup(&app.settings.database, &dir, "2");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let before = files_in(&dir);
    assert_eq!(before.len(), 2);

    // The database cannot be opened: doorstep refuses, and the script says so.
    let unreadable = out.path().join("no such directory").join("doorstep.db");
    let run = run_backup(&unreadable, &dir, "2");
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("backup failed"), "{stderr}");
    assert_eq!(files_in(&dir), before);

    // A nonsensical count deletes nothing either.
    for keep in ["0", "-1", "many"] {
        let run = run_backup(&app.settings.database, &dir, keep);
        assert_eq!(run.status.code(), Some(2), "BACKUP_KEEP={keep:?}");
        assert_eq!(files_in(&dir), before, "BACKUP_KEEP={keep:?}");
    }
}
