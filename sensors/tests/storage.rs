//! Storage, windows and partitions on a real PostGIS database.

use chrono::{DateTime, Duration, Utc};
use sensors::qc::Flags;
use sensors::store::{self, Partitions, ReadingRow};
use sensors::{Quantity, StationInput, window};
use serde_json::json;
use testkit::TestDb;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn station(pool: &sqlx::PgPool, code: &str, kind: &str) -> i64 {
    let feature = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [8.93, 44.41]},
        "properties": {"code": code, "name": code, "kind": kind}});
    store::upsert_station(pool, &StationInput::from_feature(&feature).unwrap()).await.unwrap().0.id
}

async fn insert(pool: &sqlx::PgPool, id: i64, q: Quantity, rows: &[(&str, f64)]) -> usize {
    let rows: Vec<ReadingRow> = rows
        .iter()
        .map(|(at, v)| ReadingRow {
            station_id: id,
            quantity: q,
            observed_at: t(at),
            value: *v,
            qc: Flags::default(),
            received_at: Utc::now(),
        })
        .collect();
    let mut conn = pool.acquire().await.unwrap();
    let partitions = Partitions::default();
    let months = partitions.ensure(&mut conn, rows.iter().map(|r| r.observed_at)).await.unwrap();
    partitions.remember(months);
    store::insert_readings(&mut conn, &rows).await.unwrap().len()
}

#[tokio::test]
async fn rain_windows_count_every_reading_once_and_late_ones_too() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = station(&pool, "W-PLUV", "rain_gauge").await;
    let at = t("2026-11-21T12:00:00Z");
    let rows: Vec<(String, f64)> = [
        (2, 1.0),
        (10, 2.0),
        (20, 3.0),
        (50, 4.0),
        (150, 5.0),
        (300, 6.0),
        (700, 7.0),
        (1400, 8.0),
        (1500, 100.0),
    ]
    .iter()
    .map(|(minutes_ago, v)| ((at - Duration::minutes(*minutes_ago)).to_rfc3339(), *v))
    .collect();
    let refs: Vec<(&str, f64)> = rows.iter().map(|(s, v)| (s.as_str(), *v)).collect();
    assert_eq!(insert(&pool, id, Quantity::Rain, &refs).await, 9);
    assert_eq!(insert(&pool, id, Quantity::Rain, &refs[..3]).await, 0, "stored once");
    let w = window::rain_windows(&pool, id, at).await.unwrap();
    let totals: Vec<f64> = w.totals_mm.iter().map(|(_, v)| *v).collect();
    assert_eq!(totals, [1.0, 3.0, 6.0, 10.0, 15.0, 21.0, 28.0, 36.0], "5m … 24h");
    // A late reading (arrived now, observed 4 minutes ago) counts as soon as it is stored.
    insert(&pool, id, Quantity::Rain, &[(&(at - Duration::minutes(4)).to_rfc3339(), 0.5)]).await;
    let w = window::rain_windows(&pool, id, at).await.unwrap();
    assert_eq!(w.totals_mm[0], ("5m", 1.5));
    assert_eq!(w.totals_mm[7], ("24h", 36.5));
}

#[tokio::test]
async fn level_summary_has_maxima_and_rate_of_rise() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = station(&pool, "W-IDRO", "hydrometer").await;
    insert(
        &pool,
        id,
        Quantity::Level,
        &[
            ("2026-11-21T09:00:00Z", 1.0),
            ("2026-11-21T10:00:00Z", 1.5),
            ("2026-11-21T10:30:00Z", 2.4),
            ("2026-11-21T11:00:00Z", 2.0),
        ],
    )
    .await;
    let s = window::level_summary(&pool, id, t("2026-11-21T11:00:00Z")).await.unwrap();
    assert_eq!(s.latest, Some((t("2026-11-21T11:00:00Z"), 2.0)));
    assert_eq!(s.max_m[0], ("1h", Some(2.4)));
    assert_eq!(s.rate_m_per_h, Some(0.5), "(2.0 − 1.5) m over the last hour");
}

