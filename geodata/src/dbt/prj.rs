//! Which EPSG CRS a WKT definition (a Shapefile `.prj`, a GeoPackage `gpkg_spatial_ref_sys.definition`) describes.
//!
//! The `proj` crate does not expose `proj_identify`, so this is a small matcher for the CRSs Italian sources use:
//! an explicit `AUTHORITY["EPSG",…]`/`ID["EPSG",…]` wins; otherwise the datum (by name or ellipsoid) and, for
//! projected CRSs, the Transverse Mercator parameters (central meridian, false easting) decide — which is how the
//! ESRI `.prj` of the Venezia extract (`Monte_Mario_Italy_2`, no authority) becomes EPSG:3004. Anything else is
//! `None`, and the caller asks for `--crs`.

/// A WKT node: `NAME[item, …]`.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Node(Node),
    Text(String),
    Word(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Node {
    name: String,
    items: Vec<Item>,
}

impl Node {
    fn children<'a, 'n>(&'a self, names: &'n [&'n str]) -> impl Iterator<Item = &'a Node> + use<'a, 'n> {
        self.items.iter().filter_map(move |i| match i {
            Item::Node(n) if names.iter().any(|x| n.name.eq_ignore_ascii_case(x)) => Some(n),
            _ => None,
        })
    }

    fn child(&self, names: &[&str]) -> Option<&Node> {
        self.children(names).next()
    }

    /// The first quoted string (the name of most nodes).
    fn title(&self) -> &str {
        self.items
            .iter()
            .find_map(|i| match i {
                Item::Text(s) => Some(s.as_str()),
                _ => None,
            })
            .unwrap_or("")
    }

    /// The `n`-th item as a number (`PARAMETER["x", 15.0]` → item 1).
    fn number(&self, n: usize) -> Option<f64> {
        match self.items.get(n)? {
            Item::Word(w) => w.parse().ok(),
            Item::Text(t) => t.parse().ok(),
            Item::Node(_) => None,
        }
    }

    /// Depth-first search for the first node named one of `names`.
    fn find(&self, names: &[&str]) -> Option<&Node> {
        for item in &self.items {
            if let Item::Node(n) = item {
                if names.iter().any(|x| n.name.eq_ignore_ascii_case(x)) {
                    return Some(n);
                }
                if let Some(found) = n.find(names) {
                    return Some(found);
                }
            }
        }
        None
    }
}

fn parse(wkt: &str) -> Option<Node> {
    let chars: Vec<char> = wkt.trim().trim_start_matches('\u{feff}').chars().collect();
    let mut pos = 0;
    let node = parse_node(&chars, &mut pos)?;
    Some(node)
}

fn skip_ws(chars: &[char], pos: &mut usize) {
    while *pos < chars.len() && chars[*pos].is_whitespace() {
        *pos += 1;
    }
}

fn parse_node(chars: &[char], pos: &mut usize) -> Option<Node> {
    skip_ws(chars, pos);
    let start = *pos;
    while *pos < chars.len() && (chars[*pos].is_alphanumeric() || chars[*pos] == '_') {
        *pos += 1;
    }
    let name: String = chars[start..*pos].iter().collect();
    skip_ws(chars, pos);
    if name.is_empty() || !matches!(chars.get(*pos), Some('[') | Some('(')) {
        return None;
    }
    *pos += 1;
    let mut items = Vec::new();
    loop {
        skip_ws(chars, pos);
        match chars.get(*pos)? {
            ']' | ')' => {
                *pos += 1;
                return Some(Node { name, items });
            }
            ',' => *pos += 1,
            '"' => {
                *pos += 1;
                let mut text = String::new();
                loop {
                    let c = *chars.get(*pos)?;
                    *pos += 1;
                    if c == '"' {
                        if chars.get(*pos) == Some(&'"') {
                            text.push('"');
                            *pos += 1;
                            continue;
                        }
                        break;
                    }
                    text.push(c);
                }
                items.push(Item::Text(text));
            }
            _ => {
                let start = *pos;
                while *pos < chars.len() && !matches!(chars[*pos], ',' | ']' | ')' | '[' | '(') {
                    *pos += 1;
                }
                if matches!(chars.get(*pos), Some('[') | Some('(')) {
                    *pos = start;
                    items.push(Item::Node(parse_node(chars, pos)?));
                } else {
                    let word: String = chars[start..*pos].iter().collect();
                    items.push(Item::Word(word.trim().to_string()));
                }
            }
        }
    }
}

/// Lower case, every run of non-alphanumerics one space: `Monte_Mario_Italy_2` → `monte mario italy 2`.
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = true;
    for c in s.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    out.trim_end().to_string()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Datum {
    MonteMario,
    Rdn2008,
    Etrs89,
    Wgs84,
}

fn datum_of(geog: &Node) -> Option<Datum> {
    let datum =
        geog.find(&["DATUM", "GEODETICDATUM", "TRF"]).map(|d| normalise(d.title())).unwrap_or_default();
    let crs_name = normalise(geog.title());
    let has = |s: &str| datum.contains(s) || crs_name.contains(s);
    if has("monte mario") || has("rome 1940") {
        return Some(Datum::MonteMario);
    }
    if has("rdn2008") || has("rete dinamica nazionale 2008") || has("italy 2008") {
        return Some(Datum::Rdn2008);
    }
    if has("etrs")
        || has("european terrestrial reference system 1989")
        || has("european terrestrial reference")
    {
        return Some(Datum::Etrs89);
    }
    if has("wgs 1984") || has("wgs84") || has("wgs 84") || has("world geodetic system 1984") {
        return Some(Datum::Wgs84);
    }
    // Only the ellipsoid is left to go by: International 1924 is Monte Mario in Italy.
    let ellipsoid = geog.find(&["SPHEROID", "ELLIPSOID"])?;
    let a = ellipsoid.number(1)?;
    if (a - 6_378_388.0).abs() < 0.5 {
        return Some(Datum::MonteMario);
    }
    None
}

/// The EPSG code (`"EPSG:3004"`) a WKT definition stands for, when it is one Vedetta can tell.
pub(crate) fn identify(wkt: &str) -> Option<String> {
    let root = parse(wkt)?;
    // An explicit authority on the CRS itself (the last AUTHORITY/ID item of the root node).
    if let Some(auth) = root.children(&["AUTHORITY", "ID"]).last() {
        let org = auth.title();
        if org.eq_ignore_ascii_case("EPSG")
            && let Some(code) = auth.number(1)
        {
            return Some(format!("EPSG:{}", code as i64));
        }
    }
    let kind = root.name.to_ascii_uppercase();
    match kind.as_str() {
        "GEOGCS" | "GEOGCRS" | "GEODCRS" | "GEOGRAPHICCRS" => match datum_of(&root)? {
            Datum::MonteMario => Some("EPSG:4265".into()),
            Datum::Rdn2008 => Some("EPSG:6706".into()),
            Datum::Etrs89 => Some("EPSG:4258".into()),
            Datum::Wgs84 => Some("EPSG:4326".into()),
        },
        "PROJCS" | "PROJCRS" | "PROJECTEDCRS" => {
            let geog = root.child(&["GEOGCS", "BASEGEOGCRS", "BASEGEODCRS", "GEOGCRS"]);
            let datum = geog.and_then(datum_of);
            let method = root
                .find(&["PROJECTION", "METHOD"])
                .map(|m| normalise(m.title()))
                .unwrap_or_else(|| normalise(root.title()));
            let param = |names: &[&str]| {
                root.find_all_parameters().into_iter().find_map(|p| {
                    let n = normalise(p.title());
                    names.iter().any(|x| n == *x).then(|| p.number(1)).flatten()
                })
            };
            let lon0 = param(&["central meridian", "longitude of natural origin", "longitude of origin"]);
            let fe = param(&["false easting"]);
            let tm = method.contains("transverse mercator") || method.contains("gauss");
            match (tm, datum, lon0, fe) {
                (true, Some(d), Some(lon0), Some(fe)) => projected(d, lon0, fe),
                _ => by_name(&normalise(root.title())),
            }
        }
        _ => None,
    }
}

impl Node {
    fn find_all_parameters(&self) -> Vec<&Node> {
        let mut out = Vec::new();
        fn walk<'a>(n: &'a Node, out: &mut Vec<&'a Node>) {
            for item in &n.items {
                if let Item::Node(c) = item {
                    if c.name.eq_ignore_ascii_case("PARAMETER") {
                        out.push(c);
                    } else {
                        walk(c, out);
                    }
                }
            }
        }
        walk(self, &mut out);
        out
    }
}

fn projected(datum: Datum, lon0: f64, fe: f64) -> Option<String> {
    let near = |a: f64, b: f64| (a - b).abs() < 1e-6;
    let code = match datum {
        Datum::MonteMario if near(lon0, 9.0) && near(fe, 1_500_000.0) => 3003,
        Datum::MonteMario if near(lon0, 15.0) && near(fe, 2_520_000.0) => 3004,
        Datum::Rdn2008 if near(lon0, 9.0) && near(fe, 500_000.0) => 6707,
        Datum::Rdn2008 if near(lon0, 15.0) && near(fe, 500_000.0) => 6708,
        Datum::Etrs89 if near(lon0, 9.0) && near(fe, 500_000.0) => 25832,
        Datum::Etrs89 if near(lon0, 15.0) && near(fe, 500_000.0) => 25833,
        Datum::Wgs84 if near(lon0, 9.0) && near(fe, 500_000.0) => 32632,
        Datum::Wgs84 if near(lon0, 15.0) && near(fe, 500_000.0) => 32633,
        _ => return None,
    };
    Some(format!("EPSG:{code}"))
}

/// Last resort: the CRS name alone (`Monte_Mario_Italy_1`, `RDN2008 / UTM zone 33N`, `ETRS_1989_UTM_Zone_32N`).
fn by_name(name: &str) -> Option<String> {
    let zone = |z: &str| name.contains(&format!("zone {z}")) || name.ends_with(&format!(" {z}"));
    let code = if name.contains("monte mario") {
        if zone("1") || name.contains("ovest") {
            3003
        } else if zone("2") || name.contains("est") {
            3004
        } else {
            return None;
        }
    } else if name.contains("rdn2008") && name.contains("utm") {
        if zone("32n") {
            6707
        } else if zone("33n") {
            6708
        } else {
            return None;
        }
    } else if name.contains("etrs") && name.contains("utm") {
        if zone("32n") {
            25832
        } else if zone("33n") {
            25833
        } else {
            return None;
        }
    } else if name.contains("wgs") && name.contains("utm") {
        if zone("32n") {
            32632
        } else if zone("33n") {
            32633
        } else {
            return None;
        }
    } else {
        return None;
    };
    Some(format!("EPSG:{code}"))
}

/// The name a WKT definition gives its CRS, for error messages.
pub(crate) fn name_of(wkt: &str) -> String {
    parse(wkt).map(|n| n.title().to_string()).unwrap_or_else(|| wkt.chars().take(60).collect())
}

/// Normalises a CRS given by the user or a file: `EPSG:3004`, `epsg:3004`, `3004`,
/// `urn:ogc:def:crs:EPSG::3004`, `http://www.opengis.net/def/crs/EPSG/0/3004`, `CRS84` → `EPSG:…`.
pub(crate) fn normalise_code(crs: &str) -> Option<String> {
    let s = crs.trim();
    let upper = s.to_ascii_uppercase();
    if upper.ends_with("CRS84") {
        return Some("EPSG:4326".into());
    }
    let digits: String = upper.chars().rev().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() || !(upper.contains("EPSG") || upper.chars().all(|c| c.is_ascii_digit())) {
        return None;
    }
    let code: String = digits.chars().rev().collect();
    Some(format!("EPSG:{}", code.trim_start_matches('0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VENEZIA: &str = r#"PROJCS["Monte_Mario_Italy_2",GEOGCS["GCS_Monte_Mario",DATUM["D_Monte_Mario",SPHEROID["International_1924",6378388.0,297.0]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",2520000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",15.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;

    #[test]
    fn esri_monte_mario_zone_2_is_3004() {
        assert_eq!(identify(VENEZIA).as_deref(), Some("EPSG:3004"));
        assert_eq!(
            identify(&VENEZIA.replace("15.0]", "9.0]").replace("2520000.0", "1500000.0")).as_deref(),
            Some("EPSG:3003")
        );
    }

    #[test]
    fn explicit_authority_wins() {
        let wkt = r#"PROJCS["RDN2008 / UTM zone 32N (N-E)",GEOGCS["RDN2008",DATUM["Rete_Dinamica_Nazionale_2008",SPHEROID["GRS 1980",6378137,298.257222101]]],PROJECTION["Transverse_Mercator"],PARAMETER["central_meridian",9],PARAMETER["false_easting",500000],UNIT["metre",1],AUTHORITY["EPSG","6707"]]"#;
        assert_eq!(identify(wkt).as_deref(), Some("EPSG:6707"));
        let wkt2 = r#"PROJCRS["ETRS89 / UTM zone 33N",BASEGEOGCRS["ETRS89",DATUM["European Terrestrial Reference System 1989",ELLIPSOID["GRS 1980",6378137,298.257222101]]],CONVERSION["UTM zone 33N",METHOD["Transverse Mercator"],PARAMETER["Longitude of natural origin",15],PARAMETER["False easting",500000]],ID["EPSG",25833]]"#;
        assert_eq!(identify(wkt2).as_deref(), Some("EPSG:25833"));
    }

    #[test]
    fn utm_zones_by_datum_and_parameters() {
        let make = |datum: &str, lon0: f64| {
            format!(
                r#"PROJCS["x",GEOGCS["g",DATUM["{datum}",SPHEROID["s",6378137,298.257]]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["Central_Meridian",{lon0}],UNIT["Meter",1.0]]"#
            )
        };
        assert_eq!(identify(&make("D_RDN2008", 9.0)).as_deref(), Some("EPSG:6707"));
        assert_eq!(identify(&make("D_RDN2008", 15.0)).as_deref(), Some("EPSG:6708"));
        assert_eq!(identify(&make("D_ETRS_1989", 9.0)).as_deref(), Some("EPSG:25832"));
        assert_eq!(identify(&make("D_WGS_1984", 15.0)).as_deref(), Some("EPSG:32633"));
        assert_eq!(identify(&make("D_Unknown", 15.0)), None);
    }

    #[test]
    fn geographic_crs() {
        let wgs = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert_eq!(identify(wgs).as_deref(), Some("EPSG:4326"));
        assert_eq!(identify(&wgs.replace("WGS_1984", "RDN2008")).as_deref(), Some("EPSG:6706"));
    }

    #[test]
    fn names_alone_are_a_last_resort() {
        assert_eq!(identify(r#"PROJCS["Monte_Mario_Italy_1"]"#).as_deref(), Some("EPSG:3003"));
        assert_eq!(identify(r#"PROJCS["RDN2008 / UTM zone 33N"]"#).as_deref(), Some("EPSG:6708"));
        assert_eq!(identify(r#"PROJCS["Lambert somewhere"]"#), None);
        assert_eq!(identify("not wkt"), None);
    }

    #[test]
    fn codes_are_normalised() {
        assert_eq!(normalise_code("epsg:3004").as_deref(), Some("EPSG:3004"));
        assert_eq!(normalise_code("urn:ogc:def:crs:EPSG::6707").as_deref(), Some("EPSG:6707"));
        assert_eq!(
            normalise_code("http://www.opengis.net/def/crs/EPSG/0/32632").as_deref(),
            Some("EPSG:32632")
        );
        assert_eq!(normalise_code("urn:ogc:def:crs:OGC:1.3:CRS84").as_deref(), Some("EPSG:4326"));
        assert_eq!(normalise_code("3003").as_deref(), Some("EPSG:3003"));
        assert_eq!(normalise_code("Monte Mario"), None);
    }
}
