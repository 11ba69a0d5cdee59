//! Feature collections for OGC API – Features: what Vedetta publishes, and the one read path that pages through it.
//!
//! | collection id | what | time |
//! |---|---|---|
//! | `comuni` | municipal boundaries | — |
//! | `stations` | rain gauges and hydrometers | — |
//! | `zoning-<version id>` | the zones of one version of a zoning plan | the version's approval date |
//! | `dbt-<CLASS>` | the objects of a DB Topografico class (`dbt-TP_CAN`) | `datetime` = the DBT as of that instant |
//!
//! Coordinates are served in CRS84 (longitude, latitude) unless another supported CRS is asked for (Part 2).
//!
//! A DB Topografico feature carries the attributes of its source file as `properties` (as GDAL reads them), and
//! the registry's facts as foreign members: `class`, `code`, `comune`, `valid_from`, `valid_to`, `release`,
//! `repaired`.
//!
//! Stations are read through `sensors.station_public`, the view the sensors schema publishes for other domains.
//!
//! Every query is built from fixed SQL with the request's values bound as parameters ([`sqlx::QueryBuilder`]):
//! the collection, the instant, the bbox and every property filter. [`items`] and [`item`] are what the HTTP face
//! serves and what the tests read.
//!
//! Listing collections needs every collection's extent, which costs a scan of each: a [`Catalog`] keeps them and
//! computes them again only when a cheap stamp of the data (counts, last update, last import) has changed. Items
//! need no extent: [`layer`] resolves a collection id with at most one indexed lookup.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::{Error, Result};

/// A temporal extent: start and end, either open.
pub type Interval = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Features per page when the client does not say.
pub const DEFAULT_LIMIT: i64 = 10;
/// Most features per page.
pub const MAX_LIMIT: i64 = 10_000;
/// Farthest a client may page (deeper pages cost a scan of everything before them: narrow the query instead).
pub const MAX_OFFSET: i64 = 1_000_000;
/// Most property filters in one query.
pub const MAX_FILTERS: usize = 16;
/// Longest property name or value, or feature id, a query may give.
const MAX_TEXT_CHARS: usize = 1_000;

/// What a collection serves: its id, its title, and where its features come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layer {
    pub id: String,
    pub title: String,
    #[serde(skip)]
    source: Source,
}

/// A collection of features, with what describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Collection {
    #[serde(flatten)]
    pub layer: Layer,
    pub description: String,
    /// WGS84 extent: min lon, min lat, max lon, max lat.
    pub bbox: Option<[f64; 4]>,
    /// Temporal extent (start, end), when the data has time.
    pub interval: Option<Interval>,
}

#[derive(Debug, Clone, PartialEq)]
enum Source {
    Comuni,
    Stations,
    Zoning(i64),
    Dbt(String),
}

const COMUNI_TITLE: &str = "Comuni";
const STATIONS_TITLE: &str = "Stazioni / Stations";

fn zoning_title(plan: &str, version: &str) -> String {
    format!("{plan} – {version}")
}

fn dbt_title(class: &str) -> String {
    format!("DB Topografico – {class}")
}

/// Whether `s` is text a query may carry: no control characters (PostgreSQL refuses NUL), not too long.
fn printable(s: &str) -> bool {
    !s.chars().any(char::is_control) && s.chars().count() <= MAX_TEXT_CHARS
}

impl Source {
    /// The source a collection id names, by its shape alone (`zoning-12`, `dbt-TP_CAN`).
    fn parse(id: &str) -> Option<Source> {
        match id {
            "comuni" => Some(Source::Comuni),
            "stations" => Some(Source::Stations),
            _ => {
                if let Some(n) = id.strip_prefix("zoning-") {
                    n.parse::<i64>().ok().filter(|v| *v > 0 && v.to_string() == n).map(Source::Zoning)
                } else {
                    id.strip_prefix("dbt-")
                        .filter(|c| !c.is_empty() && c.len() <= 128 && printable(c))
                        .map(|c| Source::Dbt(c.to_string()))
                }
            }
        }
    }

