//! The query log: real addresses of the generated data set typed the way people type them — keystroke by
//! keystroke (each prefix is a query, as an autocomplete box sends them), lower or upper case, DUGs abbreviated
//! (`v.`, `p.zza`, `c.so`, `l.go`), first names left out, Roman numerals as digits, apostrophes and accents of
//! every kind, a typo now and then, house numbers as `12`, `12/a`, `12 bis`, `12r`, `n. 12`.

use crate::generate::{Civico, Dataset};
use crate::names;
use crate::rng::Rng;

/// How an address of the log was typed: bits of [`Query::features`].
pub mod typed {
    /// The DUG abbreviated: `v.`, `p.zza`, `c.so`, `c.da`, `sal.`, `trav.`, `pza`.
    pub const DUG_ABBREVIATED: u16 = 1;
    /// `garibaldi 12` for `VIA GARIBALDI 12`.
    pub const DUG_OMITTED: u16 = 1 << 1;
    /// `via garibaldi` for `VIA GIUSEPPE GARIBALDI`.
    pub const FIRST_NAME_OMITTED: u16 = 1 << 2;
    /// `via 20 settembre` for `VIA XX SETTEMBRE`.
    pub const ROMAN_AS_DIGITS: u16 = 1 << 3;
    /// An apostrophe or accent written otherwise: `dazeglio`, `d’azeglio`, `s. agostino`, `carra`, `carrà`.
    pub const APOSTROPHE_ACCENT: u16 = 1 << 4;
    /// A typo in the longest word (a swap, a missing letter, a wrong vowel).
    pub const TYPO: u16 = 1 << 5;
    /// `n. 12`, `civico 12`.
    pub const NUMBER_PREFIX: u16 = 1 << 6;
    /// An exponent: `12/a`, `12a`, `12 bis`.
    pub const EXPONENT: u16 = 1 << 7;
    /// A red number: `12r`, `12 r`, `12 rosso`.
    pub const RED: u16 = 1 << 8;
    /// `12 rosso` in full.
    pub const ROSSO: u16 = 1 << 9;
    /// The comune at the end of the text, no filter.
    pub const COMUNE_IN_TEXT: u16 = 1 << 10;
    /// No comune at all.
    pub const NO_COMUNE: u16 = 1 << 11;

    /// The ways of typing that are the user's liberties with the official name and number.
    pub const SLOPPY: u16 = DUG_ABBREVIATED
        | DUG_OMITTED
        | FIRST_NAME_OMITTED
        | ROMAN_AS_DIGITS
        | APOSTROPHE_ACCENT
        | TYPO
        | NUMBER_PREFIX
        | ROSSO;

    /// Rows of the report's breakdown: a mask, and whether the query must have all of it (`true`) or none of it.
    pub const ROWS: &[(&str, u16, bool)] = &[
        ("typed as officially written (none of the liberties below; any case, comune or not)", SLOPPY, false),
        ("DUG abbreviated (`v.`, `p.zza`, `c.da`, `sal.`, `trav.` …)", DUG_ABBREVIATED, true),
        ("DUG left out (`garibaldi 12`)", DUG_OMITTED, true),
        ("first name left out (`via garibaldi`)", FIRST_NAME_OMITTED, true),
        ("Roman numeral as digits (`via 20 settembre`)", ROMAN_AS_DIGITS, true),
        ("apostrophe or accent otherwise (`dazeglio`, `s. agostino`, `carra`)", APOSTROPHE_ACCENT, true),
        ("a typo in the longest word", TYPO, true),
        ("`n. 12`, `civico 12`", NUMBER_PREFIX, true),
        ("with an exponent (`12/a`, `12 bis`)", EXPONENT, true),
        ("a red number (`12r`, `12 r`, `12 rosso`)", RED, true),
        ("… written `12 rosso`", ROSSO, true),
        ("comune at the end of the text (no filter)", COMUNE_IN_TEXT, true),
        ("no comune at all", NO_COMUNE, true),
    ];
}

