//! The protocol rules as plain functions: authorization requests, the
//! owner's consent, codes, token issuance and redemption, refresh,
//! verification (legacy GET and introspection), revocation, userinfo,
//! metadata. Nothing here knows
//! about actix; handlers in `http/` call in with parsed parameters and `now`.

pub mod authorize;
pub mod consent;
pub mod error;
pub mod introspect;
pub mod metadata;
pub mod params;
pub mod revoke;
pub mod token;
pub mod userinfo;
pub mod verify;

pub use error::{BearerError, ErrorCode, OAuthError};
pub use params::Params;
