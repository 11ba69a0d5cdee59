//! DB Topografico import: a registry of territorial objects with stable identity and history.
//!
//! [`import`] reads Shapefiles, GeoPackages and GeoJSON files, one class per layer (`TP_CAN.shp` → class
//! `TP_CAN`), transforms them to EPSG:4326 with PROJ and keeps every object under its natural key (class + the
//! source `ID`). Real files repeat IDs (14 features of the Venezia `TP_CAN` share an ID with another, different
//! object): the first feature with an ID keeps it, the n-th is keyed `ID~n` in file order, and the report says
//! so. A layer without an `ID` attribute is keyed by feature position (GeoJSON: by feature `id` when present). Importing a newer release of a class computes what was added, changed (attributes or geometry)
//! and removed, applies it and keeps the earlier versions with their validity interval, so [`crate::features`] (collection
//! `dbt-<CLASS>`) can answer "the DBT as of date D". Importing the same release twice changes nothing. Invalid geometries are repaired and
//! counted, or rejected one by one with the reason: nothing is dropped silently.
//!
//! # Formats, and the crates behind them
//!
//! | format | read by | why |
//! |---|---|---|
//! | Shapefile `.shp` | [`shp`](self) here | geozero 0.15's `with-shp` reader attaches every hole to the shell before it and cannot be told a code page; the `shapefile` crate reads fine but brings `dbase` along and hands out `Vec`s of points per ring. The record format is small: reading it here gives GDAL's ring organisation (holes to the smallest containing shell) and plain coordinate slices for PROJ |
//! | dBase `.dbf` | [`dbf`](self) here, code pages by `encoding_rs` and `yore` | `dbase` (what geozero and `shapefile` use) builds a `HashMap` per record and parses numbers to `f64` (an `ID` of 16 digits would lose digits); here the fields are read in place, numbers keep their text (`N(16,0)` → integer) and the code page follows `.cpg`, then the LDID byte, then the bytes (see [`dbf`](self)): the Venezia extract has neither `.cpg` nor LDID and is UTF-8 (`VITTORIO EMANUELE III°`), which is what GDAL shows |
//! | GeoPackage | `rusqlite` (bundled SQLite) + geozero's `GpkgWkb` geometry reader | geozero's `with-gpkg` is a set of sqlx-SQLite codecs, which would turn on sqlx's SQLite driver for the whole workspace; `rusqlite` stays inside `geodata` and reads synchronously on the import's reading thread |
//! | GeoJSON | `serde_json` | a FeatureCollection in memory, with the 2008 `crs` member honoured (ogr2ogr writes it for projected data) |
//!
//! The CRS comes from `--crs`, else the `.prj` (a WKT matcher for the Italian CRSs, see [`prj`](self)), the
//! GeoPackage's `gpkg_spatial_ref_sys`, or the GeoJSON `crs` member (WGS84 without one). PROJ does every
//! transformation ([`crate::crs::Transform`], one context per worker thread).
//!
//! # Storage
//!
//! `topo.object` (partitioned by class): one row per version, `valid_from`/`valid_to`, the attributes as `jsonb`,
//! the geometry in EPSG:4326, the class code, comune, release and source position, and a digest (xxh3 of the
//! canonical attributes and of the coordinates to 1e-8°) that makes "changed?" a comparison of two numbers.
//! `topo.release` records every import of every class with its counts. See `store.rs` for the two load paths
//! (new class: binary `COPY FREEZE` into a fresh partition indexed once; known class: `COPY` into a staging table,
//! then set-based diff) and `pipeline.rs` for the reading side (rayon workers transform and encode while the
//! database ingests).

mod dbf;
mod encode;
mod geojson;
mod gpkg;
mod pipeline;
mod prj;
mod query;
mod shp;
mod source;
mod store;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

pub use query::{ClassInfo, classes};

use crate::{Error, Result};

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct DbtOptions {
    /// ISTAT code of the comune the files cover (six digits). The objects get it, and the import is scoped to
    /// it: objects of other comuni are never removed. Without it, objects get the comune that contains them
    /// (when comuni are loaded) and a release covers its whole class.
    pub comune: Option<String>,
    /// The CRS of the files (`"EPSG:3004"`), overriding `.prj` / GeoPackage / GeoJSON.
    pub crs: Option<String>,
    /// A label for the release (default: the `valid_from` date and time).
    pub release: Option<String>,
    /// When the release becomes valid (default: now). Releases of a class are imported in order.
    pub valid_from: Option<DateTime<Utc>>,
}

/// What an import did, class by class.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DbtReport {
    pub classes: Vec<ClassReport>,
}

/// What an import did to one class.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClassReport {
    /// Class code (`TP_CAN`).
    pub class: String,
    /// The file the class came from.
    pub file: String,
    /// The CRS the file was read in (`EPSG:3004`).
    pub crs: String,
    /// Features in the file.
    pub features: u64,
    /// Objects that did not exist (or no longer existed) before.
    pub added: u64,
    /// Objects whose attributes or geometry changed: a new version.
    pub changed: u64,
    /// Current objects missing from this release: their version ends.
    pub removed: u64,
    /// Objects identical to their current version.
    pub unchanged: u64,
    /// Features stored by this import whose geometry was repaired with `ST_MakeValid`.
    pub repaired: u64,
    /// Features not stored: (position in the file, 0-based; reason).
    pub rejected: Vec<(u64, String)>,
    /// Where the natural key came from (`attribute ID`, or the feature position when there is no ID).
    pub key: String,
    /// Facts worth telling about the file (the code page and how it was chosen, a missing ID, …).
    pub notes: Vec<String>,
}

/// Imports the layers of `paths` (Shapefiles, GeoPackages, GeoJSON files, or directories of them), one
/// transaction per class. Every file is opened and its CRS settled before anything is written.
///
/// `progress(done, total)` is called as features are read and sent (about every 8,000 features).
pub async fn import(
    pool: &PgPool,
    paths: &[PathBuf],
    opts: &DbtOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<DbtReport> {
    if let Some(c) = &opts.comune
        && (c.len() != 6 || !c.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(Error::Import(format!("--comune {c}: an ISTAT code has six digits (e.g. 027042)")));
    }
    if paths.is_empty() {
        return Err(Error::Import("no file to import".into()));
    }
    let (paths, crs) = (paths.to_vec(), opts.crs.clone());
    let layers = tokio::task::spawn_blocking(move || source::discover(&paths, crs.as_deref()))
        .await
        .map_err(|e| Error::Import(format!("reading the files failed: {e}")))??;
    let valid_from = opts.valid_from.unwrap_or_else(Utc::now);
    let run = store::Run {
        label: opts.release.clone().unwrap_or_else(|| valid_from.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        valid_from,
        comune: opts.comune.clone(),
        total: layers.iter().map(|l| l.count).sum(),
    };
    progress(0, run.total);
    let mut report = DbtReport::default();
    let mut done = 0;
    for layer in layers {
        let layer = Arc::new(layer);
        tracing::info!(class = %layer.class, file = %layer.file.display(), crs = %layer.crs, features = layer.count,
            "Importing a DBT class.");
        let class = store::import_layer(
            pool,
            layer,
            &run,
            &store::Progress { done_before: done, callback: progress },
        )
        .await?;
        done += class.features;
        tracing::info!(class = %class.class, added = class.added, changed = class.changed, removed = class.removed,
            unchanged = class.unchanged, repaired = class.repaired, rejected = class.rejected.len(),
            "DBT class imported.");
        report.classes.push(class);
    }
    progress(done, run.total);
    Ok(report)
}
