//! The same answers, written the way a first version would: the peers of the benchmark.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use image::DynamicImage;
use image::imageops::FilterType;
use sqlx::{PgPool, Row};

/// The categories of the default catalogue.
pub const CATEGORIES: [&str; 9] = [
    "buca_stradale",
    "allagamento",
    "frana",
    "caditoia_ostruita",
    "illuminazione",
    "rifiuti",
    "alberi_verde",
    "segnaletica",
    "altro",
];

const STATUSES: [&str; 8] =
    ["new", "acknowledged", "in_progress", "resolved", "closed", "rejected", "duplicate", "reopened"];

/// What both stats peers compute for the comune as a whole, to check them against `reports::stats`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub reports: i64,
    pub ack_median: Option<f64>,
    pub ack_p90: Option<f64>,
    pub resolve_median: Option<f64>,
    pub resolve_p90: Option<f64>,
}

const PUBLIC: &str = "comune = $1 and created_at >= $2 and created_at < $3 and approved and not hidden";

/// `percentile_cont` by hand: the two neighbouring rows fetched with `ORDER BY … OFFSET`, then interpolated.
async fn percentile_sql(
    pool: &PgPool,
    column: &str,
    category: Option<&str>,
    (comune, from, to): (&str, DateTime<Utc>, DateTime<Utc>),
    fraction: f64,
) -> Result<Option<f64>> {
    let filter = if category.is_some() { " and category = $4" } else { "" };
    let count: i64 =
        sqlx::query_scalar(&format!("select count({column}) from reports.report where {PUBLIC}{filter}"))
            .bind(comune)
            .bind(from)
            .bind(to)
            .bind(category)
            .fetch_one(pool)
            .await?;
    if count == 0 {
        return Ok(None);
    }
    let rank = fraction * (count - 1) as f64;
    let offset = rank.floor() as i64;
    let values: Vec<f64> = sqlx::query_scalar(&format!(
        "select extract(epoch from ({column} - created_at))::float8 / 3600 as h from reports.report
          where {PUBLIC}{filter} and {column} is not null order by h offset $5 limit 2"
    ))
    .bind(comune)
    .bind(from)
    .bind(to)
    .bind(category)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let low = values.first().copied().unwrap_or_default();
    let high = values.get(1).copied().unwrap_or(low);
    Ok(Some(low + (rank - offset as f64) * (high - low)))
}

/// A dashboard written as a loop: a count per category and per status, and each median and 90th percentile by
/// `ORDER BY … OFFSET`, per category and for the comune; about 80 statements.
pub async fn stats_sql_loop(
    pool: &PgPool,
    comune: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Figures> {
    let scope = (comune, from, to);
    for category in CATEGORIES {
        let _n: i64 = sqlx::query_scalar(&format!(
            "select count(*) from reports.report where {PUBLIC} and category = $4"
        ))
        .bind(comune)
        .bind(from)
        .bind(to)
        .bind(category)
        .fetch_one(pool)
        .await?;
        for column in ["acknowledged_at", "resolved_at"] {
            for fraction in [0.5, 0.9] {
                percentile_sql(pool, column, Some(category), scope, fraction).await?;
            }
        }
    }
    for status in STATUSES {
        let _n: i64 = sqlx::query_scalar(&format!(
            "select count(*) from reports.report where {PUBLIC} and status = $4"
        ))
        .bind(comune)
        .bind(from)
        .bind(to)
        .bind(status)
        .fetch_one(pool)
        .await?;
    }
    let reports: i64 = sqlx::query_scalar(&format!("select count(*) from reports.report where {PUBLIC}"))
        .bind(comune)
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?;
    Ok(Figures {
        reports,
        ack_median: percentile_sql(pool, "acknowledged_at", None, scope, 0.5).await?,
        ack_p90: percentile_sql(pool, "acknowledged_at", None, scope, 0.9).await?,
        resolve_median: percentile_sql(pool, "resolved_at", None, scope, 0.5).await?,
        resolve_p90: percentile_sql(pool, "resolved_at", None, scope, 0.9).await?,
    })
}

fn percentile(sorted: &[f64], fraction: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = fraction * (sorted.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    Some(sorted[low] + (rank - low as f64) * (sorted[high] - sorted[low]))
}

/// Every row of the comune's period fetched, the figures computed in Rust (sorting per group).
pub async fn stats_in_rust(
    pool: &PgPool,
    comune: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Figures> {
    let rows = sqlx::query(&format!(
        "select category, status, created_at, acknowledged_at, resolved_at from reports.report where {PUBLIC}"
    ))
    .bind(comune)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let hours =
        |a: DateTime<Utc>, b: Option<DateTime<Utc>>| b.map(|b| (b - a).num_milliseconds() as f64 / 3.6e6);
    let mut by_category: BTreeMap<String, (i64, Vec<f64>, Vec<f64>)> = BTreeMap::new();
    let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
    let (mut ack, mut res) = (Vec::new(), Vec::new());
    for row in &rows {
        let category: String = row.try_get("category")?;
        let status: String = row.try_get("status")?;
        let created: DateTime<Utc> = row.try_get("created_at")?;
        let a = hours(created, row.try_get("acknowledged_at")?);
        let r = hours(created, row.try_get("resolved_at")?);
        let entry = by_category.entry(category).or_default();
        entry.0 += 1;
        if let Some(a) = a {
            entry.1.push(a);
            ack.push(a);
        }
        if let Some(r) = r {
            entry.2.push(r);
            res.push(r);
        }
        *by_status.entry(status).or_default() += 1;
    }
    for (_, (_, a, r)) in by_category.iter_mut() {
        a.sort_by(f64::total_cmp);
        r.sort_by(f64::total_cmp);
        let _ = (percentile(a, 0.5), percentile(a, 0.9), percentile(r, 0.5), percentile(r, 0.9));
    }
    ack.sort_by(f64::total_cmp);
    res.sort_by(f64::total_cmp);
    Ok(Figures {
        reports: rows.len() as i64,
        ack_median: percentile(&ack, 0.5),
        ack_p90: percentile(&ack, 0.9),
        resolve_median: percentile(&res, 0.5),
        resolve_p90: percentile(&res, 0.9),
    })
}

/// Nearby duplicates without the index: the distance on the spheroid of every open report of the category.
pub async fn nearby(
    pool: &PgPool,
    lon: f64,
    lat: f64,
    category: &str,
    radius_m: f64,
    limit: i64,
) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "select id from (
             select id, st_distance(geom::geography, st_setsrid(st_makepoint($1, $2), 4326)::geography) as d
               from reports.report
              where status in ('new', 'acknowledged', 'in_progress', 'reopened') and approved and not hidden
                and category = $3
                and st_distance(geom::geography, st_setsrid(st_makepoint($1, $2), 4326)::geography) <= $4
         ) near order by d, id limit $5",
    )
    .bind(lon)
    .bind(lat)
    .bind(category)
    .bind(radius_m)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// A photo pipeline without care: decoded with no limits, Lanczos3 for the photo and for the thumbnail (made from
/// the full picture), JPEG quality 85, nothing checked.
pub fn photo(bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let picture = image::load_from_memory(bytes)?;
    let resized = picture.resize(2048, 2048, FilterType::Lanczos3);
    let thumb = picture.resize(320, 320, FilterType::Lanczos3);
    let encode = |p: &DynamicImage| -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
        DynamicImage::ImageRgb8(p.to_rgb8()).write_with_encoder(encoder)?;
        Ok(out)
    };
    Ok((encode(&resized)?, encode(&thumb)?))
}
