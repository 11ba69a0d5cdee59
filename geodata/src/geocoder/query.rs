//! Reading what a user typed: words with their abbreviations expanded (`V.le` → `viale`, `P.zza` → `piazza`,
//! `S.` → the saint family), the house number in all the ways Italians write it (`12`, `12A`, `12/A`, `12 bis`,
//! `12r`, `12 rosso`, `n. 12`, `civico 12`, `snc`, `km 3,5`), postcodes dropped.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::normalize::{self, fold, is_number, is_stop};

/// How a token was separated from the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sep {
    /// The start of the text, or a space.
    Space,
    /// Nothing: `12a` (`a` after `12`).
    Glued,
    /// A slash: `12/a`.
    Slash,
    /// A comma or a point with no space: `12,5`.
    Decimal,
}

/// A token of the query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// Folded letters or digits (`garibaldi`, `12`), or the expansion of an abbreviation (`viale`).
    pub text: String,
    /// Exact alternatives: the other expansions of an abbreviation (`vic.` → `vicolo`, `vico`).
    pub alts: Vec<String>,
    /// Comma-separated part of the query it belongs to.
    pub segment: u16,
    pub sep: Sep,
    /// `v.` and `p.` mean `via` and `piazza` only at the start.
    pub dug_if_first: Option<&'static str>,
    /// An elision joins it to the next word (`sant'`).
    pub elided: bool,
}

/// Abbreviations written with points, with their expansions.
const DOTTED: &[(&str, &[&str])] = &[
    ("v.le", &["viale"]),
    ("vle.", &["viale"]),
    ("v.lo", &["vicolo"]),
    ("v.co", &["vico"]),
    ("vic.", &["vicolo", "vico"]),
    ("p.za", &["piazza"]),
    ("p.zza", &["piazza"]),
    ("pza.", &["piazza"]),
    ("pzza.", &["piazza"]),
    ("p.tta", &["piazzetta"]),
    ("p.le", &["piazzale"]),
    ("p.zle", &["piazzale"]),
    ("c.so", &["corso"]),
    ("l.go", &["largo"]),
    ("l.re", &["lungomare"]),
    ("l.mare", &["lungomare"]),
    ("c.da", &["contrada"]),
    ("c/da", &["contrada"]),
    ("sal.", &["salita"]),
    ("str.", &["strada"]),
    ("loc.", &["localita"]),
    ("fraz.", &["frazione"]),
    ("trav.", &["traversa"]),
    ("f.lli", &["fratelli"]),
    ("s.ta", &["santa"]),
    ("s.to", &["santo"]),
    ("s.", &["s"]),
    ("ss.", &["santissimo", "santissima", "santi"]),
    ("n.", &["n"]),
    ("nr.", &["n"]),
    ("num.", &["n"]),
    ("civ.", &["civico"]),
    ("prof.", &["professor", "professore"]),
    ("dott.", &["dottor", "dottore"]),
    ("gen.", &["generale"]),
    ("on.", &["onorevole"]),
    ("mons.", &["monsignor", "monsignore"]),
];

/// Abbreviations written without points: the literal stays (it may be the start of a word being typed), the
/// expansions are exact alternatives.
const UNDOTTED: &[(&str, &[&str])] = &[
    ("vle", &["viale"]),
    ("pza", &["piazza"]),
    ("pzza", &["piazza"]),
    ("pzta", &["piazzetta"]),
    ("pzle", &["piazzale"]),
    ("cso", &["corso"]),
    ("lgo", &["largo"]),
    ("cda", &["contrada"]),
    ("loc", &["localita"]),
    ("fraz", &["frazione"]),
    ("str", &["strada"]),
    ("trav", &["traversa"]),
    ("sal", &["salita"]),
    ("vic", &["vicolo", "vico"]),
    ("lmare", &["lungomare"]),
    ("ss", &["santissimo", "santissima", "santi"]),
];

fn dotted(s: &str) -> Option<&'static [&'static str]> {
    DOTTED.iter().find(|(k, _)| *k == s).map(|(_, v)| *v)
}

fn undotted(s: &str) -> Option<&'static [&'static str]> {
    UNDOTTED.iter().find(|(k, _)| *k == s).map(|(_, v)| *v)
}

