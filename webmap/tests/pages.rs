//! The web app's pages and assets, through the router without a socket: every page is HTML in Italian with its
//! title, every asset has its content type and an ETag that answers 304, MapLibre's worker can run under the
//! Content-Security-Policy, and unknown pages or assets are problem documents.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use testkit::TestDb;
use tower::ServiceExt;
use webmap::{AppState, router};

async fn get(
    state: &AppState,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = router(state.clone()).oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, bytes)
}

fn content_type(headers: &HeaderMap) -> &str {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn every_page_is_italian_html_with_its_title_and_scripts_that_are_served() {
    let db = TestDb::new().await;
    let state = AppState::new(db.pool().await, vec![], None);
    let pages = [
        ("/", "Vedetta — Mappa del territorio", "index.js"),
        ("/protezione-civile", "Vedetta — Protezione civile", "dashboard.js"),
        ("/segnala", "Vedetta — Segnala un problema", "segnala.js"),
        ("/segnalazioni/42", "Vedetta — Segnalazione", "report.js"),
        ("/segnalazioni/42?token=vtr_abc", "Vedetta — Segnalazione", "report.js"),
        ("/pianificazione", "Vedetta — Pianificazione", "planner.js"),
        ("/trasparenza", "Vedetta — Trasparenza", "stats.js"),
    ];
    for (path, title, script) in pages {
        let (status, headers, body) = get(&state, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(content_type(&headers).starts_with("text/html"), "{path}: {headers:?}");
        let html = String::from_utf8(body).unwrap();
        assert!(html.contains("<html lang=\"it\">"), "{path}");
        assert!(html.contains(&format!("<title>{title}</title>")), "{path}: {html}");
        assert!(html.contains(&format!("<script type=\"module\" src=\"/assets/{script}\">")), "{path}");
        assert!(html.contains("id=\"lang-toggle\"") && html.contains("id=\"skip-link\""), "{path}");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        // Every asset the page names is served with its content type.
        for rest in html.split("=\"/assets/").skip(1) {
            let asset = &rest[..rest.find('"').unwrap()];
            let (status, headers, body) = get(&state, &format!("/assets/{asset}"), &[]).await;
            assert_eq!(status, StatusCode::OK, "{path} names /assets/{asset}");
            assert!(!body.is_empty(), "{asset}");
            let want = if asset.ends_with(".css") { "text/css" } else { "text/javascript" };
            assert!(content_type(&headers).starts_with(want), "{asset}: {headers:?}");
        }
    }
}

#[tokio::test]
async fn assets_have_content_types_and_answer_304_to_their_etag() {
    let db = TestDb::new().await;
    let state = AppState::new(db.pool().await, vec![], None);
    let assets = [
        ("common.js", "text/javascript; charset=utf-8"),
        ("mapview.js", "text/javascript; charset=utf-8"),
        ("chart.js", "text/javascript; charset=utf-8"),
        ("vedetta.css", "text/css; charset=utf-8"),
        ("vendor/maplibre-gl.mjs", "text/javascript; charset=utf-8"),
        ("vendor/maplibre-gl-worker.mjs", "text/javascript; charset=utf-8"),
        ("vendor/maplibre-gl.css", "text/css; charset=utf-8"),
    ];
    for (asset, want) in assets {
        let uri = format!("/assets/{asset}");
        let (status, headers, body) = get(&state, &uri, &[]).await;
        assert_eq!((status, content_type(&headers)), (StatusCode::OK, want), "{asset}");
        assert!(!body.is_empty());
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let etag = headers[header::ETAG].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let (status, headers, body) = get(&state, &uri, &[(header::IF_NONE_MATCH, &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{asset}");
        assert!(body.is_empty());
        assert_eq!(headers[header::ETAG].to_str().unwrap(), etag);
        let (status, _, _) = get(&state, &uri, &[(header::IF_NONE_MATCH, "\"other\"")]).await;
        assert_eq!(status, StatusCode::OK);
    }
    // MapLibre's worker is a module loaded from Vedetta itself, with a query string the router ignores.
    let (status, headers, _) = get(&state, "/assets/vendor/maplibre-gl-worker.mjs?v=6.17.0", &[]).await;
    assert_eq!((status, content_type(&headers)), (StatusCode::OK, "text/javascript; charset=utf-8"));
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    for needed in ["worker-src 'self' blob:", "img-src 'self' data: blob:", "connect-src 'self'"] {
        assert!(csp.contains(needed), "{needed} in {csp}");
    }
}

#[tokio::test]
async fn unknown_assets_and_report_pages_are_problem_documents() {
    let db = TestDb::new().await;
    let state = AppState::new(db.pool().await, vec![], None);
    for uri in [
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/vendor/",
        "/segnalazioni/abc",
        "/segnalazioni/0",
    ] {
        let (status, headers, body) = get(&state, uri, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(content_type(&headers), "application/problem+json", "{uri}");
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["status"], 404, "{problem}");
    }
    // The server is still fine afterwards.
    let (status, _, _) = get(&state, "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
}
