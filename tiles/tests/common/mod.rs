//! What the tile tests share: a tile service on a fresh database, the independent decoder, tile arithmetic.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::Value;
use sqlx::PgPool;
use testkit::TestDb;
use tiles::{TileCoord, TileRequest, Tiles, TilesOptions};

/// A fresh database, a pool on it and a tile service (two connections: tests are small).
pub async fn service() -> (TestDb, PgPool, Arc<Tiles>) {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let options = TilesOptions { pool_size: 2, ..TilesOptions::default() };
    let tiles = Tiles::connect(&db.url, options).await.expect("the tile pool connects");
    (db, pool, Arc::new(tiles))
}

/// The tile `layers`/`z`/`x`/`y` decoded by the independent decoder (`mapbox-vector-tile`, tests/.venv).
pub async fn decoded(tiles: &Tiles, layers: &str, z: u8, x: u32, y: u32, date: Option<&str>) -> Value {
    let request =
        TileRequest::parse(layers, &z.to_string(), &x.to_string(), &format!("{y}.mvt"), date).unwrap();
    let tile = tiles.tile(&request).await.expect("the tile is made");
    decode(tile.raw())
}

/// Several tiles decoded at once (one start of the decoder): `(layers, z, x, y)` each.
pub async fn decoded_many(tiles: &Tiles, which: &[(&str, u8, u32, u32)]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, (layers, z, x, y)) in which.iter().enumerate() {
        let request =
            TileRequest::parse(layers, &z.to_string(), &x.to_string(), &format!("{y}.mvt"), None).unwrap();
        let tile = tiles.tile(&request).await.expect("the tile is made");
        let path = dir.path().join(format!("{i}.mvt"));
        std::fs::write(&path, tile.raw()).unwrap();
        paths.push(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("clients/decode_tile.py"))
        .args(&paths)
        .output()
        .expect("run the decoder");
    assert!(out.status.success(), "decode_tile.py failed: {}", String::from_utf8_lossy(&out.stderr));
    match serde_json::from_slice(&out.stdout).expect("the decoder prints JSON") {
        Value::Array(tiles) => tiles,
        other => panic!("not an array: {other}"),
    }
}

/// MVT bytes decoded by tests/clients/decode_tile.py.
pub fn decode(bytes: &[u8]) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/python-clients.sh (make test-deps)",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(root.join("clients/decode_tile.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the decoder");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "decode_tile.py failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the decoder prints JSON")
}

/// Where a WGS84 position falls in the tile of zoom `z` that contains it: the tile and the position in tile units
/// (0–4096, y down), by the Web Mercator formulas.
pub fn pixel(lon: f64, lat: f64, z: u8) -> (TileCoord, f64, f64) {
    let n = f64::from(1u32 << z);
    let fx = (lon + 180.0) / 360.0 * n;
    let phi = lat.to_radians();
    let fy = (1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    let coord = TileCoord { z, x: fx.floor() as u32, y: fy.floor() as u32 };
    (coord, (fx - fx.floor()) * 4096.0, (fy - fy.floor()) * 4096.0)
}

/// The features of `layer` in a decoded tile (none when the layer is absent).
pub fn features<'a>(tile: &'a Value, layer: &str) -> Vec<&'a Value> {
    tile[layer]["features"].as_array().map(|f| f.iter().collect()).unwrap_or_default()
}

/// Inserts a station; returns its id.
pub async fn station(pool: &PgPool, code: &str, kind: &str, lon: f64, lat: f64, thresholds: Value) -> i64 {
    sqlx::query_scalar(
        "insert into sensors.station (code, name, kind, geom, thresholds, interval_s)
         values ($1, $1, $2, st_setsrid(st_makepoint($3, $4), 4326), $5, 300) returning id",
    )
    .bind(code)
    .bind(kind)
    .bind(lon)
    .bind(lat)
    .bind(thresholds)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Sets a station's latest reading (quantity 1 rain, 2 level), `minutes_ago` old.
pub async fn latest(pool: &PgPool, station_id: i64, quantity: i16, value: f64, minutes_ago: i32) {
    sqlx::query(
        "insert into sensors.latest (station_id, quantity, observed_at, value, run_since)
         values ($1, $2, now() - make_interval(mins => $4), $3, now() - make_interval(mins => $4))
         on conflict (station_id, quantity) do update set observed_at = excluded.observed_at, value = excluded.value",
    )
    .bind(station_id)
    .bind(quantity)
    .bind(value)
    .bind(minutes_ago)
    .execute(pool)
    .await
    .unwrap();
}

/// Makes the partition of a DB Topografico class (as the DBT importer does) and inserts objects `(key, WKT)`.
pub async fn dbt_objects(pool: &PgPool, class: &str, objects: &[(&str, &str)]) {
    let table = class.to_lowercase();
    sqlx::query("select topo.create_class_table($1, $2)")
        .bind(class)
        .bind(&table)
        .execute(pool)
        .await
        .unwrap();
    let release: i64 = sqlx::query_scalar(
        "insert into topo.release (class, label, source_file, crs, valid_from) values ($1, 'test', 'test', 'EPSG:4326', now()) returning id",
    )
    .bind(class)
    .fetch_one(pool)
    .await
    .unwrap();
    for (i, (key, wkt)) in objects.iter().enumerate() {
        sqlx::query(&format!(
            "insert into topo.{table} (class, key, valid_from, release_id, code, source_index, attrs, geom, digest)
             values ($1, $2, now(), $3, $2, $4, '{{}}', st_geomfromtext($5, 4326), 0)"
        ))
        .bind(class)
        .bind(key)
        .bind(release)
        .bind(i as i64)
        .bind(wkt)
        .execute(pool)
        .await
        .unwrap();
    }
    for sql in [
        format!("create unique index {table}_pkey on topo.{table} (class, key, valid_from)"),
        format!("create index {table}_geom_idx on topo.{table} using gist (geom)"),
    ] {
        sqlx::query(&sql).execute(pool).await.unwrap();
    }
    sqlx::query("select topo.attach_class_table($1, $2)")
        .bind(class)
        .bind(&table)
        .execute(pool)
        .await
        .unwrap();
}

/// The WGS84 position at tile units (`px`, `py`) of `coord` (the inverse of [`pixel`]).
pub fn position(coord: TileCoord, px: f64, py: f64) -> (f64, f64) {
    let n = f64::from(1u32 << coord.z);
    let fx = f64::from(coord.x) + px / 4096.0;
    let fy = f64::from(coord.y) + py / 4096.0;
    let lon = fx / n * 360.0 - 180.0;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * fy / n)).sinh().atan().to_degrees();
    (lon, lat)
}
