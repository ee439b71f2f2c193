//! Deterministic made-up visits: a volunteer's paper records over the last weeks.

use chrono::{DateTime, Duration, Utc};
use timebank_engine::PastVisit;
use timebank_engine::model::MemberId;

use super::BenchError;

/// Services of the default catalogue that volunteers give.
const SERVICES: [&str; 5] = ["companionship", "meals", "cleaning", "escort", "smartphone-help"];

/// Notes as volunteers write them: often none, sometimes a line, in either language.
const NOTES: [&str; 6] = [
    "",
    "",
    "read the newspaper together",
    "陪老人聊天，读报",
    "买菜做饭，帮忙收拾厨房",
    "helped set up video calls with her grandson",
];

/// How many elders the volunteer serves.
const ELDERS: u32 = 25;

/// A paper visit and the moment the volunteer typed it in.
#[derive(Clone, Debug)]
pub struct Entry {
    /// When `visit` was logged (what the clock reads at `log_visit`).
    pub logged_at: DateTime<Utc>,
    /// The visit.
    pub visit: PastVisit,
}

/// Makes visits from a fixed seed, so every run logs the same ones.
#[derive(Debug)]
pub struct Workload {
    rng: SplitMix64,
    elders: Vec<MemberId>,
}

impl Workload {
    /// A workload from `seed`.
    pub fn new(seed: u64) -> Result<Workload, BenchError> {
        let elders = (1..=ELDERS).map(|n| MemberId::parse(&format!("e-{}", 2000 + n))).collect::<Result<_, _>>()?;
        Ok(Workload { rng: SplitMix64(seed), elders })
    }

    /// `count` visits spread evenly over the `days` days before `end`, oldest first, each
    /// 30 to 120 minutes long and logged 5 to 120 minutes after it ended (all before `end`).
    pub fn history(&mut self, count: usize, days: i64, end: DateTime<Utc>) -> Vec<Entry> {
        let window = Duration::days(days) - Duration::hours(5);
        let slot_ms = window.num_milliseconds() / i64::try_from(count.max(1)).unwrap_or(i64::MAX);
        let first = end - Duration::days(days);
        (0..count)
            .map(|i| {
                let i = i64::try_from(i).unwrap_or(i64::MAX);
                let start = first + Duration::milliseconds(i * slot_ms + self.below(slot_ms));
                let visit = self.visit(start);
                let logged_at = visit.end + Duration::minutes(5 + self.below(116));
                Entry { logged_at, visit }
            })
            .collect()
    }

    /// A visit logged at `now` that started between 2 hours and 28 days earlier.
    pub fn logged_now(&mut self, now: DateTime<Utc>) -> Entry {
        let ago = Duration::minutes(120 + self.below(28 * 24 * 60 - 120));
        Entry { logged_at: now, visit: self.visit(now - ago) }
    }

    fn visit(&mut self, start: DateTime<Utc>) -> PastVisit {
        let (e, s, n) = (self.index(self.elders.len()), self.index(SERVICES.len()), self.index(NOTES.len()));
        let (elder, service, note) = (self.elders[e].clone(), SERVICES[s].to_owned(), NOTES[n].to_owned());
        let end = start + Duration::minutes(30 + self.below(91));
        PastVisit { elder, service, order: None, start, end, note }
    }

    /// A number in `0..n` (0 when `n` ≤ 0).
    fn below(&mut self, n: i64) -> i64 {
        match u64::try_from(n) {
            Ok(n) if n > 0 => i64::try_from(self.rng.next() % n).unwrap_or(0),
            _ => 0,
        }
    }

    /// An index into a slice of `len` items (`len` > 0).
    fn index(&mut self, len: usize) -> usize {
        let n = u64::try_from(len).unwrap_or(u64::MAX).max(1);
        usize::try_from(self.rng.next() % n).unwrap_or(0)
    }
}

/// The SplitMix64 generator: tiny, fast and good enough to vary test data.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_deterministic_and_inside_the_window() {
        let end = DateTime::from_timestamp(1_764_619_200, 0).unwrap();
        let a = Workload::new(7).unwrap().history(500, 29, end);
        let b = Workload::new(7).unwrap().history(500, 29, end);
        assert_eq!(a.len(), 500);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((x.visit.start, &x.visit.elder, &x.visit.note), (y.visit.start, &y.visit.elder, &y.visit.note));
            let minutes = (x.visit.end - x.visit.start).num_minutes();
            assert!((30..=120).contains(&minutes), "{minutes}");
            assert!(x.visit.start >= end - Duration::days(29));
            assert!(x.visit.end < x.logged_at && x.logged_at < end);
        }
    }

    #[test]
    fn visits_logged_now_are_in_the_past_and_recent() {
        let now = DateTime::from_timestamp(1_764_619_200, 0).unwrap();
        let mut work = Workload::new(1).unwrap();
        for _ in 0..200 {
            let entry = work.logged_now(now);
            assert!(entry.visit.end <= now);
            assert!(entry.visit.start >= now - Duration::days(28));
        }
    }
}
