//! Forward geocoding: the readings of a query (with or without a comune named at its end, with or without its
//! last number as the house number), the streets each finds in the index, then the civici of those streets with
//! that number, looked up in PostgreSQL with one indexed query per reading.

use std::collections::HashMap;

use sqlx::PgPool;

use super::index::{Index, StreetHit};
use super::normalize::is_number;
use super::query::{self, NumberQuery, QWord, Token};
use super::{Candidate, MatchKind};
use crate::Result;
use crate::anncsu::civico::{self, ROSSO};

/// Streets whose civici are looked up for a query with a house number.
const STREETS_FOR_CIVICO: usize = 60;

/// One reading of the query.
#[derive(Debug)]
struct Plan {
    words: Vec<QWord>,
    number: Option<NumberQuery>,
    comuni: Option<Vec<u32>>,
}

/// The readings of `tokens`: the comune may be written at the end (`…, lamezia terme`), the last number may be
/// the house number or part of the name (`strada statale 18`).
fn plans(index: &Index, tokens: &[Token], filter: Option<&[u32]>) -> Vec<Plan> {
    let mut splits: Vec<(usize, Option<Vec<u32>>)> = vec![(tokens.len(), filter.map(<[u32]>::to_vec))];
    // A comune after a comma, or in the last words.
    let last_segment = tokens.last().map_or(0, |t| t.segment);
    let mut hint_starts: Vec<usize> = Vec::new();
    if last_segment > 0 {
        hint_starts.push(tokens.iter().position(|t| t.segment == last_segment).unwrap_or(tokens.len()));
    }
    for k in 1..=3.min(tokens.len().saturating_sub(1)) {
        hint_starts.push(tokens.len() - k);
    }
    for start in hint_starts {
        let tail = &tokens[start..];
        // What remains must still name a street: `via roma` is not the DUG `via` in the comune of Roma.
        if start == 0 || tail.iter().any(|t| is_number(&t.text)) || !query::has_words(&tokens[..start]) {
            continue;
        }
        let text: Vec<&str> = tail.iter().map(|t| t.text.as_str()).collect();
        let named = index.comuni_named(&text.join(" "));
        if named.is_empty() {
            continue;
        }
        let comuni: Vec<u32> = match filter {
            Some(f) => named.into_iter().filter(|c| f.contains(c)).collect(),
            None => named,
        };
        if !comuni.is_empty() && !splits.iter().any(|(s, _)| *s == start) {
            splits.push((start, Some(comuni)));
        }
    }
    let mut out = Vec::new();
    for (end, comuni) in splits {
        let part = &tokens[..end];
        match query::house_number(part) {
            Some((number, used)) => {
                if number.may_be_a_name() {
                    out.push(Plan { words: query::words(part), number: None, comuni: comuni.clone() });
                }
                out.push(Plan { words: query::words(&part[..end - used]), number: Some(number), comuni });
            }
            None => out.push(Plan { words: query::words(part), number: None, comuni }),
        }
    }
    out
}

/// A civico row of a candidate street.
#[derive(Debug, sqlx::FromRow)]
struct CivicoRow {
    progressivo_nazionale: i64,
    progressivo_accesso: i64,
    numero: Option<i32>,
    esponente: String,
    specificita: String,
    metrico: Option<String>,
    lon: Option<f64>,
    lat: Option<f64>,
}

impl CivicoRow {
    fn display(&self) -> String {
        civico::display(self.numero, &self.esponente, &self.specificita, self.metrico.as_deref())
    }

    /// Whether the row is exactly the number asked for.
    fn is(&self, q: &NumberQuery) -> bool {
        match q {
            NumberQuery::Civico { esponente, red, r_is_esponente, .. } => {
                let red_row = self.specificita == ROSSO;
                let as_asked = esponente.as_deref().unwrap_or("").eq_ignore_ascii_case(&self.esponente)
                    && red_row == (*red == Some(true));
                let as_r = *r_is_esponente && self.esponente == "R" && !red_row;
                as_asked || as_r
            }
            NumberQuery::Snc => true,
            NumberQuery::Metrico(km) => self
                .metrico
                .as_deref()
                .and_then(|m| m.replace(',', ".").parse::<f64>().ok())
                .is_some_and(|m| (m - km).abs() < 0.0005),
        }
    }
}

