//! ESRI Shapefile geometry (`.shp`), read sequentially.
//!
//! Points, multipoints, polylines and polygons, with or without Z/M (Z and M are dropped: Vedetta stores 2D).
//! Polygon rings are organised as GDAL does: clockwise rings are shells, counter-clockwise rings holes of the
//! smallest shell that contains them (a hole no shell contains becomes a shell); one shell gives a `Polygon`,
//! several a `MultiPolygon`.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};

use crate::{Error, Result};

/// A `.shp` opened for sequential reading.
#[derive(Debug)]
pub(crate) struct Shp {
    path: PathBuf,
    reader: BufReader<File>,
    remaining: u64,
    content: Vec<u8>,
}

/// What one record holds: a geometry, or why there is none.
pub(crate) type Shape = std::result::Result<Geometry<f64>, String>;

impl Shp {
    pub(crate) fn open(path: &Path) -> Result<Shp> {
        let file = File::open(path).map_err(Error::io("cannot open", path))?;
        let length = file.metadata().map_err(Error::io("cannot read", path))?.len();
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut header = [0u8; 100];
        reader
            .read_exact(&mut header)
            .map_err(|e| Error::Import(format!("{}: not a shapefile ({e})", path.display())))?;
        if i32::from_be_bytes([header[0], header[1], header[2], header[3]]) != 9994 {
            return Err(Error::Import(format!("{}: not a shapefile (file code)", path.display())));
        }
        Ok(Shp {
            path: path.to_path_buf(),
            reader,
            remaining: length.saturating_sub(100),
            content: Vec::new(),
        })
    }

    /// The next record's shape; `None` at the end of the file.
    pub(crate) fn next_shape(&mut self) -> Option<Result<Shape>> {
        if self.remaining < 8 {
            return None;
        }
        let mut head = [0u8; 8];
        if let Err(e) = self.reader.read_exact(&mut head) {
            return Some(Err(self.truncated(e)));
        }
        let words = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let length = (words.max(0) as u64) * 2;
        if length + 8 > self.remaining {
            return Some(Err(Error::Import(format!("{}: a record runs past the end", self.path.display()))));
        }
        self.remaining -= length + 8;
        self.content.resize(length as usize, 0);
        if let Err(e) = self.reader.read_exact(&mut self.content) {
            return Some(Err(self.truncated(e)));
        }
        Some(Ok(parse(&self.content)))
    }

    fn truncated(&self, e: std::io::Error) -> Error {
        Error::Import(format!("{}: truncated ({e})", self.path.display()))
    }
}

