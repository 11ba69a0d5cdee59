//! The data both servers read, loaded the way a user loads it: the real `vedetta import` commands (DB Topografico
//! of Venezia, the comuni of the province of Genova, generated stations) and readings published over MQTT to the
//! embedded broker of `vedetta serve`; then the view that publishes the same DB Topografico class to TiPG.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

/// The DB Topografico class both servers publish.
pub const CLASS: &str = "TP_CAN";
/// Vedetta's collection of that class.
pub const VEDETTA_COLLECTION: &str = "dbt-TP_CAN";
/// The view that publishes it to TiPG (schema `public`), and TiPG's collection id.
pub const PEER_VIEW: &str = "dbt_tp_can";
pub const PEER_COLLECTION: &str = "public.dbt_tp_can";

/// Readings per Datastream: a day at one reading every five minutes.
pub const READINGS_PER_STATION: u32 = 288;

/// The repository's `tests/data/<relative>`.
pub fn test_data(relative: &str) -> Result<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data").join(relative);
    ensure!(path.exists(), "test data {} is missing (tests/data/README.md lists the files)", path.display());
    Ok(path.canonicalize().unwrap_or(path))
}

/// `count` stations on a grid over the province of Genova (inside its comuni), alternately rain gauges and
/// hydrometers, as the GeoJSON FeatureCollection `vedetta import stations` reads.
pub fn stations(count: u32) -> Value {
    let columns = 10;
    let rows = count.div_ceil(columns).max(1);
    let features: Vec<Value> = (0..count)
        .map(|i| {
            let (col, row) = (f64::from(i % columns), f64::from(i / columns));
            // Between Voltri and Chiavari, a few kilometres inland of the coast.
            let lon = 8.75 + 0.55 * col / f64::from(columns - 1);
            let lat = 44.42 + 0.12 * row / f64::from(rows.max(2) - 1);
            let kind = if i % 2 == 0 { "rain_gauge" } else { "hydrometer" };
            json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round6(lon), round6(lat)]},
                "properties": {"code": station_code(i), "name": format!("Stazione di prova {}", i + 1), "kind": kind}
            })
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// `BENCH-001`, …
pub fn station_code(i: u32) -> String {
    format!("BENCH-{:03}", i + 1)
}

/// Publishes a day of readings (every five minutes, ending at `end`) for each of `count` stations, one JSON array
/// per station (a gauge flushing its buffer) with `mosquitto_pub` at QoS 1 to the broker on `port`.
pub fn publish_readings(port: u16, count: u32, end: DateTime<Utc>) -> Result<()> {
    let end = end.duration_trunc(TimeDelta::minutes(5)).context("a time that rounds to five minutes")?;
    for i in 0..count {
        let rain = i % 2 == 0;
        let readings: Vec<Value> = (0..READINGS_PER_STATION)
            .map(|k| {
                let t = end - TimeDelta::minutes(5 * i64::from(READINGS_PER_STATION - 1 - k));
                let phase = f64::from(k + i) / 24.0;
                let v = if rain {
                    // mm in five minutes: showers that come and go.
                    (phase.sin() * 1.5).max(0.0)
                } else {
                    // m above the hydrometric zero, slowly rising and falling.
                    1.2 + 0.4 * (phase / 4.0).sin()
                };
                json!({"t": t.to_rfc3339(), "v": (v * 100.0).round() / 100.0})
            })
            .collect();
        let topic = format!("vedetta/v1/sensors/{}/{}", station_code(i), if rain { "rain" } else { "level" });
        let payload = Value::Array(readings).to_string();
        let status = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-t", &topic, "-m", &payload])
            .status()
            .context("cannot run mosquitto_pub (apt-get install mosquitto-clients)")?;
        ensure!(status.success(), "mosquitto_pub to {topic} failed ({status})");
    }
    Ok(())
}

/// Waits until `expected` readings are stored, failing with what is there after `timeout`.
pub async fn wait_for_readings(pool: &PgPool, expected: i64, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let stored: i64 = sqlx::query_scalar("select count(*) from sensors.reading").fetch_one(pool).await?;
        if stored >= expected {
            return Ok(());
        }
        if Instant::now() > deadline {
            let dead: i64 =
                sqlx::query_scalar("select count(*) from sensors.dead_letter").fetch_one(pool).await?;
            bail!("{stored} of {expected} readings stored after {timeout:?} ({dead} dead letters)");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Creates the view that publishes the current objects of [`CLASS`] to TiPG with what Vedetta's collection serves
/// of each: the source `ID` as the feature id, the geometry, the attributes and the registry's members.
pub async fn create_peer_view(pool: &PgPool) -> Result<()> {
    let sql = format!(
        "create view public.{PEER_VIEW} as
         select o.key as id, o.geom, o.attrs, o.class, o.code, o.comune_istat as comune, o.valid_from, o.valid_to,
                r.label as release, o.repaired
         from topo.object o join topo.release r on r.id = o.release_id
         where o.class = '{CLASS}' and o.valid_to is null"
    );
    sqlx::query(&sql).execute(pool).await.context("cannot create the view for TiPG")?;
    Ok(())
}

/// What was loaded.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Current objects of [`CLASS`].
    pub features: i64,
    /// Their extent (minx, miny, maxx, maxy; EPSG:4326).
    pub extent: [f64; 4],
    pub stations: i64,
    pub readings: i64,
    pub comuni: i64,
}

/// Counts what is in the database.
pub async fn loaded(pool: &PgPool) -> Result<Loaded> {
    let (features, minx, miny, maxx, maxy): (i64, Option<f64>, Option<f64>, Option<f64>, Option<f64>) =
        sqlx::query_as(
            "select n, st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e)
             from (select count(*) as n, st_extent(geom)::box3d as e
                   from topo.object where class = $1 and valid_to is null) x",
        )
        .bind(CLASS)
        .fetch_one(pool)
        .await?;
    let (Some(minx), Some(miny), Some(maxx), Some(maxy)) = (minx, miny, maxx, maxy) else {
        bail!("no {CLASS} object was imported");
    };
    let stations: i64 = sqlx::query_scalar("select count(*) from sensors.station").fetch_one(pool).await?;
    let readings: i64 = sqlx::query_scalar("select count(*) from sensors.reading").fetch_one(pool).await?;
    let comuni: i64 = sqlx::query_scalar("select count(*) from core.comune").fetch_one(pool).await?;
    Ok(Loaded { features, extent: [minx, miny, maxx, maxy], stations, readings, comuni })
}
