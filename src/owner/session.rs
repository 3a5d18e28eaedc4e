//! Browser session and CSRF rules. A session id is a random secret in an
//! HttpOnly cookie and a hash in the database. CSRF tokens are derived from
//! the secret the browser holds (so they need no storage) and compared in
//! constant time (CONS-6, SEC-19).

use crate::domain::{Secret, constant_time_eq};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The cookie names. `__Host-` binds the cookie to exactly this origin
/// when it can (it requires Secure, so https only).
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-doorstep"
    } else {
        "doorstep"
    }
}

/// The long-lived cookie that marks a browser the owner signed in from.
pub fn device_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-doorstep-device"
    } else {
        "doorstep-device"
    }
}

pub fn login_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-doorstep-login"
    } else {
        "doorstep-login"
    }
}

/// The CSRF token for forms shown to the holder of `secret`.
pub fn csrf_token(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"doorstep csrf v1\0");
    h.update(secret.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

pub fn csrf_matches(secret: &str, presented: Option<&str>) -> bool {
    match presented {
        Some(p) => constant_time_eq(csrf_token(secret).as_bytes(), p.as_bytes()),
        None => false,
    }
}

pub fn new_secret() -> Secret {
    Secret::generate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound_to_the_secret() {
        let a = new_secret();
        let b = new_secret();
        let t = csrf_token(a.expose());
        assert!(csrf_matches(a.expose(), Some(&t)));
        assert!(!csrf_matches(b.expose(), Some(&t)));
        assert!(!csrf_matches(a.expose(), None));
        assert!(!csrf_matches(a.expose(), Some("")));
    }
}
