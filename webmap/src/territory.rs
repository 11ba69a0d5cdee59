//! The territory for planners and for routing: comuni and zoning.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// Most bytes a parcel may have: 10,000 positions written out in full take about 400 KB.
pub(crate) const MAX_PARCEL_BYTES: usize = 512 * 1024;

/// `GET /api/comuni`: the comuni of the federation.
#[utoipa::path(get, path = "/api/comuni", tag = "territory",
    responses((status = 200, description = "The comuni", body = crate::schema::ComuneList)))]
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
            .map_err(|_| ApiError::BadRequest(format!("`date` {d:?} is not a date such as 2026-11-22"))),
    }
}

/// `GET /api/comuni/at?lat=&lon=`: the comune that contains a point (404 at sea or outside the federation).
#[utoipa::path(get, path = "/api/comuni/at", tag = "territory",
    params(("lat" = f64, Query, description = "Latitude, WGS84 degrees", minimum = -90, maximum = 90, example = 44.4073),
           ("lon" = f64, Query, description = "Longitude, WGS84 degrees", minimum = -180, maximum = 180, example = 8.9339)),
    responses((status = 200, description = "The comune containing the point", body = crate::schema::Comune)))]
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
#[utoipa::path(get, path = "/api/zoning/at", tag = "territory",
    params(("lat" = f64, Query, description = "Latitude, WGS84 degrees", minimum = -90, maximum = 90, example = 44.4073),
           ("lon" = f64, Query, description = "Longitude, WGS84 degrees", minimum = -180, maximum = 180, example = 8.9339),
           ("date" = Option<String>, Query, description = "YYYY-MM-DD (default: today)"),
           ("plan" = Option<String>, Query, description = "Only this plan")),
    responses((status = 200, description = "The zones in force", body = crate::schema::ZonesAt)))]
pub(crate) async fn zoning_at(
    State(state): State<AppState>,
    Query(q): Query<PointQuery>,
) -> Result<Json<Value>, ApiError> {
    let (lon, lat) = q.point()?;
    let date = date(q.date.as_deref())?;
    let zones =
        geodata::zoning::at(state.pool(), lon, lat, date, q.plan.as_deref()).await.map_err(ApiError::from)?;
    Ok(Json(json!({ "lat": lat, "lon": lon, "date": date, "zones": zones })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct IntersectQuery {
    date: Option<String>,
    plan: Option<String>,
}

/// Whether a body's media type is JSON (`application/json`, `application/geo+json`, any `+json`); a body without
/// one is read as JSON too.
fn json_media_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return true };
    let Ok(value) = value.to_str() else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// `POST /api/zoning/intersect?date=&plan=` with a GeoJSON Polygon or MultiPolygon (or a Feature of one): every
/// zone in force that the polygon touches, with the overlap in m² and as a share of the polygon.
///
/// The polygon is checked before the database sees it (closed rings, WGS84 range, no self-intersection, at most
/// 10,000 vertices and 10,000 km²): an unusable one is a 422 with the reason, and the query may run 5 s.
#[utoipa::path(post, path = "/api/zoning/intersect", tag = "territory",
    params(("date" = Option<String>, Query, description = "YYYY-MM-DD (default: today)"),
           ("plan" = Option<String>, Query, description = "Only this plan")),
    request_body(content = crate::schema::ParcelPolygon, content_type = "application/json"),
    responses((status = 200, description = "The zones the parcel overlaps", body = crate::schema::ZonesOverlap)))]
pub(crate) async fn zoning_intersect(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<IntersectQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    if body.len() > MAX_PARCEL_BYTES {
        return Err(ApiError::TooLarge(format!(
            "the polygon takes {} bytes; a parcel may take {MAX_PARCEL_BYTES}",
            body.len()
        )));
    }
    if !json_media_type(&headers) {
        return Err(ApiError::BadRequest(
            "send the polygon as GeoJSON (Content-Type application/json or application/geo+json)".into(),
        ));
    }
    let geometry: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?;
    let date = date(q.date.as_deref())?;
    let (area, zones) = geodata::zoning::intersect(state.pool(), &geometry, date, q.plan.as_deref())
        .await
        .map_err(ApiError::from)?;
    Ok(Json(json!({ "date": date, "area_m2": area, "zones": zones })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_are_recognised_by_their_media_type() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            json_media_type(&h)
        };
        assert!(json_media_type(&HeaderMap::new()));
        assert!(
            with("application/json; charset=utf-8")
                && with("application/geo+json")
                && with("Application/JSON")
        );
        assert!(!with("text/plain") && !with("application/x-www-form-urlencoded"));
    }

    #[test]
    fn each_territorial_fault_has_its_status() {
        use axum::http::StatusCode;
        let status = |e: geodata::Error| ApiError::from(e).status();
        assert_eq!(
            status(geodata::Error::InvalidInput { field: "plan".into(), reason: "NUL".into() }),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(geodata::Error::InvalidGeometry { reason: "crosses".into(), at: Some((8.9, 44.4)) }),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status(geodata::Error::TooLarge { what: "20000 vertices".into(), limit: "10000".into() }),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status(geodata::Error::Timeout { after: std::time::Duration::from_secs(5) }),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
