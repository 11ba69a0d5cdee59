//! The WKT of `geography'…'` literals, checked before PostGIS sees it: a geometry PostGIS would refuse (a bad
//! number, too few points, an open ring, mixed dimensions, coordinates off the globe) is a 400 naming the place,
//! never an error inside a query.
//!
//! Accepted: `POINT`, `LINESTRING`, `POLYGON`, `MULTIPOINT`, `MULTILINESTRING`, `MULTIPOLYGON` and
//! `GEOMETRYCOLLECTION` (nested at most [`MAX_COLLECTION_DEPTH`] deep), optionally with `Z`, `M` or `ZM`,
//! `EMPTY`, and an `SRID=4326;` prefix. Coordinates are WGS 84 longitude (−180…180) and latitude (−90…90).

use super::error::FilterError;

type Result<T, E = FilterError> = std::result::Result<T, E>;

/// How deeply `GEOMETRYCOLLECTION`s may nest.
pub const MAX_COLLECTION_DEPTH: usize = 4;

/// Checks the WKT `text` found at byte `pos` of the filter and returns it without an `SRID=4326;` prefix.
pub(super) fn check(text: &str, pos: usize) -> Result<String> {
    let trimmed = text.trim_start();
    let mut start = pos + (text.len() - trimmed.len());
    let mut wkt = trimmed.trim_end();
    if wkt.get(..5).is_some_and(|prefix| prefix.eq_ignore_ascii_case("SRID=")) {
        let (srid, rest) = wkt[5..].split_once(';').unwrap_or((&wkt[5..], ""));
        if srid.trim() != "4326" {
            let message = format!("only SRID 4326 is supported, found `{}`", super::filter::clip(srid));
            return Err(FilterError::syntax(start, message));
        }
        let rest_trimmed = rest.trim_start();
        start += wkt.len() - rest_trimmed.len();
        wkt = rest_trimmed;
    }
    let mut reader = Reader { text: wkt, at: 0, pos: start, dims: None };
    reader.geometry(0)?;
    reader.skip_space();
    if reader.at < wkt.len() {
        return Err(reader.error("unexpected text after the geometry"));
    }
    Ok(wkt.to_owned())
}

/// A recursive-descent reader over the WKT text.
struct Reader<'a> {
    text: &'a str,
    at: usize,
    /// Offset of `text` in the filter, for errors.
    pos: usize,
    /// Coordinates per point, fixed by a `Z`/`M`/`ZM` tag or by the first point.
    dims: Option<usize>,
}

type Point = Vec<f64>;

