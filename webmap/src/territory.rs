//! The territory for planners and for routing: comuni and zoning.

use axum::Json;
use axum::extract::{Query, State};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// `GET /api/comuni`: the comuni of the federation.
pub(crate) async fn comuni(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let list = geodata::comune::list(state.pool()).await?;
    Ok(Json(json!({ "comuni": list })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct PointQuery {
    lat: Option<f64>,
    lon: Option<f64>,
    date: Option<String>,
    plan: Option<String>,
}

impl PointQuery {
    /// The point, checked (WGS84 degrees).
    fn point(&self) -> Result<(f64, f64), ApiError> {
        match (self.lon, self.lat) {
            (Some(lon), Some(lat)) if (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat) => {
                Ok((lon, lat))
            }
            (Some(_), Some(_)) => {
                Err(ApiError::BadRequest("`lat` must be within ±90 and `lon` within ±180".into()))
            }
            _ => Err(ApiError::BadRequest("`lat` and `lon` (WGS84 degrees) are required".into())),
        }
    }
}

fn date(value: Option<&str>) -> Result<NaiveDate, ApiError> {
    match value {
        None => Ok(chrono::Utc::now().date_naive()),
        Some(d) => d
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("`date` {d} is not a date such as 2026-11-22"))),
    }
}

/// `GET /api/comuni/at?lat=&lon=`: the comune that contains a point (404 at sea or outside the federation).
pub(crate) async fn comune_at(
    State(state): State<AppState>,
    Query(q): Query<PointQuery>,
) -> Result<Json<Value>, ApiError> {
    let (lon, lat) = q.point()?;
    match geodata::comune::at(state.pool(), lon, lat).await? {
        Some(c) => Ok(Json(json!(c))),
        None => Err(ApiError::NotFound(format!("({lat}, {lon}) is in no comune of the federation"))),
    }
}

/// `GET /api/zoning/at?lat=&lon=&date=&plan=`: the zones in force there on that date (today by default).
pub(crate) async fn zoning_at(
    State(state): State<AppState>,
    Query(q): Query<PointQuery>,
) -> Result<Json<Value>, ApiError> {
    let (lon, lat) = q.point()?;
    let date = date(q.date.as_deref())?;
    let zones = geodata::zoning::at(state.pool(), lon, lat, date, q.plan.as_deref()).await?;
    Ok(Json(json!({ "lat": lat, "lon": lon, "date": date, "zones": zones })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct IntersectQuery {
    date: Option<String>,
    plan: Option<String>,
}

/// `POST /api/zoning/intersect?date=&plan=` with a GeoJSON Polygon (or a Feature of one): every zone in force that
/// the polygon touches, with the overlap in m² and as a share of the polygon.
pub(crate) async fn zoning_intersect(
    State(state): State<AppState>,
    Query(q): Query<IntersectQuery>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let date = date(q.date.as_deref())?;
    let (area, zones) = geodata::zoning::intersect(state.pool(), &body, date, q.plan.as_deref()).await?;
    Ok(Json(json!({ "date": date, "area_m2": area, "zones": zones })))
}
