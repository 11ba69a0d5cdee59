//! Vector tiles over HTTP: `/tiles/{layers}/{z}/{x}/{y}.mvt`, TileJSON, the MapLibre style.
//!
//! The router cannot match a suffix inside a path segment, so the routes are written with the whole segment
//! (`{file}` = `{y}.mvt` or `{layers}.json`) and the handlers read it; the API document shows them so.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use utoipa::OpenApi;

use ::tiles::{Encoding, LayerSet, TileRequest};

use crate::{ApiError, AppState};

/// The media type of Mapbox Vector Tiles.
const MVT: &str = "application/vnd.mapbox-vector-tile";

/// Tiles larger than this are compressed off the async threads.
const COMPRESS_INLINE_MAX: usize = 64 * 1024;

/// The routes of this module (merged into the router by `app::router`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tiles/style.json", get(style))
        .route("/tiles/{file}", get(tilejson))
        .route("/tiles/{layers}/{z}/{x}/{file}", get(tile))
}

/// The operations of this module (merged into `/api/openapi.json`).
#[derive(OpenApi)]
#[openapi(
    paths(style, tilejson, tile),
    tags((name = "tiles", description = "Vector tiles (Mapbox Vector Tile 2.1) of every map layer, straight from \
        PostGIS and cached compressed; live layers (stations, reports, alert_zones) are dropped from the cache \
        tile by tile as readings, reports and alerts change. TileJSON 3.0 and a MapLibre style."))
)]
pub(crate) struct Api;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DateQuery {
    /// Zoning in force on this date, `YYYY-MM-DD` (default today); the other layers do not read it.
    #[param(example = "2024-01-31", pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    date: Option<String>,
}

/// `GET /tiles/style.json`: the MapLibre style of every layer (one vector source per layer, no glyphs or sprites
/// outside Vedetta, Italian titles in each layer's metadata).
#[utoipa::path(get, path = "/tiles/style.json", operation_id = "tiles_style", tag = "tiles",
    responses((status = 200, description = "The MapLibre style (version 8)", content_type = "application/json",
        body = Object)))]
pub(crate) async fn style(State(state): State<AppState>) -> Response {
    let style = ::tiles::style(state.public_url());
    let mut response = axum::Json(style).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// `GET /tiles/{layers}.json`: the TileJSON 3.0 of one layer or several comma-separated (`stations,reports.json`):
/// tile URL on the public URL, zoom range, the layers' fields.
#[utoipa::path(get, path = "/tiles/{file}", operation_id = "tiles_tilejson", tag = "tiles",
    params(("file" = String, Path, description = "`{layers}.json`: comma-separated layers among comuni, \
        alert_zones, stations, reports, dbt, zoning, civici, streets", example = "stations.json",
        pattern = r"^(comuni|alert_zones|stations|reports|dbt|zoning|civici|streets)(,(comuni|alert_zones|stations|reports|dbt|zoning|civici|streets))*\.json$"), DateQuery),
    responses((status = 200, description = "TileJSON 3.0", content_type = "application/json", body = Object)))]
pub(crate) async fn tilejson(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<DateQuery>,
) -> Result<Response, ApiError> {
    let list = file.strip_suffix(".json").ok_or_else(|| {
        ApiError::NotFound(format!(
            "no resource at /tiles/{file}: a TileJSON is at /tiles/{{layers}}.json, a tile at \
             /tiles/{{layers}}/{{z}}/{{x}}/{{y}}.mvt"
        ))
    })?;
    let layers = LayerSet::parse(list)?;
    let date = q.date.as_deref().map(::tiles::parse_date).transpose()?;
    let doc = ::tiles::tilejson(layers, state.public_url(), date);
    let mut response = axum::Json(doc).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(response)
}

/// `GET /tiles/{layers}/{z}/{x}/{y}.mvt`: one tile of one layer or several comma-separated, as Mapbox Vector Tile
/// (an empty body where there is nothing). Compressed as `Accept-Encoding` allows (brotli, gzip); `ETag` and
/// `If-None-Match` (304); `Cache-Control: no-cache` (revalidate on every use) when a live layer is in it, an hour
/// otherwise.
#[utoipa::path(get, path = "/tiles/{layers}/{z}/{x}/{file}", operation_id = "tiles_tile", tag = "tiles",
    params(
        ("layers" = String, Path, description = "Comma-separated layers among comuni, alert_zones, stations, \
            reports, dbt, zoning, civici, streets", example = "stations,reports",
            pattern = r"^(comuni|alert_zones|stations|reports|dbt|zoning|civici|streets)(,(comuni|alert_zones|stations|reports|dbt|zoning|civici|streets))*$"),
        ("z" = String, Path, description = "Zoom, 0–24", example = "14", pattern = r"^[0-9]{1,2}$"),
        ("x" = String, Path, description = "Column, 0 … 2^z − 1", example = "8598", pattern = r"^[0-9]{1,8}$"),
        ("file" = String, Path, description = "`{y}.mvt`: the row, 0 … 2^z − 1", example = "5931.mvt",
            pattern = r"^[0-9]{1,8}\.mvt$"),
        DateQuery,
        ("If-None-Match" = Option<String>, Header, description = "ETag of a copy the client holds"),
        ("Accept-Encoding" = Option<String>, Header, description = "br and gzip are offered"),
    ),
    responses(
        (status = 200, description = "The tile (Mapbox Vector Tile; empty where there is nothing)",
            content(("application/vnd.mapbox-vector-tile"))),
        (status = 304, description = "The client's copy (If-None-Match) is current"),
    ))]
