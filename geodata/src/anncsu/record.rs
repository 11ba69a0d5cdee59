//! The ANNCSU bulk format: `;`-separated, UTF-8 possibly with a BOM, no quoting, decimal comma, a header row.
//! Columns are found by name, so a release that reorders them still reads; old Latin-1 extracts are decoded too.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::civico::HouseNumber;
use super::odonimo;
use crate::{Error, Result};

/// One `;`-separated ANNCSU file being read. With no quoting, a record is a line: lines are read and split
/// here, so that line numbers are exact whatever the line ends (LF or CRLF) and blank lines.
#[derive(Debug)]
pub(crate) struct Bulk {
    reader: BufReader<File>,
    path: PathBuf,
    /// Normalised header names, by column.
    header: Vec<String>,
    buffer: Vec<u8>,
    fields: Vec<Range<usize>>,
    line: u64,
}

/// Header names compared without BOM, case, accents or apostrophes (`LOCALITA'`, `LOCALITÀ`, `Localita`).
fn header_key(name: &str) -> String {
    name.trim_start_matches('\u{feff}')
        .trim()
        .chars()
        .filter(|c| *c != '\'' && *c != '’')
        .map(|c| if c == 'À' || c == 'à' { 'A' } else { c.to_ascii_uppercase() })
        .collect()
}

impl Bulk {
    /// Opens `path` and checks that its header has the `required` columns (names as [`header_key`] gives them).
    pub fn open(path: &Path, what: &str, required: &[&str]) -> Result<Bulk> {
        let file = File::open(path).map_err(Error::io("cannot open", path))?;
        let mut bulk = Bulk {
            reader: BufReader::with_capacity(1 << 20, file),
            path: path.to_path_buf(),
            header: vec![],
            buffer: Vec::with_capacity(512),
            fields: Vec::with_capacity(24),
            line: 0,
        };
        let header: Vec<String> = match bulk.next_row()? {
            Some(row) => (0..row.width()).map(|i| header_key(&row.get(Some(i)))).collect(),
            None => vec![],
        };
        let missing: Vec<&str> =
            required.iter().filter(|r| !header.iter().any(|h| h == *r)).copied().collect();
        if !missing.is_empty() {
            return Err(Error::Import(format!(
                "{} is not an ANNCSU {what} file: its header lacks {} (expected `;`-separated columns {})",
                path.display(),
                missing.join(", "),
                required.join(";")
            )));
        }
        bulk.header = header;
        Ok(bulk)
    }

    /// The column of a header name.
    pub fn column(&self, key: &str) -> Option<usize> {
        self.header.iter().position(|h| h == key)
    }

    /// Reads the next row, `None` at the end. Blank lines are skipped (and counted).
    pub fn next_row(&mut self) -> Result<Option<Row<'_>>> {
        loop {
            self.buffer.clear();
            let n = self.reader.read_until(b'\n', &mut self.buffer).map_err(|e| {
                Error::Import(format!("{}: line {}: {e}", self.path.display(), self.line + 1))
            })?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            while matches!(self.buffer.last(), Some(b'\n' | b'\r')) {
                self.buffer.pop();
            }
            if self.line == 1 && self.buffer.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.buffer.drain(..3);
            }
            if self.buffer.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.fields.clear();
            let mut start = 0;
            for (i, b) in self.buffer.iter().enumerate() {
                if *b == b';' {
                    self.fields.push(start..i);
                    start = i + 1;
                }
            }
            self.fields.push(start..self.buffer.len());
            return Ok(Some(Row {
                buffer: &self.buffer,
                fields: &self.fields,
                line: self.line,
                columns: self.header.len(),
            }));
        }
    }
}

/// One row of a bulk file.
#[derive(Debug)]
pub(crate) struct Row<'a> {
    buffer: &'a [u8],
    fields: &'a [Range<usize>],
    pub line: u64,
    columns: usize,
}

impl Row<'_> {
    /// Number of fields.
    pub fn width(&self) -> usize {
        self.fields.len()
    }

    /// The trimmed text of column `i` (empty when absent).
    pub fn get(&self, i: Option<usize>) -> Cow<'_, str> {
        match i.and_then(|i| self.fields.get(i)) {
            Some(range) => match decode(&self.buffer[range.clone()]) {
                Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
                Cow::Owned(s) => Cow::Owned(s.trim().to_string()),
            },
            None => Cow::Borrowed(""),
        }
    }

    /// Checks the number of fields: the header's, or one more when the extra one is empty (a trailing `;`).
    pub fn check_width(&self) -> Result<(), String> {
        let n = self.fields.len();
        let trailing_empty = n == self.columns + 1 && self.fields.last().is_some_and(|r| r.is_empty());
        if n == self.columns || trailing_empty {
            Ok(())
        } else {
            Err(format!("{n} fields instead of {}", self.columns))
        }
    }
}

