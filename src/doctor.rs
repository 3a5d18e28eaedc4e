//! `doorstep doctor`: tells the owner, in plain words, whether sign-in will
//! work from the outside. It reads the same configuration as `serve`,
//! looks at the database file, and then talks to the running server
//! through its *public* URL — the way apps and Micropub servers will —
//! with a throwaway token it issues for itself and revokes afterwards.
//!
//! Each check ends as passed, a warning (worth knowing, not broken) or
//! failed with a fix. The command exits non-zero when any check failed.
//! It never creates a database.

use crate::clock::UnixTime;
use crate::config::Settings;
use crate::domain::{ClientId, ScopeSet, Secret, is_loopback_ip};
use crate::errors::error_chain;
use crate::store::events::EventKind;
use crate::store::{Store, events, tokens};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// The client id of the doctor's own throwaway grants. `.invalid` never
/// resolves (RFC 2606), so no app can ever hold this client id.
pub const DOCTOR_CLIENT_ID: &str = "https://doorstep.invalid/doctor";

/// An address from the documentation range (RFC 5737) that the doctor
/// claims in `X-Forwarded-For`: if the server believes it, anyone can
/// choose their address.
const SPOOFED_ADDRESS: &str = "192.0.2.77";

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
            "correct the key named above in the file given with --config (or DOORSTEP_CONFIG), \
             or in the DOORSTEP_* environment variable",
        )],
    }
}

