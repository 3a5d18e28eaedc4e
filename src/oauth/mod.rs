//! The protocol rules as plain functions: authorization requests, codes,
//! token issuance and redemption, verification, metadata. Nothing here knows
//! about actix; handlers in `http/` call in with parsed parameters and `now`.

pub mod authorize;
pub mod error;
pub mod metadata;
pub mod params;
pub mod token;
pub mod verify;

pub use error::{ErrorCode, OAuthError};
pub use params::Params;
