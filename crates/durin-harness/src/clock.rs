//! A clock that moves only when told to.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use durin_core::{Clock, UnixMillis};

/// 2025-01-01T00:00:00Z: where a harness's clock starts unless told otherwise.
pub const DEFAULT_START_MS: UnixMillis = 1_735_689_600_000;

/// A [`Clock`] that stands still until it is advanced. It never goes backwards.
///
/// A [`crate::Harness`] owns one and moves it only while no attempt is in flight: an engine computes
/// leases from its clock, so a jump of hours under a running call would expire the call's lease.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    pub fn new(start_ms: UnixMillis) -> Self {
        Self {
            now_ms: AtomicI64::new(start_ms),
        }
    }

    /// Moves the clock `by` forward; returns the new time.
    pub fn advance(&self, by: Duration) -> UnixMillis {
        let by_ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let before = self
            .now_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(by_ms))
            })
            .unwrap_or_else(|now| now);
        before.saturating_add(by_ms)
    }

    /// Moves the clock to `at`, unless it is already later; returns the new time.
    pub fn advance_to(&self, at: UnixMillis) -> UnixMillis {
        self.now_ms.fetch_max(at, Ordering::SeqCst).max(at)
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new(DEFAULT_START_MS)
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> UnixMillis {
        self.now_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stands_still_until_advanced() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        assert_eq!(clock.now_ms(), 1_000);
        assert_eq!(clock.advance(Duration::from_secs(15)), 16_000);
        assert_eq!(clock.now_ms(), 16_000);
    }

    #[test]
    fn never_goes_backwards() {
        let clock = ManualClock::new(5_000);
        assert_eq!(clock.advance_to(4_000), 5_000);
        assert_eq!(clock.advance_to(9_000), 9_000);
        assert_eq!(clock.now_ms(), 9_000);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        let clock = ManualClock::new(i64::MAX - 1);
        assert_eq!(clock.advance(Duration::from_secs(1)), i64::MAX);
    }
}
