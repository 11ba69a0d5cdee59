//! Zoning for planners: PUC/PRG plans, their versions and variants, and the zones in force at a place and date.
//!
//! A version without `variant_of` is a full plan and supersedes everything before it. A variant replaces, from its
//! approval date, the zones inside its perimeter (the union of its own zones). "In force on date D" therefore
//! means: the latest full version approved by D, overlaid by the variants approved after it and by D, each later
//! one over the earlier ones.

use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::PgPool;

use crate::{Error, Result};

mod parcel;

pub use parcel::{MAX_AREA_KM2, MAX_PAIRS, MAX_RINGS, MAX_SPAN_DEG, MAX_VERTICES, Parcel};

/// How long the statements of one parcel intersection may run before PostgreSQL cancels them.
pub const INTERSECT_TIME_LIMIT: Duration = Duration::from_secs(5);

/// Longest plan name a query may name.
const MAX_NAME_CHARS: usize = 200;

/// How a zoning file is imported.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoningOptions {
    /// The plan, e.g. `PUC Genova`.
    pub plan: String,
    /// This version's label, e.g. `2015` or `Variante 3`.
    pub version: String,
    pub approved: NaiveDate,
    /// The version this one is a variant of (same plan).
    pub variant_of: Option<String>,
    pub source_file: Option<String>,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ZoningReport {
    pub zones: u64,
    pub repaired: u64,
    pub invalid: Vec<(usize, String)>,
}

const CODE_KEYS: [&str; 6] = ["code", "zona", "ZONA", "CODICE", "sigla", "SIGLA"];
const CLASS_KEYS: [&str; 6] = ["class", "dm1444", "DM1444", "zto", "ZTO", "classe"];
const NTA_KEYS: [&str; 6] = ["nta", "NTA", "articolo", "ARTICOLO", "art", "norma"];

fn take(props: &mut Map<String, Value>, keys: &[&str]) -> Option<String> {
    for k in keys {
        match props.remove(*k) {
            Some(Value::String(s)) if !s.trim().is_empty() => return Some(s.trim().to_string()),
            Some(Value::Number(n)) => return Some(n.to_string()),
            _ => {}
        }
    }
    None
}

/// Imports the zones of one plan version from a GeoJSON FeatureCollection (EPSG:4326). Properties: the zone code
/// (`code`/`zona`/`CODICE`/`sigla`), the DM 1444/68 class A–F (`class`/`zto`/`dm1444`, when known), the NTA
/// article (`nta`/`articolo`); all others are kept as attributes.
pub async fn import(pool: &PgPool, collection: &Value, opts: &ZoningOptions) -> Result<ZoningReport> {
    let features = collection
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Import("a zoning file is a GeoJSON FeatureCollection".into()))?;
    let mut tx = pool.begin().await?;
    let variant_of: Option<i64> = match &opts.variant_of {
        None => None,
        Some(base) => Some(
            sqlx::query_scalar("select id from zoning.plan_version where plan = $1 and version = $2")
                .bind(&opts.plan)
                .bind(base)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| {
                    Error::Import(format!("plan `{}` has no version `{base}` to vary", opts.plan))
                })?,
        ),
    };
    let exists: bool = sqlx::query_scalar(
        "select exists(select 1 from zoning.plan_version where plan = $1 and version = $2)",
    )
    .bind(&opts.plan)
    .bind(&opts.version)
    .fetch_one(&mut *tx)
    .await?;
    if exists {
        return Err(Error::Import(format!(
            "plan `{}` already has a version `{}`: versions are immutable, import a new one",
            opts.plan, opts.version
        )));
    }
    let version_id: i64 = sqlx::query_scalar(
        "insert into zoning.plan_version (plan, version, approved, variant_of, perimeter, source_file)
         values ($1, $2, $3, $4, st_multi(st_geomfromtext('POLYGON EMPTY', 4326)), $5) returning id",
    )
    .bind(&opts.plan)
    .bind(&opts.version)
    .bind(opts.approved)
    .bind(variant_of)
    .bind(&opts.source_file)
    .fetch_one(&mut *tx)
    .await?;

    let mut report = ZoningReport::default();
    for (i, feature) in features.iter().enumerate() {
        let mut props = feature.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
        let Some(code) = take(&mut props, &CODE_KEYS) else {
            report.invalid.push((i, "no zone code (code, zona, CODICE or sigla)".into()));
            continue;
        };
        let class = take(&mut props, &CLASS_KEYS).map(|c| c.to_uppercase());
        let class = match class.as_deref().and_then(|c| c.chars().next()) {
            None => None,
            Some(c @ 'A'..='F') => Some(c.to_string()),
            Some(_) => {
                report.invalid.push((i, format!("zone {code}: DM 1444/68 class must be A–F")));
                continue;
            }
        };
        let nta = take(&mut props, &NTA_KEYS);
        let Some(geometry) = feature.get("geometry").filter(|g| g.is_object()) else {
            report.invalid.push((i, format!("zone {code}: no geometry")));
            continue;
        };
        let row: Option<(bool,)> = sqlx::query_as(
            "with g as (select st_setsrid(st_geomfromgeojson($6), 4326) as raw)
             insert into zoning.zone (version_id, code, dm1444_class, nta_article, attributes, geom)
             select $1, $2, $3, $4, $5, st_multi(st_collectionextract(st_makevalid(raw), 3)) from g
             where not st_isempty(st_collectionextract(st_makevalid(raw), 3))
             returning (select not st_isvalid(raw) from g)",
        )
        .bind(version_id)
        .bind(&code)
        .bind(&class)
        .bind(&nta)
        .bind(Value::Object(props))
        .bind(geometry.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| Error::Import(format!("zone {code} (feature {i}): {e}")))?;
        match row {
            Some((repaired,)) => {
                report.zones += 1;
                report.repaired += u64::from(repaired);
            }
            None => report.invalid.push((i, format!("zone {code}: not a polygon"))),
        }
    }
    if report.zones == 0 {
        return Err(Error::Import("no zone could be imported".into()));
    }
    sqlx::query(
        "update zoning.plan_version set perimeter =
             (select st_multi(st_collectionextract(st_makevalid(st_union(geom)), 3)) from zoning.zone where version_id = $1)
         where id = $1",
    )
    .bind(version_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(report)
}

