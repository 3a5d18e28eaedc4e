//! Building and running the server. `Application::build` binds the listener
//! first and exposes its address (STYLE habit 1): `doorstep serve` and every
//! integration test go through this one path. A default issuer names the
//! port actually bound (`--listen 127.0.0.1:0` serves as
//! `http://127.0.0.1:<port>/`). Tests bind 127.0.0.1:0 themselves with
//! `bind`, name the issuer after the port they got, and hand the listener
//! over (`build_with_listener`).
//!
//! The server is assembled from actix's parts rather than `HttpServer`, so
//! that each accepted connection passes the per-address cap and gets its
//! guarded socket (`http::connection`) before any HTTP state exists for it.

use crate::clients::logo_cache::LogoCache;
use crate::clients::{ClientFetcher, FetchPolicy};
use crate::clock::{Clock, UnixTime};
use crate::config::Settings;
use crate::housekeeping;
use crate::http::connection::{BodyDeadline, Gate, Guarded};
use crate::http::{self, AppState};
use crate::owner::password::PasswordWorker;
use crate::owner::throttle::{CodeGuard, LoginThrottle};
use crate::ratelimit::FailureLimiter;
use crate::store::identity::{self, Identity};
use crate::store::usage::Usage;
use crate::store::{Store, StoreError};
use actix_http::HttpService;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, map_config};
use actix_web::dev::{AppConfig, Extensions, Server, fn_service};
use actix_web::middleware::DefaultHeaders;
use actix_web::rt::net::TcpStream;
use actix_web::{App, web};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// What a failed last flush of the "last used" notes logs.
const AT_SHUTDOWN: &str = "could not record the last uses of tokens at shutdown";

/// HTTP worker threads. Each connection lives on one of them.
const WORKERS: usize = 2;

/// Blocking threads each runtime may start (tokio's default is 512): the
/// database writes and pooled reads, and client pages parsed under their
/// budget. Writes take turns on the one writer connection anyway, and each
/// thread may hold a pooled reader and a malloc arena of its own, so a
/// burst of requests is served from a few threads rather than growing
/// memory with hundreds of them. argon2 has a thread of its own.
pub const BLOCKING_THREADS: usize = 4;

