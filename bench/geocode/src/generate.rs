//! A generated national extract in the official ANNCSU bulk format (INDIRIZZI and STRADE files): streets with
//! realistic names in every comune of [`names::COMUNI`], civici along them with exponents, Genova's red numbers,
//! a few accesses with no number and a few without coordinates.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::names;
use crate::rng::Rng;

/// What a street's name is made of, for the sloppy spellings of the query log.
#[derive(Debug, Clone)]
pub struct Street {
    pub comune: usize,
    pub progressivo: i64,
    pub dug: &'static str,
    /// The denomination (`GIUSEPPE GARIBALDI`).
    pub denominazione: String,
    /// A first name that users often leave out (`GIUSEPPE`).
    pub first_name: Option<&'static str>,
    /// The street's centreline, a straight segment (lon, lat) from its first civico to past its last.
    pub line: [(f64, f64); 2],
}

impl Street {
    pub fn odonimo(&self) -> String {
        format!("{} {}", self.dug, self.denominazione)
    }
}

/// A generated civico.
#[derive(Debug, Clone)]
pub struct Civico {
    pub street: u32,
    pub numero: u32,
    /// `""`, `A`, `B`, `C`, `BIS`.
    pub esponente: &'static str,
    pub red: bool,
    /// `None` for the few without coordinates.
    pub point: Option<(f64, f64)>,
}

/// The generated data set.
#[derive(Debug, Default)]
pub struct Dataset {
    pub streets: Vec<Street>,
    pub civici: Vec<Civico>,
}

/// A street name for comune `c`, not yet used there.
fn street_name(rng: &mut Rng, used: &mut HashSet<String>) -> (&'static str, String, Option<&'static str>) {
    loop {
        let dug = pick_dug(rng);
        let roll = rng.below(100);
        let (denominazione, first) = if roll < 34 {
            let (first, surname) = names::PEOPLE[rng.below(names::PEOPLE.len())];
            if first.is_empty() || rng.below(100) < 25 {
                (surname.to_string(), None)
            } else {
                (format!("{first} {surname}"), Some(first))
            }
        } else if roll < 40 {
            let date = names::DATES[rng.below(names::DATES.len())];
            (date.to_string(), None)
        } else if roll < 50 {
            (names::SAINTS[rng.below(names::SAINTS.len())].to_string(), None)
        } else if roll < 72 {
            (names::THINGS[rng.below(names::THINGS.len())].to_string(), None)
        } else if roll < 78 {
            // TRAVERSA SECONDA DI VIA GIUSEPPE VERDI, VICO TERZO DI VIA ROMA
            let (_, surname) = names::PEOPLE[rng.below(names::PEOPLE.len())];
            let i = rng.below(names::ORDINALS.len());
            let (dug, ordinal) = if rng.below(2) == 0 {
                ("TRAVERSA", names::ORDINALS[i])
            } else {
                ("VICO", names::ORDINALS_M[i])
            };
            let name = format!("{ordinal} DI VIA {surname}");
            if used.insert(format!("{dug} {name}")) {
                return (dug, name, None);
            }
            continue;
        } else {
            (toponym(rng), None)
        };
        let dug = if roll >= 78 && rng.below(100) < 60 {
            ["CONTRADA", "LOCALITA'", "STRADA", "VIA"][rng.below(4)]
        } else {
            dug
        };
        if used.insert(format!("{dug} {denominazione}")) {
            return (dug, denominazione, first);
        }
    }
}

fn pick_dug(rng: &mut Rng) -> &'static str {
    let total: u32 = names::DUGS.iter().map(|d| d.1).sum();
    let mut roll = rng.below(total as usize) as u32;
    for (dug, weight) in names::DUGS {
        if roll < *weight {
            return dug;
        }
        roll -= weight;
    }
    "VIA"
}

/// A rural toponym: `CARRA' COLA`, `CERASIA`, `PIRO'`.
fn toponym(rng: &mut Rng) -> String {
    let word = |rng: &mut Rng| {
        let n = 2 + rng.below(3);
        let mut w: String = (0..n).map(|_| names::SYLLABLES[rng.below(names::SYLLABLES.len())]).collect();
        if rng.below(100) < 15 && w.ends_with(['A', 'O', 'I', 'U', 'E']) {
            w.push('\'');
        }
        w
    };
    if rng.below(100) < 35 { format!("{} {}", word(rng), word(rng)) } else { word(rng) }
}

/// Civici on a street: mostly few, some long streets with hundreds.
fn civici_count(rng: &mut Rng) -> u32 {
    match rng.below(100) {
        0..=34 => 1 + rng.below(8) as u32,
        35..=69 => 8 + rng.below(25) as u32,
        70..=92 => 30 + rng.below(50) as u32,
        93..=98 => 80 + rng.below(120) as u32,
        _ => 200 + rng.below(300) as u32,
    }
}

