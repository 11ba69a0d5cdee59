//! Encodings of a feature for PostgreSQL: EWKB geometry, the change digest, and rows of a binary `COPY`.
//!
//! Binary `COPY` sends the EWKB bytes as they are (PostGIS's `geometry_recv` reads EWKB), where text `COPY`
//! would double them in hex and make the server decode them again.

use geo::{Coord, Geometry, LineString, Polygon};
use xxhash_rust::xxh3::Xxh3;

/// SRID of every stored geometry.
pub(crate) const SRID: u32 = 4326;

/// Coordinates enter the digest rounded to 1e-8 degrees (about 1 mm): finer differences are no change.
const QUANTUM: f64 = 1e8;

const EWKB_SRID_FLAG: u32 = 0x2000_0000;

/// Appends `geometry` as little-endian EWKB with SRID 4326.
pub(crate) fn ewkb(geometry: &Geometry<f64>, out: &mut Vec<u8>) {
    write_geometry(geometry, out, true);
}

fn header(out: &mut Vec<u8>, kind: u32, with_srid: bool) {
    out.push(1);
    if with_srid {
        out.extend_from_slice(&(kind | EWKB_SRID_FLAG).to_le_bytes());
        out.extend_from_slice(&SRID.to_le_bytes());
    } else {
        out.extend_from_slice(&kind.to_le_bytes());
    }
}

fn coords(out: &mut Vec<u8>, cs: &[Coord<f64>]) {
    out.extend_from_slice(&(cs.len() as u32).to_le_bytes());
    for c in cs {
        out.extend_from_slice(&c.x.to_le_bytes());
        out.extend_from_slice(&c.y.to_le_bytes());
    }
}

fn polygon_body(out: &mut Vec<u8>, p: &Polygon<f64>) {
    out.extend_from_slice(&((1 + p.interiors().len()) as u32).to_le_bytes());
    coords(out, &p.exterior().0);
    for ring in p.interiors() {
        coords(out, &ring.0);
    }
}

fn write_geometry(g: &Geometry<f64>, out: &mut Vec<u8>, with_srid: bool) {
    match g {
        Geometry::Point(p) => {
            header(out, 1, with_srid);
            out.extend_from_slice(&p.x().to_le_bytes());
            out.extend_from_slice(&p.y().to_le_bytes());
        }
        Geometry::LineString(l) => {
            header(out, 2, with_srid);
            coords(out, &l.0);
        }
        Geometry::Line(l) => {
            header(out, 2, with_srid);
            coords(out, &[l.start, l.end]);
        }
        Geometry::Polygon(p) => {
            header(out, 3, with_srid);
            polygon_body(out, p);
        }
        Geometry::Rect(r) => write_geometry(&Geometry::Polygon(r.to_polygon()), out, with_srid),
        Geometry::Triangle(t) => write_geometry(&Geometry::Polygon(t.to_polygon()), out, with_srid),
        Geometry::MultiPoint(mp) => {
            header(out, 4, with_srid);
            out.extend_from_slice(&(mp.0.len() as u32).to_le_bytes());
            for p in &mp.0 {
                write_geometry(&Geometry::Point(*p), out, false);
            }
        }
        Geometry::MultiLineString(ml) => {
            header(out, 5, with_srid);
            out.extend_from_slice(&(ml.0.len() as u32).to_le_bytes());
            for l in &ml.0 {
                header(out, 2, false);
                coords(out, &l.0);
            }
        }
        Geometry::MultiPolygon(mp) => {
            header(out, 6, with_srid);
            out.extend_from_slice(&(mp.0.len() as u32).to_le_bytes());
            for p in &mp.0 {
                header(out, 3, false);
                polygon_body(out, p);
            }
        }
        Geometry::GeometryCollection(gc) => {
            header(out, 7, with_srid);
            out.extend_from_slice(&(gc.0.len() as u32).to_le_bytes());
            for g in &gc.0 {
                write_geometry(g, out, false);
            }
        }
    }
}

/// The state of an object, as a number: equal attributes (canonical JSON) and equal coordinates (to 1e-8°)
/// give equal digests. xxh3 is specified and stable across versions, so digests stored by an earlier import
/// compare with new ones.
pub(crate) fn digest(attrs: &str, geometry: &Geometry<f64>) -> i64 {
    let mut h = Xxh3::new();
    h.update(attrs.as_bytes());
    h.update(&[0xff]);
    hash_geometry(&mut h, geometry);
    h.digest() as i64
}

fn hash_coords(h: &mut Xxh3, cs: &[Coord<f64>]) {
    h.update(&(cs.len() as u64).to_le_bytes());
    for c in cs {
        h.update(&((c.x * QUANTUM).round() as i64).to_le_bytes());
        h.update(&((c.y * QUANTUM).round() as i64).to_le_bytes());
    }
}

fn hash_line(h: &mut Xxh3, l: &LineString<f64>) {
    hash_coords(h, &l.0);
}

fn hash_polygon(h: &mut Xxh3, p: &Polygon<f64>) {
    h.update(&(p.interiors().len() as u64).to_le_bytes());
    hash_line(h, p.exterior());
    for r in p.interiors() {
        hash_line(h, r);
    }
}

