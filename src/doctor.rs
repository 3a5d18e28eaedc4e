//! `doorstep doctor`: tells the owner, in plain words, whether sign-in will
//! work from the outside. It reads the same configuration as `serve`,
//! looks at the database file, and then talks to the running server
//! through its *public* URL — the way apps and Micropub servers will —
//! with a throwaway token it issues for itself and revokes afterwards.
//!
//! Each check ends as passed, a warning (worth knowing, not broken) or
//! failed with a fix. The command exits non-zero when any check failed.
//! It never creates a database. The checks made here are the local ones
//! (configuration, the database file, disk space, backups); those made
//! through the public URL are in `public`.

use crate::clock::UnixTime;
use crate::config::Settings;
use crate::errors::error_chain;
use crate::store::events::EventKind;
use crate::store::{Store, StoreError, events, identity, tokens};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod public;

pub use public::judge_addresses;
use public::{http_client, public_checks};

/// The client id of the doctor's own throwaway grants. `.invalid` never
/// resolves (RFC 2606), so no app can ever hold this client id.
pub const DOCTOR_CLIENT_ID: &str = "https://doorstep.invalid/doctor";

/// What `GET /doctor/address` answers.
#[derive(Debug, Serialize, Deserialize)]
pub struct AddressReport {
    /// The TCP peer doorstep sees (the proxy, when there is one).
    pub peer: String,
    pub peer_is_trusted_proxy: bool,
    /// The client address doorstep settles on (the one limits apply to).
    pub client: String,
    /// The `X-Forwarded-For` that reached doorstep, as one line.
    pub forwarded_for: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    fn warn(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Warn,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Limits the doctor judges by; tests shorten nothing here, they move
/// the clock they pass to `run`.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A backup older than this is reported as failed.
    pub backup_max_age: i64,
    /// Server and this machine may disagree on the time by this much.
    pub clock_tolerance: i64,
    /// Free space below this on the database's file system is a failure.
    pub min_free_bytes: u64,
    pub http_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            backup_max_age: 2 * 24 * 3600,
            clock_tolerance: 60,
            min_free_bytes: 100 * 1024 * 1024,
            http_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub issuer: String,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failures(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count()
    }

    /// The report for a person at a terminal: ✓, ! or ✗ per check, a fix
    /// under each ✗.
    pub fn text(&self) -> String {
        let mut out = format!("doorstep doctor — {}\n\n", self.issuer);
        for c in &self.checks {
            let mark = match c.status {
                Status::Pass => "✓",
                Status::Warn => "!",
                Status::Fail => "✗",
            };
            out.push_str(&format!("{mark} {}: {}\n", c.name, c.detail));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("    fix: {fix}\n"));
            }
        }
        match self.failures() {
            0 => out.push_str("\nAll checks passed.\n"),
            1 => out.push_str("\n1 check failed.\n"),
            n => out.push_str(&format!("\n{n} checks failed.\n")),
        }
        out
    }
}

/// The report when the configuration itself cannot be loaded.
pub fn configuration_failed(message: &str) -> Report {
    Report {
        issuer: String::new(),
        checks: vec![Check::fail(
            "configuration",
            message,
            "correct the key named above where the message says it was set: the file given \
             with --config (or DOORSTEP_CONFIG), its DOORSTEP_* environment variable, or its \
             command-line flag",
        )],
    }
}

/// Runs every check. `now` is this machine's clock.
pub async fn run(settings: &Settings, now: UnixTime, limits: &Limits) -> Report {
    let mut checks = vec![configuration(settings)];
    let store = database_checks(settings, now, limits, &mut checks);
    match http_client(limits) {
        Ok(client) => {
            public_checks(settings, store.as_ref(), &client, now, limits, &mut checks).await
        }
        Err(e) => checks.push(Check::fail(
            "public URL",
            format!("could not set up an HTTP client: {e}"),
            "this is a bug in doorstep; please report it",
        )),
    }
    match &store {
        Some(store) => checks.push(backup_age(store, now, limits)),
        None => checks.push(Check::fail(
            "backup",
            "no database, so no backup to look for",
            "fix the database first",
        )),
    }
    Report {
        issuer: settings.issuer_str().to_owned(),
        checks,
    }
}

fn configuration(settings: &Settings) -> Check {
    if settings.local_development {
        Check::warn(
            "configuration",
            format!(
                "loaded; local development mode: {}",
                settings.local_development_warning()
            ),
        )
    } else {
        Check::pass(
            "configuration",
            format!(
                "loaded: issuer {}, profile URL {}",
                settings.issuer_str(),
                settings.me.as_str()
            ),
        )
    }
}

