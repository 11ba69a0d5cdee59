//! `/api/stations`: stations as GeoJSON, their readings, windows and latest values.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use sensors::qc;
use sensors::reading::{self, Aggregate};
use sensors::store::{self, Latest};
use sensors::{Quantity, Station, StationInput};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{ApiError, AppState, Caller, Role};

/// The live part of a station: latest reading and whether it is silent.
fn live(station: &Station, latest: Option<&Latest>, now: DateTime<Utc>) -> Map<String, Value> {
    let silent = qc::is_silent(latest.map(|l| l.observed_at), station.interval_s, now);
    let mut map = Map::new();
    map.insert("quantity".into(), json!(station.kind.quantity()));
    map.insert("unit".into(), json!(station.kind.quantity().unit()));
    map.insert("latest".into(), json!(latest.map(|l| json!({"t": l.observed_at, "v": l.value, "qc": l.qc}))));
    map.insert("state".into(), json!(if silent { "silent" } else { "reporting" }));
    map
}

/// Most stations one listing returns.
pub(crate) const MAX_STATIONS_PAGE: i64 = 10_000;

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    /// Most stations in the answer (1 to 10,000, default 10,000).
    limit: Option<i64>,
    /// The code of the last station of the previous page (the `next` of that answer).
    after: Option<String>,
}

/// `GET /api/stations[?limit=&after=]`: the stations by code as a GeoJSON FeatureCollection with their latest
/// reading, at most `limit` (10,000) of them; `next` is the `after` of the following page, `null` on the last.
pub(crate) async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(MAX_STATIONS_PAGE);
    if !(1..=MAX_STATIONS_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!("`limit` must be between 1 and {MAX_STATIONS_PAGE}")));
    }
    let mut stations = store::stations_page(state.pool(), q.after.as_deref(), limit + 1).await?;
    let next = (stations.len() as i64 > limit).then(|| {
        stations.truncate(limit as usize);
        stations.last().map(|s| s.code.clone())
    });
    let latest = store::latest_all(state.pool()).await?;
    let now = Utc::now();
    let features: Vec<Value> =
        stations.iter().map(|s| s.to_feature(live(s, latest.get(&(s.id, s.kind.quantity())), now))).collect();
    Ok(Json(json!({ "type": "FeatureCollection", "features": features, "next": next.flatten() })))
}

/// `GET /api/stations/{code}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let station = store::station(state.pool(), &code).await?;
    let latest = store::latest(state.pool(), station.id, station.kind.quantity()).await?;
    Ok(Json(station.to_feature(live(&station, latest.as_ref(), Utc::now()))))
}

/// `POST /api/stations` (operator): creates a station from a GeoJSON Feature; 409 when the code exists.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(feature): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let input = StationInput::from_feature(&feature)?;
    // The insert decides: of two simultaneous creations of one code, one is created and the other is a conflict.
    let station = store::insert_station(state.pool(), &input).await.map_err(|e| match e {
        e @ sensors::Error::DuplicateStation { .. } => ApiError::Conflict(e.to_string()),
        other => other.into(),
    })?;
    Ok((StatusCode::CREATED, Json(station.to_feature(Map::new()))).into_response())
}

/// `PUT /api/stations/{code}` (operator): creates or replaces the station.
pub(crate) async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(mut feature): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    match feature.pointer("/properties/code").and_then(Value::as_str) {
        Some(c) if c != code => {
            return Err(ApiError::Unprocessable(format!(
                "the body's code `{c}` differs from the path's `{code}`"
            )));
        }
        Some(_) => {}
        None => {
            if let Some(props) = feature.get_mut("properties").and_then(Value::as_object_mut) {
                props.insert("code".into(), json!(code));
            }
        }
    }
    let input = StationInput::from_feature(&feature)?;
    let (station, created) = store::upsert_station(state.pool(), &input).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(station.to_feature(Map::new()))).into_response())
}

/// `DELETE /api/stations/{code}` (operator): deletes the station and its readings.
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Operator)?;
    if store::delete_station(state.pool(), &code).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(sensors::Error::UnknownStation(code).into())
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReadingsQuery {
    quantity: Option<String>,
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
    agg: Option<String>,
    limit: Option<i64>,
}

