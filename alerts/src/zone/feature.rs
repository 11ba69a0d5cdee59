//! Reading the features of a zone file, before the database sees them: codes, names, comuni lists and the shape of
//! the geometry (what only PostGIS can judge — a ring crossing itself — is checked by the import).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::ZoneProblem;
use crate::{Error, Result};

/// A feature that read well.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ZoneFeature {
    pub index: usize,
    pub code: String,
    pub name: String,
    /// A clean GeoJSON Polygon or MultiPolygon (type and coordinates only).
    pub geometry: Option<Value>,
    /// The ISTAT codes given, sorted, without repeats; `None` when the feature gives none.
    pub comuni: Option<Vec<String>>,
}

/// Whether `code` is a zone code (the table's check: 1–32 of `A–Z a–z 0–9 _ . -`).
pub fn is_zone_code(code: &str) -> bool {
    (1..=32).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Reads every feature; the ones that do not read well become problems (all of them, each with its reasons).
pub(super) fn parse(collection: &Value) -> Result<(Vec<ZoneFeature>, Vec<ZoneProblem>)> {
    if collection.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(Error::ZoneCollection("the top-level `type` is not \"FeatureCollection\"".into()));
    }
    let Some(features) = collection.get("features").and_then(Value::as_array) else {
        return Err(Error::ZoneCollection("no `features` array".into()));
    };
    let mut good = Vec::new();
    let mut problems = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, feature) in features.iter().enumerate() {
        let before = problems.len();
        let parsed = parse_feature(index, feature, &mut problems);
        if let Some(f) = parsed {
            match seen.get(&f.code) {
                Some(first) => problems.push(ZoneProblem::new(
                    index,
                    Some(&f.code),
                    format!("code {} is also feature {first}'s", f.code),
                )),
                None => {
                    seen.insert(f.code.clone(), index);
                    if problems.len() == before {
                        good.push(f);
                    }
                }
            }
        }
    }
    Ok((good, problems))
}

/// One feature; `None` when it has problems (pushed to `problems`) that keep it from being a zone.
fn parse_feature(index: usize, feature: &Value, problems: &mut Vec<ZoneProblem>) -> Option<ZoneFeature> {
    if feature.get("type").and_then(Value::as_str) != Some("Feature") {
        problems.push(ZoneProblem::new(index, None, "not a GeoJSON Feature"));
        return None;
    }
    let props = feature.get("properties").filter(|p| p.is_object());
    let prop = |key: &str| props.and_then(|p| p.get(key)).filter(|v| !v.is_null());
    let code = match prop("code") {
        Some(Value::String(code)) if is_zone_code(code) => Some(code.clone()),
        Some(Value::String(code)) => {
            problems.push(ZoneProblem::new(
                index,
                None,
                format!("code {code:?} is not 1–32 of A–Z a–z 0–9 _ . -"),
            ));
            None
        }
        Some(other) => {
            problems.push(ZoneProblem::new(index, None, format!("code is not a string: {other}")));
            None
        }
        None => {
            problems.push(ZoneProblem::new(index, None, "no code (properties.code)"));
            None
        }
    };
    let code_ref = code.as_deref();
    let name = match prop("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => Some(name.trim().to_string()),
        Some(Value::String(_)) => {
            problems.push(ZoneProblem::new(index, code_ref, "the name is empty"));
            None
        }
        Some(other) => {
            problems.push(ZoneProblem::new(index, code_ref, format!("name is not a string: {other}")));
            None
        }
        None => {
            problems.push(ZoneProblem::new(index, code_ref, "no name (properties.name)"));
            None
        }
    };
    let comuni = match prop("comuni") {
        None => Ok(None),
        Some(list) => comuni(list).map(|c| Some(c).filter(|c| !c.is_empty())),
    };
    let comuni = comuni.unwrap_or_else(|reason| {
        problems.push(ZoneProblem::new(index, code_ref, reason));
        None
    });
    let geometry = match feature.get("geometry").filter(|g| !g.is_null()) {
        None => {
            if prop("comuni").is_none() {
                problems.push(ZoneProblem::new(
                    index,
                    code_ref,
                    "neither a geometry nor a list of comuni (properties.comuni)",
                ));
            } else if matches!(prop("comuni"), Some(Value::Array(a)) if a.is_empty()) {
                problems.push(ZoneProblem::new(index, code_ref, "no geometry and an empty list of comuni"));
            }
            None
        }
        Some(geometry) => match polygonal(geometry) {
            Ok(clean) => Some(clean),
            Err(reason) => {
                problems.push(ZoneProblem::new(index, code_ref, reason));
                None
            }
        },
    };
    Some(ZoneFeature { index, code: code?, name: name?, geometry, comuni })
}

