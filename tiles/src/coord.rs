use crate::{Error, Result};

/// A tile of the Web Mercator (EPSG:3857) XYZ pyramid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileCoord {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

/// How far beyond its edges a tile carries features: 64 units of its 4,096 (the `buffer` of `ST_AsMVTGeom`), as a
/// share of the tile's width. A change within that margin of a tile changes that tile too.
pub const BUFFER: f64 = 64.0 / 4096.0;

/// Latitude limit of the Web Mercator pyramid, degrees.
const MAX_LAT: f64 = 85.051_128_779_806_59;

impl TileCoord {
    /// The deepest zoom Vedetta serves.
    pub const MAX_ZOOM: u8 = 24;

    /// A checked tile address.
    pub fn new(z: u8, x: u32, y: u32) -> Result<Self> {
        if z > Self::MAX_ZOOM || u64::from(x) >= 1u64 << z || u64::from(y) >= 1u64 << z {
            return Err(Error::OutOfRange { z, x, y });
        }
        Ok(TileCoord { z, x, y })
    }

    /// The address of a request: `z`, `x` and the file name `{y}.mvt`, as whole decimal numbers.
    pub fn parse(z: &str, x: &str, file: &str) -> Result<Self> {
        let bad = || Error::BadAddress { path: format!("{z}/{x}/{file}") };
        let y = file.strip_suffix(".mvt").ok_or_else(bad)?;
        let number = |s: &str| -> Result<u64> {
            if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse::<u64>().map_err(|_| bad())
        };
        let (z, x, y) = (number(z)?, number(x)?, number(y)?);
        let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        if z > u64::from(Self::MAX_ZOOM) {
            return Err(Error::OutOfRange {
                z: u8::try_from(z).unwrap_or(u8::MAX),
                x: clamp(x),
                y: clamp(y),
            });
        }
        // z ≤ 24 here.
        Self::new(z as u8, clamp(x), clamp(y))
    }

    /// Tiles along each axis at this zoom.
    fn span(self) -> f64 {
        f64::from(1u32 << self.z)
    }

    /// The tile's WGS84 bounds `[west, south, east, north]`, widened by `buffer` tile widths on every side.
    ///
    /// # Units
    /// Degrees (EPSG:4326); `buffer` in tile widths ([`BUFFER`] for the margin tiles carry).
    pub fn bounds(self, buffer: f64) -> [f64; 4] {
        let n = self.span();
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| (std::f64::consts::PI * (1.0 - 2.0 * y / n)).sinh().atan().to_degrees();
        let (x, y) = (f64::from(self.x), f64::from(self.y));
        [lon(x - buffer), lat(y + 1.0 + buffer), lon(x + 1.0 + buffer), lat(y - buffer)]
    }

    /// The tile that contains a WGS84 position at zoom `z`.
    ///
    /// # Units
    /// `lon` and `lat` in degrees (EPSG:4326); latitudes beyond ±85.0511° are clamped to the pyramid.
    pub fn containing(lon: f64, lat: f64, z: u8) -> Result<Self> {
        let z = z.min(Self::MAX_ZOOM);
        let n = f64::from(1u32 << z);
        let (fx, fy) = fractional(lon, lat, z);
        let x = fx.floor().clamp(0.0, n - 1.0);
        let y = fy.floor().clamp(0.0, n - 1.0);
        Self::new(z, x as u32, y as u32)
    }

    /// The tiles of zoom `z` that show a WGS84 position: the one containing it and, near an edge, the neighbours
    /// whose [`BUFFER`] reaches it (one to four tiles).
    ///
    /// # Units
    /// `lon` and `lat` in degrees (EPSG:4326).
    pub fn showing(lon: f64, lat: f64, z: u8) -> Vec<TileCoord> {
        Self::covering([lon, lat, lon, lat], z, 4).unwrap_or_default()
    }