/// Generates `target` civici (exactly) over the comuni.
pub fn dataset(target: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let mut data = Dataset::default();
    let mut used: Vec<HashSet<String>> = vec![HashSet::new(); names::COMUNI.len()];
    let mut progressivo = 1_000_000i64;
    while data.civici.len() < target {
        let comune = rng.below(names::COMUNI.len());
        let (dug, denominazione, first_name) = street_name(&mut rng, &mut used[comune]);
        progressivo += 1;
        let street = data.streets.len() as u32;
        // A straight street of 100 m to 1.5 km, within 6 km of the centre.
        let (cx, cy) = (names::COMUNI[comune].3, names::COMUNI[comune].4);
        let deg_m_lat = 1.0 / 111_000.0;
        let deg_m_lon = deg_m_lat / cy.to_radians().cos();
        let (ox, oy) = (rng.signed() * 6000.0, rng.signed() * 6000.0);
        let length = 100.0 + rng.unit() * 1400.0;
        let angle = rng.unit() * std::f64::consts::TAU;
        let at = |along: f64| {
            round7((cx + (ox + along * angle.cos()) * deg_m_lon, cy + (oy + along * angle.sin()) * deg_m_lat))
        };
        let line = [at(0.0), at(length)];
        data.streets.push(Street { comune, progressivo, dug, denominazione, first_name, line });
        let n = civici_count(&mut rng).min((target - data.civici.len()) as u32);
        let genova = names::COMUNI[comune].2 == "Genova";
        for i in 0..n {
            let numero = i + 1;
            let along = length * f64::from(i) / f64::from(n.max(1));
            let side = if numero % 2 == 0 { 8.0 } else { -8.0 };
            let x = ox + along * angle.cos() - side * angle.sin() + rng.signed() * 2.0;
            let y = oy + along * angle.sin() + side * angle.cos() + rng.signed() * 2.0;
            let point = (rng.below(1000) >= 5).then(|| round7((cx + x * deg_m_lon, cy + y * deg_m_lat)));
            let esponente = match rng.below(100) {
                0..=2 => "A",
                3 => "B",
                4 => "BIS",
                _ => "",
            };
            data.civici.push(Civico { street, numero, esponente, red: false, point });
            if genova && rng.below(100) < 35 && data.civici.len() < target {
                let shifted = point.map(|(x, y)| round7((x + 3.0 * deg_m_lon, y)));
                data.civici.push(Civico { street, numero, esponente: "", red: true, point: shifted });
            }
        }
    }
    data
}

fn round7((x, y): (f64, f64)) -> (f64, f64) {
    ((x * 1e7).round() / 1e7, (y * 1e7).round() / 1e7)
}

fn decimal_comma(v: f64) -> String {
    format!("{v:.7}").replace('.', ",")
}

/// Writes INDIRIZZI and STRADE in the official format (BOM, `;`, decimal comma, STRADE's trailing empty column).
pub fn write_files(data: &Dataset, indirizzi: &Path, strade: &Path) -> Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(indirizzi)?);
    out.write_all(
        "\u{feff}CODICE_COMUNE;CODICE_ISTAT;PROGRESSIVO_NAZIONALE;CODICE_COMUNALE;ODONIMO;LOCALITA';\
         DIZIONE_LINGUA1;DIZIONE_LINGUA2;PROGRESSIVO_ACCESSO;CODICE_COMUNALE_ACCESSO;CIVICO;ESPONENTE;\
         SPECIFICITA;METRICO;PROGRESSIVO_SNC;COORD_X_COMUNE;COORD_Y_COMUNE;QUOTA;METODO\n"
            .as_bytes(),
    )?;
    let mut line = String::with_capacity(256);
    for (i, c) in data.civici.iter().enumerate() {
        let s = &data.streets[c.street as usize];
        let (istat, belfiore, ..) = names::COMUNI[s.comune];
        let specificita = if c.red {
            "ROSSO"
        } else if names::COMUNI[s.comune].2 == "Genova" {
            "NERO"
        } else {
            ""
        };
        let (x, y) =
            c.point.map_or((String::new(), String::new()), |(x, y)| (decimal_comma(x), decimal_comma(y)));
        line.clear();
        let _ = writeln!(
            line,
            "{belfiore};{istat};{};;{};;;;{};;{};{};{specificita};;;{x};{y};0;4",
            s.progressivo,
            s.odonimo(),
            10_000_000 + i,
            c.numero,
            c.esponente
        );
        out.write_all(line.as_bytes())?;
    }
    out.flush().context("cannot write INDIRIZZI")?;

    let mut counts = vec![0u32; data.streets.len()];
    for c in &data.civici {
        counts[c.street as usize] += 1;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(strade)?);
    out.write_all(
        b"CODICE_COMUNE;CODICE_ISTAT;PROGRESSIVO_NAZIONALE;CODICE_COMUNALE;ODONIMO;LOCALITA';TOTALE_ACCESSI;\
          DIZIONE_LINGUA1;DIZIONE_LINGUA2;unnamed_10\n",
    )?;
    for (s, n) in data.streets.iter().zip(counts) {
        let (istat, belfiore, ..) = names::COMUNI[s.comune];
        writeln!(out, "{belfiore};{istat};{};;{};;{n};;;", s.progressivo, s.odonimo())?;
    }
    out.flush().context("cannot write STRADE")?;
    Ok(())
}
