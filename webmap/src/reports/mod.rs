//! Citizen reports over HTTP: `/api/reports…`, categories, transparency statistics, open data.

use axum::Router;
use utoipa::OpenApi;

use crate::AppState;

/// How the reports API runs (from the `[reports]` configuration); set with `AppState::with_reports`.
#[derive(Debug, Clone, Default)]
pub struct ReportsOptions {}

/// The routes of this module (merged into the router by `app::router`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

/// The operations of this module (merged into `/api/openapi.json`).
#[derive(OpenApi)]
#[openapi()]
pub(crate) struct Api;
