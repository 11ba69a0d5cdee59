//! Alert rules: what is watched, on which stations or zones, with which thresholds.
//!
//! Rules are written in TOML (`[[alerts.rules]]` tables of the configuration file, or `[[rules]]` tables of a
//! standalone rules file that `vedetta alerts check FILE` validates) or JSON (the admin API, the `alerts.rule`
//! table). Both go through the same checks; every problem found is reported with where it is (rule, field, and
//! line:column for TOML) and what is wrong. Unknown fields are errors.
//!
//! ```toml
//! [[rules]]
//! code = "bisagno-livello"          # unique, [a-z0-9_-]
//! name = "Bisagno a Sant'Agata"
//! kind = "level"                    # level, rate_of_rise, rain, zone_count, zone_mean_rain, silent
//! stations = ["GE-BISAGNO-01"]      # selector: stations, station_kind, zones (all given must match; none: all)
//! thresholds = { yellow = 2.5, orange = 3.2, red = 4.0, clear = { yellow = 2.3 } }  # else the station's
//! for = "10m"                       # minimum duration before firing (or seconds)
//! qc_may_raise = false              # flagged readings raise to gialla at most
//! hazard = "idraulico"              # idraulico, idrogeologico, temporali, tecnico (default by kind)
//! ```
//!
//! Kind-specific fields: `rate_of_rise` takes `rate_m_per_h` (> 0), `window` (default 30m), `level` (default
//! gialla) and `clear_m_per_h`; `rain` takes `thresholds` per window (`5m` … `24h`, else the station's);
//! `zone_count` takes `min_stations` (≥ 1), `station_level` and `level` (default the station level);
//! `zone_mean_rain` takes `window` and `thresholds`; `silent` takes `factor` (default 3) and `level` (default
//! gialla). Thresholds use the stations' format: `yellow`, `orange`, `red` and `clear` (colours of `level` and
//! `station_level` may be written gialla, arancione, rossa or yellow, orange, red).
//!
//! The built-in rules ([`RuleSet::builtin`]) are `level` and `rain` on the stations' own thresholds and `silent`
//! with factor 3; a configured rule with the same code replaces the built-in one.

mod decode;
mod encode;
mod node;
mod read;
mod set;
pub mod signal;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::Level;
pub use crate::ladder::{Ladder, PerLevel, Thresholds};
pub use set::{Problem, RuleSet, Summary, check_file};

/// The kind of a station, as sensors names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StationKind {
    RainGauge,
    Hydrometer,
}

impl StationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StationKind::RainGauge => "rain_gauge",
            StationKind::Hydrometer => "hydrometer",
        }
    }
}

impl FromStr for StationKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rain_gauge" => Ok(StationKind::RainGauge),
            "hydrometer" => Ok(StationKind::Hydrometer),
            _ => Err(format!("unknown station kind `{s}` (expected hydrometer or rain_gauge)")),
        }
    }
}

/// The accumulation windows of rain rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RainWindow {
    M5,
    M15,
    M30,
    H1,
    H3,
    H6,
    H12,
    H24,
}

impl RainWindow {
    pub const ALL: [RainWindow; 8] = [
        RainWindow::M5,
        RainWindow::M15,
        RainWindow::M30,
        RainWindow::H1,
        RainWindow::H3,
        RainWindow::H6,
        RainWindow::H12,
        RainWindow::H24,
    ];

    /// The label (`5m`, `15m`, `30m`, `1h`, `3h`, `6h`, `12h`, `24h`).
    pub fn as_str(self) -> &'static str {
        match self {
            RainWindow::M5 => "5m",
            RainWindow::M15 => "15m",
            RainWindow::M30 => "30m",
            RainWindow::H1 => "1h",
            RainWindow::H3 => "3h",
            RainWindow::H6 => "6h",
            RainWindow::H12 => "12h",
            RainWindow::H24 => "24h",
        }
    }

    pub fn seconds(self) -> u32 {
        match self {
            RainWindow::M5 => 300,
            RainWindow::M15 => 900,
            RainWindow::M30 => 1_800,
            RainWindow::H1 => 3_600,
            RainWindow::H3 => 10_800,
            RainWindow::H6 => 21_600,
            RainWindow::H12 => 43_200,
            RainWindow::H24 => 86_400,
        }
    }

    pub fn duration(self) -> TimeDelta {
        TimeDelta::seconds(i64::from(self.seconds()))
    }
}

