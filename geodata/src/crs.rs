//! Coordinate transformations through PROJ.
//!
//! Vedetta stores geometry in EPSG:4326 (longitude, latitude, degrees). Italian sources arrive in Monte Mario
//! (EPSG:3003/3004, Gauss-Boaga), RDN2008 (EPSG:6706 geographic, 6707/6708 and 7791/7792 UTM), ETRS89 UTM
//! (25832/25833) or WGS84 UTM (32632/32633). Monte Mario ↔ RDN2008 goes through a Helmert transformation without a
//! grid: expect metre-level agreement with other tools.

use geo::{Coord, Geometry, MapCoordsInPlace};

use crate::{Error, Result};

/// The CRSs an import may name.
pub const ITALIAN_CRS: [&str; 11] = [
    "EPSG:3003",
    "EPSG:3004",
    "EPSG:6706",
    "EPSG:6707",
    "EPSG:6708",
    "EPSG:7791",
    "EPSG:7792",
    "EPSG:25832",
    "EPSG:25833",
    "EPSG:32632",
    "EPSG:32633",
];

/// A transformation between two CRSs, with axis order normalised for GIS use: x is easting or longitude,
/// y is northing or latitude, whatever the authority's axis order.
pub struct Transform {
    proj: proj::Proj,
    from: String,
    to: String,
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transform").field("from", &self.from).field("to", &self.to).finish()
    }
}

impl Transform {
    /// A transformation from `from` to `to` (`"EPSG:3004"`, `"EPSG:4326"`, or any definition PROJ accepts).
    pub fn new(from: &str, to: &str) -> Result<Self> {
        let proj = proj::Proj::new_known_crs(from, to, None)
            .map_err(|e| Error::Crs { crs: format!("{from} → {to}"), detail: e.to_string() })?;
        Ok(Transform { proj, from: from.into(), to: to.into() })
    }

    /// Transforms one position.
    ///
    /// # Units
    /// Input and output are in the units of their CRS (degrees for geographic CRSs, metres for projected ones), x
    /// first (longitude or easting).
    pub fn point(&self, x: f64, y: f64) -> Result<(f64, f64)> {
        self.proj.convert((x, y)).map_err(|e| self.error(e))
    }

    /// Transforms every coordinate of `geometry` in place.
    pub fn geometry(&self, geometry: &mut Geometry<f64>) -> Result<()> {
        let f = |c: Coord<f64>| {
            let (x, y) = self.proj.convert((c.x, c.y)).map_err(|e| self.error(e))?;
            Ok::<_, Error>(Coord { x, y })
        };
        map_geometry(geometry, &f)
    }

    fn error(&self, e: proj::ProjError) -> Error {
        Error::Crs { crs: format!("{} → {}", self.from, self.to), detail: e.to_string() }
    }
}

/// `try_map_coords_in_place` on `Geometry` recurses into collections with a new closure type per level, which
/// the compiler cannot instantiate; recursing here with one `&dyn Fn` keeps a single instantiation.
fn map_geometry(geometry: &mut Geometry<f64>, f: &dyn Fn(Coord<f64>) -> Result<Coord<f64>>) -> Result<()> {
    match geometry {
        Geometry::Point(g) => g.try_map_coords_in_place(f),
        Geometry::Line(g) => g.try_map_coords_in_place(f),
        Geometry::LineString(g) => g.try_map_coords_in_place(f),
        Geometry::Polygon(g) => g.try_map_coords_in_place(f),
        Geometry::MultiPoint(g) => g.try_map_coords_in_place(f),
        Geometry::MultiLineString(g) => g.try_map_coords_in_place(f),
        Geometry::MultiPolygon(g) => g.try_map_coords_in_place(f),
        Geometry::Rect(g) => g.try_map_coords_in_place(f),
        Geometry::Triangle(g) => g.try_map_coords_in_place(f),
        Geometry::GeometryCollection(gc) => gc.0.iter_mut().try_for_each(|g| map_geometry(g, f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Point, point};

    #[test]
    fn monte_mario_east_matches_cs2cs() {
        // cs2cs EPSG:4326 EPSG:3004 of Piazza San Marco, Venezia.
        let t = Transform::new("EPSG:4326", "EPSG:3004").unwrap();
        let (x, y) = t.point(12.3397, 45.4341).unwrap();
        assert!((x - 2_311_923.097).abs() < 0.01, "{x}");
        assert!((y - 5_034_635.760).abs() < 0.01, "{y}");
    }

    #[test]
    fn geometry_round_trips_through_utm() {
        let there = Transform::new("EPSG:4326", "EPSG:6707").unwrap();
        let back = Transform::new("EPSG:6707", "EPSG:4326").unwrap();
        let mut g: Geometry<f64> = point!(x: 8.9339, y: 44.4073).into(); // Piazza De Ferrari, Genova
        there.geometry(&mut g).unwrap();
        let Geometry::Point(p) = g else { panic!("still a point") };
        assert!(p.x() > 490_000.0 && p.x() < 500_000.0, "easting first: {p:?}");
        let mut g: Geometry<f64> = p.into();
        back.geometry(&mut g).unwrap();
        let p: Point<f64> = g.try_into().unwrap();
        assert!((p.x() - 8.9339).abs() < 1e-7 && (p.y() - 44.4073).abs() < 1e-7, "{p:?}");
    }

    #[test]
    fn every_italian_crs_is_known() {
        for crs in ITALIAN_CRS {
            Transform::new(crs, "EPSG:4326").unwrap_or_else(|e| panic!("{crs}: {e}"));
        }
    }

    #[test]
    fn unknown_crs_is_a_clear_error() {
        let err = Transform::new("EPSG:999999", "EPSG:4326").unwrap_err();
        assert!(err.to_string().contains("EPSG:999999"), "{err}");
    }
}
