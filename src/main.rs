//! The `doorstep` binary: parse the command line, load configuration, start
//! logging, and dispatch. Everything else lives in the library.

// The library's guard rails (see lib.rs), for the binary too.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented,
    clippy::dbg_macro
)]

use clap::Parser;
use doorstep::admin;
use doorstep::app::{Application, StartError};
use doorstep::cli::{Cli, Command, SecondFactorAction};
use doorstep::clock::Clock;
use doorstep::config::{self, Settings};
use doorstep::errors::error_chain;
use doorstep::owner::password;
use doorstep::store::events::EventKind;
use doorstep::store::{Store, owner};
use std::io::{IsTerminal, Read};
use std::process::ExitCode;

/// Defaults, the file, the `DOORSTEP_*` variables, then the flags.
fn load_settings(cli: &Cli) -> Result<Settings, config::ConfigError> {
    config::load(
        cli.config.as_deref(),
        std::env::vars_os(),
        cli.flags.to_raw(),
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match load_settings(&cli) {
        Ok(s) => s,
        Err(e) => {
            if let Command::Doctor { json } = cli.command {
                return print_doctor(
                    &doorstep::doctor::configuration_failed(&e.to_string()),
                    json,
                );
            }
            eprintln!("doorstep: {e}");
            return ExitCode::from(2);
        }
    };
    doorstep::telemetry::init(&settings.log, settings.log_format);
    let result = match &cli.command {
        Command::Serve => serve(settings),
        Command::Password { stdin } => set_password(&settings, *stdin),
        Command::Backup { file } => backup(&settings, file),
        Command::Doctor { json } => return doctor(&settings, *json),
        Command::Tokens { action } => admin::tokens(&settings, action, Clock::system().now()),
        Command::ResourceServer { action } => {
            admin::resource_servers(&settings, action, Clock::system().now())
        }
        Command::SecondFactor {
            action: SecondFactorAction::Reset,
        } => reset_second_factors(&settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("doorstep: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Raises the soft open-files limit to the hard one. Each client connection
/// is a file, and systemd starts services with a soft limit of 1024 (and a
/// far higher hard one): a thousand idle connections would otherwise leave
/// no file for the next client or the database.
fn raise_open_files_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %error_chain(&e), "could not raise the open-files limit");
        }
    }
    // `None` is unlimited.
    match getrlimit(Resource::Nofile).current {
        Some(limit) if limit < 4096 => tracing::warn!(
            limit,
            "the open-files limit is low and each client connection takes one file; raise it \
             (systemd: LimitNOFILE=65536; a shell: ulimit -Hn)"
        ),
        limit => tracing::debug!(?limit, "open-files limit"),
    }
}

fn serve(settings: Settings) -> Result<(), String> {
    raise_open_files_limit();
    if settings.allow_private_client_fetch {
        tracing::warn!(
            "allow_private_client_fetch is ON: doorstep will fetch client_id URLs on loopback and \
             private addresses. Use this only for tests and local development."
        );
    }
    // One thread: it runs only the server's supervisor and the chores
    // (housekeeping), which wait on timers and hand their work to blocking
    // threads. Requests are served by the HTTP workers (`app::WORKERS`),
    // each on a runtime of its own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(doorstep::app::BLOCKING_THREADS)
        .enable_all()
        .build()
        .map_err(|e| error_chain(&e))?;
    runtime.block_on(async move {
        let app = Application::build(settings, Clock::system()).map_err(|e| start_error(&e))?;
        // From the server: a default issuer names the port it bound.
        let settings = app.settings().clone();
        if settings.local_development {
            tracing::warn!(
                issuer = settings.issuer_str(),
                "LOCAL DEVELOPMENT MODE: {}",
                settings.local_development_warning()
            );
        }
        let issuer = settings.issuer_str().to_owned();
        let store = app.store().clone();
        if store.read(owner::password_hash).await.map_err(|e| error_chain(&e))?.is_none() {
            let now = Clock::system().now();
            let link = store
                .write(move |tx| owner::issue_setup_link(tx, now))
                .await
                .map_err(|e| error_chain(&e))?;
            // Standard output only: the link is a secret, kept out of logs.
            // Without a reader (started with stdout closed) the server
            // serves on; `doorstep password` sets the password instead.
            show(format_args!(
                "\nNo password is set yet. Open this one-time link within an hour to set it:\n\n    {issuer}setup?token={}\n\n",
                link.expose()
            ));
        }
        if !settings.serves_homepage() {
            let tags = doorstep::http::link_tags(&settings);
            show(format_args!(
                "Add these to the <head> of your homepage:\n{tags}\n\n"
            ));
            tokio::spawn(async move { doorstep::selfcheck::log_homepage_check(&settings).await });
        }
        // The bound address, so `--listen 127.0.0.1:0` says which port.
        let listen = app.local_addr();
        tracing::info!(%listen, %issuer, "doorstep is listening");
        app.run_until_stopped().await.map_err(|e| error_chain(&e))
    })
}

/// A start-up failure with what to do about it, where that is clear.
fn start_error(e: &StartError) -> String {
    let StartError::Bind { addr, source } = e else {
        return error_chain(e);
    };
    let advice = match source.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "another program (perhaps another doorstep) is listening on port {}; stop it, or \
             set `listen` to a free port",
            addr.port()
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "this machine has no address {}; set `listen` to one of its own addresses, such as \
             127.0.0.1:{} behind a reverse proxy",
            addr.ip(),
            addr.port()
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "ports below 1024 need privileges doorstep should not have; set `listen` to a \
             higher port on loopback, such as 127.0.0.1:8080, and let the reverse proxy take \
             port {}",
            addr.port()
        ),
        _ => return error_chain(e),
    };
    format!("{}: {advice}", error_chain(e))
}

