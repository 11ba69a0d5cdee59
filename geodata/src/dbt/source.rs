//! Layers of the files given to an import, and the features they hold.
//!
//! A layer is one class: a Shapefile (`.shp` + `.dbf` [+ `.cpg`, `.prj`]), one feature table of a GeoPackage, or a
//! GeoJSON FeatureCollection. Every reader yields [`RawFeature`]s: the natural key, the attributes as canonical
//! JSON (keys sorted, values typed as GDAL types them) and the geometry in the layer's CRS — or the reason there is
//! none, so that the feature is reported, never dropped.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::dbf::{self, Dbf};
use super::shp::{self, Shape, Shp};
use super::{geojson, gpkg, prj};
use crate::{Error, Result};

/// Where the natural key of a layer's features comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KeySource {
    /// An attribute (`ID`, whatever its case).
    Attribute(String),
    /// GeoJSON's feature `id` member.
    FeatureId,
    /// Nothing: the feature's position in the file (1-based), which is stable only if the files are.
    Position,
}

impl KeySource {
    pub(crate) fn describe(&self) -> String {
        match self {
            KeySource::Attribute(name) => format!("attribute {name}"),
            KeySource::FeatureId => "GeoJSON feature id".into(),
            KeySource::Position => "feature position (no ID attribute)".into(),
        }
    }
}

/// The format-specific part of a layer.
#[derive(Debug)]
pub(crate) enum Kind {
    Shapefile,
    GeoPackage(gpkg::Table),
    GeoJson(std::sync::Arc<Value>),
}

/// One class to import.
#[derive(Debug)]
pub(crate) struct Layer {
    /// Class code: the layer name, upper case (`TP_CAN`).
    pub class: String,
    pub file: PathBuf,
    /// `EPSG:nnnn`.
    pub crs: String,
    pub count: u64,
    pub key: KeySource,
    /// What the report should tell about this layer (code page, key).
    pub notes: Vec<String>,
    pub kind: Kind,
}

/// A feature as read.
#[derive(Debug)]
pub(crate) struct RawFeature {
    /// Position in the file, 0-based.
    pub index: u64,
    /// The natural key, `None` when the feature has no value for it.
    pub key: Option<String>,
    /// The `CODICE` attribute, when there is one.
    pub code: Option<String>,
    /// Canonical JSON of every attribute.
    pub attrs: String,
    pub shape: Shape,
}

/// Sequential access to a layer's features.
pub(crate) trait FeatureReader {
    /// The next feature; `None` at the end; an error when the file itself is broken.
    fn next_feature(&mut self) -> Option<Result<RawFeature>>;
}

/// The layers of `paths` (files or directories of files), with their CRS: `crs` when given, otherwise the
/// file's (`.prj`, GeoPackage SRS, GeoJSON `crs` member or RFC 7946's WGS84).
pub(crate) fn discover(paths: &[PathBuf], crs: Option<&str>) -> Result<Vec<Layer>> {
    let forced = match crs {
        Some(c) => Some(prj::normalise_code(c).ok_or_else(|| Error::Crs {
            crs: c.into(),
            detail: "give it as EPSG:nnnn (e.g. --crs EPSG:3004)".into(),
        })?),
        None => None,
    };
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(Error::io("cannot list", path))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| format_of(p).is_some())
                .collect();
            inside.sort();
            if inside.is_empty() {
                return Err(Error::Import(format!(
                    "{}: no .shp, .gpkg or .geojson file inside",
                    path.display()
                )));
            }
            files.extend(inside);
        } else {
            files.push(path.clone());
        }
    }
    let mut layers = Vec::new();
    for file in files {
        match format_of(&file) {
            Some("shp") => layers.push(shapefile_layer(&file, forced.as_deref())?),
            Some("gpkg") => layers.extend(gpkg::layers(&file, forced.as_deref())?),
            Some("geojson") => layers.push(geojson::layer(&file, forced.as_deref())?),
            _ => {
                return Err(Error::Import(format!(
                    "{}: not a Shapefile (.shp), GeoPackage (.gpkg) or GeoJSON (.geojson, .json)",
                    file.display()
                )));
            }
        }
    }
    for (i, layer) in layers.iter().enumerate() {
        if let Some(other) = layers[..i].iter().find(|l| l.class == layer.class) {
            return Err(Error::Import(format!(
                "class {} comes from two files in one import ({} and {}); import them one at a time",
                layer.class,
                other.file.display(),
                layer.file.display()
            )));
        }
    }
    Ok(layers)
}