    /// Pushes a query yielding `id text, geom geometry(…, 4326), props jsonb, extra jsonb` (foreign members, or
    /// null), as of `at` where the data has time; every value bound.
    fn push_select(&self, qb: &mut QueryBuilder<'_, Postgres>, at: Option<DateTime<Utc>>) {
        match self {
            Source::Dbt(class) => {
                qb.push(
                    "select o.key as id, o.geom, o.attrs as props, jsonb_build_object('class', o.class, \
                     'code', o.code, 'comune', o.comune_istat, 'valid_from', o.valid_from, 'valid_to', o.valid_to, \
                     'release', r.label, 'repaired', o.repaired) as extra \
                     from topo.object o join topo.release r on r.id = o.release_id where o.class = ",
                );
                qb.push_bind(class.clone());
                match at {
                    None => qb.push(" and o.valid_to is null"),
                    Some(t) => qb
                        .push(" and o.valid_from <= ")
                        .push_bind(t)
                        .push(" and (o.valid_to is null or o.valid_to > ")
                        .push_bind(t)
                        .push(")"),
                };
            }
            Source::Comuni => {
                qb.push(
                    "select istat as id, geom, jsonb_build_object('istat', istat, 'belfiore', belfiore, \
                     'name', name, 'province', province_acronym, 'region', region_name) as props, \
                     null::jsonb as extra from core.comune",
                );
            }
            Source::Stations => {
                qb.push(
                    "select code as id, geom, jsonb_strip_nulls(jsonb_build_object('code', code, \
                     'name', name, 'kind', kind, 'comune', comune_istat, 'river', river, 'basin', basin, \
                     'elevation_m', elevation_m, 'interval_s', interval_s)) as props, null::jsonb as extra \
                     from sensors.station_public",
                );
            }
            Source::Zoning(version) => {
                qb.push(
                    "select z.id::text as id, z.geom, z.attributes || jsonb_strip_nulls(jsonb_build_object(\
                     'code', z.code, 'class', z.dm1444_class, 'nta', z.nta_article, 'plan', v.plan, \
                     'version', v.version, 'approved', v.approved)) as props, null::jsonb as extra \
                     from zoning.zone z join zoning.plan_version v on v.id = z.version_id where z.version_id = ",
                );
                qb.push_bind(*version);
            }
        }
    }
}

/// The collection `id`, resolved for serving its items (no extents computed): `None` when there is none.
pub async fn layer(pool: &PgPool, id: &str) -> Result<Option<Layer>> {
    let Some(source) = Source::parse(id) else { return Ok(None) };
    let title = match &source {
        Source::Comuni => COMUNI_TITLE.to_string(),
        Source::Stations => STATIONS_TITLE.to_string(),
        Source::Zoning(version) => {
            let row: Option<(String, String)> =
                sqlx::query_as("select plan, version from zoning.plan_version where id = $1")
                    .bind(version)
                    .fetch_optional(pool)
                    .await?;
            match row {
                Some((plan, version)) => zoning_title(&plan, &version),
                None => return Ok(None),
            }
        }
        Source::Dbt(class) => {
            let known: bool = sqlx::query_scalar("select exists (select 1 from topo.class where class = $1)")
                .bind(class)
                .fetch_one(pool)
                .await?;
            if !known {
                return Ok(None);
            }
            dbt_title(class)
        }
    };
    Ok(Some(Layer { id: id.to_string(), title, source }))
}

