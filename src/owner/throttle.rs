//! Login throttling (SEC-16): per client address, a growing lockout after a
//! few failures; across all addresses, a cap on failures per minute so a
//! distributed guesser gains little. State is in memory: a restart forgets
//! it, which only helps the owner.

use crate::clock::UnixTime;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failures allowed from one address before the lockout starts.
const FREE_FAILURES: u32 = 5;
/// The lockout doubles per further failure, up to this many seconds.
const MAX_LOCKOUT: i64 = 15 * 60;
/// Failures from all addresses together per minute before everyone waits.
const GLOBAL_FAILURES_PER_MINUTE: u32 = 30;
/// Addresses remembered at most; the oldest are forgotten beyond that.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Default)]
struct Entry {
    failures: u32,
    locked_until: UnixTime,
    last_failure: UnixTime,
}

#[derive(Debug, Default)]
struct Inner {
    by_addr: HashMap<IpAddr, Entry>,
    window_start: UnixTime,
    window_failures: u32,
    /// Attempts refused since the operator was last told (`begin`).
    refused_unreported: u32,
    last_report: Option<UnixTime>,
}

/// The log says at most once a minute how many sign-in attempts the
/// lockout refused: a sustained guessing run leaves a trace without one
/// line per refused attempt.
const REPORT_EVERY: i64 = 60;

#[derive(Debug, Default)]
pub struct LoginThrottle {
    inner: Mutex<Inner>,
}

/// Why an attempt may not proceed, with how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: i64,
}

use crate::ratelimit::address_key as key;

impl LoginThrottle {
    /// May an attempt from `addr` go ahead now? A browser the owner signed
    /// in from before (`known_device`) is exempt from the global cap, so a
    /// distributed guesser cannot keep the owner out; its address's own
    /// lockout still applies.
    fn check_locked(
        inner: &Inner,
        addr: IpAddr,
        now: UnixTime,
        known_device: bool,
    ) -> Result<(), Throttled> {
        if !known_device
            && now < inner.window_start + 60
            && inner.window_failures >= GLOBAL_FAILURES_PER_MINUTE
        {
            return Err(Throttled {
                retry_after: inner.window_start + 60 - now,
            });
        }
        if let Some(e) = inner.by_addr.get(&key(addr))
            && e.locked_until > now
        {
            return Err(Throttled {
                retry_after: e.locked_until - now,
            });
        }
        Ok(())
    }

    /// Checks and, if the attempt may go ahead, counts it as a failure at
    /// once, under one lock; `record_success` gives the count back. Counting
    /// only after the (seconds-long) password check let any number of
    /// simultaneous guesses pass the check before the first failure was
    /// recorded, so neither the per-address lockout nor the global cap held
    /// (SEC-16).
    pub fn begin(&self, addr: IpAddr, now: UnixTime, known_device: bool) -> Result<(), Throttled> {
        let Ok(mut inner) = self.inner.lock() else {
            return Err(Throttled { retry_after: 60 });
        };
        if let Err(t) = Self::check_locked(&inner, addr, now, known_device) {
            inner.refused_unreported += 1;
            if inner.last_report.is_none_or(|at| now - at >= REPORT_EVERY) {
                tracing::warn!(
                    %addr,
                    refused = inner.refused_unreported,
                    "sign-in attempts refused after too many failed ones (the lockout holds; \
                     this is said at most once a minute)"
                );
                inner.refused_unreported = 0;
                inner.last_report = Some(now);
            }
            return Err(t);
        }
        Self::record_locked(&mut inner, addr, now);
        Ok(())
    }

