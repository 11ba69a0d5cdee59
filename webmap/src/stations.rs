//! `/api/stations`: stations as GeoJSON, their readings, windows and latest values.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use sensors::qc;
use sensors::reading::{self, Aggregate};
use sensors::store::{self, Latest};
use sensors::{Quantity, Station, StationInput};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{ApiError, AppState, Caller, Role};

/// The live part of a station: latest reading and whether it is silent.
fn live(station: &Station, latest: Option<&Latest>, now: DateTime<Utc>) -> Map<String, Value> {
    let silent = qc::is_silent(latest.map(|l| l.observed_at), station.interval_s, now);
    let mut map = Map::new();
    map.insert("quantity".into(), json!(station.kind.quantity()));
    map.insert("unit".into(), json!(station.kind.quantity().unit()));
    map.insert("latest".into(), json!(latest.map(|l| json!({"t": l.observed_at, "v": l.value, "qc": l.qc}))));
    map.insert("state".into(), json!(if silent { "silent" } else { "reporting" }));
    map
}

/// Most stations one listing returns.
pub(crate) const MAX_STATIONS_PAGE: i64 = 10_000;

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    /// Most stations in the answer (1 to 10,000, default 10,000).
    limit: Option<i64>,
    /// The code of the last station of the previous page (the `next` of that answer).
    after: Option<String>,
}

/// `GET /api/stations[?limit=&after=]`: the stations by code as a GeoJSON FeatureCollection with their latest
/// reading, at most `limit` (10,000) of them; `next` is the `after` of the following page, `null` on the last.
#[utoipa::path(get, path = "/api/stations", tag = "sensors",
    params(("limit" = Option<i64>, Query, description = "Most stations, 1..10000 (default 10000)", minimum = 1, maximum = 10000),
           ("after" = Option<String>, Query, description = "Page: codes after this one (the previous page's `next`)")),
    responses((status = 200, description = "Every station with its latest reading", body = crate::schema::StationCollection)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(MAX_STATIONS_PAGE);
    if !(1..=MAX_STATIONS_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!("`limit` must be between 1 and {MAX_STATIONS_PAGE}")));
    }
    let mut stations = store::stations_page(state.pool(), q.after.as_deref(), limit + 1).await?;
    let next = (stations.len() as i64 > limit).then(|| {
        stations.truncate(limit as usize);
        stations.last().map(|s| s.code.clone())
    });
    let latest = store::latest_all(state.pool()).await?;
    let now = Utc::now();
    let features: Vec<Value> =
        stations.iter().map(|s| s.to_feature(live(s, latest.get(&(s.id, s.kind.quantity())), now))).collect();
    Ok(Json(json!({ "type": "FeatureCollection", "features": features, "next": next.flatten() })))
}

/// `GET /api/stations/{code}`.
#[utoipa::path(get, path = "/api/stations/{code}", tag = "sensors",
    params(("code" = String, Path, description = "Station code", example = "GE-GATE-L1")),
    responses((status = 200, description = "The station", body = crate::schema::StationFeature)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let station = store::station(state.pool(), &code).await?;
    let latest = store::latest(state.pool(), station.id, station.kind.quantity()).await?;
    Ok(Json(station.to_feature(live(&station, latest.as_ref(), Utc::now()))))
}

/// `POST /api/stations` (operator): creates a station from a GeoJSON Feature; 409 when the code exists.
#[utoipa::path(post, path = "/api/stations", tag = "sensors", security(("bearer" = [])),
    request_body(content = crate::schema::StationInputFeature, content_type = "application/json"),
    responses((status = 201, description = "Created", body = crate::schema::StationFeature)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(feature): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let input = StationInput::from_feature(&feature)?;
    // The insert decides: of two simultaneous creations of one code, one is created and the other is a conflict.
    let station = store::insert_station(state.pool(), &input).await.map_err(|e| match e {
        e @ sensors::Error::DuplicateStation { .. } => ApiError::Conflict(e.to_string()),
        other => other.into(),
    })?;
    Ok((StatusCode::CREATED, Json(station.to_feature(Map::new()))).into_response())
}