/// UTF-8, or Latin-1 for the older extracts that were published in it.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
    }
}

/// A decimal number written with a comma (`16,283421`) or a point.
pub(crate) fn decimal(text: &str) -> Result<Option<f64>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let value: f64 = text.replace(',', ".").parse().map_err(|_| format!("`{text}` is not a number"))?;
    if value.is_finite() { Ok(Some(value)) } else { Err(format!("`{text}` is not a finite number")) }
}

/// A required integer key.
fn key(text: &str, name: &str) -> Result<i64, String> {
    if text.is_empty() {
        return Err(format!("{name} is empty"));
    }
    text.parse().map_err(|_| format!("{name} `{text}` is not an integer"))
}

/// An ISTAT code, six digits (`79160` becomes `079160`).
fn istat(text: &str) -> Result<String, String> {
    if text.is_empty() || text.len() > 6 || !text.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("CODICE_ISTAT `{text}` is not an ISTAT code"));
    }
    Ok(format!("{text:0>6}"))
}

/// A street (odonimo) as a row describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StreetRow {
    pub progressivo_nazionale: i64,
    pub belfiore: String,
    pub istat: String,
    pub codice_comunale: String,
    pub odonimo: String,
    pub dug: String,
    pub denominazione: String,
    pub localita: String,
    pub lingua1: String,
    pub lingua2: String,
    /// `TOTALE_ACCESSI` of the STRADE file; `None` when the street comes from INDIRIZZI.
    pub totale_accessi: Option<i32>,
    pub line: u64,
}

/// A civico (access) as a row of INDIRIZZI describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CivicoRow {
    pub progressivo_accesso: i64,
    pub progressivo_nazionale: i64,
    pub codice_comunale_accesso: String,
    pub number: HouseNumber,
    pub progressivo_snc: Option<i64>,
    /// Longitude, latitude (EPSG:6706); `None` when the row has no coordinates.
    pub point: Option<(f64, f64)>,
    pub quota: Option<f64>,
    pub metodo: Option<i16>,
    pub line: u64,
}

/// Column positions of the street fields, shared by both files.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreetColumns {
    belfiore: Option<usize>,
    istat: Option<usize>,
    progressivo_nazionale: Option<usize>,
    codice_comunale: Option<usize>,
    odonimo: Option<usize>,
    localita: Option<usize>,
    lingua1: Option<usize>,
    lingua2: Option<usize>,
    totale_accessi: Option<usize>,
}

/// The columns both files have.
pub(crate) const STREET_REQUIRED: [&str; 4] =
    ["CODICE_COMUNE", "CODICE_ISTAT", "PROGRESSIVO_NAZIONALE", "ODONIMO"];
/// The columns INDIRIZZI has besides the street's.
pub(crate) const CIVICO_REQUIRED: [&str; 6] =
    ["PROGRESSIVO_ACCESSO", "CIVICO", "ESPONENTE", "SPECIFICITA", "COORD_X_COMUNE", "COORD_Y_COMUNE"];

impl StreetColumns {
    pub fn of(bulk: &Bulk) -> Self {
        StreetColumns {
            belfiore: bulk.column("CODICE_COMUNE"),
            istat: bulk.column("CODICE_ISTAT"),
            progressivo_nazionale: bulk.column("PROGRESSIVO_NAZIONALE"),
            codice_comunale: bulk.column("CODICE_COMUNALE"),
            odonimo: bulk.column("ODONIMO"),
            localita: bulk.column("LOCALITA"),
            lingua1: bulk.column("DIZIONE_LINGUA1"),
            lingua2: bulk.column("DIZIONE_LINGUA2"),
            totale_accessi: bulk.column("TOTALE_ACCESSI"),
        }
    }

    /// Reads the street of a row.
    pub fn read(&self, row: &Row<'_>) -> Result<StreetRow, String> {
        row.check_width()?;
        let progressivo_nazionale = key(&row.get(self.progressivo_nazionale), "PROGRESSIVO_NAZIONALE")?;
        let belfiore = row.get(self.belfiore).to_uppercase();
        if belfiore.len() != 4 {
            return Err(format!("CODICE_COMUNE `{belfiore}` is not a Belfiore code"));
        }
        let istat = istat(&row.get(self.istat))?;
        let odonimo = row.get(self.odonimo).split_whitespace().collect::<Vec<_>>().join(" ");
        if odonimo.is_empty() {
            return Err("ODONIMO is empty".into());
        }
        let (dug, denominazione) = odonimo::split(&odonimo);
        let totale_accessi = match self.totale_accessi.map(|i| row.get(Some(i))) {
            Some(t) if !t.is_empty() => {
                Some(t.parse().map_err(|_| format!("TOTALE_ACCESSI `{t}` is not an integer"))?)
            }
            _ => None,
        };
        Ok(StreetRow {
            progressivo_nazionale,
            belfiore,
            istat,
            codice_comunale: row.get(self.codice_comunale).into_owned(),
            odonimo,
            dug,
            denominazione,
            localita: row.get(self.localita).into_owned(),
            lingua1: row.get(self.lingua1).into_owned(),
            lingua2: row.get(self.lingua2).into_owned(),
            totale_accessi,
            line: row.line,
        })
    }
}

