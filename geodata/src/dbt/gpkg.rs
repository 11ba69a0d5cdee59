//! GeoPackage feature tables, read with SQLite (`rusqlite`, bundled) and geometries decoded by geozero's
//! GeoPackage-WKB reader. Each feature table listed in `gpkg_contents` is one class.

use std::collections::VecDeque;
use std::path::Path;

use geozero::ToGeo;
use geozero::wkb::GpkgWkb;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use super::prj;
use super::source::{self, FeatureReader, KeySource, Kind, Layer, RawFeature};
use crate::{Error, Result};

/// A feature table.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub name: String,
    pub geometry_column: String,
    /// The integer primary key (`fid`), used to page through the table.
    pub fid_column: String,
}

fn sqlite(path: &Path, e: rusqlite::Error) -> Error {
    Error::Import(format!("{}: {e}", path.display()))
}

fn connect(path: &Path) -> Result<Connection> {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| sqlite(path, e))
}

/// `"name"` quoted for SQLite.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The feature tables of a GeoPackage.
pub(crate) fn layers(path: &Path, forced: Option<&str>) -> Result<Vec<Layer>> {
    let conn = connect(path)?;
    let mut stmt = conn
        .prepare(
            "select c.table_name, g.column_name, g.srs_id from gpkg_contents c
             join gpkg_geometry_columns g on g.table_name = c.table_name
             where c.data_type = 'features' order by c.table_name",
        )
        .map_err(|e| sqlite(path, e))?;
    let tables: Vec<(String, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect())
        .map_err(|e| sqlite(path, e))?;
    if tables.is_empty() {
        return Err(Error::Import(format!("{}: no feature table in this GeoPackage", path.display())));
    }
    let mut layers = Vec::new();
    for (name, geometry_column, srs_id) in tables {
        let crs = match forced {
            Some(c) => c.to_string(),
            None => crs_of(&conn, path, srs_id)?,
        };
        source::check_crs(&crs)?;
        let columns = columns(&conn, path, &name)?;
        let fid_column = columns.iter().find(|c| c.1).map(|c| c.0.clone()).ok_or_else(|| {
            Error::Import(format!("{}: table {name} has no integer primary key", path.display()))
        })?;
        let count: i64 = conn
            .query_row(&format!("select count(*) from {}", quote(&name)), [], |r| r.get(0))
            .map_err(|e| sqlite(path, e))?;
        let key = match columns.iter().find(|c| c.0.eq_ignore_ascii_case("ID")) {
            Some(c) => KeySource::Attribute(c.0.clone()),
            None => KeySource::Position,
        };
        let mut notes = Vec::new();
        if key == KeySource::Position {
            notes.push("no ID column: objects are keyed by their position in the table (fid order)".into());
        }
        layers.push(Layer {
            class: source::class_name(&name),
            file: path.to_path_buf(),
            crs,
            count: count as u64,
            key,
            notes,
            kind: Kind::GeoPackage(Table { name, geometry_column, fid_column }),
        });
    }
    Ok(layers)
}

/// (name, is the primary key) of each column.
fn columns(conn: &Connection, path: &Path, table: &str) -> Result<Vec<(String, bool)>> {
    let mut stmt =
        conn.prepare(&format!("pragma table_info({})", quote(table))).map_err(|e| sqlite(path, e))?;
    stmt.query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(5)? > 0)))
        .and_then(|rows| rows.collect())
        .map_err(|e| sqlite(path, e))
}

