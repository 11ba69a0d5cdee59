//! Reading Vedetta's Prometheus text (`/metrics`): counters and cumulative histograms, and quantiles estimated
//! from histogram buckets.

/// The value of the unlabelled sample `name` (a counter or gauge), if present.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let value = rest.strip_prefix(' ')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// A cumulative histogram: `(upper bound, observations ≤ bound)` in increasing bound order, the last bound being
/// `+Inf`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    pub buckets: Vec<(f64, f64)>,
}

/// A quantile estimated from buckets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantile {
    /// Linear interpolation within the bucket holding the quantile.
    Value(f64),
    /// Beyond the largest finite bound, which is given.
    Above(f64),
    /// No observations.
    Empty,
}

impl std::fmt::Display for Quantile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Quantile::Value(s) if *s < 1.0 => write!(f, "{:.0} ms", s * 1000.0),
            Quantile::Value(s) => write!(f, "{s:.2} s"),
            Quantile::Above(s) => write!(f, "> {s} s"),
            Quantile::Empty => f.write_str("n/a"),
        }
    }
}

impl Histogram {
    /// Parses the `{name}_bucket{le="…"}` lines of `name`; `None` when the histogram is absent.
    pub fn parse(text: &str, name: &str) -> Option<Histogram> {
        let prefix = format!("{name}_bucket{{");
        let mut buckets: Vec<(f64, f64)> = text
            .lines()
            .filter_map(|line| {
                let labels = line.strip_prefix(&prefix)?;
                let (labels, value) = labels.split_once('}')?;
                let le = labels.split(',').find_map(|l| l.trim().strip_prefix("le="))?.trim_matches('"');
                let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
                let count: f64 = value.split_whitespace().next()?.parse().ok()?;
                Some((bound, count))
            })
            .collect();
        if buckets.is_empty() {
            return None;
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Some(Histogram { buckets })
    }

    /// Total observations.
    pub fn count(&self) -> f64 {
        self.buckets.last().map(|b| b.1).unwrap_or(0.0)
    }

    /// The observations of `self` that are not in `before` (an earlier reading of the same histogram).
    pub fn since(&self, before: &Histogram) -> Histogram {
        let buckets = self
            .buckets
            .iter()
            .map(|&(bound, count)| {
                let earlier =
                    before.buckets.iter().find(|(b, _)| *b == bound).map(|(_, c)| *c).unwrap_or(0.0);
                (bound, (count - earlier).max(0.0))
            })
            .collect();
        Histogram { buckets }
    }

    /// The fraction of observations ≤ `bound`, exact when `bound` is a bucket bound (`None` otherwise).
    pub fn fraction_at_most(&self, bound: f64) -> Option<f64> {
        let total = self.count();
        if total == 0.0 {
            return None;
        }
        self.buckets.iter().find(|(b, _)| *b == bound).map(|(_, c)| c / total)
    }

    /// The `q`-quantile (0 < q ≤ 1), interpolated linearly within its bucket (the first bucket starts at 0).
    pub fn quantile(&self, q: f64) -> Quantile {
        let total = self.count();
        if total == 0.0 {
            return Quantile::Empty;
        }
        let rank = q * total;
        let (mut lower, mut below) = (0.0, 0.0);
        for &(bound, count) in &self.buckets {
            if count >= rank {
                if bound.is_infinite() {
                    return Quantile::Above(lower);
                }
                let within = count - below;
                let share = if within > 0.0 { (rank - below) / within } else { 1.0 };
                return Quantile::Value(lower + (bound - lower) * share);
            }
            (lower, below) = (bound, count);
        }
        Quantile::Above(lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# TYPE vedetta_ingest_readings_stored_total counter
vedetta_ingest_readings_stored_total 300001
vedetta_ingest_readings_stored_total_other 7
# TYPE vedetta_ingest_commit_lag_seconds histogram
vedetta_ingest_commit_lag_seconds_bucket{le=\"0.1\"} 50
vedetta_ingest_commit_lag_seconds_bucket{le=\"0.25\"} 99
vedetta_ingest_commit_lag_seconds_bucket{le=\"0.05\"} 10
vedetta_ingest_commit_lag_seconds_bucket{le=\"+Inf\"} 100
vedetta_ingest_commit_lag_seconds_sum 12.5
vedetta_ingest_commit_lag_seconds_count 100
";

    #[test]
    fn counters_are_read_by_exact_name() {
        assert_eq!(sample(TEXT, "vedetta_ingest_readings_stored_total"), Some(300_001.0));
        assert_eq!(sample(TEXT, "vedetta_ingest_readings_duplicate_total"), None);
    }

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let h = Histogram::parse(TEXT, "vedetta_ingest_commit_lag_seconds").unwrap();
        assert_eq!(h.count(), 100.0);
        // rank 50 is the last observation of (0.05, 0.1]
        assert_eq!(h.quantile(0.5), Quantile::Value(0.1));
        // rank 30 is halfway through the 40 observations of (0.05, 0.1]
        match h.quantile(0.3) {
            Quantile::Value(v) => assert!((v - 0.075).abs() < 1e-9, "{v}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(h.quantile(0.995), Quantile::Above(0.25));
        assert_eq!(h.fraction_at_most(0.25), Some(0.99));
    }

    #[test]
    fn a_later_reading_minus_an_earlier_one_counts_only_the_new_observations() {
        let before = Histogram::parse(TEXT, "vedetta_ingest_commit_lag_seconds").unwrap();
        let after = Histogram::parse(
            &TEXT.replace("} 50", "} 150").replace("} 99", "} 199").replace("} 100", "} 200"),
            "vedetta_ingest_commit_lag_seconds",
        )
        .unwrap();
        let new = after.since(&before);
        assert_eq!(new.count(), 100.0);
        assert_eq!(new.fraction_at_most(0.1), Some(1.0));
        assert_eq!(Histogram::default().quantile(0.5), Quantile::Empty);
    }
}