/// Column positions of the civico fields of INDIRIZZI.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CivicoColumns {
    progressivo_accesso: Option<usize>,
    codice_comunale_accesso: Option<usize>,
    civico: Option<usize>,
    esponente: Option<usize>,
    specificita: Option<usize>,
    metrico: Option<usize>,
    progressivo_snc: Option<usize>,
    x: Option<usize>,
    y: Option<usize>,
    quota: Option<usize>,
    metodo: Option<usize>,
}

impl CivicoColumns {
    pub fn of(bulk: &Bulk) -> Self {
        CivicoColumns {
            progressivo_accesso: bulk.column("PROGRESSIVO_ACCESSO"),
            codice_comunale_accesso: bulk.column("CODICE_COMUNALE_ACCESSO"),
            civico: bulk.column("CIVICO"),
            esponente: bulk.column("ESPONENTE"),
            specificita: bulk.column("SPECIFICITA"),
            metrico: bulk.column("METRICO"),
            progressivo_snc: bulk.column("PROGRESSIVO_SNC"),
            x: bulk.column("COORD_X_COMUNE"),
            y: bulk.column("COORD_Y_COMUNE"),
            quota: bulk.column("QUOTA"),
            metodo: bulk.column("METODO"),
        }
    }

    /// Reads the civico of a row (whose street was read by [`StreetColumns::read`]).
    pub fn read(&self, row: &Row<'_>, progressivo_nazionale: i64) -> Result<CivicoRow, String> {
        let progressivo_accesso = key(&row.get(self.progressivo_accesso), "PROGRESSIVO_ACCESSO")?;
        let number = HouseNumber::from_fields(
            &row.get(self.civico),
            &row.get(self.esponente),
            &row.get(self.specificita),
            &row.get(self.metrico),
        )?;
        let snc = row.get(self.progressivo_snc);
        let progressivo_snc = if snc.is_empty() { None } else { Some(key(&snc, "PROGRESSIVO_SNC")?) };
        if number.numero.is_none() && number.metrico.is_none() && progressivo_snc.is_none() {
            return Err("no CIVICO, METRICO or PROGRESSIVO_SNC".into());
        }
        let x = decimal(&row.get(self.x)).map_err(|e| format!("COORD_X_COMUNE: {e}"))?;
        let y = decimal(&row.get(self.y)).map_err(|e| format!("COORD_Y_COMUNE: {e}"))?;
        let point = match (x, y) {
            // A zero coordinate is how some extracts leave a position out.
            (Some(x), Some(y)) if x == 0.0 || y == 0.0 => None,
            (Some(x), Some(y)) => {
                if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
                    return Err(format!("coordinates ({x}, {y}) are not longitude, latitude"));
                }
                Some((x, y))
            }
            (None, None) => None,
            _ => return Err("only one of COORD_X_COMUNE, COORD_Y_COMUNE is given".into()),
        };
        let quota = decimal(&row.get(self.quota)).map_err(|e| format!("QUOTA: {e}"))?;
        let metodo = match row.get(self.metodo) {
            m if m.is_empty() => None,
            m => Some(m.parse().map_err(|_| format!("METODO `{m}` is not an integer"))?),
        };
        Ok(CivicoRow {
            progressivo_accesso,
            progressivo_nazionale,
            codice_comunale_accesso: row.get(self.codice_comunale_accesso).into_owned(),
            number,
            progressivo_snc,
            point,
            quota,
            metodo,
            line: row.line,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_take_a_comma_or_a_point() {
        assert_eq!(decimal("16,283421"), Ok(Some(16.283421)));
        assert_eq!(decimal("38.97"), Ok(Some(38.97)));
        assert_eq!(decimal(""), Ok(None));
        assert!(decimal("1,2,3").is_err());
        assert!(decimal("NaN").is_err());
    }

    #[test]
    fn header_names_ignore_bom_case_and_accents() {
        assert_eq!(header_key("\u{feff}CODICE_COMUNE"), "CODICE_COMUNE");
        assert_eq!(header_key("LOCALITA'"), "LOCALITA");
        assert_eq!(header_key("Località"), "LOCALITA");
    }

    #[test]
    fn istat_codes_are_padded() {
        assert_eq!(istat("79160").unwrap(), "079160");
        assert!(istat("M208").is_err());
    }
}
