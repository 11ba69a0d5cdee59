//! The HTTP face, driven through the router without a socket, on a real PostGIS database.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use testkit::TestDb;
use tower::ServiceExt;
use webmap::{AppState, Check, router};

async fn call(state: &AppState, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router(state.clone()).oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, body)
}

#[tokio::test]
async fn healthz_names_the_part_that_is_down() {
    let db = TestDb::new().await;
    let state = AppState::new(
        db.pool().await,
        vec![Check::component("mqtt", || Err("connection refused".into()))],
        None,
    );
    let (status, body) = call(&state, "/healthz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"], "ok");
    assert_eq!(body["mqtt"], "down");
    assert_eq!(body["errors"]["mqtt"], "not connected to the MQTT broker");
    assert_eq!(body["status"], "degraded");
}

#[tokio::test]
async fn healthz_is_ok_when_every_part_is() {
    let db = TestDb::new().await;
    let state = AppState::new(db.pool().await, vec![Check::component("mqtt", || Ok(()))], None);
    let (status, body) = call(&state, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["database"].as_str(), body["mqtt"].as_str()), (Some("ok"), Some("ok")));
    assert!(body.get("errors").is_none());
}

#[tokio::test]
async fn the_generated_admin_token_is_created_once_and_authenticates() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let token = webmap::auth::ensure_admin_token(&pool, None).await.unwrap().expect("a first token");
    assert!(token.starts_with("vdt_") && token.len() == 68, "{token}");
    assert_eq!(webmap::auth::ensure_admin_token(&pool, None).await.unwrap(), None, "only once");

    // Only the hash is stored.
    let stored: Vec<u8> =
        sqlx::query_scalar("select token_sha256 from core.api_token").fetch_one(&pool).await.unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(&token[4..]));

    let state = AppState::new(pool, vec![], None);
    let (status, me) = call(&state, "/api/auth/whoami", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "admin");
    let (status, body) = call(&state, "/api/auth/whoami", Some("vdt_nope")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthorized");
    assert_eq!(body["status"], 401);
}

#[tokio::test]
async fn a_revoked_token_is_refused() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    webmap::auth::ensure_admin_token(&pool, Some("vdt_configured")).await.unwrap();
    sqlx::query("update core.api_token set revoked_at = now()").execute(&pool).await.unwrap();
    let state = AppState::new(pool, vec![], None);
    assert_eq!(call(&state, "/api/auth/whoami", Some("vdt_configured")).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unknown_path_is_a_json_404() {
    let db = TestDb::new().await;
    let state = AppState::new(db.pool().await, vec![], None);
    let (status, body) = call(&state, "/api/nowhere", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "no resource at /api/nowhere");
}

/// Sends `request` and returns the status, the headers and the body as text.
async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&bytes).into_owned())
}

fn assert_problem(
    status: StatusCode,
    headers: &axum::http::HeaderMap,
    body: &str,
    expected: StatusCode,
) -> Value {
    assert_eq!(status, expected, "{body}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json", "{body}");
    let problem: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(problem["status"], expected.as_u16(), "{body}");
    assert!(problem["title"].is_string() && problem["type"].is_string(), "{body}");
    assert!(!problem["detail"].as_str().unwrap_or_default().is_empty(), "{body}");
    problem
}

#[tokio::test]
async fn every_error_is_a_problem_document() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    webmap::auth::ensure_admin_token(&pool, Some("vdt_admin")).await.unwrap();
    let state = AppState::new(pool, vec![], None);

    // A method the route does not have: 405 with Allow, and a problem body (axum answers an empty body).
    let (status, headers, body) =
        send(&state, Request::patch("/api/stations").body(Body::empty()).unwrap()).await;
    let problem = assert_problem(status, &headers, &body, StatusCode::METHOD_NOT_ALLOWED);
    assert!(problem["detail"].as_str().unwrap().contains("PATCH"), "{body}");
    assert!(headers.contains_key(header::ALLOW));

    // A body that is not JSON: axum's rejection (text/plain) becomes a problem that keeps its words.
    let request = Request::post("/api/stations")
        .header(header::AUTHORIZATION, "Bearer vdt_admin")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let (status, headers, body) = send(&state, request).await;
    let problem = assert_problem(status, &headers, &body, StatusCode::BAD_REQUEST);
    assert!(problem["detail"].as_str().unwrap().to_lowercase().contains("json"), "{body}");

    // Without the JSON content type.
    let request = Request::post("/api/stations")
        .header(header::AUTHORIZATION, "Bearer vdt_admin")
        .body(Body::from("{}"))
        .unwrap();
    let (status, headers, body) = send(&state, request).await;
    assert_problem(status, &headers, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A query parameter of the wrong type.
    let (status, headers, body) =
        send(&state, Request::get("/api/comuni/at?lat=north&lon=8").body(Body::empty()).unwrap()).await;
    assert_problem(status, &headers, &body, StatusCode::BAD_REQUEST);

    // A body over the limit is refused before it is read whole.
    let big = vec![b' '; webmap::MAX_BODY_BYTES + 10];
    let request = Request::post("/api/zoning/intersect")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(big))
        .unwrap();
    let (status, headers, body) = send(&state, request).await;
    assert_problem(status, &headers, &body, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn responses_carry_security_headers_and_public_reads_allow_cors() {
    let db = TestDb::new().await;
    let state = AppState::new(db.pool().await, vec![], None);
    let (status, headers, _) = send(&state, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(headers.contains_key(header::REFERRER_POLICY));

    // A browser on another origin may read the public APIs (no credentials)…
    let request = Request::get("/api/comuni")
        .header(header::ORIGIN, "https://example.org")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(&state, request).await;
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
    // …but a preflight for a write is not granted.
    let request = Request::options("/api/stations")
        .header(header::ORIGIN, "https://example.org")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "DELETE")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(&state, request).await;
    let allowed = headers.get(header::ACCESS_CONTROL_ALLOW_METHODS).map(|v| v.to_str().unwrap().to_string());
    assert!(!allowed.unwrap_or_default().contains("DELETE"));
}

#[tokio::test]
async fn the_openapi_document_is_served_with_the_public_url() {
    let db = TestDb::new().await;
    let state = AppState::new(db.pool().await, vec![], None).with_public_url("https://vedetta.example.it/");
    let (status, doc) = call(&state, "/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["servers"][0]["url"], "https://vedetta.example.it");
    assert!(doc["paths"]["/api/openapi.json"]["get"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn links_use_the_public_url_never_the_host_header() {
    let db = TestDb::new().await;
    let state = AppState::new(db.pool().await, vec![], None).with_public_url("https://vedetta.example.it");
    let request = Request::get("/sta/v1.1")
        .header(header::HOST, "evil.example\"><script>alert(1)</script>")
        .header("x-forwarded-proto", "javascript")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&state, request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("evil") && !body.contains("javascript"), "{body}");
    assert!(body.contains("https://vedetta.example.it/sta/v1.1/Things"), "{body}");
}
