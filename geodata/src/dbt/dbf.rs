//! dBase attribute tables (`.dbf`) of Shapefiles, decoded with the right code page.
//!
//! The code page comes from, in order: the `.cpg` file beside the `.dbf`; the DBF header's language driver id
//! (LDID, byte 29); and when neither says anything (LDID 0, no `.cpg`, as in the Venezia extract) from the bytes
//! themselves: UTF-8 when every text field is valid UTF-8 (what GDAL, which then does not recode, shows too),
//! Windows-1252 otherwise (the usual Italian ANSI code page). DOS code pages (437, 850, …) decode through `yore`,
//! the others through `encoding_rs`.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// How the text of a table is encoded.
#[derive(Clone, Copy)]
pub(crate) enum Encoding {
    Utf8,
    Whatwg(&'static encoding_rs::Encoding),
    Oem(&'static dyn yore::CodePage, u16),
}

impl std::fmt::Debug for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Encoding {
    pub(crate) fn name(&self) -> String {
        match self {
            Encoding::Utf8 => "UTF-8".into(),
            Encoding::Whatwg(e) => e.name().into(),
            Encoding::Oem(_, cp) => format!("CP{cp}"),
        }
    }

    pub(crate) fn decode<'a>(&self, bytes: &'a [u8]) -> Cow<'a, str> {
        match self {
            Encoding::Utf8 => String::from_utf8_lossy(bytes),
            Encoding::Whatwg(e) => e.decode_without_bom_handling(bytes).0,
            Encoding::Oem(cp, _) => cp.decode_lossy(bytes),
        }
    }

    /// A Windows/DOS/ISO code page number.
    pub(crate) fn from_code_page(cp: u32) -> Option<Encoding> {
        use yore::code_pages::*;
        let oem: Option<&'static dyn yore::CodePage> = match cp {
            437 => Some(&CP437),
            737 => Some(&CP737),
            850 => Some(&CP850),
            852 => Some(&CP852),
            855 => Some(&CP855),
            857 => Some(&CP857),
            860 => Some(&CP860),
            861 => Some(&CP861),
            862 => Some(&CP862),
            863 => Some(&CP863),
            864 => Some(&CP864),
            865 => Some(&CP865),
            869 => Some(&CP869),
            _ => None,
        };
        if let Some(oem) = oem {
            return Some(Encoding::Oem(oem, cp as u16));
        }
        let label = match cp {
            65001 => return Some(Encoding::Utf8),
            866 => "ibm866".to_string(),
            874 => "windows-874".to_string(),
            932 => "shift_jis".to_string(),
            936 => "gbk".to_string(),
            949 => "euc-kr".to_string(),
            950 => "big5".to_string(),
            1250..=1258 => format!("windows-{cp}"),
            10000 => "macintosh".to_string(),
            10007 => "x-mac-cyrillic".to_string(),
            28591..=28606 => format!("iso-8859-{}", cp - 28590),
            _ => return None,
        };
        encoding_rs::Encoding::for_label(label.as_bytes()).map(Encoding::Whatwg)
    }

    /// The content of a `.cpg` file: `UTF-8`, `1252`, `ANSI 1252`, `OEM 850`, `ISO-8859-1`, `88591`, `CP1252`, …
    pub(crate) fn from_cpg(text: &str) -> Option<Encoding> {
        let t = text.trim().trim_start_matches('\u{feff}').trim();
        let upper = t.to_ascii_uppercase();
        let compact: String = upper.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        if compact == "UTF8" || compact == "65001" {
            return Some(Encoding::Utf8);
        }
        for prefix in ["ISO8859", "8859"] {
            if let Some(part) = compact.strip_prefix(prefix) {
                let part: u32 = part.parse().ok()?;
                return Encoding::from_code_page(28590 + part);
            }
        }
        for prefix in ["ANSI", "OEM", "CP", "WINDOWS", "IBM", "MS", ""] {
            if let Some(number) = compact.strip_prefix(prefix)
                && !number.is_empty()
                && number.chars().all(|c| c.is_ascii_digit())
            {
                return Encoding::from_code_page(number.parse().ok()?);
            }
        }
        encoding_rs::Encoding::for_label(t.as_bytes()).map(Encoding::Whatwg)
    }

    /// The code page of a DBF language driver id (ESRI's table); `None` for 0 (unspecified) and unknown ids.
    pub(crate) fn from_ldid(ldid: u8) -> Option<Encoding> {
        let cp = match ldid {
            0x01 | 0x09 | 0x0b | 0x0d | 0x0f | 0x11 | 0x15 | 0x18 | 0x19 | 0x1b => 437,
            0x02 | 0x0a | 0x0e | 0x10 | 0x12 | 0x14 | 0x16 | 0x1a | 0x1d | 0x25 | 0x37 => 850,
            0x03 | 0x57 | 0x58 | 0x59 => 1252,
            0x04 => 10000,
            0x08 | 0x17 | 0x66 => 865,
            0x13 | 0x7b => 932,
            0x1c | 0x6c => 863,
            0x1f | 0x22 | 0x23 | 0x40 | 0x64 | 0x87 => 852,
            0x24 => 860,
            0x26 | 0x65 => 866,
            0x4d | 0x7a => 936,
            0x4e | 0x79 => 949,
            0x4f | 0x78 => 950,
            0x50 | 0x7c => 874,
            0x67 => 861,
            0x6a | 0x86 => 737,
            0x6b | 0x88 => 857,
            0x96 => 10007,
            0xc8 => 1250,
            0xc9 => 1251,
            0xca => 1254,
            0xcb => 1253,
            0xcc => 1257,
            _ => return None,
        };
        Encoding::from_code_page(cp)
    }
}

