//! The site owner: their password (argon2id), the throttle in front of the
//! login form, the rules for browser sessions and CSRF tokens, and the
//! factors beyond the password — sign-in modes and the lock-out rules
//! (`factors`), authenticator-app codes (`totp`), recovery codes
//! (`recovery`), passkeys (`passkeys`) and the sign-in steps in progress
//! (`pending`). No HTTP framework here; `http/` applies these.

pub mod factors;
pub mod passkeys;
pub mod password;
pub mod pending;
pub mod recovery;
pub mod session;
pub mod throttle;
pub mod totp;
