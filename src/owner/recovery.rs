//! Recovery codes: ten single-use codes, shown once and stored only as
//! SHA-256. Each is 80 random bits (16 base32 letters in four groups), so
//! the hash needs no salt or stretching to stay unguessable.

use crate::domain::SecretHash;

pub const COUNT: usize = 10;
const BYTES: usize = 10;

/// A fresh set: the codes to show once, and the hashes to store.
pub fn generate() -> (Vec<String>, Vec<SecretHash>) {
    let codes: Vec<String> = (0..COUNT)
        .map(|_| {
            let raw = crate::domain::Secret::random_bytes(BYTES);
            let letters = totp_rs::Secret::Raw(raw)
                .to_encoded()
                .to_string()
                .to_ascii_lowercase();
            letters
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect();
    let hashes = codes.iter().map(|c| hash(c)).collect();
    (codes, hashes)
}

/// The hash of a code as the owner may type it: any case, with or without
/// the dashes, with spaces.
pub fn hash(typed: &str) -> SecretHash {
    let normal: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SecretHash::of(&normal)
}

/// Does this look like a recovery code rather than an app's code?
pub fn looks_like_one(typed: &str) -> bool {
    typed.chars().filter(|c| c.is_ascii_alphanumeric()).count() == 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_codes_that_hash_however_they_are_typed() {
        let (codes, hashes) = generate();
        assert_eq!(codes.len(), COUNT);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), COUNT);
        let c = &codes[0];
        assert_eq!(c.len(), 19, "{c}");
        assert!(looks_like_one(c));
        assert_eq!(hash(c), hashes[0]);
        assert_eq!(hash(&c.to_uppercase().replace('-', " ")), hashes[0]);
        assert_ne!(hash(&codes[1]), hashes[0]);
        assert!(!looks_like_one("123456"));
    }
}
