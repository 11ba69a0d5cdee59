//! Forward geocoding: the readings of a query (with or without a comune named in it, with or without its last
//! number as the house number), the streets each finds in the index, then the civici of those streets with that
//! number, looked up in PostgreSQL with one indexed query per number asked (usually one).

use std::collections::{HashMap, HashSet};

use sqlx::PgPool;

use super::index::{Index, NameMatch, Pass, StreetHit, TypoCache, distance2};
use super::normalize::is_number;
use super::query::{self, NumberQuery, QWord, Token};
use super::{Candidate, MatchKind};
use crate::Result;
use crate::anncsu::civico::{self, ROSSO};

/// Streets whose civici are looked up for a query with a house number.
const STREETS_FOR_CIVICO: usize = 60;

/// A reading that takes a comune from a shortened name (`lamezia`) costs this much against one that takes the
/// same words as part of a street's name (`Villa Comunale` is a street before `Villa…` is a comune).
const SHORTENED_COMUNE: f64 = 0.95;

/// Most tokens of a query that are read (an Italian address has fewer than 12; the rest costs without helping).
const MAX_TOKENS: usize = 16;

/// Most readings that take a comune from the text (`lamezia, lamezia, …` is not 30 comuni).
const MAX_COMUNE_READINGS: usize = 6;

/// Most words a comune's name takes in a query (`San Giovanni in Fiore`, `Reggio nell'Emilia` with `(RE)`).
const COMUNE_WORDS: usize = 5;

/// One reading of the query.
#[derive(Debug)]
struct Plan {
    words: Vec<QWord>,
    number: Option<NumberQuery>,
    comuni: Option<Vec<u32>>,
    /// The comuni were named in the text.
    named_in_text: bool,
    /// Multiplies the scores of what this reading finds.
    factor: f64,
}

/// Where a comune may be written in the query: tokens `start..end`, and how its name may be shortened there.
fn comune_spans(tokens: &[Token]) -> Vec<(usize, usize, NameMatch)> {
    let n = tokens.len();
    let last_segment = tokens.last().map_or(0, |t| t.segment);
    let mut spans = Vec::new();
    // The end, as it is being typed: `… 12 lamez`, `…, lamezia terme (cz)`.
    for k in 1..=COMUNE_WORDS.min(n) {
        if tokens[n - k].segment == last_segment {
            spans.push((n - k, n, NameMatch::Typing));
        }
    }
    // A part between commas, or its first words: `lamezia terme, atrio addolorata 12`, `atrio addolorata 12,
    // lamezia, cz`, `…, lamezia terme centro`.
    if last_segment > 0 {
        let mut start = 0;
        for i in 1..=n {
            if i == n || tokens[i].segment != tokens[start].segment {
                spans.push((start, i, NameMatch::Words));
                if start > 0 {
                    for end in start + 1..i.min(start + COMUNE_WORDS + 1) {
                        spans.push((start, end, NameMatch::Words));
                    }
                }
                start = i;
            }
        }
    }
    // The start: `lamezia terme atrio addolorata 12`.
    for k in 1..=COMUNE_WORDS.min(n) {
        if tokens[k - 1].segment == 0 {
            spans.push((0, k, NameMatch::Words));
        }
    }
    spans
}

/// The readings of `tokens`: a comune may be written in the query (at the end, at the start, between commas, with
/// its province), the last number may be the house number or part of the name (`strada statale 18`).
fn plans(index: &Index, tokens: &[Token], filter: Option<&[u32]>) -> Vec<Plan> {
    // (tokens, comuni, named in the text, factor)
    type Reading = (Vec<Token>, Option<Vec<u32>>, bool, f64);
    let mut readings: Vec<Reading> = vec![(tokens.to_vec(), filter.map(<[u32]>::to_vec), false, 1.0)];
    let mut seen = HashSet::new();
    for (start, end, how) in comune_spans(tokens) {
        if !seen.insert((start, end)) || end - start == tokens.len() {
            continue;
        }
        let span = &tokens[start..end];
        let rest: Vec<Token> = tokens[..start].iter().chain(&tokens[end..]).cloned().collect();
        // What remains must still name a street: `via roma` is not the DUG `via` in the comune of Roma.
        if span.iter().any(|t| is_number(&t.text)) || !query::has_words(&rest) {
            continue;
        }
        let words: Vec<&str> = span.iter().map(|t| t.text.as_str()).collect();
        let mut named = index.comuni_in_text(&words, how);
        if let Some(f) = filter {
            named.retain(|(c, _)| f.contains(c));
        }
        if named.is_empty() {
            continue;
        }
        let factor = if named.iter().all(|(_, exact)| *exact) { 1.0 } else { SHORTENED_COMUNE };
        readings.push((rest, Some(named.into_iter().map(|(c, _)| c).collect()), true, factor));
        if readings.len() > MAX_COMUNE_READINGS {
            break;
        }
    }
    let mut out = Vec::new();
    for (part, comuni, named_in_text, factor) in readings {
        let plan = |words: Vec<QWord>, number: Option<NumberQuery>, comuni: Option<Vec<u32>>| Plan {
            words,
            number,
            comuni,
            named_in_text,
            factor,
        };
        match query::house_number(&part) {
            Some((number, used)) => {
                if number.may_be_a_name() {
                    out.push(plan(query::words(&part), None, comuni.clone()));
                }
                let words = query::words(&part[..part.len() - used]);
                out.push(plan(words, Some(number), comuni));
            }
            None => {
                // A house number followed by other words (`atrio addolorata 12 xyzzy`, a comune not loaded): the
                // number is read there, the words after it as words of the street, which cost if they match
                // nothing.
                if let Some((number, start, end)) = inner_number(&part) {
                    let words: Vec<Token> = part[..start].iter().chain(&part[end..]).cloned().collect();
                    let words = query::words(&words);
                    out.push(plan(words, Some(number), comuni.clone()));
                }
                out.push(plan(query::words(&part), None, comuni));
            }
        }
    }
    out
}

