use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// What a station measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// Rain fallen since the previous report, in millimetres (rain gauges).
    Rain,
    /// Water level above the hydrometric zero, in metres (hydrometers).
    Level,
}

impl Quantity {
    /// Both quantities.
    pub const ALL: [Quantity; 2] = [Quantity::Rain, Quantity::Level];

    /// The name used in MQTT topics and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Quantity::Rain => "rain",
            Quantity::Level => "level",
        }
    }

    /// The unit symbol (UCUM).
    pub fn unit(self) -> &'static str {
        match self {
            Quantity::Rain => "mm",
            Quantity::Level => "m",
        }
    }

    /// The code stored in `sensors.reading.quantity`.
    pub fn code(self) -> i16 {
        match self {
            Quantity::Rain => 1,
            Quantity::Level => 2,
        }
    }

    /// The quantity of a stored code.
    pub fn from_code(code: i16) -> Option<Quantity> {
        match code {
            1 => Some(Quantity::Rain),
            2 => Some(Quantity::Level),
            _ => None,
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Quantity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rain" => Ok(Quantity::Rain),
            "level" => Ok(Quantity::Level),
            other => Err(Error::UnknownQuantity(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_names_and_codes_round_trip() {
        for q in Quantity::ALL {
            assert_eq!(q.as_str().parse::<Quantity>().unwrap(), q);
            assert_eq!(Quantity::from_code(q.code()), Some(q));
        }
        assert!("temperature".parse::<Quantity>().unwrap_err().to_string().contains("temperature"));
    }
}
