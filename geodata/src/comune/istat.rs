//! ISTAT's list of comuni (*Elenco dei codici e delle denominazioni delle unità territoriali*,
//! `Elenco-comuni-italiani.csv`) into `core.comune_registry`.
//!
//! The file as ISTAT publishes it: Windows-1252 (UTF-8 is read too), `;`-separated, CRLF, and column names quoted
//! with line breaks inside (`"Denominazione dell'Unità territoriale sovracomunale \n(valida a fini statistici)"`).
//! Columns are found by name, not position, so that the editions that add or move columns read alike. Codes are
//! text: `001001` keeps its zeros (a list re-saved by a spreadsheet, `1001`, is padded back to six digits).
//!
//! The import upserts by ISTAT code and never deletes: a comune missing from a newer list keeps its row, and
//! boundaries (`core.comune`) are never touched.

use std::collections::HashSet;
use std::path::Path;

use sqlx::PgPool;

use crate::{Error, Result};

/// A comune of ISTAT's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedComune {
    /// ISTAT code, six digits (`001001`).
    pub istat: String,
    /// Cadastral (Belfiore) code (`A074`).
    pub belfiore: String,
    /// The official name, in both languages where there are two (`Bolzano/Bozen`).
    pub name: String,
    /// The Italian name (`Bolzano`).
    pub name_it: String,
    /// The name in the other official language (`Bozen`), `None` for most comuni.
    pub name_other: Option<String>,
    /// Province (historical) code, three digits (`021`).
    pub province_code: String,
    /// Province, metropolitan city or free consortium (`Bolzano/Bozen`, `Catanzaro`).
    pub province_name: String,
    /// The province's two letters (`BZ`, `CZ`).
    pub province_acronym: String,
    /// Region code, two digits (`04`).
    pub region_code: String,
    pub region_name: String,
}

/// What an import of the list did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListReport {
    /// Comuni read from the file.
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Comuni of the list that have a boundary in `core.comune`.
    pub with_boundary: usize,
    /// Boundaries whose ISTAT code the list does not have (an older or newer edition of the boundaries).
    pub boundaries_not_listed: usize,
    /// Rows refused, by line number of the file, with the reason.
    pub invalid: Vec<(u64, String)>,
}

/// The columns of the list, found by the start of their (normalised) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Istat,
    Belfiore,
    Name,
    NameIt,
    NameOther,
    ProvinceCode,
    ProvinceName,
    ProvinceAcronym,
    RegionCode,
    RegionName,
}

impl Column {
    const ALL: [Column; 10] = [
        Column::Istat,
        Column::Belfiore,
        Column::Name,
        Column::NameIt,
        Column::NameOther,
        Column::ProvinceCode,
        Column::ProvinceName,
        Column::ProvinceAcronym,
        Column::RegionCode,
        Column::RegionName,
    ];

    /// The beginnings of the column's name in the editions of the list (lower case, spaces collapsed).
    fn names(self) -> &'static [&'static str] {
        match self {
            Column::Istat => &["codice comune formato alfanumerico"],
            Column::Belfiore => &["codice catastale del comune", "codice catastale"],
            Column::Name => &["denominazione (italiana e straniera)"],
            Column::NameIt => &["denominazione in italiano"],
            Column::NameOther => &["denominazione altra lingua"],
            Column::ProvinceCode => &["codice provincia"],
            Column::ProvinceName => &[
                "denominazione dell'unità territoriale sovracomunale",
                "denominazione provincia",
                "denominazione della provincia",
            ],
            Column::ProvinceAcronym => &["sigla automobilistica"],
            Column::RegionCode => &["codice regione"],
            Column::RegionName => &["denominazione regione", "denominazione della regione"],
        }
    }

    /// Columns without which the list is not usable.
    fn required(self) -> bool {
        !matches!(self, Column::Name | Column::NameOther)
    }
}