fn crs_of(conn: &Connection, path: &Path, srs_id: i64) -> Result<String> {
    let (org, code, definition): (Option<String>, Option<i64>, Option<String>) = conn
        .query_row(
            "select organization, organization_coordsys_id, definition from gpkg_spatial_ref_sys where srs_id = ?1",
            [srs_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(|e| sqlite(path, e))?;
    if let (Some(org), Some(code)) = (&org, code)
        && org.eq_ignore_ascii_case("EPSG")
        && code > 0
    {
        return Ok(format!("EPSG:{code}"));
    }
    let wkt = definition.unwrap_or_default();
    prj::identify(&wkt).ok_or_else(|| source::unknown_crs(path, &wkt))
}

/// Reads a feature table in pages of rows ordered by fid.
pub(crate) struct Reader {
    conn: Connection,
    path: std::path::PathBuf,
    sql: String,
    /// Column names; the geometry column is `geometry_at`, the key column `key_at`.
    names: Vec<String>,
    geometry_at: usize,
    fid_at: usize,
    key_at: Option<usize>,
    code_at: Option<usize>,
    last_fid: i64,
    done: bool,
    index: u64,
    page: VecDeque<RawFeature>,
}

const PAGE: i64 = 10_000;

impl Reader {
    pub(crate) fn open(path: &Path, table: &Table, key: &KeySource) -> Result<Reader> {
        let conn = connect(path)?;
        let names: Vec<String> = columns(&conn, path, &table.name)?.into_iter().map(|c| c.0).collect();
        let at = |n: &str| names.iter().position(|c| c == n);
        let geometry_at = at(&table.geometry_column).ok_or_else(|| {
            Error::Import(format!("{}: no column {}", path.display(), table.geometry_column))
        })?;
        let fid_at = at(&table.fid_column).unwrap_or(0);
        let key_at = match key {
            KeySource::Attribute(name) => at(name),
            _ => None,
        };
        let code_at = names.iter().position(|c| c.eq_ignore_ascii_case("CODICE"));
        let list = names.iter().map(|n| quote(n)).collect::<Vec<_>>().join(", ");
        let fid = quote(&table.fid_column);
        let sql =
            format!("select {list} from {} where {fid} > ?1 order by {fid} limit {PAGE}", quote(&table.name));
        Ok(Reader {
            conn,
            path: path.to_path_buf(),
            sql,
            names,
            geometry_at,
            fid_at,
            key_at,
            code_at,
            last_fid: i64::MIN,
            done: false,
            index: 0,
            page: VecDeque::new(),
        })
    }

    fn fill(&mut self) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(&self.sql).map_err(|e| sqlite(&self.path, e))?;
        let mut rows = stmt.query([self.last_fid]).map_err(|e| sqlite(&self.path, e))?;
        let mut got = 0;
        while let Some(row) = rows.next().map_err(|e| sqlite(&self.path, e))? {
            got += 1;
            let mut props: Vec<(String, Value)> = Vec::with_capacity(self.names.len());
            let mut shape = Err("the feature has no geometry".to_string());
            for (i, name) in self.names.iter().enumerate() {
                let v = row.get_ref(i).map_err(|e| sqlite(&self.path, e))?;
                if i == self.fid_at {
                    self.last_fid = v.as_i64().unwrap_or(self.last_fid);
                    continue;
                }
                if i == self.geometry_at {
                    if let ValueRef::Blob(b) = v {
                        shape = GpkgWkb(b).to_geo().map_err(|e| format!("unreadable geometry: {e}"));
                    }
                    continue;
                }
                props.push((name.clone(), json_of(v)));
            }
            let shape = shape.and_then(|g| {
                if geo::CoordsIter::coords_count(&g) == 0 { Err("empty geometry".to_string()) } else { Ok(g) }
            });
            let index = self.index;
            self.index += 1;
            let value_at =
                |at: Option<usize>| at.and_then(|i| source::key_text(&json_of(row.get_ref(i).ok()?)));
            let key = match self.key_at {
                Some(_) => value_at(self.key_at),
                None => Some((index + 1).to_string()),
            };
            let code = value_at(self.code_at);
            let attrs = source::canonical_json(props.iter().map(|(k, v)| (k, v)));
            self.page.push_back(RawFeature { index, key, code, attrs, shape });
        }
        self.done = got < PAGE;
        Ok(())
    }
}

fn json_of(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => Value::from(f),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(hex::encode(b)),
    }
}

impl FeatureReader for Reader {
    fn next_feature(&mut self) -> Option<Result<RawFeature>> {
        if self.page.is_empty()
            && !self.done
            && let Err(e) = self.fill()
        {
            self.done = true;
            return Some(Err(e));
        }
        self.page.pop_front().map(Ok)
    }
}