async fn extent(pool: &PgPool, source: &Source) -> Result<Option<[f64; 4]>> {
    let mut qb = QueryBuilder::new(
        "select st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e) from (select st_extent(geom)::geometry as e from (",
    );
    source.push_select(&mut qb, None);
    qb.push(") f) x");
    let row: (Option<f64>, Option<f64>, Option<f64>, Option<f64>) =
        qb.build_query_as().fetch_one(pool).await?;
    Ok(match row {
        (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
        _ => None,
    })
}

/// Every collection, with its extent, computed now (see [`Catalog`] for the cached list).
pub async fn collections(pool: &PgPool) -> Result<Vec<Collection>> {
    let mut out = Vec::new();
    for (id, title, description, source) in [
        (
            "comuni",
            COMUNI_TITLE,
            "Confini comunali ISTAT della federazione / municipal boundaries",
            Source::Comuni,
        ),
        (
            "stations",
            STATIONS_TITLE,
            "Pluviometri e idrometri / rain gauges and river-level gauges",
            Source::Stations,
        ),
    ] {
        out.push(Collection {
            bbox: extent(pool, &source).await?,
            layer: Layer { id: id.into(), title: title.into(), source },
            description: description.into(),
            interval: None,
        });
    }
    let versions: Vec<(i64, String, String, NaiveDate, Option<String>)> = sqlx::query_as(
        "select v.id, v.plan, v.version, v.approved, b.version from zoning.plan_version v
         left join zoning.plan_version b on b.id = v.variant_of order by v.plan, v.approved, v.id",
    )
    .fetch_all(pool)
    .await?;
    for (id, plan, version, approved, base) in versions {
        let source = Source::Zoning(id);
        let start = approved.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
        out.push(Collection {
            bbox: extent(pool, &source).await?,
            layer: Layer { id: format!("zoning-{id}"), title: zoning_title(&plan, &version), source },
            description: match base {
                Some(b) => {
                    format!("Zonizzazione, variante di {b} approvata il {approved} / zoning variant of {b}")
                }
                None => format!("Zonizzazione approvata il {approved} / zoning approved on {approved}"),
            },
            interval: Some((start, None)),
        });
    }
    for class in crate::dbt::classes(pool).await? {
        out.push(Collection {
            layer: Layer {
                id: format!("dbt-{}", class.class),
                title: dbt_title(&class.class),
                source: Source::Dbt(class.class.clone()),
            },
            description: format!(
                "Classe {} del DB Topografico, {} oggetti correnti; rilasci: {}",
                class.class,
                class.features,
                class.releases.join(", ")
            ),
            bbox: class.bbox,
            interval: Some((Some(class.first_valid_from), None)),
        });
    }
    Ok(out)
}

/// What the collections' descriptions depend on, cheap to read: counts, last updates, last zoning version, last
/// DBT release. Equal stamps, equal collections.
type Stamp = (i64, Option<DateTime<Utc>>, i64, Option<DateTime<Utc>>, i64, Option<i64>, Option<i64>);

async fn stamp(pool: &PgPool) -> Result<Stamp> {
    Ok(sqlx::query_as(
        "select (select count(*) from core.comune), (select max(updated_at) from core.comune),
                (select count(*) from sensors.station_public), (select max(updated_at) from sensors.station_public),
                (select count(*) from zoning.plan_version), (select max(id) from zoning.plan_version),
                (select max(id) from topo.release)",
    )
    .fetch_one(pool)
    .await?)
}

/// The list of collections with their extents, kept between requests and computed again when the data changes
/// (an import, a station added or moved): a request costs one small query while nothing changed.
#[derive(Debug, Default)]
pub struct Catalog {
    cached: tokio::sync::Mutex<Option<(Stamp, Arc<Vec<Collection>>)>>,
}

impl Catalog {
    /// An empty catalog: the first request computes the list.
    pub fn new() -> Self {
        Catalog::default()
    }

    /// Every collection, with its extent.
    pub async fn collections(&self, pool: &PgPool) -> Result<Arc<Vec<Collection>>> {
        let now = stamp(pool).await?;
        // Held while computing: concurrent requests after a change wait for one computation.
        let mut cached = self.cached.lock().await;
        if let Some((stamp, list)) = cached.as_ref()
            && *stamp == now
        {
            return Ok(list.clone());
        }
        let list = Arc::new(collections(pool).await?);
        *cached = Some((now, list.clone()));
        Ok(list)
    }

    /// One collection by id, with its extent.
    pub async fn collection(&self, pool: &PgPool, id: &str) -> Result<Option<Collection>> {
        Ok(self.collections(pool).await?.iter().find(|c| c.layer.id == id).cloned())
    }
}

/// A CRS features may be served in (OGC API – Features Part 2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crs {
    pub srid: i32,
    /// Whether the CRS's axis order is latitude/northing first (coordinates are then swapped).
    pub north_first: bool,
    /// The range a bbox in this CRS may span: min x, min y, max x, max y, easting/longitude first (degrees or
    /// metres). For the UTM CRSs, 1,500 km either side of the central meridian in the northern hemisphere.
    pub range: [f64; 4],
}