/// Splits the query into tokens.
pub(crate) fn tokenize(q: &str) -> Vec<Token> {
    let folded = fold(q);
    let chars: Vec<char> = folded.chars().collect();
    // Chunks: runs without spaces; a comma or semicolon ends a segment unless it sits between digits (`12,5`).
    let mut chunks: Vec<(String, u16)> = Vec::new();
    let mut segment = 0u16;
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let between_digits =
            i > 0 && chars[i - 1].is_ascii_digit() && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_whitespace() {
            if !current.is_empty() {
                chunks.push((std::mem::take(&mut current), segment));
            }
        } else if (c == ',' || c == ';') && !between_digits {
            if !current.is_empty() {
                chunks.push((std::mem::take(&mut current), segment));
            }
            segment += 1;
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        chunks.push((current, segment));
    }

    let mut tokens = Vec::new();
    for (chunk, segment) in chunks {
        chunk_tokens(&chunk, segment, &mut tokens);
    }
    tokens
}

fn expansion(alts: &[&str], segment: u16) -> Token {
    Token {
        text: alts[0].to_string(),
        alts: alts[1..].iter().map(|s| s.to_string()).collect(),
        segment,
        sep: Sep::Space,
        dug_if_first: None,
        elided: false,
    }
}

/// The tokens of a chunk (a run of characters without spaces).
fn chunk_tokens(chunk: &str, segment: u16, out: &mut Vec<Token>) {
    if let Some(exp) = dotted(chunk) {
        out.push(expansion(exp, segment));
        return;
    }
    // `v.garibaldi`, `p.zza.duomo`, `s.agostino`: abbreviations glued to the next word by a point.
    let pieces: Vec<&str> = chunk.split('.').collect();
    let mut i = 0;
    while i < pieces.len() {
        let piece = pieces[i];
        let first_sep = if i == 0 { Sep::Space } else { Sep::Decimal };
        let followed_by_point = i + 1 < pieces.len();
        i += 1;
        if piece.is_empty() {
            continue;
        }
        if followed_by_point {
            if let Some(exp) = pieces.get(i).and_then(|next| dotted(&format!("{piece}.{next}"))) {
                out.push(expansion(exp, segment));
                i += 1;
                continue;
            }
            if piece == "v" || piece == "p" {
                out.push(Token {
                    text: piece.to_string(),
                    alts: vec![],
                    segment,
                    sep: Sep::Space,
                    dug_if_first: Some(if piece == "v" { "via" } else { "piazza" }),
                    elided: false,
                });
                continue;
            }
            if let Some(exp) = dotted(&format!("{piece}.")) {
                out.push(expansion(exp, segment));
                continue;
            }
        }
        plain_tokens(piece, segment, first_sep, out);
    }
}

/// Letters and digits of a piece without points: apostrophes split elisions, slashes and letter/digit
/// boundaries split house numbers (`12/a`, `12bis`, `n12`).
fn plain_tokens(piece: &str, segment: u16, first_sep: Sep, out: &mut Vec<Token>) {
    let push = |text: &mut String, sep: Sep, elided: bool, out: &mut Vec<Token>| {
        if text.is_empty() {
            return;
        }
        let text = std::mem::take(text);
        let alts = undotted(&text).map(|e| e.iter().map(|s| s.to_string()).collect()).unwrap_or_default();
        out.push(Token { text, alts, segment, sep, dug_if_first: None, elided });
    };
    let chars: Vec<char> = piece.chars().collect();
    let mut current = String::new();
    let mut sep = first_sep;
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            if current.chars().last().is_some_and(|p| p.is_ascii_digit() != c.is_ascii_digit()) {
                push(&mut current, sep, false, out);
                sep = Sep::Glued;
            }
            current.push(c);
        } else {
            let elided = c == '\'' && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
            push(&mut current, sep, elided, out);
            sep = match c {
                '/' => Sep::Slash,
                ',' => Sep::Decimal,
                '\'' => Sep::Glued,
                _ => Sep::Space,
            };
        }
    }
    push(&mut current, sep, false, out);
}

/// A house number asked for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NumberQuery {
    /// `12`, `12/A`, `12r`…
    Civico {
        numero: i32,
        /// Upper case (`A`, `BIS`).
        esponente: Option<String>,
        /// `Some(true)` for red (`12r`, `12 rosso`), `Some(false)` for an explicit `nero`.
        red: Option<bool>,
        /// `12r` may also be the exponent `R` outside Genova.
        r_is_esponente: bool,
        /// Written with `n.`/`civico`, an exponent or a colour: certainly a house number.
        explicit: bool,
    },
    /// `snc`: an access with no number.
    Snc,
    /// `km 3,5`: a kilometric number.
    Metrico(f64),
}

