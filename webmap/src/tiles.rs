//! Vector tiles over HTTP: `/tiles/{layers}/{z}/{x}/{y}.mvt`, TileJSON, the MapLibre style.

use axum::Router;
use utoipa::OpenApi;

use crate::AppState;

/// The routes of this module (merged into the router by `app::router`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

/// The operations of this module (merged into `/api/openapi.json`).
#[derive(OpenApi)]
#[openapi()]
pub(crate) struct Api;