/// `doorstep password`: asked twice on a terminal, or `--stdin` for
/// scripts. It never takes the password as an argument or a variable,
/// where shell history and `ps` would keep it.
fn set_password(settings: &Settings, stdin: bool) -> Result<(), String> {
    let hashed = if stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        password::hash(password::from_stdin_text(&text))
    } else {
        password::hash(&ask_for_password()?)
    }
    .map_err(|e| format!("{e}; nothing was changed"))?;
    let store = Store::open_for_password(&settings.database).map_err(|e| error_chain(&e))?;
    let now = Clock::system().now();
    store
        .write_now(|tx| owner::set_password(tx, &hashed, now, "from the command line"))
        .map_err(|e| error_chain(&e))?;
    doorstep::say!("Password set. Every signed-in browser was signed out.");
    Ok(())
}

/// Asks for the new password twice on the terminal, without echo.
fn ask_for_password() -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        return Err(
            "standard input is not a terminal, so there is no one to ask. To set the password \
             from a script, use --stdin and pipe it in: from a file \
             (`doorstep password --stdin < FILE`) or a password manager \
             (`pass show doorstep | doorstep password --stdin`)"
                .into(),
        );
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map_err(|e| format!("cannot read the password from the terminal: {e}"))
    };
    let first = ask("New password: ")?;
    // Said now rather than after typing it twice.
    if first.chars().count() < password::MIN_LEN {
        return Err(format!(
            "the password must be at least {} characters long; nothing was changed",
            password::MIN_LEN
        ));
    }
    let again = ask("The same password again: ")?;
    if first != again {
        return Err("the two passwords differ; nothing was changed".into());
    }
    Ok(first)
}

/// Runs the checks on a small runtime of its own and prints the report.
fn doctor(settings: &Settings, json: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("doorstep: {}", error_chain(&e));
            return ExitCode::FAILURE;
        }
    };
    let report = runtime.block_on(doorstep::doctor::run(
        settings,
        Clock::system().now(),
        &doorstep::doctor::Limits::default(),
    ));
    print_doctor(&report, json)
}

/// What `serve` prints at start-up; unlike `say!`, a missing reader does
/// not stop the server (it is noted in the log).
fn show(args: std::fmt::Arguments<'_>) {
    if let Err(e) = doorstep::cli::try_write_out(args) {
        tracing::warn!(error = %e, "could not write to standard output");
    }
}

fn print_doctor(report: &doorstep::doctor::Report, json: bool) -> ExitCode {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(text) => doorstep::say!("{text}"),
            Err(e) => eprintln!("doorstep: {e}"),
        }
    } else {
        doorstep::cli::write_out(format_args!("{}", report.text()));
    }
    if report.failures() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `doorstep second-factor reset`: password-only sign-in again. Shell access
/// to the database is the root of trust, so this asks nothing more. It
/// never creates a database: a mistyped path must not look like success.
fn reset_second_factors(settings: &Settings) -> Result<(), String> {
    let store = Store::open_existing(&settings.database).map_err(|e| error_chain(&e))?;
    let now = Clock::system().now();
    store
        .write_now(|tx| {
            doorstep::store::factors::reset(tx)?;
            doorstep::store::events::record(
                tx,
                now,
                EventKind::SecondFactorReset,
                None,
                Some("from the command line"),
            )
        })
        .map_err(|e| error_chain(&e))?;
    doorstep::say!(
        "Sign-in is back to the password alone: passkeys, the authenticator app and the \
         recovery codes are forgotten, and every signed-in browser was signed out."
    );
    Ok(())
}

/// Never creates a database: from the wrong directory it would copy a new
/// empty one and succeed. The copy is a new file, mode 0600.
fn backup(settings: &Settings, file: &std::path::Path) -> Result<(), String> {
    // As found: a database from an older doorstep is copied without being
    // upgraded, so the copy can go back under the older binary.
    let store = Store::open_as_found(&settings.database).map_err(|e| error_chain(&e))?;
    store
        .backup_now(file, Clock::system().now())
        .map_err(|e| error_chain(&e))?;
    doorstep::say!(
        "Backed up {} to {}",
        settings.database.display(),
        file.display()
    );
    Ok(())
}
