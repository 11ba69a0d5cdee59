//! The in-memory street index. Every street name (and second-language name) is a list of words; a sorted
//! vocabulary maps each word to the names that contain it (postings), and a query word finds its terms by exact
//! lookup, by prefix (a contiguous range of the sorted vocabulary) or, when neither finds anything, by a bounded
//! edit distance. Names are grouped by comune, so that a comune filter is a range of name ids.
//!
//! Civici are not held here (they stay in PostgreSQL and are looked up by street and number with one indexed
//! query): the index costs about 250 bytes per street, some 10 MB for the 40,000 streets of a million civici.

use std::ops::Range;

use super::normalize;
use super::query::{QWord, Role};

mod build;

pub(crate) use build::{ComuneInput, IndexBuilder, StreetInput, fold_comune};

/// A comune known to the index.
#[derive(Debug, Clone)]
pub(crate) struct ComuneEntry {
    pub istat: String,
    pub belfiore: String,
    /// The name shown: ISTAT's (`Bolzano/Bozen`), else the boundary's; the ISTAT code when neither is loaded.
    pub name: String,
    /// Every name folded (apostrophes, hyphens and slashes as spaces): `bolzano bozen`, `bolzano`, `bozen`.
    pub folded: Vec<String>,
    /// The province's two letters in lower case (`cz`), empty when unknown.
    pub province: String,
    /// A point inside the comune (`core.comune`), for the streets none of whose civici has a position.
    pub point: Option<(f64, f64)>,
}

/// A street as the index returns it.
#[derive(Debug, Clone)]
pub(crate) struct StreetEntry {
    pub id: i64,
    pub comune: u32,
    /// Display name of the odonimo (`Via Giuseppe Garibaldi`).
    pub name: Box<str>,
    /// Display name of the locality, empty when none or already in the name.
    pub localita: Box<str>,
    /// The representative point, WGS84.
    pub point: (f64, f64),
    /// No civico of the street has a position: the point is the comune's.
    pub point_from_comune: bool,
    pub civici: u32,
}

/// A word of a name: its terms (the word and its aliases) and the plain words it covers, as bits.
#[derive(Debug, Clone, Copy)]
struct Slot {
    terms: u32,
    n_terms: u8,
    /// A word of the street's DUG.
    dug: bool,
    bits: u64,
}

/// A name of a street (the odonimo, or a second-language name).
#[derive(Debug, Clone)]
struct Entry {
    street: u32,
    slots: Range<u32>,
    /// Bits of the words that should be matched for full coverage (the denomination's, not stop words).
    denom_mask: u64,
    /// Display name when it is not the street's (a second-language name).
    name: Option<Box<str>>,
}

/// A street that matched, with its score in [0, 1] and the name that matched.
#[derive(Debug, Clone)]
pub(crate) struct StreetHit {
    pub street: u32,
    pub score: f64,
    /// The second-language name that matched, when it was not the odonimo.
    pub name: Option<Box<str>>,
}

/// The index. Immutable once built; a reload builds a new one.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub comuni: Vec<ComuneEntry>,
    /// Every folded name of every comune, sorted, with the comune.
    comune_names: Vec<(Box<str>, u32)>,
    pub streets: Vec<StreetEntry>,
    entries: Vec<Entry>,
    /// Entry ids of each comune.
    comune_entries: Vec<Range<u32>>,
    slots: Vec<Slot>,
    slot_terms: Vec<u32>,
    vocab: Vec<Box<str>>,
    vocab_chars: Vec<u8>,
    postings: Vec<Box<[u32]>>,
    /// `postings_before[i]`: postings of the terms before `i` (prefix ranges are estimated in O(1)).
    postings_before: Vec<u64>,
    /// `toponymy.revision` the index was built from.
    pub revision: i64,
    /// `core.comune_revision` the comuni were read at.
    pub comuni_revision: i64,
}

