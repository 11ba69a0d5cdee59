//! Stations: rain gauges and hydrometers, their thresholds and quality-control parameters.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{Error, Quantity, Result};

/// The two kinds of station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StationKind {
    /// Measures rain (`rain`, mm since the previous report).
    RainGauge,
    /// Measures the river level (`level`, m above the hydrometric zero).
    Hydrometer,
}

impl StationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StationKind::RainGauge => "rain_gauge",
            StationKind::Hydrometer => "hydrometer",
        }
    }

    /// The quantity this kind of station reports.
    pub fn quantity(self) -> Quantity {
        match self {
            StationKind::RainGauge => Quantity::Rain,
            StationKind::Hydrometer => Quantity::Level,
        }
    }
}

impl fmt::Display for StationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StationKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "rain_gauge" => Ok(StationKind::RainGauge),
            "hydrometer" => Ok(StationKind::Hydrometer),
            other => Err(format!("unknown kind `{other}` (expected rain_gauge or hydrometer)")),
        }
    }
}

/// The rain windows thresholds may be set on (ARPAL's accumulation periods of an alert).
pub const THRESHOLD_WINDOWS: [&str; 5] = ["1h", "3h", "6h", "12h", "24h"];

/// Alert thresholds at the three levels above green, in the unit of the quantity (m, or mm over a window).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Levels {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yellow: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orange: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub red: Option<f64>,
}

impl Levels {
    fn set(&self) -> Vec<(&'static str, f64)> {
        [("yellow", self.yellow), ("orange", self.orange), ("red", self.red)]
            .into_iter()
            .filter_map(|(n, v)| v.map(|v| (n, v)))
            .collect()
    }

    /// Every level finite and the levels increasing (what a stored row must satisfy).
    fn validate(&self, what: &str) -> std::result::Result<(), String> {
        let set = self.set();
        for (name, v) in &set {
            if !v.is_finite() {
                return Err(format!("{what}{name} is not a finite number"));
            }
        }
        for pair in set.windows(2) {
            if pair[0].1 >= pair[1].1 {
                return Err(format!(
                    "{what}thresholds must increase: {} ({}) is not below {} ({})",
                    pair[0].0, pair[0].1, pair[1].0, pair[1].1
                ));
            }
        }
        Ok(())
    }

    /// Every level within `bounds` (what new input must satisfy).
    fn check_bounds(&self, what: &str, bounds: Bounds) -> std::result::Result<(), String> {
        for (name, v) in self.set() {
            bounds.check(&format!("thresholds.{what}{name}"), v)?;
        }
        Ok(())
    }
}

/// A closed interval a number of the input must lie in, with its unit for messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub min: f64,
    pub max: f64,
    pub unit: &'static str,
}

impl Bounds {
    /// Checks that `value` (named `what` in the message) is finite and within the bounds.
    pub fn check(self, what: &str, value: f64) -> std::result::Result<(), String> {
        if value.is_finite() && (self.min..=self.max).contains(&value) {
            Ok(())
        } else {
            Err(format!("{what} {value} must lie between {} and {} {}", self.min, self.max, self.unit))
        }
    }
}

/// Levels, thresholds and ranges of hydrometers: ±10 km covers every river stage and hydrometric zero.
pub const LEVEL_BOUNDS: Bounds = Bounds { min: -10_000.0, max: 10_000.0, unit: "m" };
/// Rain thresholds and ranges: no window ever holds more than 10 m of rain.
pub const RAIN_BOUNDS: Bounds = Bounds { min: 0.0, max: 10_000.0, unit: "mm" };
/// Elevation of a station: from the Dead Sea shore to above any Italian summit.
pub const ELEVATION_BOUNDS: Bounds = Bounds { min: -500.0, max: 9_000.0, unit: "m" };
/// The reporting interval: at least a second, at most a day.
pub const INTERVAL_S: std::ops::RangeInclusive<i64> = 1..=86_400;
/// Most characters of a name, river or basin.
pub const MAX_NAME_CHARS: usize = 200;
/// Most characters of a station code.
pub const MAX_CODE_CHARS: usize = 64;
/// Most bytes of the free `properties` object, as JSON.
pub const MAX_PROPERTIES_BYTES: usize = 64 * 1024;
/// Largest magnitude of a number in `properties` (larger ones belong in strings: they do not round-trip).
pub const MAX_PROPERTY_NUMBER: f64 = 1e15;