/// The file checks; returns the opened store when there is a usable one.
fn database_checks(
    settings: &Settings,
    now: UnixTime,
    limits: &Limits,
    checks: &mut Vec<Check>,
) -> Option<Store> {
    let path = settings.database.as_path();
    let shown = path.display();
    if !path.is_file() {
        checks.push(match Store::missing_with_leftovers(path) {
            // The server's own words: a copy saved when the file went away,
            // or a -wal left of it, which `serve` will not start over.
            Some(trouble) => Check::fail(
                "database",
                format!("there is no database at {shown}: {trouble}"),
                "keep or remove what is left, as said, then start `doorstep serve`",
            ),
            None => Check::fail(
                "database",
                format!("there is no database at {shown}"),
                "point doorstep at the right file with --database or `database` in the \
                 configuration, or run `doorstep serve` once to create it",
            ),
        });
        return None;
    }
    checks.push(file_mode(path));
    let store = match Store::open_existing(path) {
        Ok(s) => s,
        Err(e) => {
            let fix = match &e {
                StoreError::TooOld { .. } => {
                    "the server running now is older than this doctor: restart it with this \
                     version (`systemctl restart doorstep`), which upgrades the database"
                }
                StoreError::TooNew { .. } => {
                    "run the newer doorstep that upgraded it, or restore a backup made before \
                     the upgrade"
                }
                _ => "check that the file is a doorstep database and that this user may write it",
            };
            checks.push(Check::fail(
                "database",
                format!("cannot open {shown}: {}", error_chain(&e)),
                fix,
            ));
            return None;
        }
    };
    checks.push(match store.read_now(crate::store::quick_check) {
        Ok(problems) if problems.is_empty() => {
            Check::pass("database integrity", format!("{shown} is consistent"))
        }
        Ok(problems) => Check::fail(
            "database integrity",
            format!("{shown} is damaged: {}", problems.join("; ")),
            "stop doorstep and restore the latest backup (see README, Backups)",
        ),
        Err(e) => Check::fail(
            "database integrity",
            format!("could not check {shown}: {}", error_chain(&e)),
            "stop doorstep and restore the latest backup (see README, Backups)",
        ),
    });
    checks.push(match store.probe_write() {
        Ok(()) => Check::pass("database writable", "a write was committed"),
        Err(e) => Check::fail(
            "database writable",
            format!("cannot write to {shown}: {}", error_chain(&e)),
            "make the file and its directory writable by the user doorstep runs as",
        ),
    });
    checks.push(free_space(path, limits));
    checks.push(database_identity(&store, settings, now));
    Some(store)
}

/// Whether the database was made for the issuer and profile URL this
/// configuration names (`store::identity`): a backup restored under other
/// addresses would mix two identities in token answers.
fn database_identity(store: &Store, settings: &Settings, now: UnixTime) -> Check {
    let name = "database identity";
    let configured = identity::Identity::new(settings.issuer_str(), settings.me.as_str());
    let me = configured.me.clone();
    let found = store.read_now(move |c| {
        let recorded = identity::recorded(c)?;
        let live_apps = tokens::count_active_grants(c, now)?;
        let other = match recorded {
            Some(_) => None,
            None => tokens::live_grants_issued_as_another(c, &me, now)?,
        };
        Ok((recorded, live_apps, other))
    });
    match found {
        Ok((Some(recorded), _, _)) if recorded == configured => Check::pass(
            name,
            format!("made for {}, as configured", identity::describe(&recorded)),
        ),
        Ok((Some(recorded), 0, _)) => Check::fail(
            name,
            format!(
                "the database was made for {}, but the configuration names {}; no app holds a \
                 token from then",
                identity::describe(&recorded),
                identity::describe(&configured)
            ),
            "restart doorstep (`sudo systemctl restart doorstep`): it records the configured \
             addresses at start-up. If the server runs with another configuration than this \
             command read, run `doorstep doctor` with the server's --config",
        ),
        Ok((Some(recorded), live_apps, _)) => Check::fail(
            name,
            identity::mismatch_message(&recorded, &configured, live_apps),
            identity::MISMATCH_FIX,
        ),
        Ok((None, _, Some((me, live_apps)))) => Check::fail(
            name,
            identity::issued_as_another_message(&me, &configured, live_apps),
            identity::ISSUED_AS_ANOTHER_FIX,
        ),
        Ok((None, _, None)) => Check::warn(
            name,
            "not recorded yet: `doorstep serve` records the issuer and profile URL the database \
             belongs to when it next starts",
        ),
        Err(e) => Check::fail(
            name,
            format!("could not read it: {}", error_chain(&e)),
            "fix the database problems above",
        ),
    }
}

