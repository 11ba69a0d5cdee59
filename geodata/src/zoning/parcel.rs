//! A parcel from a client: a GeoJSON Polygon or MultiPolygon, read strictly and checked in Rust before PostGIS
//! does any work with it.
//!
//! A self-intersecting polygon of a thousand vertices costs microseconds to refuse here, and minutes and gigabytes
//! to intersect in PostGIS (whose cancellation could crash the server). So [`Parcel::from_geojson`] refuses, with a
//! reason a client can act on:
//!
//! - anything that is not a Polygon or MultiPolygon (or a Feature of one), a missing or non-numeric coordinate, a
//!   position beyond ±180° / ±90°, a ring that is not closed or has fewer than three distinct positions;
//! - more than [`MAX_VERTICES`] positions or [`MAX_RINGS`] rings, a polygon spanning more than [`MAX_SPAN_DEG`]
//!   degrees, or covering more than [`MAX_AREA_KM2`] km² (a parcel query, not a map of the world);
//! - a boundary that crosses or touches itself, rings that cross or share an edge, a hole outside its shell or
//!   inside another hole, polygons of a MultiPolygon that overlap.
//!
//! The crossing test is a sweep over the segments sorted by their west end: each segment is tested only against the
//! segments whose bounding box overlaps its own, with a bound on the pairs tested ([`MAX_PAIRS`]) so that no input
//! makes it quadratic without limit.

use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{
    BoundingRect, Coord, CoordinatePosition, GeodesicArea, Line, LineString, MultiPolygon, Polygon, Rect,
};
use serde_json::Value;

use crate::{Error, Result};

/// Most positions a parcel may have, over all its rings.
pub const MAX_VERTICES: usize = 10_000;
/// Most rings (shells and holes) a parcel may have.
pub const MAX_RINGS: usize = 500;
/// Widest a parcel may be, in degrees of longitude or of latitude.
pub const MAX_SPAN_DEG: f64 = 2.0;
/// Largest area of a parcel, km² (WGS84 ellipsoid).
pub const MAX_AREA_KM2: f64 = 10_000.0;
/// Most segment pairs the crossing test looks at (a 10,000-vertex circle needs about 30,000).
pub const MAX_PAIRS: u64 = 5_000_000;

/// A polygon checked for use in a zoning query: well-formed, in range, valid and of a sane size.
///
/// # Units
/// WGS84 (EPSG:4326) longitude and latitude in degrees.
#[derive(Debug, Clone, PartialEq)]
pub struct Parcel {
    shape: MultiPolygon<f64>,
    area_m2: f64,
}

impl Parcel {
    /// Reads a GeoJSON Polygon or MultiPolygon, or a Feature of one, and checks it (see the module's
    /// documentation). Errors: [`Error::InvalidInput`] for malformed GeoJSON, [`Error::InvalidGeometry`] for a
    /// geometry that is not a valid polygon in range, [`Error::TooLarge`] beyond the limits.
    pub fn from_geojson(value: &Value) -> Result<Parcel> {
        let shape = read(value)?;
        let vertices: usize = shape.0.iter().map(|p| rings(p).map(|r| r.0.len()).sum::<usize>()).sum();
        let ring_count: usize = shape.0.iter().map(|p| 1 + p.interiors().len()).sum();
        // Counted while reading too (before anything is allocated); kept here for parcels built otherwise.
        limit(vertices, MAX_VERTICES, "vertices")?;
        limit(ring_count, MAX_RINGS, "rings")?;
        check_span(&shape)?;
        check_validity(&shape)?;
        let area_m2: f64 = shape.0.iter().map(|p| p.geodesic_area_signed().abs()).sum();
        if area_m2 > MAX_AREA_KM2 * 1e6 {
            return Err(Error::TooLarge {
                what: format!("the polygon covers {:.0} km²", area_m2 / 1e6),
                limit: format!("{MAX_AREA_KM2} km²"),
            });
        }
        Ok(Parcel { shape, area_m2 })
    }

