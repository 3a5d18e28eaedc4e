//! doorstep's one integration test binary (STYLE habit 9): every test starts
//! the real server on a random loopback port with its own temporary SQLite
//! database and an injected clock, and drives it over HTTP as a browser,
//! a client app and a Micropub server would.

mod helpers;

mod cli_tokens;
mod dashboard;
mod flow;
mod introspection;
mod legacy_verify;
mod refresh;
mod revocation;
mod userinfo;
