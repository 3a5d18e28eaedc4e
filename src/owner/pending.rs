//! Sign-in steps in progress, held in memory: a password accepted while a
//! second factor is awaited, a TOTP secret being enrolled, a WebAuthn
//! challenge. Each is keyed by a hash derived from the browser's session or
//! login cookie (so it is bound to that browser), is taken — never read
//! twice — and expires. A restart forgets them all, which only means
//! starting that step again. The map is bounded: past its size the entry
//! closest to expiry is dropped, so strangers cannot grow it.

use crate::clock::UnixTime;
use crate::domain::SecretHash;
use std::collections::HashMap;
use std::sync::Mutex;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration,
};

/// WebAuthn challenges and a half-finished sign-in live this long.
pub const CHALLENGE_SECONDS: i64 = 5 * 60;
/// Scanning a QR code and typing a code may take longer.
pub const ENROLMENT_SECONDS: i64 = 15 * 60;
const MAX_ENTRIES: usize = 1024;

/// What a browser has in progress.
pub enum Pending {
    /// The password was right; a second factor (or, in passkey-only mode, a
    /// recovery code) must follow. `attempts` counts the login-throttle
    /// failures this sign-in has spent, given back when it succeeds.
    SecondFactor {
        continue_to: String,
        attempts: u32,
    },
    /// A TOTP secret shown as a QR code, waiting for its first code.
    TotpEnrolment {
        secret: Vec<u8>,
    },
    PasskeyRegistration(Box<PasskeyRegistration>),
    /// A sign-in with the owner's passkeys listed (the button).
    PasskeyAuthentication(Box<PasskeyAuthentication>),
    /// A sign-in where the browser offers its passkeys (autofill).
    DiscoverableAuthentication(Box<DiscoverableAuthentication>),
}

#[derive(Default)]
pub struct PendingSteps {
    inner: Mutex<HashMap<SecretHash, (UnixTime, Pending)>>,
}

impl PendingSteps {
    /// Holds `value` under `key` until `now + lifetime`, replacing what was
    /// there.
    pub fn put(&self, key: SecretHash, now: UnixTime, lifetime: i64, value: Pending) {
        let Ok(mut map) = self.inner.lock() else {
            return;
        };
        map.retain(|_, (expires, _)| *expires > now);
        if map.len() >= MAX_ENTRIES
            && !map.contains_key(&key)
            && let Some(soonest) = map.iter().min_by_key(|(_, (e, _))| *e).map(|(k, _)| *k)
        {
            map.remove(&soonest);
        }
        map.insert(key, (now + lifetime, value));
    }

    /// Takes what is held under `key`, if it has not expired.
    pub fn take(&self, key: &SecretHash, now: UnixTime) -> Option<Pending> {
        let mut map = self.inner.lock().ok()?;
        match map.remove(key) {
            Some((expires, value)) if expires > now => Some(value),
            _ => None,
        }
    }

    /// Puts back something taken, keeping its original expiry.
    pub fn put_back(&self, key: SecretHash, expires: UnixTime, value: Pending) {
        if let Ok(mut map) = self.inner.lock() {
            map.insert(key, (expires, value));
        }
    }

    /// Takes the value with its expiry (for steps that may be retried).
    pub fn take_with_expiry(&self, key: &SecretHash, now: UnixTime) -> Option<(UnixTime, Pending)> {
        let mut map = self.inner.lock().ok()?;
        match map.remove(key) {
            Some((expires, value)) if expires > now => Some((expires, value)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enrol() -> Pending {
        Pending::TotpEnrolment { secret: vec![1] }
    }

    #[test]
    fn a_step_is_taken_once_and_expires() {
        let p = PendingSteps::default();
        let k = SecretHash::of("a");
        p.put(k, 100, 10, enrol());
        assert!(p.take(&k, 105).is_some());
        assert!(p.take(&k, 105).is_none());
        p.put(k, 100, 10, enrol());
        assert!(p.take(&k, 110).is_none());
    }

    #[test]
    fn the_map_stays_bounded() {
        let p = PendingSteps::default();
        for i in 0..(MAX_ENTRIES + 50) {
            p.put(SecretHash::of(&i.to_string()), 100, 10 + i as i64, enrol());
        }
        assert_eq!(p.inner.lock().unwrap().len(), MAX_ENTRIES);
        // The newest survives; the one closest to expiry went first.
        assert!(
            p.take(&SecretHash::of(&(MAX_ENTRIES + 49).to_string()), 101)
                .is_some()
        );
        assert!(p.take(&SecretHash::of("0"), 101).is_none());
    }
}
