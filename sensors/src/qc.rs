//! Quality control: flags in the spirit of istSOS and WMO guidance. A reading is flagged, never dropped.
//!
//! | flag | raised when |
//! |---|---|
//! | `out_of_range` | the value lies outside the station's measuring range |
//! | `implausible` | rain above `max_rain_5min_mm` (60) per 5 minutes of the reporting period, or negative rain |
//! | `spike` | a level changing faster than `max_step_m_per_min` (0.5 m/min) since the previous reading |
//! | `flat_line` | a level identical for `flat_line_s` (6 h) or more |
//! | `future` | a time more than 5 minutes ahead of reception (clock skew); such a reading never becomes the station's latest |
//!
//! "Format ok" is the absence of flags: malformed readings never reach storage, they become dead letters — so do
//! times more than a day ahead of reception or before 1900, and values beyond ±10⁹ (see [`crate::payload`]). A
//! station silent for more than 3× its interval is a state of the station ([`is_silent`]), not a flag of a reading.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::station::{QcParams, StationKind};
use crate::{Quantity, RawReading};

/// QC flags of a reading, stored as bits in `sensors.reading.qc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Flags(pub i32);

impl Flags {
    pub const OUT_OF_RANGE: Flags = Flags(1);
    pub const IMPLAUSIBLE: Flags = Flags(2);
    pub const SPIKE: Flags = Flags(4);
    pub const FLAT_LINE: Flags = Flags(8);
    pub const FUTURE: Flags = Flags(16);

    const NAMES: [(Flags, &'static str); 5] = [
        (Flags::OUT_OF_RANGE, "out_of_range"),
        (Flags::IMPLAUSIBLE, "implausible"),
        (Flags::SPIKE, "spike"),
        (Flags::FLAT_LINE, "flat_line"),
        (Flags::FUTURE, "future"),
    ];

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: Flags) {
        self.0 |= other.0;
    }

    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// The flag names; `["ok"]` when none is raised.
    pub fn names(self) -> Vec<&'static str> {
        if self.is_ok() {
            return vec!["ok"];
        }
        Self::NAMES.iter().filter(|(f, _)| self.contains(*f)).map(|(_, n)| *n).collect()
    }
}

impl Serialize for Flags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Flags {
    /// From the names [`Flags::names`] writes; an unknown name is an error.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        let mut flags = Flags::default();
        for name in names {
            match Self::NAMES.iter().find(|(_, n)| *n == name) {
                Some((f, _)) => flags.insert(*f),
                None if name == "ok" => {}
                None => return Err(serde::de::Error::custom(format!("unknown QC flag `{name}`"))),
            }
        }
        Ok(flags)
    }
}

/// Defaults of the QC parameters a station may override.
pub const DEFAULT_MAX_RAIN_5MIN_MM: f64 = 60.0;
pub const DEFAULT_MAX_STEP_M_PER_MIN: f64 = 0.5;
pub const DEFAULT_FLAT_LINE_S: u32 = 6 * 3600;
/// How far ahead of reception a time may be before it is flagged `future`.
pub const FUTURE_TOLERANCE_S: i64 = 300;

/// What QC needs to know about a station.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QcStation {
    pub kind: StationKind,
    pub range: Option<[f64; 2]>,
    pub interval_s: i32,
    pub params: QcParams,
}

/// The reading before the one being checked, and when its run of identical values began.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Previous {
    pub observed_at: DateTime<Utc>,
    pub value: f64,
    pub run_since: DateTime<Utc>,
}

impl Previous {
    /// The state after `reading`, which follows `prev` in time.
    pub fn after(prev: Option<&Previous>, reading: &RawReading) -> Previous {
        let run_since = match prev {
            Some(p) if p.value == reading.value => p.run_since,
            _ => reading.observed_at,
        };
        Previous { observed_at: reading.observed_at, value: reading.value, run_since }
    }
}

/// Flags one reading given the reading before it (if known).
pub fn check(
    station: &QcStation,
    prev: Option<&Previous>,
    reading: &RawReading,
    received_at: DateTime<Utc>,
) -> Flags {
    let mut flags = Flags::default();
    let v = reading.value;
    if let Some([lo, hi]) = station.range
        && (v < lo || v > hi)
    {
        flags.insert(Flags::OUT_OF_RANGE);
    }
    if reading.observed_at > received_at + Duration::seconds(FUTURE_TOLERANCE_S) {
        flags.insert(Flags::FUTURE);
    }
    let prev = prev.filter(|p| p.observed_at < reading.observed_at);
    match reading.quantity {
        Quantity::Rain => {
            let max_5min = station.params.max_rain_5min_mm.unwrap_or(DEFAULT_MAX_RAIN_5MIN_MM);
            // The report covers the time since the previous one (or one interval), never less than 5 minutes.
            let period_s = prev
                .map(|p| (reading.observed_at - p.observed_at).num_seconds())
                .filter(|s| *s <= 3600)
                .unwrap_or(i64::from(station.interval_s))
                .max(300);
            if v < 0.0 || v > max_5min * period_s as f64 / 300.0 {
                flags.insert(Flags::IMPLAUSIBLE);
            }
        }
        Quantity::Level => {
            if let Some(p) = prev {
                let minutes = (reading.observed_at - p.observed_at).num_milliseconds() as f64 / 60_000.0;
                let max_step = station.params.max_step_m_per_min.unwrap_or(DEFAULT_MAX_STEP_M_PER_MIN);
                if minutes > 0.0 && (v - p.value).abs() / minutes > max_step {
                    flags.insert(Flags::SPIKE);
                }
                let flat_s = i64::from(station.params.flat_line_s.unwrap_or(DEFAULT_FLAT_LINE_S));
                if p.value == v && (reading.observed_at - p.run_since).num_seconds() >= flat_s {
                    flags.insert(Flags::FLAT_LINE);
                }
            }
        }
    }
    flags
}

