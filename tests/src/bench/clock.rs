//! A settable clock for building stores with a realistic history in seconds.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use timebank_engine::{Clock, MonotonicReading};

use super::BenchError;

/// The fake "now" the benchmarks' histories end at: a fixed date, so runs are alike.
pub fn the_present() -> Result<DateTime<Utc>, BenchError> {
    Ok(DateTime::parse_from_rfc3339("2025-12-01T20:00:00Z")?.with_timezone(&Utc))
}

/// A wall clock that reads whatever time was last set; its monotonic clock runs with it.
#[derive(Debug)]
pub struct FakeClock {
    millis: AtomicI64,
}

impl FakeClock {
    /// A clock reading `at`.
    pub fn new(at: DateTime<Utc>) -> FakeClock {
        FakeClock {
            millis: AtomicI64::new(at.timestamp_millis()),
        }
    }

    /// Moves the clock to `at` (backwards too).
    pub fn set(&self, at: DateTime<Utc>) {
        self.millis.store(at.timestamp_millis(), Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.millis.load(Ordering::SeqCst)).unwrap_or_default()
    }

    fn monotonic(&self) -> Option<MonotonicReading> {
        let millis = u64::try_from(self.millis.load(Ordering::SeqCst)).unwrap_or(0);
        Some(MonotonicReading {
            boot: "timebank-bench".into(),
            millis,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_was_set() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let clock = FakeClock::new(start);
        assert_eq!(clock.now(), start);
        let later = start + chrono::Duration::minutes(90);
        clock.set(later);
        assert_eq!(clock.now(), later);
        let (a, b) = (
            MonotonicReading {
                boot: "timebank-bench".into(),
                millis: 0,
            },
            clock.monotonic().unwrap(),
        );
        assert!(a.elapsed_until(&b).is_some());
    }
}