impl NumberQuery {
    /// The number as an address writes it (`12/A`, `12r`).
    pub fn display(&self) -> String {
        match self {
            NumberQuery::Civico { numero, esponente, red, .. } => crate::anncsu::civico::display(
                Some(*numero),
                esponente.as_deref().unwrap_or(""),
                if *red == Some(true) { crate::anncsu::civico::ROSSO } else { "" },
                None,
            ),
            NumberQuery::Snc => "snc".into(),
            NumberQuery::Metrico(km) => format!("km {}", format!("{km}").replace('.', ",")),
        }
    }

    /// Whether the query could be read without it (a bare number, which may belong to the name: `Strada
    /// Statale 18`).
    pub fn may_be_a_name(&self) -> bool {
        matches!(self, NumberQuery::Civico { esponente: None, red: None, explicit: false, .. })
    }
}

const RED: [&str; 5] = ["r", "ro", "ros", "ross", "rosso"];
const BLACK: [&str; 3] = ["ne", "ner", "nero"];
const ESPONENTI: [&str; 7] = ["bis", "ter", "quater", "quinquies", "sexies", "septies", "octies"];
const MARKERS: [&str; 6] = ["n", "nr", "num", "numero", "civ", "civico"];

/// Drops postcodes (five digits) and the country after a comma (`…, Italia`; `Via Italia` stays); returns the
/// remaining tokens.
pub(crate) fn drop_noise(tokens: Vec<Token>) -> Vec<Token> {
    let n = tokens.len();
    let last_segment = tokens.last().map_or(0, |t| t.segment);
    let country = |t: &Token| {
        t.segment > 0
            && t.segment == last_segment
            && (t.text == "italia" || t.text == "italy")
            && tokens.iter().filter(|o| o.segment == last_segment).count() == 1
    };
    let keep: Vec<bool> = tokens
        .iter()
        .map(|t| !(n > 1 && ((t.text.len() == 5 && is_number(&t.text)) || country(t))))
        .collect();
    tokens.into_iter().zip(keep).filter(|(_, k)| *k).map(|(t, _)| t).collect()
}

/// Finds the house number at the end of `tokens`. Returns it and the number of tokens it takes.
pub(crate) fn house_number(tokens: &[Token]) -> Option<(NumberQuery, usize)> {
    let n = tokens.len();
    if n < 2 {
        return None;
    }
    // km 3,5 / km 3+500
    for k in [3, 2] {
        if n > k && tokens[n - k].text == "km" && is_number(&tokens[n - k + 1].text) {
            let mut value: f64 = tokens[n - k + 1].text.parse().ok()?;
            if k == 3 {
                let frac = &tokens[n - 1];
                if !is_number(&frac.text) || frac.sep != Sep::Decimal {
                    continue;
                }
                value += format!("0.{}", frac.text).parse::<f64>().ok()?;
            }
            return Some((NumberQuery::Metrico(value), k)).filter(|_| has_words(&tokens[..n - k]));
        }
    }
    let last = &tokens[n - 1].text;
    if last == "snc" || last == "sn" {
        return has_words(&tokens[..n - 1]).then_some((NumberQuery::Snc, 1));
    }
    let mut j = n;
    let mut red = None;
    let mut r_is_esponente = false;
    let text = |j: usize| tokens[j].text.as_str();
    let number_at = |j: usize| is_number(text(j)) && text(j).len() <= 4;
    if j >= 2 && (RED.contains(&text(j - 1)) || BLACK.contains(&text(j - 1))) {
        let before = j - 2;
        let after_number =
            number_at(before) || (before >= 1 && number_at(before - 1) && exponent(&tokens[before]));
        if after_number {
            red = Some(RED.contains(&text(j - 1)));
            r_is_esponente = text(j - 1) == "r" && number_at(before);
            j -= 1;
        }
    }
    let mut esponente = None;
    if j >= 2 && exponent(&tokens[j - 1]) && number_at(j - 2) {
        esponente = Some(tokens[j - 1].text.to_uppercase());
        j -= 1;
    }
    if !number_at(j - 1) {
        return None;
    }
    let numero: i32 = text(j - 1).parse().ok()?;
    j -= 1;
    let mut explicit = esponente.is_some() || red.is_some();
    if j >= 1 && MARKERS.contains(&text(j - 1)) && has_words(&tokens[..j - 1]) {
        explicit = true;
        j -= 1;
    }
    if numero == 0 || !has_words(&tokens[..j]) {
        return None;
    }
    Some((NumberQuery::Civico { numero, esponente, red, r_is_esponente, explicit }, n - j))
}

