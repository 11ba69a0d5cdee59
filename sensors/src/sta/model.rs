//! SensorThings entity sets over Vedetta's tables: how each set is selected, identified, filtered, related and
//! rendered (JSON built by PostgreSQL), and the queries that read them.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};
use sqlx::PgPool;

use super::filter::Expr;
use super::query::{self, Bind, Field, FieldKind, FieldResolver, QueryOptions};
use crate::{Error, Result};

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
const OBSERVATION_ID: &str = "((((r.station_id * 10 + r.quantity)::bigint) << 42) | (extract(epoch from r.observed_at) * 1000)::bigint)";
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

    fn source_sql(self) -> &'static str {
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

    fn id_sql(self) -> &'static str {
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

    /// The condition selecting the entity whose id is bound at `p` (written so that indexes apply).
    fn id_condition(self, p: &str) -> String {
        match self {
            EntitySet::Things | EntitySet::Locations | EntitySet::Sensors | EntitySet::FeaturesOfInterest => {
                format!("s.id = {p}")
            }
            EntitySet::Datastreams => format!("s.id = {p} / 10 and d.q = {p} % 10"),
            EntitySet::ObservedProperties => format!("op.id = {p}"),
            EntitySet::Observations => format!(
                "r.station_id = ({p} >> 42) / 10 and r.quantity = (({p} >> 42) % 10)::smallint \
                 and r.observed_at = to_timestamp(({p} & 4398046511103) / 1000.0)"
            ),
            EntitySet::HistoricalLocations => "false".into(),
        }
    }

    fn default_order(self) -> &'static str {
        match self {
            EntitySet::Observations => "r.station_id, r.quantity, r.observed_at",
            other => other.id_sql(),
        }
    }

    fn json_sql(self) -> String {
        match self {
            EntitySet::Things => format!(
                "jsonb_build_object('name', s.name, 'description', {KIND_LABEL} || ' ' || s.code, \
                 'properties', {THING_PROPERTIES})"
            ),
            EntitySet::Locations => "jsonb_build_object('name', s.name, 'description', 'Posizione della stazione ' \
                 || s.code, 'encodingType', 'application/geo+json', 'location', st_asgeojson(s.geom)::jsonb)"
                .into(),
            EntitySet::FeaturesOfInterest => "jsonb_build_object('name', s.name, 'description', \
                 'Punto di misura della stazione ' || s.code, 'encodingType', 'application/geo+json', \
                 'feature', st_asgeojson(s.geom)::jsonb)"
                .into(),
            EntitySet::Sensors => format!(
                "jsonb_build_object('name', {KIND_LABEL} || ' ' || s.code, 'description', 'Strumento della stazione ' \
                 || s.name, 'encodingType', 'text/plain', 'metadata', s.kind, 'properties', \
                 jsonb_strip_nulls(jsonb_build_object('range', case when s.range_min is null then null \
                 else jsonb_build_array(s.range_min, s.range_max) end, 'interval_s', s.interval_s)))"
            ),
            EntitySet::ObservedProperties => {
                "jsonb_build_object('name', op.name, 'definition', op.definition, 'description', op.description)"
                    .into()
            }
            EntitySet::Datastreams => "jsonb_build_object('name', s.name || case d.q when 1 then ' – pioggia' \
                 else ' – livello' end, 'description', case d.q when 1 then 'Pioggia (mm) dal rapporto precedente' \
                 else 'Livello idrometrico (m)' end, 'unitOfMeasurement', case d.q when 1 then \
                 jsonb_build_object('name', 'millimetre', 'symbol', 'mm', 'definition', 'http://unitsofmeasure.org/ucum.html#mm') \
                 else jsonb_build_object('name', 'metre', 'symbol', 'm', 'definition', 'http://unitsofmeasure.org/ucum.html#m') end, \
                 'observationType', 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement', \
                 'properties', jsonb_build_object('station', s.code, 'quantity', case d.q when 1 then 'rain' else 'level' end))"
                .into(),
            EntitySet::Observations => format!(
                "jsonb_build_object('phenomenonTime', {OBSERVATION_TIME}, 'resultTime', {OBSERVATION_TIME}, \
                 'result', r.value, 'resultQuality', {QUALITY})"
            ),
            EntitySet::HistoricalLocations => "jsonb_build_object()".into(),
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

    /// The condition on the target set of `nav` for the parent whose id is bound at `p`.
    fn relation_condition(self, nav: &str, p: &str) -> Option<String> {
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
            (EntitySet::Observations, "Datastream" | "FeatureOfInterest") => {
                format!("s.id = ({p} >> 42) / 10")
            }
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

/// What selects entities besides `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// The whole set.
    All,
    /// One entity by id.
    Id(i64),
    /// The targets of `nav` from the parent entity `parent_id` of `parent`.
    Related { parent: EntitySet, nav: String, parent_id: i64 },
}

/// An entity with its expanded relations.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub set: EntitySet,
    pub id: i64,
    /// Its properties, as PostgreSQL rendered them.
    pub fields: Map<String, Value>,
    pub expanded: Vec<(String, Expanded)>,
}

/// An inlined relation.
#[derive(Debug, Clone, PartialEq)]
pub enum Expanded {
    One(Option<Box<Entity>>),
    Many(Page),
}

/// One page of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Entity>,
    /// Whether more entities follow this page.
    pub more: bool,
    /// `@iot.count`, when asked for.
    pub count: Option<i64>,
    /// The `$top` and `$skip` this page was read with.
    pub top: u64,
    pub skip: u64,
}

