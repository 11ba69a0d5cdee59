//! Text normalisation shared by the street index and the queries: case and accents folded, apostrophes unified,
//! elisions split (`sant'antonio` → `sant` + `antonio`, and the compound `santantonio`), and the aliases that
//! make different spellings meet: Roman numerals and ordinals as digits (`IV` = `4`, `seconda` = `2`), the
//! saint family (`San`, `Santa`, `Santo`, `Sant'`, `S.`) as one word.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Characters used as apostrophes in the wild: `'`, `’`, `‘`, `` ` ``, `´`, `ʼ`, `′`.
pub const APOSTROPHES: [char; 7] = ['\'', '’', '‘', '`', '´', 'ʼ', '′'];

/// Lower case, accents removed (NFKD without combining marks), every apostrophe variant as `'`.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        if APOSTROPHES.contains(&c) {
            out.push('\'');
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The value of a lower-case Roman numeral from 1 to 39 (`iv` → 4, `xxiv` → 24); street names use no larger
/// ones, and this keeps `di`, `mi`, `c`, `l`, `m` words.
pub fn roman_value(word: &str) -> Option<u32> {
    if word.is_empty() || word.len() > 6 {
        return None;
    }
    let tens = word.bytes().take_while(|&b| b == b'x').count();
    if tens > 3 {
        return None;
    }
    let units = match &word[tens..] {
        "" => 0,
        "i" => 1,
        "ii" => 2,
        "iii" => 3,
        "iv" => 4,
        "v" => 5,
        "vi" => 6,
        "vii" => 7,
        "viii" => 8,
        "ix" => 9,
        _ => return None,
    };
    Some(tens as u32 * 10 + units)
}

/// Ordinals written in letters (`prima`, `secondo`, … `decima`), as in `Traversa Seconda`.
pub fn ordinal_value(word: &str) -> Option<u32> {
    const STEMS: [&str; 10] =
        ["prim", "second", "terz", "quart", "quint", "sest", "settim", "ottav", "non", "decim"];
    let stem = word.strip_suffix('a').or_else(|| word.strip_suffix('o'))?;
    STEMS.iter().position(|s| *s == stem).map(|i| i as u32 + 1)
}

/// Articles and prepositions: optional in a query, and they count little in a name.
pub fn is_stop(word: &str) -> bool {
    matches!(
        word,
        "di" | "del"
            | "dello"
            | "della"
            | "dei"
            | "degli"
            | "delle"
            | "d"
            | "dell"
            | "da"
            | "dal"
            | "dallo"
            | "dalla"
            | "dai"
            | "dagli"
            | "dalle"
            | "dall"
            | "e"
            | "ed"
            | "a"
            | "al"
            | "allo"
            | "alla"
            | "ai"
            | "agli"
            | "alle"
            | "all"
            | "il"
            | "lo"
            | "la"
            | "le"
            | "gli"
            | "l"
            | "in"
            | "nel"
            | "nello"
            | "nella"
            | "nei"
            | "negli"
            | "nelle"
            | "nell"
            | "sul"
            | "sulla"
            | "sull"
            | "per"
            | "con"
    )
}

/// The saint family, which all meet as the alias `s`: `San Pietro`, `S. Pietro`, `Sant'Anna`, `Santa Maria`.
pub fn is_saint(word: &str) -> bool {
    matches!(word, "s" | "san" | "santa" | "santo" | "sant" | "sta" | "sto")
}

/// The alias under which the saint family is indexed.
pub const SAINT: &str = "s";

/// Other spellings under which a folded word is also found: Roman numerals and ordinals as digits, `2a`/`2o` as
/// `2`, the saint family as [`SAINT`].
pub fn aliases(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(n) = roman_value(word).or_else(|| ordinal_value(word)) {
        out.push(n.to_string());
    } else if let Some(digits) = word.strip_suffix(['a', 'o']).filter(|d| !d.is_empty() && is_number(d)) {
        out.push(digits.trim_start_matches('0').to_string());
    } else if is_saint(word) && word != SAINT {
        out.push(SAINT.to_string());
    }
    out
}

/// Only ASCII digits.
pub fn is_number(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit())
}

/// A word of an indexed name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameWord {
    /// The folded word (`garibaldi`, `sant`, `xx`).
    pub term: String,
    /// Other terms it is found under ([`aliases`]; for a compound, none).
    pub aliases: Vec<String>,
    /// An article or preposition.
    pub stop: bool,
    /// A compound (`santantonio`) stands for this many words starting here, 0 for a plain word.
    pub compound_of: u8,
}