/// An optional RFC 3339 time parameter, between 1900 and 2200 ([`reading::check_query_time`]).
fn parse_time(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            let t = DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)).map_err(|e| {
                ApiError::BadRequest(format!(
                    "`{name}` must be an RFC 3339 time such as 2026-11-22T10:00:00+01:00: {e}"
                ))
            })?;
            Ok(reading::check_query_time(name, t)?)
        })
        .transpose()
}

/// `GET /api/stations/{code}/readings?quantity=&from=&to=&interval=PT1H&agg=sum|max|min|avg&limit=`
/// Without `interval`: the readings with their QC flags (default: the last 24 hours, at most `limit`, 10,000).
/// With `interval`: time buckets (ISO 8601 duration) combined with `agg` (default sum for rain, avg for level).
pub(crate) async fn readings(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<ReadingsQuery>,
) -> Result<Json<Value>, ApiError> {
    let station = store::station(state.pool(), &code).await?;
    let quantity = match q.quantity.as_deref() {
        None => station.kind.quantity(),
        Some(s) => s.parse::<Quantity>()?,
    };
    let to = parse_time("to", q.to.as_deref())?.unwrap_or_else(|| Utc::now() + Duration::seconds(1));
    let from = parse_time("from", q.from.as_deref())?.unwrap_or(to - Duration::hours(24));
    if from >= to {
        return Err(ApiError::BadRequest("`from` must be before `to`".into()));
    }
    let base = json!({ "station": station.code, "quantity": quantity, "unit": quantity.unit(), "from": from, "to": to });
    let mut body = base.as_object().cloned().unwrap_or_default();
    match q.interval.as_deref() {
        None => {
            let limit = q.limit.unwrap_or(10_000);
            if !(1..=100_000).contains(&limit) {
                return Err(ApiError::BadRequest("`limit` must be between 1 and 100000".into()));
            }
            let rows = reading::readings(state.pool(), station.id, quantity, from, to, limit).await?;
            body.insert("readings".into(), json!(rows));
        }
        Some(interval) => {
            let seconds = reading::parse_duration(interval)?;
            if (to - from).num_seconds() / seconds > 100_000 {
                return Err(ApiError::BadRequest(
                    "more than 100000 buckets: widen `interval` or narrow the range".into(),
                ));
            }
            let agg: Aggregate = match q.agg.as_deref() {
                Some(a) => a.parse()?,
                None if quantity == Quantity::Rain => Aggregate::Sum,
                None => Aggregate::Avg,
            };
            let buckets =
                reading::buckets(state.pool(), station.id, quantity, from, to, seconds, agg).await?;
            body.insert("interval".into(), json!(interval));
            body.insert(
                "agg".into(),
                json!(q.agg.as_deref().unwrap_or(if quantity == Quantity::Rain { "sum" } else { "avg" })),
            );
            body.insert("buckets".into(), json!(buckets));
        }
    }
    Ok(Json(Value::Object(body)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct AtQuery {
    at: Option<String>,
}

/// `GET /api/stations/{code}/windows[?at=]`: rain totals per window, or the level summary.
pub(crate) async fn windows(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<AtQuery>,
) -> Result<Json<Value>, ApiError> {
    let station = store::station(state.pool(), &code).await?;
    let at = parse_time("at", q.at.as_deref())?.unwrap_or_else(Utc::now);
    let mut summary =
        sensors::window::summary_json(state.pool(), station.id, station.kind.quantity(), at).await?;
    if let Some(map) = summary.as_object_mut() {
        map.insert("station".into(), json!(station.code));
        map.insert("thresholds".into(), station.thresholds.to_json());
    }
    Ok(Json(summary))
}

/// `GET /api/stations/{code}/latest`: the latest reading, with the station's state.
pub(crate) async fn latest(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let station = store::station(state.pool(), &code).await?;
    let latest = store::latest(state.pool(), station.id, station.kind.quantity()).await?;
    let mut live = live(&station, latest.as_ref(), Utc::now());
    live.insert("station".into(), json!(station.code));
    Ok(Json(Value::Object(live)))
}