/// How a comune written in a query may be shortened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameMatch {
    /// The whole name (`lamezia terme`).
    Exact,
    /// Its first words (`lamezia`): a comune written before the street, or between commas.
    Words,
    /// Its beginning as it is being typed, at least 4 letters (`lamez`): the end of the query.
    Typing,
}

/// A Belfiore (cadastral) code: a letter and three digits (`D969`), `Z` and three digits abroad.
fn is_belfiore(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 4 && b[0].is_ascii_alphabetic() && b[1..].iter().all(u8::is_ascii_digit)
}

/// How hard a search tries. A query runs every reading in one pass, and the next pass only when none found
/// anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// Words as typed, and typos only for the words that find nothing as typed (`garibladi`).
    Strict,
    /// Typos for every word (`tommaso` is a word, but in `via niccolo tommaso` a typo of `tommaseo`).
    Typos,
    /// Streets that have some of the words, each missing word at a cost: words that name other streets but not
    /// this one (`atrio addolorata garibaldi 12`, `…, lamezia terme centro`).
    Partial,
}

/// The typos of each word of one query, computed once for all its readings and passes (a scan of the vocabulary
/// each).
#[derive(Debug, Default)]
pub(crate) struct TypoCache(std::cell::RefCell<std::collections::HashMap<String, Vec<(u32, f64)>>>);

impl TypoCache {
    fn get(&self, index: &Index, word: &str) -> Vec<(u32, f64)> {
        if let Some(known) = self.0.borrow().get(word) {
            return known.clone();
        }
        let found = index.typos(word);
        self.0.borrow_mut().insert(word.to_string(), found.clone());
        found
    }
}

/// The cost of a query word that matches nothing, or that a street lacks (a score is multiplied by it).
pub(crate) const UNKNOWN_WORD: f64 = 0.8;

/// Squared distance between two WGS84 points on a local plane (degrees of latitude): for ordering only.
pub(crate) fn distance2(a: (f64, f64), b: (f64, f64)) -> f64 {
    let dx = (a.0 - b.0) * a.1.to_radians().cos();
    let dy = a.1 - b.1;
    dx * dx + dy * dy
}

/// How one query word matches terms of the vocabulary.
#[derive(Debug, Clone)]
struct Matcher {
    role: Role,
    exact: Vec<u32>,
    prefix: Range<u32>,
    chars: usize,
    typo: Vec<(u32, f64)>,
    estimate: u64,
    /// The word is a number.
    number: bool,
}

impl Matcher {
    fn score(&self, term: u32, term_chars: u8) -> f64 {
        if self.exact.contains(&term) {
            1.0
        } else if self.prefix.contains(&term) {
            0.6 + 0.4 * (self.chars as f64 / f64::from(term_chars.max(1))).min(1.0)
        } else {
            self.typo.binary_search_by_key(&term, |(t, _)| *t).map_or(0.0, |i| self.typo[i].1)
        }
    }

    /// The terms this word finds.
    fn terms(&self) -> impl Iterator<Item = u32> + '_ {
        self.exact.iter().copied().chain(self.prefix.clone()).chain(self.typo.iter().map(|(t, _)| *t))
    }
}

impl Index {
    /// Streets in the index.
    pub fn len(&self) -> usize {
        self.streets.len()
    }

    /// Distinct terms.
    pub fn terms(&self) -> usize {
        self.vocab.len()
    }

    /// Heap bytes the index holds, roughly.
    pub fn approx_bytes(&self) -> usize {
        let strings: usize = self.streets.iter().map(|s| s.name.len() + s.localita.len() + 32).sum::<usize>()
            + self.vocab.iter().map(|t| t.len() + 16).sum::<usize>();
        strings
            + self.streets.len() * std::mem::size_of::<StreetEntry>()
            + self.entries.len() * std::mem::size_of::<Entry>()
            + self.slots.len() * std::mem::size_of::<Slot>()
            + self.slot_terms.len() * 4
            + self.postings.iter().map(|p| p.len() * 4 + 16).sum::<usize>()
            + self.postings_before.len() * 8
            + self.vocab_chars.len()
    }

