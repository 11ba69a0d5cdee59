//! Comuni: the unit of tenancy, from two sources that complete each other.
//!
//! - **Boundaries** ([`import`], `core.comune`): GeoJSON polygons with their codes and names (ISTAT's, as openpolis
//!   publishes them), for point-in-comune ([`at`]) and the comuni of the federation ([`list`]).
//! - **ISTAT's list of comuni** ([`import_list`], `core.comune_registry`): the names (Italian and the other
//!   official language: `Bolzano/Bozen`), ISTAT and cadastral codes, province and region of all 7,896 comuni, with
//!   no geometry. The geocoder names comuni from it; it never adds nor removes a boundary.
//!
//! `vedetta import comuni` takes either kind of file, in any order ([`ComuniFile::of`] tells them apart).

mod boundary;
mod istat;

use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::{Error, Result};
pub use boundary::{ImportReport, import};
pub use istat::{ListReport, ListedComune, ParsedList, import_list, parse_list};

/// A comune as stored.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Comune {
    /// ISTAT code, six digits (`010025` Genova).
    pub istat: String,
    /// Belfiore (cadastral) code (`D969` Genova), which joins ANNCSU's `CODICE_COMUNE`.
    pub belfiore: String,
    pub name: String,
    pub province_acronym: Option<String>,
    pub region_name: Option<String>,
}

/// The two kinds of file `vedetta import comuni` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComuniFile {
    /// A GeoJSON FeatureCollection of boundaries.
    Boundaries,
    /// ISTAT's list of comuni (`Elenco-comuni-italiani.csv`).
    IstatList,
}

impl ComuniFile {
    /// Tells the kinds apart by content: JSON starts with `{` or `[` (after a BOM and white space); a `.json` or
    /// `.geojson` name is a boundary file whatever it holds; anything else is read as ISTAT's list, which says
    /// clearly when it is not.
    pub fn of(path: &Path) -> Result<ComuniFile> {
        let mut head = [0u8; 512];
        let mut file = std::fs::File::open(path).map_err(Error::io("cannot open", path))?;
        let n = file.read(&mut head).map_err(Error::io("cannot read", path))?;
        Ok(Self::sniff(path, &head[..n]))
    }

    fn sniff(path: &Path, head: &[u8]) -> ComuniFile {
        let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let first = head.iter().find(|b| !b.is_ascii_whitespace());
        let json_name = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("json") || e.eq_ignore_ascii_case("geojson"));
        if json_name || matches!(first, Some(b'{' | b'[')) {
            ComuniFile::Boundaries
        } else {
            ComuniFile::IstatList
        }
    }
}

/// The comune containing a point: `st_covers` counts the border as inside, so a point on a border shared by two
/// comuni is covered by both; the lower ISTAT code wins, always the same one.
pub const CONTAINING: &str =
    "select c.istat from core.comune c where st_covers(c.geom, $POINT) order by c.istat limit 1";

/// The columns of [`Comune`], from a boundary `c` completed by ISTAT's list `r` (joined on the ISTAT code).
const COLUMNS: &str =
    "c.istat, c.belfiore, c.name, coalesce(c.province_acronym, r.province_acronym) as province_acronym,
     coalesce(c.region_name, r.region_name) as region_name";

/// The comune containing a WGS84 point, if any (`None` at sea or outside the loaded territory).
///
/// # Units
/// `lon`, `lat` in degrees, EPSG:4326.
pub async fn at(pool: &PgPool, lon: f64, lat: f64) -> Result<Option<Comune>> {
    let sql = format!(
        "select {COLUMNS} from core.comune c left join core.comune_registry r using (istat) where c.istat = ({})",
        CONTAINING.replace("$POINT", "st_setsrid(st_makepoint($1, $2), 4326)")
    );
    Ok(sqlx::query_as(&sql).bind(lon).bind(lat).fetch_optional(pool).await?)
}

/// Every comune with a boundary (the comuni of the federation), by ISTAT code.
pub async fn list(pool: &PgPool) -> Result<Vec<Comune>> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from core.comune c left join core.comune_registry r using (istat) order by c.istat"
    ))
    .fetch_all(pool)
    .await?)
}

/// Bumps the revision that geocoders watch for comuni.
async fn bump_revision(conn: &mut PgConnection) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "update core.comune_revision set revision = revision + 1, changed_at = now() returning revision",
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// Tells the geocoders of this process to reload at once (others see `core.comune_revision`).
fn changed_locally() {
    crate::anncsu::LOCAL_REVISION.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_a_boundary_file_anything_else_the_istat_list() {
        let p = Path::new;
        assert_eq!(ComuniFile::sniff(p("a.geojson"), b""), ComuniFile::Boundaries);
        assert_eq!(ComuniFile::sniff(p("limits"), b"\xEF\xBB\xBF \n{\"type\""), ComuniFile::Boundaries);
        assert_eq!(ComuniFile::sniff(p("a.txt"), b"[{}]"), ComuniFile::Boundaries);
        assert_eq!(ComuniFile::sniff(p("Elenco.csv"), b"Codice Regione;\"Codice"), ComuniFile::IstatList);
        assert_eq!(ComuniFile::sniff(p("elenco"), b"Codice Regione;"), ComuniFile::IstatList);
    }
}
