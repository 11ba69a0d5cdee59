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
    fn validate(&self, what: &str) -> std::result::Result<(), String> {
        let set: Vec<(&str, f64)> = [("yellow", self.yellow), ("orange", self.orange), ("red", self.red)]
            .into_iter()
            .filter_map(|(n, v)| v.map(|v| (n, v)))
            .collect();
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
}

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

impl StationInput {
    /// Reads a GeoJSON Feature with a Point geometry (WGS84 longitude, latitude[, elevation]) and the station's
    /// properties, checking everything; the error names the station and what is wrong.
    pub fn from_feature(feature: &Value) -> Result<StationInput> {
        let code_hint =
            feature.pointer("/properties/code").and_then(Value::as_str).unwrap_or("(no code)").to_string();
        let invalid = |reason: String| Error::InvalidStation { code: code_hint.clone(), reason };
        if feature.get("type").and_then(Value::as_str) != Some("Feature") {
            return Err(invalid("not a GeoJSON Feature".into()));
        }
        let geometry =
            feature.get("geometry").filter(|g| !g.is_null()).ok_or_else(|| invalid("no geometry".into()))?;
        if geometry.get("type").and_then(Value::as_str) != Some("Point") {
            return Err(invalid("the geometry must be a Point".into()));
        }
        let coords: Vec<f64> = geometry
            .get("coordinates")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        if coords.len() < 2 {
            return Err(invalid("the Point needs [longitude, latitude]".into()));
        }
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
            comune: props.comune,
            river: props.river,
            basin: props.basin,
            range: props.range,
            interval_s: match props.interval_s {
                None => 300,
                Some(s) if (1..=86_400 * 7).contains(&s) => s as i32,
                Some(s) => {
                    return Err(invalid(format!("interval_s {s} must be between 1 and 604800 seconds")));
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

    fn validate(&self) -> std::result::Result<(), String> {
        if self.code.is_empty() || self.code.len() > 64 {
            return Err("the code must have 1 to 64 characters".into());
        }
        if !self.code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            return Err(format!(
                "the code `{}` may only use letters, digits, '-', '_' and '.' (it appears in MQTT topics)",
                self.code
            ));
        }
        if self.name.is_empty() {
            return Err("the name is empty".into());
        }
        if let Some([lo, hi]) = self.range
            && !(lo.is_finite() && hi.is_finite() && lo < hi)
        {
            return Err(format!("range [{lo}, {hi}] must be two finite numbers, low first"));
        }
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
}
