//! The values rules compare, computed from readings: pure functions of a series, no database.
//!
//! Series are `(observation time, value)` pairs in any order; values that are not finite are left out.

use chrono::{DateTime, TimeDelta, Utc};

use crate::Level;

/// Rate of rise of a level over the window ending at `end`, in m/h (negative when falling): the change between the
/// earliest and the latest reading in `[end - window, end]`. `None` unless those two readings are at least half the
/// window apart, so a pair of close readings does not make a rate out of noise.
///
/// # Units
/// Levels in m, result in m per hour.
pub fn rate_of_rise(series: &[(DateTime<Utc>, f64)], end: DateTime<Utc>, window: TimeDelta) -> Option<f64> {
    let start = end - window;
    let mut first: Option<(DateTime<Utc>, f64)> = None;
    let mut last: Option<(DateTime<Utc>, f64)> = None;
    for &(at, v) in series.iter().filter(|(at, v)| (start..=end).contains(at) && v.is_finite()) {
        if first.is_none_or(|(t, _)| at < t) {
            first = Some((at, v));
        }
        if last.is_none_or(|(t, _)| at > t) {
            last = Some((at, v));
        }
    }
    let ((t0, v0), (t1, v1)) = (first?, last?);
    let span = t1 - t0;
    if span <= TimeDelta::zero() || span * 2 < window {
        return None;
    }
    Some((v1 - v0) / (span.num_milliseconds() as f64 / 3_600_000.0))
}

/// Rain fallen in the window ending at `end`: the sum of the increments reported in `(end - window, end]` (each
/// reading reports the rain since the previous one). Negative increments are left out.
///
/// # Units
/// Increments and result in mm.
pub fn rain_total(series: &[(DateTime<Utc>, f64)], end: DateTime<Utc>, window: TimeDelta) -> f64 {
    let start = end - window;
    series
        .iter()
        .filter(|(at, v)| *at > start && *at <= end && v.is_finite() && *v >= 0.0)
        .map(|(_, v)| v)
        .sum()
}

/// The mean of the finite values (a zone's rain totals); `None` when there are none.
pub fn zone_mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.into_iter().filter(|v| v.is_finite()).fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / f64::from(n))
}

/// How many of the stations' colours (`None`: no alert) are at or above `level`.
pub fn count_at_least(levels: impl IntoIterator<Item = Option<Level>>, level: Level) -> usize {
    levels.into_iter().filter(|l| l.is_some_and(|l| l >= level)).count()
}

/// How many reporting intervals have passed since the last reading (what a silent rule compares with its
/// factor); `None` for an interval that is not positive.
pub fn silence_ratio(last_reading: DateTime<Utc>, now: DateTime<Utc>, interval_s: i64) -> Option<f64> {
    if interval_s <= 0 {
        return None;
    }
    let elapsed = (now - last_reading).num_milliseconds().max(0) as f64 / 1_000.0;
    Some(elapsed / interval_s as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + min * 60, 0).unwrap()
    }

    #[test]
    fn rate_of_rise_is_in_metres_per_hour() {
        let series: Vec<_> = (0..=6).map(|i| (t(i * 10), 1.0 + 0.1 * i as f64)).collect();
        let rate = rate_of_rise(&series, t(60), TimeDelta::minutes(30)).unwrap();
        assert!((rate - 0.6).abs() < 1e-9, "{rate}");
        assert_eq!(rate_of_rise(&series[..1], t(0), TimeDelta::minutes(30)), None);
        // two readings 5 minutes apart do not make a rate over 30 minutes
        assert_eq!(rate_of_rise(&[(t(0), 1.0), (t(5), 2.0)], t(5), TimeDelta::minutes(30)), None);
    }

    #[test]
    fn rain_total_sums_the_window_ending_at_the_reading() {
        let series = [(t(0), 5.0), (t(30), 2.0), (t(60), 3.0), (t(61), f64::NAN), (t(90), -1.0)];
        assert_eq!(rain_total(&series, t(60), TimeDelta::hours(1)), 5.0);
        assert_eq!(rain_total(&series, t(60), TimeDelta::hours(2)), 10.0);
        assert_eq!(rain_total(&series, t(200), TimeDelta::hours(1)), 0.0);
    }

    #[test]
    fn zone_helpers() {
        assert_eq!(zone_mean([10.0, 20.0, f64::NAN]), Some(15.0));
        assert_eq!(zone_mean([]), None);
        let levels = [Some(Level::Gialla), Some(Level::Rossa), None, Some(Level::Arancione)];
        assert_eq!(count_at_least(levels, Level::Arancione), 2);
        assert_eq!(silence_ratio(t(0), t(30), 600), Some(3.0));
        assert_eq!(silence_ratio(t(0), t(30), 0), None);
    }
}
