//! The test harness (STYLE habit 9), for every module of the `api` test
//! binary:
//!
//! - `TestApp` starts doorstep in-process: a listener it bound on port 0
//!   (the issuer names the port the kernel gave), a temporary database, a
//!   frozen clock the test moves, and patient deadlines for client
//!   discovery and idle connections. `flows` has what clients, browsers and resource servers do
//!   against it, and `assert_oauth_error`.
//! - `TestClient` is an IndieAuth client with PKCE; `TestApp::client()`
//!   puts one on a loopback port held unused for the test.
//! - `Browser` keeps cookies, never follows redirects, and reads and
//!   submits HTML forms; everything answers a `Response`.
//! - `UnusedPort` is a loopback port where nothing listens and nothing can.
//! - `Served` runs the real binary on port 0 and finds it by its log line.
//! - `signin` has the owner's sign-in factors: a doorstep on `localhost`
//!   for WebAuthn, a software `Passkey`, authenticator-app codes, and the
//!   sequences the factor suites share (add a passkey, sign in with it,
//!   enrol an app, answer the second step).
//!
//! Fixture servers standing in for client apps are in `crate::fixtures`.

#![allow(dead_code)]

mod browser;
mod client;
mod flows;
mod ports;
mod served;
mod signin;

pub use browser::*;
pub use client::*;
pub use flows::*;
pub use ports::*;
pub use served::*;
pub use signin::*;

use doorstep::app::Application;
use doorstep::clients::FetchPolicy;
use doorstep::clock::Clock;
use doorstep::config::Settings;
use doorstep::owner::password;
use doorstep::store::{Store, owner};
use std::sync::Mutex;
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery staple";