    /// The polygons.
    pub fn shape(&self) -> &MultiPolygon<f64> {
        &self.shape
    }

    /// The area on the WGS84 ellipsoid, m².
    pub fn area_m2(&self) -> f64 {
        self.area_m2
    }
}

fn rings(p: &Polygon<f64>) -> impl Iterator<Item = &LineString<f64>> {
    std::iter::once(p.exterior()).chain(p.interiors())
}

fn limit(n: usize, max: usize, what: &str) -> Result<()> {
    if n > max {
        return Err(Error::TooLarge {
            what: format!("the polygon has {n} {what}"),
            limit: format!("{max} {what}"),
        });
    }
    Ok(())
}

fn invalid(reason: impl Into<String>, at: Option<Coord<f64>>) -> Error {
    Error::InvalidGeometry { reason: reason.into(), at: at.map(|c| (c.x, c.y)) }
}

/// A short rendering of a JSON value for an error message.
fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 { format!("{}…", s.chars().take(40).collect::<String>()) } else { s }
}

/// The GeoJSON geometry of `value`: a Polygon, a MultiPolygon, or a Feature of one.
fn read(value: &Value) -> Result<MultiPolygon<f64>> {
    let kind = |v: &Value, field: &str| -> Result<String> {
        match v.get("type") {
            Some(Value::String(t)) => Ok(t.clone()),
            Some(other) => Err(Error::input(field, format!("{} is not a GeoJSON type", shown(other)))),
            None if v.is_object() => Err(Error::input(field, "missing: a GeoJSON object has a `type`")),
            None => Err(Error::input(
                "body",
                "the body must be a GeoJSON object (a Polygon, MultiPolygon or Feature)",
            )),
        }
    };
    let (geometry, prefix) = match kind(value, "type")?.as_str() {
        "Feature" => match value.get("geometry") {
            Some(g) if g.is_object() => (g, "geometry."),
            _ => return Err(Error::input("geometry", "the Feature has no geometry")),
        },
        _ => (value, ""),
    };
    let field = |name: &str| format!("{prefix}{name}");
    let coordinates =
        || geometry.get("coordinates").ok_or_else(|| Error::input(field("coordinates"), "missing"));
    match kind(geometry, &field("type"))?.as_str() {
        "Polygon" => {
            let c = coordinates()?;
            count(c, 2)?;
            Ok(MultiPolygon(vec![polygon(c, &field("coordinates"))?]))
        }
        "MultiPolygon" => {
            let c = coordinates()?;
            count(c, 3)?;
            let parts =
                array(c, &field("coordinates"), "a MultiPolygon's coordinates are a list of polygons")?;
            if parts.is_empty() {
                return Err(invalid("the MultiPolygon has no polygon", None));
            }
            let name = field("coordinates");
            let polygons = parts
                .iter()
                .enumerate()
                .map(|(i, p)| polygon(p, &format!("{name}[{i}]")))
                .collect::<Result<_>>()?;
            Ok(MultiPolygon(polygons))
        }
        other => Err(invalid(
            format!("a {other} is not an area: give a GeoJSON Polygon or MultiPolygon (or a Feature of one)"),
            None,
        )),
    }
}

/// Counts positions and rings from the array lengths alone (no allocation), so an oversized parcel is refused
/// before it is read. `depth` is the nesting of rings: 2 for a Polygon, 3 for a MultiPolygon.
fn count(coordinates: &Value, depth: u8) -> Result<()> {
    fn walk(v: &Value, depth: u8, rings: &mut usize, vertices: &mut usize) {
        let Some(items) = v.as_array() else { return };
        if depth == 1 {
            *rings += 1;
            *vertices += items.len();
        } else {
            items.iter().for_each(|i| walk(i, depth - 1, rings, vertices));
        }
    }
    let (mut rings, mut vertices) = (0, 0);
    walk(coordinates, depth, &mut rings, &mut vertices);
    limit(vertices, MAX_VERTICES, "vertices")?;
    limit(rings, MAX_RINGS, "rings")
}

