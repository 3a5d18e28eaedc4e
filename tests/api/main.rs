//! doorstep's one integration test binary (STYLE habit 9): every test starts
//! the real server on a random loopback port with its own temporary SQLite
//! database and an injected clock, and drives it over HTTP as a browser,
//! a client app and a Micropub server would.

mod fixtures;
mod helpers;

mod authorize;
mod authorize_errors;
mod cli;
mod clients;
mod codes;
mod compat;
mod discovery;
mod flow;
mod headers;
mod login;
mod pkce;
mod robustness;
mod selfcheck;