const WGS84_RANGE: [f64; 4] = [-180.0, -90.0, 180.0, 90.0];
const MERCATOR_RANGE: [f64; 4] =
    [-20_037_508.342_789_244, -20_048_966.104_014_6, 20_037_508.342_789_244, 20_048_966.104_014_6];
const UTM_NORTH_RANGE: [f64; 4] = [-1_000_000.0, 0.0, 2_000_000.0, 9_400_000.0];

/// The CRSs Vedetta serves, by URI.
pub const CRS: [(&str, Crs); 7] = [
    (
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        Crs { srid: 4326, north_first: false, range: WGS84_RANGE },
    ),
    ("http://www.opengis.net/def/crs/EPSG/0/4326", Crs { srid: 4326, north_first: true, range: WGS84_RANGE }),
    (
        "http://www.opengis.net/def/crs/EPSG/0/3857",
        Crs { srid: 3857, north_first: false, range: MERCATOR_RANGE },
    ),
    (
        "http://www.opengis.net/def/crs/EPSG/0/6707",
        Crs { srid: 6707, north_first: true, range: UTM_NORTH_RANGE },
    ),
    (
        "http://www.opengis.net/def/crs/EPSG/0/7791",
        Crs { srid: 7791, north_first: false, range: UTM_NORTH_RANGE },
    ),
    (
        "http://www.opengis.net/def/crs/EPSG/0/6708",
        Crs { srid: 6708, north_first: true, range: UTM_NORTH_RANGE },
    ),
    (
        "http://www.opengis.net/def/crs/EPSG/0/7792",
        Crs { srid: 7792, north_first: false, range: UTM_NORTH_RANGE },
    ),
];

/// The CRS of a URI (also accepts `EPSG:NNNN`).
pub fn crs(uri: &str) -> Option<Crs> {
    let uri = uri.trim();
    let normalized = match uri.strip_prefix("EPSG:") {
        Some(code) => format!("http://www.opengis.net/def/crs/EPSG/0/{code}"),
        None => uri.to_string(),
    };
    CRS.iter().find(|(u, _)| *u == normalized).map(|(_, c)| *c)
}

/// What to page through.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsQuery {
    /// The four numbers of the `bbox` parameter, in `bbox_crs` (CRS84 by default) and in its axis order.
    pub bbox: Option<[f64; 4]>,
    pub bbox_crs: Option<Crs>,
    pub crs: Option<Crs>,
    /// Property equality filters (`?name=Genova`).
    pub properties: Vec<(String, String)>,
    /// The instant the data is asked for (`datetime`), for collections with time.
    pub at: Option<DateTime<Utc>>,
    /// 1 to [`MAX_LIMIT`].
    pub limit: i64,
    /// 0 to [`MAX_OFFSET`].
    pub offset: i64,
}