/// A field of the table.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: String,
    pub kind: u8,
    pub offset: usize,
    pub length: usize,
    pub decimals: u8,
}

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Text(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// A `.dbf` opened for sequential reading.
pub(crate) struct Dbf {
    path: PathBuf,
    reader: BufReader<File>,
    pub fields: Vec<Field>,
    pub records: u64,
    version: u8,
    pub encoding: Encoding,
    /// How the encoding was chosen, for the import report.
    pub encoding_source: String,
    read: u64,
    buffer: Vec<u8>,
}

impl std::fmt::Debug for Dbf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dbf").field("path", &self.path).field("records", &self.records).finish()
    }
}

fn bad(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Import(format!("{}: {what}", path.display()))
}

impl Dbf {
    /// Opens `path`, reads its header and decides its encoding (see the module docs).
    pub(crate) fn open(path: &Path) -> Result<Dbf> {
        let file = File::open(path).map_err(Error::io("cannot open", path))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut head = [0u8; 32];
        reader.read_exact(&mut head).map_err(|e| bad(path, format!("not a dBase file ({e})")))?;
        let version = head[0];
        let records = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as u64;
        let header_length = u16::from_le_bytes([head[8], head[9]]) as usize;
        let record_length = u16::from_le_bytes([head[10], head[11]]) as usize;
        let ldid = head[29];
        if header_length < 33 || record_length == 0 {
            return Err(bad(path, "not a dBase file (bad header)"));
        }
        let mut rest = vec![0u8; header_length - 32];
        reader.read_exact(&mut rest).map_err(|e| bad(path, format!("truncated header ({e})")))?;
        let mut fields = Vec::new();
        let mut offset = 1; // the deletion flag
        for chunk in rest.chunks_exact(32) {
            if chunk[0] == 0x0d {
                break;
            }
            let name_end = chunk[..11].iter().position(|&b| b == 0).unwrap_or(11);
            let name = String::from_utf8_lossy(&chunk[..name_end]).trim().to_string();
            let length = chunk[16] as usize;
            fields.push(Field {
                name,
                kind: chunk[11].to_ascii_uppercase(),
                offset,
                length,
                decimals: chunk[17],
            });
            offset += length;
        }
        if offset > record_length {
            return Err(bad(path, format!("fields need {offset} bytes, records have {record_length}")));
        }

        let (encoding, encoding_source) = match read_cpg(path)? {
            Some((text, cpg_path)) => match Encoding::from_cpg(&text) {
                Some(e) => (e, format!("{} says {}", file_name(&cpg_path), text.trim())),
                None => {
                    return Err(bad(
                        &cpg_path,
                        format!("names the code page `{}`, which Vedetta does not know", text.trim()),
                    ));
                }
            },
            None => match Encoding::from_ldid(ldid) {
                Some(e) => (e, format!("the DBF language driver id 0x{ldid:02x}")),
                None => {
                    let utf8 = texts_are_utf8(path, header_length, record_length, records, &fields)?;
                    let why = if ldid == 0 { "no .cpg, no DBF code page" } else { "unknown DBF code page" };
                    if utf8 {
                        (Encoding::Utf8, format!("{why}; the text is valid UTF-8"))
                    } else {
                        (
                            Encoding::Whatwg(encoding_rs::WINDOWS_1252),
                            format!("{why}; the text is not UTF-8, read as Windows-1252"),
                        )
                    }
                }
            },
        };
        Ok(Dbf {
            path: path.to_path_buf(),
            reader,
            fields,
            records,
            version,
            encoding,
            encoding_source,
            read: 0,
            buffer: vec![0; record_length],
        })
    }