/// `PUT /api/stations/{code}` (operator): creates or replaces the station.
#[utoipa::path(put, path = "/api/stations/{code}", tag = "sensors", security(("bearer" = [])),
    params(("code" = String, Path, description = "Station code", example = "GE-GATE-L1")),
    request_body(content = crate::schema::StationInputFeature, content_type = "application/json"),
    responses((status = 200, description = "Replaced", body = crate::schema::StationFeature),
              (status = 201, description = "Created", body = crate::schema::StationFeature)))]
pub(crate) async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(mut feature): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    match feature.pointer("/properties/code").and_then(Value::as_str) {
        Some(c) if c != code => {
            return Err(ApiError::Unprocessable(format!(
                "the body's code `{c}` differs from the path's `{code}`"
            )));
        }
        Some(_) => {}
        None => {
            if let Some(props) = feature.get_mut("properties").and_then(Value::as_object_mut) {
                props.insert("code".into(), json!(code));
            }
        }
    }
    let input = StationInput::from_feature(&feature)?;
    let (station, created) = store::upsert_station(state.pool(), &input).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(station.to_feature(Map::new()))).into_response())
}

/// `DELETE /api/stations/{code}` (operator): deletes the station and its readings.
#[utoipa::path(delete, path = "/api/stations/{code}", tag = "sensors", security(("bearer" = [])),
    params(("code" = String, Path, description = "Station code", example = "GE-GATE-L1")),
    responses((status = 204, description = "Deleted, with its readings")))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Operator)?;
    if store::delete_station(state.pool(), &code).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(sensors::Error::UnknownStation(code).into())
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReadingsQuery {
    quantity: Option<String>,
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
    agg: Option<String>,
    limit: Option<i64>,
}

/// An optional RFC 3339 time parameter, between 1900 and 2200 ([`reading::check_query_time`]).
fn parse_time(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            let t = DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)).map_err(|e| {
                ApiError::BadRequest(format!(
                    "`{name}` must be an RFC 3339 time such as 2026-11-22T10:00:00+01:00: {e}"
                ))
            })?;
            Ok(reading::check_query_time(name, t)?)
        })
        .transpose()
}

/// `GET /api/stations/{code}/readings?quantity=&from=&to=&interval=PT1H&agg=sum|max|min|avg&limit=`
/// Without `interval`: the readings with their QC flags (default: the last 24 hours, at most `limit`, 10,000).
/// With `interval`: time buckets (ISO 8601 duration) combined with `agg` (default sum for rain, avg for level).
#[utoipa::path(get, path = "/api/stations/{code}/readings", tag = "sensors",
    params(("code" = String, Path, description = "Station code", example = "GE-GATE-L1"),
           ("quantity" = Option<String>, Query, description = "`rain` or `level` (default: the station's)"),
           ("from" = Option<String>, Query, description = "RFC 3339 start (default: `to` − 24 h)"),
           ("to" = Option<String>, Query, description = "RFC 3339 end (default: now)"),
           ("interval" = Option<String>, Query, description = "Bucket width, ISO 8601 duration such as PT1H"),
           ("agg" = Option<String>, Query, description = "`sum`, `max`, `min` or `avg`"),
           ("limit" = Option<i64>, Query, description = "Most readings, 1..100000")),
    responses((status = 200, description = "Readings or buckets", body = crate::schema::ReadingsPage)))]