impl Default for ItemsQuery {
    fn default() -> Self {
        ItemsQuery {
            bbox: None,
            bbox_crs: None,
            crs: None,
            properties: Vec::new(),
            at: None,
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

impl ItemsQuery {
    /// The bbox as min x, min y, max x, max y (easting/longitude first) in its CRS, checked against the CRS's
    /// range: [`Error::InvalidInput`] when a value is out of range or a minimum exceeds its maximum.
    pub fn envelope(&self) -> Result<Option<([f64; 4], Crs)>> {
        let Some([a, b, c, d]) = self.bbox else { return Ok(None) };
        let crs = self.bbox_crs.unwrap_or(CRS[0].1);
        let [minx, miny, maxx, maxy] = if crs.north_first { [b, a, d, c] } else { [a, b, c, d] };
        let [rx0, ry0, rx1, ry1] = crs.range;
        let name = if crs.north_first { ["second", "first"] } else { ["first", "second"] };
        for (v, lo, hi, axis) in [
            (minx, rx0, rx1, name[0]),
            (maxx, rx0, rx1, name[0]),
            (miny, ry0, ry1, name[1]),
            (maxy, ry0, ry1, name[1]),
        ] {
            if !v.is_finite() || v < lo || v > hi {
                return Err(Error::input(
                    "bbox",
                    format!("{v} is beyond the range of EPSG:{} on its {axis} axis ({lo} to {hi})", crs.srid),
                ));
            }
        }
        if minx > maxx || miny > maxy {
            return Err(Error::input(
                "bbox",
                "a minimum is greater than its maximum (bboxes across the antimeridian are not supported)",
            ));
        }
        Ok(Some(([minx, miny, maxx, maxy], crs)))
    }

    /// Checks the query's bounds: [`Error::InvalidInput`] when one is not met.
    pub fn check(&self) -> Result<()> {
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(Error::input("limit", format!("{} is not between 1 and {MAX_LIMIT}", self.limit)));
        }
        if !(0..=MAX_OFFSET).contains(&self.offset) {
            return Err(Error::input(
                "offset",
                format!(
                    "{} is not between 0 and {MAX_OFFSET} (narrow the query with bbox or properties)",
                    self.offset
                ),
            ));
        }
        if self.properties.len() > MAX_FILTERS {
            return Err(Error::input("properties", format!("at most {MAX_FILTERS} property filters")));
        }
        for (key, value) in &self.properties {
            if !printable(key) || !printable(value) {
                return Err(Error::input(
                    key.chars().filter(|c| !c.is_control()).take(64).collect::<String>(),
                    format!(
                        "a property filter is text without control characters, at most {MAX_TEXT_CHARS} long"
                    ),
                ));
            }
        }
        self.envelope().map(|_| ())
    }

    /// Pushes ` and …` for the bbox and the property filters, every value bound.
    fn push_filters(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<()> {
        if let Some(([minx, miny, maxx, maxy], crs)) = self.envelope()? {
            let envelope = |qb: &mut QueryBuilder<'_, Postgres>| {
                qb.push("st_makeenvelope(")
                    .push_bind(minx)
                    .push(", ")
                    .push_bind(miny)
                    .push(", ")
                    .push_bind(maxx)
                    .push(", ")
                    .push_bind(maxy)
                    .push(", ")
                    .push_bind(crs.srid)
                    .push(")");
            };
            qb.push(" and st_intersects(geom, ");
            if crs.srid == 4326 {
                envelope(qb);
            } else {
                // Densified first: the edges of a projected box are curves in longitude and latitude.
                qb.push("st_transform(st_segmentize(");
                envelope(qb);
                qb.push(", ").push_bind(((maxx - minx).max(maxy - miny) / 32.0).max(1.0)).push("), 4326)");
            }
            qb.push(")");
        }
        for (key, value) in &self.properties {
            qb.push(" and props ->> ").push_bind(key.clone()).push(" = ").push_bind(value.clone());
        }
        Ok(())
    }
}

/// `st_asgeojson` of `geom` in `crs`, as text; the SRIDs come from [`CRS`], never from the request's text.
fn geometry_sql(crs: Option<Crs>) -> String {
    match crs {
        None => "st_asgeojson(geom, 7)".into(),
        Some(c) => {
            let g =
                if c.srid == 4326 { "geom".to_string() } else { format!("st_transform(geom, {})", c.srid) };
            let g = if c.north_first { format!("st_flipcoordinates({g})") } else { g };
            let digits = if c.srid == 4326 { 7 } else { 3 };
            format!("st_asgeojson({g}, {digits})")
        }
    }
}

/// A GeoJSON Feature as served: the JSON text PostgreSQL wrote for its parts, put together without being parsed
/// again (a page of 10,000 DBT objects is tens of megabytes of text, and would be several times that as a tree).
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// The feature's id.
    pub id: String,
    json: String,
}

impl Feature {
    /// `{"type":"Feature","id":…,"geometry":…,"properties":…}` with the source's foreign members (`extra`, a JSON
    /// object written by PostgreSQL) after `properties`.
    fn new(id: String, geometry: &str, props: &str, extra: Option<&str>) -> Feature {
        let id_json = serde_json::to_string(&id).unwrap_or_else(|_| "null".into());
        let members = extra
            .and_then(|x| x.trim().strip_prefix('{')?.strip_suffix('}').map(str::trim))
            .filter(|m| !m.is_empty());
        let mut json = String::with_capacity(64 + id_json.len() + geometry.len() + props.len());
        json.push_str("{\"type\":\"Feature\",\"id\":");
        json.push_str(&id_json);
        json.push_str(",\"geometry\":");
        json.push_str(geometry);
        json.push_str(",\"properties\":");
        json.push_str(props);
        if let Some(members) = members {
            json.push(',');
            json.push_str(members);
        }
        json.push('}');
        Feature { id, json }
    }

