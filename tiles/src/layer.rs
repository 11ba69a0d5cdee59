//! The map layers Vedetta serves as vector tiles, and sets of them (several layers in one tile).

use std::fmt;
use std::time::Duration;

use crate::{Error, Result};

/// One layer of the vector tiles. Its name is the MVT layer name and the URL segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// Municipal boundaries (`core.comune`).
    Comuni,
    /// Alert zones with the colour of their most severe firing alert (`alerts.zone_status`).
    AlertZones,
    /// Stations: kind, latest value, colour by threshold or firing alert, silent.
    Stations,
    /// Citizen reports, public ones only (approved, not hidden), public fields only.
    Reports,
    /// DB Topografico objects in force, by class with a zoom range per class, generalised by zoom.
    Dbt,
    /// Zoning in force on a date (`?date=`, default today).
    Zoning,
    /// House numbers (ANNCSU), from zoom 17.
    Civici,
    /// Street names at a label point (ANNCSU).
    Streets,
}

/// What a client can know of a layer's attributes: name, MVT type, meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    /// `String`, `Number` or `Boolean`, as TileJSON describes fields.
    pub kind: &'static str,
    pub description: &'static str,
}

/// A [`Field`] as a constant expression (promoted to `'static`).
macro_rules! field {
    ($name:literal, $kind:literal, $description:literal) => {
        Field { name: $name, kind: $kind, description: $description }
    };
}

impl Layer {
    /// Every layer, in the order the layers of a tile are written.
    pub const ALL: [Layer; 8] = [
        Layer::Comuni,
        Layer::Zoning,
        Layer::Dbt,
        Layer::AlertZones,
        Layer::Streets,
        Layer::Civici,
        Layer::Reports,
        Layer::Stations,
    ];

