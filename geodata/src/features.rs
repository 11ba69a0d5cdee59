//! Feature collections for OGC API – Features: what Vedetta publishes, and the queries that page through it.
//!
//! | collection id | what | time |
//! |---|---|---|
//! | `comuni` | municipal boundaries | — |
//! | `stations` | rain gauges and hydrometers | — |
//! | `zoning-<version id>` | the zones of one version of a zoning plan | the version's approval date |
//! | `dbt-<CLASS>` | the objects of a DB Topografico class (`dbt-TP_CAN`) | `datetime` = the DBT as of that instant |
//!
//! Coordinates are served in CRS84 (longitude, latitude) unless another supported CRS is asked for (Part 2).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use crate::{Error, Result};

/// A temporal extent: start and end, either open.
pub type Interval = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A collection of features.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Collection {
    pub id: String,
    pub title: String,
    pub description: String,
    /// WGS84 extent: min lon, min lat, max lon, max lat.
    pub bbox: Option<[f64; 4]>,
    /// Temporal extent (start, end), when the data has time.
    pub interval: Option<Interval>,
    #[serde(skip)]
    source: Source,
}

#[derive(Debug, Clone, PartialEq)]
enum Source {
    Comuni,
    Stations,
    Zoning(i64),
    Dbt(String),
}

impl Source {
    /// A query yielding `id text, geom geometry(…, 4326), props jsonb`, as of `at` where the data has time.
    fn sql(&self, at: Option<DateTime<Utc>>) -> String {
        match self {
            Source::Dbt(class) => {
                let valid = match at {
                    None => "o.valid_to is null".to_string(),
                    Some(t) => {
                        let t = t.to_rfc3339();
                        format!("o.valid_from <= '{t}' and (o.valid_to is null or o.valid_to > '{t}')")
                    }
                };
                format!(
                    "select o.key as id, o.geom, o.attrs || jsonb_strip_nulls(jsonb_build_object('code', o.code, \
                     'comune', o.comune_istat, 'valid_from', o.valid_from, 'valid_to', o.valid_to)) as props \
                     from topo.object o where o.class = '{}' and {valid}",
                    class.replace('\'', "''")
                )
            }
            Source::Comuni => {
                "select istat as id, geom, jsonb_build_object('istat', istat, 'belfiore', belfiore, \
                 'name', name, 'province', province_acronym, 'region', region_name) as props from core.comune"
                    .into()
            }
            Source::Stations => {
                "select code as id, geom, jsonb_strip_nulls(jsonb_build_object('code', code, \
                 'name', name, 'kind', kind, 'comune', comune_istat, 'river', river, 'basin', basin, \
                 'elevation_m', elevation_m, 'interval_s', interval_s)) as props from sensors.station"
                    .into()
            }
            Source::Zoning(version) => format!(
                "select z.id::text as id, z.geom, z.attributes || jsonb_strip_nulls(jsonb_build_object('code', z.code, \
                 'class', z.dm1444_class, 'nta', z.nta_article, 'plan', v.plan, 'version', v.version, \
                 'approved', v.approved)) as props from zoning.zone z join zoning.plan_version v on v.id = z.version_id \
                 where z.version_id = {version}"
            ),
        }
    }
}

async fn extent(pool: &PgPool, source: &Source) -> Result<Option<[f64; 4]>> {
    let row: (Option<f64>, Option<f64>, Option<f64>, Option<f64>) = sqlx::query_as(&format!(
        "select st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e) from (select st_extent(geom)::geometry as e from ({}) f) x",
        source.sql(None)
    ))
    .fetch_one(pool)
    .await?;
    Ok(match row {
        (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
        _ => None,
    })
}

/// Every collection, with its extent.
pub async fn collections(pool: &PgPool) -> Result<Vec<Collection>> {
    let mut out = vec![
        Collection {
            id: "comuni".into(),
            title: "Comuni".into(),
            description: "Confini comunali ISTAT della federazione / municipal boundaries".into(),
            bbox: extent(pool, &Source::Comuni).await?,
            interval: None,
            source: Source::Comuni,
        },
        Collection {
            id: "stations".into(),
            title: "Stazioni / Stations".into(),
            description: "Pluviometri e idrometri / rain gauges and river-level gauges".into(),
            bbox: extent(pool, &Source::Stations).await?,
            interval: None,
            source: Source::Stations,
        },
    ];
    let versions: Vec<(i64, String, String, chrono::NaiveDate, Option<String>)> = sqlx::query_as(
        "select v.id, v.plan, v.version, v.approved, b.version from zoning.plan_version v
         left join zoning.plan_version b on b.id = v.variant_of order by v.plan, v.approved, v.id",
    )
    .fetch_all(pool)
    .await?;
    for (id, plan, version, approved, base) in versions {
        let source = Source::Zoning(id);
        let start = approved.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
        out.push(Collection {
            id: format!("zoning-{id}"),
            title: format!("{plan} – {version}"),
            description: match base {
                Some(b) => {
                    format!("Zonizzazione, variante di {b} approvata il {approved} / zoning variant of {b}")
                }
                None => format!("Zonizzazione approvata il {approved} / zoning approved on {approved}"),
            },
            bbox: extent(pool, &source).await?,
            interval: Some((start, None)),
            source,
        });
    }
    for class in crate::dbt::classes(pool).await? {
        out.push(Collection {
            id: format!("dbt-{}", class.class),
            title: format!("DB Topografico – {}", class.class),
            description: format!(
                "Classe {} del DB Topografico, {} oggetti correnti; rilasci: {}",
                class.class,
                class.features,
                class.releases.join(", ")
            ),
            bbox: class.bbox,
            interval: Some((Some(class.first_valid_from), None)),
            source: Source::Dbt(class.class),
        });
    }
    Ok(out)
}

/// One collection by id.
pub async fn collection(pool: &PgPool, id: &str) -> Result<Option<Collection>> {
    Ok(collections(pool).await?.into_iter().find(|c| c.id == id))
}

/// A CRS features may be served in (OGC API – Features Part 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crs {
    pub srid: i32,
    /// Whether the CRS's axis order is latitude/northing first (coordinates are then swapped).
    pub north_first: bool,
}