/// Thresholds of a station: levels for hydrometers (with optional clear levels for hysteresis), levels per window
/// for rain gauges. Stored and exchanged as JSON: `{"yellow":2.5,"orange":3.2,"red":4.0,"clear":{"yellow":2.3}}` or
/// `{"1h":{"yellow":30,"orange":50,"red":70},"24h":{"red":250}}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Thresholds {
    /// Hydrometer levels in m.
    Level { levels: Levels, clear: Option<Levels> },
    /// Rain totals in mm per window (`1h`, `3h`, `6h`, `12h`, `24h`).
    Rain(BTreeMap<String, Levels>),
}

impl Thresholds {
    /// The thresholds as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            Thresholds::Level { levels, clear } => {
                let mut v = serde_json::to_value(levels).unwrap_or_default();
                if let (Value::Object(map), Some(clear)) = (&mut v, clear) {
                    map.insert("clear".into(), serde_json::to_value(clear).unwrap_or_default());
                }
                v
            }
            Thresholds::Rain(windows) => serde_json::to_value(windows).unwrap_or_default(),
        }
    }

    /// Reads and checks thresholds for a station of `kind`.
    pub fn from_json(kind: StationKind, value: &Value) -> std::result::Result<Thresholds, String> {
        let empty = Map::new();
        let map = match value {
            Value::Null => &empty,
            Value::Object(map) => map,
            _ => return Err("thresholds must be an object".into()),
        };
        match kind {
            StationKind::Hydrometer => {
                let mut levels_map = map.clone();
                let clear = levels_map.remove("clear");
                let levels: Levels = serde_json::from_value(Value::Object(levels_map)).map_err(|e| {
                    format!("thresholds: {e} (a hydrometer has yellow/orange/red levels in m, and optionally clear)")
                })?;
                levels.validate("")?;
                let clear: Option<Levels> = match clear {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(serde_json::from_value(v).map_err(|e| format!("thresholds.clear: {e}"))?),
                };
                if let Some(clear) = &clear {
                    clear.validate("clear.")?;
                    for (name, alert, clear) in [
                        ("yellow", levels.yellow, clear.yellow),
                        ("orange", levels.orange, clear.orange),
                        ("red", levels.red, clear.red),
                    ] {
                        if let (Some(a), Some(c)) = (alert, clear)
                            && c > a
                        {
                            return Err(format!("clear.{name} ({c}) must not exceed {name} ({a})"));
                        }
                    }
                }
                Ok(Thresholds::Level { levels, clear })
            }
            StationKind::RainGauge => {
                let mut windows = BTreeMap::new();
                for (window, v) in map {
                    if !THRESHOLD_WINDOWS.contains(&window.as_str()) {
                        return Err(format!(
                            "unknown rain window `{window}` (a rain gauge has thresholds per window, one of {THRESHOLD_WINDOWS:?}, in mm)"
                        ));
                    }
                    let levels: Levels =
                        serde_json::from_value(v.clone()).map_err(|e| format!("thresholds.{window}: {e}"))?;
                    levels.validate(&format!("{window}."))?;
                    windows.insert(window.clone(), levels);
                }
                Ok(Thresholds::Rain(windows))
            }
        }
    }
}

impl Thresholds {
    /// Checks every threshold against the domain of its quantity ([`LEVEL_BOUNDS`] or [`RAIN_BOUNDS`]).
    pub fn check_bounds(&self) -> std::result::Result<(), String> {
        match self {
            Thresholds::Level { levels, clear } => {
                levels.check_bounds("", LEVEL_BOUNDS)?;
                if let Some(clear) = clear {
                    clear.check_bounds("clear.", LEVEL_BOUNDS)?;
                }
            }
            Thresholds::Rain(windows) => {
                for (window, levels) in windows {
                    levels.check_bounds(&format!("{window}."), RAIN_BOUNDS)?;
                }
            }
        }
        Ok(())
    }
}

/// Quality-control parameters of a station; unset values take the defaults of [`crate::qc`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct QcParams {
    /// Rain above this many mm in 5 minutes is implausible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rain_5min_mm: Option<f64>,
    /// A level changing faster than this many m per minute is a spike.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_step_m_per_min: Option<f64>,
    /// A level identical for this many seconds is a flat line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flat_line_s: Option<u32>,
}

