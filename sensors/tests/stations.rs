//! Stations on a real PostGIS database: creation is an insert, every write is validated before it and committed only
//! when it reads back as sent, look-ups of impossible codes never reach PostgreSQL, and the repair migration.

use sensors::station::Thresholds;
use sensors::store;
use sensors::{Error, StationInput};
use serde_json::{Value, json};
use testkit::TestDb;

fn feature(code: &str, kind: &str, extra: Value) -> Value {
    let mut props = json!({"code": code, "name": format!("Stazione {code}"), "kind": kind});
    props.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [8.93, 44.41]}, "properties": props})
}

fn input(code: &str, kind: &str, extra: Value) -> StationInput {
    StationInput::from_feature(&feature(code, kind, extra)).unwrap()
}

async fn count(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from sensors.station").fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn creating_a_station_twice_is_a_conflict_and_replaces_nothing() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let first = store::insert_station(&pool, &input("DUP-01", "hydrometer", json!({"river": "Bisagno"})))
        .await
        .unwrap();
    let err = store::insert_station(&pool, &input("DUP-01", "rain_gauge", json!({"river": "Polcevera"})))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::DuplicateStation { code } if code == "DUP-01"), "{err}");
    let stored = store::station(&pool, "DUP-01").await.unwrap();
    assert_eq!(stored, first, "the first definition stands");
}

#[tokio::test]
async fn simultaneous_creations_of_one_code_give_one_station_and_one_conflict() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    for round in 0..10 {
        let code = format!("RACE-{round}");
        let (a, b) = (
            input(&code, "hydrometer", json!({"river": "A"})),
            input(&code, "hydrometer", json!({"river": "B"})),
        );
        let (pa, pb) = (pool.clone(), pool.clone());
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { store::insert_station(&pa, &a).await }),
            tokio::spawn(async move { store::insert_station(&pb, &b).await })
        );
        let results = [ra.unwrap(), rb.unwrap()];
        let created: Vec<&sensors::Station> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(created.len(), 1, "exactly one creation wins: {results:?}");
        assert!(
            results.iter().any(|r| matches!(r, Err(Error::DuplicateStation { .. }))),
            "the other is a conflict: {results:?}"
        );
        // The winner is what is stored.
        assert_eq!(&store::station(&pool, &code).await.unwrap(), created[0]);
    }
}

#[tokio::test]
async fn invalid_numbers_are_refused_before_anything_is_written() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    // Built by hand, as a caller that skipped `from_feature` would: the store checks again.
    let mut bad = input("BIG-01", "hydrometer", json!({}));
    bad.thresholds = Thresholds::Level {
        levels: sensors::station::Levels { yellow: Some(1.7976931348623157e308), orange: None, red: None },
        clear: None,
    };
    let err = store::upsert_station(&pool, &bad).await.unwrap_err();
    assert!(matches!(err, Error::InvalidStation { .. }), "{err}");
    assert!(err.to_string().contains("thresholds.yellow"), "{err}");
    let err = store::insert_station(&pool, &bad).await.unwrap_err();
    assert!(matches!(err, Error::InvalidStation { .. }), "{err}");
    let mut bad = input("BIG-02", "rain_gauge", json!({}));
    bad.elevation_m = Some(f64::MAX);
    assert!(store::insert_station(&pool, &bad).await.is_err());
    bad.elevation_m = None;
    bad.name = "a\0b".into();
    assert!(matches!(store::insert_station(&pool, &bad).await.unwrap_err(), Error::InvalidStation { .. }));
    assert_eq!(count(&pool).await, 0, "nothing was committed");
    // The listing still works for everybody.
    assert!(store::stations(&pool).await.unwrap().is_empty());
}