    /// The name in URLs and the MVT layer name.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Comuni => "comuni",
            Layer::AlertZones => "alert_zones",
            Layer::Stations => "stations",
            Layer::Reports => "reports",
            Layer::Dbt => "dbt",
            Layer::Zoning => "zoning",
            Layer::Civici => "civici",
            Layer::Streets => "streets",
        }
    }

    /// The layer named `name`.
    pub fn from_name(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The Italian title shown to users (legend, layer switcher).
    pub fn title(self) -> &'static str {
        match self {
            Layer::Comuni => "Comuni",
            Layer::AlertZones => "Zone di allerta",
            Layer::Stations => "Stazioni",
            Layer::Reports => "Segnalazioni",
            Layer::Dbt => "DB Topografico",
            Layer::Zoning => "Zonizzazione (PUC/PRG)",
            Layer::Civici => "Numeri civici",
            Layer::Streets => "Strade",
        }
    }

    /// What the layer holds, in English (TileJSON `description`).
    pub fn description(self) -> &'static str {
        match self {
            Layer::Comuni => "Municipal boundaries",
            Layer::AlertZones => "Alert zones with the colour of their most severe firing alert",
            Layer::Stations => "Rain gauges and hydrometers with their latest value and alert colour",
            Layer::Reports => "Public citizen reports (category, status, supporters, age); no reporter data",
            Layer::Dbt => "DB Topografico objects in force, by class",
            Layer::Zoning => "Zoning (PUC/PRG) in force on the date of ?date= (default today)",
            Layer::Civici => "House numbers (ANNCSU)",
            Layer::Streets => "Street names at a label point (ANNCSU)",
        }
    }

    /// The attributes of the layer's features (the feature id is set too: see [`Layer::id_field`]).
    pub fn fields(self) -> &'static [Field] {
        match self {
            Layer::Comuni => {
                &[field!("istat", "String", "ISTAT code"), field!("name", "String", "Name of the comune")]
            }
            Layer::AlertZones => &[
                field!("code", "String", "Zone code"),
                field!("name", "String", "Zone name"),
                field!("level", "String", "verde, gialla, arancione or rossa"),
            ],
            Layer::Stations => &[
                field!("code", "String", "Station code"),
                field!("kind", "String", "rain_gauge or hydrometer"),
                field!(
                    "value",
                    "Number",
                    "Latest value: rain in mm since the previous report, or level in m"
                ),
                field!("observed_at", "Number", "Time of the latest value, seconds since 1970 (UTC)"),
                field!(
                    "level",
                    "String",
                    "verde, gialla, arancione or rossa: threshold crossed or firing alert"
                ),
                field!("silent", "Boolean", "No reading for three reporting intervals"),
            ],
            Layer::Reports => &[
                field!("category", "String", "Category code"),
                field!("status", "String", "Workflow status"),
                field!("supporters", "Number", "People who confirmed the report"),
                field!("age_days", "Number", "Whole days since the report was filed"),
            ],
            Layer::Dbt => &[
                field!("class", "String", "DB Topografico class (EDIFC, TR_STR, …)"),
                field!("code", "String", "Object code within its class"),
            ],
            Layer::Zoning => &[
                field!("code", "String", "Zone code"),
                field!("class", "String", "DM 1444/68 class A–F"),
                field!("nta", "String", "Article of the implementing rules (NTA)"),
                field!("plan", "String", "Plan"),
                field!("version", "String", "Plan version or variant"),
            ],
            Layer::Civici => &[
                field!("label", "String", "House number as written (12, 12A, 12r)"),
                field!("numero", "Number", "Number without exponent"),
                field!("street", "String", "Street name (odonimo)"),
            ],
            Layer::Streets => &[
                field!("name", "String", "Street name (odonimo) as published"),
                field!("comune", "String", "ISTAT code of the comune"),
                field!("civici", "Number", "House numbers along the street"),
            ],
        }
    }

    /// What the MVT feature id is.
    pub fn id_field(self) -> &'static str {
        match self {
            Layer::Comuni => "ISTAT code as a number",
            Layer::AlertZones => "a hash of the zone code (use the `code` attribute to name a zone)",
            Layer::Stations => "station id",
            Layer::Reports => "report id",
            Layer::Dbt => "object version",
            Layer::Zoning => "zone id",
            Layer::Civici => "ANNCSU PROGRESSIVO_ACCESSO",
            Layer::Streets => "ANNCSU PROGRESSIVO_NAZIONALE",
        }
    }

    /// The zooms the layer has data at: below `min` its tiles are empty; beyond `max` clients overzoom (tiles
    /// are served at any zoom up to [`crate::TileCoord::MAX_ZOOM`]).
    pub fn zooms(self) -> (u8, u8) {
        match self {
            Layer::Comuni | Layer::AlertZones => (0, 14),
            Layer::Stations => (0, 16),
            Layer::Reports => (8, 18),
            Layer::Dbt => (12, 18),
            Layer::Zoning => (10, 18),
            Layer::Civici => (17, 20),
            Layer::Streets => (14, 18),
        }
    }

    /// Live layers change with readings, reports and alerts: their tiles are dropped one by one when the data
    /// under them changes, and clients revalidate them on every use (`no-cache` with an `ETag`: a 304 when
    /// unchanged), so a map refreshes a tile when an event names it and never on a timer.
    pub fn is_live(self) -> bool {
        matches!(self, Layer::Stations | Layer::Reports | Layer::AlertZones)
    }

    /// How long clients may keep a tile without asking again (`Cache-Control: max-age`; zero: `no-cache`).
    pub fn max_age(self) -> Duration {
        if self.is_live() { Duration::ZERO } else { Duration::from_secs(3600) }
    }

    /// Whether the layer reads the request's `date` (only zoning does).
    pub fn takes_date(self) -> bool {
        self == Layer::Zoning
    }

    /// The SQL of the layer's tile: `$1` zoom (int2), `$2` x, `$3` y (int8), and for [`Layer::takes_date`] `$4` a
    /// JSON object `{"date": "YYYY-MM-DD"}`; one row, one MVT layer.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Layer::Comuni => include_str!("sql/comuni.sql"),
            Layer::AlertZones => include_str!("sql/alert_zones.sql"),
            Layer::Stations => include_str!("sql/stations.sql"),
            Layer::Reports => include_str!("sql/reports.sql"),
            Layer::Dbt => include_str!("sql/dbt.sql"),
            Layer::Zoning => include_str!("sql/zoning.sql"),
            Layer::Civici => include_str!("sql/civici.sql"),
            Layer::Streets => include_str!("sql/streets.sql"),
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Several layers served in one tile (`stations,reports`): a set, written in the order of [`Layer::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LayerSet(u16);

impl LayerSet {
    /// The layers named in a comma-separated list (`stations,reports`); a name given twice counts once.
    pub fn parse(list: &str) -> Result<LayerSet> {
        if list.len() > 200 {
            return Err(Error::BadLayers {
                detail: "the list of layers is longer than 200 characters".into(),
            });
        }
        let mut set = LayerSet::default();
        for name in list.split(',') {
            if name.is_empty() {
                return Err(Error::BadLayers {
                    detail: format!(
                        "`{list}`: name layers separated by single commas, e.g. `stations,reports`"
                    ),
                });
            }
            let layer =
                Layer::from_name(name).ok_or_else(|| Error::UnknownLayer { name: name.to_string() })?;
            set = set.with(layer);
        }
        Ok(set)
    }

    /// The set of one layer.
    pub fn one(layer: Layer) -> LayerSet {
        LayerSet(layer.bit())
    }

    /// This set and `layer`.
    pub fn with(self, layer: Layer) -> LayerSet {
        LayerSet(self.0 | layer.bit())
    }

    pub fn contains(self, layer: Layer) -> bool {
        self.0 & layer.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The layers, in the order of [`Layer::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Layer> {
        Layer::ALL.into_iter().filter(move |l| self.contains(*l))
    }

    /// Whether any layer is live ([`Layer::is_live`]).
    pub fn is_live(self) -> bool {
        self.iter().any(Layer::is_live)
    }

    /// The shortest `max-age` of the layers.
    pub fn max_age(self) -> Duration {
        self.iter().map(Layer::max_age).min().unwrap_or(Duration::ZERO)
    }

    /// Whether a layer reads the request's date.
    pub fn takes_date(self) -> bool {
        self.iter().any(Layer::takes_date)
    }
}

impl fmt::Display for LayerSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Layer::name).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for layer in Layer::ALL {
            assert_eq!(Layer::from_name(layer.name()), Some(layer));
        }
        assert_eq!(Layer::from_name("Stations"), None);
    }

    #[test]
    fn a_set_is_written_in_one_order_whatever_the_request_says() {
        let a = LayerSet::parse("stations,comuni,reports").unwrap();
        let b = LayerSet::parse("reports,stations,comuni,stations").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "comuni,reports,stations");
        assert!(a.is_live());
        assert_eq!(a.max_age(), Duration::ZERO);
        assert!(!LayerSet::parse("comuni,dbt").unwrap().is_live());
    }

    #[test]
    fn unknown_and_malformed_lists_are_refused() {
        assert!(
            matches!(LayerSet::parse("stations,roads"), Err(Error::UnknownLayer { name }) if name == "roads")
        );
        assert!(matches!(LayerSet::parse("stations,,reports"), Err(Error::BadLayers { .. })));
        assert!(matches!(LayerSet::parse(""), Err(Error::BadLayers { .. })));
        assert!(matches!(LayerSet::parse(&"a,".repeat(200)), Err(Error::BadLayers { .. })));
    }
}