    /// The comuni a filter names: an ISTAT code (`079160`, `79160`), a Belfiore code (`M208`) or a name in any of
    /// its languages (`Lamezia Terme`, `Bozen`, any case and accents), optionally with the province (`Lamezia
    /// Terme (CZ)`). `None` when it names none.
    pub fn resolve_comune(&self, filter: &str) -> Option<Vec<u32>> {
        let f = filter.trim();
        let ids: Vec<u32> = if !f.is_empty() && f.len() <= 6 && f.chars().all(|c| c.is_ascii_digit()) {
            let istat = format!("{f:0>6}");
            self.matching_comuni(|c| c.istat == istat)
        } else {
            let code = f.to_ascii_uppercase();
            let belfiore =
                if is_belfiore(&code) { self.matching_comuni(|c| c.belfiore == code) } else { vec![] };
            if belfiore.is_empty() {
                let folded = fold_comune(f);
                let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
                self.comuni_in_text(&words, NameMatch::Exact).into_iter().map(|(c, _)| c).collect()
            } else {
                belfiore
            }
        };
        (!ids.is_empty()).then_some(ids)
    }

    /// The comuni whose name is `text` or starts with it (at least 4 letters), for a comune written in the
    /// query (`via roma 3, lamezia`).
    #[cfg(test)]
    pub fn comuni_named(&self, text: &str) -> Vec<u32> {
        let folded = fold_comune(text);
        let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
        self.comuni_in_text(&words, NameMatch::Typing).into_iter().map(|(c, _)| c).collect()
    }

    /// The comuni that folded `words` name, as `how` allows, each with whether the name was whole. A last word
    /// of two letters may be the province (`lamezia terme cz`, written `Lamezia Terme (CZ)`): then the comuni
    /// named by the other words in that province (in another one, not whole, when none is in that province).
    pub fn comuni_in_text(&self, words: &[&str], how: NameMatch) -> Vec<(u32, bool)> {
        let found = self.comuni_by_name(&words.join(" "), how);
        if !found.is_empty() || words.len() < 2 {
            return found;
        }
        let (last, name) = words.split_last().unwrap_or((&"", &[]));
        if !(last.len() == 2 && last.bytes().all(|b| b.is_ascii_alphabetic())) {
            return vec![];
        }
        let found = self.comuni_by_name(&name.join(" "), how);
        let in_province: Vec<(u32, bool)> =
            found.iter().copied().filter(|(c, _)| self.comuni[*c as usize].province == *last).collect();
        if in_province.is_empty() {
            // The name, in another province than written: the name is more likely right than the two letters.
            found.into_iter().map(|(c, _)| (c, false)).collect()
        } else {
            in_province
        }
    }

    fn comuni_by_name(&self, folded: &str, how: NameMatch) -> Vec<(u32, bool)> {
        if folded.is_empty() {
            return vec![];
        }
        let range = |prefix: &str| {
            let lo = self.comune_names.partition_point(|(n, _)| **n < *prefix);
            let hi = lo + self.comune_names[lo..].partition_point(|(n, _)| n.starts_with(prefix));
            &self.comune_names[lo..hi]
        };
        fn add(out: &mut Vec<(u32, bool)>, c: u32, exact: bool) {
            match out.iter_mut().find(|(o, _)| *o == c) {
                Some(known) => known.1 |= exact,
                None => out.push((c, exact)),
            }
        }
        let mut out: Vec<(u32, bool)> = Vec::new();
        for (name, c) in range(folded) {
            if **name == *folded {
                add(&mut out, *c, true);
            }
        }
        if !out.is_empty() {
            return out;
        }
        let prefix = match how {
            NameMatch::Exact => return out,
            NameMatch::Words => format!("{folded} "),
            NameMatch::Typing if folded.len() >= 4 => folded.to_string(),
            NameMatch::Typing => return out,
        };
        for (_, c) in range(&prefix) {
            add(&mut out, *c, false);
        }
        out
    }

