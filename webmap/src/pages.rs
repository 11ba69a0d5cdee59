//! The web app's pages.

use axum::http::header;
use axum::response::{Html, IntoResponse};

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