/// Lower case, white space (line breaks in quoted names included) collapsed.
fn normalise_header(h: &str) -> String {
    h.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The text of the file: UTF-8 when it is valid UTF-8 (a BOM skipped), else Windows-1252, ISTAT's encoding.
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.strip_prefix('\u{feff}').unwrap_or(s).to_string(),
        Err(_) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0.into_owned(),
    }
}

/// A code of `len` digits; a shorter one (zeros lost by a spreadsheet) is padded.
fn digits(value: &str, len: usize) -> Option<String> {
    let v = value.trim();
    (!v.is_empty() && v.len() <= len && v.bytes().all(|b| b.is_ascii_digit())).then(|| format!("{v:0>len$}"))
}

/// ISTAT's list as read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ParsedList {
    pub comuni: Vec<ListedComune>,
    /// Rows refused, by line number of the file, with the reason.
    pub invalid: Vec<(u64, String)>,
}

/// Reads ISTAT's list: the comuni, and the rows refused (line number, reason). Fails when the text is not that
/// list (a required column is missing).
pub fn parse_list(bytes: &[u8]) -> std::result::Result<ParsedList, String> {
    let text = decode(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the header: {e}"))?
        .iter()
        .map(normalise_header)
        .collect();
    let mut at = [None; Column::ALL.len()];
    for (i, column) in Column::ALL.iter().enumerate() {
        at[i] = headers.iter().position(|h| column.names().iter().any(|n| h.starts_with(n)));
        if at[i].is_none() && column.required() {
            return Err(format!("no column `{}`", column.names()[0]));
        }
    }
    // The line of a byte of the text, as an editor counts (csv counts no line break inside quotes).
    let breaks: Vec<usize> = text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i).collect();
    // (csv may give the line feed that ends the previous record as the position.)
    let line_at = |byte: u64| breaks.partition_point(|&b| (b as u64) <= byte) as u64 + 1;
    let mut comuni = Vec::new();
    let mut invalid = Vec::new();
    let mut seen = HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(p.byte()));
                invalid.push((line, format!("unreadable row: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| line_at(p.byte()));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        match listed(&record, &at) {
            Ok(c) if !seen.insert(c.istat.clone()) => {
                invalid.push((line, format!("comune {} ({}) is listed twice", c.istat, c.name)))
            }
            Ok(c) => comuni.push(c),
            Err(reason) => invalid.push((line, reason)),
        }
    }
    Ok(ParsedList { comuni, invalid })
}

/// One row of the list, validated.
fn listed(record: &csv::StringRecord, at: &[Option<usize>]) -> std::result::Result<ListedComune, String> {
    let field = |c: Column| at[c as usize].and_then(|i| record.get(i)).map_or("", str::trim);
    let raw_istat = field(Column::Istat);
    let istat = digits(raw_istat, 6).ok_or_else(|| format!("ISTAT code `{raw_istat}` is not six digits"))?;
    let name_it = field(Column::NameIt).to_string();
    if name_it.is_empty() {
        return Err(format!("comune {istat}: no Italian name"));
    }
    let belfiore = field(Column::Belfiore).to_ascii_uppercase();
    let b = belfiore.as_bytes();
    if !(b.len() == 4 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit)) {
        return Err(format!(
            "comune {istat} ({name_it}): cadastral code `{belfiore}` is not a letter and three digits"
        ));
    }
    let name_other = Some(field(Column::NameOther).to_string()).filter(|n| !n.is_empty());
    let name = match (field(Column::Name), &name_other) {
        (n, _) if !n.is_empty() => n.to_string(),
        (_, Some(other)) => format!("{name_it}/{other}"),
        (_, None) => name_it.clone(),
    };
    let province_code = digits(field(Column::ProvinceCode), 3).ok_or_else(|| {
        format!(
            "comune {istat} ({name_it}): province code `{}` is not three digits",
            field(Column::ProvinceCode)
        )
    })?;
    let province_acronym = field(Column::ProvinceAcronym).to_ascii_uppercase();
    if !(province_acronym.len() == 2 && province_acronym.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(format!(
            "comune {istat} ({name_it}): province acronym `{province_acronym}` is not two letters"
        ));
    }
    let region_code = digits(field(Column::RegionCode), 2).ok_or_else(|| {
        format!("comune {istat} ({name_it}): region code `{}` is not two digits", field(Column::RegionCode))
    })?;
    let province_name = field(Column::ProvinceName).to_string();
    let region_name = field(Column::RegionName).to_string();
    if province_name.is_empty() || region_name.is_empty() {
        return Err(format!("comune {istat} ({name_it}): no province or region name"));
    }
    Ok(ListedComune {
        istat,
        belfiore,
        name,
        name_it,
        name_other,
        province_code,
        province_name,
        province_acronym,
        region_code,
        region_name,
    })
}

