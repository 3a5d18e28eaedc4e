//! The configuration and command line a self-hoster meets (PRODUCT
//! "Interface contract"): the README's table is the key declarations,
//! unknown `DOORSTEP_*` variables are refused, boolean flags work bare,
//! `--version` and `--help` say what they should, `log_format = "json"`
//! writes JSON lines, start-up errors say what to do, and `doorstep
//! password` asks on a terminal without echo.

use crate::cli::{BIN, doorstep};
use crate::helpers::Served;
use doorstep::config::{DefaultValue, KEYS, KeySpec};
use doorstep::owner::password;
use doorstep::store::{Store, owner};
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");

/// The README row a key declaration makes.
fn readme_row(key: &KeySpec) -> String {
    let default = match key.default {
        DefaultValue::Value(v) => format!("`{v}`"),
        DefaultValue::Derived(words) => words.to_owned(),
        DefaultValue::Unset => "—".to_owned(),
    };
    format!("| `{}` | {default} | {} |", key.name, key.help())
}

/// The README's configuration table is made from the declarations in
/// `config::keys`, as `--help` is: neither can drift from the code. On a
/// mismatch the message is the table to paste.
#[test]
fn the_readme_configuration_table_is_the_key_declarations() {
    let text = std::fs::read_to_string(README).expect("README.md");
    let header = "| key | default | meaning |";
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != header)
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    let expected: Vec<String> = KEYS.iter().map(readme_row).collect();
    assert!(
        rows == expected,
        "README.md's configuration table should read:\n\n{header}\n|---|---|---|\n{}\n",
        expected.join("\n")
    );
}

/// Runs the binary with `args` and extra environment, no `DOORSTEP_*`
/// from the test's own environment.
async fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = doorstep();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.expect("run doorstep")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn an_unknown_doorstep_variable_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    // Refused before anything binds.
    let listen = "127.0.0.1:0";
    let out = run(
        &[
            "serve",
            "--listen",
            listen,
            "--database",
            db.to_str().unwrap(),
        ],
        &[("DOORSTEP_TRUSTED_PROXY", "127.0.0.1")],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("DOORSTEP_TRUSTED_PROXY"), "{err}");
    assert!(err.contains("DOORSTEP_TRUSTED_PROXIES"), "{err}");
    assert!(!db.exists(), "nothing was started");

    // DOORSTEP_CONFIG names the file; it is not a key.
    let config = dir.path().join("doorstep.toml");
    std::fs::write(&config, "code_lifetime = \"6\"\n").unwrap();
    let out = run(
        &["backup", "--database", db.to_str().unwrap(), "/dev/null"],
        &[("DOORSTEP_CONFIG", config.to_str().unwrap())],
    )
    .await;
    let err = stderr(&out);
    assert!(!err.contains("unknown"), "{err}");
}

/// Starts `serve` with `args` and returns standard error up to the line
/// that says it listens.
async fn serve_until_listening(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let mut cmd = doorstep();
    cmd.args(args)
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(&db)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let served = Served::start(cmd).await;
    let seen = served.log();
    served.stop().await;
    seen
}

#[tokio::test]
async fn a_boolean_flag_works_bare_and_with_false() {
    let on = serve_until_listening(&["--allow-private-client-fetch"]).await;
    assert!(on.contains("allow_private_client_fetch is ON"), "{on}");
    let off = serve_until_listening(&["--allow-private-client-fetch=false"]).await;
    assert!(!off.contains("allow_private_client_fetch is ON"), "{off}");
}

#[tokio::test]
async fn version_and_help_say_what_they_should() {
    let out = run(&["--version"], &[]).await;
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("doorstep {}", env!("CARGO_PKG_VERSION"))
    );

    let out = run(&["--help"], &[]).await;
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for key in KEYS {
        assert!(help.contains(&format!("--{}", key.flag())), "{help}");
        assert!(help.contains(key.help()), "{}: {help}", key.name);
        assert!(
            help.contains(&format!(
                "[default: {}] [env: {}]",
                key.default_text(),
                key.env_var()
            )),
            "{}: {help}",
            key.name
        );
    }
}

#[tokio::test]
async fn log_format_json_writes_one_json_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let mut child = doorstep()
        .args(["password", "--stdin", "--log-format", "json", "--database"])
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, b"long enough password")
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert!(!lines.is_empty());
    for line in &lines {
        assert!(line["timestamp"].is_string(), "{line}");
        assert!(line["level"].is_string(), "{line}");
        assert!(line["message"].is_string(), "{line}");
    }
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .is_some_and(|m| m.contains("migration"))),
        "{err}"
    );
}

#[tokio::test]
async fn a_public_listener_without_an_issuer_is_told_to_set_an_https_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    // Refused before anything binds.
    let listen = "0.0.0.0:0";
    let out = run(
        &[
            "serve",
            "--listen",
            listen,
            "--database",
            db.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("`listen` (set by --listen)"), "{err}");
    assert!(err.contains("set `issuer`"), "{err}");
    assert!(err.contains("https://"), "{err}");
    assert!(!err.contains("DISC"), "{err}");
}

