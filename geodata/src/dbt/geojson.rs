//! GeoJSON FeatureCollections: RFC 7946 (WGS84), or the 2008 draft's `crs` member naming an EPSG code
//! (what `ogr2ogr -f GeoJSON` writes for a projected source), or `--crs`.

use std::path::Path;
use std::sync::Arc;

use geo::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Point,
    Polygon,
};
use serde_json::Value;

use super::prj;
use super::shp::Shape;
use super::source::{self, FeatureReader, KeySource, Kind, Layer, RawFeature};
use crate::{Error, Result};

pub(crate) fn layer(path: &Path, forced: Option<&str>) -> Result<Layer> {
    let bytes = std::fs::read(path).map_err(Error::io("cannot read", path))?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Import(format!("{}: not JSON: {e}", path.display())))?;
    let features = doc
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Import(format!("{}: not a GeoJSON FeatureCollection", path.display())))?;
    let crs = match forced {
        Some(c) => c.to_string(),
        None => match doc.pointer("/crs/properties/name").and_then(Value::as_str) {
            Some(name) => prj::normalise_code(name).ok_or_else(|| Error::Crs {
                crs: format!("{} ({name})", path.display()),
                detail: "the crs member names no EPSG code; give it with --crs".into(),
            })?,
            None => "EPSG:4326".into(),
        },
    };
    source::check_crs(&crs)?;
    let name =
        doc.get("name").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| {
            path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
        });
    let first = features.first();
    let id_attribute = first
        .and_then(|f| f.get("properties"))
        .and_then(Value::as_object)
        .and_then(|p| p.keys().find(|k| k.eq_ignore_ascii_case("ID")).cloned());
    let key = match (id_attribute, first.and_then(|f| f.get("id"))) {
        (Some(name), _) => KeySource::Attribute(name),
        (None, Some(_)) => KeySource::FeatureId,
        (None, None) => KeySource::Position,
    };
    let mut notes = Vec::new();
    if key == KeySource::Position {
        notes.push("no ID property nor feature id: objects are keyed by their position in the file".into());
    }
    Ok(Layer {
        class: source::class_name(&name),
        file: path.to_path_buf(),
        crs,
        count: features.len() as u64,
        key,
        notes,
        kind: Kind::GeoJson(Arc::new(doc)),
    })
}

pub(crate) struct Reader {
    doc: Arc<Value>,
    key: KeySource,
    next: usize,
}

impl Reader {
    pub(crate) fn new(doc: Arc<Value>, key: &KeySource) -> Reader {
        Reader { doc, key: key.clone(), next: 0 }
    }
}

impl FeatureReader for Reader {
    fn next_feature(&mut self) -> Option<Result<RawFeature>> {
        let feature = self.doc.get("features")?.as_array()?.get(self.next)?;
        let index = self.next as u64;
        self.next += 1;
        let empty = serde_json::Map::new();
        let props = feature.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        let key = match &self.key {
            KeySource::Attribute(name) => props.get(name).and_then(source::key_text),
            KeySource::FeatureId => feature.get("id").and_then(source::key_text),
            KeySource::Position => Some((index + 1).to_string()),
        };
        let code = props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("CODICE"))
            .and_then(|(_, v)| source::key_text(v));
        let shape = match feature.get("geometry") {
            None | Some(Value::Null) => Err("the feature has no geometry".into()),
            Some(g) => geometry(g),
        };
        Some(Ok(RawFeature { index, key, code, attrs: source::canonical_json(props.iter()), shape }))
    }
}

fn coord(v: &Value) -> std::result::Result<Coord<f64>, String> {
    let a = v.as_array().filter(|a| a.len() >= 2).ok_or("a position is not an array of numbers")?;
    let x = a[0].as_f64().ok_or("a coordinate is not a number")?;
    let y = a[1].as_f64().ok_or("a coordinate is not a number")?;
    Ok(Coord { x, y })
}

fn coords(v: &Value) -> std::result::Result<Vec<Coord<f64>>, String> {
    v.as_array().ok_or("coordinates are not an array")?.iter().map(coord).collect()
}

fn line(v: &Value) -> std::result::Result<LineString<f64>, String> {
    let cs = coords(v)?;
    if cs.len() < 2 {
        return Err("a line has fewer than 2 positions".into());
    }
    Ok(LineString(cs))
}

fn polygon(v: &Value) -> std::result::Result<Polygon<f64>, String> {
    let rings = v.as_array().ok_or("polygon coordinates are not an array")?;
    let mut rings: Vec<LineString<f64>> = rings
        .iter()
        .map(|r| {
            let mut cs = coords(r)?;
            if cs.first() != cs.last() {
                cs.push(cs[0]);
            }
            if cs.len() < 4 {
                return Err("a polygon ring has fewer than 4 positions".to_string());
            }
            Ok(LineString(cs))
        })
        .collect::<std::result::Result<_, _>>()?;
    if rings.is_empty() {
        return Err("a polygon has no ring".into());
    }
    let exterior = rings.remove(0);
    Ok(Polygon::new(exterior, rings))
}

fn array(v: &Value) -> std::result::Result<&Vec<Value>, String> {
    v.as_array().ok_or_else(|| "coordinates are not an array".to_string())
}

/// A GeoJSON geometry object as a `geo` geometry (2D: a third ordinate is dropped).
pub(crate) fn geometry(g: &Value) -> Shape {
    let kind = g.get("type").and_then(Value::as_str).ok_or("the geometry has no type")?;
    if kind == "GeometryCollection" {
        let parts = g.get("geometries").and_then(Value::as_array).ok_or("a collection without geometries")?;
        return Ok(Geometry::GeometryCollection(GeometryCollection(
            parts.iter().map(geometry).collect::<std::result::Result<_, _>>()?,
        )));
    }
    let c = g.get("coordinates").ok_or("the geometry has no coordinates")?;
    let geometry = match kind {
        "Point" => Geometry::Point(Point(coord(c)?)),
        "MultiPoint" => Geometry::MultiPoint(MultiPoint(coords(c)?.into_iter().map(Point).collect())),
        "LineString" => Geometry::LineString(line(c)?),
        "MultiLineString" => Geometry::MultiLineString(MultiLineString(
            array(c)?.iter().map(line).collect::<std::result::Result<_, _>>()?,
        )),
        "Polygon" => Geometry::Polygon(polygon(c)?),
        "MultiPolygon" => Geometry::MultiPolygon(MultiPolygon(
            array(c)?.iter().map(polygon).collect::<std::result::Result<_, _>>()?,
        )),
        other => return Err(format!("unknown geometry type {other}")),
    };
    if geo::CoordsIter::coords_count(&geometry) == 0 {
        return Err("empty geometry".into());
    }
    if !super::encode::all_finite(&geometry) {
        return Err("a coordinate is not a finite number".into());
    }
    Ok(geometry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn geometries_convert_and_bad_ones_say_why() {
        let g =
            geometry(&json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]})).unwrap();
        assert!(matches!(g, Geometry::Polygon(_)));
        let err = geometry(&json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0]]]})).unwrap_err();
        assert!(err.contains("fewer than 4"), "{err}");
        assert!(geometry(&json!({"type": "Circle", "coordinates": [0, 0]})).is_err());
        let mp = geometry(&json!({"type": "MultiPoint", "coordinates": [[0, 0, 5], [1, 1, 5]]})).unwrap();
        assert!(matches!(mp, Geometry::MultiPoint(ref m) if m.0.len() == 2));
    }
}