    /// The GeoJSON text.
    pub fn as_json(&self) -> &str {
        &self.json
    }

    /// The Feature with more members (`"links": […]`) appended: `members` is the JSON of an object's members,
    /// without braces.
    pub fn with_members(mut self, members: &str) -> Feature {
        if !members.is_empty() {
            self.json.pop();
            self.json.push(',');
            self.json.push_str(members);
            self.json.push('}');
        }
        self
    }

    /// The Feature as a JSON value (for HTML pages and tests; serving uses [`Feature::as_json`]).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }
}

/// A page of features.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub features: Vec<Feature>,
    /// How many features match in all.
    pub matched: i64,
}

/// id, GeoJSON geometry, properties, foreign members (JSON texts), and the number matched in all.
type Row = (String, String, String, Option<String>, i64);

/// Pushes `from (<source>) f where true and <filters>`.
fn push_from(qb: &mut QueryBuilder<'_, Postgres>, layer: &Layer, q: &ItemsQuery) -> Result<()> {
    qb.push(" from (");
    layer.source.push_select(qb, q.at);
    qb.push(") f where true");
    q.push_filters(qb)
}

/// A page of features and how many match in all (one statement, or two when the page is past the end). Errors:
/// [`Error::InvalidInput`] when the query is out of its bounds (see [`ItemsQuery::check`]).
pub async fn items(pool: &PgPool, layer: &Layer, q: &ItemsQuery) -> Result<Page> {
    q.check()?;
    // The page is chosen first and its geometries written after: PostgreSQL evaluates a select list below the
    // LIMIT, and would otherwise write (and throw away) the GeoJSON of every row skipped by the offset.
    let mut page = QueryBuilder::new("select id, ");
    page.push(geometry_sql(q.crs)).push(", props::text, extra::text, (select count(*)");
    push_from(&mut page, layer, q)?;
    page.push(") from (select id, geom, props, extra");
    push_from(&mut page, layer, q)?;
    page.push(" order by id limit ").push_bind(q.limit).push(" offset ").push_bind(q.offset);
    page.push(") p order by id");
    let rows: Vec<Row> = page.build_query_as().fetch_all(pool).await?;
    let matched = match rows.first() {
        Some(row) => row.4,
        None if q.offset == 0 => 0,
        None => {
            let mut count = QueryBuilder::new("select count(*)");
            push_from(&mut count, layer, q)?;
            count.build_query_scalar().fetch_one(pool).await?
        }
    };
    let features = rows.into_iter().map(|(id, g, p, x, _)| Feature::new(id, &g, &p, x.as_deref())).collect();
    Ok(Page { features, matched })
}

