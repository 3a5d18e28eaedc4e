//! Password hashing with argon2id. Hashing is deliberately slow, so callers
//! run it on a blocking thread, never on an async worker.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_LEN} characters long")]
    TooShort,
    #[error("the password is longer than {MAX_LEN} bytes")]
    TooLong,
    #[error("could not hash the password")]
    Hash,
}

pub const MIN_LEN: usize = 8;
/// Bounds the work one login attempt can cause.
pub const MAX_LEN: usize = 1024;

/// One trailing newline (as `echo` adds) is not part of the password.
pub fn from_stdin_text(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LEN {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_LEN {
        return Err(PasswordError::TooLong);
    }
    let mut salt_bytes = [0u8; 16];
    use rand::TryRng;
    rand::rngs::SysRng
        .try_fill_bytes(&mut salt_bytes)
        .map_err(|_| PasswordError::Hash)?;
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt_bytes)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Hash)
}

/// Constant-time by construction (argon2 compares its own output).
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_LEN {
        return false;
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsE", &h));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
    }

    #[test]
    fn one_trailing_newline_is_stripped() {
        assert_eq!(from_stdin_text("pw\n"), "pw");
        assert_eq!(from_stdin_text("pw\r\n"), "pw");
        assert_eq!(from_stdin_text("pw\n\n"), "pw\n");
        assert_eq!(from_stdin_text("pw"), "pw");
    }
}