/// The number of records, from the index (`.shx`) when there is one.
pub(crate) fn count_from_index(shp: &Path) -> Option<u64> {
    ["shx", "SHX"].iter().find_map(|ext| {
        let len = std::fs::metadata(shp.with_extension(ext)).ok()?.len();
        Some(len.saturating_sub(100) / 8)
    })
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn i32(&mut self) -> std::result::Result<i32, String> {
        let b = self.bytes.get(self.pos..self.pos + 4).ok_or("record too short")?;
        self.pos += 4;
        Ok(i32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn f64(&mut self) -> std::result::Result<f64, String> {
        let b = self.bytes.get(self.pos..self.pos + 8).ok_or("record too short")?;
        self.pos += 8;
        Ok(f64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn coord(&mut self) -> std::result::Result<Coord<f64>, String> {
        let x = self.f64()?;
        let y = self.f64()?;
        if !x.is_finite() || !y.is_finite() {
            return Err("a coordinate is not a finite number".into());
        }
        Ok(Coord { x, y })
    }

    fn count(&mut self, what: &str) -> std::result::Result<usize, String> {
        let n = self.i32()?;
        if n < 0 || n as usize > self.bytes.len() {
            return Err(format!("impossible number of {what} ({n})"));
        }
        Ok(n as usize)
    }
}

fn parse(content: &[u8]) -> Shape {
    let mut c = Cursor { bytes: content, pos: 0 };
    let shape_type = c.i32()?;
    match shape_type {
        0 => Err("null shape: the feature has no geometry".into()),
        1 | 11 | 21 => Ok(Geometry::Point(Point(c.coord()?))),
        8 | 18 | 28 => {
            c.pos += 32; // bbox
            let n = c.count("points")?;
            let points = (0..n).map(|_| c.coord().map(Point)).collect::<std::result::Result<Vec<_>, _>>()?;
            if points.is_empty() {
                return Err("empty multipoint".into());
            }
            Ok(Geometry::MultiPoint(MultiPoint(points)))
        }
        3 | 13 | 23 | 5 | 15 | 25 => {
            c.pos += 32;
            let parts = c.count("parts")?;
            let points = c.count("points")?;
            let starts = (0..parts).map(|_| c.count("points")).collect::<std::result::Result<Vec<_>, _>>()?;
            let coords = (0..points).map(|_| c.coord()).collect::<std::result::Result<Vec<_>, _>>()?;
            let mut lines = Vec::with_capacity(parts);
            for (i, &start) in starts.iter().enumerate() {
                let end = starts.get(i + 1).copied().unwrap_or(points);
                if start > end || end > points {
                    return Err(format!("part {i} has impossible bounds"));
                }
                lines.push(coords[start..end].to_vec());
            }
            if lines.is_empty() || lines.iter().all(Vec::is_empty) {
                return Err("empty shape".into());
            }
            if matches!(shape_type, 3 | 13 | 23) { polyline(lines) } else { polygon(lines) }
        }
        31 => Err("MultiPatch shapes are not supported".into()),
        other => Err(format!("unknown shape type {other}")),
    }
}

fn polyline(lines: Vec<Vec<Coord<f64>>>) -> Shape {
    if let Some(i) = lines.iter().position(|l| l.len() < 2) {
        return Err(format!("part {i} of the line has fewer than 2 points"));
    }
    let mut lines: Vec<LineString<f64>> = lines.into_iter().map(LineString).collect();
    Ok(if lines.len() == 1 {
        Geometry::LineString(lines.remove(0))
    } else {
        Geometry::MultiLineString(MultiLineString(lines))
    })
}

/// Twice the signed area (shoelace): negative for clockwise rings.
fn signed_area2(ring: &[Coord<f64>]) -> f64 {
    let Some(first) = ring.first() else { return 0.0 };
    let mut sum = 0.0;
    for w in ring.windows(2) {
        sum += (w[0].x - first.x) * (w[1].y - first.y) - (w[1].x - first.x) * (w[0].y - first.y);
    }
    sum
}

/// Ray casting: whether `p` lies inside `ring` (on the boundary counts either way).
fn ring_contains(ring: &[Coord<f64>], p: Coord<f64>) -> bool {
    let mut inside = false;
    let n = ring.len();
    let mut j = n.wrapping_sub(1);
    for i in 0..n {
        let (a, b) = (ring[i], ring[j]);
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
        j = i;
    }
    inside
}

fn polygon(rings: Vec<Vec<Coord<f64>>>) -> Shape {
    let mut rings: Vec<Vec<Coord<f64>>> = rings.into_iter().filter(|r| !r.is_empty()).collect();
    for (i, ring) in rings.iter_mut().enumerate() {
        if ring.first() != ring.last() {
            ring.push(ring[0]);
        }
        if ring.len() < 4 {
            return Err(format!("ring {i} has fewer than 4 points"));
        }
    }
    let areas: Vec<f64> = rings.iter().map(|r| signed_area2(r)).collect();
    let mut shells: Vec<usize> = (0..rings.len()).filter(|&i| areas[i] <= 0.0).collect();
    if shells.is_empty() {
        // Every ring counter-clockwise: the file got the orientation wrong; take them all as shells.
        shells = (0..rings.len()).collect();
    }
    let mut is_shell = vec![false; rings.len()];
    for &s in &shells {
        is_shell[s] = true;
    }
    let mut holes_of: Vec<Vec<usize>> = vec![Vec::new(); rings.len()];
    let mut extra_shells = Vec::new();
    for hole in (0..rings.len()).filter(|&i| !is_shell[i]) {
        let probe = rings[hole][0];
        let mut best: Option<usize> = None;
        for &s in &shells {
            if ring_contains(&rings[s], probe) && best.is_none_or(|b| areas[s].abs() < areas[b].abs()) {
                best = Some(s);
            }
        }
        match best {
            Some(s) => holes_of[s].push(hole),
            None => extra_shells.push(hole),
        }
    }
    shells.extend(extra_shells);
    let mut taken: Vec<Option<Vec<Coord<f64>>>> = rings.into_iter().map(Some).collect();
    let mut polygons: Vec<Polygon<f64>> = shells
        .iter()
        .map(|&s| {
            let exterior = LineString(taken[s].take().expect("each ring once"));
            let interiors = holes_of[s].iter().map(|&h| LineString(taken[h].take().expect("each ring once")));
            Polygon::new(exterior, interiors.collect())
        })
        .collect();
    Ok(if polygons.len() == 1 {
        Geometry::Polygon(polygons.remove(0))
    } else {
        Geometry::MultiPolygon(MultiPolygon(polygons))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x0: f64, y0: f64, size: f64, clockwise: bool) -> Vec<Coord<f64>> {
        let mut r = vec![
            Coord { x: x0, y: y0 },
            Coord { x: x0 + size, y: y0 },
            Coord { x: x0 + size, y: y0 + size },
            Coord { x: x0, y: y0 + size },
            Coord { x: x0, y: y0 },
        ];
        if clockwise {
            r.reverse();
        }
        r
    }

    #[test]
    fn holes_go_to_the_shell_that_contains_them() {
        let rings = vec![
            square(0.0, 0.0, 10.0, true),
            square(20.0, 0.0, 10.0, true),
            square(22.0, 2.0, 2.0, false), // hole of the second shell, listed last
        ];
        let Geometry::MultiPolygon(mp) = polygon(rings).unwrap() else { panic!("a multipolygon") };
        assert_eq!(mp.0.len(), 2);
        assert_eq!(mp.0[0].interiors().len(), 0);
        assert_eq!(mp.0[1].interiors().len(), 1);
    }

    #[test]
    fn one_shell_is_a_polygon_and_orphan_holes_become_shells() {
        let Geometry::Polygon(p) = polygon(vec![square(0.0, 0.0, 10.0, true)]).unwrap() else { panic!() };
        assert_eq!(p.exterior().0.len(), 5);
        let g = polygon(vec![square(0.0, 0.0, 10.0, true), square(50.0, 50.0, 1.0, false)]).unwrap();
        assert!(matches!(g, Geometry::MultiPolygon(ref mp) if mp.0.len() == 2));
    }

    #[test]
    fn degenerate_records_are_reasons_not_panics() {
        assert!(parse(&0i32.to_le_bytes()).unwrap_err().contains("no geometry"));
        assert!(parse(&[5, 0, 0, 0, 1]).is_err());
        assert!(polygon(vec![vec![Coord { x: 0.0, y: 0.0 }, Coord { x: 1.0, y: 1.0 }]]).is_err());
    }
}
