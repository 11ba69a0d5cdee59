//! The router and the state every handler shares.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{delete, get, post, put};
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::health::Check;
use database::event::Spine;

use crate::{
    ApiError, alerts, auth, cap, dead_letters, error, geocode, health, ogc, open311, openapi, pages, reports,
    security, sta, stations, stream, telemetry, territory, tiles,
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
    spine: Arc<Spine>,
    geocoder: geodata::geocoder::Geocoder,
    /// The URL clients reach Vedetta at, without a trailing slash (links in STA, OGC and HTML are built on it).
    public_url: String,
    /// The OGC API collections, their extents cached until the data changes.
    catalog: Arc<geodata::features::Catalog>,
    /// The CAP publisher (sender, identifiers, signing); `None`: the default one built on `public_url`.
    cap: Option<Arc<::alerts::cap::Cap>>,
    /// The reports API's options (photos directory, limits, links).
    reports: Arc<crate::reports::ReportsOptions>,
    /// The vector tile service; `None`: `/tiles/…` answers 503 (a process without the tile pool).
    tiles: Option<Arc<::tiles::Tiles>>,
}

impl AppState {
    /// State over `pool`; `/healthz` always checks the database, plus `checks`. It follows the live-event spine
    /// with a [`Spine`] of its own unless [`AppState::with_spine`] shares the process's one.
    pub fn new(pool: PgPool, checks: Vec<Check>, prometheus: Option<PrometheusHandle>) -> Self {
        let mut all = vec![Check::Database(pool.clone())];
        all.extend(checks);
        let geocoder = geodata::geocoder::Geocoder::new(pool.clone());
        AppState {
            inner: Arc::new(Inner {
                pool: pool.clone(),
                checks: all,
                prometheus,
                spine: Spine::start(pool.clone(), None),
                geocoder,
                public_url: "http://localhost:8080".into(),
                catalog: Arc::new(geodata::features::Catalog::new()),
                cap: None,
                reports: Arc::new(crate::reports::ReportsOptions::default()),
                tiles: None,
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

    /// Sets the CAP publisher (`alerts.cap` of the configuration); call before the state is shared. Without it,
    /// CAP messages are unsigned, from `vedetta@<public host>`.
    pub fn with_cap(mut self, cap: ::alerts::cap::Cap) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.cap = Some(Arc::new(cap));
        }
        self
    }

    /// Sets the reports API's options; call before the state is shared.
    pub fn with_reports(mut self, options: crate::reports::ReportsOptions) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.reports = Arc::new(options);
        }
        self
    }

    /// Sets the vector tile service (`/tiles/…`); call before the state is shared.
    pub fn with_tiles(mut self, tiles: Arc<::tiles::Tiles>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.tiles = Some(tiles);
        }
        self
    }

    /// The vector tile service, if this process serves tiles.
    pub fn tiles(&self) -> Option<&Arc<::tiles::Tiles>> {
        self.inner.tiles.as_ref()
    }

    /// The reports API's options.
    pub(crate) fn reports(&self) -> &crate::reports::ReportsOptions {
        &self.inner.reports
    }

    /// The configured CAP publisher, if any.
    pub(crate) fn cap(&self) -> Option<&Arc<::alerts::cap::Cap>> {
        self.inner.cap.as_ref()
    }

    /// The OGC API catalog of collections.
    pub fn catalog(&self) -> &Arc<geodata::features::Catalog> {
        &self.inner.catalog
    }

    /// The URL clients reach Vedetta at, without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// The address geocoder (ANNCSU).
    pub fn geocoder(&self) -> &geodata::geocoder::Geocoder {
        &self.inner.geocoder
    }

    /// The live-event spine.
    pub fn spine(&self) -> &Arc<Spine> {
        &self.inner.spine
    }

    /// Shares the process's spine; call before the state is shared.
    pub fn with_spine(mut self, spine: Arc<Spine>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.spine = spine;
        }
        self
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

/// Most bytes a request body may have (the photo upload of citizen reports will raise it for its own route).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Longest a request may take; statements are cancelled earlier by the pool's `statement_timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole HTTP face of Vedetta.
///
/// Layers, outermost first: trace span → request metrics (timeouts and panics counted too) → security headers →
/// problem+json for every error → panic catcher → timeout → CORS for the public read APIs → body limit → routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(telemetry::metrics))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/auth/whoami", get(auth::whoami))
        .route("/api/stations", get(stations::list).post(stations::create))
        .route("/api/stations/{code}", get(stations::get).put(stations::put).delete(stations::delete))
        .route("/api/stations/{code}/readings", get(stations::readings))
        .route("/api/stations/{code}/windows", get(stations::windows))
        .route("/api/stations/{code}/latest", get(stations::latest))
        .route("/api/readings/stream", get(stream::readings))
        .route("/api/ingest/dead-letters", get(dead_letters::list))
        .route("/api/alerts", get(alerts::list))
        .route("/api/alerts/stream", get(alerts::stream))
        .route("/api/alerts/manual", post(alerts::manual))
        .route("/api/alerts/silences", get(alerts::list_silences).post(alerts::create_silence))
        .route("/api/alerts/silences/{id}", delete(alerts::lift_silence))
        .route("/api/alerts/rules", get(alerts::list_rules))
        .route("/api/alerts/rules/check", post(alerts::check_rules))
        .route("/api/alerts/rules/{code}", put(alerts::put_rule).delete(alerts::delete_rule))
        .route("/api/alerts/webhooks", get(alerts::list_webhooks).post(alerts::create_webhook))
        .route("/api/alerts/webhooks/deliveries", get(alerts::list_deliveries))
        .route("/api/alerts/webhooks/deliveries/{id}/retry", post(alerts::retry_delivery))
        .route("/api/alerts/webhooks/{id}", delete(alerts::delete_webhook))
        .route("/api/alerts/zones", get(alerts::zones))
        .route("/api/alerts/zones/{code}", get(alerts::zone))
        .route("/api/alerts/{id}", get(alerts::get))
        .route("/api/alerts/{id}/acknowledge", post(alerts::acknowledge))
        .route("/cap/alerts.atom", get(cap::feed))
        .route("/cap/alerts/{file}", get(cap::message))
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
        .merge(pages::routes())
        .merge(tiles::routes())
        .merge(auth::routes())
        .merge(open311::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        // Below the general limit: the reports' routes set their own (1 MiB, and the photos of a filing).
        .merge(reports::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(security::cors())
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("a handler panicked".into()).into_response_owned()
        }))
        .layer(middleware::from_fn(error::problem_layer))
        .layer(middleware::from_fn(security::headers))
        .layer(middleware::from_fn(telemetry::track_http))
        .layer(TraceLayer::new_for_http())
}

/// Only `/healthz` and `/metrics`: the HTTP face of a `vedetta ingest` worker.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(telemetry::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(middleware::from_fn(error::problem_layer))
        .layer(middleware::from_fn(telemetry::track_http))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no resource at {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> axum::response::Response {
    let detail = format!("{method} is not allowed on {} (the Allow header lists what is)", uri.path());
    error::Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", detail)
        .into_response_with(StatusCode::METHOD_NOT_ALLOWED)
}

impl ApiError {
    fn into_response_owned(self) -> axum::response::Response {
        axum::response::IntoResponse::into_response(self)
    }
}
