//! Odonimi (street names): the DUG (*denominazione urbanistica generica*: VIA, PIAZZA, SALITA, …) split from the
//! denomination, and the display form of the upper-case names ANNCSU publishes.

/// DUGs of the ANNCSU list as ANNCSU writes them (upper case, an apostrophe for a final accent). Multi-word DUGs
/// come before the one-word DUG they extend, so that the longest one is found first.
pub const DUGS: &[&str] = &[
    "STRADA STATALE",
    "STRADA PROVINCIALE",
    "STRADA COMUNALE",
    "STRADA REGIONALE",
    "STRADA VICINALE",
    "STRADA PRIVATA",
    "STRADA CONSORTILE",
    "STRADA INTERPODERALE",
    "VIA PRIVATA",
    "CASE SPARSE",
    "RIO TERA'",
    "ACCESSO",
    "ALZAIA",
    "ANDRONA",
    "ANGIPORTO",
    "ARCO",
    "ARGINE",
    "ATRIO",
    "BACINO",
    "BAGLIO",
    "BALUARDO",
    "BANCHINA",
    "BASTIONE",
    "BELVEDERE",
    "BIVIO",
    "BORGATA",
    "BORGO",
    "CALATA",
    "CALLE",
    "CALLESELLA",
    "CAMPIELLO",
    "CAMPO",
    "CANALE",
    "CANTONE",
    "CARRARO",
    "CASALE",
    "CASCINA",
    "CAVALCAVIA",
    "CHIASSO",
    "CIRCONVALLAZIONE",
    "CLIVO",
    "COLLE",
    "CONTRADA",
    "CORSO",
    "CORTE",
    "CORTILE",
    "COSTA",
    "CROCICCHIO",
    "CROSA",
    "CROSETTA",
    "DISCESA",
    "FONDACO",
    "FONDAMENTA",
    "FRAZIONE",
    "GALLERIA",
    "GIARDINO",
    "ISOLA",
    "LARGHETTO",
    "LARGO",
    "LITORANEA",
    "LOCALITA'",
    "LUNGADIGE",
    "LUNGARNO",
    "LUNGOLAGO",
    "LUNGOMARE",
    "LUNGOPO",
    "LUNGOTEVERE",
    "MOLO",
    "MULATTIERA",
    "PARCO",
    "PASSAGGIO",
    "PASSEGGIATA",
    "PASSO",
    "PENDINO",
    "PIAZZA",
    "PIAZZALE",
    "PIAZZETTA",
    "PONTE",
    "PORTA",
    "PORTICO",
    "PRATO",
    "QUARTIERE",
    "RAMO",
    "RAMPA",
    "RAMPE",
    "RIO",
    "RIONE",
    "RIVA",
    "RONCO",
    "ROTONDA",
    "RUA",
    "RUGA",
    "SALITA",
    "SALIZADA",
    "SCALA",
    "SCALINATA",
    "SCALINATELLA",
    "SCALINI",
    "SENTIERO",
    "SOBBORGO",
    "SOTTOPORTEGO",
    "SOTTOPASSAGGIO",
    "SPALTO",
    "SPIAZZO",
    "STRADA",
    "STRADELLA",
    "STRADONE",
    "SUPPORTICO",
    "TRATTURO",
    "TRAVERSA",
    "TRAZZERA",
    "VALLE",
    "VIA",
    "VIALE",
    "VIALETTO",
    "VICO",
    "VICOLETTO",
    "VICOLO",
    "VILLAGGIO",
    "VOCABOLO",
    "ZONA",
];

/// Splits an ODONIMO (`VIA GIUSEPPE GARIBALDI`) into its DUG (`VIA`) and denomination (`GIUSEPPE GARIBALDI`).
/// Words are separated by single spaces in the result. An odonimo that does not start with a known DUG, or that
/// is a DUG alone, has an empty DUG and is all denomination.
pub fn split(odonimo: &str) -> (String, String) {
    let words: Vec<&str> = odonimo.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_uppercase()).collect();
    for dug in DUGS {
        let n = dug.split(' ').count();
        if words.len() > n && dug.split(' ').zip(&upper).all(|(d, w)| dug_word_eq(d, w)) {
            return (words[..n].join(" "), words[n..].join(" "));
        }
    }
    (String::new(), words.join(" "))
}

/// `LOCALITA'` also arrives as `LOCALITÀ` or `LOCALITA`.
fn dug_word_eq(dug: &str, word: &str) -> bool {
    if dug == word {
        return true;
    }
    match dug.strip_suffix('\'') {
        Some(stem) => word.strip_suffix(['À', 'A']).is_some_and(|w| stem.strip_suffix('A') == Some(w)),
        None => false,
    }
}

/// Prepositions written in lower case inside a name (`Via dei Mille`, `Piazza San Francesco da Paola`).
/// Articles (`La`, `Lo`, `De`) stay capitalised: they usually begin a surname (`Via Ugo La Malfa`).
const LOWER_PARTICLES: &[&str] = &[
    "di", "del", "dello", "della", "dei", "degli", "delle", "da", "dal", "dallo", "dalla", "dai", "dagli",
    "dalle", "e", "ed", "al", "allo", "alla", "ai", "agli", "alle", "nel", "nello", "nella", "nei", "negli",
    "nelle", "sul", "sullo", "sulla", "sui", "sugli", "sulle", "in", "per", "con", "tra", "fra", "sotto",
    "sopra",
];