/// Runs every check. `now` is this machine's clock.
pub async fn run(settings: &Settings, now: UnixTime, limits: &Limits) -> Report {
    let mut checks = vec![configuration(settings)];
    let store = database_checks(&settings.database, now, limits, &mut checks);
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
    path: &Path,
    now: UnixTime,
    limits: &Limits,
    checks: &mut Vec<Check>,
) -> Option<Store> {
    let shown = path.display();
    if !path.is_file() {
        checks.push(Check::fail(
            "database",
            format!("there is no database at {shown}"),
            "point doorstep at the right file with --database or `database` in the \
             configuration, or run `doorstep serve` once to create it",
        ));
        return None;
    }
    checks.push(file_mode(path));
    let store = match Store::open_existing(path) {
        Ok(s) => s,
        Err(e) => {
            checks.push(Check::fail(
                "database",
                format!("cannot open {shown}: {}", error_chain(&e)),
                "check that the file is a doorstep database and that this user may write it",
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
    checks.push(match store.write_now(|_tx| Ok(())) {
        Ok(()) => Check::pass("database writable", "a write transaction succeeded"),
        Err(e) => Check::fail(
            "database writable",
            format!("cannot write to {shown}: {}", error_chain(&e)),
            "make the file and its directory writable by the user doorstep runs as",
        ),
    });
    checks.push(free_space(path, limits));
    let _ = now;
    Some(store)
}

fn file_mode(path: &Path) -> Check {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
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

fn http_client(limits: &Limits) -> Result<reqwest::Client, reqwest::Error> {
    crate::clients::ensure_tls_provider();
    reqwest::Client::builder()
        .timeout(limits.http_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("doorstep-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
}

async fn public_checks(
    settings: &Settings,
    store: Option<&Store>,
    client: &reqwest::Client,
    now: UnixTime,
    limits: &Limits,
    checks: &mut Vec<Check>,
) {
    checks.push(if settings.issuer.scheme() == "https" {
        Check::pass(
            "https",
            format!("the public URL {} uses https", settings.issuer_str()),
        )
    } else {
        Check::warn(
            "https",
            format!(
                "{} is plain http: fine on this machine for development, refused by apps elsewhere",
                settings.issuer_str()
            ),
        )
    });
    let reachable = metadata_and_clock(settings, client, now, limits, checks).await;
    if !reachable {
        return;
    }
    checks.push(homepage(settings, client).await);
    let Some(store) = store else {
        return;
    };
    let token = Secret::generate();
    let grant = match issue_throwaway(store, &token, settings, now) {
        Ok(g) => g,
        Err(e) => {
            checks.push(Check::fail(
                "Authorization header",
                format!("could not issue a test token: {}", error_chain(e.as_ref())),
                "fix the database problems above",
            ));
            return;
        }
    };
    checks.push(authorization_header(settings, client, &token).await);
    checks.push(forwarded_for(settings, client, &token).await);
    if let Err(e) = store.write_now(move |tx| tokens::revoke_grant(tx, grant, now).map(|_| ())) {
        checks.push(Check::fail(
            "test token",
            format!(
                "could not revoke the doctor's test token: {}",
                error_chain(&e)
            ),
            format!("run `doorstep tokens revoke {grant}`"),
        ));
    }
}

/// The metadata document through the public URL, and the server's clock
/// from that answer's `Date`. Returns whether the server answered at all.
async fn metadata_and_clock(
    settings: &Settings,
    client: &reqwest::Client,
    now: UnixTime,
    limits: &Limits,
    checks: &mut Vec<Check>,
) -> bool {
    let url = settings.metadata_url();
    let resp = match client.get(&url).send().await {
        Ok(r) => r,
        Err(e) => {
            checks.push(Check::fail(
                "public URL",
                format!("could not reach {url}: {}", error_chain(&e)),
                "start doorstep (`doorstep serve` or `systemctl start doorstep`), and check \
                 that DNS, the firewall and the reverse proxy send the issuer's host to \
                 doorstep's `listen` address",
            ));
            return false;
        }
    };
    let status = resp.status();
    let date = resp
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok());
    let body: Option<serde_json::Value> = json_body(resp).await;
    let issuer = body
        .as_ref()
        .and_then(|b| b.get("issuer"))
        .and_then(|i| i.as_str())
        .map(str::to_owned);
    checks.push(match (status.as_u16(), issuer) {
        (200, Some(i)) if i == settings.issuer_str() => Check::pass(
            "public URL",
            format!("{url} serves this doorstep's metadata"),
        ),
        (200, Some(i)) => Check::fail(
            "public URL",
            format!("{url} names the issuer {i}, not {}", settings.issuer_str()),
            "the public URL reaches another doorstep (or one with another `issuer`): point \
             the proxy at this one, or make `issuer` match",
        ),
        (code, _) => Check::fail(
            "public URL",
            format!("{url} answered HTTP {code} without doorstep's metadata"),
            "make the reverse proxy pass every path on the issuer's host to doorstep",
        ),
    });
    checks.push(match date {
        Some(server_time) => {
            let server = server_time
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let skew = server - now;
            if skew.abs() <= limits.clock_tolerance {
                Check::pass("clock", "the server's clock agrees with this machine's")
            } else {
                Check::fail(
                    "clock",
                    format!("the server's clock is {skew} seconds off this machine's"),
                    "enable time synchronisation (`timedatectl set-ntp true`): codes and \
                     tokens expire by the clock",
                )
            }
        }
        None => Check::warn("clock", "the answer carried no Date header to compare"),
    });
    true
}

/// The owner's homepage must lead clients back here (IndieAuth §5.4).
async fn homepage(settings: &Settings, client: &reqwest::Client) -> Check {
    let me = settings.me.as_str();
    let finding = if settings.serves_homepage() {
        match client.get(me).send().await {
            Ok(resp) => {
                let url = resp.url().clone();
                let links: Vec<String> = resp
                    .headers()
                    .get_all(reqwest::header::LINK)
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_owned))
                    .collect();
                let body = resp.text().await.unwrap_or_default();
                let refs: Vec<&str> = links.iter().map(String::as_str).collect();
                Ok(crate::selfcheck::judge(settings, &url, &refs, &body))
            }
            Err(e) => Err(error_chain(&e)),
        }
    } else {
        crate::selfcheck::check_homepage(settings).await
    };
    match finding {
        Ok(crate::selfcheck::Finding::PointsHere) => Check::pass(
            "homepage links",
            format!("{me} points apps to this doorstep"),
        ),
        Ok(crate::selfcheck::Finding::PointsElsewhere(why)) => Check::fail(
            "homepage links",
            format!("{me} does not point to this doorstep: {why}"),
            "add the <link> tags shown on the dashboard to your homepage's <head>",
        ),
        Err(why) => Check::fail(
            "homepage links",
            format!("could not fetch {me}: {why}"),
            "make sure your homepage is online at exactly the configured `me` URL",
        ),
    }
}

fn issue_throwaway(
    store: &Store,
    token: &Secret,
    settings: &Settings,
    now: UnixTime,
) -> Result<i64, Box<dyn std::error::Error>> {
    let hash = token.hash();
    let grant = tokens::Grant {
        client_id: ClientId::parse(DOCTOR_CLIENT_ID)?,
        client_name: Some("doorstep doctor".into()),
        client_logo: None,
        redirect_uri: DOCTOR_CLIENT_ID.into(),
        scope: ScopeSet::parse("profile")?,
        me: settings.me.as_str().to_owned(),
        access_lifetime: Some(300),
    };
    let expires = Some(now + 300);
    Ok(store
        .write_now(move |tx| tokens::create_grant_with_token(tx, &grant, &hash, now, expires))?)
}

/// Micropub servers send their token in `Authorization`; some proxies and
/// CGI set-ups drop that header (the most-asked question about
/// WordPress IndieAuth).
async fn authorization_header(
    settings: &Settings,
    client: &reqwest::Client,
    token: &Secret,
) -> Check {
    let name = "Authorization header";
    let resp = client
        .get(settings.endpoint("token"))
        .bearer_auth(token.expose())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            return Check::fail(
                name,
                format!(
                    "the token endpoint could not be reached: {}",
                    error_chain(&e)
                ),
                "check the reverse proxy",
            );
        }
    };
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: serde_json::Value = json_body(resp).await.unwrap_or_default();
    match status {
        200 if body["me"] == settings.me.as_str() => Check::pass(
            name,
            "a token sent through the public URL reached doorstep and was verified",
        ),
        401 if !challenge.contains("error=") => Check::fail(
            name,
            "the proxy dropped the Authorization header: doorstep saw no token",
            "nginx: `proxy_set_header Authorization $http_authorization;` — Apache: \
             `CGIPassAuth On` or `RequestHeader set Authorization \"%{HTTP:Authorization}e\"`; \
             see contrib/ for working proxy configurations",
        ),
        401 => Check::fail(
            name,
            "the token reached a server that does not know it",
            "the public URL reaches another doorstep or another database than this \
             configuration names",
        ),
        code => Check::fail(
            name,
            format!("verifying a token through the public URL answered HTTP {code}"),
            "check the reverse proxy",
        ),
    }
}

/// Whose `X-Forwarded-For` doorstep believes decides whose failures lock
/// out whom: believing anyone lets a guesser pick a fresh address per try;
/// believing nobody behind a proxy makes every visitor share one address.
async fn forwarded_for(settings: &Settings, client: &reqwest::Client, token: &Secret) -> Check {
    let name = "client addresses";
    let resp = client
        .get(settings.endpoint("doctor/address"))
        .bearer_auth(token.expose())
        .header("X-Forwarded-For", SPOOFED_ADDRESS)
        .send()
        .await;
    let report: AddressReport = match resp {
        Ok(r) if r.status().is_success() => match json_body(r).await {
            Some(a) => a,
            None => return Check::warn(name, "the server's answer was unreadable"),
        },
        Ok(r) => {
            return Check::warn(
                name,
                format!(
                    "could not ask (HTTP {}); is the server older than this doorstep?",
                    r.status()
                ),
            );
        }
        Err(e) => return Check::warn(name, format!("could not ask: {}", error_chain(&e))),
    };
    judge_addresses(&report)
}

/// The rule behind the client-address check, apart from the network.
pub fn judge_addresses(a: &AddressReport) -> Check {
    let name = "client addresses";
    let entries: Vec<&str> = a
        .forwarded_for
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if a.client == SPOOFED_ADDRESS {
        // Who vouched for the made-up entry: the hop written right of it.
        let voucher = entries
            .iter()
            .position(|e| *e == SPOOFED_ADDRESS)
            .and_then(|i| entries.get(i + 1).copied())
            .unwrap_or(a.peer.as_str());
        let from_here = voucher
            .parse::<std::net::IpAddr>()
            .is_ok_and(is_loopback_ip);
        if from_here {
            return Check::warn(
                name,
                "this machine is itself a trusted proxy, so the doctor cannot tell whether \
                 strangers could choose their address; run it from another machine to be sure",
            );
        }
        return Check::fail(
            name,
            format!(
                "doorstep believed an address the doctor made up ({SPOOFED_ADDRESS}), vouched \
                 for by {voucher}: anyone can pick a fresh address for each guess"
            ),
            format!(
                "list only your reverse proxy's own address in `trusted_proxies` (not {voucher})"
            ),
        );
    }
    let proxied = entries.iter().any(|e| *e != SPOOFED_ADDRESS);
    if proxied && !a.peer_is_trusted_proxy {
        return Check::fail(
            name,
            format!(
                "requests arrive through a proxy at {} that is not in `trusted_proxies`: every \
                 visitor shares that address, so one stranger's failed sign-ins lock you out too",
                a.peer
            ),
            format!(
                "add `trusted_proxies = \"{}\"` to the configuration",
                a.peer
            ),
        );
    }
    Check::pass(
        name,
        format!("doorstep sees this machine as {}, as it should", a.client),
    )
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

/// A JSON answer of our own server, read whole (they are small).
async fn json_body<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Option<T> {
    let bytes = resp.bytes().await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn human_age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} seconds"),
        s if s < 2 * 3600 => format!("{} minutes", s / 60),
        s if s < 2 * 86400 => format!("{} hours", s / 3600),
        s => format!("{} days", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(peer: &str, trusted: bool, client: &str, xff: &str) -> AddressReport {
        AddressReport {
            peer: peer.into(),
            peer_is_trusted_proxy: trusted,
            client: client.into(),
            forwarded_for: xff.into(),
        }
    }

    #[test]
    fn a_believed_made_up_address_fails_unless_this_machine_vouched() {
        let c = judge_addresses(&report(
            "10.0.0.2",
            true,
            SPOOFED_ADDRESS,
            "192.0.2.77, 203.0.113.9",
        ));
        assert_eq!(c.status, Status::Fail);
        assert!(c.fix.unwrap().contains("203.0.113.9"));
        let c = judge_addresses(&report(
            "127.0.0.1",
            true,
            SPOOFED_ADDRESS,
            "192.0.2.77, 127.0.0.1",
        ));
        assert_eq!(c.status, Status::Warn);
    }

    #[test]
    fn an_untrusted_proxy_that_adds_entries_fails() {
        let c = judge_addresses(&report(
            "127.0.0.1",
            false,
            "127.0.0.1",
            "192.0.2.77, 198.51.100.4",
        ));
        assert_eq!(c.status, Status::Fail);
        assert!(c.fix.unwrap().contains("trusted_proxies = \"127.0.0.1\""));
    }

    #[test]
    fn a_direct_connection_or_a_trusted_proxy_passes() {
        let direct = judge_addresses(&report("198.51.100.4", false, "198.51.100.4", "192.0.2.77"));
        assert_eq!(direct.status, Status::Pass);
        let proxied = judge_addresses(&report(
            "127.0.0.1",
            true,
            "198.51.100.4",
            "192.0.2.77, 198.51.100.4",
        ));
        assert_eq!(proxied.status, Status::Pass);
    }
}
