//! Login throttling (SEC-16): per client address (or per known browser of
//! the owner's), a growing lockout after a few failures; across all
//! addresses, a cap on failures per minute so a distributed guesser gains
//! little; and, for the account, a pause after wrong authenticator-app
//! codes in a row (`CodeGuard`). State is in memory: a restart forgets it,
//! which only helps the owner.

use crate::clock::UnixTime;
use crate::domain::SecretHash;
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

/// Who a sign-in attempt is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guesser {
    /// A browser the owner signed in with before (its device cookie's
    /// hash): counted on its own, so a stranger's failures from the same
    /// address (shared Wi-Fi, a carrier's NAT, one IPv6 /64) cannot lock
    /// it out, and exempt from the global cap.
    KnownDevice(SecretHash),
    /// Anyone else, by address (an IPv6 /64 as one).
    Address(IpAddr),
}

impl Guesser {
    fn key(self) -> Key {
        match self {
            Guesser::KnownDevice(h) => Key::Device(h),
            Guesser::Address(a) => Key::Address(key(a)),
        }
    }

    pub fn is_known_device(self) -> bool {
        matches!(self, Guesser::KnownDevice(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Device(SecretHash),
    Address(IpAddr),
}

#[derive(Debug, Default)]
struct Inner {
    by_guesser: HashMap<Key, Entry>,
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
    /// May an attempt by `who` go ahead now? A browser the owner signed in
    /// from before (`Guesser::KnownDevice`) is exempt from the global cap,
    /// so a distributed guesser cannot keep the owner out, and has a lockout
    /// of its own, so a stranger at its address cannot either.
    fn check_locked(inner: &Inner, who: Guesser, now: UnixTime) -> Result<(), Throttled> {
        if !who.is_known_device()
            && now < inner.window_start + 60
            && inner.window_failures >= GLOBAL_FAILURES_PER_MINUTE
        {
            return Err(Throttled {
                retry_after: inner.window_start + 60 - now,
            });
        }
        if let Some(e) = inner.by_guesser.get(&who.key())
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
    pub fn begin(&self, who: Guesser, addr: IpAddr, now: UnixTime) -> Result<(), Throttled> {
        let Ok(mut inner) = self.inner.lock() else {
            return Err(Throttled { retry_after: 60 });
        };
        if let Err(t) = Self::check_locked(&inner, who, now) {
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
        Self::record_locked(&mut inner, who, now);
        Ok(())
    }

    fn record_locked(inner: &mut Inner, who: Guesser, now: UnixTime) {
        if now >= inner.window_start + 60 {
            inner.window_start = now;
            inner.window_failures = 0;
        }
        inner.window_failures += 1;
        if inner.by_guesser.len() >= MAX_TRACKED
            && !inner.by_guesser.contains_key(&who.key())
            && let Some(oldest) = inner
                .by_guesser
                .iter()
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(k, _)| *k)
        {
            inner.by_guesser.remove(&oldest);
        }
        let e = inner.by_guesser.entry(who.key()).or_default();
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

    /// A correct password: the guesser starts afresh, and the failure that
    /// `begin` counted in advance is taken back from the global window.
    pub fn record_success(&self, who: Guesser) {
        self.record_success_after(who, 1);
    }

    /// A sign-in that took several counted steps (a password, then an
    /// authenticator-app code) succeeded: the guesser starts afresh and
    /// every step's advance count leaves the global window. A right
    /// password alone forgives nothing while a second factor is due, so
    /// knowing the password does not buy more guesses at the code.
    pub fn record_success_after(&self, who: Guesser, attempts: u32) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.by_guesser.remove(&who.key());
            inner.window_failures = inner.window_failures.saturating_sub(attempts);
        }
    }
}

/// Wrong codes in a row before code entry pauses.
const FREE_CODE_FAILURES: u32 = 5;
/// The wrong code that starts a run's first pause (what the activity list
/// is told of, once per run).
pub const FIRST_PAUSE_AT: u32 = FREE_CODE_FAILURES;
/// The first pause, in seconds; it doubles per further wrong code.
const FIRST_CODE_PAUSE: i64 = 60;
/// The longest pause, in seconds.
const MAX_CODE_PAUSE: i64 = 4 * 3600;

/// Wrong authenticator-app codes, counted for the account rather than per
/// address (RFC 6238 §5.2). Whoever types them has already given the right
/// password, and a password thief with many addresses would otherwise
/// guess on at the login throttle's global pace, about 43,000 codes a day,
/// three of them right at any moment. After `FREE_CODE_FAILURES` in a row,
/// code entry pauses for a minute, doubling with each further wrong code up
/// to `MAX_CODE_PAUSE`: a few dozen guesses a day at most. Each code is
/// counted as wrong before it is checked (`begin`), so codes sent at once
/// cannot all pass the check before the first is counted; a right code, or
/// any other successful sign-in, ends the run. A browser the owner signed
/// in from before is never paused, so the thief cannot keep the owner out;
/// nor are passkeys (not codes) or recovery codes (80 random bits each,
/// nothing to guess, and the way back in for an owner who lost the app).
/// State is in memory, like the login throttle's.
#[derive(Debug, Default)]
pub struct CodeGuard {
    inner: Mutex<CodeRun>,
}

#[derive(Debug, Default)]
struct CodeRun {
    failures: u32,
    paused_until: UnixTime,
}

impl CodeRun {
    /// Codes are taken now, unless paused (never for a known browser).
    fn open_to(&self, now: UnixTime, known_device: bool) -> Result<(), Throttled> {
        if !known_device && now < self.paused_until {
            return Err(Throttled {
                retry_after: self.paused_until - now,
            });
        }
        Ok(())
    }
}

/// A wrong code that paused code entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePause {
    /// Wrong codes in this run so far.
    pub failures: u32,
    /// Seconds until codes are taken again.
    pub seconds: i64,
}

impl CodeGuard {
    /// Whether code entry is paused for this browser now, without counting
    /// anything (asked before the login throttle spends an attempt).
    pub fn check(&self, now: UnixTime, known_device: bool) -> Result<(), Throttled> {
        let Ok(run) = self.inner.lock() else {
            return Err(Throttled { retry_after: 60 });
        };
        run.open_to(now, known_device)
    }

    /// May a code be checked now? If so, it is counted as wrong at once,
    /// under the lock, and `Ok` holds the pause that starts if it is
    /// (to log, and tell the owner of); `record_success` takes it all back.
    pub fn begin(&self, now: UnixTime, known_device: bool) -> Result<Option<CodePause>, Throttled> {
        let Ok(mut run) = self.inner.lock() else {
            return Err(Throttled { retry_after: 60 });
        };
        run.open_to(now, known_device)?;
        run.failures = run.failures.saturating_add(1);
        if run.failures < FREE_CODE_FAILURES {
            return Ok(None);
        }
        let doublings = (run.failures - FREE_CODE_FAILURES).min(20);
        let seconds = (FIRST_CODE_PAUSE << doublings).min(MAX_CODE_PAUSE);
        run.paused_until = now + seconds;
        Ok(Some(CodePause {
            failures: run.failures,
            seconds,
        }))
    }

    /// A right code, or another successful sign-in: the run is over.
    pub fn record_success(&self) {
        if let Ok(mut run) = self.inner.lock() {
            *run = CodeRun::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `begin` without counting the attempt.
    fn check(t: &LoginThrottle, who: Guesser, now: UnixTime) -> Result<(), Throttled> {
        LoginThrottle::check_locked(&t.inner.lock().unwrap(), who, now)
    }

    /// A failure, counted without asking first.
    fn fail(t: &LoginThrottle, who: Guesser, now: UnixTime) {
        LoginThrottle::record_locked(&mut t.inner.lock().unwrap(), who, now);
    }

    fn by(a: IpAddr) -> Guesser {
        Guesser::Address(a)
    }

    fn device(n: u8) -> Guesser {
        Guesser::KnownDevice(SecretHash([n; 32]))
    }

    #[test]
    fn lockout_grows_after_free_failures_and_success_clears_it() {
        let t = LoginThrottle::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let now = 1_000_000;
        for _ in 0..FREE_FAILURES {
            assert!(check(&t, by(a), now).is_ok());
            fail(&t, by(a), now);
        }
        assert!(check(&t, by(a), now).is_ok());
        fail(&t, by(a), now);
        assert_eq!(check(&t, by(a), now), Err(Throttled { retry_after: 2 }));
        // Even taken at the very end of a second, the lock holds through
        // the next whole second.
        assert!(check(&t, by(a), now + 1).is_err());
        fail(&t, by(a), now);
        assert_eq!(check(&t, by(a), now), Err(Throttled { retry_after: 4 }));
        assert!(check(&t, by(a), now + 4).is_ok());
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(check(&t, by(other), now).is_ok());
        t.record_success(by(a));
        assert!(check(&t, by(a), now).is_ok());
    }

    #[test]
    fn begin_counts_the_attempt_before_the_password_is_checked() {
        let t = LoginThrottle::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        // Six attempts in flight at once; the seventh is refused at once.
        for _ in 0..=FREE_FAILURES {
            assert!(t.begin(by(a), a, 0).is_ok());
        }
        assert!(t.begin(by(a), a, 0).is_err());
        // A correct password gives the global count back.
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..GLOBAL_FAILURES_PER_MINUTE * 2 {
            assert!(t.begin(by(b), b, 1).is_ok());
            t.record_success(by(b));
        }
    }

    #[test]
    fn global_cap_stops_distributed_guessing() {
        let t = LoginThrottle::default();
        let now = 5_000;
        for i in 0..GLOBAL_FAILURES_PER_MINUTE {
            let a = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            fail(&t, by(a), now);
        }
        let fresh: IpAddr = "198.51.100.7".parse().unwrap();
        assert!(check(&t, by(fresh), now + 10).is_err());
        // The owner's known browser is not kept out by strangers.
        assert!(check(&t, device(1), now + 10).is_ok());
        assert!(check(&t, by(fresh), now + 60).is_ok());
    }

    /// A stranger's failures at the owner's address (shared Wi-Fi, a
    /// carrier's NAT, one IPv6 /64) do not lock out the owner's known
    /// browser there; its own failures lock it.
    #[test]
    fn a_known_device_is_counted_on_its_own() {
        let t = LoginThrottle::default();
        let shared: IpAddr = "192.0.2.9".parse().unwrap();
        for _ in 0..=FREE_FAILURES + 3 {
            fail(&t, by(shared), 0);
        }
        assert!(check(&t, by(shared), 0).is_err());
        assert!(check(&t, device(1), 0).is_ok());
        for _ in 0..=FREE_FAILURES {
            fail(&t, device(1), 0);
        }
        assert!(check(&t, device(1), 0).is_err());
        assert!(check(&t, device(2), 0).is_ok());
    }

    #[test]
    fn ipv6_addresses_in_one_64_share_a_counter() {
        let t = LoginThrottle::default();
        for i in 0..=FREE_FAILURES {
            let a: IpAddr = format!("2001:db8::{i:x}").parse().unwrap();
            fail(&t, by(a), 0);
        }
        assert!(check(&t, by("2001:db8::ffff".parse().unwrap()), 0).is_err());
    }

    #[test]
    fn wrong_codes_pause_entry_for_everyone_but_a_known_browser() {
        let g = CodeGuard::default();
        for _ in 0..FREE_CODE_FAILURES - 1 {
            assert_eq!(g.begin(100, false), Ok(None));
        }
        assert_eq!(
            g.begin(100, false),
            Ok(Some(CodePause {
                failures: FREE_CODE_FAILURES,
                seconds: FIRST_CODE_PAUSE
            }))
        );
        assert_eq!(
            g.begin(100, false),
            Err(Throttled {
                retry_after: FIRST_CODE_PAUSE
            })
        );
        // The owner's own browser is never kept out.
        assert!(g.begin(100, true).is_ok());
        // Each further wrong code doubles the pause, up to the cap.
        let later = 100 + 4 * FIRST_CODE_PAUSE;
        assert!(matches!(g.begin(later, false), Ok(Some(p)) if p.seconds == 4 * FIRST_CODE_PAUSE));
        for _ in 0..30 {
            let _ = g.begin(later, true);
        }
        assert_eq!(
            g.begin(later, false),
            Err(Throttled {
                retry_after: MAX_CODE_PAUSE
            })
        );
        // A success ends the run.
        g.record_success();
        assert_eq!(g.begin(later, false), Ok(None));
    }

    /// Codes sent at once are each counted before any is checked: the
    /// sixth is refused even if none of the first five has been answered.
    #[test]
    fn codes_in_flight_are_counted_before_they_are_checked() {
        let g = CodeGuard::default();
        for _ in 0..FREE_CODE_FAILURES {
            assert!(g.begin(0, false).is_ok());
        }
        assert!(g.begin(0, false).is_err());
    }
}