fn hash_geometry(h: &mut Xxh3, g: &Geometry<f64>) {
    match g {
        Geometry::Point(p) => {
            h.update(&[1]);
            hash_coords(h, &[p.0]);
        }
        Geometry::Line(l) => {
            h.update(&[2]);
            hash_coords(h, &[l.start, l.end]);
        }
        Geometry::LineString(l) => {
            h.update(&[2]);
            hash_line(h, l);
        }
        Geometry::Polygon(p) => {
            h.update(&[3]);
            hash_polygon(h, p);
        }
        Geometry::Rect(r) => hash_geometry(h, &Geometry::Polygon(r.to_polygon())),
        Geometry::Triangle(t) => hash_geometry(h, &Geometry::Polygon(t.to_polygon())),
        Geometry::MultiPoint(mp) => {
            h.update(&[4]);
            let cs: Vec<Coord<f64>> = mp.0.iter().map(|p| p.0).collect();
            hash_coords(h, &cs);
        }
        Geometry::MultiLineString(ml) => {
            h.update(&[5]);
            h.update(&(ml.0.len() as u64).to_le_bytes());
            ml.0.iter().for_each(|l| hash_line(h, l));
        }
        Geometry::MultiPolygon(mp) => {
            h.update(&[6]);
            h.update(&(mp.0.len() as u64).to_le_bytes());
            mp.0.iter().for_each(|p| hash_polygon(h, p));
        }
        Geometry::GeometryCollection(gc) => {
            h.update(&[7]);
            h.update(&(gc.0.len() as u64).to_le_bytes());
            gc.0.iter().for_each(|g| hash_geometry(h, g));
        }
    }
}

/// Whether every coordinate is finite (PROJ answers `inf` outside a CRS's domain).
pub(crate) fn all_finite(g: &Geometry<f64>) -> bool {
    use geo::CoordsIter;
    g.coords_iter().all(|c| c.x.is_finite() && c.y.is_finite())
}

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// Rows of a binary `COPY … FROM STDIN (FORMAT binary)`.
#[derive(Debug, Default)]
pub(crate) struct CopyBuffer {
    pub bytes: Vec<u8>,
}

impl CopyBuffer {
    /// The signature, flags and header extension that start a binary COPY stream.
    pub(crate) fn header() -> Vec<u8> {
        let mut b = b"PGCOPY\n\xff\r\n\0".to_vec();
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes());
        b
    }

    /// The end-of-data marker.
    pub(crate) fn trailer() -> Vec<u8> {
        (-1i16).to_be_bytes().to_vec()
    }

    pub(crate) fn row(&mut self, fields: i16) {
        self.bytes.extend_from_slice(&fields.to_be_bytes());
    }

    pub(crate) fn null(&mut self) {
        self.bytes.extend_from_slice(&(-1i32).to_be_bytes());
    }

    pub(crate) fn text(&mut self, s: &str) {
        self.bytes.extend_from_slice(&(s.len() as i32).to_be_bytes());
        self.bytes.extend_from_slice(s.as_bytes());
    }

    pub(crate) fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    pub(crate) fn int8(&mut self, v: i64) {
        self.bytes.extend_from_slice(&8i32.to_be_bytes());
        self.bytes.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn timestamptz(&mut self, at: chrono::DateTime<chrono::Utc>) {
        self.int8(at.timestamp_micros() - PG_EPOCH_OFFSET_US);
    }

    /// jsonb's binary form is a version byte (1) and the JSON text.
    pub(crate) fn jsonb(&mut self, json: &str) {
        self.bytes.extend_from_slice(&(json.len() as i32 + 1).to_be_bytes());
        self.bytes.push(1);
        self.bytes.extend_from_slice(json.as_bytes());
    }

    /// A geometry as EWKB.
    pub(crate) fn geometry(&mut self, g: &Geometry<f64>) {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(&0i32.to_be_bytes());
        ewkb(g, &mut self.bytes);
        let len = (self.bytes.len() - at - 4) as i32;
        self.bytes[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{point, polygon};

    #[test]
    fn ewkb_of_a_point_is_what_postgis_writes() {
        let mut out = Vec::new();
        ewkb(&Geometry::Point(point!(x: 1.0, y: 1.0)), &mut out);
        // select 'SRID=4326;POINT(1 1)'::geometry
        assert_eq!(hex::encode_upper(out), "0101000020E6100000000000000000F03F000000000000F03F");
    }

    #[test]
    fn digest_ignores_sub_millimetre_noise_but_not_moves() {
        let p = |dx: f64| {
            Geometry::Polygon(polygon![(x: 12.0 + dx, y: 45.0), (x: 12.001, y: 45.0), (x: 12.0, y: 45.001)])
        };
        assert_eq!(digest("{}", &p(0.0)), digest("{}", &p(1e-12)));
        assert_ne!(digest("{}", &p(0.0)), digest("{}", &p(1e-5)));
        assert_ne!(digest("{}", &p(0.0)), digest(r#"{"a":1}"#, &p(0.0)));
    }

    #[test]
    fn timestamps_count_from_2000() {
        let mut b = CopyBuffer::default();
        b.timestamptz("2000-01-01T00:00:01Z".parse().unwrap());
        assert_eq!(&b.bytes[4..], &1_000_000i64.to_be_bytes());
    }
}
