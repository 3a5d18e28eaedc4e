//! Random secrets (codes, tokens, session ids, setup links) and their hashes.
//!
//! Every secret is 256 bits from the operating system's RNG (CODE-5, SEC-8),
//! handed out base64url without padding so it is URL-safe as it is (CODE-6),
//! and stored only as its SHA-256 hash. `Debug` never prints the value.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRng;
use sha2::{Digest, Sha256};
use std::fmt;

/// A freshly generated secret, to be shown once and then forgotten.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// SHA-256 of a secret's text: what the database keeps.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash(pub [u8; 32]);

impl Secret {
    /// 32 bytes from the OS RNG. Failing to read the OS RNG is not
    /// recoverable for a security server, so it aborts the process rather
    /// than hand out a weak secret.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        if rand::rngs::SysRng.try_fill_bytes(&mut bytes).is_err() {
            tracing::error!("the operating system's random number generator failed");
            std::process::abort();
        }
        Secret(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// `n` bytes from the OS RNG (TOTP secrets, recovery codes); aborts
    /// rather than hand out weak ones, as `generate` does.
    pub fn random_bytes(n: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; n];
        if rand::rngs::SysRng.try_fill_bytes(&mut bytes).is_err() {
            tracing::error!("the operating system's random number generator failed");
            std::process::abort();
        }
        bytes
    }

    /// The length of every secret `generate` makes: 32 bytes in base64url.
    pub const LEN: usize = 43;

    /// Whether `value` could be one of ours: the right length. A cookie or
    /// parameter of any other length is refused without a lookup.
    pub fn is_well_formed(value: &str) -> bool {
        value.len() == Self::LEN
    }

    /// Wrap a value received from a client (it may be anything).
    pub fn from_presented(value: &str) -> Self {
        Secret(value.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl SecretHash {
    pub fn of(text: &str) -> Self {
        SecretHash(Sha256::digest(text.as_bytes()).into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(SecretHash)
    }

    /// A short prefix for logs (SEC-17: never log the secret itself).
    pub fn log_id(&self) -> String {
        self.0[..4].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({}…)", self.log_id())
    }
}

/// Constant-time equality for secrets and values derived from them (SEC-19).
///
/// The differences of each eight bytes are folded into one word, which
/// `std::hint::black_box` hides from the compiler at every step, so that it
/// cannot know the answer before the last word and end the loop early.
/// That barrier is best-effort by its documentation (an empty `asm` block
/// holding the value, in practice), as `subtle`'s are. (`subtle`'s
/// comparisons pass every byte, or every word, through a barrier of their
/// own and combine the results one by one: introspection compares a
/// resource server's secret with every active one on every call, issue 10.)
/// Only the lengths, which are public (a token's is fixed), may end it early.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    let mut diff = 0u64;
    for (x, y) in a_words.iter().zip(b_words) {
        diff = std::hint::black_box(diff | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y)));
    }
    for (x, y) in a_rest.iter().zip(b_rest) {
        diff = std::hint::black_box(diff | u64::from(x ^ y));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bit_base64url_without_padding() {
        let s = Secret::generate();
        assert_eq!(s.expose().len(), 43);
        assert!(
            s.expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(s, Secret::generate());
    }

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::generate();
        assert!(!format!("{s:?}").contains(s.expose()));
    }

    #[test]
    fn hash_is_sha256_of_the_text() {
        let h = SecretHash::of("abc");
        assert_eq!(h.log_id(), "ba7816bf");
    }

    #[test]
    fn constant_time_eq_compares_lengths_and_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    proptest::proptest! {
        /// Word by word, it answers what `==` answers, whichever byte
        /// differs and whatever the length (not a multiple of eight too).
        #[test]
        fn constant_time_eq_agrees_with_eq(
            a in proptest::collection::vec(proptest::num::u8::ANY, 0..70),
            flip in proptest::num::usize::ANY,
            bit in 0u8..8,
        ) {
            proptest::prop_assert!(constant_time_eq(&a, &a.clone()));
            if !a.is_empty() {
                let mut b = a.clone();
                b[flip % a.len()] ^= 1 << bit;
                proptest::prop_assert!(!constant_time_eq(&a, &b));
                proptest::prop_assert!(!constant_time_eq(&a, &a[..a.len() - 1]));
            }
        }
    }
}