impl Reader<'_> {
    fn error(&self, message: impl std::fmt::Display) -> FilterError {
        FilterError::syntax(self.pos + self.at, format!("{message} in the geometry"))
    }

    fn skip_space(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start().len();
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.text.as_bytes().get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected `{}`", byte as char)))
        }
    }

    /// A run of ASCII letters, uppercased; empty when none.
    fn word(&mut self) -> String {
        self.skip_space();
        let rest = &self.text[self.at..];
        let len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        self.at += len;
        rest[..len].to_ascii_uppercase()
    }

    /// `EMPTY` if it comes next (consumed), or the `(` that must.
    fn empty_or_open(&mut self) -> Result<bool> {
        if self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            let at = self.at;
            if self.word() == "EMPTY" {
                return Ok(true);
            }
            self.at = at;
            return Err(self.error("expected `(` or `EMPTY`"));
        }
        self.expect(b'(')?;
        Ok(false)
    }

    /// Whether a `,` follows (consumed); otherwise a `)` must (consumed).
    fn more(&mut self) -> Result<bool> {
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(true)
            }
            Some(b')') => {
                self.at += 1;
                Ok(false)
            }
            _ => Err(self.error("expected `,` or `)`")),
        }
    }

    fn geometry(&mut self, depth: usize) -> Result<()> {
        let kind_at = self.at;
        let mut kind = self.word();
        // `POINTZ`, `POINTM`, `POINTZM` as well as `POINT Z`.
        let mut tag = String::new();
        for suffix in ["ZM", "Z", "M"] {
            if let Some(base) = kind.strip_suffix(suffix).filter(|b| TYPES.contains(b)) {
                tag = suffix.to_owned();
                kind = base.to_owned();
                break;
            }
        }
        if !TYPES.contains(&kind.as_str()) {
            self.at = kind_at;
            return Err(self.error("expected a WKT geometry such as `POINT(8.93 44.40)`"));
        }
        if tag.is_empty() && self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            let at = self.at;
            match self.word().as_str() {
                t @ ("Z" | "M" | "ZM") => tag = t.to_owned(),
                _ => self.at = at,
            }
        }
        if !tag.is_empty() {
            self.fix_dims(if tag == "ZM" { 4 } else { 3 })?;
        }
        if self.empty_or_open()? {
            return Ok(());
        }
        match kind.as_str() {
            "POINT" => {
                self.point()?;
                self.expect(b')')
            }
            "LINESTRING" => self.line_rest(),
            "POLYGON" => self.polygon_rest(),
            "MULTIPOINT" => loop {
                // Both `MULTIPOINT((1 2), (3 4))` and `MULTIPOINT(1 2, 3 4)`.
                match self.peek() {
                    Some(b'(') => {
                        self.at += 1;
                        self.point()?;
                        self.expect(b')')?;
                    }
                    Some(b) if b.is_ascii_alphabetic() => {
                        if self.word() != "EMPTY" {
                            return Err(self.error("expected a point"));
                        }
                    }
                    _ => {
                        self.point()?;
                    }
                }
                if !self.more()? {
                    return Ok(());
                }
            },
            "MULTILINESTRING" => self.list(Self::line_rest),
            "MULTIPOLYGON" => self.list(Self::polygon_rest),
            _ => {
                if depth + 1 >= MAX_COLLECTION_DEPTH {
                    return Err(
                        self.error(format!("collections nested deeper than {MAX_COLLECTION_DEPTH} levels"))
                    );
                }
                loop {
                    self.geometry(depth + 1)?;
                    if !self.more()? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Members of a multi-geometry, each `EMPTY` or `(` then `member`, up to the closing `)`.
    fn list(&mut self, member: fn(&mut Self) -> Result<()>) -> Result<()> {
        loop {
            if !self.empty_or_open()? {
                member(self)?;
            }
            if !self.more()? {
                return Ok(());
            }
        }
    }

    /// The points of a line after its `(`, up to and including the `)`.
    fn points_rest(&mut self) -> Result<Vec<Point>> {
        let mut points = Vec::new();
        loop {
            points.push(self.point()?);
            if !self.more()? {
                return Ok(points);
            }
        }
    }

    fn line_rest(&mut self) -> Result<()> {
        let at = self.at;
        if self.points_rest()?.len() < 2 {
            self.at = at;
            return Err(self.error("a line needs at least 2 points"));
        }
        Ok(())
    }

    fn polygon_rest(&mut self) -> Result<()> {
        loop {
            let at = self.at;
            if !self.empty_or_open()? {
                let ring = self.points_rest()?;
                if ring.len() < 4 || ring.first() != ring.last() {
                    self.at = at;
                    return Err(
                        self.error("a polygon ring needs at least 4 points and must end where it starts")
                    );
                }
            }
            if !self.more()? {
                return Ok(());
            }
        }
    }

    fn fix_dims(&mut self, n: usize) -> Result<()> {
        match self.dims {
            Some(d) if d != n => {
                Err(self.error(format!("a point has {n} coordinates where others have {d}")))
            }
            _ => {
                self.dims = Some(n);
                Ok(())
            }
        }
    }

    fn point(&mut self) -> Result<Point> {
        let at = self.at;
        let mut coordinates = Vec::with_capacity(2);
        while self.peek().is_some_and(|b| b.is_ascii_digit() || b"+-.".contains(&b)) {
            coordinates.push(self.number()?);
        }
        if !(2..=4).contains(&coordinates.len()) {
            return Err(self.error("expected a point of 2 to 4 numbers"));
        }
        self.fix_dims(coordinates.len())?;
        let (lon, lat) = (coordinates[0], coordinates[1]);
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            self.at = at;
            return Err(self.error(format!(
                "the point ({lon} {lat}) is not a longitude and latitude (WGS 84, −180…180 and −90…90)"
            )));
        }
        Ok(coordinates)
    }

    fn number(&mut self) -> Result<f64> {
        self.skip_space();
        let rest = &self.text[self.at..];
        let len = rest.bytes().take_while(|b| b.is_ascii_digit() || b"+-.eE".contains(b)).count();
        let text = &rest[..len];
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => {
                self.at += len;
                Ok(n)
            }
            _ => Err(self.error(format!("`{}` is not a number", super::filter::clip(text)))),
        }
    }
}

