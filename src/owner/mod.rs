//! The site owner: their password (argon2id), the throttle in front of the
//! login form, and the rules for browser sessions and CSRF tokens. No HTTP
//! framework here; `http/` applies these.

pub mod password;
pub mod session;
pub mod throttle;
