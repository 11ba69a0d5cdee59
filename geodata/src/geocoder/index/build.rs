//! Building the [`Index`]: names split into words and aliases, a sorted vocabulary, postings grouped by comune.

use std::collections::HashMap;

use super::{ComuneEntry, Entry, Index, Slot, StreetEntry};
use crate::geocoder::normalize::{self, fold};

/// What a street is made of, for [`IndexBuilder::add_street`].
#[derive(Debug, Clone, Default)]
pub(crate) struct StreetInput {
    pub id: i64,
    pub istat: String,
    pub dug: String,
    pub denominazione: String,
    pub odonimo: String,
    pub localita: String,
    pub lingua: Vec<String>,
    pub point: Option<(f64, f64)>,
    pub civici: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotKind {
    Dug,
    Denom,
    Stop,
    Localita,
}

/// A slot being built: its terms, kind and bits.
type PendingSlot = (Vec<u32>, SlotKind, u64);

/// An entry being built: street, slots, denomination mask, display name.
#[derive(Debug)]
struct PendingEntry {
    street: u32,
    slots: Vec<PendingSlot>,
    denom_mask: u64,
    name: Option<Box<str>>,
}

/// Builds an [`Index`].
#[derive(Debug, Default)]
pub(crate) struct IndexBuilder {
    comuni: Vec<ComuneEntry>,
    comune_by_istat: HashMap<String, u32>,
    streets: Vec<StreetEntry>,
    entries: Vec<PendingEntry>,
    terms: HashMap<String, u32>,
    term_list: Vec<String>,
}

/// Folds a comune name for comparison: `Reggio nell'Emilia` → `reggio nell emilia`.
pub(crate) fn fold_comune(name: &str) -> String {
    fold(name).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// A comune for [`IndexBuilder::add_comune_with`].
#[derive(Debug, Clone, Default)]
pub(crate) struct ComuneInput {
    pub istat: String,
    pub belfiore: String,
    /// Its names, the displayed one first (`Bolzano/Bozen`, `Bolzano`, `Bozen`); none: the ISTAT code is shown.
    pub names: Vec<String>,
    /// The province's two letters (`CZ`), when known.
    pub province: Option<String>,
    /// A point inside it, WGS84.
    pub point: Option<(f64, f64)>,
}

impl IndexBuilder {
    /// Adds a comune named `name` (its ISTAT code when `None`).
    #[cfg(test)]
    pub fn add_comune(&mut self, istat: &str, belfiore: &str, name: Option<&str>, point: Option<(f64, f64)>) {
        self.add_comune_with(ComuneInput {
            istat: istat.into(),
            belfiore: belfiore.into(),
            names: name.map(str::to_string).into_iter().collect(),
            province: None,
            point,
        });
    }

    /// Adds a comune with all its names.
    pub fn add_comune_with(&mut self, c: ComuneInput) {
        let name = c.names.first().cloned().unwrap_or_else(|| c.istat.clone());
        let mut folded: Vec<String> = Vec::new();
        // `Bolzano/Bozen` is also `Bolzano` and `Bozen`.
        for n in c.names.iter().flat_map(|n| std::iter::once(n.as_str()).chain(n.split('/'))) {
            let f = fold_comune(n);
            if !f.is_empty() && !folded.contains(&f) {
                folded.push(f);
            }
        }
        self.comune_by_istat.insert(c.istat.clone(), self.comuni.len() as u32);
        self.comuni.push(ComuneEntry {
            istat: c.istat,
            belfiore: c.belfiore,
            name,
            folded,
            province: c.province.map(|p| p.to_ascii_lowercase()).unwrap_or_default(),
            point: c.point,
        });
    }

    fn term(&mut self, t: &str) -> u32 {
        if let Some(&id) = self.terms.get(t) {
            return id;
        }
        let id = self.term_list.len() as u32;
        self.terms.insert(t.to_string(), id);
        self.term_list.push(t.to_string());
        id
    }

    /// Adds a street. Streets with no point of their own take their comune's, or are left out when the comune
    /// has none. Returns whether the street was added.
    pub fn add_street(&mut self, s: StreetInput) -> bool {
        let Some(&comune) = self.comune_by_istat.get(&s.istat) else { return false };
        let (point, from_comune) = match (s.point, self.comuni[comune as usize].point) {
            (Some(p), _) => (p, false),
            (None, Some(p)) => (p, true),
            (None, None) => return false,
        };
        let street = self.streets.len() as u32;
        let name = crate::anncsu::odonimo::display(&s.odonimo);
        let folded_name = fold(&s.odonimo);
        let localita = if !s.localita.is_empty() && !folded_name.contains(&fold(&s.localita)) {
            crate::anncsu::odonimo::display(&s.localita)
        } else {
            String::new()
        };

        let mut slots = Vec::new();
        for w in normalize::name_words(&s.dug) {
            let terms = self.word_terms(&w);
            slots.push((terms, SlotKind::Dug, 0));
        }
        let mut denom_mask = 0u64;
        self.name_slots(&s.denominazione, &mut slots, &mut denom_mask);
        for w in normalize::name_words(&localita) {
            let terms = self.word_terms(&w);
            slots.push((terms, SlotKind::Localita, 0));
        }
        self.entries.push(PendingEntry { street, slots, denom_mask, name: None });
        for lingua in s.lingua.iter().filter(|l| !l.is_empty() && fold(l) != folded_name) {
            let mut slots = Vec::new();
            let mut mask = 0u64;
            self.name_slots(lingua, &mut slots, &mut mask);
            let display = crate::anncsu::odonimo::display(lingua);
            self.entries.push(PendingEntry { street, slots, denom_mask: mask, name: Some(display.into()) });
        }
        self.streets.push(StreetEntry {
            id: s.id,
            comune,
            name: name.into(),
            localita: localita.into(),
            point,
            point_from_comune: from_comune,
            civici: s.civici,
        });
        true
    }

    fn word_terms(&mut self, w: &normalize::NameWord) -> Vec<u32> {
        let mut terms = vec![self.term(&w.term)];
        for a in &w.aliases {
            terms.push(self.term(a));
        }
        terms
    }

    /// Appends the slots of a name's words; `mask` gets the bits of the words that count for coverage.
    fn name_slots(&mut self, name: &str, slots: &mut Vec<PendingSlot>, mask: &mut u64) {
        let words = normalize::name_words(name);
        let mut word_bits = Vec::new();
        for (bit, w) in words.iter().filter(|w| w.compound_of == 0).enumerate() {
            let b = if bit < 64 { 1u64 << bit } else { 0 };
            word_bits.push(b);
            let terms = self.word_terms(w);
            if !w.stop {
                *mask |= b;
            }
            slots.push((terms, if w.stop { SlotKind::Stop } else { SlotKind::Denom }, b));
        }
        // Compounds follow the plain words; each stands for the word it starts at and the next.
        let mut plain_index = 0usize;
        let mut compound_starts = Vec::new();
        for w in &words {
            if w.compound_of == 0 {
                plain_index += 1;
            } else {
                compound_starts.push((plain_index - 1, w.term.clone()));
            }
        }
        for (start, term) in compound_starts {
            let bits =
                word_bits.get(start).copied().unwrap_or(0) | word_bits.get(start + 1).copied().unwrap_or(0);
            let t = self.term(&term);
            slots.push((vec![t], SlotKind::Denom, bits));
        }
    }

    /// Sorts the vocabulary, groups names by comune and builds the postings.
    pub fn build(self, revision: i64) -> Index {
        let IndexBuilder { comuni, streets, mut entries, term_list, .. } = self;
        let mut order: Vec<u32> = (0..term_list.len() as u32).collect();
        order.sort_unstable_by(|a, b| term_list[*a as usize].cmp(&term_list[*b as usize]));
        let mut remap = vec![0u32; term_list.len()];
        for (new, old) in order.iter().enumerate() {
            remap[*old as usize] = new as u32;
        }
        let vocab: Vec<Box<str>> =
            order.iter().map(|&o| term_list[o as usize].clone().into_boxed_str()).collect();
        let vocab_chars: Vec<u8> = vocab.iter().map(|t| t.chars().count().min(255) as u8).collect();
        drop(term_list);

        // Names grouped by comune (then by street, as loaded).
        entries.sort_by_key(|e| (streets[e.street as usize].comune, e.street));
        let mut comune_entries = vec![0..0; comuni.len()];
        let mut postings: Vec<Vec<u32>> = vec![Vec::new(); vocab.len()];
        let mut slots = Vec::new();
        let mut slot_terms = Vec::new();
        let mut out_entries = Vec::with_capacity(entries.len());
        for (id, PendingEntry { street, slots: entry_slots, denom_mask, name }) in
            entries.into_iter().enumerate()
        {
            let id = id as u32;
            let comune = streets[street as usize].comune as usize;
            let range = &mut comune_entries[comune];
            if range.start == range.end {
                *range = id..id + 1;
            } else {
                range.end = id + 1;
            }
            let first_slot = slots.len() as u32;
            for (terms, kind, bits) in entry_slots {
                let start = slot_terms.len() as u32;
                for t in &terms {
                    let t = remap[*t as usize];
                    slot_terms.push(t);
                    let p = &mut postings[t as usize];
                    if p.last() != Some(&id) {
                        p.push(id);
                    }
                }
                slots.push(Slot {
                    terms: start,
                    n_terms: terms.len().min(255) as u8,
                    dug: kind == SlotKind::Dug,
                    bits,
                });
            }
            out_entries.push(Entry { street, slots: first_slot..slots.len() as u32, denom_mask, name });
        }
        let mut postings_before = Vec::with_capacity(postings.len() + 1);
        let mut total = 0u64;
        for p in &postings {
            postings_before.push(total);
            total += p.len() as u64;
        }
        postings_before.push(total);
        let mut comune_names: Vec<(Box<str>, u32)> = comuni
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.folded.iter().map(move |f| (f.clone().into_boxed_str(), i as u32)))
            .collect();
        comune_names.sort_unstable();
        comune_names.dedup();
        Index {
            comune_names,
            comuni,
            streets,
            entries: out_entries,
            comune_entries,
            slots,
            slot_terms,
            vocab,
            vocab_chars,
            postings: postings.into_iter().map(Vec::into_boxed_slice).collect(),
            postings_before,
            revision,
            comuni_revision: 0,
        }
    }
}
