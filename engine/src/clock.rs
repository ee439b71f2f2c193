//! Time sources: the device's wall clock and a monotonic clock that survives app restarts.

use chrono::{DateTime, Utc};

/// A reading of a clock that only moves forward while the device stays up: it measures a
/// visit's length even if the wall clock is changed in the middle, or the app is killed
/// between check-in and check-out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonotonicReading {
    /// Identifies the boot; readings from different boots cannot be compared.
    pub boot: String,
    /// Milliseconds since boot.
    pub millis: u64,
}

impl MonotonicReading {
    /// Milliseconds from `self` to `later`, if both come from the same boot. Either side
    /// may carry the full boot id or its [`boot_tag`](Self::boot_tag).
    pub fn elapsed_until(&self, later: &MonotonicReading) -> Option<u64> {
        (self.boot_tag() == later.boot_tag()).then(|| later.millis.saturating_sub(self.millis))
    }

    /// A short tag of the boot id (its first 8 characters): what a visit
    /// stores, since it travels over the network with every check-in.
    pub fn boot_tag(&self) -> &str {
        let end = self.boot.char_indices().nth(8).map_or(self.boot.len(), |(i, _)| i);
        &self.boot[..end]
    }
}

/// Where the engine reads the time. Phones pass their platform's clocks through the
/// bindings (Android `SystemClock.elapsedRealtime`, iOS `CLOCK_MONOTONIC_RAW`).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Wall-clock time: what the volunteer sees on the phone.
    fn now(&self) -> DateTime<Utc>;
    /// The monotonic clock, where the platform has one.
    fn monotonic(&self) -> Option<MonotonicReading>;
}

/// The operating system's clocks: the wall clock, and on Linux and Android the time
/// since boot (`/proc/uptime`, counting sleep) tagged with the boot id.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn monotonic(&self) -> Option<MonotonicReading> {
        let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
        let seconds: f64 = uptime.split_whitespace().next()?.parse().ok()?;
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        // Uptime is below 2^53 ms for millennia, so the conversion is exact enough.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let millis = (seconds * 1000.0) as u64;
        Some(MonotonicReading { boot: boot.trim().to_owned(), millis })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_of_different_boots_do_not_compare() {
        let a = MonotonicReading { boot: "a".into(), millis: 10 };
        let b = MonotonicReading { boot: "b".into(), millis: 50 };
        let a2 = MonotonicReading { boot: "a".into(), millis: 50 };
        assert_eq!(a.elapsed_until(&b), None);
        assert_eq!(a.elapsed_until(&a2), Some(40));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_system_monotonic_clock_moves_forward() {
        let first = SystemClock.monotonic().expect("linux has /proc/uptime");
        std::thread::sleep(std::time::Duration::from_millis(30));
        let second = SystemClock.monotonic().expect("linux has /proc/uptime");
        assert!(first.elapsed_until(&second).is_some_and(|ms| ms >= 10));
    }
}
