//! A large generated DBT-like layer: a Shapefile of irregular polygons (some with a hole) in EPSG:3004 over the
//! Venezia area, with TP_CAN-like attributes (UTF-8, with a `.cpg`), written directly (no GDAL needed).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The Venezia extract's `.prj` (ESRI WKT of Monte Mario / Italy zone 2).
const PRJ: &str = r#"PROJCS["Monte_Mario_Italy_2",GEOGCS["GCS_Monte_Mario",DATUM["D_Monte_Mario",SPHEROID["International_1924",6378388.0,297.0]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",2520000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",15.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;

/// (name, type, length, decimals) of the generated table.
const FIELDS: [(&str, u8, u8, u8); 6] = [
    ("ID", b'N', 16, 0),
    ("TC_SPECIE", b'C', 20, 0),
    ("TC_DENOM", b'C', 60, 0),
    ("DATA_VAL", b'D', 8, 0),
    ("ACC_PLAN", b'N', 8, 2),
    ("TC_CODDEN", b'N', 5, 0),
];

const SPECIE: [&str; 4] = ["CANALE", "RIO", "CANAL", "RIELLO"];
const DENOM: [&str; 6] = [
    "DE SANT'AGOSTIN",
    "CA' TRON",
    "VITTORIO EMANUELE III°",
    "DE LA PERGOLA",
    "SAN ZAN DEGOLÀ",
    "DEI TRE PONTI",
];

/// SplitMix64: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Rings of feature `i`: a clockwise shell of 5–10 vertices, and for one feature in ten a counter-clockwise hole.
fn rings(i: u64, rng: &mut Rng) -> Vec<Vec<(f64, f64)>> {
    let cols = 1000;
    let cx = 2_300_000.0 + (i % cols) as f64 * 30.0 + rng.unit() * 5.0;
    let cy = 5_010_000.0 + (i / cols) as f64 * 30.0 + rng.unit() * 5.0;
    let k = 5 + (rng.next() % 6) as usize;
    let mut shell: Vec<(f64, f64)> = (0..k)
        .map(|j| {
            let a = -2.0 * std::f64::consts::PI * j as f64 / k as f64; // clockwise
            let r = 10.0 * (0.7 + 0.3 * rng.unit());
            (cx + r * a.cos(), cy + r * a.sin())
        })
        .collect();
    shell.push(shell[0]);
    let mut out = vec![shell];
    if i.is_multiple_of(10) {
        let hole = vec![
            (cx - 2.0, cy - 2.0),
            (cx + 2.0, cy - 2.0),
            (cx + 2.0, cy + 2.0),
            (cx - 2.0, cy + 2.0),
            (cx - 2.0, cy - 2.0),
        ];
        out.push(hole);
    }
    out
}

