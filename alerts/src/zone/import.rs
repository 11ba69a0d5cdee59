//! `vedetta import zones FILE.geojson`: zones from a GeoJSON FeatureCollection, upserted by code, all or nothing.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;
use sqlx::{Acquire, PgConnection, PgPool};

use super::feature::{self, ZoneFeature};
use super::{ImportSummary, Origin, Source, ZoneProblem};
use crate::{Error, Result};

/// Imports the zones of a GeoJSON file; see [`import_geojson`].
pub async fn import_geojson_file(pool: &PgPool, path: &Path) -> Result<ImportSummary> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| Error::ZoneFile { path: path.to_path_buf(), source })?;
    let collection: Value =
        serde_json::from_str(&text).map_err(|source| Error::ZoneJson { path: path.to_path_buf(), source })?;
    import_geojson(pool, &collection).await
}

/// Imports the zones of a GeoJSON FeatureCollection (EPSG:4326), upserting by code.
///
/// Each feature has `properties.code` (1–32 of `A–Z a–z 0–9 _ . -`) and a non-empty `properties.name`, and either
/// - a valid Polygon or MultiPolygon: its comuni are then those given in `properties.comuni` (ISTAT codes), or
///   else the comuni of `core.comune` whose point on surface it covers (the lowest code among the file's polygon
///   zones when two cover it); or
/// - no geometry and `properties.comuni`: the zone is the union of those comuni's boundaries, made valid.
///
/// Every comune given in a list must have a boundary in `core.comune`, and may be in one zone only (within the file
/// and against the list-defined zones already stored). Any problem refuses the whole file with
/// [`Error::InvalidZones`], which lists every problem with its feature's index and code; nothing is written.
pub async fn import_geojson(pool: &PgPool, collection: &Value) -> Result<ImportSummary> {
    import(pool, collection, Origin::File).await
}

/// [`import_geojson`], with the [`Origin`] deciding the stored [`Source`].
pub async fn import(pool: &PgPool, collection: &Value, origin: Origin) -> Result<ImportSummary> {
    let (features, mut problems) = feature::parse(collection)?;
    let mut conn = pool.acquire().await?;
    let names = comuni_names(&mut conn, &features).await?;
    problems.extend(unknown_comuni(&features, &names));
    problems.extend(comuni_in_two_zones(&features, &names));
    problems.extend(invalid_geometries(&mut conn, &features).await?);
    if !problems.is_empty() {
        return Err(refused(problems));
    }

    let mut tx = conn.begin().await?;
    // One zone import at a time, so that two files cannot each put the same comune in a different zone unseen.
    sqlx::query("select pg_advisory_xact_lock(hashtext('alerts.zone import'))").execute(&mut *tx).await?;
    stage(&mut tx, &features, origin).await?;
    let written: Vec<(String, bool)> = sqlx::query_as(
        "insert into alerts.zone as z (code, name, geom, comuni, source)
         select code, name, geom, comuni, source from zone_import order by idx
         on conflict (code) do update
             set name = excluded.name, geom = excluded.geom, comuni = excluded.comuni, source = excluded.source,
                 updated_at = now()
             where z.name <> excluded.name or z.comuni <> excluded.comuni or z.source <> excluded.source
                or not st_equals(z.geom, excluded.geom)
         returning z.code, (xmax = 0)",
    )
    .fetch_all(&mut *tx)
    .await?;
    let problems = conflicts_with_stored(&mut tx, &features, &names).await?;
    if !problems.is_empty() {
        tx.rollback().await?;
        return Err(refused(problems));
    }
    tx.commit().await?;

    let written: HashMap<String, bool> = written.into_iter().collect();
    let mut summary = ImportSummary::default();
    for f in &features {
        match written.get(&f.code) {
            Some(true) => summary.added.push(f.code.clone()),
            Some(false) => summary.updated.push(f.code.clone()),
            None => summary.unchanged.push(f.code.clone()),
        }
    }
    tracing::info!(
        added = summary.added.len(),
        updated = summary.updated.len(),
        unchanged = summary.unchanged.len(),
        "Alert zones imported."
    );
    Ok(summary)
}

fn refused(mut problems: Vec<ZoneProblem>) -> Error {
    problems.sort_by_key(|p| p.index);
    Error::InvalidZones { problems }
}

/// The stored source of a feature.
fn source(f: &ZoneFeature, origin: Origin) -> Source {
    match (origin, &f.geometry) {
        (Origin::Demo, _) => Source::Demo,
        (Origin::File, Some(_)) => Source::Geojson,
        (Origin::File, None) => Source::Comuni,
    }
}

/// Names of the listed comuni that have a boundary (ISTAT code → name).
async fn comuni_names(conn: &mut PgConnection, features: &[ZoneFeature]) -> Result<HashMap<String, String>> {
    let mut listed: Vec<String> = features.iter().flat_map(|f| f.comuni.iter().flatten().cloned()).collect();
    listed.sort();
    listed.dedup();
    if listed.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String)> =
        sqlx::query_as("select istat, name from core.comune where istat = any($1)")
            .bind(&listed)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().collect())
}

fn unknown_comuni(features: &[ZoneFeature], names: &HashMap<String, String>) -> Vec<ZoneProblem> {
    let mut problems = Vec::new();
    for f in features {
        for istat in f.comuni.iter().flatten().filter(|c| !names.contains_key(*c)) {
            problems.push(ZoneProblem::new(
                f.index,
                Some(&f.code),
                format!("unknown comune {istat}: no boundary with this ISTAT code (import the comuni first)"),
            ));
        }
    }
    problems
}