fn array<'a>(v: &'a Value, field: &str, what: &str) -> Result<&'a Vec<Value>> {
    v.as_array().ok_or_else(|| Error::input(field, format!("{} is not a list: {what}", shown(v))))
}

fn polygon(v: &Value, field: &str) -> Result<Polygon<f64>> {
    let rings = array(v, field, "a Polygon's coordinates are a list of rings")?;
    if rings.is_empty() {
        return Err(invalid(format!("{field}: a polygon needs at least its outer ring"), None));
    }
    let mut rings = rings
        .iter()
        .enumerate()
        .map(|(i, r)| ring(r, &format!("{field}[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    let exterior = rings.remove(0);
    Ok(Polygon::new(exterior, rings))
}

fn ring(v: &Value, field: &str) -> Result<LineString<f64>> {
    let positions = array(v, field, "a ring is a list of positions")?;
    let coords = positions
        .iter()
        .enumerate()
        .map(|(i, p)| position(p, &format!("{field}[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    if coords.len() < 4 {
        return Err(invalid(
            format!(
                "{field}: a ring needs at least 4 positions (the last repeating the first), this has {}",
                coords.len()
            ),
            coords.first().copied(),
        ));
    }
    if coords.first() != coords.last() {
        return Err(invalid(
            format!("{field}: the ring is not closed (its last position must repeat the first)"),
            coords.first().copied(),
        ));
    }
    Ok(LineString(coords))
}

fn position(v: &Value, field: &str) -> Result<Coord<f64>> {
    let items = array(v, field, "a position is [longitude, latitude]")?;
    if !(2..=3).contains(&items.len()) {
        return Err(Error::input(
            field,
            format!("a position is [longitude, latitude] (or with an altitude), not {} numbers", items.len()),
        ));
    }
    let mut xyz = [0.0; 3];
    for (i, item) in items.iter().enumerate() {
        xyz[i] = item.as_f64().filter(|n| n.is_finite()).ok_or_else(|| {
            Error::input(format!("{field}[{i}]"), format!("{} is not a number", shown(item)))
        })?;
    }
    let [lon, lat, _] = xyz;
    if !(-180.0..=180.0).contains(&lon) {
        return Err(invalid(
            format!("{field}: longitude {lon} is beyond ±180° (WGS84, longitude first)"),
            None,
        ));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(invalid(
            format!("{field}: latitude {lat} is beyond ±90° (WGS84, longitude first)"),
            None,
        ));
    }
    Ok(Coord { x: lon, y: lat })
}

fn check_span(shape: &MultiPolygon<f64>) -> Result<()> {
    let Some(bounds) = shape.bounding_rect() else {
        return Err(invalid("the polygon is empty", None));
    };
    let (w, h) = (bounds.width(), bounds.height());
    if w > MAX_SPAN_DEG || h > MAX_SPAN_DEG {
        return Err(Error::TooLarge {
            what: format!("the polygon spans {w:.3}° of longitude and {h:.3}° of latitude"),
            limit: format!("{MAX_SPAN_DEG}° in each direction"),
        });
    }
    Ok(())
}

/// One segment of a ring, for the sweep.
#[derive(Debug, Clone, Copy)]
struct Segment {
    line: Line<f64>,
    /// Which ring (over the whole MultiPolygon) and which segment of it.
    ring: usize,
    index: usize,
    /// Segments in the ring.
    of: usize,
    min_x: f64,
    max_x: f64,
    min_y: f64,
    max_y: f64,
}

impl Segment {
    fn adjacent(&self, other: &Segment) -> bool {
        let (a, b) = (self.index.min(other.index), self.index.max(other.index));
        b - a == 1 || (a == 0 && b == self.of - 1)
    }
}

/// The ring without repeated consecutive positions (allowed, and meaningless).
fn distinct(ring: &LineString<f64>) -> Vec<Coord<f64>> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
    for c in &ring.0 {
        if out.last() != Some(c) {
            out.push(*c);
        }
    }
    out
}

fn check_validity(shape: &MultiPolygon<f64>) -> Result<()> {
    let mut segments = Vec::new();
    let mut ring_id = 0;
    for polygon in &shape.0 {
        for ring in rings(polygon) {
            let coords = distinct(ring);
            // Closed: n positions are n - 1 distinct points.
            if coords.len() < 4 {
                return Err(invalid("a ring has fewer than 3 distinct positions", coords.first().copied()));
            }
            let of = coords.len() - 1;
            segments.extend(coords.windows(2).enumerate().map(|(index, w)| Segment {
                line: Line::new(w[0], w[1]),
                ring: ring_id,
                index,
                of,
                min_x: w[0].x.min(w[1].x),
                max_x: w[0].x.max(w[1].x),
                min_y: w[0].y.min(w[1].y),
                max_y: w[0].y.max(w[1].y),
            }));
            ring_id += 1;
        }
    }
    no_crossings(segments)?;
    containment(shape)
}

/// Every pair of segments whose x-ranges overlap (at most n²/2 comparisons of two numbers) and whose boxes
/// overlap (at most [`MAX_PAIRS`] of them), tested for an intersection that makes the polygon invalid.
fn no_crossings(mut segments: Vec<Segment>) -> Result<()> {
    segments.sort_by(|a, b| a.min_x.total_cmp(&b.min_x));
    let mut pairs: u64 = 0;
    for (i, s) in segments.iter().enumerate() {
        for t in &segments[i + 1..] {
            if t.min_x > s.max_x {
                break;
            }
            if t.min_y > s.max_y || t.max_y < s.min_y {
                continue;
            }
            pairs += 1;
            if pairs > MAX_PAIRS {
                return Err(Error::TooLarge {
                    what: "the polygon is too intricate to check (its segments overlap too much)".into(),
                    limit: format!("{MAX_PAIRS} overlapping segment pairs"),
                });
            }
            let Some(hit) = line_intersection(s.line, t.line) else { continue };
            if s.ring == t.ring {
                match hit {
                    LineIntersection::SinglePoint { .. } if s.adjacent(t) => {}
                    LineIntersection::SinglePoint { intersection, .. } => {
                        return Err(invalid("the polygon's boundary intersects itself", Some(intersection)));
                    }
                    LineIntersection::Collinear { intersection } => {
                        return Err(invalid(
                            "the polygon's boundary runs back over itself",
                            Some(intersection.start),
                        ));
                    }
                }
            } else {
                match hit {
                    LineIntersection::SinglePoint { is_proper: false, .. } => {} // rings may touch at a point
                    LineIntersection::SinglePoint { intersection, .. } => {
                        return Err(invalid("two rings of the polygon cross", Some(intersection)));
                    }
                    LineIntersection::Collinear { intersection }
                        if intersection.start == intersection.end => {}
                    LineIntersection::Collinear { intersection } => {
                        return Err(invalid(
                            "two rings of the polygon share an edge (merge adjacent polygons into one)",
                            Some(intersection.start),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Inside or outside an area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Inside,
    Outside,
}

/// Where `ring` lies with respect to `area`, judged at its first vertex not on `area`'s boundary (with no crossing
/// rings, every vertex of a ring is on the same side). `None`: all of it lies on the boundary.
fn side(ring: &LineString<f64>, area: &Polygon<f64>) -> Option<(Position, Coord<f64>)> {
    ring.0.iter().find_map(|c| match area.coordinate_position(c) {
        geo::coordinate_position::CoordPos::Inside => Some((Position::Inside, *c)),
        geo::coordinate_position::CoordPos::Outside => Some((Position::Outside, *c)),
        geo::coordinate_position::CoordPos::OnBoundary => None,
    })
}

fn overlapping(a: Option<Rect<f64>>, b: Option<Rect<f64>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a.min().x <= b.max().x
                && b.min().x <= a.max().x
                && a.min().y <= b.max().y
                && b.min().y <= a.max().y
        }
        _ => false,
    }
}

/// Holes inside their shell and not inside one another; polygons of a MultiPolygon not inside one another.
fn containment(shape: &MultiPolygon<f64>) -> Result<()> {
    for polygon in &shape.0 {
        let shell = Polygon::new(polygon.exterior().clone(), vec![]);
        let holes: Vec<Polygon<f64>> =
            polygon.interiors().iter().map(|h| Polygon::new(h.clone(), vec![])).collect();
        for (i, hole) in polygon.interiors().iter().enumerate() {
            match side(hole, &shell) {
                Some((Position::Inside, _)) => {}
                Some((Position::Outside, at)) => {
                    return Err(invalid("a hole lies outside its polygon", Some(at)));
                }
                None => {
                    return Err(invalid("a hole lies on its polygon's boundary", hole.0.first().copied()));
                }
            }
            for other in &holes[i + 1..] {
                if !overlapping(hole.bounding_rect(), other.exterior().bounding_rect()) {
                    continue;
                }
                let inside = |a: &LineString<f64>, b: &Polygon<f64>| {
                    side(a, b).is_none_or(|(p, _)| p == Position::Inside)
                };
                if inside(hole, other) || inside(other.exterior(), &holes[i]) {
                    return Err(invalid("a hole lies inside another hole", hole.0.first().copied()));
                }
            }
        }
    }
    let boxes: Vec<Option<Rect<f64>>> = shape.0.iter().map(|p| p.exterior().bounding_rect()).collect();
    for (i, a) in shape.0.iter().enumerate() {
        for (j, b) in shape.0.iter().enumerate().skip(i + 1) {
            if !overlapping(boxes[i], boxes[j]) {
                continue;
            }
            for (x, y) in [(a, b), (b, a)] {
                match side(x.exterior(), y) {
                    Some((Position::Outside, _)) => {}
                    Some((Position::Inside, at)) => {
                        return Err(invalid(
                            format!("polygons {i} and {j} of the MultiPolygon overlap"),
                            Some(at),
                        ));
                    }
                    None => {
                        return Err(invalid(
                            format!("polygons {i} and {j} of the MultiPolygon coincide"),
                            x.exterior().0.first().copied(),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
        json!([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]])
    }

    fn polygon(rings: Vec<Value>) -> Value {
        json!({"type": "Polygon", "coordinates": rings})
    }

    /// A star polygon {n/k}: n points on a circle, each joined to the k-th next; every edge crosses many others.
    pub(crate) fn star(n: usize) -> Value {
        let k = n / 2 - 1;
        let mut ring: Vec<Value> = (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * ((i * k) % n) as f64 / n as f64;
                json!([8.94 + 0.01 * a.cos(), 44.41 + 0.01 * a.sin()])
            })
            .collect();
        ring.push(ring[0].clone());
        json!({"type": "Polygon", "coordinates": [ring]})
    }

    fn refused(v: Value) -> Error {
        Parcel::from_geojson(&v).expect_err("refused")
    }

    #[test]
    fn a_square_with_a_hole_is_a_parcel_with_its_area() {
        let p = Parcel::from_geojson(&json!({"type": "Feature", "properties": {}, "geometry": polygon(vec![
            square(8.935, 44.405, 8.955, 44.41),
            square(8.94, 44.406, 8.941, 44.407),
        ])}))
        .unwrap();
        // 0.02° × 0.005° at 44.4°N ≈ 1,593 m × 556 m, less the hole (80 m × 111 m).
        assert!((p.area_m2() - 885_700.0 + 8_850.0).abs() < 2_000.0, "{}", p.area_m2());
        // Clockwise is as good as counter-clockwise.
        let mut cw = square(8.935, 44.405, 8.955, 44.41);
        cw.as_array_mut().unwrap().reverse();
        let q = Parcel::from_geojson(&polygon(vec![cw])).unwrap();
        assert!((q.area_m2() - 885_700.0).abs() < 2_000.0, "{}", q.area_m2());
    }

    #[test]
    fn a_self_intersecting_star_is_refused_with_the_place() {
        for n in [1_000, 9_000] {
            let err = refused(star(n));
            assert!(matches!(err, Error::InvalidGeometry { at: Some(_), .. }), "{err:?}");
            assert!(err.to_string().contains("intersects itself near (8.9"), "{err}");
        }
        let err = refused(star(20_000));
        assert!(matches!(&err, Error::TooLarge { .. }), "{err:?}");
        assert!(err.to_string().contains("20001 vertices"), "{err}");
    }

    #[test]
    fn bow_ties_spikes_and_crossing_rings_are_refused() {
        let bow_tie = json!([[8.0, 44.0], [8.1, 44.1], [8.1, 44.0], [8.0, 44.1], [8.0, 44.0]]);
        assert!(refused(polygon(vec![bow_tie])).to_string().contains("intersects itself"));
        let spike = json!([[8.0, 44.0], [8.1, 44.0], [8.2, 44.0], [8.1, 44.0], [8.1, 44.1], [8.0, 44.0]]);
        assert!(matches!(refused(polygon(vec![spike])), Error::InvalidGeometry { .. }));
        let crossing_hole = polygon(vec![square(8.0, 44.0, 8.1, 44.1), square(8.05, 44.05, 8.15, 44.08)]);
        assert!(refused(crossing_hole).to_string().contains("two rings of the polygon cross"));
        let outside = polygon(vec![square(8.0, 44.0, 8.1, 44.1), square(8.2, 44.0, 8.3, 44.1)]);
        assert!(refused(outside).to_string().contains("outside"));
        let nested = polygon(vec![
            square(8.0, 44.0, 8.1, 44.1),
            square(8.01, 44.01, 8.09, 44.09),
            square(8.02, 44.02, 8.03, 44.03),
        ]);
        assert!(refused(nested).to_string().contains("inside another hole"));
        let overlapping = json!({"type": "MultiPolygon", "coordinates": [
            [square(8.0, 44.0, 8.1, 44.1)], [square(8.02, 44.02, 8.03, 44.03)]]});
        assert!(refused(overlapping).to_string().contains("overlap"));
        let sharing = json!({"type": "MultiPolygon", "coordinates": [
            [square(8.0, 44.0, 8.1, 44.1)], [square(8.1, 44.0, 8.2, 44.1)]]});
        assert!(refused(sharing).to_string().contains("share an edge"));
        // Touching at one corner, and an island in a lake, are fine.
        let corner = json!({"type": "MultiPolygon", "coordinates": [
            [square(8.0, 44.0, 8.1, 44.1)], [square(8.1, 44.1, 8.2, 44.2)]]});
        assert!(Parcel::from_geojson(&corner).is_ok());
        let island = json!({"type": "MultiPolygon", "coordinates": [
            [square(8.0, 44.0, 8.1, 44.1), square(8.01, 44.01, 8.09, 44.09)], [square(8.02, 44.02, 8.03, 44.03)]]});
        assert!(Parcel::from_geojson(&island).is_ok());
    }

    #[test]
    fn malformed_geojson_is_refused_with_the_member_at_fault() {
        let input = |v: Value, field: &str| match refused(v) {
            Error::InvalidInput { field: f, .. } => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        };
        input(json!({"type": "Polygon"}), "coordinates");
        input(json!({"type": "Polygon", "coordinates": "x"}), "coordinates");
        input(
            json!({"type": "Polygon", "coordinates": [[["x", 44.0], [8.1, 44.0], [8.1, 44.1], ["x", 44.0]]]}),
            "coordinates[0][0][0]",
        );
        input(
            json!({"type": "Polygon", "coordinates": [[["8", "44"], [8.1, 44.0], [8.1, 44.1], ["8", "44"]]]}),
            "coordinates[0][0][0]",
        );
        input(
            json!({"type": "Polygon", "coordinates": [[[8.0], [8.1, 44.0], [8.1, 44.1], [8.0]]]}),
            "coordinates[0][0]",
        );
        input(json!({"type": "Feature", "geometry": null}), "geometry");
        input(json!({"coordinates": []}), "type");
        input(json!([1, 2]), "body");
        input(
            json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[1]]}}),
            "geometry.coordinates[0][0]",
        );
        let geometry = |v: Value, phrase: &str| {
            let err = refused(v);
            assert!(
                matches!(err, Error::InvalidGeometry { .. }) && err.to_string().contains(phrase),
                "{phrase}: {err}"
            );
        };
        geometry(polygon(vec![json!([[500, 500], [501, 500], [501, 501], [500, 500]])]), "beyond ±180°");
        geometry(polygon(vec![json!([[8, 1e300], [8.1, 44], [8.1, 44.1], [8, 1e300]])]), "beyond ±90°");
        geometry(polygon(vec![json!([[8, 44], [8.1, 44], [8.1, 44.1], [8, 44.1]])]), "not closed");
        geometry(polygon(vec![json!([[8, 44], [8.1, 44], [8, 44]])]), "at least 4 positions");
        geometry(polygon(vec![json!([[8, 44], [8.1, 44], [8.1, 44], [8, 44]])]), "fewer than 3 distinct");
        geometry(polygon(vec![]), "outer ring");
        geometry(json!({"type": "Point", "coordinates": [8.9, 44.4]}), "a Point is not an area");
        geometry(json!({"type": "MultiPolygon", "coordinates": []}), "no polygon");
    }

    #[test]
    fn the_whole_world_and_large_areas_are_refused() {
        let world = polygon(vec![json!([[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]])]);
        assert!(matches!(refused(world), Error::TooLarge { .. }));
        // 1.9° × 1.9° at 45°N ≈ 31,000 km²: within the span, beyond the area.
        let err = refused(polygon(vec![square(8.0, 44.0, 9.9, 45.9)]));
        assert!(matches!(err, Error::TooLarge { .. }) && err.to_string().contains("km²"), "{err}");
        let many_rings: Vec<Value> = std::iter::once(square(8.0, 44.0, 8.9, 44.9))
            .chain((0..MAX_RINGS).map(|i| {
                let x = 8.001 + 0.0015 * (i % 500) as f64;
                square(x, 44.001, x + 0.001, 44.002)
            }))
            .collect();
        assert!(refused(polygon(many_rings)).to_string().contains("rings"));
    }

    #[test]
    fn a_comb_of_long_teeth_is_checked_without_testing_every_pair() {
        // Every tooth spans the same longitudes: all x-ranges overlap, the boxes of only neighbours do.
        let n = MAX_VERTICES / 2 - 2;
        let mut ring: Vec<Value> = (0..n)
            .flat_map(|i| {
                let y = 44.0 + 0.0001 * i as f64;
                [json!([8.0, y]), json!([8.5, y + 0.00005])]
            })
            .collect();
        ring.push(json!([7.9, 44.0 + 0.0001 * n as f64]));
        ring.push(json!([7.9, 44.0]));
        ring.push(ring[0].clone());
        let started = std::time::Instant::now();
        assert!(Parcel::from_geojson(&polygon(vec![Value::Array(ring)])).is_ok());
        eprintln!("comb of {} vertices checked in {:?}", 2 * n + 3, started.elapsed());
    }

    #[test]
    fn a_large_valid_circle_is_checked_within_the_pair_budget() {
        let n = MAX_VERTICES - 1;
        let mut ring: Vec<Value> = (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                json!([8.94 + 0.01 * a.cos(), 44.41 + 0.01 * a.sin()])
            })
            .collect();
        ring.push(ring[0].clone());
        let p = Parcel::from_geojson(&polygon(vec![Value::Array(ring)])).unwrap();
        assert!((p.area_m2() - std::f64::consts::PI * 795.0 * 1_112.0).abs() < 30_000.0, "{}", p.area_m2());
    }
}
