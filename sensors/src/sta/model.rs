//! SensorThings entity sets over Vedetta's tables: how each set is selected, identified, filtered, related and
//! rendered (JSON built by PostgreSQL). The queries that read them are in [`super::read`], re-exported here.

use super::query::{Bind, Field, FieldKind, FieldResolver};
pub use super::read::{
    DEFAULT_TOP, Entity, Expanded, Expansion, MAX_ENTITIES, MAX_EXPAND_TOP, MAX_TOP, Next, Page, Scope,
    begin, read, read_one,
};

/// The entity sets Vedetta serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntitySet {
    Things,
    Locations,
    HistoricalLocations,
    Datastreams,
    Sensors,
    ObservedProperties,
    Observations,
    FeaturesOfInterest,
}

const STATION: &str = "sensors.station s";
const DATASTREAM: &str = "sensors.station s cross join lateral (select (case s.kind when 'rain_gauge' then 1 else 2 end)::int as q) d";
const OBSERVED_PROPERTY: &str = "(values
    (1, 'Precipitazione / Precipitation', 'http://vocab.nerc.ac.uk/collection/P07/current/CFSN0063/',
        'Pioggia caduta dal rapporto precedente / rain fallen since the previous report'),
    (2, 'Livello idrometrico / Water level', 'http://vocab.nerc.ac.uk/collection/P07/current/CFSN0722/',
        'Livello sopra lo zero idrometrico / level above the hydrometric zero')) as op (id, name, definition, description)";
const OBSERVATION: &str = "sensors.reading r join sensors.station s on s.id = r.station_id";
const NOTHING: &str = "(select 1::bigint as id where false) h";

const KIND_LABEL: &str = "(case s.kind when 'rain_gauge' then 'Pluviometro' else 'Idrometro' end)";
const THING_PROPERTIES: &str = "(s.properties || jsonb_strip_nulls(jsonb_build_object('code', s.code, 'kind', s.kind, \
     'river', s.river, 'basin', s.basin, 'comune', s.comune_istat, 'elevation_m', s.elevation_m, \
     'interval_s', s.interval_s, 'thresholds', s.thresholds)))";
/// [`super::observation_id`] in SQL: the series above 44 bits of milliseconds since 1900 (floored).
const OBSERVATION_ID: &str = "(((r.station_id * 2 + r.quantity - 1) << 44) \
     | (floor(extract(epoch from r.observed_at) * 1000)::bigint + 2208988800000))";
/// The readings that have Observation ids ([`super::observation_id`]): the others are not served.
const OBSERVATION_SERVED: &str = "r.station_id <= 262143 and r.observed_at >= '1900-01-01T00:00:00Z' \
     and r.observed_at < '2400-01-01T00:00:00Z'";
const OBSERVATION_TIME: &str =
    "to_char(r.observed_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
const QUALITY: &str = "(select coalesce(jsonb_agg(f.n order by f.b), '[\"ok\"]'::jsonb) from (values (1, 'out_of_range'), \
     (2, 'implausible'), (4, 'spike'), (8, 'flat_line'), (16, 'future')) f (b, n) where r.qc & f.b <> 0)";

impl EntitySet {
    /// Every set, in the order of the landing page.
    pub const ALL: [EntitySet; 8] = [
        EntitySet::Things,
        EntitySet::Locations,
        EntitySet::HistoricalLocations,
        EntitySet::Datastreams,
        EntitySet::Sensors,
        EntitySet::ObservedProperties,
        EntitySet::Observations,
        EntitySet::FeaturesOfInterest,
    ];