    fn matching_comuni(&self, f: impl Fn(&ComuneEntry) -> bool) -> Vec<u32> {
        self.comuni.iter().enumerate().filter(|(_, c)| f(c)).map(|(i, _)| i as u32).collect()
    }

    fn lookup(&self, term: &str) -> Option<u32> {
        self.vocab.binary_search_by(|t| (**t).cmp(term)).ok().map(|i| i as u32)
    }

    fn prefix_range(&self, prefix: &str) -> Range<u32> {
        let lo = self.vocab.partition_point(|t| **t < *prefix);
        let hi = lo + self.vocab[lo..].partition_point(|t| t.starts_with(prefix));
        lo as u32..hi as u32
    }

    fn matcher(&self, w: &QWord, typos: bool, cache: &TypoCache) -> Matcher {
        let mut exact: Vec<u32> =
            std::iter::once(&w.literal).chain(&w.alts).filter_map(|t| self.lookup(t)).collect();
        exact.sort_unstable();
        exact.dedup();
        let prefix = if w.literal.is_empty() { 0..0 } else { self.prefix_range(&w.literal) };
        let chars = w.literal.chars().count();
        let typo = if typos || (exact.is_empty() && prefix.is_empty()) {
            cache.get(self, &w.literal)
        } else {
            vec![]
        };
        let mut estimate =
            self.postings_before[prefix.end as usize] - self.postings_before[prefix.start as usize];
        for t in exact.iter().chain(typo.iter().map(|(t, _)| t)) {
            estimate += self.postings[*t as usize].len() as u64;
        }
        Matcher {
            role: w.role,
            exact,
            prefix,
            chars,
            typo,
            estimate,
            number: normalize::is_number(&w.literal),
        }
    }

    /// Terms within a small edit distance of `word` (1 from 4 letters, 2 from 8), or whose beginning is within 1
    /// of it (a typo in a word still being typed), by term id. Words of digits have no typos.
    fn typos(&self, word: &str) -> Vec<(u32, f64)> {
        let q = word.as_bytes();
        if q.len() < 4 || !word.chars().all(char::is_alphabetic) {
            return vec![];
        }
        let max = if q.len() >= 8 { 2 } else { 1 };
        let mut out = Vec::new();
        for (i, t) in self.vocab.iter().enumerate() {
            let t = t.as_bytes();
            if t.len() + max < q.len() || t.len() < 2 {
                continue;
            }
            // A typo rarely hits both of the first two letters.
            if t[0] != q[0] && t[1] != q[1] && !(t[0] == q[1] && t[1] == q[0]) {
                continue;
            }
            let mut best = 0.0f64;
            if t.len().abs_diff(q.len()) <= max {
                let d = osa(q, t, max);
                if d <= max {
                    best = if d == 1 { 0.8 } else { 0.65 };
                }
            }
            if best == 0.0 && t.len() > q.len() {
                for l in [q.len() - 1, q.len(), q.len() + 1] {
                    if l <= t.len() && osa(q, &t[..l], 1) <= 1 {
                        best = 0.55;
                        break;
                    }
                }
            }
            if best > 0.0 {
                out.push((i as u32, best));
            }
        }
        out
    }

    /// The streets best matching `words`, at most `k`, best first; `comuni` restricts them. Among equal scores,
    /// the street nearer `near` (WGS84 longitude, latitude) first when given, then the one with more civici.
    /// Every [`Pass`] in turn until one finds something.
    #[cfg(test)]
    pub fn search(
        &self,
        words: &[QWord],
        comuni: Option<&[u32]>,
        k: usize,
        near: Option<(f64, f64)>,
    ) -> Vec<StreetHit> {
        [Pass::Strict, Pass::Typos, Pass::Partial]
            .into_iter()
            .map(|pass| self.search_pass(words, comuni, k, near, pass, &TypoCache::default()))
            .find(|found| !found.is_empty())
            .unwrap_or_default()
    }

