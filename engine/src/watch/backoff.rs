//! How long a watch waits before connecting again ([`Backoff`]): doubling from one second
//! up to a minute, each wait drawn between half and all of it (jitter), so the phones of a
//! city that lost a relay at the same moment do not come back at the same moment.

use std::time::Duration;

/// The first wait's upper bound.
const FIRST: Duration = Duration::from_secs(1);

/// The longest wait.
const LONGEST: Duration = Duration::from_secs(60);

/// The waits between connection attempts.
#[derive(Clone, Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The next wait, with `random` (any 64 bits) drawing the jitter, at least `floor`
    /// (what the relay asked with `Retry-After`).
    pub fn next(&mut self, random: u64, floor: Duration) -> Duration {
        let ceiling = FIRST.saturating_mul(1 << self.failures.min(16)).min(LONGEST);
        self.failures = self.failures.saturating_add(1);
        let half = ceiling / 2;
        // `random` scaled onto [0, half) by its high bits, to the nanosecond: any 64 random
        // bits spread the phones evenly over the whole span.
        let spread = u128::from(u64::try_from(half.as_nanos()).unwrap_or(u64::MAX));
        let jitter = u64::try_from((u128::from(random) * spread) >> 64).unwrap_or(u64::MAX);
        (half + Duration::from_nanos(jitter)).max(floor)
    }

    /// A connection held for a while: the next loss waits from the start again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_a_minute_each_between_half_and_all() {
        let mut lowest = Backoff::default();
        let mut highest = Backoff::default();
        let mut bounds = Vec::new();
        for _ in 0..10 {
            bounds.push((lowest.next(0, Duration::ZERO), highest.next(u64::MAX - 1, Duration::ZERO)));
        }
        assert_eq!(bounds[0].0, Duration::from_millis(500));
        assert!(bounds[0].1 < Duration::from_secs(1) && bounds[0].1 > Duration::from_millis(900));
        assert_eq!(bounds[1].0, Duration::from_secs(1));
        assert_eq!(bounds[5].0, Duration::from_secs(16));
        for (low, high) in &bounds[6..] {
            assert_eq!(*low, Duration::from_secs(30), "capped at a minute, at least half of it");
            assert!(*high < LONGEST);
        }
    }

    #[test]
    fn the_jitter_spreads_phones_that_lost_the_relay_together() {
        let waits: std::collections::BTreeSet<Duration> =
            (0..100_u64).map(|phone| Backoff::default().next(phone.wrapping_mul(0x9E37_79B9_7F4A_7C15), Duration::ZERO)).collect();
        assert!(waits.len() > 90, "100 phones, {} distinct first waits", waits.len());
    }

    #[test]
    fn a_reset_starts_over_and_the_relay_may_ask_for_longer() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.next(0, Duration::ZERO);
        }
        backoff.reset();
        assert_eq!(backoff.next(0, Duration::ZERO), Duration::from_millis(500));
        assert_eq!(backoff.next(0, Duration::from_secs(60)), Duration::from_secs(60));
    }
}
