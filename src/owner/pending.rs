//! Sign-in steps in progress, held in memory: a password accepted while a
//! second factor is awaited, a TOTP secret being enrolled, a WebAuthn
//! challenge. Each is keyed by a hash derived from the browser's session or
//! login cookie (so it is bound to that browser), is taken — never read
//! twice — and expires. A restart forgets them all, which only means
//! starting that step again.
//!
//! The map is bounded, and strangers must not be able to push the owner's
//! steps out of it: anyone can start a passkey sign-in (a login cookie is
//! free), and a flood of challenges once pushed the owner's pending one
//! out, so that the owner's passkey "did not work" (SEC-16; PRODUCT: a
//! passkey owner is never locked out by strangers). So each step says who
//! started it (`StartedBy`), and only when the map is full does a step
//! give way: the newcomer's own oldest if a stranger's address already
//! holds several, else the oldest of the address holding the most; steps
//! only the owner can start, or started from a browser the owner has
//! signed in with before, give way only to each other. Below the bound
//! nothing is dropped, so visitors sharing one address (a proxy without
//! `trusted_proxies`, a carrier's NAT) do not push each other out.
//! Among strangers' addresses holding equally many, the oldest step goes
//! first, so a new browser's step outlives the next thousand strangers'
//! started after it. What is left: a stranger with more addresses (IPv6
//! /64s) than that, within the five minutes a challenge lives, can still
//! reach the step of a browser that neither gave the password nor signed
//! in before.

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
/// Steps an address may hold before, in a full map, its newest push out
/// its own oldest rather than the busiest address's: a browser's few tabs
/// (each login page starts a passkey challenge) keep theirs.
const OWN_SHARE: usize = 8;

