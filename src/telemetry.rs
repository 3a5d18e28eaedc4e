//! Logging: `tracing` to standard error, filtered by the `log` setting.
//! Secrets never reach a log line (SEC-17): only hash prefixes.
//!
//! Colour codes only go to a terminal: under systemd, standard error is
//! journald, which would store them as literal escape sequences.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Starts logging with the `log` setting's filter. `RUST_LOG` does not
/// override it (the configuration layers decide, as for every other key);
/// when it is set, a line says that it was ignored and what to use.
pub fn init(filter: &str) {
    let (filter, bad_filter) = match EnvFilter::try_new(filter) {
        Ok(f) => (f, false),
        Err(_) => (EnvFilter::new("info"), true),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
    if bad_filter {
        tracing::warn!("the `log` setting is not a valid filter; logging at info");
    }
    if std::env::var_os("RUST_LOG").is_some() {
        tracing::warn!(
            "RUST_LOG is set and ignored: set the `log` key (or DOORSTEP_LOG) to choose what is logged"
        );
    }
}