/// A query of the log.
#[derive(Debug, Clone)]
pub struct Query {
    pub text: String,
    /// The comune filter given to Vedetta (a name or an ISTAT code).
    pub comune: Option<String>,
    /// The same filter as an ISTAT code, for the baseline.
    pub istat: Option<&'static str>,
    /// The civico the user is after.
    pub expected: usize,
    /// The whole address has been typed (recall is measured on these).
    pub complete: bool,
    /// How the address was typed: [`typed`] bits.
    pub features: u16,
}

fn abbreviate(dug: &str, rng: &mut Rng) -> Option<String> {
    let options: &[&str] = match dug {
        "VIA" => &["v.", "V.", "via", "Via"],
        "VIALE" => &["v.le", "V.le", "viale"],
        "PIAZZA" => &["p.za", "p.zza", "P.zza", "piazza", "pza"],
        "PIAZZALE" => &["p.le", "piazzale"],
        "CORSO" => &["c.so", "C.so", "corso"],
        "LARGO" => &["l.go", "L.go", "largo"],
        "SALITA" => &["sal.", "salita"],
        "CONTRADA" => &["c.da", "contrada", "c/da"],
        "LOCALITA'" => &["loc.", "località", "localita"],
        "VICOLO" => &["v.lo", "vicolo"],
        "TRAVERSA" => &["trav.", "traversa"],
        _ => &[],
    };
    if options.is_empty() || !rng.chance(45) {
        return None;
    }
    Some(options[rng.below(options.len())].to_string())
}

fn roman_to_digits(word: &str) -> Option<String> {
    let table = [
        ("I", 1),
        ("II", 2),
        ("III", 3),
        ("IV", 4),
        ("VIII", 8),
        ("XI", 11),
        ("XX", 20),
        ("XXIII", 23),
        ("XXIV", 24),
        ("XXV", 25),
        ("XXVIII", 28),
    ];
    table.iter().find(|(r, _)| *r == word).map(|(_, n)| n.to_string())
}

/// One way of writing a word of the name.
fn sloppy_word(word: &str, rng: &mut Rng, features: &mut u16) -> String {
    if let Some(digits) = roman_to_digits(word).filter(|_| rng.chance(50)) {
        *features |= typed::ROMAN_AS_DIGITS;
        return digits;
    }
    if let Some((head, tail)) = word.split_once('\'') {
        if tail.is_empty() {
            // A final accent: CARRA', NICCOLO'
            let accented = match head.chars().last() {
                Some('A') => "À",
                Some('E') => "È",
                Some('I') => "Ì",
                Some('O') => "Ò",
                Some('U') => "Ù",
                _ => "",
            };
            return match rng.below(3) {
                0 => format!("{}{accented}", &head[..head.len() - 1]),
                1 => {
                    *features |= typed::APOSTROPHE_ACCENT;
                    head.to_string()
                }
                _ => word.to_string(),
            };
        }
        // An elision: D'AZEGLIO, SANT'ANNA
        let saint = head == "SANT";
        let variant = rng.below(if saint { 6 } else { 4 });
        if variant > 0 {
            *features |= typed::APOSTROPHE_ACCENT;
        }
        return match variant {
            0 => format!("{head}'{tail}"),
            1 => format!("{head}’{tail}"),
            2 => format!("{head}{tail}"),
            3 => format!("{head} {tail}"),
            4 => format!("S. {tail}"),
            _ => format!("SAN {tail}"),
        };
    }
    word.to_string()
}

fn typo(word: &str, rng: &mut Rng) -> String {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 6 || !chars.iter().all(|c| c.is_ascii_alphabetic()) {
        return word.to_string();
    }
    let i = 1 + rng.below(chars.len() - 2);
    let mut out = chars.clone();
    match rng.below(3) {
        0 => out.swap(i, i + 1),
        1 => {
            out.remove(i);
        }
        _ => out[i] = if out[i] == 'E' { 'I' } else { 'E' },
    }
    out.into_iter().collect()
}

fn case(text: &str, style: usize) -> String {
    match style {
        0..=59 => text.to_lowercase(),
        60..=84 => text
            .split(' ')
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().chain(c.flat_map(char::to_lowercase)).collect(),
                    None => String::new(),
                }
            })
            .collect::<Vec<String>>()
            .join(" "),
        _ => text.to_uppercase(),
    }
}