    /// The set named in a URL.
    pub fn parse(name: &str) -> Option<EntitySet> {
        EntitySet::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            EntitySet::Things => "Things",
            EntitySet::Locations => "Locations",
            EntitySet::HistoricalLocations => "HistoricalLocations",
            EntitySet::Datastreams => "Datastreams",
            EntitySet::Sensors => "Sensors",
            EntitySet::ObservedProperties => "ObservedProperties",
            EntitySet::Observations => "Observations",
            EntitySet::FeaturesOfInterest => "FeaturesOfInterest",
        }
    }

    pub(super) fn source_sql(self) -> &'static str {
        match self {
            EntitySet::Things | EntitySet::Locations | EntitySet::Sensors | EntitySet::FeaturesOfInterest => {
                STATION
            }
            EntitySet::Datastreams => DATASTREAM,
            EntitySet::ObservedProperties => OBSERVED_PROPERTY,
            EntitySet::Observations => OBSERVATION,
            EntitySet::HistoricalLocations => NOTHING,
        }
    }

    pub(super) fn id_sql(self) -> &'static str {
        match self {
            EntitySet::Things | EntitySet::Locations | EntitySet::Sensors | EntitySet::FeaturesOfInterest => {
                "s.id"
            }
            EntitySet::Datastreams => "(s.id * 10 + d.q)",
            EntitySet::ObservedProperties => "op.id::bigint",
            EntitySet::Observations => OBSERVATION_ID,
            EntitySet::HistoricalLocations => "h.id",
        }
    }

    /// The condition selecting the entity `id` (written so that indexes apply); its values go to `binds`.
    pub(super) fn id_condition(self, id: i64, binds: &mut Vec<Bind>) -> String {
        let mut bind = |value: Bind| {
            binds.push(value);
            format!("${}", binds.len())
        };
        match self {
            EntitySet::Things | EntitySet::Locations | EntitySet::Sensors | EntitySet::FeaturesOfInterest => {
                format!("s.id = {}::bigint", bind(Bind::Integer(id)))
            }
            EntitySet::Datastreams => {
                let p = bind(Bind::Integer(id));
                format!("s.id = {p}::bigint / 10 and d.q = {p}::bigint % 10")
            }
            EntitySet::ObservedProperties => format!("op.id = {}::bigint", bind(Bind::Integer(id))),
            EntitySet::Observations => {
                let Some((datastream, at)) = super::observation_key(id) else {
                    return "false".into();
                };
                let Some(quantity) = super::datastream_quantity(datastream) else {
                    return "false".into();
                };
                // The id names a millisecond; a reading stored with microseconds is found inside it.
                let station = bind(Bind::Integer(super::datastream_station(datastream)));
                let quantity = bind(Bind::Integer(i64::from(quantity.code())));
                let from = bind(Bind::Time(at.fixed_offset()));
                let to = bind(Bind::Time((at + chrono::Duration::milliseconds(1)).fixed_offset()));
                format!(
                    "r.station_id = {station}::bigint and r.quantity = {quantity}::smallint \
                     and r.observed_at >= {from} and r.observed_at < {to}"
                )
            }
            EntitySet::HistoricalLocations => "false".into(),
        }
    }

    /// What every query of the set requires besides scope and filter.
    pub(super) fn base_condition(self) -> &'static str {
        match self {
            EntitySet::Observations => OBSERVATION_SERVED,
            _ => "true",
        }
    }

    pub(super) fn default_order(self) -> &'static str {
        match self {
            EntitySet::Observations => "r.station_id, r.quantity, r.observed_at",
            other => other.id_sql(),
        }
    }

    /// The entity's properties as a `json` object (text built by PostgreSQL, passed through to the response).
    pub(super) fn json_sql(self) -> String {
        match self {
            EntitySet::Things => format!(
                "json_build_object('name', s.name, 'description', {KIND_LABEL} || ' ' || s.code, \
                 'properties', {THING_PROPERTIES})"
            ),
            EntitySet::Locations => "json_build_object('name', s.name, 'description', 'Posizione della stazione ' \
                 || s.code, 'encodingType', 'application/geo+json', 'location', st_asgeojson(s.geom)::json)"
                .into(),
            EntitySet::FeaturesOfInterest => "json_build_object('name', s.name, 'description', \
                 'Punto di misura della stazione ' || s.code, 'encodingType', 'application/geo+json', \
                 'feature', st_asgeojson(s.geom)::json)"
                .into(),
            EntitySet::Sensors => format!(
                "json_build_object('name', {KIND_LABEL} || ' ' || s.code, 'description', 'Strumento della stazione ' \
                 || s.name, 'encodingType', 'text/plain', 'metadata', s.kind, 'properties', \
                 jsonb_strip_nulls(jsonb_build_object('range', case when s.range_min is null then null \
                 else jsonb_build_array(s.range_min, s.range_max) end, 'interval_s', s.interval_s)))"
            ),
            EntitySet::ObservedProperties => {
                "json_build_object('name', op.name, 'definition', op.definition, 'description', op.description)"
                    .into()
            }
            EntitySet::Datastreams => "json_build_object('name', s.name || case d.q when 1 then ' – pioggia' \
                 else ' – livello' end, 'description', case d.q when 1 then 'Pioggia (mm) dal rapporto precedente' \
                 else 'Livello idrometrico (m)' end, 'unitOfMeasurement', case d.q when 1 then \
                 json_build_object('name', 'millimetre', 'symbol', 'mm', 'definition', 'http://unitsofmeasure.org/ucum.html#mm') \
                 else json_build_object('name', 'metre', 'symbol', 'm', 'definition', 'http://unitsofmeasure.org/ucum.html#m') end, \
                 'observationType', 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement', \
                 'properties', json_build_object('station', s.code, 'quantity', case d.q when 1 then 'rain' else 'level' end))"
                .into(),
            EntitySet::Observations => format!(
                "json_build_object('phenomenonTime', {OBSERVATION_TIME}, 'resultTime', {OBSERVATION_TIME}, \
                 'result', r.value, 'resultQuality', {QUALITY})"
            ),
            EntitySet::HistoricalLocations => "json_build_object()".into(),
        }
    }

    /// Navigation properties: name, target set, whether it is a collection.
    pub fn navigation(self) -> &'static [(&'static str, EntitySet, bool)] {
        match self {
            EntitySet::Things => &[
                ("Locations", EntitySet::Locations, true),
                ("HistoricalLocations", EntitySet::HistoricalLocations, true),
                ("Datastreams", EntitySet::Datastreams, true),
            ],
            EntitySet::Locations => &[
                ("Things", EntitySet::Things, true),
                ("HistoricalLocations", EntitySet::HistoricalLocations, true),
            ],
            EntitySet::HistoricalLocations => &[],
            EntitySet::Datastreams => &[
                ("Thing", EntitySet::Things, false),
                ("Sensor", EntitySet::Sensors, false),
                ("ObservedProperty", EntitySet::ObservedProperties, false),
                ("Observations", EntitySet::Observations, true),
            ],
            EntitySet::Sensors => &[("Datastreams", EntitySet::Datastreams, true)],
            EntitySet::ObservedProperties => &[("Datastreams", EntitySet::Datastreams, true)],
            EntitySet::Observations => &[
                ("Datastream", EntitySet::Datastreams, false),
                ("FeatureOfInterest", EntitySet::FeaturesOfInterest, false),
            ],
            EntitySet::FeaturesOfInterest => &[("Observations", EntitySet::Observations, true)],
        }
    }

    /// The target of a navigation property, and whether it is a collection.
    pub fn navigate(self, nav: &str) -> Option<(EntitySet, bool)> {
        self.navigation().iter().find(|(n, _, _)| *n == nav).map(|(_, t, c)| (*t, *c))
    }

    /// Whether each parent has at most a few targets through `nav` (a to-one navigation, or a station's
    /// Datastreams and Location): then one join serves all parents, where unbounded collections (Observations,
    /// the Datastreams of an ObservedProperty) are read parent by parent, by index, up to the page size.
    pub(super) fn few_per_parent(self, nav: &str) -> bool {
        !matches!(
            (self, nav),
            (EntitySet::Datastreams, "Observations")
                | (EntitySet::FeaturesOfInterest, "Observations")
                | (EntitySet::ObservedProperties, "Datastreams")
        )
    }

    /// The condition on the target set of `nav` for the parent whose id is the SQL `p` (a `bigint`).
    pub(super) fn relation_condition(self, nav: &str, p: &str) -> Option<String> {
        Some(match (self, nav) {
            (EntitySet::Things, "Datastreams" | "Locations") | (EntitySet::Locations, "Things") => {
                format!("s.id = {p}")
            }
            (EntitySet::Sensors, "Datastreams") => format!("s.id = {p}"),
            (_, "HistoricalLocations") => "false".into(),
            (EntitySet::Datastreams, "Thing" | "Sensor") => format!("s.id = {p} / 10"),
            (EntitySet::Datastreams, "ObservedProperty") => format!("op.id = {p} % 10"),
            (EntitySet::Datastreams, "Observations") => {
                format!("r.station_id = {p} / 10 and r.quantity = ({p} % 10)::smallint")
            }
            (EntitySet::ObservedProperties, "Datastreams") => format!("d.q = {p}"),
            (EntitySet::Observations, "Datastream" | "FeatureOfInterest") => format!("s.id = ({p} >> 45)"),
            (EntitySet::FeaturesOfInterest, "Observations") => format!("r.station_id = {p}"),
            _ => return None,
        })
    }
}