    /// The streets best matching `words` in one [`Pass`], at most `k`, best first; `comuni` restricts them.
    /// Among equal scores, the street nearer `near` (WGS84 longitude, latitude) first when given, then the one
    /// with more civici.
    ///
    /// A word that matches nothing is left out at a cost ([`UNKNOWN_WORD`]), unless it is a number (`via roma 999`
    /// is not `via roma`) or no other word is left.
    pub fn search_pass(
        &self,
        words: &[QWord],
        comuni: Option<&[u32]>,
        k: usize,
        near: Option<(f64, f64)>,
        pass: Pass,
        cache: &TypoCache,
    ) -> Vec<StreetHit> {
        // A number has no typos: when one matches no name, there is nothing to retry.
        let number_missing = || {
            words.iter().any(|w| {
                w.role == Role::Content
                    && normalize::is_number(&w.literal)
                    && self.prefix_range(&w.literal).is_empty()
            })
        };
        if pass != Pass::Strict && number_missing() {
            return vec![];
        }
        let matchers: Vec<Matcher> =
            words.iter().map(|w| self.matcher(w, pass != Pass::Strict, cache)).collect();
        self.search_with(matchers, comuni, k, near, pass == Pass::Partial)
    }

    /// Best first: score, then nearness to `near`, then civici, then the street's place in the index.
    fn order(&self, near: Option<(f64, f64)>, a: (f64, u32), b: (f64, u32)) -> std::cmp::Ordering {
        let street = |s: u32| &self.streets[s as usize];
        b.0.total_cmp(&a.0)
            .then_with(|| match near {
                Some(p) => distance2(p, street(a.1).point).total_cmp(&distance2(p, street(b.1).point)),
                None => std::cmp::Ordering::Equal,
            })
            .then_with(|| street(b.1).civici.cmp(&street(a.1).civici))
            .then(a.1.cmp(&b.1))
    }

