use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The civil-protection alert scale, ordered from calm to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// No expected phenomena of note.
    Verde,
    /// Localised phenomena.
    Gialla,
    /// Widespread phenomena.
    Arancione,
    /// Severe, widespread phenomena.
    Rossa,
}

impl Level {
    /// Every level, in increasing severity.
    pub const ALL: [Level; 4] = [Level::Verde, Level::Gialla, Level::Arancione, Level::Rossa];

    /// The name as stored and exchanged (`verde`, `gialla`, `arancione`, `rossa`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Verde => "verde",
            Level::Gialla => "gialla",
            Level::Arancione => "arancione",
            Level::Rossa => "rossa",
        }
    }

    /// Italian label, as bulletins write it.
    pub fn label_it(self) -> &'static str {
        match self {
            Level::Verde => "Allerta verde",
            Level::Gialla => "Allerta gialla",
            Level::Arancione => "Allerta arancione",
            Level::Rossa => "Allerta rossa",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Level::Verde => "Green (no alert)",
            Level::Gialla => "Yellow alert",
            Level::Arancione => "Orange alert",
            Level::Rossa => "Red alert",
        }
    }
}

impl FromStr for Level {
    type Err = Error;

    /// Accepts the Italian names and the English colours (`yellow`, `orange`, `red`, `green`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "verde" | "green" => Ok(Level::Verde),
            "gialla" | "yellow" => Ok(Level::Gialla),
            "arancione" | "orange" => Ok(Level::Arancione),
            "rossa" | "red" => Ok(Level::Rossa),
            _ => Err(Error::UnknownLevel(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_by_severity() {
        assert!(
            Level::Verde < Level::Gialla
                && Level::Gialla < Level::Arancione
                && Level::Arancione < Level::Rossa
        );
        assert_eq!("orange".parse::<Level>().unwrap(), Level::Arancione);
        assert_eq!("Rossa".parse::<Level>().unwrap(), Level::Rossa);
        assert!("viola".parse::<Level>().is_err());
    }
}
