//! The web app: its pages and their assets, all embedded in the binary at build time (the pages' own HTML, JS and
//! CSS from `assets/`, MapLibre GL JS from `assets/vendor/` through `build.rs`), so Vedetta needs no CDN and no
//! asset directory at run time: one binary works on an intranet. Scripts and styles are files, never inline (the
//! Content-Security-Policy forbids inline ones). Assets are revalidated (`no-cache`) with a strong ETag.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState};

mod vendor {
    include!(concat!(env!("OUT_DIR"), "/vendor.rs"));
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every asset under `/assets/`: (path after `/assets/`, content type, bytes).
const ASSETS: [(&str, &str, &[u8]); 13] = [
    ("vedetta.css", CSS, include_bytes!("../assets/vedetta.css")),
    ("common.js", JS, include_bytes!("../assets/common.js")),
    ("mapview.js", JS, include_bytes!("../assets/mapview.js")),
    ("chart.js", JS, include_bytes!("../assets/chart.js")),
    ("index.js", JS, include_bytes!("../assets/index.js")),
    ("dashboard.js", JS, include_bytes!("../assets/dashboard.js")),
    ("segnala.js", JS, include_bytes!("../assets/segnala.js")),
    ("report.js", JS, include_bytes!("../assets/report.js")),
    ("planner.js", JS, include_bytes!("../assets/planner.js")),
    ("stats.js", JS, include_bytes!("../assets/stats.js")),
    ("vendor/maplibre-gl.mjs", JS, vendor::MAPLIBRE_JS),
    ("vendor/maplibre-gl-worker.mjs", JS, vendor::MAPLIBRE_WORKER),
    ("vendor/maplibre-gl.css", CSS, vendor::MAPLIBRE_CSS),
];

/// The strong ETag of each asset, in the order of [`ASSETS`] (hashed once, on first use).
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|(_, _, bytes)| {
            let digest = Sha256::digest(bytes);
            HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..12])))
                .unwrap_or(HeaderValue::from_static("\"0\""))
        })
        .collect()
});

/// The web app's pages and assets (not part of the API document).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| page(INDEX)))
        .route("/protezione-civile", get(|| page(DASHBOARD)))
        .route("/segnala", get(|| page(SEGNALA)))
        .route("/segnalazioni/{id}", get(report_page))
        .route("/pianificazione", get(|| page(PLANNER)))
        .route("/trasparenza", get(|| page(STATS)))
        .route("/assets/{*path}", get(asset))
}

const INDEX: &str = include_str!("../assets/index.html");
const DASHBOARD: &str = include_str!("../assets/protezione-civile.html");
const SEGNALA: &str = include_str!("../assets/segnala.html");
const REPORT: &str = include_str!("../assets/segnalazione.html");
const PLANNER: &str = include_str!("../assets/pianificazione.html");
const STATS: &str = include_str!("../assets/trasparenza.html");

/// A page: HTML that its script fills from the API (not cached: a new build's page names its new assets).
async fn page(html: &'static str) -> Response {
    ([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response()
}

/// `GET /segnalazioni/{id}`: a report's public page (with `?token=` the reporter's tracking view); the id must be
/// a report number (the script reads the report from the API, and says so when there is none).
async fn report_page(Path(id): Path<String>) -> Result<Response, ApiError> {
    match id.parse::<u64>() {
        Ok(n) if n > 0 => Ok(page(REPORT).await),
        _ => Err(ApiError::NotFound(format!("no report {id}: a report's page is /segnalazioni/<number>"))),
    }
}

/// `GET /assets/{path}`: one embedded asset, 304 when the client's copy is current.
async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(index) = ASSETS.iter().position(|(name, _, _)| *name == path) else {
        return Err(ApiError::NotFound(format!("no asset {path}")));
    };
    let (_, content_type, bytes) = ASSETS[index];
    let etag = ETAGS[index].clone();
    let cache = [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")), (header::ETAG, etag.clone())];
    let current = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').any(|tag| tag.trim() == etag.to_str().unwrap_or("") || tag.trim() == "*")
    });
    if current {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((cache, [(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_italian_first_with_its_own_script_and_no_inline_code() {
        for html in [INDEX, DASHBOARD, SEGNALA, REPORT, PLANNER, STATS] {
            assert!(html.contains("<html lang=\"it\">"), "{html}");
            assert!(html.contains("href=\"#main\"") && html.contains("id=\"main\""), "a skip link to main");
            // No inline script or style (the CSP refuses them): every script has a src, no style attributes.
            assert_eq!(html.matches("<script").count(), html.matches("<script type=\"module\" src=").count());
            assert!(!html.contains("style=") && !html.contains("<style"), "{html}");
            let handlers = html.split(" on").skip(1).filter(|rest| {
                let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
                !name.is_empty() && rest[name.len()..].starts_with('=')
            });
            assert_eq!(handlers.count(), 0, "no inline event handler");
            // Every script and stylesheet it names is an asset.
            for src in html.split("=\"/assets/").skip(1) {
                let name = &src[..src.find('"').unwrap()];
                assert!(ASSETS.iter().any(|(a, _, _)| *a == name), "{name} is not an asset");
            }
        }
    }
}
