//! doorstep: a self-hosted, single-user IndieAuth server.
//!
//! A request travels through the crate like this. `app` builds the actix
//! server from validated `config::Settings`. `http` holds one module per
//! endpoint; each parses its request and calls the protocol rules in
//! `oauth` (authorization requests, the owner's consent, codes, tokens,
//! verification, metadata) or the owner rules in `owner` (password,
//! passkeys, second factors, sessions, login throttle). Those work on the
//! pure types of `domain` — profile URLs, client ids, redirect URIs,
//! scopes, PKCE values, secrets, and what counts as loopback or the same
//! origin — and reach SQLite only through `store`, which runs SQL on
//! blocking threads, all but the short read-only token lookup of the
//! verification hot path. `views` holds the askama page structs. `clients`
//! fetches and reads what a client app publishes about itself — carefully,
//! since its URL is a stranger's choice — and caches what it may. `clock`
//! reads the wall clock for everything that takes `now`; `housekeeping`
//! runs the periodic chores (flushing batched "last used" times, purging
//! what has expired); `ratelimit` counts failed requests per address;
//! `errors` writes an error and its causes on one line;
//! `cli`, `admin` (the owner's token and resource-server commands),
//! `doctor` (the outside-in health check), `selfcheck` and `telemetry`
//! serve the binary.

// Guard rails, checked by clippy (clippy.toml adds the ban on reading the
// clock outside `clock`, and lets unit tests unwrap): no unsafe code but
// the one mapping of SQLite's WAL index (`store::wal_index`, allowed there
// line by line), no unwrap, expect or panic in the server, no leftover debugging. Each holds
// today; `missing_docs` does not (hundreds of fields and variants whose
// names say it all), so it is left out.
#![deny(unsafe_code)]
#![deny(rust_2018_idioms)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented,
    clippy::dbg_macro
)]

pub mod admin;
pub mod app;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod doctor;
pub mod domain;
pub mod errors;
pub mod housekeeping;
pub mod http;
pub mod oauth;
pub mod owner;
pub mod ratelimit;
pub mod selfcheck;
pub mod store;
pub mod telemetry;
pub mod views;
