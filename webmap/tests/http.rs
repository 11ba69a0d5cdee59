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
        Default::default(),
    );
    let (status, body) = call(&state, "/healthz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"], "ok");
    assert_eq!(body["mqtt"], "down");
    assert_eq!(body["errors"]["mqtt"], "connection refused");
    assert_eq!(body["status"], "degraded");
}

#[tokio::test]
async fn healthz_is_ok_when_every_part_is() {
    let db = TestDb::new().await;
    let state =
        AppState::new(db.pool().await, vec![Check::component("mqtt", || Ok(()))], None, Default::default());
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

    let state = AppState::new(pool, vec![], None, Default::default());
    let (status, me) = call(&state, "/api/auth/whoami", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "admin");
    let (status, body) = call(&state, "/api/auth/whoami", Some("vdt_nope")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn a_revoked_token_is_refused() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    webmap::auth::ensure_admin_token(&pool, Some("vdt_configured")).await.unwrap();
    sqlx::query("update core.api_token set revoked_at = now()").execute(&pool).await.unwrap();
    let state = AppState::new(pool, vec![], None, Default::default());
    assert_eq!(call(&state, "/api/auth/whoami", Some("vdt_configured")).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unknown_path_is_a_json_404() {
    let db = TestDb::new().await;
    let state = AppState::new(db.pool().await, vec![], None, Default::default());
    let (status, body) = call(&state, "/api/nowhere", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "no resource at /api/nowhere");
}