/// `--listen 127.0.0.1:0` without an issuer: the default issuer names the
/// port the system chose (the server binds first), not port 0, in the
/// metadata, the endpoints, the profile URL and the listening line.
#[tokio::test]
async fn without_an_issuer_a_listener_on_port_0_names_the_port_it_got() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let mut cmd = doorstep();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(&db)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let served = Served::start(cmd).await;
    let base = served.base();
    assert_ne!(served.addr.port(), 0);
    let metadata: serde_json::Value =
        reqwest::get(format!("{base}.well-known/oauth-authorization-server"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(metadata["issuer"], base.as_str(), "{metadata}");
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{base}auth").as_str(),
        "{metadata}"
    );
    // The profile URL defaulted to the issuer, so doorstep serves the
    // homepage, whose links name the same port.
    let home = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(home.contains(&format!("{base}token")), "{home}");
    assert!(!home.contains(":0/"), "{home}");
    let log = served.stop().await;
    let listening = log
        .lines()
        .find(|l| l.contains("doorstep is listening"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(listening.contains(&base), "{listening}");
}

/// `doorstep password` with no terminal and no `--stdin` has no one to ask.
#[tokio::test]
async fn password_without_a_terminal_or_stdin_says_to_use_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let out = run(&["password", "--database", db.to_str().unwrap()], &[]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("--stdin"), "{err}");
    assert!(!db.exists(), "nothing was set");
}

/// The binary on a pseudo-terminal of its own, as a person at a terminal
/// runs it: standard input, output and error are the terminal, and it is
/// the controlling terminal (`/dev/tty`), where the prompt asks.
struct OnTerminal {
    master: std::fs::File,
    output: Arc<Mutex<Vec<u8>>>,
    reader: std::thread::JoinHandle<()>,
    child: std::process::Child,
}

impl OnTerminal {
    fn spawn(args: &[&str]) -> OnTerminal {
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        use std::os::unix::process::CommandExt;

        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let terminal = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().expect("pts path"))
            .expect("open the terminal");
        let mut cmd = std::process::Command::new(BIN);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("DOORSTEP_") {
                cmd.env_remove(k);
            }
        }
        cmd.env_remove("RUST_LOG")
            .env("DOORSTEP_LOG", "warn")
            .args(args)
            .stdin(terminal.try_clone().unwrap())
            .stdout(terminal.try_clone().unwrap())
            .stderr(terminal);
        // SAFETY: only system calls run between fork and exec: a new
        // session, then this terminal as its controlling terminal.
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::setsid()?;
                // Standard input, fd 0, is the terminal.
                let terminal = std::os::fd::BorrowedFd::borrow_raw(0);
                rustix::process::ioctl_tiocsctty(terminal)?;
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn doorstep");
        drop(cmd);
        let master = std::fs::File::from(master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let (mut reader, sink) = (master.try_clone().unwrap(), output.clone());
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            // Ends with an error (EIO) once the child has closed the terminal.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        OnTerminal {
            master,
            output,
            reader,
            child,
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    fn echoes(&self) -> bool {
        // A pseudo-terminal's master reports its terminal's modes.
        let modes = rustix::termios::tcgetattr(&self.master).expect("tcgetattr");
        modes
            .local_modes
            .contains(rustix::termios::LocalModes::ECHO)
    }

    /// Waits for `prompt` (the `nth` time it is printed) with echo off,
    /// then types `line` and Enter.
    fn answer(&mut self, prompt: &str, nth: usize, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.output().matches(prompt).count() < nth || self.echoes() {
            assert!(
                Instant::now() < deadline,
                "no {prompt:?} with echo off; the terminal shows {:?}",
                self.output()
            );
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "doorstep exited; the terminal shows {:?}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.master
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }

    fn wait(mut self) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader stops once it has read everything the child
                // wrote before it closed the terminal.
                self.reader.join().expect("reader");
                let shown = String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned();
                return (status, shown);
            }
            assert!(Instant::now() < deadline, "{}", self.output());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn stored_hash(db: &std::path::Path) -> Option<String> {
    if !db.exists() {
        return None;
    }
    Store::open(db)
        .expect("open store")
        .read_now(owner::password_hash)
        .expect("read")
}

#[test]
fn password_on_a_terminal_is_asked_twice_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let chosen = "typed at the terminal";
    let mut term = OnTerminal::spawn(&["password", "--database", db.to_str().unwrap()]);
    term.answer("New password: ", 1, chosen);
    term.answer("The same password again: ", 1, chosen);
    let (status, shown) = term.wait();
    assert!(status.success(), "{shown}");
    assert!(
        !shown.contains(chosen),
        "the password was echoed: {shown:?}"
    );
    assert!(shown.contains("Password set"), "{shown:?}");
    let hash = stored_hash(&db).expect("a password hash");
    assert!(password::verify(chosen, &hash));
}

#[test]
fn password_on_a_terminal_refuses_two_different_answers_and_sets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let mut term = OnTerminal::spawn(&["password", "--database", db.to_str().unwrap()]);
    term.answer("New password: ", 1, "the first long password");
    term.answer("The same password again: ", 1, "another long password");
    let (status, shown) = term.wait();
    assert!(!status.success(), "{shown}");
    assert!(shown.contains("differ"), "{shown:?}");
    assert!(stored_hash(&db).is_none());
}

#[tokio::test]
async fn a_port_in_use_is_reported_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("doorstep.db");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let out = run(
        &[
            "serve",
            "--listen",
            &listen,
            "--database",
            db.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot listen on {listen}")), "{err}");
    assert!(err.contains("set `listen` to a free port"), "{err}");
}