/// The house number inside `tokens` (not at the end), when there is one after some words: the number and the
/// tokens `start..end` it takes (`12`, `n. 12`, `12 bis`).
fn inner_number(tokens: &[Token]) -> Option<(NumberQuery, usize, usize)> {
    let last = tokens.iter().rposition(|t| is_number(&t.text))?;
    // The longest reading that ends the number there: `12 bis` before `12`.
    (last + 1..=(last + 3).min(tokens.len() - 1)).rev().find_map(|end| {
        let (number, used) = query::house_number(&tokens[..end])?;
        (end - used <= last).then_some((number, end - used, end))
    })
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

/// What the civici query asks PostgreSQL: a number (whatever its exponent and colour), an access with no
/// number, or a kilometric one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Lookup {
    Numero(i32),
    Snc,
    Metrico,
}

impl Lookup {
    fn of(q: &NumberQuery) -> Lookup {
        match q {
            NumberQuery::Civico { numero, .. } => Lookup::Numero(*numero),
            NumberQuery::Snc => Lookup::Snc,
            NumberQuery::Metrico(_) => Lookup::Metrico,
        }
    }
}

/// The civici of `streets` that `lookup` asks for, by street.
async fn civici(pool: &PgPool, streets: &[i64], lookup: Lookup) -> Result<HashMap<i64, Vec<CivicoRow>>> {
    let select = "select progressivo_nazionale, progressivo_accesso, numero, esponente, specificita, metrico,
                         st_x(geom) as lon, st_y(geom) as lat
                  from toponymy.civico where progressivo_nazionale = any($1)";
    let rows: Vec<CivicoRow> = match lookup {
        Lookup::Numero(numero) => {
            sqlx::query_as(&format!(
                "{select} and numero = $2 order by esponente, specificita, progressivo_accesso"
            ))
            .bind(streets)
            .bind(numero)
            .fetch_all(pool)
            .await?
        }
        Lookup::Snc => {
            sqlx::query_as(&format!(
                "{select} and numero is null and metrico is null order by progressivo_accesso"
            ))
            .bind(streets)
            .fetch_all(pool)
            .await?
        }
        Lookup::Metrico => {
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

    /// Best first: score, then nearness to `near`, then the street's civici, then the label.
    fn into_sorted(self, limit: usize, near: Option<(f64, f64)>) -> Vec<Candidate> {
        let mut all: Vec<(Candidate, u32, f64)> = self
            .best
            .into_values()
            .map(|(c, civici)| {
                let d = near.map_or(0.0, |p| distance2(p, (c.lon, c.lat)));
                (c, civici, d)
            })
            .collect();
        all.sort_by(|(a, ca, da), (b, cb, db)| {
            b.score
                .total_cmp(&a.score)
                .then(da.total_cmp(db))
                .then(cb.cmp(ca))
                .then_with(|| a.label.cmp(&b.label))
        });
        all.into_iter().take(limit).map(|(c, _, _)| c).collect()
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

/// Forward geocoding with the index and the civici in `pool`; among equal scores, nearer `near` (WGS84
/// longitude, latitude) first.
pub(crate) async fn search(
    pool: &PgPool,
    index: &Index,
    text: &str,
    filter: Option<&[u32]>,
    limit: usize,
    near: Option<(f64, f64)>,
) -> Result<Vec<Candidate>> {
    let mut tokens = query::drop_noise(query::tokenize(text));
    tokens.truncate(MAX_TOKENS);
    if tokens.is_empty() {
        return Ok(vec![]);
    }
    let mut out = Collector::default();
    // The streets of every reading first (in memory), then the civici of all of them, one query per number.
    // Every reading strictly; typos and left-out words only when no reading found anything.
    let plans = plans(index, &tokens, filter);
    let typos = TypoCache::default();
    let mut found: Vec<(&Plan, Vec<StreetHit>)> = Vec::new();
    for pass in [Pass::Strict, Pass::Typos, Pass::Partial] {
        for plan in &plans {
            let k = if plan.number.is_some() { STREETS_FOR_CIVICO } else { limit };
            let mut hits = index.search_pass(&plan.words, plan.comuni.as_deref(), k, near, pass, &typos);
            for hit in &mut hits {
                hit.score *= plan.factor;
            }
            if !hits.is_empty() {
                found.push((plan, hits));
            }
        }
        if !found.is_empty() {
            break;
        }
    }
    // A comune named in the text filters, when the readings that take it so match at least as well as the others
    // (`villa comunale 3` is a street before it is `Villa…`, a comune, and `comunale 3`).
    let best = |named: bool| {
        found
            .iter()
            .filter(|(p, _)| p.named_in_text == named)
            .flat_map(|(_, h)| h)
            .map(|h| h.score)
            .fold(0.0, f64::max)
    };
    if found.iter().any(|(p, _)| p.named_in_text) && best(true) >= best(false) {
        found.retain(|(p, _)| p.named_in_text);
    }
    let mut wanted: Vec<(Lookup, Vec<i64>)> = Vec::new();
    for (plan, hits) in &found {
        let Some(number) = &plan.number else { continue };
        let lookup = Lookup::of(number);
        let ids = hits.iter().map(|h| index.streets[h.street as usize].id);
        match wanted.iter_mut().find(|(l, _)| *l == lookup) {
            Some((_, known)) => known.extend(ids),
            None => wanted.push((lookup, ids.collect())),
        }
    }
    let mut rows_by_lookup: HashMap<Lookup, HashMap<i64, Vec<CivicoRow>>> = HashMap::new();
    for (lookup, mut ids) in wanted {
        ids.sort_unstable();
        ids.dedup();
        rows_by_lookup.insert(lookup, civici(pool, &ids, lookup).await?);
    }
    let no_rows = HashMap::new();
    for (plan, hits) in &found {
        let Some(number) = &plan.number else {
            for hit in hits {
                let street = &index.streets[hit.street as usize];
                out.push((street.id, None), candidate(index, hit, hit.score, None, None), street.civici);
            }
            continue;
        };
        let rows = rows_by_lookup.get(&Lookup::of(number)).unwrap_or(&no_rows);
        let asked = number.display();
        let explicit = !number.may_be_a_name();
        for hit in hits {
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
    Ok(out.into_sorted(limit, near))
}

#[cfg(test)]
mod tests {
    use super::super::index::{ComuneInput, IndexBuilder, StreetInput};
    use super::*;

    fn index() -> Index {
        let mut b = IndexBuilder::default();
        b.add_comune("058091", "H501", Some("Roma"), None);
        b.add_comune_with(ComuneInput {
            istat: "079160".into(),
            belfiore: "M208".into(),
            names: vec!["Lamezia Terme".into()],
            province: Some("CZ".into()),
            point: None,
        });
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
            [(3, true, None), (4, false, None), (3, false, lamezia.clone()), (2, true, lamezia.clone())],
            "3 may be the number before a word that is not the street's"
        );
        assert_eq!(
            readings("via roma 3, lamezia terme"),
            [
                (4, true, None),
                (5, false, None),
                (3, false, lamezia.clone()),
                (2, true, lamezia.clone()),
                // `lamezia` as the comune, `terme` a word of the street
                (3, true, lamezia.clone()),
                (4, false, lamezia)
            ]
        );
        assert_eq!(readings("via roma 3"), [(3, false, None), (2, true, None)], "3 may be part of the name");
        assert_eq!(readings("via roma n. 3"), [(2, true, None)]);
    }

    #[test]
    fn a_comune_at_the_start_between_commas_or_with_its_province_is_a_reading() {
        let lamezia = Some(vec![1]);
        // The readings in Lamezia of `via roma 3`: with the number, and with `3` as part of the name.
        let reads_via_roma_3_in_lamezia = |q: &str| {
            let found: Vec<(usize, bool)> =
                readings(q).into_iter().filter(|(_, _, c)| *c == lamezia).map(|(w, n, _)| (w, n)).collect();
            found.contains(&(2, true)) && found.contains(&(3, false))
        };
        for q in [
            "lamezia terme via roma 3",
            "lamezia via roma 3",
            "lamezia terme, via roma 3",
            "via roma 3, lamezia terme (CZ)",
            "via roma 3 lamezia cz",
            "via roma 3, lamez",
        ] {
            assert!(reads_via_roma_3_in_lamezia(q), "{q}: {:?}", readings(q));
        }
        assert!(!reads_via_roma_3_in_lamezia("lamez via roma 3"), "shortened as typed only at the end");
        assert!(readings("via lamezia").iter().all(|(_, _, c)| c.is_none()), "a DUG alone is no street");
    }

    #[test]
    fn a_wrong_province_still_names_the_comune_but_not_wholly() {
        let ix = index();
        assert_eq!(ix.comuni_in_text(&["lamezia", "terme"], NameMatch::Exact), [(1, true)]);
        assert_eq!(ix.comuni_in_text(&["lamezia", "terme", "ge"], NameMatch::Exact), [(1, false)]);
        assert_eq!(ix.comuni_in_text(&["lamezia"], NameMatch::Words), [(1, false)]);
        assert_eq!(ix.comuni_in_text(&["lamezia"], NameMatch::Exact), []);
        assert_eq!(ix.comuni_in_text(&["lam"], NameMatch::Typing), [], "four letters at least");
    }
}
