//! The reports API's own limits, through the router without a socket on a real PostGIS database: the upload
//! limit of `POST /api/reports` (photos up to 10 MB each, the rest of the API still at 1 MB), and the per-address
//! rate limit behind a trusted reverse proxy.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use testkit::TestDb;
use tower::ServiceExt;
use webmap::{AppState, ReportsOptions, router};

const ADMIN: &str = "vdt_reports_http_admin";

struct Answer {
    status: StatusCode,
    json: Value,
    retry_after: Option<String>,
}

async fn send(state: &AppState, request: Request<Body>) -> Answer {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer { status, json: serde_json::from_slice(&bytes).unwrap_or(Value::Null), retry_after }
}

fn report() -> Value {
    // In the Ligurian Sea: no comune is loaded anyway, so a report that gets through is refused there (422).
    json!({"lon": 8.90, "lat": 44.30, "category": "altro", "description": "Prova"})
}

/// A form with the report and one photo part of `photo` bytes declared as JPEG.
fn form(photo: &[u8]) -> (String, Vec<u8>) {
    let boundary = "reports-http-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"report\"\r\n\r\n{}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\n",
        report()
    )
    .into_bytes();
    body.extend_from_slice(photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn post(uri: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, body.len())
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .body(Body::from(body))
        .unwrap()
}

async fn setup(options: ReportsOptions) -> (TestDb, AppState) {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    webmap::auth::ensure_admin_token(&pool, Some(ADMIN)).await.unwrap();
    (db, AppState::new(pool, vec![], None).with_reports(options))
}

#[tokio::test]
async fn photos_may_be_large_but_each_is_bounded_and_the_rest_of_the_api_keeps_its_limit() {
    let photos = std::env::temp_dir().join(format!("vedetta-reports-http-{}", std::process::id()));
    let (_db, state) =
        setup(ReportsOptions { photos_dir: photos.clone(), ..ReportsOptions::default() }).await;

    // 3 MB of a photo that is no picture: it reaches the handler, which refuses it for what it is.
    let (content_type, body) = form(&vec![b'x'; 3 * 1024 * 1024]);
    let answer = send(&state, post("/api/reports", &content_type, body)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.json);
    assert!(answer.json["detail"].as_str().unwrap().contains("photo 1"), "{}", answer.json);

    // One byte over 10 MB: too large, and the problem says the limit.
    let (content_type, body) = form(&vec![b'x'; 10 * 1024 * 1024 + 1]);
    let answer = send(&state, post("/api/reports", &content_type, body)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", answer.json);
    assert!(answer.json["detail"].as_str().unwrap().contains("10485760"), "{}", answer.json);

    // A report without photos stays within 1 MB, and so does every other route.
    let padded = json!({"lon": 8.9, "lat": 44.3, "category": "altro", "description": "x".repeat(2 << 20)});
    let answer =
        send(&state, post("/api/reports", "application/json", padded.to_string().into_bytes())).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", answer.json);
    let big = json!({"to": "acknowledged", "public_note": "x".repeat(2 << 20)});
    let answer =
        send(&state, post("/api/reports/1/transitions", "application/json", big.to_string().into_bytes()))
            .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", answer.json);
    // Nothing was stored.
    assert!(!photos.exists(), "no photo was stored");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_limit() {
    let proxy: IpAddr = "10.0.0.1".parse().unwrap();
    let (_db, state) = setup(ReportsOptions {
        reports_per_hour_ip: 2,
        trusted_proxies: vec![proxy],
        ..ReportsOptions::default()
    })
    .await;
    let file = |peer: IpAddr, forwarded: &str| {
        let mut request = Request::post("/api/reports")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-for", forwarded)
            .body(Body::from(report().to_string()))
            .unwrap();
        request.extensions_mut().insert(ConnectInfo(SocketAddr::new(peer, 40000)));
        request
    };
    // Each filing is counted (here refused at sea, 422) until the client's third in the hour.
    for _ in 0..2 {
        let answer = send(&state, file(proxy, "203.0.113.7")).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.json);
    }
    let answer = send(&state, file(proxy, "203.0.113.7")).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{}", answer.json);
    let retry: u64 = answer.retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=3600).contains(&retry));
    // Another client behind the same proxy is not limited by the first one's filings.
    let answer = send(&state, file(proxy, "198.51.100.9")).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.json);
    // A peer that is not a trusted proxy cannot pose as another client: its own address counts.
    let stranger: IpAddr = "192.0.2.50".parse().unwrap();
    for n in 0..3 {
        let answer = send(&state, file(stranger, &format!("198.51.100.{n}"))).await;
        let expected = if n < 2 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(answer.status, expected, "{}", answer.json);
    }
}