impl QcParams {
    /// Checks the parameters against sensible bounds.
    pub fn check_bounds(&self) -> std::result::Result<(), String> {
        if let Some(v) = self.max_rain_5min_mm
            && !(v.is_finite() && v > 0.0 && v <= 10_000.0)
        {
            return Err(format!("qc.max_rain_5min_mm {v} must be above 0 and at most 10000 mm"));
        }
        if let Some(v) = self.max_step_m_per_min
            && !(v.is_finite() && v > 0.0 && v <= 10_000.0)
        {
            return Err(format!("qc.max_step_m_per_min {v} must be above 0 and at most 10000 m/min"));
        }
        if let Some(v) = self.flat_line_s
            && !(60..=30 * 86_400).contains(&v)
        {
            return Err(format!("qc.flat_line_s {v} must be between 60 and 2592000 seconds (30 days)"));
        }
        Ok(())
    }
}

/// A station as stored: its definition and its id. The definition's fields read through (`station.code`).
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    pub id: i64,
    pub def: StationInput,
}

impl std::ops::Deref for Station {
    type Target = StationInput;

    fn deref(&self) -> &StationInput {
        &self.def
    }
}

/// What an import or `POST /api/stations` provides for a station.
#[derive(Debug, Clone, PartialEq)]
pub struct StationInput {
    pub code: String,
    pub name: String,
    pub kind: StationKind,
    /// Longitude, WGS84 degrees.
    pub lon: f64,
    /// Latitude, WGS84 degrees.
    pub lat: f64,
    pub elevation_m: Option<f64>,
    /// ISTAT code of the comune that contains the station (derived from the location when comuni are loaded).
    pub comune: Option<String>,
    pub river: Option<String>,
    pub basin: Option<String>,
    /// Measuring range of the sensor, in its unit.
    pub range: Option<[f64; 2]>,
    /// Expected reporting interval, in seconds.
    pub interval_s: i32,
    pub thresholds: Thresholds,
    pub qc: QcParams,
    pub properties: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureProperties {
    code: String,
    name: String,
    kind: String,
    #[serde(default, alias = "elevation_m")]
    elevation: Option<f64>,
    #[serde(default)]
    comune: Option<String>,
    #[serde(default)]
    river: Option<String>,
    #[serde(default)]
    basin: Option<String>,
    #[serde(default)]
    range: Option<[f64; 2]>,
    #[serde(default)]
    interval_s: Option<i64>,
    #[serde(default)]
    thresholds: Option<Value>,
    #[serde(default)]
    qc: Option<QcParams>,
    #[serde(default)]
    properties: Option<Map<String, Value>>,
}

/// Whether `code` is made of the characters of a station code, at most [`MAX_CODE_CHARS`] of them: letters, digits,
/// `-`, `_`, `.`. Codes that fail this cannot name a station, so lookups answer "unknown" without asking the database.
pub fn is_code_like(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_CODE_CHARS
        && code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks a new station code: [`is_code_like`], and not made of dots only (`.` and `..` are path segments).
pub fn check_code(code: &str) -> std::result::Result<(), String> {
    if code.is_empty() || code.chars().count() > MAX_CODE_CHARS {
        return Err(format!("the code must have 1 to {MAX_CODE_CHARS} characters"));
    }
    if !is_code_like(code) {
        return Err(format!(
            "the code `{}` may only use letters, digits, '-', '_' and '.' (it appears in MQTT topics and URLs)",
            code.escape_debug()
        ));
    }
    if code.chars().all(|c| c == '.') {
        return Err(format!("the code `{code}` is made of dots only, which URLs read as a path segment"));
    }
    Ok(())
}

/// Checks a short human text (a name, a river, a basin): at most [`MAX_NAME_CHARS`] characters, no control
/// characters.
fn check_text(what: &str, text: &str) -> std::result::Result<(), String> {
    let chars = text.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(format!("the {what} has {chars} characters; at most {MAX_NAME_CHARS} are allowed"));
    }
    if text.chars().any(char::is_control) {
        return Err(format!("the {what} contains control characters"));
    }
    Ok(())
}

/// Checks the free properties: what PostgreSQL's jsonb stores and gives back unchanged.
fn check_properties(properties: &Map<String, Value>) -> std::result::Result<(), String> {
    fn walk(path: &str, v: &Value) -> std::result::Result<(), String> {
        match v {
            Value::String(s) if s.contains('\0') => {
                Err(format!("properties{path} contains a NUL character, which cannot be stored"))
            }
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.is_finite() && f.abs() <= MAX_PROPERTY_NUMBER => Ok(()),
                _ => Err(format!(
                    "properties{path} {n} is beyond ±1e15; write such numbers as strings, they would not be stored exactly"
                )),
            },
            Value::Array(items) => {
                items.iter().enumerate().try_for_each(|(i, item)| walk(&format!("{path}[{i}]"), item))
            }
            Value::Object(map) => map.iter().try_for_each(|(k, item)| {
                if k.contains('\0') {
                    return Err(format!("a key of properties{path} contains a NUL character"));
                }
                walk(&format!("{path}.{k}"), item)
            }),
            _ => Ok(()),
        }
    }
    let size = serde_json::to_string(properties).map(|s| s.len()).unwrap_or(usize::MAX);
    if size > MAX_PROPERTIES_BYTES {
        return Err(format!(
            "properties take {size} bytes as JSON; at most {MAX_PROPERTIES_BYTES} are allowed"
        ));
    }
    properties.iter().try_for_each(|(k, v)| {
        if k.contains('\0') {
            return Err("a key of properties contains a NUL character".to_string());
        }
        walk(&format!(".{k}"), v)
    })
}

