//! The hostile-input suite: every HTTP reproduction of issue #7's findings against the real binary, with data
//! loaded. Each answer must be the right 4xx as a problem document (never a 500), nothing may be half-written,
//! and Vedetta and PostgreSQL must be well afterwards. The per-area regression tests (sensors, STA, territory)
//! check the details; this suite checks the contract across all of them in one place.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::TestDb;

use crate::support::{Launch, Vedetta, get, import, query_i64, send_json, station_feature};

const TOKEN: &str = "vdt_hostile_admin_token";

fn serve(root: &std::path::Path, db: &TestDb) -> Vedetta {
    let dbt = testkit::test_data("dbt/venezia/TP_IDRO.shp");
    import(root, db, &["dbt", dbt.to_str().unwrap()]);
    let zoning = root.join("zoning.geojson");
    let plan = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[[8.9, 44.4], [8.95, 44.4], [8.95, 44.45], [8.9, 44.45], [8.9, 44.4]]]},
        "properties": {"zona": "B1", "zto": "B"}}]});
    std::fs::write(&zoning, plan.to_string()).unwrap();
    import(
        root,
        db,
        &["zoning", zoning.to_str().unwrap(), "--plan", "PUC", "--version", "1", "--approved", "2020-01-01"],
    );
    let mut vedetta =
        Launch::serve(root).env("VEDETTA_DATABASE_URL", &db.url).env("VEDETTA_ADMIN_TOKEN", TOKEN).spawn();
    vedetta.wait_healthy();
    let (status, body) = send_json(
        "POST",
        &vedetta.url("/api/stations"),
        TOKEN,
        &station_feature("GE-HOST-01", "hydrometer", json!({})),
    );
    assert_eq!(status, 201, "{body}");
    vedetta
}

/// Sends a request with a raw (already encoded) path and query; returns status, content type and body.
fn raw(vedetta: &Vedetta, method: &str, path_and_query: &str, body: Option<&str>) -> (u16, String, String) {
    let request = ureq::request(method, &vedetta.url(path_and_query))
        .timeout(Duration::from_secs(40))
        .set("Authorization", &format!("Bearer {TOKEN}"));
    let response = match body {
        Some(b) => request.set("Content-Type", "application/json").send_string(b),
        None => request.call(),
    };
    let response = match response {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path_and_query}: {e}"),
    };
    let status = response.status();
    let content_type = response.header("content-type").unwrap_or_default().to_string();
    (status, content_type, response.into_string().unwrap_or_default())
}

/// A star polygon with `n` spikes whose edges cross each other: invalid, and expensive for GEOS to repair.
fn self_intersecting_star(n: usize) -> Value {
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            // Every vertex jumps almost half-way round: a pentagram generalised to n points.
            let angle = (i * (n / 2 - 1)) as f64 * std::f64::consts::TAU / n as f64;
            [8.92 + 0.01 * angle.cos(), 44.42 + 0.01 * angle.sin()]
        })
        .collect();
    ring.push(ring[0]);
    json!({"type": "Polygon", "coordinates": [ring]})
}

