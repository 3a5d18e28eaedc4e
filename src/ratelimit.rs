//! Per-address limits on failed requests (SEC-16): a token bucket per
//! client address, in memory, for the endpoints a stranger can hammer —
//! the token endpoint, bearer verification, the introspection self-auth
//! fallback. Only failures spend from a bucket, so an app or a Micropub
//! server using valid credentials is never slowed or refused.
//! The owner's login has its own, stricter rules (`owner::throttle`).

use crate::clock::UnixTime;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

/// The unit every per-address rule counts (these buckets, the login
/// throttle, the pending sign-in steps, the connection cap): an IPv4
/// address (an IPv4-mapped IPv6 address is its IPv4 address), or an IPv6
/// /64 (one customer usually owns the whole /64).
pub fn address_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Addresses remembered at most. Beyond, buckets that have refilled are
/// dropped first (they say nothing), then the least recently seen — never
/// all at once, so many addresses cannot wipe everyone's record.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: UnixTime,
}

#[derive(Debug)]
pub struct FailureLimiter {
    /// Failures allowed in a burst.
    burst: f64,
    /// How many failures a second are forgiven.
    refill_per_second: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl FailureLimiter {
    pub fn new(burst: u32, refill_per_second: f64) -> Self {
        FailureLimiter {
            burst: f64::from(burst),
            refill_per_second,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn level(&self, b: Bucket, now: UnixTime) -> f64 {
        let elapsed = (now - b.at).max(0) as f64;
        (b.level + elapsed * self.refill_per_second).min(self.burst)
    }

    fn wait(&self, level: f64) -> i64 {
        ((1.0 - level) / self.refill_per_second).ceil().max(1.0) as i64
    }

    /// `Err(seconds to wait)` when `addr` has no failures left to spend.
    pub fn check(&self, addr: IpAddr, now: UnixTime) -> Result<(), i64> {
        let Ok(buckets) = self.buckets.lock() else {
            return Err(60);
        };
        match buckets.get(&address_key(addr)) {
            Some(b) if self.level(*b, now) < 1.0 => Err(self.wait(self.level(*b, now))),
            _ => Ok(()),
        }
    }

    /// Spends one failure; `Err(seconds to wait)` when there was none left,
    /// so a caller that did not `check` first can still answer 429.
    pub fn record_failure(&self, addr: IpAddr, now: UnixTime) -> Result<(), i64> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Err(60);
        };
        let key = address_key(addr);
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&key) {
            buckets.retain(|_, b| self.level(*b, now) < self.burst);
            if buckets.len() >= MAX_TRACKED
                && let Some(oldest) = buckets.iter().min_by_key(|(_, b)| b.at).map(|(k, _)| *k)
            {
                buckets.remove(&oldest);
            }
        }
        let burst = self.burst;
        let b = buckets.entry(key).or_insert(Bucket {
            level: burst,
            at: now,
        });
        let level = self.level(*b, now);
        b.at = now;
        if level < 1.0 {
            b.level = level;
            return Err(self.wait(level));
        }
        b.level = level - 1.0;
        Ok(())
    }
}

impl FailureLimiter {
    /// Gives back what `record_failure` spent, for a request that turned
    /// out to succeed. Spending first and refunding after makes the limit
    /// hold for concurrent requests too: none can pass a check that an
    /// earlier one, still running, is about to fail.
    pub fn refund(&self, addr: IpAddr, now: UnixTime) {
        let Ok(mut buckets) = self.buckets.lock() else {
            return;
        };
        if let Some(b) = buckets.get_mut(&address_key(addr)) {
            b.level = (self.level(*b, now) + 1.0).min(self.burst);
            b.at = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_failures_then_the_refill_rate() {
        let l = FailureLimiter::new(3, 0.5);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(a, 100).is_ok());
            assert!(l.record_failure(a, 100).is_ok());
        }
        assert_eq!(l.check(a, 100), Err(2));
        assert_eq!(l.record_failure(a, 100), Err(2));
        assert!(l.check("192.0.2.2".parse().unwrap(), 100).is_ok());
        assert!(l.check(a, 102).is_ok());
        assert!(l.record_failure(a, 102).is_ok());
        assert!(l.record_failure(a, 102).is_err());
    }

    #[test]
    fn a_full_map_forgets_refilled_and_oldest_buckets_not_everyone() {
        let l = FailureLimiter::new(1, 0.001);
        let watched: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(l.record_failure(watched, 10).is_ok());
        for i in 0..MAX_TRACKED as u32 {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = l.record_failure(a, 20);
        }
        // The watched address was the oldest and got evicted at the very
        // end, but the many newer ones still remember their failures.
        let recent = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + 5000));
        assert!(l.check(recent, 20).is_err());
    }

    #[test]
    fn a_refund_gives_back_a_spent_failure() {
        let l = FailureLimiter::new(1, 0.1);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(l.record_failure(a, 0).is_ok());
        assert!(l.check(a, 0).is_err());
        l.refund(a, 0);
        assert!(l.check(a, 0).is_ok());
    }

    #[test]
    fn ipv6_addresses_in_one_64_share_a_bucket() {
        let l = FailureLimiter::new(1, 1.0);
        assert!(l.record_failure("2001:db8::1".parse().unwrap(), 0).is_ok());
        assert!(l.check("2001:db8::2".parse().unwrap(), 0).is_err());
        assert!(l.check("2001:db8:0:1::2".parse().unwrap(), 0).is_ok());
        assert_eq!(
            address_key("::ffff:192.0.2.9".parse().unwrap()),
            "192.0.2.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn an_ipv6_64_counts_as_one_address_and_mapped_ipv4_as_ipv4() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(address_key(ip("2001:db8:1:2::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            address_key(ip("2001:db8:1:2:ffff:1:2:3")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(address_key(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(address_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(address_key(ip("192.0.2.7")), ip("192.0.2.7"));
    }
}