/// An optional text property, trimmed; empty means absent.
fn optional_text(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

impl StationInput {
    /// Reads a GeoJSON Feature with a Point geometry (WGS84 longitude, latitude[, elevation]) and the station's
    /// properties, checking everything (see [`StationInput::validate`]); the error names the station and what is
    /// wrong.
    pub fn from_feature(feature: &Value) -> Result<StationInput> {
        let code_hint = feature
            .pointer("/properties/code")
            .and_then(Value::as_str)
            .map(|c| c.chars().take(MAX_CODE_CHARS + 1).collect::<String>().escape_debug().to_string())
            .unwrap_or_else(|| "(no code)".to_string());
        let invalid = |reason: String| Error::InvalidStation { code: code_hint.clone(), reason };
        if feature.get("type").and_then(Value::as_str) != Some("Feature") {
            return Err(invalid("not a GeoJSON Feature".into()));
        }
        let geometry =
            feature.get("geometry").filter(|g| !g.is_null()).ok_or_else(|| invalid("no geometry".into()))?;
        if geometry.get("type").and_then(Value::as_str) != Some("Point") {
            return Err(invalid("the geometry must be a Point".into()));
        }
        let coords = geometry
            .get("coordinates")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("the Point needs coordinates [longitude, latitude]".into()))?;
        if !(2..=3).contains(&coords.len()) {
            return Err(invalid(format!(
                "the Point has {} coordinates; it needs [longitude, latitude] or [longitude, latitude, elevation]",
                coords.len()
            )));
        }
        let coords: Vec<f64> = coords
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.as_f64()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| invalid(format!("coordinate {i} ({c}) is not a number")))
            })
            .collect::<Result<_>>()?;
        let (lon, lat) = (coords[0], coords[1]);
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            return Err(invalid(format!("[{lon}, {lat}] is not a WGS84 longitude, latitude")));
        }
        let props: FeatureProperties =
            serde_json::from_value(feature.get("properties").cloned().unwrap_or(Value::Null))
                .map_err(|e| invalid(format!("properties: {e}")))?;
        let kind: StationKind = props.kind.parse().map_err(invalid)?;
        let input = StationInput {
            code: props.code.trim().to_string(),
            name: props.name.trim().to_string(),
            kind,
            lon,
            lat,
            elevation_m: props.elevation.or(coords.get(2).copied()),
            comune: optional_text(props.comune),
            river: optional_text(props.river),
            basin: optional_text(props.basin),
            range: props.range,
            interval_s: match props.interval_s {
                None => 300,
                Some(s) if INTERVAL_S.contains(&s) => s as i32,
                Some(s) => {
                    return Err(invalid(format!(
                        "interval_s {s} must be between 1 and 86400 seconds (a day)"
                    )));
                }
            },
            thresholds: Thresholds::from_json(kind, &props.thresholds.unwrap_or(Value::Null))
                .map_err(invalid)?,
            qc: props.qc.unwrap_or_default(),
            properties: props.properties.unwrap_or_default(),
        };
        input.validate().map_err(invalid)?;
        Ok(input)
    }

    /// Checks every field of a new or changed station, so that what is stored reads back unchanged:
    ///
    /// | field | rule |
    /// |---|---|
    /// | code | 1 to 64 letters, digits, `-`, `_`, `.`; not dots only |
    /// | name | 1 to 200 characters, no control characters; river and basin likewise (optional) |
    /// | coordinates | WGS84 longitude −180…180, latitude −90…90 |
    /// | elevation | −500 … 9,000 m |
    /// | comune | an ISTAT code of 6 digits |
    /// | range, thresholds | levels within ±10,000 m, rain within 0 … 10,000 mm; thresholds increasing |
    /// | interval_s | 1 s … 1 day |
    /// | qc | max_rain_5min_mm and max_step_m_per_min above 0 and at most 10,000; flat_line_s 60 s … 30 days |
    /// | properties | at most 64 KiB of JSON, no NUL character, numbers within ±10¹⁵ |
    pub fn validate(&self) -> std::result::Result<(), String> {
        check_code(&self.code)?;
        if self.name.is_empty() {
            return Err("the name is empty".into());
        }
        check_text("name", &self.name)?;
        for (what, text) in [("river", &self.river), ("basin", &self.basin)] {
            if let Some(text) = text {
                check_text(what, text)?;
            }
        }
        // A range never contains NaN nor an infinity.
        if !((-180.0..=180.0).contains(&self.lon) && (-90.0..=90.0).contains(&self.lat)) {
            return Err(format!("[{}, {}] is not a WGS84 longitude, latitude", self.lon, self.lat));
        }
        if let Some(e) = self.elevation_m {
            ELEVATION_BOUNDS.check("elevation", e)?;
        }
        if let Some(c) = &self.comune
            && !(c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!("comune `{}` is not an ISTAT code of 6 digits", c.escape_debug()));
        }
        if !INTERVAL_S.contains(&i64::from(self.interval_s)) {
            return Err(format!(
                "interval_s {} must be between 1 and 86400 seconds (a day)",
                self.interval_s
            ));
        }
        let bounds = match self.kind {
            StationKind::Hydrometer => LEVEL_BOUNDS,
            StationKind::RainGauge => RAIN_BOUNDS,
        };
        if let Some([lo, hi]) = self.range {
            bounds.check("range", lo)?;
            bounds.check("range", hi)?;
            if lo >= hi {
                return Err(format!("range [{lo}, {hi}] must be two finite numbers, low first"));
            }
        }
        self.thresholds.check_bounds()?;
        self.qc.check_bounds()?;
        check_properties(&self.properties)?;
        Ok(())
    }
}

