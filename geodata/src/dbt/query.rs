//! Reading the registry: the classes. The objects themselves are read through [`crate::features`] (collection
//! `dbt-<CLASS>`), the one read path the OGC API serves.

use chrono::{DateTime, Utc};
use serde::Serialize;
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