/// Imports ISTAT's list of comuni from `path`: upserts names and codes by ISTAT code into `core.comune_registry`
/// (one statement), deletes nothing, touches no boundary. Rows that cannot be read are reported and skipped.
pub async fn import_list(pool: &PgPool, path: &Path) -> Result<ListReport> {
    let bytes = std::fs::read(path).map_err(Error::io("cannot read", path))?;
    let ParsedList { comuni, invalid } =
        parse_list(&bytes).map_err(|detail| Error::ComuniList { path: path.to_path_buf(), detail })?;
    let mut report = ListReport { rows: comuni.len(), invalid, ..ListReport::default() };
    let column = |f: fn(&ListedComune) -> Option<&str>| -> Vec<Option<String>> {
        comuni.iter().map(|c| f(c).map(str::to_string)).collect()
    };
    let mut tx = pool.begin().await?;
    let created: Vec<bool> = sqlx::query_scalar(
        "insert into core.comune_registry as r (istat, belfiore, name, name_it, name_other, province_code,
             province_name, province_acronym, region_code, region_name)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                              $8::text[], $9::text[], $10::text[])
         on conflict (istat) do update set belfiore = excluded.belfiore, name = excluded.name,
             name_it = excluded.name_it, name_other = excluded.name_other, province_code = excluded.province_code,
             province_name = excluded.province_name, province_acronym = excluded.province_acronym,
             region_code = excluded.region_code, region_name = excluded.region_name, updated_at = now()
         where (r.belfiore, r.name, r.name_it, r.name_other, r.province_code, r.province_name, r.province_acronym,
                r.region_code, r.region_name)
               is distinct from
               (excluded.belfiore, excluded.name, excluded.name_it, excluded.name_other, excluded.province_code,
                excluded.province_name, excluded.province_acronym, excluded.region_code, excluded.region_name)
         returning (xmax = 0)",
    )
    .bind(column(|c| Some(&c.istat)))
    .bind(column(|c| Some(&c.belfiore)))
    .bind(column(|c| Some(&c.name)))
    .bind(column(|c| Some(&c.name_it)))
    .bind(column(|c| c.name_other.as_deref()))
    .bind(column(|c| Some(&c.province_code)))
    .bind(column(|c| Some(&c.province_name)))
    .bind(column(|c| Some(&c.province_acronym)))
    .bind(column(|c| Some(&c.region_code)))
    .bind(column(|c| Some(&c.region_name)))
    .fetch_all(&mut *tx)
    .await?;
    report.created = created.iter().filter(|c| **c).count();
    report.updated = created.len() - report.created;
    report.unchanged = report.rows - created.len();
    let (with_boundary, not_listed): (i64, i64) = sqlx::query_as(
        "select count(r.istat), count(*) filter (where r.istat is null)
         from core.comune c left join core.comune_registry r using (istat)",
    )
    .fetch_one(&mut *tx)
    .await?;
    report.with_boundary = with_boundary as usize;
    report.boundaries_not_listed = not_listed as usize;
    let changed = !created.is_empty();
    if changed {
        super::bump_revision(&mut tx).await?;
    }
    tx.commit().await?;
    if changed {
        super::changed_locally();
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Codice Regione;\"Codice dell'Unit\u{e0} territoriale sovracomunale \r\n(valida a fini \
        statistici)\";Codice Provincia (Storico)(1);Progressivo del Comune (2);Codice Comune formato alfanumerico;\
        Denominazione (Italiana e straniera);Denominazione in italiano;Denominazione altra lingua;\
        Codice Ripartizione Geografica;Ripartizione geografica;Denominazione Regione;\"Denominazione dell'Unit\u{e0} \
        territoriale sovracomunale \r\n(valida a fini statistici)\";Tipologia di Unit\u{e0} territoriale \
        sovracomunale ;Flag Comune capoluogo di provincia/citt\u{e0} metropolitana/libero consorzio;\
        Sigla automobilistica;Codice Comune formato numerico;Codice Catastale del comune\r\n";

    fn cp1252(s: &str) -> Vec<u8> {
        encoding_rs::WINDOWS_1252.encode(s).0.into_owned()
    }

    #[test]
    fn the_windows_1252_list_with_quoted_multiline_headers_is_read() {
        let text = format!(
            "{HEADER}01;201;001;001;001001;Agli\u{e8};Agli\u{e8};;1;Nord-ovest;Piemonte;Torino;3;0;TO;1001;A074\r\n\
             04;021;021;008;021008;Bolzano/Bozen;Bolzano;Bozen;2;Nord-est;Trentino-Alto Adige/S\u{fc}dtirol;\
             Bolzano/Bozen;2;1;BZ;21008;A952\r\n"
        );
        let ParsedList { comuni, invalid } = parse_list(&cp1252(&text)).unwrap();
        assert!(invalid.is_empty(), "{invalid:?}");
        assert_eq!(comuni[0].istat, "001001");
        assert_eq!(comuni[0].name, "Agli\u{e8}");
        assert_eq!(comuni[0].name_other, None);
        assert_eq!(comuni[0].province_code, "001");
        let bz = &comuni[1];
        assert_eq!(
            (bz.name.as_str(), bz.name_it.as_str(), bz.name_other.as_deref()),
            ("Bolzano/Bozen", "Bolzano", Some("Bozen"))
        );
        assert_eq!((bz.province_acronym.as_str(), bz.region_code.as_str()), ("BZ", "04"));
        assert_eq!(bz.region_name, "Trentino-Alto Adige/S\u{fc}dtirol");
        // The same in UTF-8 reads the same.
        assert_eq!(parse_list(text.as_bytes()).unwrap().comuni, comuni);
    }

    #[test]
    fn bad_rows_are_refused_with_their_line_and_a_file_without_the_columns_is_not_the_list() {
        let text = format!(
            "{HEADER}01;201;001;001;1001;Agli\u{e8};Agli\u{e8};;1;Nord-ovest;Piemonte;Torino;3;0;TO;1001;A074\r\n\
             01;201;001;002;0010x2;Airasca;Airasca;;1;Nord-ovest;Piemonte;Torino;3;0;TO;1002;A109\r\n\
             01;201;001;003;001003;Ala di Stura;Ala di Stura;;1;Nord-ovest;Piemonte;Torino;3;0;TORINO;1003;A117\r\n\
             01;201;001;001;001001;Agli\u{e8};Agli\u{e8};;1;Nord-ovest;Piemonte;Torino;3;0;TO;1001;A074\r\n\
             ;;;;;;;;;;;;;;;;\r\n"
        );
        let ParsedList { comuni, invalid } = parse_list(text.as_bytes()).unwrap();
        assert_eq!(comuni.len(), 1);
        assert_eq!(comuni[0].istat, "001001", "zeros lost by a spreadsheet come back");
        let lines: Vec<u64> = invalid.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [5, 6, 7], "{invalid:?}");
        assert!(invalid[0].1.contains("`0010x2` is not six digits"));
        assert!(invalid[1].1.contains("`TORINO` is not two letters"));
        assert!(invalid[2].1.contains("listed twice"));
        let err = parse_list(b"name;code\nRoma;058091\n").unwrap_err();
        assert!(err.contains("codice comune formato alfanumerico"), "{err}");
    }
}