/// Writes `dir/TP_BENCH_<n>.{shp,shx,dbf,prj,cpg}` unless it is there already; returns the `.shp` path.
pub fn layer(dir: &Path, n: u64) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let shp_path = dir.join(format!("TP_BENCH_{n}.shp"));
    let done = shp_path.with_extension("done");
    if done.exists() {
        return Ok(shp_path);
    }
    let open = |ext: &str| -> Result<BufWriter<File>> {
        let p = shp_path.with_extension(ext);
        Ok(BufWriter::with_capacity(
            1 << 20,
            File::create(&p).with_context(|| format!("cannot create {}", p.display()))?,
        ))
    };
    let (mut shp, mut shx, mut dbf) = (open("shp")?, open("shx")?, open("dbf")?);
    std::fs::write(shp_path.with_extension("prj"), PRJ)?;
    std::fs::write(shp_path.with_extension("cpg"), "UTF-8")?;

    // Headers are rewritten at the end with the lengths and the extent.
    shp.write_all(&[0u8; 100])?;
    shx.write_all(&[0u8; 100])?;
    let record_length: u16 = 1 + FIELDS.iter().map(|f| f.2 as u16).sum::<u16>();
    let header_length: u16 = 32 + 32 * FIELDS.len() as u16 + 1;
    let mut head = vec![3u8, 126, 11, 22];
    head.extend_from_slice(&(n as u32).to_le_bytes());
    head.extend_from_slice(&header_length.to_le_bytes());
    head.extend_from_slice(&record_length.to_le_bytes());
    head.resize(32, 0);
    dbf.write_all(&head)?;
    for (name, kind, len, dec) in FIELDS {
        let mut f = [0u8; 32];
        f[..name.len()].copy_from_slice(name.as_bytes());
        f[11] = kind;
        f[16] = len;
        f[17] = dec;
        dbf.write_all(&f)?;
    }
    dbf.write_all(&[0x0d])?;

    let mut rng = Rng(42);
    let mut offset_words: u64 = 50;
    let mut extent = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    let mut content = Vec::with_capacity(512);
    let mut record = Vec::with_capacity(record_length as usize);
    for i in 0..n {
        let rings = rings(i, &mut rng);
        let points: usize = rings.iter().map(Vec::len).sum();
        let mut bbox = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for &(x, y) in rings.iter().flatten() {
            bbox = [bbox[0].min(x), bbox[1].min(y), bbox[2].max(x), bbox[3].max(y)];
        }
        extent =
            [extent[0].min(bbox[0]), extent[1].min(bbox[1]), extent[2].max(bbox[2]), extent[3].max(bbox[3])];
        content.clear();
        content.extend_from_slice(&5i32.to_le_bytes());
        bbox.iter().for_each(|v| content.extend_from_slice(&v.to_le_bytes()));
        content.extend_from_slice(&(rings.len() as i32).to_le_bytes());
        content.extend_from_slice(&(points as i32).to_le_bytes());
        let mut start = 0i32;
        for r in &rings {
            content.extend_from_slice(&start.to_le_bytes());
            start += r.len() as i32;
        }
        for &(x, y) in rings.iter().flatten() {
            content.extend_from_slice(&x.to_le_bytes());
            content.extend_from_slice(&y.to_le_bytes());
        }
        let words = (content.len() / 2) as i32;
        shp.write_all(&((i + 1) as i32).to_be_bytes())?;
        shp.write_all(&words.to_be_bytes())?;
        shp.write_all(&content)?;
        shx.write_all(&(offset_words as i32).to_be_bytes())?;
        shx.write_all(&words.to_be_bytes())?;
        offset_words += 4 + words as u64;

        record.clear();
        record.push(b' ');
        let denom = format!("{} {}", DENOM[(i % 6) as usize], i / 6);
        let fields: [String; 6] = [
            format!("{:>16}", i + 1),
            format!("{:<20}", SPECIE[(i % 4) as usize]),
            denom,
            format!("{}{:02}{:02}", 2000 + i % 20, 1 + i % 12, 1 + i % 28),
            format!("{:>8.2}", rng.unit() * 10.0),
            format!("{:>5}", 20_000 + i % 9_000),
        ];
        for (value, (_, _, len, _)) in fields.iter().zip(FIELDS) {
            let mut bytes = value.as_bytes().to_vec();
            bytes.resize(len as usize, b' ');
            record.extend_from_slice(&bytes);
        }
        dbf.write_all(&record)?;
    }
    dbf.write_all(&[0x1a])?;
    for (w, words, extent) in [(&mut shp, offset_words, extent), (&mut shx, 50 + 4 * n, extent)] {
        w.flush()?;
        let file = w.get_mut();
        let mut h = Vec::with_capacity(100);
        h.extend_from_slice(&9994i32.to_be_bytes());
        h.resize(24, 0);
        h.extend_from_slice(&(words as i32).to_be_bytes());
        h.extend_from_slice(&1000i32.to_le_bytes());
        h.extend_from_slice(&5i32.to_le_bytes());
        extent.iter().for_each(|v| h.extend_from_slice(&v.to_le_bytes()));
        h.resize(100, 0);
        use std::io::Seek;
        file.seek(std::io::SeekFrom::Start(0))?;
        file.write_all(&h)?;
    }
    shp.flush()?;
    shx.flush()?;
    dbf.flush()?;
    std::fs::write(&done, "")?;
    Ok(shp_path)
}
