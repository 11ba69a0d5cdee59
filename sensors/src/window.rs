//! Rolling windows: rain totals as ARPAL/OMIRL publishes them, and level summaries.
//!
//! Windows are computed from the stored readings at the moment they are asked for, over `(now − window, now]`, so
//! they are always current: a late reading counts as soon as it is committed, and old readings leave the window as
//! time passes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::{Quantity, Result};

/// The rain windows, with their length in seconds.
pub const RAIN_WINDOWS: [(&str, i64); 8] = [
    ("5m", 300),
    ("15m", 900),
    ("30m", 1800),
    ("1h", 3600),
    ("3h", 10_800),
    ("6h", 21_600),
    ("12h", 43_200),
    ("24h", 86_400),
];

/// Rain totals (mm) per window, in the order of [`RAIN_WINDOWS`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RainWindows {
    pub at: DateTime<Utc>,
    pub totals_mm: Vec<(&'static str, f64)>,
    /// Readings in the 24 h window.
    pub readings: i64,
}

/// The rain totals of a station at `at`.
pub async fn rain_windows(pool: &PgPool, station_id: i64, at: DateTime<Utc>) -> Result<RainWindows> {
    let row: (f64, f64, f64, f64, f64, f64, f64, f64, i64) = sqlx::query_as(
        "select
            coalesce(sum(value) filter (where observed_at > $2 - interval '5 minutes'), 0),
            coalesce(sum(value) filter (where observed_at > $2 - interval '15 minutes'), 0),
            coalesce(sum(value) filter (where observed_at > $2 - interval '30 minutes'), 0),
            coalesce(sum(value) filter (where observed_at > $2 - interval '1 hour'), 0),
            coalesce(sum(value) filter (where observed_at > $2 - interval '3 hours'), 0),
            coalesce(sum(value) filter (where observed_at > $2 - interval '6 hours'), 0),
            coalesce(sum(value) filter (where observed_at > $2 - interval '12 hours'), 0),
            coalesce(sum(value), 0),
            count(*)
         from sensors.reading
         where station_id = $1 and quantity = 1 and observed_at > $2 - interval '24 hours' and observed_at <= $2",
    )
    .bind(station_id)
    .bind(at)
    .fetch_one(pool)
    .await?;
    let values = [row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7];
    Ok(RainWindows {
        at,
        totals_mm: RAIN_WINDOWS.iter().zip(values).map(|((name, _), v)| (*name, round3(v))).collect(),
        readings: row.8,
    })
}

/// A hydrometer's recent behaviour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelSummary {
    pub at: DateTime<Utc>,
    pub latest: Option<(DateTime<Utc>, f64)>,
    /// Highest level (m) per window.
    pub max_m: Vec<(&'static str, Option<f64>)>,
    /// Rate of rise over the last hour, m/h (negative when falling); `None` without two readings an hour apart.
    pub rate_m_per_h: Option<f64>,
}

/// The level summary of a station at `at`.
pub async fn level_summary(pool: &PgPool, station_id: i64, at: DateTime<Utc>) -> Result<LevelSummary> {
    let maxima: (Option<f64>, Option<f64>, Option<f64>, Option<f64>) = sqlx::query_as(
        "select
            max(value) filter (where observed_at > $2 - interval '1 hour'),
            max(value) filter (where observed_at > $2 - interval '3 hours'),
            max(value) filter (where observed_at > $2 - interval '6 hours'),
            max(value)
         from sensors.reading
         where station_id = $1 and quantity = 2 and observed_at > $2 - interval '24 hours' and observed_at <= $2",
    )
    .bind(station_id)
    .bind(at)
    .fetch_one(pool)
    .await?;
    let latest: Option<(DateTime<Utc>, f64)> = sqlx::query_as(
        "select observed_at, value from sensors.reading
         where station_id = $1 and quantity = 2 and observed_at <= $2 order by observed_at desc limit 1",
    )
    .bind(station_id)
    .bind(at)
    .fetch_optional(pool)
    .await?;
    // The rate compares the latest reading with the last one at least an hour older (within three hours).
    let rate = match latest {
        Some((t, v)) => {
            let earlier: Option<(DateTime<Utc>, f64)> = sqlx::query_as(
                "select observed_at, value from sensors.reading
                 where station_id = $1 and quantity = 2 and observed_at <= $2 - interval '1 hour'
                   and observed_at > $2 - interval '3 hours'
                 order by observed_at desc limit 1",
            )
            .bind(station_id)
            .bind(t)
            .fetch_optional(pool)
            .await?;
            earlier.map(|(t0, v0)| round3((v - v0) / ((t - t0).num_seconds() as f64 / 3600.0)))
        }
        None => None,
    };
    Ok(LevelSummary {
        at,
        latest,
        max_m: vec![("1h", maxima.0), ("3h", maxima.1), ("6h", maxima.2), ("24h", maxima.3)],
        rate_m_per_h: rate,
    })
}

/// The summary appropriate to a quantity, as JSON.
pub async fn summary_json(
    pool: &PgPool,
    station_id: i64,
    quantity: Quantity,
    at: DateTime<Utc>,
) -> Result<serde_json::Value> {
    Ok(match quantity {
        Quantity::Rain => {
            let w = rain_windows(pool, station_id, at).await?;
            let totals: serde_json::Map<String, serde_json::Value> =
                w.totals_mm.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect();
            serde_json::json!({ "quantity": "rain", "unit": "mm", "at": w.at, "totals": totals, "readings_24h": w.readings })
        }
        Quantity::Level => {
            let s = level_summary(pool, station_id, at).await?;
            let max: serde_json::Map<String, serde_json::Value> =
                s.max_m.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect();
            serde_json::json!({
                "quantity": "level", "unit": "m", "at": s.at,
                "latest": s.latest.map(|(t, v)| serde_json::json!({ "t": t, "v": v })),
                "max": max,
                "rate_m_per_h": s.rate_m_per_h,
            })
        }
    })
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