#[tokio::test]
async fn what_is_stored_reads_back_as_sent() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let sent = input(
        "RT-01",
        "hydrometer",
        json!({"range": [-10000, 10000], "elevation": -500, "interval_s": 86400,
               "thresholds": {"yellow": 2.5, "orange": 3.2, "red": 9999.999, "clear": {"yellow": 2.3}},
               "qc": {"max_step_m_per_min": 0.25, "flat_line_s": 3600},
               "properties": {"n": 1e15, "small": 5e-324, "list": [1, 2.5, "x"], "nested": {"a": null}}}),
    );
    let stored = store::insert_station(&pool, &sent).await.unwrap();
    assert_eq!(stored.def, StationInput { comune: stored.comune.clone(), ..sent.clone() });
    assert_eq!(store::station(&pool, "RT-01").await.unwrap(), stored);
    let (updated, created) = store::upsert_station(&pool, &sent).await.unwrap();
    assert!(!created);
    assert_eq!(updated, stored);
}

#[tokio::test]
async fn codes_no_station_can_have_are_unknown_without_a_database_error() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    store::insert_station(&pool, &input("GE-01", "rain_gauge", json!({}))).await.unwrap();
    for code in ["a\0b", "", "a b", &"x".repeat(10_000), "GE-01\0"] {
        let err = store::station(&pool, code).await.unwrap_err();
        assert!(matches!(err, Error::UnknownStation(_)), "{code:?}: {err}");
        assert!(!store::delete_station(&pool, code).await.unwrap(), "{code:?}");
    }
    let mut conn = pool.acquire().await.unwrap();
    let found = store::stations_by_code(&mut conn, &["GE-01".into(), "a\0b".into()]).await.unwrap();
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn stations_are_listed_a_page_at_a_time() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    for code in ["C", "A", "B", "E", "D"] {
        store::insert_station(&pool, &input(code, "rain_gauge", json!({}))).await.unwrap();
    }
    let codes = |page: Vec<sensors::Station>| page.into_iter().map(|s| s.def.code).collect::<Vec<_>>();
    assert_eq!(codes(store::stations_page(&pool, None, 2).await.unwrap()), ["A", "B"]);
    assert_eq!(codes(store::stations_page(&pool, Some("B"), 2).await.unwrap()), ["C", "D"]);
    assert_eq!(codes(store::stations_page(&pool, Some("D"), 2).await.unwrap()), ["E"]);
    assert_eq!(codes(store::stations_page(&pool, Some("B\0x"), 10).await.unwrap()), ["C", "D", "E"]);
}

#[tokio::test]
async fn the_repair_migration_moves_readings_out_of_span_and_fixes_latest_and_poisoned_json() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = store::insert_station(&pool, &input("REP-01", "hydrometer", json!({}))).await.unwrap().id;
    let other = store::insert_station(&pool, &input("REP-02", "hydrometer", json!({}))).await.unwrap().id;
    // What the unchecked ingest of earlier versions could store: a reading in 9999 that became the latest.
    sqlx::raw_sql(&format!(
        "select sensors.ensure_reading_partition('2026-11-01T00:00:00Z');
         select sensors.ensure_reading_partition('9999-12-01T00:00:00Z');
         insert into sensors.reading (station_id, quantity, observed_at, value, qc, received_at) values
             ({id}, 2, '2026-11-20T10:00:00Z', 1.5, 0, '2026-11-20T10:00:01Z'),
             ({id}, 2, '2026-11-20T10:05:00Z', 1.6, 16, '2026-11-20T09:00:00Z'),
             ({id}, 2, '9999-12-31T00:00:00Z', 7.0, 16, '2026-11-20T10:06:00Z'),
             ({other}, 2, '2026-11-20T10:00:00Z', 3.0, 0, '2026-11-20T10:00:01Z');
         insert into sensors.latest (station_id, quantity, observed_at, value, qc, run_since) values
             ({id}, 2, '9999-12-31T00:00:00Z', 7.0, 16, '9999-12-31T00:00:00Z'),
             ({other}, 2, '2026-11-20T10:00:00Z', 3.0, 0, '2026-11-20T10:00:00Z');
         update sensors.station set thresholds = '{{\"yellow\": 1.7976931348623157e308}}',
             properties = '{{\"keep\": 1, \"big\": [-1.7976931348623157e308]}}' where id = {other};"
    ))
    .execute(&pool)
    .await
    .unwrap();
    assert!(store::stations(&pool).await.is_err(), "the poisoned row breaks the listing before the repair");

    let mut tx = pool.begin().await.unwrap();
    sqlx::raw_sql(include_str!("../../migrations/20261129000002_sensors_repair.sql"))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let latest = store::latest(&pool, id, sensors::Quantity::Level).await.unwrap().unwrap();
    assert_eq!((latest.observed_at.to_rfc3339(), latest.value), ("2026-11-20T10:00:00+00:00".into(), 1.5));
    let untouched = store::latest(&pool, other, sensors::Quantity::Level).await.unwrap().unwrap();
    assert_eq!(untouched.value, 3.0);
    let readings: i64 =
        sqlx::query_scalar("select count(*) from sensors.reading").fetch_one(&pool).await.unwrap();
    assert_eq!(readings, 3, "only the reading of year 9999 left");
    let (kind, reason): (String, String) =
        sqlx::query_as("select kind, reason from sensors.dead_letter").fetch_one(&pool).await.unwrap();
    assert_eq!(kind, "time_out_of_range");
    assert!(reason.starts_with("t: 9999-12-31T00:00:00Z is more than a day"), "{reason}");

    let stations = store::stations(&pool).await.unwrap();
    let repaired = stations.iter().find(|s| s.id == other).unwrap();
    assert_eq!(repaired.thresholds.to_json(), json!({}));
    assert!(repaired.properties["invalid_properties"].as_str().unwrap().contains("keep"));
    assert!(repaired.properties["invalid_thresholds"].as_str().unwrap().contains("yellow"));
}