/// Files kept back from client connections for the database, its WAL, the
/// log and client discovery's own connections.
const RESERVED_FILES: u64 = 128;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database")]
    Store(#[from] StoreError),
    #[error("cannot set up the HTTP client for client discovery")]
    Fetcher(#[from] crate::clients::FetchError),
    #[error("cannot start the password-hashing thread")]
    PasswordWorker(#[source] std::io::Error),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot serve the listener it was given")]
    Listener(#[source] std::io::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the server failed")]
    Serve(#[from] std::io::Error),
    /// The database file was deleted or replaced under the server.
    #[error("{0}; doorstep stopped rather than go on without it")]
    DatabaseLost(StoreError),
}

pub struct Application {
    local: std::net::SocketAddr,
    server: Server,
    settings: Arc<Settings>,
    store: Store,
    clock: Clock,
    usage: Arc<Usage>,
}

/// Headers on every response (CONS-9, CONS-10, SEC-6, SEC-9): no framing,
/// no referrer, no sniffing, and a CSP with no inline script and no
/// third-party anything.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", http::content_security_policy("")))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Content-Type-Options", "nosniff"))
}

/// Connections waiting to be accepted that the kernel keeps (the accept
/// backlog). The standard library's 128 overflows when a few hundred
/// clients connect at once, and each dropped connection attempt costs its
/// client a one-second retry, honest clients included. actix's own default.
const BACKLOG: i32 = 1024;

/// Binds the listener as `TcpListener::bind` does, with a deeper backlog:
/// the listener `build` serves, and the one tests hand to
/// `build_with_listener`.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Connections each worker may hold: the open-files limit, less a reserve,
/// shared between the workers. At the limit a worker stops accepting until
/// one of its connections closes; without it `accept` would fail for want
/// of files, which pauses accepting as well and also starves the database.
fn connections_per_worker() -> usize {
    // `None` is unlimited.
    let files = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    let share = files.saturating_sub(RESERVED_FILES) / WORKERS as u64;
    usize::try_from(share.clamp(64, 25_000)).unwrap_or(25_000)
}

impl Application {
    /// Opens the store (applying migrations), binds `settings.listen`, and
    /// prepares the server without running it.
    pub fn build(settings: Settings, clock: Clock) -> Result<Application, StartError> {
        let store = Store::open(&settings.database)?;
        let listener = bind(settings.listen).map_err(|source| StartError::Bind {
            addr: settings.listen,
            source,
        })?;
        let fetch = Self::fetch_policy(&settings);
        Self::assemble(settings, clock, store, listener, fetch)
    }

    /// As `build`, serving a listener the caller bound (`settings.listen`
    /// is not used): a test binds 127.0.0.1:0, learns the port, and names
    /// the issuer after it before the server exists.
    pub fn build_with_listener(
        settings: Settings,
        clock: Clock,
        listener: TcpListener,
    ) -> Result<Application, StartError> {
        let fetch = Self::fetch_policy(&settings);
        Self::build_with_fetch_policy(settings, clock, listener, fetch)
    }

    /// As `build_with_listener`, with client discovery's policy given
    /// instead of taken from `settings`: tests shorten its deadline to see
    /// a stuck fetch cut off, or lengthen it to hold one open.
    pub fn build_with_fetch_policy(
        settings: Settings,
        clock: Clock,
        listener: TcpListener,
        fetch: FetchPolicy,
    ) -> Result<Application, StartError> {
        let store = Store::open(&settings.database)?;
        Self::assemble(settings, clock, store, listener, fetch)
    }

    /// Client discovery's policy for `settings`, as `serve` uses it.
    pub fn fetch_policy(settings: &Settings) -> FetchPolicy {
        FetchPolicy {
            allow_private: settings.allow_private_client_fetch,
            ..FetchPolicy::default()
        }
    }

    fn assemble(
        mut settings: Settings,
        clock: Clock,
        store: Store,
        listener: TcpListener,
        fetch: FetchPolicy,
    ) -> Result<Application, StartError> {
        let local = listener.local_addr().map_err(StartError::Listener)?;
        // Before anything reads the issuer: a default one names this port.
        settings.name_bound_address(local);
        check_identity(&store, &settings, clock.now())?;
        let limits = settings.limits.clone();
        let gate = Gate::new(limits.per_address, &settings.trusted_proxies);
        let usage = Arc::new(Usage::default());
        let settings = Arc::new(settings);
        let state = web::Data::new(app_state(
            settings.clone(),
            clock.clone(),
            store.clone(),
            usage.clone(),
            fetch,
        )?);
        let server = Server::build()
            .workers(WORKERS)
            .worker_max_blocking_threads(BLOCKING_THREADS)
            .shutdown_timeout(5)
            .max_concurrent_connections(connections_per_worker())
            .listen("doorstep", listener, move || {
                // Called once on each worker thread, in its runtime.
                crate::store::live::hold_reads_here();
                let app = App::new()
                    .app_data(state.clone())
                    .wrap(BodyDeadline::new(limits.body_deadline))
                    .wrap(security_headers())
                    .wrap(actix_web::middleware::from_fn(
                        http::request_log::log_requests,
                    ))
                    .configure(http::routes);
                let http = HttpService::build()
                    .keep_alive(limits.keep_alive)
                    .client_request_timeout(limits.header_deadline)
                    .client_disconnect_timeout(Duration::from_secs(1))
                    .local_addr(local)
                    .on_connect_ext(|io: &Guarded, ext: &mut Extensions| io.share_activity(ext))
                    // doorstep never asks actix for the host or scheme of a
                    // request (URLs come from `issuer`), so actix's default
                    // application config is never consulted.
                    .finish(map_config(
                        app.into_factory()
                            .map_err(|e: actix_web::Error| e.error_response()),
                        |_| AppConfig::default(),
                    ));
                let gate = gate.clone();
                let limits = limits.clone();
                fn_service(move |io: TcpStream| std::future::ready(gate.guard(io, &limits)))
                    .and_then(http)
            })
            .map_err(|source| StartError::Bind {
                addr: local,
                source,
            })?
            .run();
        Ok(Application {
            local,
            server,
            settings,
            store,
            clock,
            usage,
        })
    }

    /// The settings the server runs with: after `build`, a default issuer
    /// names the port actually bound.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The address the server listens on, as bound (port 0 resolved).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local
    }

    pub fn port(&self) -> u16 {
        self.local.port()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until stopped, with the housekeeping task (batched last-used
    /// flushes, periodic purges, the database watch) beside the server; on
    /// the way out, the last notes are flushed. If housekeeping finds the
    /// database file deleted or replaced, the server stops and this
    /// returns the loss: a fail-closed exit that a supervisor (systemd)
    /// shows and restarts, reopening whatever file is at the path then.
    pub async fn run_until_stopped(self) -> Result<(), RunError> {
        let handle = self.server.handle();
        let mut server = self.server;
        let mut chores = tokio::spawn(housekeeping::run(
            self.store.clone(),
            self.clock.clone(),
            self.usage.clone(),
        ));
        let chores_ended = tokio::select! {
            result = &mut server => {
                chores.abort();
                housekeeping::flush_usage(&self.usage, &self.store, AT_SHUTDOWN).await;
                return Ok(result?);
            }
            ended = &mut chores => ended,
        };
        match chores_ended {
            Ok(lost) => {
                // The server answers the stop only while it is polled.
                let _ = tokio::join!(handle.stop(true), server);
                Err(RunError::DatabaseLost(lost))
            }
            // The chores panicked: serve on without them, as before.
            Err(_) => {
                let result = server.await;
                housekeeping::flush_usage(&self.usage, &self.store, AT_SHUTDOWN).await;
                Ok(result?)
            }
        }
    }
}

/// What every handler reaches: the settings, the store and the clock, and
/// the workers, caches and limiters shared by all connections.
fn app_state(
    settings: Arc<Settings>,
    clock: Clock,
    store: Store,
    usage: Arc<Usage>,
    fetch: FetchPolicy,
) -> Result<AppState, StartError> {
    let fetcher = ClientFetcher::new(fetch, clock.clone())?;
    let passwords = PasswordWorker::start().map_err(StartError::PasswordWorker)?;
    let webauthn = crate::owner::passkeys::relying_party(&settings.issuer).map(Arc::new);
    Ok(AppState {
        settings,
        store,
        clock,
        login_throttle: LoginThrottle::default(),
        code_guard: CodeGuard::default(),
        passwords,
        // 20 inactive answers in a burst, then one per 2 s.
        self_auth_throttle: FailureLimiter::new(20, 0.5),
        // 30 failed token requests or verifications in a burst, then
        // one a second: far beyond any honest client's mistakes.
        failure_limiter: FailureLimiter::new(30, 1.0),
        usage,
        fetcher,
        logos: LogoCache::default(),
        webauthn,
        pending: Default::default(),
        // 10 failed passkey sign-ins in a burst, then one every 10 s.
        passkey_failures: FailureLimiter::new(10, 0.1),
    })
}

/// Records which issuer and profile URL the database belongs to at its
/// first start, and says loudly when the configuration names others (a
/// backup restored under another address): tokens in the file speak for
/// the recorded `me`. It warns and serves on, since refusing to start
/// would lock the owner out of the dashboard that fixes it.
fn check_identity(store: &Store, settings: &Settings, now: UnixTime) -> Result<(), StoreError> {
    let configured = Identity::new(settings.issuer_str(), settings.me.as_str());
    let wanted = configured.clone();
    let standing = store.write_now(move |tx| identity::reconcile(tx, &wanted, now))?;
    identity::report(&standing, &configured, store.path());
    Ok(())
}