/// The words under which a name (odonimo, locality, second-language name) is indexed, compounds of elisions
/// included: `VIA MASSIMO D'AZEGLIO` → `via`, `massimo`, `d`, `azeglio`, and `dazeglio` for both last words.
pub fn name_words(name: &str) -> Vec<NameWord> {
    let folded = fold(name);
    let parts = split_words(&folded);
    let mut out: Vec<NameWord> = parts
        .iter()
        .map(|(w, _)| NameWord { term: w.clone(), aliases: aliases(w), stop: is_stop(w), compound_of: 0 })
        .collect();
    for (i, (w, elided)) in parts.iter().enumerate() {
        if *elided && let Some((next, _)) = parts.get(i + 1) {
            out.push(NameWord { term: format!("{w}{next}"), aliases: vec![], stop: false, compound_of: 2 });
        }
    }
    out
}

/// Splits a folded text into words of letters and digits. Returns each word with whether an elision joins it to
/// the next one: an apostrophe directly followed by a letter is an elision (`sant'anna`), one followed by a space
/// or the end is an accent (`carra'`).
pub fn split_words(folded: &str) -> Vec<(String, bool)> {
    let chars: Vec<char> = folded.chars().collect();
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            current.push(c);
        } else if !current.is_empty() {
            let elision = c == '\'' && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
            out.push((std::mem::take(&mut current), elision));
        }
    }
    if !current.is_empty() {
        out.push((current, false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_removes_case_accents_and_apostrophe_variants() {
        assert_eq!(fold("D’AZEGLIO"), "d'azeglio");
        assert_eq!(fold("Località Carrà"), "localita carra");
        assert_eq!(fold("NICCOLÒ TOMMASEO"), "niccolo tommaseo");
        assert_eq!(fold("Sant`Anna"), "sant'anna");
        assert_eq!(fold("Forlì"), "forli");
    }

    #[test]
    fn roman_numerals_up_to_39_are_numbers() {
        assert_eq!(roman_value("iv"), Some(4));
        assert_eq!(roman_value("xx"), Some(20));
        assert_eq!(roman_value("xxiv"), Some(24));
        assert_eq!(roman_value("xxxix"), Some(39));
        assert_eq!(roman_value("i"), Some(1));
        assert_eq!(roman_value("di"), None);
        assert_eq!(roman_value("mi"), None);
        assert_eq!(roman_value("xl"), None);
        assert_eq!(roman_value("xxxx"), None);
        assert_eq!(roman_value("via"), None);
        assert_eq!(roman_value(""), None);
    }

    #[test]
    fn aliases_make_spellings_meet() {
        assert_eq!(aliases("iv"), ["4"]);
        assert_eq!(aliases("seconda"), ["2"]);
        assert_eq!(aliases("2a"), ["2"]);
        assert_eq!(aliases("santa"), ["s"]);
        assert_eq!(aliases("sant"), ["s"]);
        assert!(aliases("s").is_empty());
        assert!(aliases("garibaldi").is_empty());
        assert!(aliases("nona").len() == 1 && aliases("nonna").is_empty());
    }

    #[test]
    fn names_are_indexed_with_elisions_split_and_joined() {
        let words = name_words("VIA MASSIMO D'AZEGLIO");
        let terms: Vec<&str> = words.iter().map(|w| w.term.as_str()).collect();
        assert_eq!(terms, ["via", "massimo", "d", "azeglio", "dazeglio"]);
        assert!(words[2].stop);
        assert_eq!(words[4].compound_of, 2);
        let terms: Vec<String> = name_words("CONTRADA CARRA' COLA").into_iter().map(|w| w.term).collect();
        assert_eq!(terms, ["contrada", "carra", "cola"]);
        let words = name_words("LARGHETTO SANT’ANTONIO");
        assert_eq!(words[1].aliases, ["s"]);
        assert_eq!(words[3].term, "santantonio");
        let terms: Vec<String> = name_words("VIA XXIV MAGGIO").into_iter().map(|w| w.term).collect();
        assert_eq!(terms, ["via", "xxiv", "maggio"]);
        assert_eq!(name_words("VIA XXIV MAGGIO")[1].aliases, ["24"]);
    }

    #[test]
    fn words_split_on_punctuation() {
        let words: Vec<String> = split_words("p.zza s.agostino, 12/a").into_iter().map(|w| w.0).collect();
        assert_eq!(words, ["p", "zza", "s", "agostino", "12", "a"]);
        assert_eq!(split_words("d'azeglio"), [("d".to_string(), true), ("azeglio".to_string(), false)]);
        assert_eq!(split_words("carra'"), [("carra".to_string(), false)]);
        assert_eq!(split_words("carra' cola")[0], ("carra".to_string(), false));
    }
}
