//! Before filing: open reports near by, to support one instead of filing a duplicate.

use sqlx::PgPool;

use super::query::{COLUMNS, FROM, Row, load_existing};
use super::workflow::MAX_HOPS;
use super::{Change, MAX_NEARBY_M, Nearby, Report, announce, check_point};
use crate::{Error, Result};

/// Most reports [`nearby`] returns.
const MAX_NEARBY: i64 = 50;

/// Open public reports (approved, not hidden) within `radius_m` (at most 250 m) of (`lon`, `lat`), of `category`
/// when given, nearest first, at most `limit` (1 … 50).
///
/// # Units
/// `lon`, `lat`: WGS84 (EPSG:4326) degrees; `radius_m` and [`Nearby::distance_m`]: metres on the spheroid.
pub async fn nearby(
    pool: &PgPool,
    lon: f64,
    lat: f64,
    category: Option<&str>,
    radius_m: f64,
    limit: i64,
) -> Result<Vec<Nearby>> {
    check_point(lon, lat)?;
    if !(radius_m.is_finite() && radius_m > 0.0 && radius_m <= MAX_NEARBY_M) {
        return Err(Error::Invalid(format!(
            "radius {radius_m} m is out of range: more than 0, at most {MAX_NEARBY_M}"
        )));
    }
    if !(1..=MAX_NEARBY).contains(&limit) {
        return Err(Error::Invalid(format!("limit {limit} is out of range: 1 to {MAX_NEARBY}")));
    }
    // A box in degrees that holds the circle, so that the partial GiST index (open, not hidden) is used; the
    // exact test is on the spheroid. 110 km is less than a degree of latitude anywhere.
    let dy = radius_m / 110_000.0;
    let dx = radius_m / (110_000.0 * lat.to_radians().cos().max(0.01));
    #[derive(sqlx::FromRow)]
    struct Hit {
        #[sqlx(flatten)]
        row: Row,
        distance_m: f64,
        age_s: i64,
    }
    // The box alone picks the candidates (materialized: the planner would otherwise AND it with the category
    // index, which costs more than it saves); the columns are read for the reports returned only.
    let hits: Vec<Hit> = sqlx::query_as(&format!(
        "with p as (select st_setsrid(st_makepoint($1, $2), 4326) as g),
         candidates as materialized (
             select r.id, r.category, r.approved, r.geom from reports.report r, p
             where r.status in ('new', 'acknowledged', 'in_progress', 'reopened') and not r.hidden
               and r.geom && st_expand(p.g, $3, $4)),
         hits as (
             select id, distance_m from (
                 select c.id, st_distance(c.geom::geography, p.g::geography) as distance_m
                 from candidates c, p
                 where c.approved and ($6::text is null or c.category = $6)) d
             where distance_m <= $5
             order by distance_m, id
             limit $7)
         select {COLUMNS}, hits.distance_m,
                greatest(0, extract(epoch from now() - r.created_at))::bigint as age_s
         from {FROM} join hits on hits.id = r.id
         order by hits.distance_m, r.id"
    ))
    .bind(lon)
    .bind(lat)
    .bind(dx)
    .bind(dy)
    .bind(radius_m)
    .bind(category)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    hits.into_iter()
        .map(|h| {
            Ok(Nearby { report: Report::try_from(h.row)?.public, distance_m: h.distance_m, age_s: h.age_s })
        })
        .collect()
}

/// Adds `supporter` (an account, or a hashed address and day) to the supporters of report `id`, or of its
/// original when it is a duplicate; once per supporter. Returns the supporters of that report.
pub async fn support(pool: &PgPool, id: i64, supporter: &str) -> Result<i32> {
    let supporter = supporter.trim();
    if supporter.is_empty() || supporter.chars().count() > 200 {
        return Err(Error::Invalid("a supporter is named by 1 to 200 characters".into()));
    }
    let mut tx = pool.begin().await?;
    let mut target = id;
    for hop in 0.. {
        let found: Option<(String, Option<i64>)> =
            sqlx::query_as("select status, duplicate_of from reports.report where id = $1 for update")
                .bind(target)
                .fetch_optional(&mut *tx)
                .await?;
        match found {
            None if hop == 0 => return Err(Error::NotFound { id }),
            None => return Err(Error::Invalid(format!("the original of report {id} is gone"))),
            Some((status, Some(original))) if status == "duplicate" && hop < MAX_HOPS => target = original,
            Some(_) => break,
        }
    }
    let added = sqlx::query(
        "insert into reports.support (report_id, supporter) values ($1, $2) on conflict do nothing",
    )
    .bind(target)
    .bind(supporter)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let supporters: i32 = sqlx::query_scalar(
        "update reports.report set supporters = supporters + $2,
             updated_at = case when $2 > 0 then now() else updated_at end
         where id = $1 returning supporters",
    )
    .bind(target)
    .bind(i32::from(added > 0))
    .fetch_one(&mut *tx)
    .await?;
    if added > 0 {
        let report = load_existing(&mut *tx, target).await?;
        announce(&mut tx, Change::Supported, &report).await?;
    }
    tx.commit().await?;
    Ok(supporters)
}