/// An exponent after a number: a single letter, `bis`, `ter`…, or digits after a slash (`12/2`).
fn exponent(t: &Token) -> bool {
    let s = t.text.as_str();
    (s.len() == 1 && s.chars().all(|c| c.is_ascii_alphabetic()))
        || ESPONENTI.contains(&s)
        || (t.sep == Sep::Slash && is_number(s) && s.len() <= 3)
}

/// At least one word that can name a street: not a number, a preposition, or the DUG at the start (`via 12` has
/// none, `localita del borgo 6` has `borgo`).
pub(crate) fn has_words(tokens: &[Token]) -> bool {
    tokens.iter().enumerate().any(|(i, t)| {
        !is_number(&t.text)
            && !is_stop(&t.text)
            && !MARKERS.contains(&t.text.as_str())
            && (i > 0 || !is_dug(&t.text))
    })
}

/// The role of a query word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Must match a word of the street (or its locality).
    Content,
    /// The DUG at the start (`via`, `piazza`): should match the street's DUG, costs a little when it does not.
    Dug,
    /// Article or preposition: optional.
    Stop,
}

/// A word to match.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QWord {
    /// Matched exactly, or as the start of a word (`garib`).
    pub literal: String,
    /// Matched exactly: abbreviation expansions, aliases (`iv` → `4`, `san` → `s`).
    pub alts: Vec<String>,
    pub role: Role,
}

/// The folded one-word DUGs (`via`, `localita`).
static DUGS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    crate::anncsu::odonimo::DUGS
        .iter()
        .filter(|d| !d.contains(' '))
        .map(|d| fold(d).trim_end_matches('\'').to_string())
        .collect()
});

/// Whether a folded word is a DUG (`via`, `localita`).
pub(crate) fn is_dug(word: &str) -> bool {
    DUGS.contains(word)
}

