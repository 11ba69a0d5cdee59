//! Precise invalidation from the live-event spine: a change drops the tiles showing it, at every zoom, and no
//! other; the next request has the new data.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{decoded, features, latest, pixel, station};
use database::event::{NewEvent, Spine, append};
use serde_json::json;
use sqlx::PgPool;
use testkit::TestDb;
use tiles::{Invalidator, LayerSet, TileCoord, TileKey, Tiles, TilesOptions};

/// A tile service whose live tiles do not expire on their own during the test: the test asserts which tiles an
/// event dropped and which it kept, and the default 30 s safety-net expiry would drop a kept one on a machine slow
/// enough (each tile is decoded by a Python process).
async fn service() -> (TestDb, PgPool, Arc<Tiles>) {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let options =
        TilesOptions { pool_size: 2, live_ttl: Duration::from_secs(3600), ..TilesOptions::default() };
    let tiles = Tiles::connect(&db.url, options).await.expect("the tile pool connects");
    (db, pool, Arc::new(tiles))
}

/// Commits `sql` and the event in one transaction, as the domains do, and waits until the spine has broadcast it.
/// Then waits until the invalidator has applied it.
async fn commit(tiles: &Tiles, pool: &PgPool, sql: &str, kind: &str, payload: serde_json::Value) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::raw_sql(sql).execute(&mut *tx).await.unwrap();
    let ids = append(&mut tx, &[NewEvent::new(kind, None, payload)]).await.unwrap();
    tx.commit().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while tiles.applied() < ids[0] {
        assert!(std::time::Instant::now() < deadline, "the invalidator did not apply {kind}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn key(layers: &str, coord: TileCoord) -> TileKey {
    TileKey { layers: LayerSet::parse(layers).unwrap(), coord, date: None }
}

#[tokio::test]
async fn a_change_drops_exactly_the_tiles_showing_it_and_the_next_request_has_it() {
    let (_db, pool, tiles) = service().await;
    let (lon, lat) = (8.9339, 44.4073);
    let id =
        station(&pool, "GE-IDRO", "hydrometer", lon, lat, json!({"yellow": 1.0, "orange": 2.0, "red": 3.0}))
            .await;
    latest(&pool, id, 2, 0.5, 1).await;
    // A station far away (Palermo), and the comuni layer.
    station(&pool, "PA-IDRO", "hydrometer", 13.36, 38.12, json!({})).await;
    sqlx::query(
        "insert into core.comune (istat, belfiore, name, geom)
         values ('010025', 'D969', 'Genova', st_multi(st_makeenvelope(8.80, 44.38, 9.05, 44.50, 4326)))",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into alerts.zone (code, name, geom, source)
         values ('B', 'Zona B', st_multi(st_makeenvelope(8.80, 44.30, 8.95, 44.50, 4326)), 'geojson')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let spine = Spine::start(pool.clone(), None);
    Invalidator::start(tiles.clone(), spine.clone(), pool.clone()).await.unwrap();

    let (t14, _, _) = pixel(lon, lat, 14);
    let (t5, _, _) = pixel(lon, lat, 5);
    let (far, _, _) = pixel(13.36, 38.12, 14);
    let first = decoded(&tiles, "stations", 14, t14.x, t14.y, None).await;
    assert_eq!(features(&first, "stations")[0]["properties"]["level"], "verde");
    decoded(&tiles, "stations", 5, t5.x, t5.y, None).await;
    decoded(&tiles, "comuni,stations", 14, t14.x, t14.y, None).await;
    decoded(&tiles, "comuni", 14, t14.x, t14.y, None).await;
    decoded(&tiles, "stations", 14, far.x, far.y, None).await;
    for k in [key("stations", t14), key("stations", t5), key("comuni,stations", t14), key("comuni", t14)] {
        assert!(tiles.cache().get(&k).is_some(), "{k:?} is cached");
    }

    // A reading crosses red: its event drops the station's tiles at every zoom, with any layer set.
    commit(
        &tiles,
        &pool,
        &format!("update sensors.latest set value = 3.4, observed_at = now() where station_id = {id}"),
        "readings.committed",
        json!([{"station": "GE-IDRO", "station_id": id, "quantity": "level", "latest_value": 3.4}]),
    )
    .await;
    for k in [key("stations", t14), key("stations", t5), key("comuni,stations", t14)] {
        assert!(tiles.cache().get(&k).is_none(), "{k:?} was kept");
    }
    // What the change is not under stays.
    assert!(tiles.cache().get(&key("comuni", t14)).is_some(), "the comuni tile was dropped");
    assert!(tiles.cache().get(&key("stations", far)).is_some(), "the Palermo tile was dropped");
    let now = decoded(&tiles, "stations", 14, t14.x, t14.y, None).await;
    let p = &features(&now, "stations")[0]["properties"];
    assert_eq!((p["value"].as_f64(), p["level"].as_str()), (Some(3.4), Some("rossa")), "{now}");

    // A report hidden by moderation leaves the map on the next request.
    let report: i64 = sqlx::query_scalar(
        "insert into reports.report (comune, category, description, geom, tracking_sha256)
         values ('010025', 'frana', 'Smottamento', st_setsrid(st_makepoint(8.9340, 44.4074), 4326), '\\x01')
         returning id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(features(&decoded(&tiles, "reports", 14, t14.x, t14.y, None).await, "reports").len(), 1);
    commit(
        &tiles,
        &pool,
        &format!("update reports.report set hidden = true where id = {report}"),
        "report.changed",
        json!({"change": "moderated", "comune": "010025", "public": false,
               "report": {"id": report, "lon": 8.9340, "lat": 44.4074}}),
    )
    .await;
    assert!(features(&decoded(&tiles, "reports", 14, t14.x, t14.y, None).await, "reports").is_empty());

    // An alert on the zone recolours the zone's tiles.
    let zone_tile = decoded(&tiles, "alert_zones", 14, t14.x, t14.y, None).await;
    assert_eq!(features(&zone_tile, "alert_zones")[0]["properties"]["level"], "verde");
    commit(
        &tiles,
        &pool,
        "insert into alerts.alert (rule, subject_kind, subject, zone, category, hazard, state, level, peak_level,
                                   started_at, fired_at)
         values ('manual', 'zone', 'B', 'B', 'manual', 'idrogeologico', 'firing', 'rossa', 'rossa', now(), now())",
        "alert.changed",
        json!({"id": 1, "subject_kind": "zone", "subject": "B", "zone": "B", "level": "rossa", "state": "firing"}),
    )
    .await;
    let zone_tile = decoded(&tiles, "alert_zones", 14, t14.x, t14.y, None).await;
    assert_eq!(features(&zone_tile, "alert_zones")[0]["properties"]["level"], "rossa");

    // An import drops its layer whole.
    commit(
        &tiles,
        &pool,
        "update core.comune set name = 'Zena'",
        "import.finished",
        json!({"layers": ["comuni"]}),
    )
    .await;
    assert!(tiles.cache().get(&key("comuni", t14)).is_none());
    let renamed = decoded(&tiles, "comuni", 14, t14.x, t14.y, None).await;
    assert_eq!(features(&renamed, "comuni")[0]["properties"]["name"], "Zena");
}