/// A list of ISTAT codes: strings of digits or whole numbers, left-padded to six digits (`10025` → `010025`, as
/// spreadsheets drop the zero); a code twice is refused.
fn comuni(list: &Value) -> std::result::Result<Vec<String>, String> {
    let Value::Array(items) = list else {
        return Err(format!("comuni is not a list of ISTAT codes: {list}"));
    };
    let mut codes = Vec::with_capacity(items.len());
    for item in items {
        let digits = match item {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) if n.is_u64() => n.to_string(),
            other => return Err(format!("{other} in comuni is not an ISTAT code")),
        };
        if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{item} in comuni is not an ISTAT code (six digits)"));
        }
        codes.push(format!("{digits:0>6}"));
    }
    codes.sort();
    if let Some(pair) = codes.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("comune {} is listed twice", pair[0]));
    }
    Ok(codes)
}

/// A Polygon or MultiPolygon with numeric positions in range and closed rings of at least four positions, as a
/// clean GeoJSON geometry (a `crs` member or foreign members dropped: the file is EPSG:4326).
fn polygonal(geometry: &Value) -> std::result::Result<Value, String> {
    let kind = geometry.get("type").and_then(Value::as_str).unwrap_or("");
    let coordinates = geometry.get("coordinates").ok_or("the geometry has no coordinates")?;
    match kind {
        "Polygon" => polygon(coordinates, "coordinates")?,
        "MultiPolygon" => {
            let polygons = coordinates.as_array().ok_or("the MultiPolygon's coordinates are not a list")?;
            if polygons.is_empty() {
                return Err("the MultiPolygon is empty".into());
            }
            for (i, p) in polygons.iter().enumerate() {
                polygon(p, &format!("coordinates[{i}]"))?;
            }
        }
        "" => return Err("the geometry has no type".into()),
        other => return Err(format!("the geometry is a {other}, not a Polygon or MultiPolygon")),
    }
    Ok(json!({"type": kind, "coordinates": coordinates}))
}