    /// Reads the next record: `None` at the end, `Some(Ok(false))` for a record flagged as deleted.
    pub(crate) fn advance(&mut self) -> Option<Result<bool>> {
        if self.read >= self.records {
            return None;
        }
        self.read += 1;
        if let Err(e) = self.reader.read_exact(&mut self.buffer) {
            return Some(Err(bad(&self.path, format!("record {} is truncated ({e})", self.read))));
        }
        Some(Ok(self.buffer[0] != b'*'))
    }

    /// The value of `field` in the record last read.
    pub(crate) fn value(&self, field: &Field) -> Value<'_> {
        decode(&self.buffer, field, self.encoding, self.version)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn read_cpg(dbf: &Path) -> Result<Option<(String, PathBuf)>> {
    for ext in ["cpg", "CPG", "Cpg"] {
        let cpg = dbf.with_extension(ext);
        if cpg.exists() {
            let bytes = std::fs::read(&cpg).map_err(Error::io("cannot read", &cpg))?;
            return Ok(Some((String::from_utf8_lossy(&bytes).into_owned(), cpg)));
        }
    }
    Ok(None)
}

/// Whether every character field of every record is valid UTF-8.
fn texts_are_utf8(
    path: &Path,
    header: usize,
    record_length: usize,
    records: u64,
    fields: &[Field],
) -> Result<bool> {
    let file = File::open(path).map_err(Error::io("cannot open", path))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    std::io::copy(&mut (&mut reader).take(header as u64), &mut std::io::sink())
        .map_err(Error::io("cannot read", path))?;
    let texts: Vec<&Field> = fields.iter().filter(|f| matches!(f.kind, b'C' | b'V' | b'M')).collect();
    let mut record = vec![0u8; record_length];
    for _ in 0..records {
        if reader.read_exact(&mut record).is_err() {
            break;
        }
        for f in &texts {
            match std::str::from_utf8(&record[f.offset..f.offset + f.length]) {
                Ok(_) => {}
                // A multi-byte character cut by the field width is still UTF-8 text.
                Err(e) if e.error_len().is_none() => {}
                Err(_) => return Ok(false),
            }
        }
    }
    Ok(true)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !matches!(b, b' ' | 0)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !matches!(b, b' ' | 0)).map_or(start, |e| e + 1);
    &bytes[start..end]
}