pub(crate) async fn tile(
    State(state): State<AppState>,
    Path((layers, z, x, file)): Path<(String, String, String, String)>,
    Query(q): Query<DateQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let request = TileRequest::parse(&layers, &z, &x, &file, q.date.as_deref())?;
    let service = state
        .tiles()
        .ok_or_else(|| ApiError::Unavailable("this Vedetta process does not serve tiles".into()))?;
    let tile = service.tile(&request).await?;

    let cache_control = match request.layers.max_age().as_secs() {
        0 => "public, no-cache".to_string(),
        secs => format!("public, max-age={secs}"),
    };
    let mut response = if matches(headers.get(header::IF_NONE_MATCH), tile.etag()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let accept = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
        let encoding = if tile.is_empty() { Encoding::Identity } else { Encoding::negotiate(accept) };
        let body = if tile.has_encoded(encoding) || tile.raw().len() <= COMPRESS_INLINE_MAX {
            tile.encoded(encoding)
        } else {
            let tile = Arc::clone(&tile);
            tokio::task::spawn_blocking(move || tile.encoded(encoding))
                .await
                .map_err(|e| ApiError::Internal(format!("compressing a tile: {e}")))?
        };
        let mut response = body.into_response();
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
        if let Some(coding) = encoding.header() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
        }
        response
    };
    let h = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(tile.etag()) {
        h.insert(header::ETAG, etag);
    }
    if let Ok(value) = HeaderValue::from_str(&cache_control) {
        h.insert(header::CACHE_CONTROL, value);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    Ok(response)
}

/// Whether an `If-None-Match` header names `etag` (weak comparison, `*` matches any).
fn matches(header: Option<&HeaderValue>, etag: &str) -> bool {
    let Some(list) = header.and_then(|v| v.to_str().ok()) else { return false };
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    list.split(',').any(|t| t.trim() == "*" || opaque(t) == opaque(etag))
}

