//! What a CAP message is written from: one version of one alert, plus the messages already published for it.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::rule::Hazard;
use crate::{Error, Level, Result};

/// One version of one alert, as a CAP message is written from it. Built by the caller from the alert row and its
/// history; nothing here touches a database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapInput {
    /// The alert's id (the same for all its versions).
    pub alert_id: i64,
    /// The alert's version: each change of the alert is a new version, and a new CAP message.
    pub version: i64,
    /// The messages already published for this alert, oldest first: they become `references`.
    /// Empty for the first message; required for an escalation, a de-escalation or a resolution.
    pub previous: Vec<PreviousMessage>,
    /// What this version changed.
    pub change: CapChange,
    /// Whether the alert comes from measurements or from an operator.
    pub origin: Origin,
    /// The level now (for a resolution, the last level the alert had).
    pub level: Level,
    /// The level before an escalation or de-escalation, when known.
    pub previous_level: Option<Level>,
    /// The hazard (the crate's [`Hazard`](crate::rule::Hazard)): decides `category` and `event`, written as
    /// `eventCode` `IT-PC-hazard`.
    pub hazard: Hazard,
    /// The station or zone the alert is about.
    pub subject: Subject,
    /// The alert zone, whose polygon and comuni make the CAP `area`.
    pub zone: Option<CapZone>,
    /// The measured value that raised or changed the alert, if any.
    pub measurement: Option<Measurement>,
    /// When this message is sent (the time of the change).
    pub sent: DateTime<Utc>,
    /// When the alert fired (CAP `onset`).
    pub onset: Option<DateTime<Utc>>,
    /// When the message stops being valid (CAP `expires`), if it does.
    pub expires: Option<DateTime<Utc>>,
    /// The operator's own text of a manual alert (e.g. the regional bulletin's words), added to the description
    /// of both languages as written.
    #[serde(default)]
    pub note: Option<String>,
}

/// A message already published for the alert, named by its identifier and `sent` time (the sender is the configured
/// one). [`identifier`](crate::cap::identifier) computes an identifier from an alert id and a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousMessage {
    /// Its CAP identifier.
    pub identifier: String,
    /// Its `sent` time (written to the second, as in the message).
    pub sent: DateTime<Utc>,
}

/// What a version of an alert changed; it decides the CAP `msgType` (see [`CapChange::msg_type`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CapChange {
    /// The alert was opened.
    Opened,
    /// The alert fired (its condition held long enough).
    Fired,
    /// The alert went up a level.
    Escalated,
    /// The alert went down a level.
    Deescalated,
    /// The alert ended.
    Resolved,
    /// An operator issued a manual alert (`issued` is read as this too).
    #[serde(alias = "issued")]
    Manual,
    /// An operator changed a manual alert (its level or its texts).
    Updated,
    /// An operator withdrew a manual alert.
    Withdrawn,
}

impl CapChange {
    /// Whether the change ends the alert (a resolution or a withdrawal): its message is a `Cancel`.
    pub fn ends(self) -> bool {
        matches!(self, CapChange::Resolved | CapChange::Withdrawn)
    }
}

impl FromStr for CapChange {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "opened" => CapChange::Opened,
            "fired" => CapChange::Fired,
            "escalated" => CapChange::Escalated,
            "deescalated" => CapChange::Deescalated,
            "resolved" => CapChange::Resolved,
            "manual" | "issued" => CapChange::Manual,
            "updated" => CapChange::Updated,
            "withdrawn" => CapChange::Withdrawn,
            other => {
                return Err(Error::CapUnknown {
                    what: "change",
                    value: other.to_string(),
                    expected: "opened, fired, escalated, deescalated, resolved, manual (issued), updated or withdrawn",
                });
            }
        })
    }
}

/// Where an alert comes from; it decides the CAP `certainty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A rule over sensor readings: the event is observed.
    Measured,
    /// An operator, typically copying the colour of the regional forecast bulletin: the event is likely.
    Manual,
}

/// The station or zone an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Station or zone.
    pub kind: SubjectKind,
    /// The station code or zone code, e.g. `GE-BISAGNO-01` or `B`.
    pub code: String,
    /// Its human name, e.g. `Bisagno a Passerella Firpo`.
    pub name: Option<String>,
}

/// Whether an alert is about a station or a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    /// A monitoring station.
    Station,
    /// An alert zone.
    Zone,
}

/// An alert zone as the CAP `area` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapZone {
    /// The zone code, e.g. `B`; written as `geocode` `IT-PC-zone`.
    pub code: String,
    /// Its name, e.g. `Genova centro`.
    pub name: String,
    /// Exterior rings of the zone's polygon(s), each a list of `(longitude, latitude)` in WGS84 degrees
    /// (EPSG:4326, GeoJSON order). A ring may be open or closed; CAP has no holes, so interior rings are not given.
    /// [`rings_from_geojson`] extracts them from a GeoJSON geometry.
    pub rings: Vec<Vec<(f64, f64)>>,
    /// ISTAT codes of the comuni in the zone (six digits, e.g. `010025`); each becomes a `geocode` `ISTAT`.
    pub comuni: Vec<String>,
}

