//! The web app's pages.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use crate::AppState;

/// The web app's pages and assets (not part of the API document).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/vedetta.css", get(stylesheet))
        .route("/assets/index.js", get(script))
}

/// `GET /`: the home page (Italian first).
pub(crate) async fn index() -> Html<&'static str> {
    Html(include_str!("../assets/index.html"))
}

/// `GET /assets/vedetta.css`.
pub(crate) async fn stylesheet() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../assets/vedetta.css"))
}

/// `GET /assets/index.js`: the home page's script (no inline scripts: the Content-Security-Policy forbids them).
pub(crate) async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../assets/index.js"))
}