#[tokio::test]
async fn stations_take_the_comune_that_contains_them() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    store::insert_station(&pool, &input("LOC-01", "rain_gauge", json!({}))).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(store::locate_stations(&mut conn).await.unwrap(), 0, "no comune loaded: nothing changes");
    sqlx::query(
        "insert into core.comune (istat, belfiore, name, geom) values ('010025', 'D969', 'Genova',
             st_multi(st_makeenvelope(8.8, 44.3, 9.1, 44.5, 4326)))",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(store::locate_stations(&mut conn).await.unwrap(), 1);
    assert_eq!(store::station(&pool, "LOC-01").await.unwrap().comune.as_deref(), Some("010025"));
    assert_eq!(store::locate_stations(&mut conn).await.unwrap(), 0, "only what changes is written");
}

#[tokio::test]
async fn updating_a_station_again_and_again_uses_up_no_station_id() {
    // Station ids are part of SensorThings Observation ids, so they must not grow with every re-import.
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let (first, created) =
        store::upsert_station(&pool, &input("UPS-01", "hydrometer", json!({}))).await.unwrap();
    assert!(created);
    for n in 0..20 {
        let (again, created) =
            store::upsert_station(&pool, &input("UPS-01", "hydrometer", json!({"river": format!("R{n}")})))
                .await
                .unwrap();
        assert!(!created);
        assert_eq!(again.id, first.id);
    }
    let (next, created) =
        store::upsert_station(&pool, &input("UPS-02", "rain_gauge", json!({}))).await.unwrap();
    assert!(created);
    assert_eq!(next.id, first.id + 1, "twenty updates consumed no identity value");
}

#[tokio::test]
async fn every_station_change_is_announced_on_the_spine_with_its_positions() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    store::insert_station(&pool, &input("EV-01", "hydrometer", json!({}))).await.unwrap();
    let mut moved = input("EV-01", "hydrometer", json!({}));
    moved.lon = 8.95;
    store::upsert_station(&pool, &moved).await.unwrap();
    assert!(store::delete_station(&pool, "EV-01").await.unwrap());
    let events: Vec<Value> = sqlx::query_scalar(
        "select payload from core.event where kind = 'station.changed' and subject = 'EV-01' order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let changes: Vec<&str> = events.iter().map(|e| e["change"].as_str().unwrap()).collect();
    assert_eq!(changes, ["created", "updated", "deleted"]);
    assert_eq!(events[1]["position"], json!({"lon": 8.95, "lat": 44.41}));
    assert_eq!(
        events[1]["previous"],
        json!({"lon": 8.93, "lat": 44.41}),
        "the tiles of the old place are stale too"
    );
    assert_eq!(events[2]["position"], Value::Null);
    assert_eq!(events[2]["previous"], json!({"lon": 8.95, "lat": 44.41}));
}
