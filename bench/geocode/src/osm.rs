//! The same civici as OpenStreetMap data, for Nominatim: an OSM XML file with
//!
//! - one node per civico that has a position (the 0.5% without coordinates cannot be mapped), tagged as Italian
//!   mappers tag house numbers: `addr:street` (the odonimo as written on the street sign, `Via Giuseppe
//!   Garibaldi`), `addr:housenumber` (`12`, `12/A`, `12 bis`, and Genova's red numbers as `12r`, the suffix Genova's
//!   OSM data uses; black numbers carry no suffix) and `addr:city` (the comune);
//! - one way per street, `highway=residential` with the street's `name`, along the street's centreline, so that
//!   Nominatim attaches each address to its street;
//! - per comune an administrative boundary (`boundary=administrative`, `admin_level=8`, the comune's name and
//!   `ref:ISTAT`), the same box around the centre that the Vedetta side gets in `core.comune`, with a `place=city`
//!   node as its `admin_centre`.
//!
//! Node `i + 1` is civico `i` of the data set, so that a result's OSM id names the civico.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result, ensure};

use crate::generate::Dataset;
use crate::names;

/// First ids of the other objects (civici are nodes 1..=n).
const STREET_NODES: u64 = 100_000_000;
const BOUNDARY_NODES: u64 = 200_000_000;
const PLACE_NODES: u64 = 300_000_000;
const BOUNDARY_WAYS: u64 = 100_000_000;

/// Half the side of a comune's box, degrees (as `core.comune` on the Vedetta side).
pub const COMUNE_HALF_SIDE: f64 = 0.1;

/// The OSM node id of civico `i`.
pub fn civico_node(i: usize) -> i64 {
    i as i64 + 1
}

/// The civico named by an OSM node id, if it is one.
pub fn civico_of_node(id: i64, civici: usize) -> Option<usize> {
    usize::try_from(id - 1).ok().filter(|&i| i < civici)
}

/// What was written.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    pub addresses: usize,
    pub streets: usize,
    pub bytes: u64,
}

fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

fn tag(out: &mut String, k: &str, v: &str) {
    out.push_str("  <tag k=\"");
    escape(k, out);
    out.push_str("\" v=\"");
    escape(v, out);
    out.push_str("\"/>\n");
}

fn node(out: &mut String, id: u64, (lon, lat): (f64, f64), tags: &[(&str, &str)]) {
    let _ = write!(out, "<node id=\"{id}\" version=\"1\" lat=\"{lat:.7}\" lon=\"{lon:.7}\"");
    if tags.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    for (k, v) in tags {
        tag(out, k, v);
    }
    out.push_str("</node>\n");
}

/// The house number as Italian OSM data writes it: as Vedetta's labels (`12`, `12/A`, `12 bis`, `12r`).
pub fn housenumber(data: &Dataset, i: usize) -> String {
    let c = &data.civici[i];
    geodata::anncsu::civico::display(
        Some(c.numero as i32),
        c.esponente,
        if c.red { "ROSSO" } else { "" },
        None,
    )
}

/// Writes the data set as OSM XML (objects sorted by type then id, as osm2pgsql wants them).
pub fn write(data: &Dataset, path: &Path) -> Result<Written> {
    ensure!((data.civici.len() as u64) < STREET_NODES, "too many civici for the id scheme");
    let street_names: Vec<String> =
        data.streets.iter().map(|s| geodata::anncsu::odonimo::display(&s.odonimo())).collect();
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut buf = String::with_capacity(1 << 16);
    buf.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<osm version=\"0.6\" generator=\"bench-geocode\">\n",
    );
    let mut addresses = 0;
    for (i, c) in data.civici.iter().enumerate() {
        let Some(point) = c.point else { continue };
        let s = &data.streets[c.street as usize];
        let number = housenumber(data, i);
        node(
            &mut buf,
            civico_node(i) as u64,
            point,
            &[
                ("addr:street", &street_names[c.street as usize]),
                ("addr:housenumber", &number),
                ("addr:city", names::COMUNI[s.comune].2),
            ],
        );
        addresses += 1;
        if buf.len() > 60_000 {
            out.write_all(buf.as_bytes())?;
            buf.clear();
        }
    }
    for (j, s) in data.streets.iter().enumerate() {
        for (k, point) in s.line.iter().enumerate() {
            node(&mut buf, STREET_NODES + 2 * j as u64 + k as u64, *point, &[]);
        }
        if buf.len() > 60_000 {
            out.write_all(buf.as_bytes())?;
            buf.clear();
        }
    }
    for (c, (_, _, _, lon, lat)) in names::COMUNI.iter().enumerate() {
        let h = COMUNE_HALF_SIDE;
        let corners = [(lon - h, lat - h), (lon + h, lat - h), (lon + h, lat + h), (lon - h, lat + h)];
        for (k, corner) in corners.iter().enumerate() {
            node(&mut buf, BOUNDARY_NODES + 4 * c as u64 + k as u64, *corner, &[]);
        }
    }
    for (c, (istat, _, name, lon, lat)) in names::COMUNI.iter().enumerate() {
        node(
            &mut buf,
            PLACE_NODES + c as u64,
            (*lon, *lat),
            &[("place", "city"), ("name", name), ("ref:ISTAT", istat)],
        );
    }
    for (j, name) in street_names.iter().enumerate() {
        let first = STREET_NODES + 2 * j as u64;
        let _ = writeln!(buf, "<way id=\"{}\" version=\"1\">", j + 1);
        let _ = writeln!(buf, "  <nd ref=\"{first}\"/>\n  <nd ref=\"{}\"/>", first + 1);
        tag(&mut buf, "highway", "residential");
        tag(&mut buf, "name", name);
        buf.push_str("</way>\n");
        if buf.len() > 60_000 {
            out.write_all(buf.as_bytes())?;
            buf.clear();
        }
    }
    for c in 0..names::COMUNI.len() {
        let first = BOUNDARY_NODES + 4 * c as u64;
        let _ = writeln!(buf, "<way id=\"{}\" version=\"1\">", BOUNDARY_WAYS + c as u64);
        for k in [0, 1, 2, 3, 0] {
            let _ = writeln!(buf, "  <nd ref=\"{}\"/>", first + k);
        }
        buf.push_str("</way>\n");
    }
    for (c, (istat, _, name, ..)) in names::COMUNI.iter().enumerate() {
        let _ = writeln!(buf, "<relation id=\"{}\" version=\"1\">", c + 1);
        let _ = writeln!(buf, "  <member type=\"way\" ref=\"{}\" role=\"outer\"/>", BOUNDARY_WAYS + c as u64);
        let _ = writeln!(
            buf,
            "  <member type=\"node\" ref=\"{}\" role=\"admin_centre\"/>",
            PLACE_NODES + c as u64
        );
        for (k, v) in [
            ("type", "boundary"),
            ("boundary", "administrative"),
            ("admin_level", "8"),
            ("name", name),
            ("ref:ISTAT", istat),
        ] {
            tag(&mut buf, k, v);
        }
        buf.push_str("</relation>\n");
    }
    buf.push_str("</osm>\n");
    out.write_all(buf.as_bytes())?;
    out.flush().context("cannot write the OSM file")?;
    let bytes = std::fs::metadata(path)?.len();
    Ok(Written { addresses, streets: data.streets.len(), bytes })
}