/// The versions in effect on `$1` (a date) for plan `$2` (all plans when null), with the union of the perimeters
/// of the later variants that cover part of each (`later`).
const EFFECTIVE: &str = "
    with v as (
        select id, plan, version, approved, variant_of, perimeter, variant_of is null as full_plan
        from zoning.plan_version where approved <= $1 and ($2::text is null or plan = $2)
    ),
    base as (select distinct on (plan) id, plan, approved from v where full_plan order by plan, approved desc, id desc),
    eff as (
        select v.* from v join base b on b.plan = v.plan
        where v.id = b.id or (not v.full_plan and (v.approved, v.id) > (b.approved, b.id))
    )
    select e.*, (select st_union(l.perimeter) from eff l
                 where l.plan = e.plan and not l.full_plan and (l.approved, l.id) > (e.approved, e.id)) as later
    from eff e";

/// A zone in force.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ZoneHit {
    pub plan: String,
    pub version: String,
    pub approved: NaiveDate,
    pub code: String,
    pub class: Option<String>,
    pub nta: Option<String>,
    pub attributes: Value,
}

/// Checks a plan name from a request: printable text of at most 200 characters (PostgreSQL refuses NUL in text).
fn check_plan(plan: Option<&str>) -> Result<()> {
    let Some(plan) = plan else { return Ok(()) };
    if plan.chars().any(char::is_control) {
        return Err(Error::input("plan", "a plan name has no control characters (NUL, line breaks)"));
    }
    if plan.chars().count() > MAX_NAME_CHARS {
        return Err(Error::input("plan", format!("a plan name has at most {MAX_NAME_CHARS} characters")));
    }
    Ok(())
}

/// Checks a date from a request: a year of four digits (PostgreSQL and chrono disagree beyond).
fn check_date(date: NaiveDate) -> Result<()> {
    if !(1000..=9999).contains(&date.year()) {
        return Err(Error::input("date", format!("{date}: give a date between the years 1000 and 9999")));
    }
    Ok(())
}

/// The zones in force at a WGS84 point on `date`, one or more per plan.
///
/// # Units
/// `lon`, `lat` in degrees, EPSG:4326.
pub async fn at(
    pool: &PgPool,
    lon: f64,
    lat: f64,
    date: NaiveDate,
    plan: Option<&str>,
) -> Result<Vec<ZoneHit>> {
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(Error::InvalidGeometry {
            reason: format!(
                "({lon}, {lat}) is not a WGS84 position (longitude within ±180°, latitude within ±90°)"
            ),
            at: None,
        });
    }
    check_date(date)?;
    check_plan(plan)?;
    let sql = format!(
        "with e as ({EFFECTIVE}), p as (select st_setsrid(st_makepoint($3, $4), 4326) as pt)
         select e.plan, e.version, e.approved, z.code, z.dm1444_class as class, z.nta_article as nta, z.attributes
         from e join zoning.zone z on z.version_id = e.id, p
         where st_covers(z.geom, p.pt) and (e.later is null or not st_covers(e.later, p.pt))
         order by e.plan, z.code"
    );
    Ok(sqlx::query_as(&sql).bind(date).bind(plan).bind(lon).bind(lat).fetch_all(pool).await?)
}