fn civico_text(c: &Civico, rng: &mut Rng, features: &mut u16) -> String {
    let mut s = c.numero.to_string();
    match c.esponente {
        "" => {}
        "BIS" => s.push_str([" bis", "bis", "/bis"][rng.below(3)]),
        e => {
            let e = e.to_lowercase();
            s.push_str(&[e.clone(), format!("/{e}"), format!(" {e}")][rng.below(3)]);
        }
    }
    if !c.esponente.is_empty() {
        *features |= typed::EXPONENT;
    }
    if c.red {
        let red = rng.below(3);
        *features |= if red == 2 { typed::RED | typed::ROSSO } else { typed::RED };
        s.push_str(["r", " r", " rosso"][red]);
    }
    match rng.below(100) {
        0..=9 => {
            *features |= typed::NUMBER_PREFIX;
            format!("n. {s}")
        }
        10..=14 => {
            *features |= typed::NUMBER_PREFIX;
            format!("civico {s}")
        }
        _ => s,
    }
}

/// `addresses` addresses, each typed keystroke by keystroke.
pub fn query_log(data: &Dataset, addresses: usize, seed: u64) -> Vec<Query> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let mut done = 0;
    while done < addresses {
        let expected = rng.below(data.civici.len());
        let c = &data.civici[expected];
        if c.point.is_none() {
            continue;
        }
        done += 1;
        let street = &data.streets[c.street as usize];
        let (istat, _, comune_name, ..) = names::COMUNI[street.comune];

        let mut features = 0u16;
        let mut parts: Vec<String> = Vec::new();
        match abbreviate(street.dug, &mut rng) {
            Some(a) => {
                if a.contains(['.', '/']) || a == "pza" {
                    features |= typed::DUG_ABBREVIATED;
                }
                parts.push(a);
            }
            None if rng.chance(8) && street.dug == "VIA" => features |= typed::DUG_OMITTED,
            None => parts.push(street.dug.to_string()),
        }
        let mut denominazione = street.denominazione.as_str();
        if let Some(first) = street.first_name
            && rng.chance(40)
        {
            denominazione = denominazione.strip_prefix(first).map_or(denominazione, str::trim_start);
            features |= typed::FIRST_NAME_OMITTED;
        }
        let words: Vec<String> =
            denominazione.split(' ').map(|w| sloppy_word(w, &mut rng, &mut features)).collect();
        let longest = (0..words.len()).max_by_key(|&i| words[i].len()).unwrap_or(0);
        let mut words = words;
        if rng.chance(15) {
            let mistyped = typo(&words[longest], &mut rng);
            if mistyped != words[longest] {
                features |= typed::TYPO;
            }
            words[longest] = mistyped;
        }
        parts.extend(words);
        let style = rng.below(100);
        let street_text = case(&parts.join(" "), style);
        let number = civico_text(c, &mut rng, &mut features);

        let (comune, istat_filter, suffix) = match rng.below(100) {
            0..=34 => (Some(comune_name.to_string()), Some(istat), String::new()),
            35..=69 => (Some(istat.to_string()), Some(istat), String::new()),
            70..=84 => {
                features |= typed::COMUNE_IN_TEXT;
                (None, None, format!(", {}", case(comune_name, style)))
            }
            _ => {
                features |= typed::NO_COMUNE;
                (None, None, String::new())
            }
        };
        let full = format!("{street_text} {number}{suffix}");

        // The keystrokes an autocomplete box sends: a few letters, each word, then the number, then the rest.
        let mut cuts: Vec<usize> = vec![3, 6, 9];
        cuts.extend(street_text.char_indices().filter(|(_, ch)| *ch == ' ').map(|(i, _)| i));
        cuts.push(street_text.len());
        cuts.push(street_text.len() + 1 + number.len());
        cuts.retain(|&i| i >= 3 && i < full.len() && full.is_char_boundary(i));
        cuts.sort_unstable();
        cuts.dedup();
        for i in cuts {
            let text = full[..i].trim_end().to_string();
            let (comune, complete) = (comune.clone(), false);
            out.push(Query { text, comune, istat: istat_filter, expected, complete, features });
        }
        out.push(Query { text: full, comune, istat: istat_filter, expected, complete: true, features });
    }
    out
}