fn format_of(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "shp" => Some("shp"),
        "gpkg" => Some("gpkg"),
        "geojson" | "json" => Some("geojson"),
        _ => None,
    }
}

/// The class of a layer named `name`.
pub(crate) fn class_name(name: &str) -> String {
    name.trim().to_uppercase()
}

/// Checks that PROJ knows `crs` (so that a wrong `--crs` fails before anything is read). The Italian CRSs and
/// WGS84 are known (`crs.rs` tests them all), so only other codes cost a PROJ context here.
pub(crate) fn check_crs(crs: &str) -> Result<()> {
    if crs == "EPSG:4326" || crate::crs::ITALIAN_CRS.contains(&crs) {
        return Ok(());
    }
    crate::crs::Transform::new(crs, "EPSG:4326").map(|_| ())
}

fn sibling(path: &Path, ext: &str) -> Option<PathBuf> {
    [ext.to_string(), ext.to_uppercase()].iter().map(|e| path.with_extension(e)).find(|p| p.exists())
}

fn shapefile_layer(shp_path: &Path, forced: Option<&str>) -> Result<Layer> {
    let dbf_path = sibling(shp_path, "dbf")
        .ok_or_else(|| Error::Import(format!("{}: the .dbf beside it is missing", shp_path.display())))?;
    let dbf = Dbf::open(&dbf_path)?;
    if let Some(n) = shp::count_from_index(shp_path)
        && n != dbf.records
    {
        return Err(Error::Import(format!(
            "{}: {n} shapes in the .shx but {} records in the .dbf",
            shp_path.display(),
            dbf.records
        )));
    }
    let crs = match forced {
        Some(c) => c.to_string(),
        None => {
            let prj_path = sibling(shp_path, "prj").ok_or_else(|| Error::Crs {
                crs: shp_path.display().to_string(),
                detail: "no .prj beside the shapefile; give the CRS with --crs EPSG:nnnn".into(),
            })?;
            let wkt = std::fs::read_to_string(&prj_path).map_err(Error::io("cannot read", &prj_path))?;
            prj::identify(&wkt).ok_or_else(|| unknown_crs(&prj_path, &wkt))?
        }
    };
    check_crs(&crs)?;
    let key = match dbf.fields.iter().find(|f| f.name.eq_ignore_ascii_case("ID")) {
        Some(f) => KeySource::Attribute(f.name.clone()),
        None => KeySource::Position,
    };
    let stem = shp_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut notes = vec![format!("code page {} ({})", dbf.encoding.name(), dbf.encoding_source)];
    if key == KeySource::Position {
        notes.push("no ID attribute: objects are keyed by their position in the file".into());
    }
    for f in dbf.fields.iter().filter(|f| matches!(f.kind, b'M' | b'G')) {
        notes.push(format!("memo field {} holds .dbt block numbers, not the memo text", f.name));
    }
    Ok(Layer {
        class: class_name(&stem),
        file: shp_path.to_path_buf(),
        crs,
        count: dbf.records,
        key,
        notes,
        kind: Kind::Shapefile,
    })
}

/// The error for a WKT that names no CRS Vedetta can tell.
pub(crate) fn unknown_crs(source: &Path, wkt: &str) -> Error {
    Error::Crs {
        crs: format!("{} ({})", source.display(), prj::name_of(wkt)),
        detail: format!(
            "cannot tell which EPSG CRS this is; give it with --crs (one of {}, EPSG:4326)",
            crate::crs::ITALIAN_CRS.join(", ")
        ),
    }
}

/// Opens a layer for reading.
pub(crate) fn open(layer: &Layer) -> Result<Box<dyn FeatureReader>> {
    match &layer.kind {
        Kind::Shapefile => Ok(Box::new(ShapefileReader::open(layer)?)),
        Kind::GeoPackage(table) => Ok(Box::new(gpkg::Reader::open(&layer.file, table, &layer.key)?)),
        Kind::GeoJson(doc) => Ok(Box::new(geojson::Reader::new(doc.clone(), &layer.key))),
    }
}