/// The civici of `streets` with the number of `q`, by street.
async fn civici(pool: &PgPool, streets: &[i64], q: &NumberQuery) -> Result<HashMap<i64, Vec<CivicoRow>>> {
    let select = "select progressivo_nazionale, progressivo_accesso, numero, esponente, specificita, metrico,
                         st_x(geom) as lon, st_y(geom) as lat
                  from toponymy.civico where progressivo_nazionale = any($1)";
    let rows: Vec<CivicoRow> = match q {
        NumberQuery::Civico { numero, .. } => {
            sqlx::query_as(&format!(
                "{select} and numero = $2 order by esponente, specificita, progressivo_accesso"
            ))
            .bind(streets)
            .bind(numero)
            .fetch_all(pool)
            .await?
        }
        NumberQuery::Snc => {
            sqlx::query_as(&format!(
                "{select} and numero is null and metrico is null order by progressivo_accesso"
            ))
            .bind(streets)
            .fetch_all(pool)
            .await?
        }
        NumberQuery::Metrico(_) => {
            sqlx::query_as(&format!(
                "{select} and numero is null and metrico is not null order by progressivo_accesso"
            ))
            .bind(streets)
            .fetch_all(pool)
            .await?
        }
    };
    let mut by_street: HashMap<i64, Vec<CivicoRow>> = HashMap::new();
    for row in rows {
        by_street.entry(row.progressivo_nazionale).or_default().push(row);
    }
    Ok(by_street)
}

/// Collects candidates, keeping the best score of each (street, civico).
#[derive(Debug, Default)]
struct Collector {
    best: HashMap<(i64, Option<i64>), (Candidate, u32)>,
}

impl Collector {
    fn push(&mut self, key: (i64, Option<i64>), candidate: Candidate, civici: u32) {
        match self.best.get(&key) {
            Some((known, _)) if known.score >= candidate.score => {}
            _ => {
                self.best.insert(key, (candidate, civici));
            }
        }
    }

    fn into_sorted(self, limit: usize) -> Vec<Candidate> {
        let mut all: Vec<(Candidate, u32)> = self.best.into_values().collect();
        all.sort_by(|(a, ca), (b, cb)| {
            b.score.total_cmp(&a.score).then(cb.cmp(ca)).then_with(|| a.label.cmp(&b.label))
        });
        all.into_iter().take(limit).map(|(c, _)| c).collect()
    }
}

/// A candidate for a street of the index: the civico `number` at `point` (kind `civico`), or the street at its
/// representative point (kind `street`; with the number asked for when that civico has no position).
fn candidate(
    index: &Index,
    hit: &StreetHit,
    score: f64,
    number: Option<String>,
    point: Option<(f64, f64)>,
) -> Candidate {
    let street = &index.streets[hit.street as usize];
    let comune = &index.comuni[street.comune as usize];
    let name = hit.name.as_deref().unwrap_or(&street.name).to_string();
    let mut label = name.clone();
    if let Some(number) = &number {
        label.push(' ');
        label.push_str(number);
    }
    if !street.localita.is_empty() {
        label.push_str(", ");
        label.push_str(&street.localita);
    }
    label.push_str(", ");
    label.push_str(&comune.name);
    let kind = if point.is_some() { MatchKind::Civico } else { MatchKind::Street };
    let (lon, lat) = point.unwrap_or(street.point);
    let note = (point.is_none() && street.point_from_comune)
        .then(|| "no civico of this street has a position: the point is the comune's".to_string());
    Candidate {
        label,
        comune: comune.name.clone(),
        istat: comune.istat.clone(),
        lon,
        lat,
        score: (score.clamp(0.0, 1.0) * 10_000.0).round() / 10_000.0,
        kind,
        street: name,
        civico: number,
        note,
    }
}