    /// The tiles of zoom `z` that show any part of a WGS84 box `[west, south, east, north]` (their buffers
    /// included), or `None` when they are more than `cap`.
    ///
    /// # Units
    /// Degrees (EPSG:4326).
    pub fn covering(bbox: [f64; 4], z: u8, cap: usize) -> Option<Vec<TileCoord>> {
        if bbox.iter().any(|v| !v.is_finite()) {
            return Some(Vec::new());
        }
        let z = z.min(Self::MAX_ZOOM);
        let n = f64::from(1u32 << z);
        let (x0, y0) = fractional(bbox[0], bbox[3], z);
        let (x1, y1) = fractional(bbox[2], bbox[1], z);
        let index = |v: f64| v.floor().clamp(0.0, n - 1.0) as u32;
        let (xa, xb) = (index(x0 - BUFFER), index(x1 + BUFFER));
        let (ya, yb) = (index(y0 - BUFFER), index(y1 + BUFFER));
        let count = (u64::from(xb - xa) + 1) * (u64::from(yb - ya) + 1);
        if count > cap as u64 {
            return None;
        }
        let mut tiles = Vec::with_capacity(count as usize);
        for x in xa..=xb {
            for y in ya..=yb {
                tiles.push(TileCoord { z, x, y });
            }
        }
        Some(tiles)
    }
}

/// Fractional tile coordinates of a WGS84 position at zoom `z`.
fn fractional(lon: f64, lat: f64, z: u8) -> (f64, f64) {
    let n = f64::from(1u32 << z);
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (lon.clamp(-180.0, 180.0) + 180.0) / 360.0 * n;
    let y = (1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piazza_de_ferrari_falls_in_its_tile() {
        // Genova, Piazza De Ferrari (8.9339 E, 44.4073 N) at zoom 14.
        assert_eq!(
            TileCoord::containing(8.9339, 44.4073, 14).unwrap(),
            TileCoord { z: 14, x: 8598, y: 5931 }
        );
        assert!(TileCoord::new(3, 8, 0).is_err());
    }

    #[test]
    fn addresses_are_whole_numbers_inside_the_pyramid() {
        assert_eq!(
            TileCoord::parse("14", "8598", "5931.mvt").unwrap(),
            TileCoord { z: 14, x: 8598, y: 5931 }
        );
        for (z, x, f) in [
            ("14", "8598", "5931"),
            ("14", "-1", "2.mvt"),
            ("1.5", "0", "0.mvt"),
            ("", "0", "0.mvt"),
            ("14", "8598", "5931.pbf"),
            ("14", "+3", "0.mvt"),
            ("1", "0", "99999999999999999.mvt"),
        ] {
            assert!(matches!(TileCoord::parse(z, x, f), Err(Error::BadAddress { .. })), "{z}/{x}/{f}");
        }
        assert!(matches!(TileCoord::parse("25", "0", "0.mvt"), Err(Error::OutOfRange { z: 25, .. })));
        assert!(matches!(TileCoord::parse("300", "0", "0.mvt"), Err(Error::OutOfRange { z: 255, .. })));
        assert!(matches!(TileCoord::parse("2", "4", "0.mvt"), Err(Error::OutOfRange { .. })));
    }

    #[test]
    fn bounds_contain_what_the_tile_contains() {
        let t = TileCoord::containing(8.9339, 44.4073, 14).unwrap();
        let [w, s, e, n] = t.bounds(0.0);
        assert!(w < 8.9339 && 8.9339 < e && s < 44.4073 && 44.4073 < n, "{:?}", t.bounds(0.0));
        let [w2, s2, e2, n2] = t.bounds(BUFFER);
        assert!(w2 < w && s2 < s && e2 > e && n2 > n);
        assert_eq!(TileCoord { z: 0, x: 0, y: 0 }.bounds(0.0)[0], -180.0);
    }

    #[test]
    fn a_point_near_an_edge_shows_in_the_neighbour_too() {
        let t = TileCoord { z: 14, x: 8598, y: 5931 };
        let [w, s, e, n] = t.bounds(0.0);
        // In the middle: one tile.
        assert_eq!(TileCoord::showing((w + e) / 2.0, (s + n) / 2.0, 14), vec![t]);
        // Just inside the west edge: this tile and its western neighbour.
        let near = TileCoord::showing(w + (e - w) / 1000.0, (s + n) / 2.0, 14);
        assert_eq!(near, vec![TileCoord { x: 8597, ..t }, t]);
        // Near a corner: four.
        assert_eq!(TileCoord::showing(w + (e - w) / 1000.0, n - (n - s) / 1000.0, 14).len(), 4);
        // A box too large for the cap.
        assert!(TileCoord::covering([8.0, 44.0, 9.5, 45.0], 14, 100).is_none());
        assert_eq!(TileCoord::covering([8.0, 44.0, 9.5, 45.0], 5, 100).map(|v| v.len()), Some(1));
    }
}
