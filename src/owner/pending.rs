//! Sign-in steps in progress, held in memory: a password accepted while a
//! second factor is awaited, a TOTP secret being enrolled, a WebAuthn
//! challenge. Each is keyed by a hash derived from the browser's session or
//! login cookie (so it is bound to that browser), is taken — never read
//! twice — and expires. A restart forgets them all, which only means
//! starting that step again.
//!
//! The map is bounded, and a stranger's steps can only push out that
//! stranger's own: anyone can start a passkey sign-in (a login cookie is
//! free), so a flood of challenges from one address once pushed the
//! owner's pending challenge out of a map shared by all, and the owner's
//! passkey "did not work" (SEC-16; PRODUCT: a passkey owner is never
//! locked out by strangers). Each address (an IPv6 /64 counting as one)
//! keeps at most `PER_ADDRESS` steps, its oldest dropped for a newer one;
//! when the whole map is full, the step dropped is the oldest of the
//! address holding the most. Steps the signed-in owner starts on the
//! dashboard are counted apart and only ever give way to each other.

use crate::clock::UnixTime;
use crate::domain::SecretHash;
use crate::ratelimit::address_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration,
};

/// WebAuthn challenges and a half-finished sign-in live this long.
pub const CHALLENGE_SECONDS: i64 = 5 * 60;
/// Scanning a QR code and typing a code may take longer.
pub const ENROLMENT_SECONDS: i64 = 15 * 60;
const MAX_ENTRIES: usize = 1024;
/// Steps one address holds at once: a few tabs of the login page, each
/// with its passkey challenge, and a password waiting for its second
/// factor.
const PER_ADDRESS: usize = 8;

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

/// Who started a step, for the bounds above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartedBy {
    /// The signed-in owner, on the dashboard (keyed by the session).
    Owner,
    /// A browser signing in, from this client address.
    Address(IpAddr),
}

impl StartedBy {
    /// Addresses are counted as the rate limits count them.
    pub fn address(addr: IpAddr) -> StartedBy {
        StartedBy::Address(address_key(addr))
    }
}

struct Step {
    expires: UnixTime,
    by: StartedBy,
    value: Pending,
}

#[derive(Default)]
pub struct PendingSteps {
    inner: Mutex<HashMap<SecretHash, Step>>,
}

impl PendingSteps {
    /// Holds `value` under `key` until `now + lifetime`, replacing what was
    /// there, and making room within the bounds (module comment).
    pub fn put(
        &self,
        key: SecretHash,
        by: StartedBy,
        now: UnixTime,
        lifetime: i64,
        value: Pending,
    ) {
        let Ok(mut map) = self.inner.lock() else {
            return;
        };
        map.retain(|_, step| step.expires > now);
        if !map.contains_key(&key) {
            if map.values().filter(|step| step.by == by).count() >= PER_ADDRESS
                && matches!(by, StartedBy::Address(_))
            {
                remove_oldest_of(&mut map, by);
            } else if map.len() >= MAX_ENTRIES {
                let busiest = busiest(&map);
                remove_oldest_of(&mut map, busiest);
            }
        }
        map.insert(
            key,
            Step {
                expires: now + lifetime,
                by,
                value,
            },
        );
    }

    /// Takes what is held under `key`, if it has not expired.
    pub fn take(&self, key: &SecretHash, now: UnixTime) -> Option<Pending> {
        self.take_with_expiry(key, now).map(|(_, value)| value)
    }

    /// Puts back something taken, keeping its original expiry.
    pub fn put_back(&self, key: SecretHash, by: StartedBy, expires: UnixTime, value: Pending) {
        if let Ok(mut map) = self.inner.lock() {
            map.insert(key, Step { expires, by, value });
        }
    }

    /// Takes the value with its expiry (for steps that may be retried).
    pub fn take_with_expiry(&self, key: &SecretHash, now: UnixTime) -> Option<(UnixTime, Pending)> {
        let mut map = self.inner.lock().ok()?;
        match map.remove(key) {
            Some(step) if step.expires > now => Some((step.expires, step.value)),
            _ => None,
        }
    }
}

