//! House numbers (*civici*): the number, its exponent (`A`, `BIS`, …), its colour (Genova's red numbers, `ROSSO`,
//! are different addresses from the black ones, `NERO`), kilometric numbers (`METRICO`) and accesses with no
//! number (`SNC`, *senza numero civico*).

/// `SPECIFICITA` of Genova's red numbers (shops, workshops): `12r` is not `12`.
pub const ROSSO: &str = "ROSSO";
/// `SPECIFICITA` of black numbers (dwellings), written as a plain number.
pub const NERO: &str = "NERO";

/// A house number as ANNCSU describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HouseNumber {
    /// `CIVICO`; `None` for an access with no number (SNC) or a kilometric one.
    pub numero: Option<i32>,
    /// `ESPONENTE`, upper case (`A`, `BIS`, `2`); empty when none.
    pub esponente: String,
    /// `SPECIFICITA`, upper case (`ROSSO`, `NERO`); empty when none.
    pub specificita: String,
    /// `METRICO`: the kilometric position along the road, as published (`12,500`).
    pub metrico: Option<String>,
}

impl HouseNumber {
    /// Reads the `CIVICO`, `ESPONENTE`, `SPECIFICITA` and `METRICO` fields. A `CIVICO` with letters after the digits
    /// (`12A`) carries its exponent when `ESPONENTE` is empty; `0` or an empty `CIVICO` is an access with no number.
    pub fn from_fields(
        civico: &str,
        esponente: &str,
        specificita: &str,
        metrico: &str,
    ) -> Result<Self, String> {
        let civico = civico.trim();
        let mut esponente = esponente.trim().trim_start_matches('/').to_uppercase();
        let digits: String = civico.chars().take_while(char::is_ascii_digit).collect();
        let rest = civico[digits.len()..].trim().trim_start_matches(['/', '-', ' ']);
        if civico.is_empty() {
            // no number
        } else if digits.is_empty() {
            return Err(format!("CIVICO `{civico}` is not a number"));
        } else if !rest.is_empty() {
            if !esponente.is_empty() || !rest.chars().all(char::is_alphanumeric) {
                return Err(format!("CIVICO `{civico}` is not a number"));
            }
            esponente = rest.to_uppercase();
        }
        let numero = match digits.parse::<i32>() {
            Ok(0) | Err(_) if digits.chars().all(|c| c == '0') => None,
            Ok(n) => Some(n),
            Err(_) => return Err(format!("CIVICO `{civico}` is too large")),
        };
        let metrico = Some(metrico.trim()).filter(|m| !m.is_empty()).map(str::to_string);
        Ok(HouseNumber { numero, esponente, specificita: specificita.trim().to_uppercase(), metrico })
    }

    /// Whether this is one of Genova's red numbers.
    pub fn is_red(&self) -> bool {
        self.specificita == ROSSO
    }

    /// The number as written in an address: `12`, `12/A`, `12 bis`, `12r`, `12/A r`, `km 3,5`, `snc`.
    pub fn display(&self) -> String {
        display(self.numero, &self.esponente, &self.specificita, self.metrico.as_deref())
    }
}

/// [`HouseNumber::display`] on the stored columns.
pub fn display(numero: Option<i32>, esponente: &str, specificita: &str, metrico: Option<&str>) -> String {
    let mut out = match (numero, metrico) {
        (Some(n), _) => n.to_string(),
        (None, Some(m)) => format!("km {m}"),
        (None, None) => "snc".to_string(),
    };
    let esponente = esponente.trim();
    if !esponente.is_empty() {
        if esponente.chars().count() == 1 || esponente.chars().all(|c| c.is_ascii_digit()) {
            out.push('/');
            out.push_str(&esponente.to_uppercase());
        } else {
            out.push(' ');
            out.push_str(&esponente.to_lowercase());
        }
    }
    if specificita.eq_ignore_ascii_case(ROSSO) {
        if !esponente.is_empty() {
            out.push(' ');
        }
        out.push('r');
    } else if !specificita.is_empty() && !specificita.eq_ignore_ascii_case(NERO) {
        out.push(' ');
        out.push_str(&specificita.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hn(c: &str, e: &str, s: &str, m: &str) -> HouseNumber {
        HouseNumber::from_fields(c, e, s, m).unwrap()
    }

    #[test]
    fn house_numbers_are_read_from_the_anncsu_fields() {
        assert_eq!(hn("12", "", "", "").numero, Some(12));
        assert_eq!(hn("12", "a", "", "").esponente, "A");
        assert_eq!(hn("12A", "", "", "").esponente, "A");
        assert_eq!(hn("12/bis", "", "", "").esponente, "BIS");
        assert_eq!(hn("", "", "", "").numero, None);
        assert_eq!(hn("0", "", "", "").numero, None);
        assert_eq!(hn("", "", "", "3,5").metrico.as_deref(), Some("3,5"));
        assert!(hn("7", "", "rosso", "").is_red());
        assert!(HouseNumber::from_fields("A12", "", "", "").is_err());
        assert!(HouseNumber::from_fields("12A", "B", "", "").is_err());
    }

    #[test]
    fn house_numbers_are_displayed_as_italians_write_them() {
        assert_eq!(hn("12", "", "", "").display(), "12");
        assert_eq!(hn("12", "A", "", "").display(), "12/A");
        assert_eq!(hn("12", "2", "", "").display(), "12/2");
        assert_eq!(hn("12", "BIS", "", "").display(), "12 bis");
        assert_eq!(hn("12", "", "ROSSO", "").display(), "12r");
        assert_eq!(hn("12", "", "NERO", "").display(), "12");
        assert_eq!(hn("12", "A", "ROSSO", "").display(), "12/A r");
        assert_eq!(hn("", "", "", "3,5").display(), "km 3,5");
        assert_eq!(hn("", "", "", "").display(), "snc");
    }
}