/// Forward geocoding with the index and the civici in `pool`.
pub(crate) async fn search(
    pool: &PgPool,
    index: &Index,
    text: &str,
    filter: Option<&[u32]>,
    limit: usize,
) -> Result<Vec<Candidate>> {
    let tokens = query::drop_noise(query::tokenize(text));
    if tokens.is_empty() {
        return Ok(vec![]);
    }
    let mut out = Collector::default();
    for plan in plans(index, &tokens, filter) {
        let k = if plan.number.is_some() { STREETS_FOR_CIVICO } else { limit };
        let hits = index.search(&plan.words, plan.comuni.as_deref(), k);
        if hits.is_empty() {
            continue;
        }
        let Some(number) = &plan.number else {
            for hit in &hits {
                let street = &index.streets[hit.street as usize];
                out.push((street.id, None), candidate(index, hit, hit.score, None, None), street.civici);
            }
            continue;
        };
        let ids: Vec<i64> = hits.iter().map(|h| index.streets[h.street as usize].id).collect();
        let rows = civici(pool, &ids, number).await?;
        let asked = number.display();
        let explicit = !number.may_be_a_name();
        for hit in &hits {
            let street = &index.streets[hit.street as usize];
            let rows: &[CivicoRow] = rows.get(&street.id).map_or(&[], Vec::as_slice);
            let exact: Vec<&CivicoRow> = rows.iter().filter(|r| r.is(number)).collect();
            for row in &exact {
                let point = row.lon.zip(row.lat);
                let factor = if point.is_some() { 1.0 } else { 0.9 };
                let mut c = candidate(index, hit, hit.score * factor, Some(row.display()), point);
                if point.is_none() {
                    let why = format!(
                        "civico {} has no coordinates in ANNCSU: the point is the street's",
                        row.display()
                    );
                    c.note = Some(match c.note {
                        Some(n) => format!("{why}; {n}"),
                        None => why,
                    });
                }
                out.push((street.id, Some(row.progressivo_accesso)), c, street.civici);
            }
            // Other civici with the same number (12/A, 12r when 12 was asked), real addresses all.
            for row in rows.iter().filter(|r| !r.is(number) && r.lon.is_some()) {
                let factor = match (exact.is_empty(), explicit) {
                    (false, _) => 0.85,
                    (true, false) => 0.9,
                    (true, true) => 0.7,
                };
                let mut c =
                    candidate(index, hit, hit.score * factor, Some(row.display()), row.lon.zip(row.lat));
                if exact.is_empty() {
                    c.note = Some(format!("civico {asked} not found: {} is on this street", row.display()));
                } else {
                    c.note = None;
                }
                out.push((street.id, Some(row.progressivo_accesso)), c, street.civici);
            }
            if exact.is_empty() {
                let mut c = candidate(index, hit, hit.score * 0.8, None, None);
                let why = format!("civico {asked} not found: street only");
                c.note = Some(match c.note {
                    Some(n) => format!("{why}; {n}"),
                    None => why,
                });
                out.push((street.id, None), c, street.civici);
            }
        }
    }
    Ok(out.into_sorted(limit))
}

#[cfg(test)]
mod tests {
    use super::super::index::{IndexBuilder, StreetInput};
    use super::*;

    fn index() -> Index {
        let mut b = IndexBuilder::default();
        b.add_comune("058091", "H501", Some("Roma"), None);
        b.add_comune("079160", "M208", Some("Lamezia Terme"), None);
        for (id, istat, odonimo) in
            [(1, "058091", "VIA ROMA"), (2, "079160", "VIA ROMA"), (3, "079160", "VIA SS 18")]
        {
            let (dug, denominazione) = crate::anncsu::odonimo::split(odonimo);
            b.add_street(StreetInput {
                id,
                istat: istat.into(),
                dug,
                denominazione,
                odonimo: odonimo.into(),
                point: Some((16.0, 39.0)),
                ..StreetInput::default()
            });
        }
        b.build(1)
    }

    fn readings(q: &str) -> Vec<(usize, bool, Option<Vec<u32>>)> {
        let ix = index();
        plans(&ix, &query::drop_noise(query::tokenize(q)), None)
            .into_iter()
            .map(|p| (p.words.len(), p.number.is_some(), p.comuni))
            .collect()
    }

    #[test]
    fn a_comune_at_the_end_is_a_reading_when_a_street_name_remains() {
        assert_eq!(readings("via roma"), [(2, false, None)], "`roma` is the street here");
        let lamezia = Some(vec![1]);
        assert_eq!(
            readings("via roma 3 lamezia"),
            [(4, false, None), (3, false, lamezia.clone()), (2, true, lamezia.clone())]
        );
        assert_eq!(
            readings("via roma 3, lamezia terme"),
            [(5, false, None), (3, false, lamezia.clone()), (2, true, lamezia)]
        );
        assert_eq!(readings("via roma 3"), [(3, false, None), (2, true, None)], "3 may be part of the name");
        assert_eq!(readings("via roma n. 3"), [(2, true, None)]);
    }
}
