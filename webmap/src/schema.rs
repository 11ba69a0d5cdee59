//! The shapes of the JSON bodies, for the OpenAPI document. Handlers build some of these bodies as JSON values;
//! these types say what those values hold, and the schemathesis gate checks every response against them.
//! Fields not listed here may be present (additional properties are allowed).

#![allow(dead_code)]

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A GeoJSON Point in WGS84 longitude, latitude (degrees).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PointGeometry {
    /// `Point`.
    #[serde(rename = "type")]
    #[schema(example = "Point")]
    kind: String,
    /// `[lon, lat]` in degrees (WGS84).
    #[schema(example = json!([8.95, 44.42]))]
    coordinates: Vec<f64>,
}

/// A station as a GeoJSON Feature (`id` is the station code).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StationFeature {
    /// `Feature`.
    #[serde(rename = "type")]
    kind: String,
    /// The station code.
    id: String,
    geometry: PointGeometry,
    properties: StationProperties,
}

/// What a station is, and (in listings and single reads) how it is doing.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StationProperties {
    /// Unique code, e.g. `GE-BISAG-01`.
    code: String,
    /// Display name.
    name: String,
    /// `rain_gauge` or `hydrometer`.
    kind: String,
    /// Metres above sea level.
    elevation: Option<f64>,
    /// ISTAT code of the comune the station stands in.
    comune: Option<String>,
    river: Option<String>,
    basin: Option<String>,
    /// Plausible range of values `[min, max]`.
    #[schema(value_type = Option<Object>)]
    range: Option<Value>,
    /// Expected seconds between readings.
    interval_s: i64,
    /// Hydrometer levels (yellow, orange, red, clear) or rain thresholds per window.
    #[schema(value_type = Object)]
    thresholds: Value,
    /// `rain` or `level` (listings and single reads).
    quantity: Option<String>,
    /// `mm` or `m`.
    unit: Option<String>,
    /// The latest reading `{t, v, qc}` or null.
    #[schema(value_type = Option<Object>)]
    latest: Option<Value>,
    /// `reporting` or `silent`.
    state: Option<String>,
}

/// Every station with its latest reading.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StationCollection {
    /// `FeatureCollection`.
    #[serde(rename = "type")]
    kind: String,
    features: Vec<StationFeature>,
    /// The `after` of the next page; null on the last.
    next: Option<String>,
}

/// A station's readings or time buckets.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReadingsPage {
    station: String,
    quantity: String,
    unit: String,
    from: String,
    to: String,
    /// Without `interval`: the readings `{t, v, qc}`.
    #[schema(value_type = Option<Vec<Object>>)]
    readings: Option<Value>,
    /// With `interval`: the bucket width (ISO 8601 duration).
    interval: Option<String>,
    /// With `interval`: `sum`, `max`, `min` or `avg`.
    agg: Option<String>,
    /// With `interval`: the buckets `{t, v, n}`.
    #[schema(value_type = Option<Vec<Object>>)]
    buckets: Option<Value>,
}

/// A station's latest reading and state.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LatestReading {
    station: String,
    quantity: String,
    unit: String,
    #[schema(value_type = Option<Object>)]
    latest: Option<Value>,
    state: String,
}

/// Rain totals per window, or the level summary (latest, max, rate of rise), with the thresholds.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WindowSummary {
    station: String,
    #[schema(value_type = Object)]
    thresholds: Value,
}

/// A page of dead letters, newest first; `next` is the `before` of the next page.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadLetterPage {
    #[schema(value_type = Vec<Object>)]
    dead_letters: Value,
    next: Option<i64>,
}

/// Ranked address candidates.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GeocodeAnswer {
    query: String,
    #[schema(value_type = Vec<Object>)]
    candidates: Value,
}

/// The nearest address.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReverseAnswer {
    #[schema(value_type = Object)]
    #[serde(flatten)]
    hit: Value,
}

/// The comuni of the federation.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ComuneList {
    #[schema(value_type = Vec<Object>)]
    comuni: Value,
}

/// A comune.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Comune {
    /// ISTAT code, six digits.
    istat: String,
    name: String,
}

/// The zones in force at a point on a date.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ZonesAt {
    lat: f64,
    lon: f64,
    date: String,
    #[schema(value_type = Vec<Object>)]
    zones: Value,
}

/// The zones a parcel overlaps, with the overlap in m² and as a share.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ZonesOverlap {
    date: String,
    area_m2: f64,
    #[schema(value_type = Vec<Object>)]
    zones: Value,
}

/// A GeoJSON Polygon (WGS84 degrees), or a Feature of one.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ParcelPolygon {
    /// `Polygon` (or `Feature`, with the polygon as `geometry`).
    #[serde(rename = "type")]
    #[schema(example = "Polygon")]
    kind: String,
    /// Rings of `[lon, lat]` positions; the first ring is the outline, closed.
    #[schema(value_type = Option<Vec<Vec<Vec<f64>>>>,
             example = json!([[[8.90, 44.40], [8.91, 44.40], [8.91, 44.41], [8.90, 44.41], [8.90, 44.40]]]))]
    coordinates: Option<Value>,
    #[schema(value_type = Option<Object>)]
    geometry: Option<Value>,
}

/// A station to create or replace: a GeoJSON Feature with a Point and the station's properties.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StationInputFeature {
    /// `Feature`.
    #[serde(rename = "type")]
    #[schema(example = "Feature")]
    kind: String,
    geometry: PointGeometry,
    /// `code`, `name`, `kind` (`rain_gauge` | `hydrometer`), and optionally `elevation`, `river`, `basin`,
    /// `range`, `interval_s`, `thresholds`, `qc`.
    #[schema(value_type = Object, example = json!({"code": "GE-BISAG-01", "name": "Bisagno", "kind": "hydrometer",
        "interval_s": 300, "thresholds": {"yellow": 2.5, "orange": 3.2, "red": 4.0}}))]
    properties: Value,
}

/// Any JSON object (OGC API and SensorThings documents, whose shapes their standards define).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Document {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    body: Value,
}

/// The format of an OGC API answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    Json,
    Html,
}