/// The words of `tokens` (whose house number, if any, was taken off).
pub(crate) fn words(tokens: &[Token]) -> Vec<QWord> {
    let mut out: Vec<QWord> = Vec::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        // `2a traversa`, `2° vico`: the ordinal suffix.
        if (t.text == "a" || t.text == "o") && t.sep == Sep::Glued && i > 0 && is_number(&tokens[i - 1].text)
        {
            continue;
        }
        if MARKERS.contains(&t.text.as_str()) && t.text != "n" {
            continue;
        }
        let mut alts = t.alts.clone();
        if out.is_empty()
            && let Some(dug) = t.dug_if_first
        {
            alts.push(dug.to_string());
        }
        for a in normalize::aliases(&t.text) {
            if !alts.contains(&a) {
                alts.push(a);
            }
        }
        let role = if out.is_empty() && (is_dug(&t.text) || alts.iter().any(|a| is_dug(a))) {
            Role::Dug
        } else if is_stop(&t.text) && t.alts.is_empty() {
            Role::Stop
        } else {
            Role::Content
        };
        out.push(QWord { literal: t.text.clone(), alts, role });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(q: &str) -> Vec<String> {
        tokenize(q).into_iter().map(|t| t.text).collect()
    }

    fn number(q: &str) -> Option<(NumberQuery, usize)> {
        house_number(&drop_noise(tokenize(q)))
    }

    fn civico(numero: i32, esponente: Option<&str>, red: Option<bool>) -> NumberQuery {
        NumberQuery::Civico {
            numero,
            esponente: esponente.map(str::to_string),
            red,
            r_is_esponente: false,
            explicit: esponente.is_some() || red.is_some(),
        }
    }

    #[test]
    fn abbreviations_are_expanded() {
        assert_eq!(texts("V.le Mazzini"), ["viale", "mazzini"]);
        assert_eq!(texts("P.zza S. Domenico"), ["piazza", "s", "domenico"]);
        assert_eq!(texts("p.za garibaldi"), ["piazza", "garibaldi"]);
        assert_eq!(texts("C.so Vittorio"), ["corso", "vittorio"]);
        assert_eq!(texts("L.go Sant'Antonio"), ["largo", "sant", "antonio"]);
        assert_eq!(texts("Sal. Santa Caterina"), ["salita", "santa", "caterina"]);
        assert_eq!(texts("v.garibaldi"), ["v", "garibaldi"]);
        assert_eq!(tokenize("v.garibaldi")[0].dug_if_first, Some("via"));
        assert_eq!(texts("c/da carrà"), ["contrada", "carra"]);
        assert_eq!(tokenize("vic. storto")[0].alts, ["vico"]);
        assert_eq!(tokenize("cso italia")[0].alts, ["corso"]);
    }

    #[test]
    fn apostrophes_of_every_kind_split_elisions() {
        assert_eq!(texts("via d'azeglio"), ["via", "d", "azeglio"]);
        assert_eq!(texts("VIA D’AZEGLIO"), ["via", "d", "azeglio"]);
        assert_eq!(texts("via dazeglio"), ["via", "dazeglio"]);
        assert!(tokenize("sant'anna")[0].elided);
    }

    #[test]
    fn house_numbers_are_read_in_every_usual_form() {
        assert_eq!(number("via garibaldi 12"), Some((civico(12, None, None), 1)));
        assert_eq!(number("via garibaldi 12A"), Some((civico(12, Some("A"), None), 2)));
        assert_eq!(number("via garibaldi 12/a"), Some((civico(12, Some("A"), None), 2)));
        assert_eq!(number("via garibaldi 12 bis"), Some((civico(12, Some("BIS"), None), 2)));
        assert_eq!(number("via garibaldi 12/2"), Some((civico(12, Some("2"), None), 2)));
        assert_eq!(number("via xx settembre 12 rosso"), Some((civico(12, None, Some(true)), 2)));
        assert_eq!(
            number("via garibaldi n. 12"),
            Some((civico(12, None, None), 2)).map(|(c, n)| {
                let NumberQuery::Civico { numero, esponente, red, r_is_esponente, .. } = c else {
                    unreachable!()
                };
                (NumberQuery::Civico { numero, esponente, red, r_is_esponente, explicit: true }, n)
            })
        );
        assert_eq!(number("via garibaldi civico 12").map(|(_, n)| n), Some(2));
        assert_eq!(number("via garibaldi n12").map(|(_, n)| n), Some(2));
        assert_eq!(number("via garibaldi 12, 88046 lamezia").map(|(_, n)| n), None, "the comune is last");
        assert_eq!(number("via garibaldi 12 88046").map(|(_, n)| n), Some(1), "postcode dropped");
        assert_eq!(
            number("via italia 5, italia").map(|(_, n)| n),
            Some(1),
            "country dropped, not the street"
        );
        assert_eq!(texts("via italia"), ["via", "italia"]);
        let (r, _) = number("via xx settembre 12r").unwrap();
        assert!(matches!(r, NumberQuery::Civico { red: Some(true), r_is_esponente: true, .. }));
        assert_eq!(number("strada statale 18").map(|(q, _)| q.may_be_a_name()), Some(true));
        assert_eq!(number("via garibaldi snc"), Some((NumberQuery::Snc, 1)));
        assert_eq!(number("strada statale 18 km 3,5"), Some((NumberQuery::Metrico(3.5), 3)));
        assert_eq!(number("via iv novembre"), None);
        assert_eq!(number("localita del borgo 6").map(|(_, n)| n), Some(1), "BORGO is a DUG, but not here");
        assert_eq!(number("12"), None);
        assert_eq!(number("via 12"), None);
    }

    #[test]
    fn the_first_word_may_be_a_dug() {
        let w = words(&tokenize("v. garibaldi"));
        assert_eq!(w[0].role, Role::Dug);
        assert!(w[0].alts.contains(&"via".to_string()));
        let w = words(&tokenize("via dei mille"));
        assert_eq!([w[0].role, w[1].role, w[2].role], [Role::Dug, Role::Stop, Role::Content]);
        let w = words(&tokenize("IV Novembre"));
        assert_eq!(w[0].alts, ["4"]);
        let w = words(&tokenize("2a traversa marconi"));
        assert_eq!(w.iter().map(|w| w.literal.as_str()).collect::<Vec<_>>(), ["2", "traversa", "marconi"]);
    }
}