#[tokio::test]
async fn partitions_are_created_for_any_month_and_dropped_past_retention() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = station(&pool, "P-PLUV", "rain_gauge").await;
    insert(&pool, id, Quantity::Rain, &[("2019-01-15T10:00:00Z", 1.0), ("2026-11-21T10:00:00Z", 2.0)]).await;
    let parts: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid
         where i.inhparent = 'sensors.reading'::regclass order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        parts.contains(&"reading_201901".to_string()) && parts.contains(&"reading_202611".to_string()),
        "{parts:?}"
    );
    let dropped = store::drop_partitions_before(&pool, t("2020-01-01T00:00:00Z")).await.unwrap();
    assert_eq!(dropped, ["reading_201901"]);
    let left: i64 =
        sqlx::query_scalar("select count(*) from sensors.reading").fetch_one(&pool).await.unwrap();
    assert_eq!(left, 1);
}

#[tokio::test]
async fn latest_never_moves_backwards() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = station(&pool, "L-IDRO", "hydrometer").await;
    let mut conn = pool.acquire().await.unwrap();
    let prev = |at: &str, v: f64| sensors::qc::Previous { observed_at: t(at), value: v, run_since: t(at) };
    store::advance_latest(
        &mut conn,
        &[(id, Quantity::Level, prev("2026-11-21T10:00:00Z", 2.0), Flags::default())],
    )
    .await
    .unwrap();
    store::advance_latest(
        &mut conn,
        &[(id, Quantity::Level, prev("2026-11-21T09:00:00Z", 1.0), Flags::default())],
    )
    .await
    .unwrap();
    let latest = store::latest(&pool, id, Quantity::Level).await.unwrap().unwrap();
    assert_eq!((latest.observed_at, latest.value), (t("2026-11-21T10:00:00Z"), 2.0));
}

#[tokio::test]
async fn a_rolled_back_batch_leaves_no_partition_in_the_cache() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = station(&pool, "RB-PLUV", "rain_gauge").await;
    let partitions = Partitions::default();
    let at = t("2019-06-15T10:00:00Z");
    // A batch creates the partition of June 2019, then rolls back: the partition goes with it.
    let mut tx = pool.begin().await.unwrap();
    let months = partitions.ensure(&mut tx, [at]).await.unwrap();
    assert_eq!(months.months(), [(2019, 6)]);
    tx.rollback().await.unwrap();
    drop(months); // never remembered: the transaction did not commit
    // The next batch of that month creates it again and stores its reading.
    let mut tx = pool.begin().await.unwrap();
    let months = partitions.ensure(&mut tx, [at]).await.unwrap();
    assert_eq!(months.months(), [(2019, 6)], "the month was not cached by the rolled-back batch");
    let row = ReadingRow {
        station_id: id,
        quantity: Quantity::Rain,
        observed_at: at,
        value: 0.4,
        qc: Flags::default(),
        received_at: Utc::now(),
    };
    assert_eq!(store::insert_readings(&mut tx, &[row]).await.unwrap().len(), 1);
    tx.commit().await.unwrap();
    partitions.remember(months);
    // Once committed, the month is known and not asked for again.
    let mut conn = pool.acquire().await.unwrap();
    assert!(partitions.ensure(&mut conn, [at]).await.unwrap().months().is_empty());
}

#[tokio::test]
async fn a_reading_whose_partition_was_dropped_is_recognised() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = station(&pool, "DP-PLUV", "rain_gauge").await;
    insert(&pool, id, Quantity::Rain, &[("2018-03-01T10:00:00Z", 1.0)]).await;
    store::drop_partitions_before(&pool, t("2019-01-01T00:00:00Z")).await.unwrap();
    let row = ReadingRow {
        station_id: id,
        quantity: Quantity::Rain,
        observed_at: t("2018-03-01T11:00:00Z"),
        value: 1.0,
        qc: Flags::default(),
        received_at: Utc::now(),
    };
    let mut conn = pool.acquire().await.unwrap();
    let err = store::insert_readings(&mut conn, &[row]).await.unwrap_err();
    assert!(err.is_missing_partition(), "{err}");
    assert!(!err.is_transient(), "bad data is never retried as an outage");
}