fn decode<'a>(record: &'a [u8], field: &Field, encoding: Encoding, version: u8) -> Value<'a> {
    let raw = &record[field.offset..field.offset + field.length];
    match field.kind {
        b'N' | b'F' => {
            let t = trim(raw);
            if t.is_empty() || t.iter().all(|&b| b == b'*' || b == b'.' || b == b'-') {
                return Value::Null;
            }
            let s = std::str::from_utf8(t).unwrap_or("");
            if field.decimals == 0
                && let Ok(i) = s.parse::<i64>()
            {
                return Value::Int(i);
            }
            match s.parse::<f64>() {
                Ok(f) if f.is_finite() => Value::Float(f),
                _ => Value::Text(encoding.decode(t)),
            }
        }
        b'D' => {
            let t = trim(raw);
            if t.is_empty() || t.iter().all(|&b| b == b'0') {
                return Value::Null;
            }
            if t.len() == 8 && t.iter().all(u8::is_ascii_digit) {
                let s = std::str::from_utf8(t).unwrap_or_default();
                return Value::Text(Cow::Owned(format!("{}-{}-{}", &s[..4], &s[4..6], &s[6..])));
            }
            Value::Text(encoding.decode(t))
        }
        b'L' => match raw.first() {
            Some(b'T' | b't' | b'Y' | b'y') => Value::Bool(true),
            Some(b'F' | b'f' | b'N' | b'n') => Value::Bool(false),
            _ => Value::Null,
        },
        b'I' | b'+' if raw.len() == 4 => {
            Value::Int(i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as i64)
        }
        b'O' if raw.len() == 8 => Value::Float(f64::from_le_bytes(raw.try_into().expect("8 bytes"))),
        // Visual FoxPro's B is a double; dBase's B is a memo block number.
        b'B' if raw.len() == 8 && version == 0x30 => {
            Value::Float(f64::from_le_bytes(raw.try_into().expect("8 bytes")))
        }
        _ => {
            // C and everything read as text, blanks around it trimmed; an all-blank field is NULL (as GDAL,
            // whose shapelib trims both ends).
            let t = trim(raw);
            if t.is_empty() {
                return Value::Null;
            }
            Value::Text(encoding.decode(t))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpg_contents_are_understood() {
        assert_eq!(Encoding::from_cpg("UTF-8\n").unwrap().name(), "UTF-8");
        assert_eq!(Encoding::from_cpg("65001").unwrap().name(), "UTF-8");
        assert_eq!(Encoding::from_cpg("ANSI 1252").unwrap().name(), "windows-1252");
        assert_eq!(Encoding::from_cpg("1252").unwrap().name(), "windows-1252");
        assert_eq!(Encoding::from_cpg("OEM 850").unwrap().name(), "CP850");
        assert_eq!(Encoding::from_cpg("ISO-8859-15").unwrap().name(), "ISO-8859-15");
        assert_eq!(Encoding::from_cpg("88591").unwrap().name(), "windows-1252");
        assert!(Encoding::from_cpg("KLINGON").is_none());
    }

    #[test]
    fn code_pages_decode_italian_accents() {
        // "Città" in each code page.
        assert_eq!(Encoding::from_ldid(0x57).unwrap().decode(b"Citt\xe0"), "Città");
        assert_eq!(Encoding::from_ldid(0x02).unwrap().decode(b"Citt\x85"), "Città");
        assert_eq!(Encoding::from_ldid(0x01).unwrap().decode(b"Citt\x85"), "Città");
        assert_eq!(Encoding::Utf8.decode("Città".as_bytes()), "Città");
        assert!(Encoding::from_ldid(0).is_none());
    }

    fn field(kind: u8, length: usize, decimals: u8) -> Field {
        Field { name: "X".into(), kind, offset: 0, length, decimals }
    }

    #[test]
    fn values_are_typed_as_gdal_types_them() {
        let e = Encoding::Utf8;
        assert_eq!(decode(b"             144", &field(b'N', 16, 0), e, 3), Value::Int(144));
        assert_eq!(decode(b"    9.99", &field(b'N', 8, 2), e, 3), Value::Float(9.99));
        assert_eq!(decode(b"        ", &field(b'N', 8, 2), e, 3), Value::Null);
        assert_eq!(decode(b"20040131", &field(b'D', 8, 0), e, 3), Value::Text("2004-01-31".into()));
        assert_eq!(decode(b"        ", &field(b'D', 8, 0), e, 3), Value::Null);
        assert_eq!(decode(b"CA' TRON  ", &field(b'C', 10, 0), e, 3), Value::Text("CA' TRON".into()));
        assert_eq!(decode(b" A.CANAL  ", &field(b'C', 10, 0), e, 3), Value::Text("A.CANAL".into()));
        assert_eq!(decode(b"          ", &field(b'C', 10, 0), e, 3), Value::Null);
        assert_eq!(decode(b"T", &field(b'L', 1, 0), e, 3), Value::Bool(true));
        assert_eq!(decode(b"?", &field(b'L', 1, 0), e, 3), Value::Null);
    }
}