struct ShapefileReader {
    shp: Shp,
    dbf: Dbf,
    /// Field indexes sorted by name, with the JSON key (`"NAME":`) ready to write.
    order: Vec<(usize, String)>,
    key: Option<usize>,
    code: Option<usize>,
    index: u64,
}

impl ShapefileReader {
    fn open(layer: &Layer) -> Result<ShapefileReader> {
        let dbf_path = sibling(&layer.file, "dbf").unwrap_or_else(|| layer.file.with_extension("dbf"));
        let dbf = Dbf::open(&dbf_path)?;
        let mut order: Vec<(usize, String)> = dbf
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (i, format!("{}:", Value::String(f.name.clone()))))
            .collect();
        order.sort_by(|a, b| dbf.fields[a.0].name.cmp(&dbf.fields[b.0].name));
        let key = match &layer.key {
            KeySource::Attribute(name) => dbf.fields.iter().position(|f| &f.name == name),
            _ => None,
        };
        let code = dbf.fields.iter().position(|f| f.name.eq_ignore_ascii_case("CODICE"));
        Ok(ShapefileReader { shp: Shp::open(&layer.file)?, dbf, order, key, code, index: 0 })
    }
}

impl FeatureReader for ShapefileReader {
    fn next_feature(&mut self) -> Option<Result<RawFeature>> {
        let live = match self.dbf.advance()? {
            Ok(live) => live,
            Err(e) => return Some(Err(e)),
        };
        let shape = match self.shp.next_shape() {
            Some(Ok(s)) => s,
            Some(Err(e)) => return Some(Err(e)),
            None => Err("the .shp has no shape for this record".into()),
        };
        let index = self.index;
        self.index += 1;
        if !live {
            let shape = Err("the record is flagged as deleted in the .dbf".into());
            return Some(Ok(RawFeature { index, key: None, code: None, attrs: "{}".into(), shape }));
        }
        let mut attrs = String::with_capacity(256 + 16 * self.order.len());
        attrs.push('{');
        for (n, (i, json_key)) in self.order.iter().enumerate() {
            if n > 0 {
                attrs.push(',');
            }
            attrs.push_str(json_key);
            write_dbf_value(&mut attrs, &self.dbf.value(&self.dbf.fields[*i]));
        }
        attrs.push('}');
        let text_of = |i: Option<usize>| i.and_then(|i| dbf_key(&self.dbf.value(&self.dbf.fields[i])));
        let key = match self.key {
            Some(_) => text_of(self.key),
            None => Some((index + 1).to_string()),
        };
        let code = text_of(self.code);
        Some(Ok(RawFeature { index, key, code, attrs, shape }))
    }
}

fn write_dbf_value(out: &mut String, v: &dbf::Value<'_>) {
    match v {
        dbf::Value::Null => out.push_str("null"),
        dbf::Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        dbf::Value::Float(f) => write_json(out, &Value::from(*f)),
        dbf::Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        dbf::Value::Text(t) => write_json(out, &Value::String(t.to_string())),
    }
}

/// Appends `v` as JSON.
pub(crate) fn write_json(out: &mut String, v: &Value) {
    let _ = write!(out, "{v}");
}

/// Canonical JSON of a property map: keys sorted, whatever order the source had.
pub(crate) fn canonical_json<'a>(props: impl Iterator<Item = (&'a String, &'a Value)>) -> String {
    let mut pairs: Vec<(&String, &Value)> = props.collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::from("{");
    for (n, (k, v)) in pairs.into_iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        write_json(&mut out, &Value::String(k.clone()));
        out.push(':');
        write_json(&mut out, v);
    }
    out.push('}');
    out
}

/// The natural-key text of a value: integers without padding or `.0`, strings trimmed, nothing for null.
pub(crate) fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Some(i.to_string()),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some((f as i64).to_string()),
            _ => Some(n.to_string()),
        },
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

fn dbf_key(v: &dbf::Value<'_>) -> Option<String> {
    match v {
        dbf::Value::Null => None,
        dbf::Value::Int(i) => Some(i.to_string()),
        dbf::Value::Float(f) => key_text(&Value::from(*f)),
        dbf::Value::Bool(b) => Some(b.to_string()),
        dbf::Value::Text(t) => Some(t.trim().to_string()).filter(|s| !s.is_empty()),
    }
}
