//! Reading the registry: the classes, and the objects of a class as they were at a date.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use crate::Result;

/// A class of the registry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassInfo {
    /// Class code (`TP_CAN`).
    pub class: String,
    /// Objects current now.
    pub features: i64,
    /// Extent of the current objects, WGS84 `[minx, miny, maxx, maxy]` (degrees); `None` when there are none.
    pub bbox: Option<[f64; 4]>,
    /// When the first release of the class became valid.
    pub first_valid_from: DateTime<Utc>,
    /// Labels of the releases imported, oldest first.
    pub releases: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct ClassRow {
    class: String,
    features: i64,
    minx: Option<f64>,
    miny: Option<f64>,
    maxx: Option<f64>,
    maxy: Option<f64>,
    first_valid_from: DateTime<Utc>,
    releases: Vec<String>,
}

/// Every class, by code.
pub async fn classes(pool: &PgPool) -> Result<Vec<ClassInfo>> {
    let rows: Vec<ClassRow> = sqlx::query_as(
        "select k.class, coalesce(cur.features, 0) as features,
                st_xmin(cur.extent) as minx, st_ymin(cur.extent) as miny,
                st_xmax(cur.extent) as maxx, st_ymax(cur.extent) as maxy,
                rel.first_valid_from, rel.releases
         from topo.class k
         cross join lateral (
             select count(*) as features, st_extent(o.geom)::box2d as extent
             from topo.object o where o.class = k.class and o.valid_to is null) cur
         cross join lateral (
             select min(r.valid_from) as first_valid_from, array_agg(r.label order by r.valid_from) as releases
             from topo.release r where r.class = k.class) rel
         order by k.class",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ClassInfo {
            bbox: match (r.minx, r.miny, r.maxx, r.maxy) {
                (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
                _ => None,
            },
            class: r.class,
            features: r.features,
            first_valid_from: r.first_valid_from,
            releases: r.releases,
        })
        .collect())
}

/// A stored version as a GeoJSON Feature: `id` the natural key, `properties` the attributes, and as foreign
/// members the class, the validity interval and the release.
const FEATURE: &str = "json_build_object(
        'type', 'Feature',
        'id', o.key,
        'geometry', st_asgeojson(o.geom, 9)::json,
        'properties', o.attrs,
        'class', o.class,
        'code', o.code,
        'comune', o.comune_istat,
        'valid_from', o.valid_from,
        'valid_to', o.valid_to,
        'release', r.label,
        'repaired', o.repaired)";

/// The versions valid at `$2` (now when null).
const VALID_AT: &str =
    "o.valid_from <= coalesce($2, now()) and (o.valid_to is null or o.valid_to > coalesce($2, now()))";

/// Objects of `class` as they were at `at` (now when `None`), as GeoJSON Features in EPSG:4326, ordered by
/// natural key, `limit` from `offset`, with the number matched in all.
///
/// # Units
/// `bbox` is `[minx, miny, maxx, maxy]` in WGS84 degrees (longitude, latitude); objects intersecting it match.
pub async fn features(
    pool: &PgPool,
    class: &str,
    bbox: Option<[f64; 4]>,
    at: Option<DateTime<Utc>>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Value>, i64)> {
    let [minx, miny, maxx, maxy] = bbox.map_or([None; 4], |b| b.map(Some));
    let filter = format!(
        "o.class = $1 and {VALID_AT}
         and ($3::float8 is null or st_intersects(o.geom, st_makeenvelope($3, $4, $5, $6, 4326)))"
    );
    let total: i64 = sqlx::query_scalar(&format!("select count(*) from topo.object o where {filter}"))
        .bind(class)
        .bind(at)
        .bind(minx)
        .bind(miny)
        .bind(maxx)
        .bind(maxy)
        .fetch_one(pool)
        .await?;
    let rows: Vec<sqlx::types::Json<Value>> = sqlx::query_scalar(&format!(
        "select {FEATURE} from topo.object o join topo.release r on r.id = o.release_id
         where {filter} order by o.key limit $7 offset $8"
    ))
    .bind(class)
    .bind(at)
    .bind(minx)
    .bind(miny)
    .bind(maxx)
    .bind(maxy)
    .bind(limit.max(0))
    .bind(offset.max(0))
    .fetch_all(pool)
    .await?;
    Ok((rows.into_iter().map(|j| j.0).collect(), total))
}

/// One object of `class` by natural key, as it was at `at` (now when `None`); `None` when it did not exist then.
pub async fn feature(
    pool: &PgPool,
    class: &str,
    id: &str,
    at: Option<DateTime<Utc>>,
) -> Result<Option<Value>> {
    let row: Option<sqlx::types::Json<Value>> = sqlx::query_scalar(&format!(
        "select {FEATURE} from topo.object o join topo.release r on r.id = o.release_id
         where o.class = $1 and {VALID_AT} and o.key = $3"
    ))
    .bind(class)
    .bind(at)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|j| j.0))
}