impl FromStr for RainWindow {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        RainWindow::ALL.into_iter().find(|w| w.as_str() == s).ok_or_else(|| {
            let all: Vec<_> = RainWindow::ALL.iter().map(|w| w.as_str()).collect();
            format!("unknown window `{s}` (expected one of {})", all.join(", "))
        })
    }
}

impl fmt::Display for RainWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The hazard an alert is about (the CAP `eventCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hazard {
    Idraulico,
    Idrogeologico,
    Temporali,
    /// A technical problem of the network (silent stations), not a hydrological one.
    Tecnico,
}

impl Hazard {
    pub fn as_str(self) -> &'static str {
        match self {
            Hazard::Idraulico => "idraulico",
            Hazard::Idrogeologico => "idrogeologico",
            Hazard::Temporali => "temporali",
            Hazard::Tecnico => "tecnico",
        }
    }
}

impl FromStr for Hazard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "idraulico" => Ok(Hazard::Idraulico),
            "idrogeologico" => Ok(Hazard::Idrogeologico),
            "temporali" => Ok(Hazard::Temporali),
            "tecnico" => Ok(Hazard::Tecnico),
            _ => {
                Err(format!("unknown hazard `{s}` (expected idraulico, idrogeologico, temporali or tecnico)"))
            }
        }
    }
}

/// Hydrological alerts and technical ones (silent stations) are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Hydro,
    Technical,
}

impl Category {
    /// As the `category` of an alert (`hydro`, `technical`).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Hydro => "hydro",
            Category::Technical => "technical",
        }
    }
}

/// What an alert of a rule is about: one station, or one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    Station,
    Zone,
}

impl SubjectKind {
    /// As the `subject_kind` of an alert (`station`, `zone`).
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Station => "station",
            SubjectKind::Zone => "zone",
        }
    }
}

/// Which stations or zones a rule applies to: every criterion given must hold; none given means all.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selector {
    /// Station codes.
    pub stations: Option<Vec<String>>,
    pub station_kind: Option<StationKind>,
    /// Alert zone codes (of the station, for station rules; of the zone itself, for zone rules).
    pub zones: Option<Vec<String>>,
}

impl Selector {
    /// Whether a station (with its zone, if it has one) is selected.
    pub fn matches_station(&self, code: &str, kind: StationKind, zone: Option<&str>) -> bool {
        self.stations.as_ref().is_none_or(|s| s.iter().any(|c| c == code))
            && self.station_kind.is_none_or(|k| k == kind)
            && self.matches_zone_code(zone)
    }

    fn matches_zone_code(&self, zone: Option<&str>) -> bool {
        self.zones.as_ref().is_none_or(|zones| zone.is_some_and(|z| zones.iter().any(|c| c == z)))
    }
}

/// What a rule watches, with its kind-specific parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// Hydrometer level in m; `None`: the station's thresholds.
    Level { thresholds: Option<Thresholds> },
    /// Hydrometer rate of rise in m/h over a window, raising `level`.
    RateOfRise { rate_m_per_h: f64, clear_m_per_h: Option<f64>, window_s: u32, level: Level },
    /// Rain gauge totals in mm per window; `None`: the station's thresholds.
    Rain { thresholds: Option<BTreeMap<RainWindow, Thresholds>> },
    /// At least `min_stations` stations of a zone at or above `station_level` raise the zone to `level`.
    ZoneCount { min_stations: u32, station_level: Level, level: Level },
    /// The mean rain of a zone's gauges over a window, in mm.
    ZoneMeanRain { window: RainWindow, thresholds: Thresholds },
    /// No reading for `factor` × the station's interval: a technical alert at `level`.
    Silent { factor: f64, level: Level },
}

impl RuleKind {
    /// Every kind's name, as written in `kind`.
    pub const NAMES: [&'static str; 6] =
        ["level", "rate_of_rise", "rain", "zone_count", "zone_mean_rain", "silent"];

    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::Level { .. } => "level",
            RuleKind::RateOfRise { .. } => "rate_of_rise",
            RuleKind::Rain { .. } => "rain",
            RuleKind::ZoneCount { .. } => "zone_count",
            RuleKind::ZoneMeanRain { .. } => "zone_mean_rain",
            RuleKind::Silent { .. } => "silent",
        }
    }

    pub fn subject_kind(&self) -> SubjectKind {
        match self {
            RuleKind::ZoneCount { .. } | RuleKind::ZoneMeanRain { .. } => SubjectKind::Zone,
            _ => SubjectKind::Station,
        }
    }

    /// The only kind of station this rule can watch (`None`: any, or a zone rule).
    pub fn station_kind(&self) -> Option<StationKind> {
        match self {
            RuleKind::Level { .. } | RuleKind::RateOfRise { .. } => Some(StationKind::Hydrometer),
            RuleKind::Rain { .. } => Some(StationKind::RainGauge),
            _ => None,
        }
    }

    pub fn default_hazard(&self) -> Hazard {
        match self {
            RuleKind::Level { .. } | RuleKind::RateOfRise { .. } | RuleKind::ZoneCount { .. } => {
                Hazard::Idraulico
            }
            RuleKind::Rain { .. } | RuleKind::ZoneMeanRain { .. } => Hazard::Idrogeologico,
            RuleKind::Silent { .. } => Hazard::Tecnico,
        }
    }

    /// The unit of the value the rule compares.
    pub fn unit(&self) -> &'static str {
        match self {
            RuleKind::Level { .. } => "m",
            RuleKind::RateOfRise { .. } => "m/h",
            RuleKind::Rain { .. } | RuleKind::ZoneMeanRain { .. } => "mm",
            RuleKind::ZoneCount { .. } => "stations",
            RuleKind::Silent { .. } => "intervals",
        }
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique, `[a-z0-9_-]{1,64}`.
    pub code: String,
    pub name: String,
    pub kind: RuleKind,
    pub selector: Selector,
    pub hazard: Hazard,
    /// Seconds a crossing must last before firing.
    pub for_s: u32,
    /// Whether readings flagged by quality control may raise the level above gialla on their own.
    pub qc_may_raise: bool,
}

/// What value the evaluator computes and feeds a ladder with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// The level reading, m.
    Level,
    /// [`signal::rate_of_rise`] over the window, m/h.
    RateOfRise { window_s: u32 },
    /// [`signal::rain_total`] over the window ending at the reading, mm.
    Rain { window: RainWindow },
    /// [`signal::silence_ratio`]: time since the last reading over the station's interval.
    Silence,
    /// How many stations of the zone are at or above `station_level` ([`signal::count_at_least`]).
    ZoneCount { station_level: Level },
    /// [`signal::zone_mean`] of the zone's gauges' totals over the window, mm.
    ZoneMeanRain { window: RainWindow },
}

impl Rule {
    /// Reads and checks one rule from JSON (the admin API, the `alerts.rule` table).
    pub fn from_json(value: &serde_json::Value) -> Result<Rule, Vec<Problem>> {
        decode::rule_from_json(value)
    }

    /// The rule as JSON, in the format [`Rule::from_json`] reads (no nulls, so it also converts to TOML).
    pub fn to_json(&self) -> serde_json::Value {
        encode::rule_to_json(self)
    }

    pub fn category(&self) -> Category {
        if self.hazard == Hazard::Tecnico { Category::Technical } else { Category::Hydro }
    }

    pub fn subject_kind(&self) -> SubjectKind {
        self.kind.subject_kind()
    }

    /// Whether this rule watches a station (a station rule of the station's kind whose selector picks it).
    pub fn applies_to_station(&self, code: &str, kind: StationKind, zone: Option<&str>) -> bool {
        self.subject_kind() == SubjectKind::Station
            && self.kind.station_kind().is_none_or(|k| k == kind)
            && self.selector.matches_station(code, kind, zone)
    }

    /// Whether this rule watches a zone (a zone rule whose selector picks it).
    pub fn applies_to_zone(&self, zone: &str) -> bool {
        self.subject_kind() == SubjectKind::Zone && self.selector.matches_zone_code(Some(zone))
    }

    /// The ladders this rule runs for one subject, each with the signal to feed it: one for most kinds, one per
    /// window for rain. Rules without their own thresholds (`level`, `rain`) take the station's thresholds JSON
    /// (as sensors stores them); none there means no ladder (the rule does not watch that station). Feed several
    /// ladders with [`crate::ladder::step_many`], one with [`crate::ladder::step`].
    pub fn ladders(
        &self,
        station_thresholds: Option<&serde_json::Value>,
    ) -> Result<Vec<(Signal, Ladder)>, Vec<Problem>> {
        let timed = |thresholds: Thresholds| Ladder {
            thresholds,
            for_s: self.for_s,
            qc_may_raise: self.qc_may_raise,
        };
        let null = serde_json::Value::Null;
        let station = station_thresholds.unwrap_or(&null);
        Ok(match &self.kind {
            RuleKind::Level { thresholds } => {
                let thresholds = match thresholds {
                    Some(t) => Some(*t),
                    None => hydrometer_thresholds(station)?,
                };
                thresholds.map(|t| (Signal::Level, timed(t))).into_iter().collect()
            }
            RuleKind::Rain { thresholds } => {
                let windows = match thresholds {
                    Some(t) => t.clone(),
                    None => rain_gauge_thresholds(station)?,
                };
                windows.into_iter().map(|(window, t)| (Signal::Rain { window }, timed(t))).collect()
            }
            RuleKind::RateOfRise { rate_m_per_h, clear_m_per_h, window_s, level } => vec![(
                Signal::RateOfRise { window_s: *window_s },
                timed(Thresholds::single(*level, *rate_m_per_h, *clear_m_per_h)),
            )],
            RuleKind::ZoneCount { min_stations, station_level, level } => vec![(
                Signal::ZoneCount { station_level: *station_level },
                timed(Thresholds::single(*level, f64::from(*min_stations), None)),
            )],
            RuleKind::ZoneMeanRain { window, thresholds } => {
                vec![(Signal::ZoneMeanRain { window: *window }, timed(*thresholds))]
            }
            RuleKind::Silent { factor, level } => {
                vec![(Signal::Silence, timed(Thresholds::single(*level, *factor, None)))]
            }
        })
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Rule::from_json(&value).map_err(|p| serde::de::Error::custom(Problem::join(&p)))
    }
}

/// The thresholds of a hydrometer from its thresholds JSON (`{"yellow":2.5,"orange":3.2,"red":4.0,
/// "clear":{"yellow":2.3}}`); `None` when it sets none.
pub fn hydrometer_thresholds(value: &serde_json::Value) -> Result<Option<Thresholds>, Vec<Problem>> {
    decode::station_level(value)
}

/// The thresholds of a rain gauge per window from its thresholds JSON (`{"1h":{"yellow":30,…},"24h":{…}}`).
pub fn rain_gauge_thresholds(
    value: &serde_json::Value,
) -> Result<BTreeMap<RainWindow, Thresholds>, Vec<Problem>> {
    decode::station_rain(value)
}

/// The ladders of a station's built-in rule (`level` for hydrometers, `rain` for rain gauges) from its
/// thresholds JSON, firing at once and not trusting flagged readings.
pub fn station_ladders(
    kind: StationKind,
    thresholds: &serde_json::Value,
) -> Result<Vec<(Signal, Ladder)>, Vec<Problem>> {
    let rule = match kind {
        StationKind::Hydrometer => builtin_level(),
        StationKind::RainGauge => builtin_rain(),
    };
    rule.ladders(Some(thresholds))
}

fn builtin(code: &str, name: &str, kind: RuleKind) -> Rule {
    Rule {
        code: code.into(),
        name: name.into(),
        hazard: kind.default_hazard(),
        kind,
        selector: Selector::default(),
        for_s: 0,
        qc_may_raise: false,
    }
}

fn builtin_level() -> Rule {
    builtin("level", "Livello idrometrico oltre soglia", RuleKind::Level { thresholds: None })
}

fn builtin_rain() -> Rule {
    builtin("rain", "Pioggia cumulata oltre soglia", RuleKind::Rain { thresholds: None })
}