/// `$top` when none is given, and the most that is served at once.
pub const DEFAULT_TOP: u64 = 100;
pub const MAX_TOP: u64 = 10_000;

fn bind_all<'q>(
    mut q: sqlx::query::QueryAs<'q, sqlx::Postgres, (i64, Value), sqlx::postgres::PgArguments>,
    binds: &'q [Bind],
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, (i64, Value), sqlx::postgres::PgArguments> {
    for b in binds {
        q = match b {
            Bind::Integer(v) => q.bind(*v),
            Bind::Number(v) => q.bind(*v),
            Bind::Text(v) | Bind::Wkt(v) => q.bind(v.as_str()),
            Bind::Time(v) => q.bind(*v),
            Bind::Bool(v) => q.bind(*v),
        };
    }
    q
}

/// Builds the `where` clause of a scope and filter; binds are appended to `binds`.
fn where_clause(
    set: EntitySet,
    scope: &Scope,
    filter: Option<&Expr>,
    binds: &mut Vec<Bind>,
) -> Result<String> {
    let mut conditions = Vec::new();
    match scope {
        Scope::All => {}
        Scope::Id(id) => {
            binds.push(Bind::Integer(*id));
            conditions.push(set.id_condition(&format!("${}::bigint", binds.len())));
        }
        Scope::Related { parent, nav, parent_id } => {
            binds.push(Bind::Integer(*parent_id));
            let p = format!("${}::bigint", binds.len());
            let cond = parent.relation_condition(nav, &p).ok_or_else(|| {
                Error::InvalidQuery(format!("{} has no navigation property {nav}", parent.name()))
            })?;
            conditions.push(cond);
        }
    }
    if let Some(expr) = filter {
        let (sql, more) =
            query::to_sql(expr, &set, binds.len() + 1).map_err(|e| Error::InvalidQuery(e.to_string()))?;
        binds.extend(more);
        conditions.push(sql);
    }
    Ok(if conditions.is_empty() { "true".into() } else { conditions.join(" and ") })
}

/// Reads a page of `set` within `scope`, honouring `$filter`, `$orderby`, `$top`, `$skip`, `$count` and `$expand`.
pub fn read<'a>(
    pool: &'a PgPool,
    set: EntitySet,
    scope: Scope,
    opts: &'a QueryOptions,
) -> Pin<Box<dyn Future<Output = Result<Page>> + Send + 'a>> {
    Box::pin(async move {
        let top = opts.top.unwrap_or(DEFAULT_TOP).min(MAX_TOP);
        let skip = opts.skip.unwrap_or(0);
        let mut binds = Vec::new();
        let condition = where_clause(set, &scope, opts.filter.as_ref(), &mut binds)?;
        let user_order =
            query::orderby_sql(&opts.orderby, &set).map_err(|e| Error::InvalidQuery(e.to_string()))?;
        let order = if user_order.is_empty() {
            set.default_order().to_string()
        } else {
            format!("{user_order}, {}", set.default_order())
        };
        let sql = format!(
            "select {id} as id, {json} as e from {from} where {condition} order by {order} limit {limit} offset {skip}",
            id = set.id_sql(),
            json = set.json_sql(),
            from = set.source_sql(),
            limit = top + 1,
        );
        let mut rows: Vec<(i64, Value)> = bind_all(sqlx::query_as(&sql), &binds).fetch_all(pool).await?;
        let more = rows.len() as u64 > top;
        rows.truncate(top as usize);
        let count = if opts.count == Some(true) {
            let sql =
                format!("select count(*)::bigint, '{{}}'::jsonb from {} where {condition}", set.source_sql());
            let (n, _): (i64, Value) = bind_all(sqlx::query_as(&sql), &binds).fetch_one(pool).await?;
            Some(n)
        } else {
            None
        };
        let mut items = Vec::with_capacity(rows.len());
        for (id, e) in rows {
            let fields = match e {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            let mut entity = Entity { set, id, fields, expanded: Vec::new() };
            expand(pool, &mut entity, opts).await?;
            items.push(entity);
        }
        Ok(Page { items, more, count, top, skip })
    })
}

/// Reads one entity of `set` within `scope` (`None` when there is none).
pub async fn read_one(
    pool: &PgPool,
    set: EntitySet,
    scope: Scope,
    opts: &QueryOptions,
) -> Result<Option<Entity>> {
    let one = QueryOptions { top: Some(1), skip: None, count: None, ..opts.clone() };
    Ok(read(pool, set, scope, &one).await?.items.into_iter().next())
}

async fn expand(pool: &PgPool, entity: &mut Entity, opts: &QueryOptions) -> Result<()> {
    for item in &opts.expand {
        let Some(nav) = item.path.first() else { continue };
        let (target, many) = entity.set.navigate(nav).ok_or_else(|| {
            Error::InvalidQuery(format!("{} has no navigation property {nav}", entity.set.name()))
        })?;
        // `A/B` expands A with B expanded inside it.
        let nested = if item.path.len() > 1 {
            QueryOptions {
                expand: vec![query::Expand { path: item.path[1..].to_vec(), options: item.options.clone() }],
                ..QueryOptions::default()
            }
        } else {
            item.options.clone()
        };
        let scope = Scope::Related { parent: entity.set, nav: nav.clone(), parent_id: entity.id };
        let expanded = if many {
            Expanded::Many(read(pool, target, scope, &nested).await?)
        } else {
            Expanded::One(read_one(pool, target, scope, &nested).await?.map(Box::new))
        };
        entity.expanded.push((nav.clone(), expanded));
    }
    Ok(())
}
