//! The query log: real addresses of the generated data set typed the way people type them — keystroke by
//! keystroke (each prefix is a query, as an autocomplete box sends them), lower or upper case, DUGs abbreviated
//! (`v.`, `p.zza`, `c.so`, `l.go`), first names left out, Roman numerals as digits, apostrophes and accents of
//! every kind, a typo now and then, house numbers as `12`, `12/a`, `12 bis`, `12r`, `n. 12`.

use crate::generate::{Civico, Dataset};
use crate::names;
use crate::rng::Rng;

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
fn sloppy_word(word: &str, rng: &mut Rng) -> String {
    if let Some(digits) = roman_to_digits(word).filter(|_| rng.chance(50)) {
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
                1 => head.to_string(),
                _ => word.to_string(),
            };
        }
        // An elision: D'AZEGLIO, SANT'ANNA
        let saint = head == "SANT";
        return match rng.below(if saint { 6 } else { 4 }) {
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

fn civico_text(c: &Civico, rng: &mut Rng) -> String {
    let mut s = c.numero.to_string();
    match c.esponente {
        "" => {}
        "BIS" => s.push_str([" bis", "bis", "/bis"][rng.below(3)]),
        e => {
            let e = e.to_lowercase();
            s.push_str(&[e.clone(), format!("/{e}"), format!(" {e}")][rng.below(3)]);
        }
    }
    if c.red {
        s.push_str(["r", " r", " rosso"][rng.below(3)]);
    }
    match rng.below(100) {
        0..=9 => format!("n. {s}"),
        10..=14 => format!("civico {s}"),
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

        let mut parts: Vec<String> = Vec::new();
        match abbreviate(street.dug, &mut rng) {
            Some(a) => parts.push(a),
            None if rng.chance(8) && street.dug == "VIA" => {}
            None => parts.push(street.dug.to_string()),
        }
        let mut denominazione = street.denominazione.as_str();
        if let Some(first) = street.first_name
            && rng.chance(40)
        {
            denominazione = denominazione.strip_prefix(first).map_or(denominazione, str::trim_start);
        }
        let words: Vec<String> = denominazione.split(' ').map(|w| sloppy_word(w, &mut rng)).collect();
        let longest = (0..words.len()).max_by_key(|&i| words[i].len()).unwrap_or(0);
        let mut words = words;
        if rng.chance(15) {
            words[longest] = typo(&words[longest], &mut rng);
        }
        parts.extend(words);
        let style = rng.below(100);
        let street_text = case(&parts.join(" "), style);
        let number = civico_text(c, &mut rng);

        let (comune, istat_filter, suffix) = match rng.below(100) {
            0..=34 => (Some(comune_name.to_string()), Some(istat), String::new()),
            35..=69 => (Some(istat.to_string()), Some(istat), String::new()),
            70..=84 => (None, None, format!(", {}", case(comune_name, style))),
            _ => (None, None, String::new()),
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
            out.push(Query { text, comune: comune.clone(), istat: istat_filter, expected, complete: false });
        }
        out.push(Query { text: full, comune, istat: istat_filter, expected, complete: true });
    }
    out
}
