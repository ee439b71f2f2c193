//! The benchmarks' fixed present; the clock they set is the shared fake clock
//! (`timebank_testing::FakeClock`), for building stores with a realistic history in seconds.

use chrono::{DateTime, Utc};

use super::BenchError;

/// The fake "now" the benchmarks' histories end at: a fixed date, so runs are alike.
pub fn the_present() -> Result<DateTime<Utc>, BenchError> {
    Ok(DateTime::parse_from_rfc3339("2025-12-01T20:00:00Z")?.with_timezone(&Utc))
}