const TYPES: [&str; 7] =
    ["POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION"];

#[cfg(test)]
mod tests {
    use super::*;

    fn err(wkt: &str) -> String {
        check(wkt, 0).expect_err(wkt).to_string()
    }

    #[test]
    fn every_geometry_type_is_accepted() {
        for wkt in [
            "POINT(8.93 44.40)",
            " point ( -8.93   44.40 ) ",
            "POINT Z (1 2 3)",
            "POINTZ(1 2 3)",
            "POINT ZM (1 2 3 4)",
            "POINT(1 2 3)",
            "POINT EMPTY",
            "LINESTRING(0 0, 1 1)",
            "POLYGON((8.9 44.4, 9.0 44.4, 9.0 44.5, 8.9 44.4))",
            "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (1 1, 2 1, 2 2, 1 1))",
            "MULTIPOINT((1 2), (3 4))",
            "MULTIPOINT(1 2, 3 4)",
            "MULTILINESTRING((0 0, 1 1), EMPTY, (2 2, 3 3))",
            "MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((2 2, 3 2, 3 3, 2 2)))",
            "GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1 1))",
            "GEOMETRYCOLLECTION(POINT Z (1 2 3), LINESTRING Z (1 2 3, 4 5 6))",
            "GEOMETRYCOLLECTION EMPTY",
            "POINT(1e1 -2.5E-1)",
            "POINT(180 -90)",
        ] {
            assert!(check(wkt, 0).is_ok(), "{wkt}: {:?}", check(wkt, 0));
        }
        assert_eq!(check("SRID=4326; POINT(1 2)", 0).unwrap(), "POINT(1 2)");
    }

    #[test]
    fn what_postgis_would_refuse_is_refused_here_with_its_place() {
        assert_eq!(err("POINT(a b)"), "at 6: expected a point of 2 to 4 numbers in the geometry");
        assert_eq!(
            err("POLYGON((0 0, 1 1))"),
            "at 8: a polygon ring needs at least 4 points and must end where it starts in the geometry"
        );
        assert!(err("POLYGON((0 0, 1 0, 1 1, 0 1))").contains("must end where it starts"));
        assert!(err("LINESTRING(0 0)").contains("at least 2 points"));
        assert!(err("POINT(1 2, 3 4)").contains("expected `)`"));
        assert!(err("POINT(1 2").contains("expected `)`"));
        assert!(err("POINT(1 2)); drop").contains("unexpected text after the geometry"));
        assert!(err("POINT(1 2 3 4 5)").contains("2 to 4 numbers"));
        assert!(err("POINT(1 -)").contains("`-` is not a number"));
        assert!(err("POINT(1e999 2)").contains("is not a number"));
        assert!(err("POINT(500 500)").contains("not a longitude and latitude"));
        assert!(err("LINESTRING(0 0, 1 1 1)").contains("3 coordinates where others have 2"));
        assert!(err("POINT Z (1 2)").contains("2 coordinates where others have 3"));
        assert!(err("GEOMETRYCOLLECTION(POINT Z (1 2 3), POINT(1 2))").contains("where others have 3"));
        assert!(err("CIRCLE(1 2)").contains("expected a WKT geometry"));
        assert!(err("POINT FULL").contains("expected `(` or `EMPTY`"));
        assert!(err("SRID=3003;POINT(1 2)").contains("only SRID 4326"));
        assert!(err("").contains("expected a WKT geometry"));
        let deep = format!("{}POINT(1 2){}", "GEOMETRYCOLLECTION(".repeat(1000), ")".repeat(1000));
        assert!(err(&deep).contains("nested deeper"));
    }

    #[test]
    fn positions_count_from_the_start_of_the_literal() {
        assert_eq!(err("  POINT(a b)").split(':').next(), Some("at 8"));
        assert_eq!(check("POINT(1 x)", 100).unwrap_err().to_string().split(':').next(), Some("at 108"));
    }

    #[test]
    fn junk_never_panics() {
        let sample = "GEOMETRYCOLLECTION(POINT Z (1 2 3), MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), EMPTY))";
        for (i, _) in sample.char_indices() {
            let _ = check(&sample[..i], 0);
            let _ = check(&sample[i..], 0);
        }
        for junk in
            ["é", "POINT(é)", "POINT(1 2)é", "SRID=", "SRID=4326", "(((", ")", "POINT(. .)", "POINT(++1 2)"]
        {
            let _ = check(junk, 0);
        }
    }
}