pub(crate) async fn readings(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<ReadingsQuery>,
) -> Result<Json<Value>, ApiError> {
    let station = store::station(state.pool(), &code).await?;
    let quantity = match q.quantity.as_deref() {
        None => station.kind.quantity(),
        Some(s) => s.parse::<Quantity>()?,
    };
    let to = parse_time("to", q.to.as_deref())?.unwrap_or_else(|| Utc::now() + Duration::seconds(1));
    let from = parse_time("from", q.from.as_deref())?.unwrap_or(to - Duration::hours(24));
    if from >= to {
        return Err(ApiError::BadRequest("`from` must be before `to`".into()));
    }
    let base = json!({ "station": station.code, "quantity": quantity, "unit": quantity.unit(), "from": from, "to": to });
    let mut body = base.as_object().cloned().unwrap_or_default();
    match q.interval.as_deref() {
        None => {
            let limit = q.limit.unwrap_or(10_000);
            if !(1..=100_000).contains(&limit) {
                return Err(ApiError::BadRequest("`limit` must be between 1 and 100000".into()));
            }
            let rows = reading::readings(state.pool(), station.id, quantity, from, to, limit).await?;
            body.insert("readings".into(), json!(rows));
        }
        Some(interval) => {
            let seconds = reading::parse_duration(interval)?;
            if (to - from).num_seconds() / seconds > 100_000 {
                return Err(ApiError::BadRequest(
                    "more than 100000 buckets: widen `interval` or narrow the range".into(),
                ));
            }
            let agg: Aggregate = match q.agg.as_deref() {
                Some(a) => a.parse()?,
                None if quantity == Quantity::Rain => Aggregate::Sum,
                None => Aggregate::Avg,
            };
            let buckets =
                reading::buckets(state.pool(), station.id, quantity, from, to, seconds, agg).await?;
            body.insert("interval".into(), json!(interval));
            body.insert(
                "agg".into(),
                json!(q.agg.as_deref().unwrap_or(if quantity == Quantity::Rain { "sum" } else { "avg" })),
            );
            body.insert("buckets".into(), json!(buckets));
        }
    }
    Ok(Json(Value::Object(body)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct AtQuery {
    at: Option<String>,
}

/// `GET /api/stations/{code}/windows[?at=]`: rain totals per window, or the level summary.
#[utoipa::path(get, path = "/api/stations/{code}/windows", tag = "sensors",
    params(("code" = String, Path, description = "Station code", example = "GE-GATE-L1"),
           ("at" = Option<String>, Query, description = "RFC 3339 time (default: now)")),
    responses((status = 200, description = "Rain totals per window or the level summary", body = crate::schema::WindowSummary)))]
pub(crate) async fn windows(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<AtQuery>,
) -> Result<Json<Value>, ApiError> {
    let station = store::station(state.pool(), &code).await?;
    let at = parse_time("at", q.at.as_deref())?.unwrap_or_else(Utc::now);
    let mut summary =
        sensors::window::summary_json(state.pool(), station.id, station.kind.quantity(), at).await?;
    if let Some(map) = summary.as_object_mut() {
        map.insert("station".into(), json!(station.code));
        map.insert("thresholds".into(), station.thresholds.to_json());
    }
    Ok(Json(summary))
}

/// `GET /api/stations/{code}/latest`: the latest reading, with the station's state.
#[utoipa::path(get, path = "/api/stations/{code}/latest", tag = "sensors",
    params(("code" = String, Path, description = "Station code", example = "GE-GATE-L1")),
    responses((status = 200, description = "The latest reading and state", body = crate::schema::LatestReading)))]
pub(crate) async fn latest(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let station = store::station(state.pool(), &code).await?;
    let latest = store::latest(state.pool(), station.id, station.kind.quantity()).await?;
    let mut live = live(&station, latest.as_ref(), Utc::now());
    live.insert("station".into(), json!(station.code));
    Ok(Json(Value::Object(live)))
}

#[cfg(test)]
mod tests {
    //! The station API's answers to bad input, through the whole router on a real database.

    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use testkit::TestDb;
    use tower::ServiceExt;

    use crate::{AppState, router};

    const TOKEN: &str = "vdt_stations_test";

    async fn state() -> (TestDb, AppState) {
        let db = TestDb::new().await;
        let pool = db.pool().await;
        crate::auth::ensure_admin_token(&pool, Some(TOKEN)).await.unwrap();
        (db, AppState::new(pool, vec![], None))
    }