impl From<::tiles::Error> for ApiError {
    fn from(e: ::tiles::Error) -> Self {
        use ::tiles::Error as E;
        match e {
            E::UnknownLayer { .. } => ApiError::NotFound(e.to_string()),
            E::Timeout { .. } | E::Unavailable { .. } => {
                tracing::warn!(error = %e, "A tile could not be made in time.");
                ApiError::Unavailable(format!("{e}; retry later"))
            }
            e if e.is_client_error() => ApiError::BadRequest(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use serde_json::Value;
    use testkit::TestDb;
    use tower::ServiceExt;

    use super::*;
    use crate::router;

    #[test]
    fn if_none_match_compares_weakly() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert!(matches(Some(&h("W/\"abc\"")), "W/\"abc\""));
        assert!(matches(Some(&h("\"abc\"")), "W/\"abc\""));
        assert!(matches(Some(&h("\"x\", W/\"abc\"")), "W/\"abc\""));
        assert!(matches(Some(&h("*")), "W/\"abc\""));
        assert!(!matches(Some(&h("W/\"abd\"")), "W/\"abc\""));
        assert!(!matches(None, "W/\"abc\""));
    }

    /// A state with the tile service on a fresh database holding one station.
    async fn state() -> (TestDb, AppState) {
        let db = TestDb::new().await;
        let pool = db.pool().await;
        sqlx::query(
            "insert into sensors.station (code, name, kind, geom)
             values ('GE-1', 'Genova', 'hydrometer', st_setsrid(st_makepoint(8.9339, 44.4073), 4326))",
        )
        .execute(&pool)
        .await
        .unwrap();
        let options = ::tiles::TilesOptions { pool_size: 2, ..Default::default() };
        let tiles = ::tiles::Tiles::connect(&db.url, options).await.unwrap();
        let state = AppState::new(pool, vec![], None)
            .with_public_url("https://mappe.example.it/")
            .with_tiles(Arc::new(tiles));
        (db, state)
    }

    async fn call(state: &AppState, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::builder().uri(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = router(state.clone()).oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
    }

    /// Piazza De Ferrari's zoom-14 tile.
    const TILE: &str = "/tiles/stations/14/8598/5931.mvt";

    #[tokio::test]
    async fn tiles_are_compressed_as_accepted_tagged_and_revalidated() {
        let (_db, state) = state().await;
        let (status, h, plain) = call(&state, TILE, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(h[header::CONTENT_TYPE], MVT);
        assert!(h.get(header::CONTENT_ENCODING).is_none());
        assert_eq!(h[header::CACHE_CONTROL], "public, no-cache");
        assert_eq!(h[header::VARY], "Accept-Encoding");
        assert!(String::from_utf8_lossy(&plain).contains("GE-1"), "the station is in the tile");
        let etag = h[header::ETAG].to_str().unwrap().to_string();

        let (status, h, br) = call(&state, TILE, &[("accept-encoding", "gzip, deflate, br")]).await;
        assert_eq!((status, &h[header::CONTENT_ENCODING]), (StatusCode::OK, &HeaderValue::from_static("br")));
        assert_eq!(h[header::ETAG], etag.as_str(), "one tag for every encoding");
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut back).unwrap();
        assert_eq!(back, plain);

        let (_, h, gz) = call(&state, TILE, &[("accept-encoding", "gzip")]).await;
        assert_eq!(h[header::CONTENT_ENCODING], "gzip");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, plain);

        let (status, h, body) = call(&state, TILE, &[("if-none-match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        assert_eq!(h[header::ETAG], etag.as_str());
        let (status, _, _) = call(&state, TILE, &[("if-none-match", "W/\"0000\"")]).await;
        assert_eq!(status, StatusCode::OK);

        // Static layers are kept an hour; an empty tile is an empty body.
        let (status, h, body) = call(&state, "/tiles/comuni/3/0/0.mvt", &[("accept-encoding", "br")]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(h[header::CACHE_CONTROL], "public, max-age=3600");
        assert!(body.is_empty() && h.get(header::CONTENT_ENCODING).is_none());
        // Several layers: the shortest max-age (a live one: revalidated on every use).
        let (_, h, _) = call(&state, "/tiles/comuni,stations/14/8598/5931.mvt", &[]).await;
        assert_eq!(h[header::CACHE_CONTROL], "public, no-cache");
    }

    #[tokio::test]
    async fn wrong_addresses_are_problems_and_metadata_is_on_the_public_url() {
        let (_db, state) = state().await;
        let cases = [
            ("/tiles/roads/1/0/0.mvt", StatusCode::NOT_FOUND, "no layer `roads`"),
            ("/tiles/stations,roads.json", StatusCode::NOT_FOUND, "no layer `roads`"),
            ("/tiles/stations/25/0/0.mvt", StatusCode::BAD_REQUEST, "does not exist"),
            ("/tiles/stations/2/4/0.mvt", StatusCode::BAD_REQUEST, "does not exist"),
            ("/tiles/stations/2/0/0.png", StatusCode::BAD_REQUEST, "not a tile address"),
            ("/tiles/stations/x/0/0.mvt", StatusCode::BAD_REQUEST, "not a tile address"),
            ("/tiles/stations,,reports/1/0/0.mvt", StatusCode::BAD_REQUEST, "single commas"),
            ("/tiles/zoning/1/0/0.mvt?date=2020-13-01", StatusCode::BAD_REQUEST, "YYYY-MM-DD"),
            ("/tiles/stations", StatusCode::NOT_FOUND, "/tiles/{layers}.json"),
        ];
        for (uri, status, phrase) in cases {
            let (got, h, body) = call(&state, uri, &[]).await;
            assert_eq!(got, status, "{uri}");
            assert_eq!(h[header::CONTENT_TYPE], crate::PROBLEM_JSON, "{uri}");
            let problem: Value = serde_json::from_slice(&body).unwrap();
            assert!(problem["detail"].as_str().unwrap().contains(phrase), "{uri}: {problem}");
        }

        let (status, _, body) = call(&state, "/tiles/stations,reports.json", &[]).await;
        assert_eq!(status, StatusCode::OK);
        let doc: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["tiles"][0], "https://mappe.example.it/tiles/reports,stations/{z}/{x}/{y}.mvt");
        assert_eq!(doc["vector_layers"].as_array().unwrap().len(), 2);
        let (status, _, body) = call(&state, "/tiles/style.json", &[]).await;
        assert_eq!(status, StatusCode::OK);
        let style: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            style["sources"]["stations"]["tiles"][0],
            "https://mappe.example.it/tiles/stations/{z}/{x}/{y}.mvt"
        );

        // A process without the tile pool says so.
        let bare = AppState::new(state.pool().clone(), vec![], None);
        let (status, _, _) = call(&bare, TILE, &[]).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
}