/// The CRSs Vedetta serves, by URI.
pub const CRS: [(&str, Crs); 7] = [
    ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", Crs { srid: 4326, north_first: false }),
    ("http://www.opengis.net/def/crs/EPSG/0/4326", Crs { srid: 4326, north_first: true }),
    ("http://www.opengis.net/def/crs/EPSG/0/3857", Crs { srid: 3857, north_first: false }),
    ("http://www.opengis.net/def/crs/EPSG/0/6707", Crs { srid: 6707, north_first: true }),
    ("http://www.opengis.net/def/crs/EPSG/0/7791", Crs { srid: 7791, north_first: false }),
    ("http://www.opengis.net/def/crs/EPSG/0/6708", Crs { srid: 6708, north_first: true }),
    ("http://www.opengis.net/def/crs/EPSG/0/7792", Crs { srid: 7792, north_first: false }),
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemsQuery {
    /// minx, miny, maxx, maxy in `bbox_crs` (CRS84 by default).
    pub bbox: Option<[f64; 4]>,
    pub bbox_crs: Option<Crs>,
    pub crs: Option<Crs>,
    /// Property equality filters (`?name=Genova`).
    pub properties: Vec<(String, String)>,
    /// The instant the data is asked for (`datetime`), for collections with time.
    pub at: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

fn geometry_sql(crs: Option<Crs>) -> String {
    match crs {
        None => "st_asgeojson(geom, 7)::jsonb".into(),
        Some(c) => {
            let g =
                if c.srid == 4326 { "geom".to_string() } else { format!("st_transform(geom, {})", c.srid) };
            let g = if c.north_first { format!("st_flipcoordinates({g})") } else { g };
            let digits = if c.srid == 4326 { 7 } else { 3 };
            format!("st_asgeojson({g}, {digits})::jsonb")
        }
    }
}

fn feature(id: String, geometry: Value, props: Value) -> Value {
    serde_json::json!({ "type": "Feature", "id": id, "geometry": geometry, "properties": props })
}

/// A page of features and how many match in all.
pub async fn items(pool: &PgPool, collection: &Collection, q: &ItemsQuery) -> Result<(Vec<Value>, i64)> {
    let mut conditions = vec!["true".to_string()];
    let mut binds: Vec<String> = Vec::new();
    if let Some([a, b, c, d]) = q.bbox {
        let (srid, flip) = q.bbox_crs.map_or((4326, false), |c| (c.srid, c.north_first));
        let (a, b, c, d) = if flip { (b, a, d, c) } else { (a, b, c, d) };
        for v in [a, b, c, d] {
            if !v.is_finite() {
                return Err(Error::Import("bbox values must be numbers".into()));
            }
        }
        conditions.push(format!(
            "st_intersects(geom, st_transform(st_makeenvelope({a}, {b}, {c}, {d}, {srid}), 4326))"
        ));
    }
    for (key, value) in &q.properties {
        binds.push(key.clone());
        binds.push(value.clone());
        conditions.push(format!("props ->> ${} = ${}", binds.len() - 1, binds.len()));
    }
    let filter = conditions.join(" and ");
    let base = format!("select * from ({}) f where {filter}", collection.source.sql(q.at));
    let sql = format!(
        "select id, {geometry}, props from ({base}) f order by id limit {limit} offset {offset}",
        geometry = geometry_sql(q.crs),
        limit = q.limit,
        offset = q.offset
    );
    let mut query = sqlx::query_as::<_, (String, Value, Value)>(&sql);
    for b in &binds {
        query = query.bind(b);
    }
    let rows = query.fetch_all(pool).await?;
    let count_sql = format!("select count(*) from ({base}) c");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for b in &binds {
        count = count.bind(b);
    }
    let matched = count.fetch_one(pool).await?;
    Ok((rows.into_iter().map(|(id, g, p)| feature(id, g, p)).collect(), matched))
}

/// One feature by id.
pub async fn item(
    pool: &PgPool,
    collection: &Collection,
    id: &str,
    crs: Option<Crs>,
    at: Option<DateTime<Utc>>,
) -> Result<Option<Value>> {
    let sql = format!(
        "select id, {}, props from ({}) f where id = $1",
        geometry_sql(crs),
        collection.source.sql(at)
    );
    let row: Option<(String, Value, Value)> = sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?;
    Ok(row.map(|(id, g, p)| feature(id, g, p)))
}