impl Station {
    /// The station as a GeoJSON Feature (the shape `vedetta import stations` reads).
    pub fn to_feature(&self, extra: Map<String, Value>) -> Value {
        let mut props = json!({
            "code": self.code,
            "name": self.name,
            "kind": self.kind,
            "elevation": self.elevation_m,
            "comune": self.comune,
            "river": self.river,
            "basin": self.basin,
            "range": self.range,
            "interval_s": self.interval_s,
            "thresholds": self.thresholds.to_json(),
            "qc": self.qc,
            "properties": self.properties,
        });
        if let Value::Object(map) = &mut props {
            map.extend(extra);
        }
        json!({
            "type": "Feature",
            "id": self.code,
            "geometry": { "type": "Point", "coordinates": [self.lon, self.lat] },
            "properties": props,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(props: Value) -> Value {
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [8.95, 44.42]}, "properties": props})
    }

    #[test]
    fn the_issue_example_is_accepted() {
        let input = StationInput::from_feature(&feature(json!({
            "code": "GE-BISAG-01", "name": "Bisagno – Passerella Firpo", "kind": "hydrometer",
            "range": [0, 10], "interval_s": 300, "thresholds": {"yellow": 2.5, "orange": 3.2, "red": 4.0}
        })))
        .unwrap();
        assert_eq!(input.kind, StationKind::Hydrometer);
        let Thresholds::Level { levels, .. } = &input.thresholds else { panic!("level thresholds") };
        assert_eq!(levels.orange, Some(3.2));
        assert_eq!(input.range, Some([0.0, 10.0]));
        assert_eq!((input.lon, input.lat), (8.95, 44.42));
    }