fn file_mode(path: &Path) -> Check {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        // Files another user owns: `chmod 600` alone would lock doorstep's
        // own user out of them, so the fix gives them back first. (Root may
        // write anything, and SQLite gives the -wal and -shm files it
        // creates as root to the database's owner.)
        let me = rustix::process::geteuid().as_raw();
        let foreign: Vec<PathBuf> = std::iter::once(path.to_path_buf())
            .chain(["-wal", "-shm"].iter().map(|suffix| {
                let mut p = path.as_os_str().to_owned();
                p.push(suffix);
                PathBuf::from(p)
            }))
            .filter(|p| me != 0 && std::fs::metadata(p).is_ok_and(|m| m.uid() != me))
            .collect();
        if !foreign.is_empty() {
            let names: Vec<String> = foreign.iter().map(|p| p.display().to_string()).collect();
            let verb = if names.len() == 1 {
                "belongs"
            } else {
                "belong"
            };
            return Check::fail(
                "database permissions",
                format!(
                    "{} {verb} to another user than this one (uid {me}), which doorstep may not \
                     be able to write",
                    names.join(", ")
                ),
                format!(
                    "run doctor as the user doorstep runs as; if that is this user, \
                     `sudo chown {me} {0}` and then `chmod 600 {0}`",
                    names.join(" ")
                ),
            );
        }
        let mut loose = Vec::new();
        let mut candidates = vec![path.to_path_buf()];
        for suffix in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            candidates.push(p.into());
        }
        for p in candidates {
            if let Ok(meta) = std::fs::metadata(&p) {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    loose.push((p, mode));
                }
            }
        }
        if loose.is_empty() {
            return Check::pass(
                "database permissions",
                "only doorstep's user can read the database",
            );
        }
        let names: Vec<String> = loose
            .iter()
            .map(|(p, m)| format!("{} (mode {m:o})", p.display()))
            .collect();
        let fix: Vec<String> = loose
            .iter()
            .map(|(p, _)| format!("chmod 600 {}", p.display()))
            .collect();
        Check::fail(
            "database permissions",
            format!(
                "other users can read the password hash and every grant: {}",
                names.join(", ")
            ),
            fix.join(" && "),
        )
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Check::warn("database permissions", "not checked on this system")
    }
}

fn free_space(path: &Path, limits: &Limits) -> Check {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    match rustix::fs::statvfs(dir) {
        Ok(st) => {
            let free = st.f_bavail.saturating_mul(st.f_frsize);
            let mib = free / (1024 * 1024);
            if free < limits.min_free_bytes {
                Check::fail(
                    "free disk space",
                    format!("only {mib} MiB free where the database lives"),
                    "free some space: SQLite refuses writes (sign-ins, new tokens) on a full disk",
                )
            } else {
                Check::pass("free disk space", format!("{mib} MiB free"))
            }
        }
        Err(e) => Check::warn("free disk space", format!("could not measure it: {e}")),
    }
}

/// `doorstep backup` records each backup; the newest must be recent.
fn backup_age(store: &Store, now: UnixTime, limits: &Limits) -> Check {
    let name = "backup";
    let fix = "run `doorstep backup FILE` daily (see README, Backups: a systemd timer in contrib/)";
    match store.read_now(|c| events::last_at(c, EventKind::Backup)) {
        Ok(Some(at)) if now - at <= limits.backup_max_age => Check::pass(
            name,
            format!("the last backup was {} ago", human_age(now - at)),
        ),
        Ok(Some(at)) => Check::fail(
            name,
            format!("the last backup was {} ago", human_age(now - at)),
            fix,
        ),
        Ok(None) => Check::fail(name, "no backup has been made with `doorstep backup`", fix),
        Err(e) => Check::fail(
            name,
            format!("could not read the backup record: {}", error_chain(&e)),
            fix,
        ),
    }
}

fn human_age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} seconds"),
        s if s < 2 * 3600 => format!("{} minutes", s / 60),
        s if s < 2 * 86400 => format!("{} hours", s / 3600),
        s => format!("{} days", s / 86400),
    }
}