    /// The streets for `matchers`; `partial`: streets with only some of the content words too, each missing
    /// word at a cost (only when there are several).
    fn search_with(
        &self,
        mut matchers: Vec<Matcher>,
        comuni: Option<&[u32]>,
        k: usize,
        near: Option<(f64, f64)>,
        partial: bool,
    ) -> Vec<StreetHit> {
        // Words that match nothing are left out, each at a cost; numbers never are.
        let unknown = |m: &Matcher| m.role == Role::Content && m.estimate == 0;
        if matchers.iter().any(|m| unknown(m) && m.number) {
            return vec![];
        }
        let unknowns = matchers.iter().filter(|m| unknown(m)).count();
        let penalty = UNKNOWN_WORD.powi(unknowns as i32);
        if unknowns > 0 {
            matchers.retain(|m| !unknown(m));
            if !matchers.iter().any(|m| m.role == Role::Content) {
                return vec![];
            }
        }
        let generators: Vec<&Matcher> = if partial {
            // Every content word finds candidates; a single one is what the other passes did.
            let content: Vec<&Matcher> = matchers.iter().filter(|m| m.role == Role::Content).collect();
            if content.len() < 2 {
                return vec![];
            }
            content
        } else {
            let generator =
                matchers.iter().filter(|m| m.role == Role::Content).min_by_key(|m| m.estimate).or_else(
                    || {
                        matchers
                            .iter()
                            .filter(|m| m.role == Role::Dug && m.estimate > 0)
                            .min_by_key(|m| m.estimate)
                    },
                );
            let Some(generator) = generator else { return vec![] };
            vec![generator]
        };

        let ranges: Vec<Range<u32>> = match comuni {
            Some(ids) => ids.iter().map(|&c| self.comune_entries[c as usize].clone()).collect(),
            None => std::iter::once(0..self.entries.len() as u32).collect(),
        };
        let mut candidates: Vec<u32> = Vec::new();
        for term in generators.iter().flat_map(|g| g.terms()) {
            let p = &self.postings[term as usize];
            for r in &ranges {
                let lo = p.partition_point(|&e| e < r.start);
                let hi = p.partition_point(|&e| e < r.end);
                candidates.extend_from_slice(&p[lo..hi]);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();

        let mut scored: Vec<(f64, u32)> = candidates
            .into_iter()
            .filter_map(|e| self.score(e, &matchers, partial).map(|s| (s * penalty, e)))
            .collect();
        let street_of = |e: u32| self.entries[e as usize].street;
        let order = |a: &(f64, u32), b: &(f64, u32)| {
            self.order(near, (a.0, street_of(a.1)), (b.0, street_of(b.1))).then(a.1.cmp(&b.1))
        };
        // Only the best few need sorting (second-language names may repeat a street: keep some spare).
        let wanted = (2 * k + 8).min(scored.len());
        if wanted > 0 && scored.len() > wanted {
            scored.select_nth_unstable_by(wanted - 1, order);
            scored.truncate(wanted);
        }
        scored.sort_unstable_by(order);
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(k);
        for (score, e) in scored {
            let entry = &self.entries[e as usize];
            if seen.insert(entry.street) {
                out.push(StreetHit { street: entry.street, score, name: entry.name.clone() });
                if out.len() == k {
                    break;
                }
            }
        }
        out
    }

    /// The best score of a query word over the slots `keep` accepts, and the bits of that slot.
    fn best_slot(&self, m: &Matcher, slots: &[Slot], keep: impl Fn(&Slot) -> bool) -> (f64, u64) {
        let mut best = 0.0f64;
        let mut bits = 0u64;
        for slot in slots.iter().filter(|s| keep(s)) {
            let terms = &self.slot_terms[slot.terms as usize..slot.terms as usize + slot.n_terms as usize];
            for &t in terms {
                let s = m.score(t, self.vocab_chars[t as usize]);
                if s > best {
                    best = s;
                    bits = slot.bits;
                }
            }
        }
        (best, bits)
    }

    /// The score of a name for the query words, `None` when a content word is missing (unless `partial`: then
    /// each missing one costs [`UNKNOWN_WORD`]).
    fn score(&self, e: u32, matchers: &[Matcher], partial: bool) -> Option<f64> {
        let entry = &self.entries[e as usize];
        let slots = &self.slots[entry.slots.start as usize..entry.slots.end as usize];
        let mut sum = 0.0;
        let mut n = 0u32;
        let mut matched = 0u64;
        let mut dug_factor = 1.0;
        let mut stop_factor = 1.0;
        let mut missing = 0i32;
        let mut content = 0u32;
        let has_dug = slots.iter().any(|s| s.dug);
        for m in matchers {
            // The DUG of the query is compared with the street's DUG (`via garibaldi` is not `Vico I di Via
            // Garibaldi`), other words with every word.
            let (mut best, mut bits) = self.best_slot(m, slots, |s| !has_dug || m.role != Role::Dug || s.dug);
            if m.role == Role::Dug && best == 0.0 && has_dug {
                let (_, other_bits) = self.best_slot(m, slots, |s| !s.dug);
                matched |= other_bits;
                best = 0.0;
                bits = 0;
            }
            match m.role {
                Role::Content => {
                    if best == 0.0 && partial {
                        missing += 1;
                        continue;
                    }
                    if best == 0.0 {
                        return None;
                    }
                    sum += best;
                    n += 1;
                    content += 1;
                    matched |= bits;
                }
                Role::Dug => {
                    if best == 0.0 {
                        dug_factor = 0.8;
                    } else {
                        sum += best;
                        n += 1;
                        matched |= bits;
                    }
                }
                // A preposition that the name does not have costs a little (`della chiesa` is not `dalla chiesa`).
                Role::Stop if best == 0.0 => stop_factor *= 0.97,
                Role::Stop => matched |= bits,
            }
        }
        if n == 0 || (partial && content == 0) {
            return None;
        }
        let coverage = if entry.denom_mask == 0 {
            1.0
        } else {
            f64::from((matched & entry.denom_mask).count_ones()) / f64::from(entry.denom_mask.count_ones())
        };
        let street = &self.streets[entry.street as usize];
        let located = if street.point_from_comune { 0.9 } else { 1.0 };
        let missing_factor = UNKNOWN_WORD.powi(missing);
        Some(
            sum / f64::from(n)
                * (0.75 + 0.25 * coverage)
                * dug_factor
                * stop_factor
                * located
                * missing_factor,
        )
    }
}

/// Optimal string alignment distance (Levenshtein with transpositions), giving up above `max`.
fn osa(a: &[u8], b: &[u8], max: usize) -> usize {
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    let n = b.len();
    let mut prev2 = vec![0usize; n + 1];
    let mut prev: Vec<usize> = (0..=n).collect();
    let mut cur = vec![0usize; n + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=n {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return max + 1;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[n]
}

#[cfg(test)]
mod tests {
    use super::super::query::{tokenize, words};
    use super::*;

    fn index() -> Index {
        let mut b = IndexBuilder::default();
        b.add_comune("079160", "M208", Some("Lamezia Terme"), None);
        b.add_comune("010025", "D969", Some("Genova"), Some((8.9, 44.4)));
        let streets = [
            ("079160", "VIA GIUSEPPE GARIBALDI", 40),
            ("079160", "PIAZZA GIUSEPPE GARIBALDI", 10),
            ("079160", "VIA MASSIMO D'AZEGLIO", 12),
            ("079160", "VIA IV NOVEMBRE", 30),
            ("079160", "LARGHETTO SANT'ANTONIO", 3),
            ("079160", "VIA XX SETTEMBRE", 5),
            ("010025", "VIA XX SETTEMBRE", 300),
            ("010025", "VIA GARIBALDI", 20),
            ("079160", "VICO PRIMO DI VIA GARIBALDI", 35),
        ];
        for (i, (istat, odonimo, civici)) in streets.iter().enumerate() {
            let (dug, denominazione) = crate::anncsu::odonimo::split(odonimo);
            b.add_street(StreetInput {
                id: i as i64 + 1,
                istat: istat.to_string(),
                dug,
                denominazione,
                odonimo: odonimo.to_string(),
                point: Some((16.3, 38.9)),
                civici: *civici,
                ..StreetInput::default()
            });
        }
        b.build(1)
    }

    fn find(index: &Index, q: &str, comune: Option<&str>) -> Vec<String> {
        let filter = comune.map(|c| index.resolve_comune(c).unwrap());
        index
            .search(&words(&tokenize(q)), filter.as_deref(), 5, None)
            .into_iter()
            .map(|h| {
                let s = &index.streets[h.street as usize];
                format!("{} ({})", s.name, index.comuni[s.comune as usize].name)
            })
            .collect()
    }

    #[test]
    fn osa_counts_transpositions_as_one_edit() {
        assert_eq!(osa(b"garibaldi", b"garibaldi", 2), 0);
        assert_eq!(osa(b"gairbaldi", b"garibaldi", 2), 1);
        assert_eq!(osa(b"garibldi", b"garibaldi", 2), 1);
        assert_eq!(osa(b"grbld", b"garibaldi", 2), 3);
    }

    #[test]
    fn prefixes_typos_abbreviations_and_numerals_find_the_street() {
        let ix = index();
        assert_eq!(find(&ix, "via garib", Some("079160"))[0], "Via Giuseppe Garibaldi (Lamezia Terme)");
        assert_eq!(find(&ix, "via garibaldi", Some("079160"))[0], "Via Giuseppe Garibaldi (Lamezia Terme)");
        assert_eq!(
            find(&ix, "vico garibaldi", Some("079160"))[0],
            "Vico Primo di Via Garibaldi (Lamezia Terme)"
        );
        assert_eq!(find(&ix, "vico 1 via garibaldi", None)[0], "Vico Primo di Via Garibaldi (Lamezia Terme)");
        assert_eq!(
            find(&ix, "p.zza garibaldi", Some("M208"))[0],
            "Piazza Giuseppe Garibaldi (Lamezia Terme)"
        );
        assert_eq!(
            find(&ix, "via garibladi", Some("lamezia terme"))[0],
            "Via Giuseppe Garibaldi (Lamezia Terme)"
        );
        assert_eq!(find(&ix, "dazeglio", None)[0], "Via Massimo d'Azeglio (Lamezia Terme)");
        assert_eq!(find(&ix, "D’AZEGLIO", None)[0], "Via Massimo d'Azeglio (Lamezia Terme)");
        assert_eq!(find(&ix, "via 4 novembre", None)[0], "Via IV Novembre (Lamezia Terme)");
        assert_eq!(find(&ix, "s. antonio", None)[0], "Larghetto Sant'Antonio (Lamezia Terme)");
        assert_eq!(find(&ix, "san antonio", None)[0], "Larghetto Sant'Antonio (Lamezia Terme)");
        assert_eq!(find(&ix, "santantonio", None)[0], "Larghetto Sant'Antonio (Lamezia Terme)");
        assert_eq!(find(&ix, "via 20 settembre", Some("Genova"))[0], "Via XX Settembre (Genova)");
        // Equal matches: the street with more civici first; the exact name before a longer one.
        assert_eq!(find(&ix, "via xx settembre", None)[0], "Via XX Settembre (Genova)");
        assert_eq!(find(&ix, "via garibaldi", None)[0], "Via Garibaldi (Genova)");
        assert!(find(&ix, "via inesistente", None).is_empty());
    }

    #[test]
    fn streets_without_a_point_take_the_comune_point_or_are_left_out() {
        let mut b = IndexBuilder::default();
        b.add_comune("079160", "M208", None, None);
        b.add_comune("010025", "D969", Some("Genova"), Some((8.9, 44.4)));
        let street = |istat: &str| StreetInput {
            istat: istat.into(),
            dug: "VIA".into(),
            denominazione: "ROMA".into(),
            odonimo: "VIA ROMA".into(),
            ..StreetInput::default()
        };
        assert!(!b.add_street(street("079160")));
        assert!(b.add_street(street("010025")));
        let ix = b.build(1);
        assert!(ix.streets[0].point_from_comune);
        assert_eq!(ix.comuni[0].name, "079160");
    }

    #[test]
    fn comuni_are_named_by_istat_belfiore_or_name() {
        let mut b = IndexBuilder::default();
        b.add_comune("072006", "A662", Some("Bari"), None);
        b.add_comune("035033", "H223", Some("Reggio nell'Emilia"), None);
        let ix = b.build(1);
        assert_eq!(ix.resolve_comune("Bari"), Some(vec![0]));
        assert_eq!(ix.resolve_comune("BARI"), Some(vec![0]));
        assert_eq!(ix.resolve_comune("a662"), Some(vec![0]));
        assert_eq!(ix.resolve_comune("72006"), Some(vec![0]));
        assert_eq!(ix.resolve_comune("reggio nell’emilia"), Some(vec![1]));
        assert_eq!(ix.resolve_comune("Reggio"), None);
        assert_eq!(ix.comuni_named("reggio"), vec![1]);
    }
}