/// Who holds the most steps; strangers' addresses before the owner, who
/// only gives way when nothing else is held.
fn busiest(map: &HashMap<SecretHash, Step>) -> StartedBy {
    let mut counts: HashMap<StartedBy, usize> = HashMap::new();
    for step in map.values() {
        *counts.entry(step.by).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(by, n)| (matches!(by, StartedBy::Address(_)), *n))
        .map_or(StartedBy::Owner, |(by, _)| by)
}

/// Drops the step of `by` closest to expiry.
fn remove_oldest_of(map: &mut HashMap<SecretHash, Step>, by: StartedBy) {
    if let Some(oldest) = map
        .iter()
        .filter(|(_, step)| step.by == by)
        .min_by_key(|(_, step)| step.expires)
        .map(|(k, _)| *k)
    {
        map.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enrol() -> Pending {
        Pending::TotpEnrolment { secret: vec![1] }
    }

    fn key(i: usize) -> SecretHash {
        SecretHash::of(&i.to_string())
    }

    fn from(last: u8) -> StartedBy {
        StartedBy::address(IpAddr::from([203, 0, 113, last]))
    }

    #[test]
    fn a_step_is_taken_once_and_expires() {
        let p = PendingSteps::default();
        let k = SecretHash::of("a");
        p.put(k, from(1), 100, 10, enrol());
        assert!(p.take(&k, 105).is_some());
        assert!(p.take(&k, 105).is_none());
        p.put(k, from(1), 100, 10, enrol());
        assert!(p.take(&k, 110).is_none());
    }

    /// SEC-16: one address's flood never pushes out another's step.
    #[test]
    fn an_address_holds_a_few_steps_and_drops_its_own_oldest() {
        let p = PendingSteps::default();
        let owner = SecretHash::of("owner");
        p.put(owner, from(1), 100, 300, enrol());
        for i in 0..(MAX_ENTRIES * 2) {
            p.put(key(i), from(2), 100, 300 + i as i64, enrol());
        }
        assert_eq!(p.inner.lock().unwrap().len(), 1 + PER_ADDRESS);
        assert!(p.take(&owner, 101).is_some());
        // The stranger's newest steps survive, its oldest went first.
        assert!(p.take(&key(MAX_ENTRIES * 2 - 1), 101).is_some());
        assert!(p.take(&key(0), 101).is_none());
    }

    #[test]
    fn an_ipv6_64_counts_as_one_address() {
        let p = PendingSteps::default();
        for i in 0..(PER_ADDRESS * 3) {
            let addr = IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, i as u16 + 1]);
            p.put(key(i), StartedBy::address(addr), 100, 300, enrol());
        }
        assert_eq!(p.inner.lock().unwrap().len(), PER_ADDRESS);
    }

    /// Many addresses fill the map: the busiest gives way, not the owner's
    /// dashboard step nor an address with a single step.
    #[test]
    fn a_full_map_drops_from_the_busiest_address() {
        let p = PendingSteps::default();
        let enrolment = SecretHash::of("enrolment");
        let lone = SecretHash::of("lone");
        p.put(enrolment, StartedBy::Owner, 100, 10, enrol());
        p.put(lone, from(1), 100, 10, enrol());
        let mut i = 0;
        for host in 0..=u8::MAX {
            for _ in 0..PER_ADDRESS {
                let by = StartedBy::address(IpAddr::from([198, 51, host, 7]));
                p.put(key(i), by, 100, 300, enrol());
                i += 1;
            }
        }
        assert_eq!(p.inner.lock().unwrap().len(), MAX_ENTRIES);
        assert!(p.take(&enrolment, 101).is_some());
        assert!(p.take(&lone, 101).is_some());
    }

    #[test]
    fn the_owner_s_steps_give_way_only_to_each_other() {
        let p = PendingSteps::default();
        for i in 0..(MAX_ENTRIES + 50) {
            p.put(key(i), StartedBy::Owner, 100, 10 + i as i64, enrol());
        }
        assert_eq!(p.inner.lock().unwrap().len(), MAX_ENTRIES);
        assert!(p.take(&key(MAX_ENTRIES + 49), 101).is_some());
        assert!(p.take(&key(0), 101).is_none());
    }
}