fn polygon(rings: &Value, at: &str) -> std::result::Result<(), String> {
    let rings = rings.as_array().ok_or_else(|| format!("{at} is not a list of rings"))?;
    if rings.is_empty() {
        return Err(format!("{at}: the polygon has no ring"));
    }
    for (r, ring) in rings.iter().enumerate() {
        let at = format!("{at}[{r}]");
        let positions = ring.as_array().ok_or_else(|| format!("{at} is not a list of positions"))?;
        if positions.len() < 4 {
            return Err(format!("{at}: a ring needs at least 4 positions, it has {}", positions.len()));
        }
        let mut points = Vec::with_capacity(positions.len());
        for (p, position) in positions.iter().enumerate() {
            let xy = position
                .as_array()
                .filter(|xy| xy.len() >= 2)
                .and_then(|xy| Some((xy[0].as_f64()?, xy[1].as_f64()?)))
                .ok_or_else(|| format!("{at}[{p}] is not a position [lon, lat]"))?;
            if !(-180.0..=180.0).contains(&xy.0) || !(-90.0..=90.0).contains(&xy.1) {
                return Err(format!(
                    "{at}[{p}] = [{}, {}] is not a WGS84 longitude and latitude (EPSG:4326, degrees)",
                    xy.0, xy.1
                ));
            }
            points.push(xy);
        }
        if points.first() != points.last() {
            return Err(format!("{at}: the ring is not closed (its last position differs from the first)"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Value {
        json!({"type": "Polygon", "coordinates": [[[8.9, 44.4], [9.0, 44.4], [9.0, 44.5], [8.9, 44.5], [8.9, 44.4]]]})
    }

    fn collection(features: Vec<Value>) -> Value {
        json!({"type": "FeatureCollection", "features": features})
    }

    #[test]
    fn codes_follow_the_table_check() {
        assert!(is_zone_code("B") && is_zone_code("GE-LEVANTE_1.2"));
        assert!(!is_zone_code("") && !is_zone_code("zona B") && !is_zone_code(&"x".repeat(33)));
    }

    #[test]
    fn polygons_and_lists_of_comuni_read() {
        let c = collection(vec![
            json!({"type": "Feature", "geometry": square(), "properties": {"code": "P", "name": " Ponente "}}),
            json!({"type": "Feature", "geometry": null, "properties": {"code": "B", "name": "Centro", "comuni": ["010025", 10001]}}),
        ]);
        let (good, problems) = parse(&c).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(good[0].name, "Ponente");
        assert!(good[0].comuni.is_none() && good[0].geometry.is_some());
        assert_eq!(good[1].comuni.as_deref(), Some(&["010001".to_string(), "010025".to_string()][..]));
    }

    #[test]
    fn every_problem_is_listed_with_its_feature() {
        let open =
            json!({"type": "Polygon", "coordinates": [[[8.9, 44.4], [9.0, 44.4], [9.0, 44.5], [8.9, 44.5]]]});
        let c = collection(vec![
            json!({"type": "Feature", "geometry": square(), "properties": {"code": "zona B", "name": ""}}),
            json!({"type": "Feature", "geometry": open, "properties": {"code": "C", "name": "Levante"}}),
            json!({"type": "Feature", "properties": {"code": "D", "name": "Nord"}}),
            json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [9, 44]}, "properties": {"code": "E", "name": "E"}}),
            json!({"type": "Feature", "properties": {"code": "F", "name": "F", "comuni": ["010025", "10025"]}}),
            json!({"type": "Feature", "geometry": square(), "properties": {"code": "C", "name": "Again"}}),
        ]);
        let (good, problems) = parse(&c).unwrap();
        assert!(good.is_empty(), "{good:?}");
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 7, "{text:#?}");
        assert!(text[0].starts_with("feature 0: code \"zona B\""), "{text:#?}");
        assert!(text[1].starts_with("feature 0: the name is empty"), "{text:#?}");
        assert!(text[2].starts_with("feature 1 (C): coordinates[0]: the ring is not closed"), "{text:#?}");
        assert!(text[3].starts_with("feature 2 (D): neither a geometry"), "{text:#?}");
        assert!(text[4].contains("Point, not a Polygon"), "{text:#?}");
        assert!(text[5].contains("comune 010025 is listed twice"), "{text:#?}");
        assert!(text[6].starts_with("feature 5 (C): code C is also feature 1's"), "{text:#?}");
    }

    #[test]
    fn positions_out_of_range_are_named() {
        let far = json!({"type": "MultiPolygon", "coordinates": [[[[8.9, 44.4], [190.0, 44.4], [9.0, 44.5], [8.9, 44.4]]]]});
        let err = polygonal(&far).unwrap_err();
        assert!(err.starts_with("coordinates[0][0][1] = [190, 44.4]"), "{err}");
    }

    #[test]
    fn a_collection_is_required() {
        assert!(matches!(parse(&json!({"type": "Feature"})), Err(Error::ZoneCollection(_))));
    }
}