/// One zone touched by a polygon.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Overlap {
    pub plan: String,
    pub version: String,
    pub code: String,
    pub class: Option<String>,
    pub nta: Option<String>,
    /// Overlap area in m², on the WGS84 ellipsoid.
    pub overlap_m2: f64,
    /// Overlap as a share of the polygon's area (0–1).
    pub share: f64,
}

/// plan, version, code, class, NTA, overlap m².
type OverlapRow = (String, String, String, Option<String>, Option<String>, f64);

/// The polygon's area (m²) and every zone in force on `date` that it touches: `geometry` is a GeoJSON Polygon or
/// MultiPolygon (or a Feature of one), read and checked by [`Parcel::from_geojson`] before the database sees it,
/// and the statements may run [`INTERSECT_TIME_LIMIT`].
///
/// # Units
/// Coordinates in WGS84 degrees (longitude first); areas in m² on the WGS84 ellipsoid.
pub async fn intersect(
    pool: &PgPool,
    geometry: &Value,
    date: NaiveDate,
    plan: Option<&str>,
) -> Result<(f64, Vec<Overlap>)> {
    check_date(date)?;
    check_plan(plan)?;
    let parcel = Parcel::from_geojson(geometry)?;
    intersect_parcel(pool, &parcel, date, plan, INTERSECT_TIME_LIMIT).await
}

/// [`intersect`] for a checked parcel, with the statements' time limit: past it PostgreSQL cancels them and the
/// answer is [`Error::Timeout`].
pub async fn intersect_parcel(
    pool: &PgPool,
    parcel: &Parcel,
    date: NaiveDate,
    plan: Option<&str>,
    time_limit: Duration,
) -> Result<(f64, Vec<Overlap>)> {
    check_date(date)?;
    check_plan(plan)?;
    let timed = Error::timed(time_limit);
    let mut tx = pool.begin().await?;
    // `set local` takes no parameters; set_config(…, true) is the same, scoped to this transaction.
    sqlx::query("select set_config('statement_timeout', $1, true)")
        .bind(format!("{}ms", time_limit.as_millis().max(1)))
        .execute(&mut *tx)
        .await?;
    let shape = geozero::wkb::Encode(geo::Geometry::MultiPolygon(parcel.shape().clone()));
    // PostGIS judges validity too (the Rust check covers crossings and containment, not every rule of OGC's
    // simple features): an invalid parcel is refused with PostGIS's reason, never repaired at length.
    let (valid, reason, area): (bool, Option<String>, f64) = sqlx::query_as(
        "select st_isvalid(g), st_isvalidreason(g), st_area(g::geography) from (select st_setsrid($1::geometry, 4326) as g) x",
    )
    .bind(&shape)
    .fetch_one(&mut *tx)
    .await
    .map_err(timed)?;
    if !valid {
        return Err(Error::InvalidGeometry {
            reason: format!("the polygon is not valid: {}", reason.unwrap_or_default()),
            at: None,
        });
    }
    let sql = format!(
        "with e as ({EFFECTIVE}),
         g as (select st_setsrid($3::geometry, 4326) as poly),
         parts as (
             select e.plan, e.version, z.code, z.dm1444_class as class, z.nta_article as nta,
                    st_intersection(case when e.later is null then z.geom else st_difference(z.geom, e.later) end, g.poly) as part
             from e join zoning.zone z on z.version_id = e.id, g
             where st_intersects(z.geom, g.poly)
         )
         select plan, version, code, class, nta, a.m2
         from parts, lateral (select st_area(part::geography) as m2) a
         where not st_isempty(part) and a.m2 > 0.01
         order by round(a.m2::numeric, 2) desc, plan, version, code"
    );
    let timed = Error::timed(time_limit);
    let rows: Vec<OverlapRow> =
        sqlx::query_as(&sql).bind(date).bind(plan).bind(&shape).fetch_all(&mut *tx).await.map_err(timed)?;
    tx.commit().await?;
    let overlaps = rows
        .into_iter()
        .map(|(plan, version, code, class, nta, overlap_m2)| Overlap {
            plan,
            version,
            code,
            class,
            nta,
            overlap_m2: (overlap_m2 * 100.0).round() / 100.0,
            share: if area > 0.0 { (overlap_m2 / area * 10_000.0).round() / 10_000.0 } else { 0.0 },
        })
        .collect();
    Ok(((area * 100.0).round() / 100.0, overlaps))
}
