use crate::{Error, Result};

/// A tile of the Web Mercator (EPSG:3857) XYZ pyramid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileCoord {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

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

    /// The tile that contains a WGS84 position at zoom `z`.
    ///
    /// # Units
    /// `lon` and `lat` in degrees (EPSG:4326); latitudes beyond ±85.0511° are clamped to the pyramid.
    pub fn containing(lon: f64, lat: f64, z: u8) -> Result<Self> {
        let n = f64::from(1u32 << z.min(Self::MAX_ZOOM));
        let lat = lat.clamp(-85.051_128_78, 85.051_128_78).to_radians();
        let x = ((lon + 180.0) / 360.0 * n).floor().clamp(0.0, n - 1.0);
        let y = ((1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor().clamp(0.0, n - 1.0);
        Self::new(z, x as u32, y as u32)
    }
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
}
