//! Order statistics for timings: the median and nearest-rank percentiles.

/// The median of `samples`: the middle value, or the mean of the two middle values when
/// there is an even number of them. `None` for no samples or a NaN among them.
pub fn median(samples: &[f64]) -> Option<f64> {
    let sorted = sorted(samples)?;
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted.get(mid).copied() } else { Some((sorted.get(mid - 1)? + sorted.get(mid)?) / 2.0) }
}

/// The `p`-th percentile of `samples` (0 < `p` ≤ 100) by the nearest-rank method: the
/// smallest sample such that at least `p` % of the samples are at or below it. Always one
/// of the samples, so p99 of 1,000 timings is the 990th smallest. `None` for no samples,
/// a NaN among them, or `p` out of range.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let sorted = sorted(samples)?;
    // The rank is between 1 and len, so the conversions below are exact.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

fn sorted(samples: &[f64]) -> Option<Vec<f64>> {
    if samples.is_empty() || samples.iter().any(|s| s.is_nan()) {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(sorted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=1000).rev().map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(500.0));
        assert_eq!(percentile(&samples, 99.0), Some(990.0));
        assert_eq!(percentile(&samples, 100.0), Some(1000.0));
        assert_eq!(percentile(&samples, 0.01), Some(1.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 99.0), Some(3.0));
        assert_eq!(percentile(&samples, 0.0), None);
        assert_eq!(percentile(&samples, 101.0), None);
        assert_eq!(percentile(&[], 50.0), None);
    }
}
