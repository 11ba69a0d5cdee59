//! Zoning queries under hostile input, on a real PostGIS: the parcel is judged in Rust before PostGIS works on it,
//! the statements run under a time limit, and the database is fine afterwards.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use geodata::zoning::{self, Parcel, ZoningOptions};
use serde_json::{Value, json};
use testkit::TestDb;

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

/// A circle of `n` vertices around (`x`, `y`), radius `r` degrees.
fn circle(x: f64, y: f64, r: f64, n: usize) -> Value {
    let mut ring: Vec<Value> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            json!([x + r * a.cos(), y + r * a.sin()])
        })
        .collect();
    ring.push(ring[0].clone());
    json!({"type": "Polygon", "coordinates": [ring]})
}

/// A star polygon {n/(n/2 - 1)} around Genova: every edge crosses many others. The 1,000-vertex one took
/// PostGIS past 30 s and gigabytes; cancelling it crashed PostgreSQL 15 with PostGIS 3.3.
fn star(n: usize) -> Value {
    let k = n / 2 - 1;
    let mut ring: Vec<Value> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * ((i * k) % n) as f64 / n as f64;
            json!([8.94 + 0.01 * a.cos(), 44.41 + 0.01 * a.sin()])
        })
        .collect();
    ring.push(ring[0].clone());
    json!({"type": "Polygon", "coordinates": [ring]})
}

/// A plan with one zone, the given geometry.
async fn plan(pool: &sqlx::PgPool, geometry: Value) {
    let zones = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": geometry, "properties": {"zona": "BR", "zto": "B"}}
    ]});
    let opts = ZoningOptions {
        plan: "PUC Genova".into(),
        version: "2000".into(),
        approved: date("2000-01-01"),
        variant_of: None,
        source_file: None,
    };
    zoning::import(pool, &zones, &opts).await.unwrap();
}

async fn zone_rows(pool: &sqlx::PgPool) -> (i64, i64) {
    sqlx::query_as("select (select count(*) from zoning.zone), (select count(*) from zoning.plan_version)")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Statements still running in this database, other than the one asking.
async fn running(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_stat_activity
         where datname = current_database() and state = 'active' and pid <> pg_backend_pid()",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_self_intersecting_star_is_refused_before_postgis_sees_it() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    plan(&pool, square(8.92, 44.40, 8.96, 44.42)).await;
    let before = zone_rows(&pool).await;

    for (n, kind) in [(1_000, "intersects itself"), (20_000, "20001 vertices")] {
        let body = star(n);
        let started = Instant::now();
        let err = zoning::intersect(&pool, &body, date("2020-01-01"), None).await.unwrap_err();
        let took = started.elapsed();
        assert!(err.to_string().contains(kind), "{n}: {err}");
        // Microseconds in Rust; a second is a wide margin on any machine (PostGIS alone took more than 30 s).
        assert!(took < Duration::from_secs(1), "{n} vertices took {took:?}");
        eprintln!("star of {n} vertices refused in {took:?}: {err}");
    }
    assert_eq!(running(&pool).await, 0, "nothing left running in PostgreSQL");
    assert_eq!(zone_rows(&pool).await, before);

    // PostgreSQL is up and answers the real question.
    let (area, overlaps) =
        zoning::intersect(&pool, &square(8.93, 44.405, 8.95, 44.41), date("2020-01-01"), None).await.unwrap();
    assert!(area > 0.0 && overlaps.len() == 1 && (overlaps[0].share - 1.0).abs() < 1e-3, "{overlaps:?}");
}

#[tokio::test]
async fn a_query_past_its_time_limit_is_stopped_and_the_database_stays_up() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    // A zone of 200,000 vertices: intersecting it takes PostGIS far longer than a millisecond.
    plan(&pool, circle(8.94, 44.41, 0.02, 200_000)).await;
    let parcel = Parcel::from_geojson(&square(8.93, 44.40, 8.98, 44.42)).unwrap();

    let limit = Duration::from_millis(1);
    let err = zoning::intersect_parcel(&pool, &parcel, date("2020-01-01"), None, limit).await.unwrap_err();
    assert!(matches!(err, geodata::Error::Timeout { after } if after == limit), "{err:?}");
    assert!(err.to_string().contains("took longer than 0.001 s"), "{err}");

    // The timeout was the transaction's own: the pool's connections run without it, and the same query with room
    // enough gives the answer. PostgreSQL did not crash (cancelling GEOS work crashed PostGIS 3.3 in ST_MakeValid,
    // which this path never calls).
    let one: i32 = sqlx::query_scalar("select 1").fetch_one(&pool).await.unwrap();
    assert_eq!(one, 1);
    let (area, overlaps) =
        zoning::intersect_parcel(&pool, &parcel, date("2020-01-01"), None, Duration::from_secs(30))
            .await
            .unwrap();
    assert!(area > 0.0 && overlaps.len() == 1, "{overlaps:?}");
    let timeout: String = sqlx::query_scalar("show statement_timeout").fetch_one(&pool).await.unwrap();
    assert_ne!(timeout, "1ms", "set local ends with its transaction");
}

#[tokio::test]
async fn bad_parameters_are_refused_before_the_database() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    plan(&pool, square(8.92, 44.40, 8.96, 44.42)).await;
    let parcel = square(8.93, 44.405, 8.95, 44.41);
    let input = |e: geodata::Error, field: &str| match e {
        geodata::Error::InvalidInput { field: f, .. } => assert_eq!(f, field),
        other => panic!("{field}: {other:?}"),
    };
    input(
        zoning::intersect(&pool, &parcel, date("2020-01-01"), Some("PUC\0Genova")).await.unwrap_err(),
        "plan",
    );
    input(zoning::at(&pool, 8.94, 44.41, date("2020-01-01"), Some("x\0")).await.unwrap_err(), "plan");
    input(zoning::at(&pool, 8.94, 44.41, NaiveDate::MAX, None).await.unwrap_err(), "date");
    input(zoning::intersect(&pool, &parcel, NaiveDate::MIN, None).await.unwrap_err(), "date");
    let long = "P".repeat(201);
    input(zoning::at(&pool, 8.94, 44.41, date("2020-01-01"), Some(&long)).await.unwrap_err(), "plan");
    assert!(matches!(
        zoning::at(&pool, 500.0, 44.41, date("2020-01-01"), None).await,
        Err(geodata::Error::InvalidGeometry { .. })
    ));
    // What is right still works.
    assert_eq!(
        zoning::at(&pool, 8.94, 44.41, date("2020-01-01"), Some("PUC Genova")).await.unwrap().len(),
        1
    );
}