/// A measured value and its unit, e.g. `3.4` `m`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The value.
    pub value: f64,
    /// Its unit, e.g. `m`, `mm`, `m/h`.
    pub unit: String,
}

/// The exterior rings of a GeoJSON `Polygon` or `MultiPolygon` (or a `Feature` or `GeometryCollection` holding
/// them), as `(longitude, latitude)` lists for [`CapZone::rings`]. Coordinates are taken as WGS84 degrees, as
/// GeoJSON (RFC 7946) requires; interior rings are dropped (CAP polygons have no holes).
pub fn rings_from_geojson(geometry: &serde_json::Value) -> Result<Vec<Vec<(f64, f64)>>> {
    let mut rings = Vec::new();
    collect_rings(geometry, &mut rings)?;
    Ok(rings)
}

fn geojson_error(reason: impl Into<String>) -> Error {
    Error::CapGeometry { reason: reason.into() }
}

fn collect_rings(value: &serde_json::Value, rings: &mut Vec<Vec<(f64, f64)>>) -> Result<()> {
    let kind =
        value.get("type").and_then(|t| t.as_str()).ok_or_else(|| geojson_error("no GeoJSON `type`"))?;
    match kind {
        "Feature" => {
            let geometry =
                value.get("geometry").ok_or_else(|| geojson_error("a Feature without `geometry`"))?;
            collect_rings(geometry, rings)
        }
        "GeometryCollection" => {
            let members = value
                .get("geometries")
                .and_then(|g| g.as_array())
                .ok_or_else(|| geojson_error("a GeometryCollection without `geometries`"))?;
            members.iter().try_for_each(|g| collect_rings(g, rings))
        }
        "Polygon" => {
            let polygon = coordinates(value)?;
            rings.push(exterior_ring(polygon)?);
            Ok(())
        }
        "MultiPolygon" => {
            let polygons = coordinates(value)?
                .as_array()
                .ok_or_else(|| geojson_error("MultiPolygon coordinates are not an array"))?;
            for polygon in polygons {
                rings.push(exterior_ring(polygon)?);
            }
            Ok(())
        }
        other => Err(geojson_error(format!("a {other} has no polygon (expected Polygon or MultiPolygon)"))),
    }
}

fn coordinates(value: &serde_json::Value) -> Result<&serde_json::Value> {
    value.get("coordinates").ok_or_else(|| geojson_error("a geometry without `coordinates`"))
}

fn exterior_ring(polygon: &serde_json::Value) -> Result<Vec<(f64, f64)>> {
    let ring = polygon
        .as_array()
        .and_then(|rings| rings.first())
        .and_then(|ring| ring.as_array())
        .ok_or_else(|| geojson_error("a polygon without an exterior ring"))?;
    ring.iter()
        .map(|position| {
            let xy = position.as_array().filter(|p| p.len() >= 2);
            match xy.map(|p| (p[0].as_f64(), p[1].as_f64())) {
                Some((Some(lon), Some(lat))) => Ok((lon, lat)),
                _ => Err(geojson_error(format!("{position} is not a [longitude, latitude] position"))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn exterior_rings_come_out_of_polygons_and_multipolygons() {
        let square = json!([
            [[8.9, 44.4], [9.0, 44.4], [9.0, 44.5], [8.9, 44.4]],
            [[8.95, 44.42], [8.96, 44.42], [8.95, 44.43], [8.95, 44.42]]
        ]);
        let rings = rings_from_geojson(&json!({"type": "Polygon", "coordinates": square})).unwrap();
        assert_eq!(rings, vec![vec![(8.9, 44.4), (9.0, 44.4), (9.0, 44.5), (8.9, 44.4)]]);
        let multi = json!({"type": "Feature", "properties": {}, "geometry": {"type": "MultiPolygon", "coordinates": [square, square]}});
        assert_eq!(rings_from_geojson(&multi).unwrap().len(), 2);
        assert!(rings_from_geojson(&json!({"type": "Point", "coordinates": [8.9, 44.4]})).is_err());
        assert!(rings_from_geojson(&json!({"type": "Polygon", "coordinates": [[["a", 1]]]})).is_err());
    }

    #[test]
    fn names_parse_as_the_alert_payload_writes_them() {
        assert_eq!("issued".parse::<CapChange>().unwrap(), CapChange::Manual);
        assert_eq!(serde_json::from_value::<CapChange>(json!("issued")).unwrap(), CapChange::Manual);
        assert_eq!("deescalated".parse::<CapChange>().unwrap(), CapChange::Deescalated);
        assert!("acknowledged".parse::<CapChange>().is_err());
    }
}
