//! doorstep's one integration test binary (STYLE habit 9): every test starts
//! the real server on a random loopback port with its own temporary SQLite
//! database and an injected clock, and drives it over HTTP as a browser,
//! a client app and a Micropub server would.

mod fixtures;
mod helpers;
mod tour;

mod authorize;
mod authorize_errors;
mod browser;
mod cli;
mod cli_tokens;
mod client_discovery;
mod codes;
mod compat;
mod configuration;
mod contrib;
mod cors;
mod dashboard;
#[cfg(unix)]
mod database;
mod discovery;
mod doctor;
mod flow;
mod forwarded_for;
mod headers;
mod introspection;
mod legacy_verify;
mod login;
mod memory;
mod passkeys;
mod pkce;
mod plain_words;
mod proxy;
mod ratelimit;
mod real_clients;
mod refresh;
mod request_log;
#[cfg(unix)]
mod restore;
mod revocation;
mod robustness;
mod screenshots;
mod second_factor;
mod selfcheck;
mod slow_clients;
mod userinfo;