impl FieldResolver for EntitySet {
    fn resolve(&self, path: &[&str]) -> Option<Field> {
        use FieldKind::*;
        let f = |sql: &str, kind: FieldKind| Some(Field::new(sql, kind));
        match (self, path) {
            (_, ["id"]) => f(self.id_sql(), Number),
            (EntitySet::Things, ["name"]) | (EntitySet::Locations, ["name"]) => f("s.name", Text),
            (EntitySet::FeaturesOfInterest, ["name"]) => f("s.name", Text),
            (EntitySet::Things, ["properties"]) => f(THING_PROPERTIES, Json),
            (EntitySet::Things, ["Locations", "location"]) => f("s.geom", Geometry),
            (EntitySet::Things, ["Datastreams", "id"]) => {
                f("(s.id * 10 + case s.kind when 'rain_gauge' then 1 else 2 end)", Number)
            }
            (EntitySet::Locations, ["location"]) | (EntitySet::FeaturesOfInterest, ["feature"]) => {
                f("s.geom", Geometry)
            }
            (EntitySet::Locations, ["Things", "name"]) => f("s.name", Text),
            (EntitySet::Sensors, ["name"]) => {
                Some(Field::new(format!("({KIND_LABEL} || ' ' || s.code)"), Text))
            }
            (EntitySet::Sensors, ["metadata"]) => f("s.kind", Text),
            (EntitySet::ObservedProperties, ["name"]) => f("op.name", Text),
            (EntitySet::ObservedProperties, ["definition"]) => f("op.definition", Text),
            (EntitySet::Datastreams, ["name"]) => {
                f("(s.name || case d.q when 1 then ' – pioggia' else ' – livello' end)", Text)
            }
            (EntitySet::Datastreams, ["unitOfMeasurement", "symbol"]) => {
                f("(case d.q when 1 then 'mm' else 'm' end)", Text)
            }
            (EntitySet::Datastreams, ["Thing", "id"]) | (EntitySet::Datastreams, ["Sensor", "id"]) => {
                f("s.id", Number)
            }
            (EntitySet::Datastreams, ["Thing", "name"]) => f("s.name", Text),
            (EntitySet::Datastreams, ["ObservedProperty", "id"]) => f("d.q", Number),
            (EntitySet::Datastreams, ["Thing", "Locations", "location"]) => f("s.geom", Geometry),
            (EntitySet::Observations, ["phenomenonTime"] | ["resultTime"]) => f("r.observed_at", Time),
            (EntitySet::Observations, ["result"]) => f("r.value", Number),
            (EntitySet::Observations, ["Datastream", "id"]) => f("(r.station_id * 10 + r.quantity)", Number),
            (EntitySet::Observations, ["Datastream", "Thing", "id"] | ["FeatureOfInterest", "id"]) => {
                f("r.station_id", Number)
            }
            (EntitySet::Observations, ["Datastream", "Thing", "name"]) => f("s.name", Text),
            (EntitySet::Observations, ["FeatureOfInterest", "feature"]) => f("s.geom", Geometry),
            _ => None,
        }
    }

    fn entity_set(&self) -> &str {
        self.name()
    }
}
