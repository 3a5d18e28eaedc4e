//! Logging: `tracing` to standard error, filtered by the `log` setting and
//! written as `log_format` says: text for people and journald, or one JSON
//! object per line for log shippers. Secrets never reach a log line
//! (SEC-17): only hash prefixes.
//!
//! Colour codes only go to a terminal: under systemd, standard error is
//! journald, which would store them as literal escape sequences.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Parses the `log` setting: a default level and levels per module, comma
/// separated (`warn,doorstep=info`), with spaces around the parts allowed.
/// A `Targets` filter rather than `EnvFilter`: it reads the same directives
/// people write here, without the regular-expression engine (a quarter of
/// a megabyte of binary) that `EnvFilter`'s span and field matching needs.
pub fn parse_filter(filter: &str) -> Result<Targets, String> {
    let parts: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return Err("it is empty".into());
    }
    let mut directives = parts.join(",");
    // actix-http's connection handling logs every malformed request a
    // stranger sends (a bad request line, oversized headers; answered 400
    // or 431 all the same) as an error: anyone could fill the journal and
    // bury doorstep's own errors. The same target also reports
    // connections that break mid-request and a response body that fails
    // while being sent; those go quiet with it. Naming `actix_http` in the
    // setting shows all of them again.
    if !parts.iter().any(|p| p.starts_with("actix_http")) {
        directives.push_str(",actix_http::h1::dispatcher=off");
    }
    directives.parse().map_err(|e| format!("{e}"))
}

/// Starts logging with the `log` setting's filter. `RUST_LOG` does not
/// override it (the configuration layers decide, as for every other key);
/// when it is set, a line says that it was ignored and what to use.
pub fn init(filter: &str, format: LogFormat) {
    // `Settings` checked the filter; the fallback only keeps a caller that
    // skipped it from losing its logs.
    let (filter, bad_filter) = match parse_filter(filter) {
        Ok(f) => (f, false),
        Err(_) => (Targets::new().with_default(tracing::Level::INFO), true),
    };
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry
            .with(layer.with_ansi(std::io::stderr().is_terminal()))
            .try_init(),
        // Fields at the top level, beside `timestamp`, `level`, `target`
        // and `message`: what log shippers index without a mapping.
        LogFormat::Json => registry
            .with(
                layer
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false),
            )
            .try_init(),
    };
    if bad_filter {
        tracing::warn!("the `log` setting is not a valid filter; logging at info");
    }
    if std::env::var_os("RUST_LOG").is_some() {
        tracing::warn!(
            "RUST_LOG is set and ignored: set the `log` key (or DOORSTEP_LOG) to choose what is logged"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::parse_filter;
    use tracing::Level;
    use tracing_subscriber::filter::LevelFilter;

    #[test]
    fn log_filters_read_levels_per_module_with_spaces_allowed() {
        let f = parse_filter(" warn, doorstep::clients=debug ").unwrap();
        assert_eq!(f.default_level(), Some(LevelFilter::WARN));
        assert!(f.would_enable("doorstep::clients::fetch", &Level::DEBUG));
        assert!(!f.would_enable("doorstep::http", &Level::INFO));
        assert!(f.would_enable("actix_server", &Level::WARN));
        assert!(parse_filter("off").unwrap().default_level() == Some(LevelFilter::OFF));
    }

    /// Strangers' malformed requests are not logged unless asked for.
    #[test]
    fn actix_s_parse_errors_are_quiet_unless_named() {
        let f = parse_filter("info").unwrap();
        assert!(!f.would_enable("actix_http::h1::dispatcher", &Level::ERROR));
        assert!(f.would_enable("actix_http::h1::service", &Level::INFO));
        assert!(f.would_enable("doorstep", &Level::INFO));
        let f = parse_filter("info,actix_http=debug").unwrap();
        assert!(f.would_enable("actix_http::h1::dispatcher", &Level::ERROR));
    }

    #[test]
    fn empty_and_unknown_levels_are_refused() {
        assert!(parse_filter("").is_err());
        assert!(parse_filter(" , ").is_err());
        assert!(parse_filter("info,doorstep=loud").is_err());
        assert!(parse_filter("doorstep=info=debug").is_err());
    }
}