    #[test]
    fn rain_thresholds_are_per_window() {
        let input = StationInput::from_feature(&feature(json!({
            "code": "GE-PLUV-01", "name": "Genova Centro Funzionale", "kind": "rain_gauge",
            "thresholds": {"1h": {"yellow": 30, "orange": 50, "red": 70}, "24h": {"red": 250}}
        })))
        .unwrap();
        let Thresholds::Rain(windows) = &input.thresholds else { panic!("rain thresholds") };
        assert_eq!(windows["1h"].red, Some(70.0));
        assert_eq!(
            input.thresholds.to_json(),
            json!({"1h": {"yellow": 30.0, "orange": 50.0, "red": 70.0}, "24h": {"red": 250.0}})
        );
        let err = StationInput::from_feature(&feature(json!({
            "code": "X", "name": "x", "kind": "rain_gauge", "thresholds": {"2h": {"red": 1}}
        })))
        .unwrap_err();
        assert!(err.to_string().contains("unknown rain window `2h`"), "{err}");
    }

    #[test]
    fn bad_stations_are_explained() {
        let cases = [
            (json!({"code": "A", "name": "a", "kind": "thermometer"}), "unknown kind"),
            (json!({"code": "A B", "name": "a", "kind": "hydrometer"}), "may only use"),
            (
                json!({"code": "A", "name": "a", "kind": "hydrometer", "thresholds": {"yellow": 3, "red": 2}}),
                "must increase",
            ),
            (json!({"code": "A", "name": "a", "kind": "hydrometer", "range": [5, 1]}), "range"),
            (
                json!({"code": "A", "name": "a", "kind": "hydrometer", "colour": "red"}),
                "unknown field `colour`",
            ),
            (json!({"code": "A", "kind": "hydrometer"}), "missing field `name`"),
            (json!({"code": "A", "name": "a", "kind": "hydrometer", "interval_s": 0}), "interval_s"),
        ];
        for (props, expected) in cases {
            let err = StationInput::from_feature(&feature(props.clone())).unwrap_err().to_string();
            assert!(err.contains(expected), "{props}: {err}");
        }
        let err = StationInput::from_feature(&json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [200, 44]}, "properties": {"code": "Z", "name": "z", "kind": "hydrometer"}})).unwrap_err();
        assert!(err.to_string().starts_with("station Z:"), "{err}");
    }
    #[test]
    fn coordinates_must_be_numbers() {
        let props = json!({"code": "A", "name": "a", "kind": "hydrometer"});
        for (coords, expected) in [
            (json!(["x", 8.9, 44.4]), "coordinate 0 (\"x\") is not a number"),
            (json!([8.9, "44.4"]), "coordinate 1"),
            (json!([8.9]), "has 1 coordinates"),
            (json!([8.9, 44.4, 10, 11]), "has 4 coordinates"),
            (json!([8.9, 44.4, null]), "coordinate 2 (null)"),
            (json!("8.9,44.4"), "needs coordinates"),
            (json!([181, 44.4]), "is not a WGS84"),
        ] {
            let f = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": coords}, "properties": props});
            let err = StationInput::from_feature(&f).unwrap_err().to_string();
            assert!(err.contains(expected), "{coords}: {err}");
        }
        let f = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [8.9, 44.4, 120.5]}, "properties": props});
        assert_eq!(StationInput::from_feature(&f).unwrap().elevation_m, Some(120.5));
    }

    #[test]
    fn codes_names_and_comuni_are_checked() {
        let ok = |code: &str| {
            StationInput::from_feature(&feature(json!({"code": code, "name": "a", "kind": "hydrometer"})))
                .is_ok()
        };
        for good in ["GE-BISAG-01", "a_b.c", "x", "..a", &"A".repeat(64)] {
            assert!(ok(good), "{good}");
        }
        for bad in [".", "..", "...", "", " ", "a b", "a/b", "a\0b", "è", "a+b", "#", &"A".repeat(65)] {
            assert!(!ok(bad), "{bad:?}");
        }
        let err = |props: Value| StationInput::from_feature(&feature(props)).unwrap_err().to_string();
        let long = "n".repeat(201);
        for (props, expected) in [
            (json!({"code": "A", "name": long, "kind": "hydrometer"}), "the name has 201 characters"),
            (json!({"code": "A", "name": "a\u{0}b", "kind": "hydrometer"}), "control characters"),
            (json!({"code": "A", "name": "  ", "kind": "hydrometer"}), "the name is empty"),
            (
                json!({"code": "A", "name": "a", "kind": "hydrometer", "river": "r".repeat(201)}),
                "the river has 201",
            ),
            (
                json!({"code": "A", "name": "a", "kind": "hydrometer", "basin": "\u{7}"}),
                "the basin contains control",
            ),
            (json!({"code": "A", "name": "a", "kind": "hydrometer", "comune": "01025"}), "6 digits"),
            (json!({"code": "A", "name": "a", "kind": "hydrometer", "comune": "O10025"}), "6 digits"),
        ] {
            let e = err(props.clone());
            assert!(e.contains(expected), "{props}: {e}");
        }
        // 200 characters (not bytes) are allowed, and an empty river is no river.
        let input = StationInput::from_feature(&feature(
            json!({"code": "A", "name": "è".repeat(200), "kind": "hydrometer", "river": " ", "comune": "010025"}),
        ))
        .unwrap();
        assert_eq!((input.river, input.comune.as_deref()), (None, Some("010025")));
    }

    #[test]
    fn every_number_is_bounded_to_its_domain() {
        let err =
            |props: Value| StationInput::from_feature(&feature(props)).map(|_| ()).unwrap_err().to_string();
        let h = |extra: Value| {
            let mut p = json!({"code": "A", "name": "a", "kind": "hydrometer"});
            p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            p
        };
        let r = |extra: Value| {
            let mut p = json!({"code": "A", "name": "a", "kind": "rain_gauge"});
            p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            p
        };
        for (props, expected) in [
            (
                h(json!({"thresholds": {"red": 1.7976931348623157e308}})),
                "thresholds.red 179769313486231570000",
            ),
            (h(json!({"thresholds": {"yellow": -10001}})), "between -10000 and 10000 m"),
            (h(json!({"thresholds": {"red": 3, "clear": {"red": -3.5e38}}})), "thresholds.clear.red"),
            (
                r(json!({"thresholds": {"1h": {"red": 10001}}})),
                "thresholds.1h.red 10001 must lie between 0 and 10000 mm",
            ),
            (r(json!({"thresholds": {"24h": {"yellow": -1}}})), "thresholds.24h.yellow"),
            (h(json!({"range": [0, 1e300]})), "range"),
            (r(json!({"range": [-5, 100]})), "range -5 must lie between 0 and 10000 mm"),
            (h(json!({"elevation": 9001})), "elevation 9001 must lie between -500 and 9000 m"),
            (h(json!({"elevation": -501})), "elevation"),
            (h(json!({"interval_s": 86401})), "between 1 and 86400"),
            (h(json!({"interval_s": 99999999999999u64})), "interval_s"),
            (h(json!({"qc": {"max_step_m_per_min": 0}})), "qc.max_step_m_per_min"),
            (r(json!({"qc": {"max_rain_5min_mm": 3.4e38}})), "qc.max_rain_5min_mm"),
            (h(json!({"qc": {"flat_line_s": 5}})), "qc.flat_line_s"),
            (h(json!({"qc": {"flat_line_s": 4294967296u64}})), "expected u32"),
            (h(json!({"properties": {"big": 1.7976931348623157e308}})), "properties.big"),
            (h(json!({"properties": {"a": [1, {"b": "x\u{0}"}]}})), "properties.a[1].b contains a NUL"),
            (h(json!({"properties": {"k\u{0}": 1}})), "a key of properties contains a NUL"),
            (h(json!({"properties": {"blob": "x".repeat(70_000)}})), "at most 65536"),
        ] {
            let e = err(props.clone());
            assert!(e.contains(expected), "{props}: {e}");
        }
        // The bounds themselves are accepted.
        StationInput::from_feature(&feature(h(json!({
            "thresholds": {"yellow": -10000, "red": 10000}, "range": [-10000, 10000], "elevation": 9000,
            "interval_s": 86400, "qc": {"flat_line_s": 60}, "properties": {"n": 1e15}
        }))))
        .unwrap();
    }
}
