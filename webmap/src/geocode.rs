//! `GET /api/geocode` and `GET /api/reverse`: addresses from ANNCSU.

use axum::Json;
use axum::extract::{Query, State};
use geodata::geocoder::GeocodeQuery;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// `GET /api/geocode?q=&comune=&limit=`: ranked candidates for what a person typed (autocomplete).
pub(crate) async fn geocode(
    State(state): State<AppState>,
    Query(q): Query<GeocodeQuery>,
) -> Result<Json<Value>, ApiError> {
    if q.q.trim().is_empty() {
        return Err(ApiError::BadRequest("`q` is empty: write part of an address, e.g. `via garib`".into()));
    }
    if q.limit.is_some_and(|l| l == 0 || l > 50) {
        return Err(ApiError::BadRequest("`limit` must be between 1 and 50".into()));
    }
    let candidates = state.geocoder().search(&q).await?;
    Ok(Json(json!({ "query": q.q, "candidates": candidates })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReverseQuery {
    lat: Option<f64>,
    lon: Option<f64>,
    radius: Option<f64>,
}

/// `GET /api/reverse?lat=&lon=&radius=`: the nearest civico and street within `radius` metres (default 100).
pub(crate) async fn reverse(
    State(state): State<AppState>,
    Query(q): Query<ReverseQuery>,
) -> Result<Json<Value>, ApiError> {
    let (Some(lat), Some(lon)) = (q.lat, q.lon) else {
        return Err(ApiError::BadRequest("`lat` and `lon` (WGS84 degrees) are required".into()));
    };
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(ApiError::BadRequest("`lat` must be within ±90 and `lon` within ±180".into()));
    }
    let radius = q.radius.unwrap_or(100.0);
    if !(radius > 0.0 && radius <= 5000.0) {
        return Err(ApiError::BadRequest("`radius` must be between 0 and 5000 metres".into()));
    }
    match state.geocoder().reverse(lon, lat, radius).await? {
        Some(hit) => Ok(Json(json!(hit))),
        None => Err(ApiError::NotFound(format!("no address within {radius} m of ({lat}, {lon})"))),
    }
}
