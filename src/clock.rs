//! The one place that reads the wall clock (STYLE habit 5). Everything else
//! takes `now` as a parameter. The server runs on `Clock::system()`; tests
//! run it on `Clock::frozen`, which stands still until the test moves it,
//! so a test that steps to one second before an expiry stays there however
//! slowly a loaded machine runs. Every clone of a clock sees a move at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub type UnixTime = i64;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Seconds added to the wall clock, or for a frozen clock the time.
    offset: Arc<AtomicI64>,
    frozen: bool,
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Self {
        Clock::default()
    }

    /// A clock that reads `at` until `advance` moves it: for tests, which
    /// must not depend on how much wall time passes between two steps.
    pub fn frozen(at: UnixTime) -> Self {
        Clock {
            offset: Arc::new(AtomicI64::new(at)),
            frozen: true,
        }
    }

    // The one read of the wall clock that clippy.toml bans everywhere else.
    #[allow(clippy::disallowed_methods)]
    pub fn now(&self) -> UnixTime {
        let offset = self.offset.load(Ordering::Relaxed);
        if self.frozen {
            return offset;
        }
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        wall + offset
    }

    /// `now` as a `SystemTime`, for comparing with the dates in HTTP
    /// headers.
    pub fn system_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(u64::try_from(self.now()).unwrap_or(0))
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_a_clone_moves_every_clone() {
        let a = Clock::system();
        let b = a.clone();
        let before = a.now();
        b.advance(3600);
        assert!(a.now() >= before + 3600);
    }

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let a = Clock::frozen(1_000_000);
        let b = a.clone();
        assert_eq!(a.now(), 1_000_000);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(a.now(), 1_000_000);
        b.advance(59);
        assert_eq!(a.now(), 1_000_059);
    }
}