#[test]
fn hostile_requests_get_4xx_problems_and_leave_everything_well() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let mut vedetta = serve(root.path(), &db);
    let stations_before = query_i64(&db.url, "select count(*) from sensors.station");

    let star = self_intersecting_star(1000).to_string();
    let huge_star = self_intersecting_star(20_000).to_string();
    let cases: Vec<(&str, String, Option<String>)> = vec![
        // Zoning.
        ("POST", "/api/zoning/intersect".into(), Some(star.clone())),
        ("POST", "/api/zoning/intersect".into(), Some(huge_star)),
        ("POST", "/api/zoning/intersect".into(), Some(r#"{"type":"Polygon"}"#.into())),
        ("POST", "/api/zoning/intersect".into(), Some(r#"{"type":"Polygon","coordinates":[[["x",1],[2,2],[2,3],["x",1]]]}"#.into())),
        ("POST", "/api/zoning/intersect".into(), Some(r#"{"type":"Polygon","coordinates":[[[1e300,1],[2,2],[2,3],[1e300,1]]]}"#.into())),
        ("POST", "/api/zoning/intersect".into(), Some(r#"{"type":"Polygon","coordinates":[[[500,500],[501,500],[501,501],[500,500]]]}"#.into())),
        ("POST", "/api/zoning/intersect?plan=a%00b".into(), Some(star.clone())),
        ("GET", "/api/zoning/at?lat=44.42&lon=8.92&plan=a%00b".into(), None),
        // SensorThings.
        ("GET", "/sta/v1.1/Things?$filter=9223372036854775807%20add%201%20eq%200".into(), None),
        ("GET", "/sta/v1.1/Things?$filter=1e308%20mul%2010%20eq%200".into(), None),
        ("GET", "/sta/v1.1/Things?$filter=substring(name,99999999999)%20eq%20'a'".into(), None),
        ("GET", "/sta/v1.1/Things?$filter=substring(name,1,-5)%20eq%20'a'".into(), None),
        ("GET", "/sta/v1.1/Locations?$filter=st_within(location,geography'POINT(a%20b)')".into(), None),
        ("GET", "/sta/v1.1/Locations?$filter=st_within(location,geography'POLYGON((0%200,%201%201))')".into(), None),
        ("GET", "/sta/v1.1/Locations?$filter=st_relate(location,geography'POINT(1%201)','garbage')".into(), None),
        ("GET", "/sta/v1.1/Things?$skip=9223372036854775808".into(), None),
        ("GET", "/sta/v1.1/Things?$filter=name%20eq%20'x%00y'".into(), None),
        ("GET", format!("/sta/v1.1/Things?$filter={}1{}%20eq%201", "(".repeat(100_000 / 8), ")".repeat(100_000 / 8)), None),
        // OGC API.
        ("GET", "/ogc/collections/dbt-TP_IDRO/items?bbox=0,0,1e10,1e10&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857".into(), None),
        ("GET", "/ogc/collections/dbt-TP_IDRO/items?bbox=1,2,x,4".into(), None),
        ("GET", "/ogc/collections/dbt-TP_IDRO/items?ID=a%00b".into(), None),
        ("GET", "/ogc/collections/dbt-TP_IDRO/items/a%00b".into(), None),
        ("GET", "/ogc/collections/dbt-TP_IDRO/items?offset=9223372036854775807".into(), None),
        // REST.
        ("GET", "/api/stations/a%00b".into(), None),
        ("GET", "/api/stations/GE-HOST-01/readings?interval=P99999999999D".into(), None),
        ("GET", "/api/stations/GE-HOST-01/readings?interval=PT1H1H1H".into(), None),
        ("POST", "/api/stations".into(), Some(station_feature("GE-HOST-02", "hydrometer", json!({"thresholds": {"yellow": 1.7976931348623157e308}})).to_string())),
        ("POST", "/api/stations".into(), Some(json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": ["x", 8.9, 44.4]}, "properties": {"code": "GE-HOST-03", "name": "x", "kind": "rain_gauge"}}).to_string())),
        ("POST", "/api/stations".into(), Some(station_feature("..", "rain_gauge", json!({})).to_string())),
        ("POST", "/api/stations".into(), Some(station_feature("GE-HOST-04", "rain_gauge", json!({"name": "n".repeat(1_000_000)})).to_string())),
        ("POST", "/api/stations".into(), Some(station_feature("GE-HOST-01", "hydrometer", json!({})).to_string())),
    ];

    let mut failures = Vec::new();
    for (method, path, body) in &cases {
        let started = Instant::now();
        let (status, content_type, text) = raw(&vedetta, method, path, body.as_deref());
        let took = started.elapsed();
        let shown: String = path.chars().take(100).collect();
        eprintln!("{method} {shown} → {status} in {took:?}");
        if !(400..500).contains(&status) {
            failures
                .push(format!("{method} {shown}: {status} {}", text.chars().take(300).collect::<String>()));
        } else if !content_type.starts_with("application/problem+json") {
            failures.push(format!("{method} {shown}: {status} with content type {content_type}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile requests were not a clean 4xx:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing was half-written, PostgreSQL is up and idle, Vedetta is healthy and still answers.
    assert_eq!(query_i64(&db.url, "select count(*) from sensors.station"), stations_before);
    let running = query_i64(
        &db.url,
        "select count(*) from pg_stat_activity where state = 'active' and pid <> pg_backend_pid() \
         and datname = current_database()",
    );
    assert_eq!(running, 0, "a hostile query is still running in PostgreSQL");
    let health = vedetta.wait_healthy();
    assert_eq!(health["status"], "ok", "{health}");
    let (status, stations) = get(&vedetta.url("/api/stations"), None);
    assert_eq!(status, 200, "{stations}");
    assert!(vedetta.terminate().success());
}
