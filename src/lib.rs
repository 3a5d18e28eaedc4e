//! doorstep: a self-hosted, single-user IndieAuth server.
//!
//! A request travels through the crate like this. `app` builds the actix
//! server from validated `config::Settings`. `http` holds one module per
//! endpoint; each parses its request and calls the protocol rules in
//! `oauth` (authorization requests, codes, tokens, verification, metadata)
//! or the owner rules in `owner` (password, sessions, login throttle).
//! Those work on the pure types of `domain` — profile URLs, client ids,
//! redirect URIs, scopes, PKCE values, secrets — and reach SQLite only
//! through `store`, which runs all SQL off the async workers. `views`
//! holds the askama page structs. `clients` fetches and reads what a
//! client app publishes about itself — carefully, since its URL is a
//! stranger's choice. `clock` is the one reader of the wall clock;
//! `housekeeping` runs the periodic chores (flushing batched "last used"
//! times, purging what has expired); `cli`, `admin` (the owner's token and
//! resource-server commands), `doctor` (the outside-in health check),
//! `selfcheck` and `telemetry` serve the binary.

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
