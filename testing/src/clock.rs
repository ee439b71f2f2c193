//! A clock the test sets: a wall clock that can jump, and a monotonic clock that moves
//! only when the test says time passed.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration, Utc};
use timebank_engine::{Clock, MonotonicReading};

/// Where the monotonic clock of a new [`FakeClock`] reads, in ms since boot.
const FIRST_READING_MS: i64 = 1_000_000;

/// Where the monotonic clock reads after [`FakeClock::reboot`].
const AFTER_REBOOT_MS: i64 = 5_000;

#[derive(Debug)]
struct Time {
    wall: DateTime<Utc>,
    /// The wall time in ms minus the monotonic reading: fixed while time passes, moved
    /// when only one of the two clocks moves.
    offset_ms: i64,
    boot: String,
    has_monotonic: bool,
}

/// A wall clock and a monotonic clock (in boot `boot`) the test moves by hand; shared
/// between an engine or a relay and the test through `Arc`.
#[derive(Debug)]
pub struct FakeClock {
    time: Mutex<Time>,
}

impl FakeClock {
    /// A clock at `wall`, with a monotonic clock in boot `boot` reading 1 000 000 ms.
    pub fn new(wall: DateTime<Utc>, boot: &str) -> Arc<FakeClock> {
        Arc::new(FakeClock {
            time: Mutex::new(Time {
                wall,
                offset_ms: wall.timestamp_millis() - FIRST_READING_MS,
                boot: boot.to_owned(),
                has_monotonic: true,
            }),
        })
    }

    fn time(&self) -> MutexGuard<'_, Time> {
        self.time.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Real time passes: both clocks move forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.time().wall += by;
    }

    /// Time jumps to `at`, forward or back, as if that much time passed: both clocks move
    /// by the difference (histories are built by going back and forth).
    pub fn set(&self, at: DateTime<Utc>) {
        self.time().wall = at;
    }

    /// Someone changes the phone's wall clock; the monotonic clock does not notice.
    pub fn set_wall(&self, wall: DateTime<Utc>) {
        let mut time = self.time();
        time.offset_ms += wall.timestamp_millis() - time.wall.timestamp_millis();
        time.wall = wall;
    }

    /// The phone restarts: a new boot, so earlier monotonic readings no longer compare.
    pub fn reboot(&self, boot: &str) {
        let mut time = self.time();
        time.boot = boot.to_owned();
        time.offset_ms = time.wall.timestamp_millis() - AFTER_REBOOT_MS;
    }

    /// The platform has no monotonic clock at all.
    pub fn without_monotonic(&self) {
        self.time().has_monotonic = false;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        self.time().wall
    }

    /// The monotonic reading; none without a monotonic clock, or when [`FakeClock::set`]
    /// went back to before the boot.
    fn monotonic(&self) -> Option<MonotonicReading> {
        let time = self.time();
        let millis = u64::try_from(time.wall.timestamp_millis() - time.offset_ms).ok()?;
        time.has_monotonic.then(|| MonotonicReading { boot: time.boot.clone(), millis })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn millis(clock: &FakeClock) -> u64 {
        clock.monotonic().unwrap().millis
    }

    #[test]
    fn time_passing_moves_both_clocks_and_a_changed_wall_clock_only_one() {
        let clock = FakeClock::new(start(), "boot-a");
        assert_eq!((clock.now(), millis(&clock)), (start(), 1_000_000));
        clock.advance(Duration::minutes(45));
        assert_eq!((clock.now(), millis(&clock)), (start() + Duration::minutes(45), 1_000_000 + 45 * 60_000));
        clock.set_wall(start());
        assert_eq!((clock.now(), millis(&clock)), (start(), 1_000_000 + 45 * 60_000));
        clock.advance(Duration::minutes(1));
        assert_eq!(millis(&clock), 1_000_000 + 46 * 60_000);
    }

    #[test]
    fn a_jump_back_and_forth_measures_what_passed_in_between() {
        let clock = FakeClock::new(start(), "boot-a");
        clock.set(start() - Duration::days(3));
        assert_eq!(clock.now(), start() - Duration::days(3));
        assert_eq!(clock.monotonic(), None, "before the boot there is no reading");
        clock.set(start() + Duration::minutes(90));
        let a = clock.monotonic().unwrap();
        clock.set(start() + Duration::minutes(135));
        let b = clock.monotonic().unwrap();
        assert_eq!(a.elapsed_until(&b), Some(45 * 60_000));
    }

    #[test]
    fn a_reboot_starts_a_new_boot_and_no_monotonic_clock_reads_none() {
        let clock = FakeClock::new(start(), "boot-a");
        let before = clock.monotonic().unwrap();
        clock.reboot("boot-b");
        let after = clock.monotonic().unwrap();
        assert_eq!((after.boot.as_str(), after.millis), ("boot-b", 5_000));
        assert_eq!(before.elapsed_until(&after), None);
        clock.without_monotonic();
        assert_eq!(clock.monotonic(), None);
        assert_eq!(clock.now(), start());
    }
}
