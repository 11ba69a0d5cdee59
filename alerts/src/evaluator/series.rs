//! What the evaluator remembers of each station: its readings over the longest window a rule looks back, kept in
//! time order as batches arrive (late readings are slotted in where they belong).

use chrono::{DateTime, TimeDelta, Utc};

use crate::rule::Signal;
use crate::rule::signal;

/// How far back the evaluator keeps readings: the longest rain window plus an hour of margin.
pub const LOOKBACK: TimeDelta = TimeDelta::hours(25);

/// One station's recent readings.
#[derive(Debug, Default, Clone)]
pub struct Series {
    points: Vec<(DateTime<Utc>, f64)>,
    flagged: Vec<bool>,
    /// Every stored reading from this time on is held.
    covered_from: Option<DateTime<Utc>>,
}

impl Series {
    /// Adds readings (any order); a reading at a time already held replaces it.
    pub fn add(&mut self, readings: impl IntoIterator<Item = (DateTime<Utc>, f64, bool)>) {
        for (at, value, flagged) in readings {
            match self.points.binary_search_by_key(&at, |p| p.0) {
                Ok(i) => {
                    self.points[i].1 = value;
                    self.flagged[i] = flagged;
                }
                Err(i) => {
                    self.points.insert(i, (at, value));
                    self.flagged.insert(i, flagged);
                }
            }
        }
    }

    /// Records that every stored reading after `from` has been added.
    pub fn cover(&mut self, from: DateTime<Utc>) {
        self.covered_from = Some(self.covered_from.map_or(from, |c| c.min(from)));
    }

    /// Since when the series holds every stored reading.
    pub fn covered_from(&self) -> Option<DateTime<Utc>> {
        self.covered_from
    }

    /// Forgets readings older than `LOOKBACK` (25 h) before the newest.
    pub fn trim(&mut self) {
        if let Some(newest) = self.points.last().map(|p| p.0) {
            let horizon = newest - LOOKBACK;
            self.covered_from = self.covered_from.map(|c| c.max(horizon));
            let keep_from = self.points.partition_point(|p| p.0 < newest - LOOKBACK);
            if keep_from > 0 {
                self.points.drain(..keep_from);
                self.flagged.drain(..keep_from);
            }
        }
    }

    /// The readings at or after `from`, in time order, with their QC flag.
    pub fn since(&self, from: DateTime<Utc>) -> impl Iterator<Item = (DateTime<Utc>, f64, bool)> + '_ {
        let start = self.points.partition_point(|p| p.0 < from);
        self.points[start..].iter().zip(&self.flagged[start..]).map(|(p, f)| (p.0, p.1, *f))
    }

    /// The newest reading's time.
    pub fn newest(&self) -> Option<DateTime<Utc>> {
        self.points.last().map(|p| p.0)
    }

    /// The value of `signal` at time `at` (a reading's time); NaN when it cannot be computed (the ladder then
    /// leaves it out).
    pub fn signal(&self, signal: Signal, at: DateTime<Utc>) -> f64 {
        match signal {
            Signal::Level => match self.points.binary_search_by_key(&at, |p| p.0) {
                Ok(i) => self.points[i].1,
                Err(_) => f64::NAN,
            },
            Signal::RateOfRise { window_s } => {
                let window = TimeDelta::seconds(i64::from(window_s));
                signal::rate_of_rise(self.window(at, window), at, window).unwrap_or(f64::NAN)
            }
            Signal::Rain { window } => {
                signal::rain_total(self.window(at, window.duration()), at, window.duration())
            }
            // Zone signals and silence are not computed from one station's readings.
            Signal::Silence | Signal::ZoneCount { .. } | Signal::ZoneMeanRain { .. } => f64::NAN,
        }
    }

    /// The readings in `[at - window, at]`.
    fn window(&self, at: DateTime<Utc>, window: TimeDelta) -> &[(DateTime<Utc>, f64)] {
        let lo = self.points.partition_point(|p| p.0 < at - window);
        let hi = self.points.partition_point(|p| p.0 <= at);
        &self.points[lo..hi.max(lo)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + min * 60, 0).unwrap()
    }

    #[test]
    fn late_readings_take_their_place_and_old_ones_leave() {
        let mut s = Series::default();
        s.add([(t(0), 1.0, false), (t(10), 3.0, false)]);
        s.add([(t(5), 2.0, true)]);
        assert_eq!(s.since(t(0)).map(|p| p.1).collect::<Vec<_>>(), [1.0, 2.0, 3.0]);
        assert_eq!(s.signal(Signal::Level, t(5)), 2.0);
        s.add([(t(60 * 30), 4.0, false)]);
        assert_eq!(s.since(t(0)).count(), 4, "kept until trimmed");
        s.trim();
        assert_eq!(s.since(t(0)).count(), 1, "beyond the lookback");
    }

    #[test]
    fn rain_sums_over_the_window_ending_at_the_reading() {
        let mut s = Series::default();
        s.add((0..=60).map(|m| (t(m), 1.0, false)));
        let w = crate::rule::RainWindow::M15;
        assert_eq!(s.signal(Signal::Rain { window: w }, t(60)), 15.0);
        assert_eq!(s.signal(Signal::Rain { window: w }, t(5)), 6.0, "minutes 0 to 5");
    }
}