    async fn call(state: &AppState, method: &str, uri: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = router(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn feature(code: &str, kind: &str, extra: Value) -> Value {
        let mut props = json!({"code": code, "name": format!("Stazione {code}"), "kind": kind});
        props.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [8.95, 44.42]}, "properties": props})
    }

    async fn stations(state: &AppState) -> i64 {
        sqlx::query_scalar("select count(*) from sensors.station").fetch_one(state.pool()).await.unwrap()
    }

    #[tokio::test]
    async fn invalid_stations_are_422_and_nothing_is_written() {
        let (_db, state) = state().await;
        let x = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": ["x", 8.9, 44.4]},
            "properties": {"code": "X-1", "name": "x", "kind": "rain_gauge"}});
        let cases = [
            (
                feature("BIG-1", "hydrometer", json!({"thresholds": {"yellow": 1.7976931348623157e308}})),
                "thresholds.yellow",
            ),
            (
                feature("BIG-2", "rain_gauge", json!({"thresholds": {"1h": {"red": 3.5e38}}})),
                "thresholds.1h.red",
            ),
            (feature("BIG-3", "hydrometer", json!({"range": [0, 1e300]})), "range"),
            (feature("BIG-4", "hydrometer", json!({"elevation": 1e308})), "elevation"),
            (feature("BIG-5", "hydrometer", json!({"interval_s": 9223372036854775807i64})), "interval_s"),
            (x, "coordinate 0"),
            (feature(".", "rain_gauge", json!({})), "dots only"),
            (feature("..", "rain_gauge", json!({})), "dots only"),
            (feature("a/b", "rain_gauge", json!({})), "may only use"),
            (feature("C-1", "rain_gauge", json!({"comune": "123"})), "6 digits"),
            (feature("N-1", "rain_gauge", json!({"name": "n".repeat(1_000_000)})), "at most 200"),
            (feature("N-2", "rain_gauge", json!({"river": "r".repeat(201)})), "the river"),
            (feature("N-3", "rain_gauge", json!({"name": "a\u{0}b"})), "control characters"),
            (feature("P-1", "rain_gauge", json!({"properties": {"x": "a\u{0}b"}})), "NUL"),
        ];
        for (body, expected) in &cases {
            let (status, problem) = call(&state, "POST", "/api/stations", Some(body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{expected}: {problem}");
            assert!(
                problem["detail"].as_str().unwrap_or_default().contains(expected),
                "{expected}: {problem}"
            );
            // PUT checks the same.
            let code = body["properties"]["code"].as_str().unwrap();
            if code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                let (status, _) = call(&state, "PUT", &format!("/api/stations/{code}"), Some(body)).await;
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "PUT {expected}");
            }
        }
        assert_eq!(stations(&state).await, 0, "nothing was committed");
        let (status, body) = call(&state, "GET", "/api/stations", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    #[tokio::test]
    async fn creating_an_existing_code_is_409_also_when_simultaneous() {
        let (_db, state) = state().await;
        let (status, _) =
            call(&state, "POST", "/api/stations", Some(&feature("DUP-1", "hydrometer", json!({})))).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, problem) =
            call(&state, "POST", "/api/stations", Some(&feature("DUP-1", "rain_gauge", json!({})))).await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("DUP-1"), "{problem}");
        for round in 0..5 {
            let code = format!("RACE-{round}");
            let a = feature(&code, "hydrometer", json!({"river": "A"}));
            let b = feature(&code, "hydrometer", json!({"river": "B"}));
            let (ra, rb) = tokio::join!(
                call(&state, "POST", "/api/stations", Some(&a)),
                call(&state, "POST", "/api/stations", Some(&b))
            );
            let mut statuses = [ra.0, rb.0];
            statuses.sort();
            assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT], "{ra:?} {rb:?}");
            // The answer of the winner is what is stored.
            let winner = if ra.0 == StatusCode::CREATED { ra.1 } else { rb.1 };
            let (_, stored) = call(&state, "GET", &format!("/api/stations/{code}"), None).await;
            assert_eq!(stored["properties"]["river"], winner["properties"]["river"]);
        }
    }

    #[tokio::test]
    async fn bad_paths_and_queries_are_4xx() {
        let (_db, state) = state().await;
        let (status, _) =
            call(&state, "POST", "/api/stations", Some(&feature("Q-1", "hydrometer", json!({})))).await;
        assert_eq!(status, StatusCode::CREATED);
        let base = "/api/stations/Q-1/readings";
        let cases = [
            ("GET", "/api/stations/a%00b".to_string(), StatusCode::NOT_FOUND),
            ("GET", "/api/stations/a%00b/readings".into(), StatusCode::NOT_FOUND),
            ("GET", "/api/stations/a%00b/windows".into(), StatusCode::NOT_FOUND),
            ("GET", "/api/stations/a%00b/latest".into(), StatusCode::NOT_FOUND),
            ("DELETE", "/api/stations/a%00b".into(), StatusCode::NOT_FOUND),
            ("GET", format!("/api/stations/{}", "x".repeat(5000)), StatusCode::NOT_FOUND),
            ("GET", format!("{base}?interval=P99999999999D"), StatusCode::BAD_REQUEST),
            ("GET", format!("{base}?interval=PT1H1H1H"), StatusCode::BAD_REQUEST),
            ("GET", format!("{base}?interval=PT1H%00"), StatusCode::BAD_REQUEST),
            ("GET", format!("{base}?interval=P366D&from=1900-01-01T00:00:00Z"), StatusCode::OK),
            ("GET", format!("{base}?from=0001-01-01T00:00:00Z"), StatusCode::BAD_REQUEST),
            ("GET", format!("{base}?to=9999-12-31T23:59:59Z"), StatusCode::BAD_REQUEST),
            ("GET", format!("{base}?from=1900-01-01T00:00:00Z&to=2200-01-01T00:00:00Z"), StatusCode::OK),
            (
                "GET",
                format!("{base}?from=1900-01-01T00:00:00Z&to=2200-01-01T00:00:00Z&interval=PT1S"),
                StatusCode::BAD_REQUEST,
            ),
            ("GET", format!("{base}?limit=99999999999999999999"), StatusCode::BAD_REQUEST),
            ("GET", format!("{base}?limit=-1"), StatusCode::BAD_REQUEST),
            ("GET", format!("{base}?quantity=a%00b"), StatusCode::BAD_REQUEST),
            ("GET", format!("{base}?agg=a%00b&interval=PT1H"), StatusCode::BAD_REQUEST),
            ("GET", "/api/stations/Q-1/windows?at=0001-01-01T00:00:00Z".into(), StatusCode::BAD_REQUEST),
            ("GET", "/api/stations?limit=0".into(), StatusCode::BAD_REQUEST),
            ("GET", "/api/stations?limit=10001".into(), StatusCode::BAD_REQUEST),
            ("GET", "/api/stations?after=a%00b".into(), StatusCode::OK),
            ("GET", "/api/ingest/dead-letters?kind=a%00b".into(), StatusCode::BAD_REQUEST),
            ("GET", "/api/ingest/dead-letters?kind=bad_json".into(), StatusCode::OK),
            ("GET", "/api/ingest/dead-letters?limit=1001".into(), StatusCode::BAD_REQUEST),
            ("GET", "/api/ingest/dead-letters?before=-9223372036854775808".into(), StatusCode::OK),
        ];
        for (method, uri, expected) in cases {
            let (status, body) = call(&state, method, &uri, None).await;
            let shown: String = uri.chars().take(80).collect();
            assert_eq!(status, expected, "{method} {shown}: {body}");
        }
        assert_eq!(stations(&state).await, 1);
    }

    #[tokio::test]
    async fn the_station_list_is_paged() {
        let (_db, state) = state().await;
        for code in ["S-3", "S-1", "S-2"] {
            let (status, _) =
                call(&state, "POST", "/api/stations", Some(&feature(code, "rain_gauge", json!({})))).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let codes = |body: &Value| -> Vec<String> {
            body["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_string())
                .collect()
        };
        let (_, page) = call(&state, "GET", "/api/stations?limit=2", None).await;
        assert_eq!((codes(&page), page["next"].clone()), (vec!["S-1".into(), "S-2".into()], json!("S-2")));
        let (_, page) = call(&state, "GET", "/api/stations?limit=2&after=S-2", None).await;
        assert_eq!((codes(&page), page["next"].clone()), (vec!["S-3".into()], Value::Null));
        let (_, all) = call(&state, "GET", "/api/stations", None).await;
        assert_eq!((codes(&all).len(), all["next"].clone()), (3, Value::Null));
    }
}