/// One feature by id, as of `at` for the collections with time; `None` when there is none (an id that no
/// feature could have, such as one with a NUL byte, included).
pub async fn item(
    pool: &PgPool,
    layer: &Layer,
    id: &str,
    crs: Option<Crs>,
    at: Option<DateTime<Utc>>,
) -> Result<Option<Feature>> {
    if !printable(id) {
        return Ok(None);
    }
    let mut qb = QueryBuilder::new("select id, ");
    qb.push(geometry_sql(crs)).push(", props::text, extra::text, 1::int8 from (");
    layer.source.push_select(&mut qb, at);
    qb.push(") f where id = ").push_bind(id.to_string());
    let row: Option<Row> = qb.build_query_as().fetch_optional(pool).await?;
    Ok(row.map(|(id, g, p, x, _)| Feature::new(id, &g, &p, x.as_deref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_ids_name_their_source_by_shape() {
        assert_eq!(Source::parse("comuni"), Some(Source::Comuni));
        assert_eq!(Source::parse("zoning-12"), Some(Source::Zoning(12)));
        assert_eq!(Source::parse("dbt-TP_CAN"), Some(Source::Dbt("TP_CAN".into())));
        for bad in ["zoning-012", "zoning--1", "zoning-99999999999999999999", "dbt-", "dbt-A\0B", "other"] {
            assert_eq!(Source::parse(bad), None, "{bad:?}");
        }
    }

    fn query(bbox: [f64; 4], crs: &str) -> ItemsQuery {
        ItemsQuery { bbox: Some(bbox), bbox_crs: super::crs(crs), ..ItemsQuery::default() }
    }

    #[test]
    fn a_bbox_beyond_its_crs_is_refused() {
        assert!(
            query([8.0, 44.0, 9.0, 45.0], "http://www.opengis.net/def/crs/OGC/1.3/CRS84").check().is_ok()
        );
        let err = query([8.0, 44.0, 9.0, 95.0], "http://www.opengis.net/def/crs/OGC/1.3/CRS84")
            .check()
            .unwrap_err();
        assert!(err.to_string().contains("beyond the range of EPSG:4326"), "{err}");
        // EPSG:4326 is latitude first: 95 is a latitude.
        assert!(query([95.0, 8.0, 96.0, 9.0], "EPSG:4326").check().is_err());
        assert!(query([44.0, 8.0, 45.0, 9.0], "EPSG:4326").check().is_ok());
        assert!(query([1e300, 0.0, 1e301, 1.0], "EPSG:7791").check().is_err());
        assert!(query([490_000.0, 4_910_000.0, 510_000.0, 4_925_000.0], "EPSG:7791").check().is_ok());
        assert!(query([0.0, 0.0, 3e7, 1.0], "EPSG:3857").check().is_err());
        assert!(query([9.0, 44.0, 8.0, 45.0], "EPSG:7791").check().is_err());
        assert!(query([f64::NAN, 44.0, 8.0, 45.0], "EPSG:7791").check().is_err());
    }

    #[test]
    fn paging_and_filters_are_bounded() {
        let q = |limit, offset| ItemsQuery { limit, offset, ..ItemsQuery::default() };
        assert!(q(1, 0).check().is_ok() && q(MAX_LIMIT, MAX_OFFSET).check().is_ok());
        for (limit, offset) in [(0, 0), (MAX_LIMIT + 1, 0), (10, -1), (10, MAX_OFFSET + 1), (10, i64::MAX)] {
            assert!(matches!(q(limit, offset).check(), Err(Error::InvalidInput { .. })), "{limit} {offset}");
        }
        let nul = ItemsQuery { properties: vec![("name".into(), "x\0y".into())], ..ItemsQuery::default() };
        assert!(matches!(nul.check(), Err(Error::InvalidInput { .. })));
    }

    #[test]
    fn a_feature_is_put_together_from_postgresql_s_json() {
        let f =
            Feature::new("a\"b".into(), "null", r#"{"a": 1}"#, Some(r#"{"release": "2024", "class": "X"}"#));
        let v = f.to_value();
        assert_eq!(
            (v["id"].as_str(), v["release"].as_str(), &v["properties"]["a"], v["type"].as_str()),
            (Some("a\"b"), Some("2024"), &serde_json::json!(1), Some("Feature"))
        );
        let plain =
            Feature::new("1".into(), r#"{"type":"Point","coordinates":[8.9,44.4]}"#, "{}", Some("{}"));
        assert_eq!(plain.to_value()["geometry"]["coordinates"][0], 8.9);
        let linked = plain.with_members(r#""links":[]"#);
        assert!(linked.to_value()["links"].is_array(), "{}", linked.as_json());
    }
}