    fn record_locked(inner: &mut Inner, addr: IpAddr, now: UnixTime) {
        if now >= inner.window_start + 60 {
            inner.window_start = now;
            inner.window_failures = 0;
        }
        inner.window_failures += 1;
        if inner.by_addr.len() >= MAX_TRACKED
            && !inner.by_addr.contains_key(&key(addr))
            && let Some(oldest) = inner
                .by_addr
                .iter()
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(k, _)| *k)
        {
            inner.by_addr.remove(&oldest);
        }
        let e = inner.by_addr.entry(key(addr)).or_default();
        // A day without failures starts the count afresh.
        if now - e.last_failure > 24 * 3600 {
            e.failures = 0;
        }
        e.failures += 1;
        e.last_failure = now;
        if e.failures > FREE_FAILURES {
            let exp = (e.failures - FREE_FAILURES - 1).min(20);
            // From 2 s, doubling: time is counted in whole seconds, so a
            // 1 s lock taken late in a second would end a moment later.
            e.locked_until = now + (2i64 << exp).min(MAX_LOCKOUT);
        }
    }

    /// A correct password: the address starts afresh, and the failure that
    /// `begin` counted in advance is taken back from the global window.
    pub fn record_success(&self, addr: IpAddr) {
        self.record_success_after(addr, 1);
    }

    /// A sign-in that took several counted steps (a password, then an
    /// authenticator-app code) succeeded: the address starts afresh and
    /// every step's advance count leaves the global window. A right
    /// password alone forgives nothing while a second factor is due, so
    /// knowing the password does not buy more guesses at the code.
    pub fn record_success_after(&self, addr: IpAddr, attempts: u32) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.by_addr.remove(&key(addr));
            inner.window_failures = inner.window_failures.saturating_sub(attempts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `begin` without counting the attempt.
    fn check(t: &LoginThrottle, a: IpAddr, now: UnixTime, known: bool) -> Result<(), Throttled> {
        LoginThrottle::check_locked(&t.inner.lock().unwrap(), a, now, known)
    }

    /// A failure, counted without asking first.
    fn fail(t: &LoginThrottle, a: IpAddr, now: UnixTime) {
        LoginThrottle::record_locked(&mut t.inner.lock().unwrap(), a, now);
    }

    #[test]
    fn lockout_grows_after_free_failures_and_success_clears_it() {
        let t = LoginThrottle::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let now = 1_000_000;
        for _ in 0..FREE_FAILURES {
            assert!(check(&t, a, now, false).is_ok());
            fail(&t, a, now);
        }
        assert!(check(&t, a, now, false).is_ok());
        fail(&t, a, now);
        assert_eq!(check(&t, a, now, false), Err(Throttled { retry_after: 2 }));
        // Even taken at the very end of a second, the lock holds through
        // the next whole second.
        assert!(check(&t, a, now + 1, false).is_err());
        fail(&t, a, now);
        assert_eq!(check(&t, a, now, false), Err(Throttled { retry_after: 4 }));
        assert!(check(&t, a, now + 4, false).is_ok());
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(check(&t, other, now, false).is_ok());
        t.record_success(a);
        assert!(check(&t, a, now, false).is_ok());
    }

    #[test]
    fn begin_counts_the_attempt_before_the_password_is_checked() {
        let t = LoginThrottle::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        // Six attempts in flight at once; the seventh is refused at once.
        for _ in 0..=FREE_FAILURES {
            assert!(t.begin(a, 0, false).is_ok());
        }
        assert!(t.begin(a, 0, false).is_err());
        // A correct password gives the global count back.
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..GLOBAL_FAILURES_PER_MINUTE * 2 {
            assert!(t.begin(b, 1, false).is_ok());
            t.record_success(b);
        }
    }

    #[test]
    fn global_cap_stops_distributed_guessing() {
        let t = LoginThrottle::default();
        let now = 5_000;
        for i in 0..GLOBAL_FAILURES_PER_MINUTE {
            let a = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            fail(&t, a, now);
        }
        let fresh: IpAddr = "198.51.100.7".parse().unwrap();
        assert!(check(&t, fresh, now + 10, false).is_err());
        // The owner's known browser is not kept out by strangers.
        assert!(check(&t, fresh, now + 10, true).is_ok());
        assert!(check(&t, fresh, now + 60, false).is_ok());
    }

    #[test]
    fn ipv6_addresses_in_one_64_share_a_counter() {
        let t = LoginThrottle::default();
        for i in 0..=FREE_FAILURES {
            let a: IpAddr = format!("2001:db8::{i:x}").parse().unwrap();
            fail(&t, a, 0);
        }
        assert!(check(&t, "2001:db8::ffff".parse().unwrap(), 0, false).is_err());
    }
}
