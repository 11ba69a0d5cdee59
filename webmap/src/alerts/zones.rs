//! Alert zones as GeoJSON, each with its current colour (the `alerts.zone_status` contract view: the colour of the
//! most severe firing hydrological or manual alert of the zone, `verde` when none).

use std::collections::HashMap;

use alerts::zone::Zone;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa::IntoParams;

use super::{page, plausible_code};
use crate::{ApiError, AppState};

/// The current colour of every zone (code → colour).
async fn levels(pool: &PgPool, code: Option<&str>) -> Result<HashMap<String, String>, ApiError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("select code, level from alerts.zone_status where $1::text is null or code = $1")
            .bind(code)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

fn feature(zone: Zone, level: Option<&String>) -> Value {
    json!({
        "type": "Feature",
        "id": zone.code,
        "geometry": zone.geometry,
        "properties": {
            "code": zone.code, "name": zone.name, "comuni": zone.comuni, "source": zone.source,
            "updated_at": zone.updated_at, "level": level.map_or("verde", String::as_str),
        },
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ZonesQuery {
    /// Most zones, 1..1000 (default 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Zones to skip (by code), 0..10000.
    #[param(minimum = 0, maximum = 10000)]
    offset: Option<i64>,
}

/// `GET /api/alerts/zones`: the alert zones by code as a GeoJSON FeatureCollection (EPSG:4326), each with its
/// current colour in `properties.level` and the ISTAT codes of its comuni.
#[utoipa::path(get, path = "/api/alerts/zones", operation_id = "list_alert_zones", tag = "alerts", params(ZonesQuery),
    responses((status = 200, description = "The alert zones", body = super::schema::ZoneCollection)))]
pub(crate) async fn zones(
    State(state): State<AppState>,
    Query(q): Query<ZonesQuery>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = page(q.limit, q.offset, 1000, 1000)?;
    // One more than the page tells whether another follows; only the page's geometries are read.
    let mut zones = alerts::zone::list_page(state.pool(), limit + 1, offset).await?;
    let next = (zones.len() as i64 > limit).then_some(offset + limit);
    zones.truncate(limit as usize);
    let levels = levels(state.pool(), None).await?;
    let features: Vec<Value> = zones
        .into_iter()
        .map(|z| {
            let level = levels.get(&z.code);
            feature(z, level)
        })
        .collect();
    Ok(Json(json!({ "type": "FeatureCollection", "features": features, "next_offset": next })))
}

/// `GET /api/alerts/zones/{code}`: one alert zone as a GeoJSON Feature with its current colour.
#[utoipa::path(get, path = "/api/alerts/zones/{code}", operation_id = "get_alert_zone", tag = "alerts",
    params(("code" = String, Path, description = "Zone code", example = "B")),
    responses((status = 200, description = "The zone", body = super::schema::ZoneFeature)))]
pub(crate) async fn zone(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let not_found = || {
        ApiError::NotFound(format!(
            "no alert zone has the code `{}`",
            code.chars().take(64).collect::<String>().escape_debug()
        ))
    };
    if !plausible_code(&code) {
        return Err(not_found());
    }
    let zone = alerts::zone::get(state.pool(), &code).await?.ok_or_else(not_found)?;
    let levels = levels(state.pool(), Some(&code)).await?;
    Ok(Json(feature(zone, levels.get(&code))))
}