/// Whether a station whose latest reading is at `latest` is silent at `now`: more than 3× its interval.
pub fn is_silent(latest: Option<DateTime<Utc>>, interval_s: i32, now: DateTime<Utc>) -> bool {
    match latest {
        None => true,
        Some(t) => now - t > Duration::seconds(3 * i64::from(interval_s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        "2026-11-22T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minute)
    }

    fn hydrometer() -> QcStation {
        QcStation {
            kind: StationKind::Hydrometer,
            range: Some([0.0, 10.0]),
            interval_s: 300,
            params: QcParams::default(),
        }
    }

    /// Runs a series through QC the way the writer does.
    fn run(station: &QcStation, quantity: Quantity, series: &[(i64, f64)]) -> Vec<Vec<&'static str>> {
        let mut prev: Option<Previous> = None;
        series
            .iter()
            .map(|&(m, value)| {
                let r = RawReading { quantity, observed_at: at(m), value };
                let flags = check(station, prev.as_ref(), &r, at(m));
                prev = Some(Previous::after(prev.as_ref(), &r));
                flags.names()
            })
            .collect()
    }

    #[test]
    fn a_calm_series_is_ok() {
        let flags = run(&hydrometer(), Quantity::Level, &[(0, 1.0), (5, 1.02), (10, 1.05)]);
        assert!(flags.iter().all(|f| f == &["ok"]), "{flags:?}");
    }

    #[test]
    fn out_of_range_is_flagged() {
        let flags = run(&hydrometer(), Quantity::Level, &[(0, 10.5), (5, -0.2)]);
        assert!(flags[0].contains(&"out_of_range") && flags[1].contains(&"out_of_range"), "{flags:?}");
    }

    #[test]
    fn a_level_jump_is_a_spike_but_a_fast_flood_rise_is_not() {
        let flags = run(&hydrometer(), Quantity::Level, &[(0, 1.0), (5, 2.0), (6, 5.0), (11, 5.1)]);
        assert_eq!(flags[1], ["ok"], "1 m in 5 minutes is a flood, not a spike");
        assert_eq!(flags[2], ["spike"], "3 m in a minute is a spike");
        assert_eq!(flags[3], ["ok"]);
    }

    #[test]
    fn a_level_stuck_for_six_hours_is_a_flat_line() {
        let series: Vec<(i64, f64)> = (0..=80).map(|i| (i * 5, 1.37)).collect();
        let flags = run(&hydrometer(), Quantity::Level, &series);
        let first_flat = flags.iter().position(|f| f.contains(&"flat_line")).unwrap();
        assert_eq!(first_flat, 72, "6 h = 72 readings of 5 minutes after the first");
        let flags = run(&hydrometer(), Quantity::Level, &[(0, 1.0), (400, 1.0)]);
        assert_eq!(flags[1], ["flat_line"], "the same value across a gap of 6 h 40 min");
    }

    #[test]
    fn implausible_rain_scales_with_the_reporting_period() {
        let gauge = QcStation {
            kind: StationKind::RainGauge,
            range: None,
            interval_s: 300,
            params: QcParams::default(),
        };
        let flags = run(&gauge, Quantity::Rain, &[(0, 0.0), (5, 61.0), (10, 12.0), (70, 100.0), (71, -1.0)]);
        assert_eq!(flags[1], ["implausible"], "61 mm in 5 minutes");
        assert_eq!(flags[2], ["ok"]);
        assert_eq!(flags[3], ["ok"], "100 mm over an hour is heavy but plausible");
        assert_eq!(flags[4], ["implausible"], "negative rain");
    }

    #[test]
    fn a_time_in_the_future_is_clock_skew() {
        let r = RawReading { quantity: Quantity::Level, observed_at: at(10), value: 1.0 };
        assert_eq!(check(&hydrometer(), None, &r, at(4)).names(), ["future"]);
        assert_eq!(check(&hydrometer(), None, &r, at(6)).names(), ["ok"], "within 5 minutes");
    }

    #[test]
    fn silence_is_three_intervals() {
        assert!(!is_silent(Some(at(0)), 300, at(15)));
        assert!(is_silent(Some(at(0)), 300, at(16)));
        assert!(is_silent(None, 300, at(0)));
    }
}