/// Client discovery's deadline in tests (the product's is 5 s).
pub const DISCOVERY_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// How long the server keeps an idle connection in tests (the product's
/// is 5 s): longer than any pause in a test, and than the clients' 90 s
/// pool, so a client never reuses a connection the server is closing.
pub const KEEP_ALIVE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// RFC 7636 Appendix B.
pub const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// doorstep running for one test, in-process, with everything its own:
/// port, database, clock.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base: String,
    pub port: u16,
    pub clock: Clock,
    pub store: Store,
    pub settings: Settings,
    /// A plain client for API calls (no cookies, no redirects).
    pub api: reqwest::Client,
    /// Ports handed out by `unused_port`, held until the test ends.
    held: Mutex<Vec<UnusedPort>>,
    /// The running server, until `stopped` takes it.
    server: Mutex<Option<tokio::task::JoinHandle<Result<(), doorstep::app::RunError>>>>,
    _dir: TempDir,
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts doorstep with test settings adjusted by `f`. The issuer is the
    /// real loopback address and port, so redirects and metadata are true.
    pub async fn spawn_with(f: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_with_fetch(f, |_| {}).await
    }

    /// As `spawn_with`, with client discovery's policy adjusted by `fetch`
    /// too (its deadline: short to see a stuck fetch cut off, long to hold
    /// one open while the test looks at something else).
    pub async fn spawn_with_fetch(
        f: impl FnOnce(&mut Settings),
        fetch: impl FnOnce(&mut FetchPolicy),
    ) -> TestApp {
        Self::start(([127, 0, 0, 1], 0).into(), f, fetch).await
    }

    /// As `spawn_with`, listening on `addr` (port 0) instead of
    /// 127.0.0.1: `[::]:0` for a dual-stack listener. The issuer is still
    /// `http://127.0.0.1:<port>/`.
    pub async fn spawn_on(addr: std::net::SocketAddr, f: impl FnOnce(&mut Settings)) -> TestApp {
        Self::start(addr, f, |_| {}).await
    }

    async fn start(
        addr: std::net::SocketAddr,
        f: impl FnOnce(&mut Settings),
        fetch: impl FnOnce(&mut FetchPolicy),
    ) -> TestApp {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        // Bind first, on port 0, and keep the listener: the issuer names
        // the port the kernel gave, and the server serves this very socket.
        let listener = doorstep::app::bind(addr).expect("bind");
        let local = listener.local_addr().expect("addr");
        let port = local.port();
        let mut raw = doorstep::config::RawValues::new();
        raw.insert("listen".into(), local.to_string());
        raw.insert("issuer".into(), format!("http://127.0.0.1:{port}/"));
        raw.insert(
            "database".into(),
            dir.path().join("doorstep.db").display().to_string(),
        );
        raw.insert("allow_private_client_fetch".into(), "true".into());
        raw.insert("name".into(), "Test Owner".into());
        raw.insert("email".into(), "owner@example.net".into());
        raw.insert("photo".into(), "https://example.net/photo.jpg".into());
        let mut settings = Settings::from_raw(&raw).expect("settings");
        // The server keeps an idle connection open for longer than any test
        // pauses, so it never closes one just as a test's client sends on
        // it: with the product's 5 s, a loaded machine could stretch a pause
        // past it and the request would meet a closing connection. The
        // tests of the keep-alive itself set their own.
        settings.limits.keep_alive = KEEP_ALIVE_PATIENCE;
        f(&mut settings);
        let mut policy = Application::fetch_policy(&settings);
        // Fixtures answer at once, but a loaded machine can take seconds to
        // get to it: a deadline no honest discovery here comes near, so
        // the outcome is the fixture's. Tests of the deadline shorten it.
        policy.total_timeout = DISCOVERY_PATIENCE;
        fetch(&mut policy);
        // Frozen at the real time of day: every step of a test sees the
        // same second until the test moves the clock.
        let clock = Clock::frozen(Clock::system().now());
        let app =
            Application::build_with_fetch_policy(settings.clone(), clock.clone(), listener, policy)
                .expect("build");
        assert_eq!(app.port(), port);
        let store = app.store().clone();
        let server = tokio::spawn(app.run_until_stopped());
        let test = TestApp {
            base: format!("http://127.0.0.1:{port}"),
            port,
            clock,
            store,
            settings,
            api: plain_client(),
            held: Mutex::default(),
            server: Mutex::new(Some(server)),
            _dir: dir,
        };
        test.set_password(PASSWORD).await;
        test
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Waits for the server to stop by itself (it does when it loses its
    /// database, once it has saved what it held) and says how it ended.
    pub async fn stopped(&self) -> Result<(), doorstep::app::RunError> {
        let server = self
            .server
            .lock()
            .expect("lock")
            .take()
            .expect("the server is awaited once");
        tokio::time::timeout(PROCESS_PATIENCE, server)
            .await
            .expect("the server kept running")
            .expect("the server task panicked")
    }

    /// A loopback port where nothing listens, held until the test ends:
    /// connections to it are refused, and no other test's server can take
    /// it. For client ids and addresses that must lead nowhere.
    pub fn unused_port(&self) -> u16 {
        let held = UnusedPort::new();
        let port = held.port;
        self.held.lock().expect("lock").push(held);
        port
    }

    /// An IndieAuth client at `http://127.0.0.1:<unused port>/`, whose
    /// redirect is on its own origin. doorstep fetches its page (the test
    /// settings allow loopback fetches) and finds nothing there.
    pub fn client(&self) -> TestClient {
        TestClient::new(self.unused_port())
    }

    pub fn issuer(&self) -> String {
        self.settings.issuer.to_string()
    }

    pub fn me(&self) -> String {
        self.settings.me.as_str().to_owned()
    }

    pub async fn set_password(&self, pw: &str) {
        let hashed = password::hash(pw).expect("hash");
        let now = self.clock.now();
        self.store
            .write(move |tx| owner::set_password(tx, &hashed, now, "from the command line"))
            .await
            .expect("set password");
    }

    /// A browser that is not signed in yet.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// A browser signed in as the owner.
    pub async fn signed_in_browser(&self) -> Browser {
        let b = self.browser();
        let page = b.get("/login").await;
        assert_eq!(page.status, 200);
        let resp = b
            .submit(&page, "form#login", &[("password", PASSWORD)], None)
            .await;
        assert_eq!(resp.status, 303, "login failed: {}", resp.body);
        b
    }

    /// A resource-server secret, created as `doorstep resource-server add`
    /// does (the CLI itself is tested in `cli_tokens`).
    pub async fn resource_server_secret(&self, name: &str) -> String {
        let secret = doorstep::domain::Secret::generate();
        let hash = secret.hash();
        let name = name.to_owned();
        let now = self.clock.now();
        self.store
            .write(move |tx| doorstep::store::resource_servers::create(tx, &name, &hash, now))
            .await
            .expect("create resource server");
        secret.expose().to_owned()
    }

    /// The metadata document as JSON.
    pub async fn metadata(&self) -> serde_json::Value {
        let resp = self
            .api
            .get(self.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .expect("metadata");
        assert_eq!(resp.status().as_u16(), 200);
        resp.json().await.expect("metadata json")
    }

    /// Runs a read-only SQL count, for asserting that nothing was issued.
    pub async fn count(&self, sql: &'static str) -> i64 {
        self.store
            .read(move |c| Ok(c.query_row(sql, [], |r| r.get(0))?))
            .await
            .expect("count")
    }

    /// Runs the `doorstep` binary against this app's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_doorstep"))
            .arg("--database")
            .arg(&self.settings.database)
            .args(args)
            .env_remove("DOORSTEP_CONFIG")
            .env("DOORSTEP_LOG", "warn")
            .output()
            .expect("run doorstep")
    }
}

/// Another process's write lock on the app's database (`BEGIN EXCLUSIVE`
/// on a connection of its own), held until dropped: doorstep's writes wait
/// out their busy timeout and fail; reads go on (WAL).
pub struct WriteLock {
    release: Option<std::sync::mpsc::Sender<()>>,
    holder: Option<std::thread::JoinHandle<()>>,
}

impl TestApp {
    pub fn hold_write_lock(&self) -> WriteLock {
        let db = self.settings.database.clone();
        let (locked_tx, locked) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(db).expect("open");
            conn.execute_batch("BEGIN EXCLUSIVE").expect("lock");
            locked_tx.send(()).expect("tell");
            let _ = released.recv();
            conn.execute_batch("ROLLBACK").expect("unlock");
        });
        locked.recv().expect("locked");
        WriteLock {
            release: Some(release),
            holder: Some(holder),
        }
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(h) = self.holder.take() {
            let _ = h.join();
        }
    }
}