/// What a browser has in progress.
pub enum Pending {
    /// The password was right; a second factor (or, in passkey-only mode, a
    /// recovery code) must follow. `attempts` counts the login-throttle
    /// failures this sign-in has spent, against `counted`, given back when
    /// it succeeds.
    SecondFactor {
        continue_to: String,
        attempts: u32,
        counted: crate::owner::throttle::Guesser,
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
    /// Someone strangers cannot be: the signed-in owner (dashboard steps),
    /// one who gave the right password (the second factor awaited, and a
    /// passkey challenge for it), or a browser holding a known-device
    /// cookie (the owner signed in with it before).
    Trusted,
    /// Anyone else, by client address (an IPv6 /64 counting as one).
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
        if map.len() >= MAX_ENTRIES
            && !map.contains_key(&key)
            && let Some(victim) = victim(&map, by)
        {
            map.remove(&victim);
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

    /// Whether a second factor is awaited under `key`: the browser gave
    /// the right password (its passkey challenge is then trusted too).
    pub fn awaits_second_factor(&self, key: &SecretHash, now: UnixTime) -> bool {
        self.inner.lock().is_ok_and(|map| {
            map.get(key).is_some_and(|step| {
                step.expires > now && matches!(step.value, Pending::SecondFactor { .. })
            })
        })
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

/// The step that gives way to one `by` starts in a full map (module
/// comment): the newcomer's own oldest, if a stranger's address already
/// holds `OWN_SHARE`; else the oldest step of the strangers' addresses
/// holding the most; else (only trusted steps held) the oldest of all.
fn victim(map: &HashMap<SecretHash, Step>, by: StartedBy) -> Option<SecretHash> {
    let oldest_of = |who: StartedBy| {
        map.iter()
            .filter(|(_, step)| step.by == who)
            .min_by_key(|(_, step)| step.expires)
            .map(|(k, _)| *k)
    };
    let mut counts: HashMap<StartedBy, usize> = HashMap::new();
    for step in map.values() {
        if step.by != StartedBy::Trusted {
            *counts.entry(step.by).or_default() += 1;
        }
    }
    if counts.get(&by).is_some_and(|n| *n >= OWN_SHARE) {
        return oldest_of(by);
    }
    // Among addresses holding equally many, the oldest step goes: a
    // browser that starts while strangers keep the map full then outlives
    // every stranger's step started before it.
    let most = counts.values().copied().max();
    map.iter()
        .filter(|(_, step)| most.is_some_and(|m| counts.get(&step.by) == Some(&m)))
        .min_by_key(|(_, step)| step.expires)
        .map(|(k, _)| *k)
        .or_else(|| oldest_of(StartedBy::Trusted))
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

    fn len(p: &PendingSteps) -> usize {
        p.inner.lock().unwrap().len()
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

    /// Visitors behind one address (a proxy, a carrier's NAT) keep every
    /// step while the map has room.
    #[test]
    fn below_the_bound_nothing_is_dropped() {
        let p = PendingSteps::default();
        for i in 0..MAX_ENTRIES {
            p.put(key(i), from(1), 100, 300, enrol());
        }
        assert_eq!(len(&p), MAX_ENTRIES);
        assert!(p.take(&key(0), 101).is_some());
    }

    /// SEC-16: one address's flood, however long, only pushes out its own.
    #[test]
    fn a_full_map_drops_the_newcomer_s_own_oldest() {
        let p = PendingSteps::default();
        let owner = SecretHash::of("owner");
        p.put(owner, from(1), 100, 300, enrol());
        for i in 0..(MAX_ENTRIES * 3) {
            p.put(key(i), from(2), 100 + (i / 100) as i64, 300, enrol());
        }
        assert_eq!(len(&p), MAX_ENTRIES);
        assert!(p.take(&owner, 101).is_some());
        assert!(p.take(&key(MAX_ENTRIES * 3 - 1), 101).is_some());
        assert!(p.take(&key(0), 101).is_none());
    }

    #[test]
    fn an_ipv6_64_counts_as_one_address() {
        let p = PendingSteps::default();
        let owner = SecretHash::of("owner");
        p.put(owner, from(1), 100, 300, enrol());
        for i in 0..(MAX_ENTRIES * 2) {
            let addr = IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, i as u16 + 1]);
            p.put(key(i), StartedBy::address(addr), 100, 300, enrol());
        }
        assert!(p.take(&owner, 101).is_some());
    }

    /// Many addresses, a few steps each: the busiest gives way, not a
    /// lone step nor a trusted one; trusted steps give way only to each
    /// other.
    #[test]
    fn a_full_map_drops_from_the_busiest_address_and_keeps_trusted_steps() {
        let p = PendingSteps::default();
        let trusted = SecretHash::of("trusted");
        let lone = SecretHash::of("lone");
        p.put(trusted, StartedBy::Trusted, 100, 10, enrol());
        p.put(lone, from(1), 100, 10, enrol());
        let mut i = 0;
        for round in 0..3 {
            for host in 0..=u8::MAX {
                let by = StartedBy::address(IpAddr::from([198, 51, host, 7]));
                // Each address holds a few more than the lone one.
                for _ in 0..(2 + round) {
                    p.put(key(i), by, 100, 300, enrol());
                    i += 1;
                }
            }
        }
        assert_eq!(len(&p), MAX_ENTRIES);
        assert!(p.take(&trusted, 101).is_some());
        assert!(p.take(&lone, 101).is_some());
    }

    /// Strangers at many addresses, one step each, keep the map full: a
    /// step started among them outlives every stranger's started before it,
    /// and the next 1,023 after it.
    #[test]
    fn among_equals_the_oldest_step_goes_first() {
        let p = PendingSteps::default();
        let stranger = |i: usize| {
            StartedBy::address(IpAddr::from([10, 9, (i / 250) as u8, (i % 250) as u8 + 1]))
        };
        for i in 0..MAX_ENTRIES {
            p.put(key(i), stranger(i), 100, 300, enrol());
        }
        let owner = SecretHash::of("owner");
        p.put(owner, from(1), 101, 300, enrol());
        for i in MAX_ENTRIES..(2 * MAX_ENTRIES - 1) {
            p.put(key(i), stranger(i), 102, 300, enrol());
        }
        assert!(p.take(&owner, 103).is_some());
    }

    /// A browser's two tabs keep their steps while a flood from another
    /// address fills the map.
    #[test]
    fn a_few_steps_of_one_address_survive_a_full_map() {
        let p = PendingSteps::default();
        for i in 0..MAX_ENTRIES {
            p.put(key(i), from(2), 100, 300, enrol());
        }
        let tabs = [SecretHash::of("tab 1"), SecretHash::of("tab 2")];
        for tab in tabs {
            p.put(tab, from(1), 100, 300, enrol());
        }
        for i in MAX_ENTRIES..(MAX_ENTRIES + 100) {
            p.put(key(i), from(2), 100, 300, enrol());
        }
        for tab in &tabs {
            assert!(p.take(tab, 101).is_some());
        }
    }

    /// Even strangers at as many addresses as the map holds steps do not
    /// reach a trusted step (a known device's challenge).
    #[test]
    fn strangers_at_many_addresses_never_reach_a_trusted_step() {
        let p = PendingSteps::default();
        let owner = SecretHash::of("owner");
        p.put(owner, StartedBy::Trusted, 100, 300, enrol());
        for i in 0..(MAX_ENTRIES * 4) {
            let addr = IpAddr::from([0x2001, 0xdb8, 0, i as u16, 0, 0, 0, 1]);
            p.put(key(i), StartedBy::address(addr), 100, 300, enrol());
        }
        assert_eq!(len(&p), MAX_ENTRIES);
        assert!(p.take(&owner, 101).is_some());
    }

    #[test]
    fn trusted_steps_give_way_only_to_each_other() {
        let p = PendingSteps::default();
        for i in 0..(MAX_ENTRIES + 50) {
            p.put(key(i), StartedBy::Trusted, 100, 10 + i as i64, enrol());
        }
        assert_eq!(len(&p), MAX_ENTRIES);
        assert!(p.take(&key(MAX_ENTRIES + 49), 101).is_some());
        assert!(p.take(&key(0), 101).is_none());
    }
}