/// Elided particles before an apostrophe, written in lower case (`Via dell'Annunziata`).
const LOWER_ELIDED: &[&str] = &["dell", "dall", "nell", "sull", "all", "d", "l"];

/// The display form of an upper-case ANNCSU name: `VIA DEI PATRIOTI 1848` → `Via dei Patrioti 1848`,
/// `CONTRADA CARRA'` → `Contrada Carrà`, `LARGO SANT'ANTONIO` → `Largo Sant'Antonio`, `VIA XX SETTEMBRE` →
/// `Via XX Settembre`. A vowel followed by an apostrophe at the end of a word is the way ANNCSU writes a final
/// accent, and becomes the accented letter (grave; Italian upper-case data does not tell `é` from `è`).
pub fn display(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, word) in name.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        display_word(word, i == 0, &mut out);
    }
    out
}

fn display_word(word: &str, first: bool, out: &mut String) {
    let lower = word.to_lowercase();
    if !first && LOWER_PARTICLES.contains(&lower.as_str()) {
        out.push_str(&lower);
        return;
    }
    if crate::geocoder::normalize::roman_value(&lower).is_some() && lower != "di" {
        out.push_str(&word.to_uppercase());
        return;
    }
    // Parts around apostrophes and hyphens: `SANT'ANTONIO`, `DELL'ANNUNZIATA`, `EMILIA-ROMAGNA`, `CARRA'`.
    let chars: Vec<char> = lower.chars().collect();
    let mut start_of_part = true;
    let mut part_index = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '’' {
            let at_end = i + 1 == chars.len();
            let prev = out.chars().last();
            if at_end && let Some(accented) = prev.and_then(accent) {
                out.pop();
                out.push(accented);
            } else {
                out.push('\'');
            }
            start_of_part = true;
            part_index += 1;
        } else if c == '-' || c == '/' || c == '(' || c == '.' {
            out.push(c);
            start_of_part = true;
            part_index += 1;
        } else if start_of_part {
            let part: String = chars[i..].iter().take_while(|c| c.is_alphanumeric()).collect();
            let elided_particle =
                chars.get(i + part.chars().count()).is_some_and(|c| *c == '\'' || *c == '’')
                    && LOWER_ELIDED.contains(&part.as_str())
                    && !(first && part_index == 0);
            if elided_particle {
                out.push(c);
            } else {
                out.extend(c.to_uppercase());
            }
            start_of_part = false;
        } else {
            out.push(c);
        }
        i += 1;
    }
}

/// The grave-accented form of a lower-case vowel.
fn accent(c: char) -> Option<char> {
    Some(match c {
        'a' => 'à',
        'e' => 'è',
        'i' => 'ì',
        'o' => 'ò',
        'u' => 'ù',
        'A' => 'À',
        'E' => 'È',
        'I' => 'Ì',
        'O' => 'Ò',
        'U' => 'Ù',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dug_is_split_from_the_denomination() {
        assert_eq!(split("VIA GIUSEPPE GARIBALDI"), ("VIA".into(), "GIUSEPPE GARIBALDI".into()));
        assert_eq!(split("LOCALITA' SAN PIETRO"), ("LOCALITA'".into(), "SAN PIETRO".into()));
        assert_eq!(split("LOCALITÀ SAN PIETRO"), ("LOCALITÀ".into(), "SAN PIETRO".into()));
        assert_eq!(split("STRADA STATALE 18"), ("STRADA STATALE".into(), "18".into()));
        assert_eq!(split("STRADA  DEL  MARE"), ("STRADA".into(), "DEL MARE".into()));
        assert_eq!(split("PIAZZALE KENNEDY"), ("PIAZZALE".into(), "KENNEDY".into()));
        assert_eq!(split("VIALE"), (String::new(), "VIALE".into()));
        assert_eq!(split("CIRCUITO X"), (String::new(), "CIRCUITO X".into()));
    }

    #[test]
    fn names_are_displayed_in_italian_title_case() {
        assert_eq!(display("VIA DEI PATRIOTI NICASTRESI 1848"), "Via dei Patrioti Nicastresi 1848");
        assert_eq!(display("CONTRADA CARRA' COLA"), "Contrada Carrà Cola");
        assert_eq!(display("LARGO DEL GESU'"), "Largo del Gesù");
        assert_eq!(display("LOCALITA' SAN MINA' INFERIORE"), "Località San Minà Inferiore");
        assert_eq!(display("LARGHETTO SANT'ANTONIO"), "Larghetto Sant'Antonio");
        assert_eq!(display("VIA MASSIMO D'AZEGLIO"), "Via Massimo d'Azeglio");
        assert_eq!(display("VIA DELL'ANNUNZIATA"), "Via dell'Annunziata");
        assert_eq!(display("VIA XXIV MAGGIO"), "Via XXIV Maggio");
        assert_eq!(display("VIA UMBERTO I"), "Via Umberto I");
        assert_eq!(display("VIA UGO LA MALFA"), "Via Ugo La Malfa");
        assert_eq!(
            display("TRAVERSA SECONDA DI VIA GUGLIELMO MARCONI"),
            "Traversa Seconda di Via Guglielmo Marconi"
        );
        assert_eq!(display("PIAZZA EMILIA-ROMAGNA"), "Piazza Emilia-Romagna");
        assert_eq!(display("Laubengasse"), "Laubengasse");
    }
}
