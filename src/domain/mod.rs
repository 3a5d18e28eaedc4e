//! Pure protocol types with no framework in sight: every untrusted string the
//! server accepts (profile URL, client_id, redirect_uri, scope, PKCE values,
//! state) becomes one of these at the edge, so inner code only ever sees
//! values that passed the spec's rules. Nothing here does I/O or reads the
//! clock.

mod host;
mod pkce;
mod scope;
mod secret;
mod sign_in;
mod state;
mod urls;

pub use host::{
    has_loopback_ip, is_dangerous_scheme, is_loopback_ip, is_loopback_name, is_loopback_url,
    same_origin,
};
pub use pkce::{CodeChallenge, CodeVerifier, PkceError, PkceMethod};
pub use scope::{Scope, ScopeError, ScopeSet};
pub use secret::{Secret, SecretHash, constant_time_eq};
pub use sign_in::SignInMode;
pub use state::{State, StateError};
pub use urls::{ClientId, ProfileUrl, RedirectUri, UrlError, host_and_port};