fn comune_label(istat: &str, names: &HashMap<String, String>) -> String {
    match names.get(istat) {
        Some(name) => format!("{istat} ({name})"),
        None => istat.to_string(),
    }
}

/// A comune listed by two zones of the file, reported at the later one, naming both.
fn comuni_in_two_zones(features: &[ZoneFeature], names: &HashMap<String, String>) -> Vec<ZoneProblem> {
    let mut owner: HashMap<&str, &str> = HashMap::new();
    let mut problems = Vec::new();
    for f in features {
        for istat in f.comuni.iter().flatten() {
            match owner.get(istat.as_str()) {
                Some(other) => problems.push(ZoneProblem::new(
                    f.index,
                    Some(&f.code),
                    format!(
                        "comune {} is in two zones, {other} and {}: a comune belongs to exactly one zone",
                        comune_label(istat, names),
                        f.code
                    ),
                )),
                None => {
                    owner.insert(istat, &f.code);
                }
            }
        }
    }
    problems
}

/// Polygons PostGIS finds invalid (a ring crossing itself, a hole outside its shell), with its reason and place.
async fn invalid_geometries(conn: &mut PgConnection, features: &[ZoneFeature]) -> Result<Vec<ZoneProblem>> {
    let mut problems = Vec::new();
    for f in features {
        let Some(geometry) = &f.geometry else { continue };
        let checked: std::result::Result<(bool, String), sqlx::Error> = sqlx::query_as(
            "select st_isvalid(g), st_isvalidreason(g) from (select st_geomfromgeojson($1) as g) as x",
        )
        .bind(geometry.to_string())
        .fetch_one(&mut *conn)
        .await;
        match checked {
            Ok((true, _)) => {}
            Ok((false, reason)) => {
                problems.push(ZoneProblem::new(f.index, Some(&f.code), format!("invalid geometry: {reason}")))
            }
            Err(sqlx::Error::Database(e)) => problems.push(ZoneProblem::new(
                f.index,
                Some(&f.code),
                format!("unreadable geometry: {}", e.message()),
            )),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(problems)
}

/// Builds every zone of the file in a temporary table: polygons as given, lists of comuni as their union, and the
/// comuni of each polygon zone that gives none by location.
async fn stage(tx: &mut PgConnection, features: &[ZoneFeature], origin: Origin) -> Result<()> {
    sqlx::query(
        "create temporary table zone_import (
             idx integer not null, code text not null, name text not null, geom geometry(MultiPolygon, 4326),
             given boolean not null, comuni text[] not null, source text not null
         ) on commit drop",
    )
    .execute(&mut *tx)
    .await?;
    for f in features {
        sqlx::query(
            "insert into zone_import (idx, code, name, geom, given, comuni, source)
             values ($1, $2, $3, st_multi(st_force2d(st_setsrid(st_geomfromgeojson($4), 4326))), $5, $6, $7)",
        )
        .bind(i32::try_from(f.index).unwrap_or(i32::MAX))
        .bind(&f.code)
        .bind(&f.name)
        .bind(f.geometry.as_ref().map(Value::to_string))
        .bind(f.comuni.is_some())
        .bind(f.comuni.clone().unwrap_or_default())
        .bind(source(f, origin).as_str())
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "update zone_import z
         set geom = (select st_multi(st_collectionextract(st_makevalid(st_union(c.geom order by c.istat)), 3))
                     from core.comune c where c.istat = any(z.comuni))
         where z.geom is null",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        r#"with located as (
               select distinct on (c.istat) c.istat, z.code
               from core.comune c join zone_import z on not z.given and st_covers(z.geom, st_pointonsurface(c.geom))
               order by c.istat, z.code collate "C")
           update zone_import z
           set comuni = coalesce((select array_agg(l.istat order by l.istat) from located l where l.code = z.code),
                                 '{}')
           where not z.given"#,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Comuni that a list of this file puts in a zone while a list-defined zone already stored (and not in this file)
/// has them too.
async fn conflicts_with_stored(
    tx: &mut PgConnection,
    features: &[ZoneFeature],
    names: &HashMap<String, String>,
) -> Result<Vec<ZoneProblem>> {
    let listing: Vec<String> =
        features.iter().filter(|f| f.comuni.is_some()).map(|f| f.code.clone()).collect();
    if listing.is_empty() {
        return Ok(Vec::new());
    }
    let file: Vec<String> = features.iter().map(|f| f.code.clone()).collect();
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        r#"select mine.code, c, other.code
           from alerts.zone mine cross join lateral unnest(mine.comuni) as c
                join alerts.zone other on other.source = 'comuni' and other.code <> all($2) and c = any(other.comuni)
           where mine.code = any($1)
           order by mine.code collate "C", c, other.code collate "C""#,
    )
    .bind(&listing)
    .bind(&file)
    .fetch_all(&mut *tx)
    .await?;
    let index: BTreeMap<&str, usize> = features.iter().map(|f| (f.code.as_str(), f.index)).collect();
    Ok(rows
        .into_iter()
        .map(|(code, istat, other)| {
            ZoneProblem::new(
                index.get(code.as_str()).copied().unwrap_or_default(),
                Some(&code),
                format!(
                    "comune {} is in two zones, {other} (already imported) and {code}: a comune belongs to \
                     exactly one zone",
                    comune_label(&istat, names)
                ),
            )
        })
        .collect())
}
