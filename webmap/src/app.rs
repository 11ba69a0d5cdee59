//! The router and the state every handler shares.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::health::Check;
use sensors::event::{EventLog, ReadingsCommitted};

use crate::{
    ApiError, auth, dead_letters, geocode, health, ogc, pages, sta, stations, stream, telemetry, territory,
};

/// What handlers share: the pool, the health checks, the metrics handle.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    checks: Vec<Check>,
    prometheus: Option<PrometheusHandle>,
    events: Arc<EventLog<ReadingsCommitted>>,
    geocoder: geodata::geocoder::Geocoder,
    /// The URL clients reach Vedetta at, without a trailing slash (links in STA, OGC and HTML are built on it).
    public_url: String,
}

impl AppState {
    /// State over `pool`; `/healthz` always checks the database, plus `checks`.
    pub fn new(
        pool: PgPool,
        checks: Vec<Check>,
        prometheus: Option<PrometheusHandle>,
        events: Arc<EventLog<ReadingsCommitted>>,
    ) -> Self {
        let mut all = vec![Check::Database(pool.clone())];
        all.extend(checks);
        let geocoder = geodata::geocoder::Geocoder::new(pool.clone());
        AppState {
            inner: Arc::new(Inner {
                pool,
                checks: all,
                prometheus,
                events,
                geocoder,
                public_url: "http://localhost:8080".into(),
            }),
        }
    }

    /// Sets the public URL (`http.public_url`) that links are built on; call before the state is shared.
    pub fn with_public_url(mut self, url: &str) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.public_url = url.trim_end_matches('/').to_string();
        }
        self
    }

    /// The URL clients reach Vedetta at, without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// The address geocoder (ANNCSU).
    pub fn geocoder(&self) -> &geodata::geocoder::Geocoder {
        &self.inner.geocoder
    }

    /// The "readings committed" events.
    pub fn events(&self) -> &Arc<EventLog<ReadingsCommitted>> {
        &self.inner.events
    }

    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    pub(crate) fn checks(&self) -> &[Check] {
        &self.inner.checks
    }

    pub(crate) fn prometheus(&self) -> Option<&PrometheusHandle> {
        self.inner.prometheus.as_ref()
    }
}

/// The whole HTTP face of Vedetta.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/assets/vedetta.css", get(pages::stylesheet))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(telemetry::metrics))
        .route("/api/auth/whoami", get(auth::whoami))
        .route("/api/stations", get(stations::list).post(stations::create))
        .route("/api/stations/{code}", get(stations::get).put(stations::put).delete(stations::delete))
        .route("/api/stations/{code}/readings", get(stations::readings))
        .route("/api/stations/{code}/windows", get(stations::windows))
        .route("/api/stations/{code}/latest", get(stations::latest))
        .route("/api/readings/stream", get(stream::readings))
        .route("/api/ingest/dead-letters", get(dead_letters::list))
        .route("/api/geocode", get(geocode::geocode))
        .route("/api/reverse", get(geocode::reverse))
        .route("/api/comuni", get(territory::comuni))
        .route("/api/comuni/at", get(territory::comune_at))
        .route("/api/zoning/at", get(territory::zoning_at))
        .route("/api/zoning/intersect", axum::routing::post(territory::zoning_intersect))
        .route("/ogc", get(ogc::landing))
        .route("/ogc/", get(ogc::landing))
        .route("/ogc/api", get(ogc::api))
        .route("/ogc/conformance", get(ogc::conformance))
        .route("/ogc/collections", get(ogc::collections))
        .route("/ogc/collections/{id}", get(ogc::collection))
        .route("/ogc/collections/{id}/items", get(ogc::items))
        .route("/ogc/collections/{id}/items/{fid}", get(ogc::item))
        .route("/sta/v1.1", get(sta::landing))
        .route("/sta/v1.1/", get(sta::landing))
        .route("/sta/v1.1/{*path}", get(sta::resource))
        .fallback(not_found)
        .with_state(state)
        .layer(middleware::from_fn(telemetry::track_http))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("a handler panicked".into()).into_response_owned()
        }))
        .layer(TraceLayer::new_for_http())
}

/// Only `/healthz` and `/metrics`: the HTTP face of a `vedetta ingest` worker.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(telemetry::metrics))
        .fallback(not_found)
        .with_state(state)
        .layer(middleware::from_fn(telemetry::track_http))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no resource at {}", uri.path()))
}

impl ApiError {
    fn into_response_owned(self) -> axum::response::Response {
        axum::response::IntoResponse::into_response(self)
    }
}
