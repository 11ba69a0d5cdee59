//! PostGIS storage of stations and readings.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Datelike, Duration, Utc};
use serde_json::{Map, Value};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use crate::qc::{Flags, Previous};
use crate::station::{QcParams, Thresholds};
use crate::{Error, Quantity, Result, Station, StationInput, StationKind};

const STATION_COLUMNS: &str = "id, code, name, kind, st_x(geom) as lon, st_y(geom) as lat, elevation_m, comune_istat, \
     river, basin, range_min, range_max, interval_s, thresholds, qc, properties";

fn station_from_row(row: &PgRow) -> Result<Station> {
    let code: String = row.try_get("code")?;
    let kind: String = row.try_get("kind")?;
    let kind: StationKind =
        kind.parse().map_err(|reason| Error::InvalidStation { code: code.clone(), reason })?;
    let thresholds: Value = row.try_get("thresholds")?;
    let qc: Value = row.try_get("qc")?;
    let properties: Value = row.try_get("properties")?;
    let range =
        match (row.try_get::<Option<f64>, _>("range_min")?, row.try_get::<Option<f64>, _>("range_max")?) {
            (Some(lo), Some(hi)) => Some([lo, hi]),
            _ => None,
        };
    Ok(Station {
        id: row.try_get("id")?,
        def: StationInput {
            name: row.try_get("name")?,
            kind,
            lon: row.try_get("lon")?,
            lat: row.try_get("lat")?,
            elevation_m: row.try_get("elevation_m")?,
            comune: row.try_get("comune_istat")?,
            river: row.try_get("river")?,
            basin: row.try_get("basin")?,
            range,
            interval_s: row.try_get("interval_s")?,
            thresholds: Thresholds::from_json(kind, &thresholds)
                .map_err(|reason| Error::InvalidStation { code: code.clone(), reason })?,
            qc: serde_json::from_value::<QcParams>(qc).unwrap_or_default(),
            properties: match properties {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            code,
        },
    })
}

/// The comune of a station without one comes from `core.comune_at`, the contract through which geodata (the owner
/// of `core.comune`) tells which comune contains a point.
const STATION_INSERT: &str =
    "insert into sensors.station (code, name, kind, geom, elevation_m, comune_istat, river,
         basin, range_min, range_max, interval_s, thresholds, qc, properties)
     values ($1, $2, $3, st_setsrid(st_makepoint($4, $5), 4326), $6,
         coalesce($7, core.comune_at(st_setsrid(st_makepoint($4, $5), 4326))),
         $8, $9, $10, $11, $12, $13, $14, $15)";

/// Binds the fields of `input` to [`STATION_INSERT`]'s parameters.
fn bind_station<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    input: &'q StationInput,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(&input.code)
        .bind(&input.name)
        .bind(input.kind.as_str())
        .bind(input.lon)
        .bind(input.lat)
        .bind(input.elevation_m)
        .bind(&input.comune)
        .bind(&input.river)
        .bind(&input.basin)
        .bind(input.range.map(|r| r[0]))
        .bind(input.range.map(|r| r[1]))
        .bind(input.interval_s)
        .bind(input.thresholds.to_json())
        .bind(serde_json::to_value(input.qc).unwrap_or_default())
        .bind(Value::Object(input.properties.clone()))
}

/// Checks that the stored station reads back as what was sent (the comune excepted when it was derived), so that a
/// transaction never commits a row that would answer differently from the request.
fn same_as_sent(stored: &Station, input: &StationInput) -> Result<()> {
    let mut expected = input.clone();
    if expected.comune.is_none() {
        expected.comune = stored.comune.clone();
    }
    if stored.def == expected {
        return Ok(());
    }
    let field = if stored.thresholds != expected.thresholds {
        "thresholds"
    } else if stored.properties != expected.properties {
        "properties"
    } else if stored.qc != expected.qc {
        "qc"
    } else if (stored.lon, stored.lat) != (expected.lon, expected.lat) {
        "coordinates"
    } else {
        "a field"
    };
    Err(Error::InvalidStation {
        code: input.code.clone(),
        reason: format!("{field} would not be stored exactly as sent; nothing was changed"),
    })
}

/// Creates the station with `input.code`; [`Error::DuplicateStation`] when one exists (also when another request
/// created it a moment earlier: the insert decides, not a prior look-up). The input is validated first and the row
/// is committed only if it reads back as sent.
pub async fn insert_station(pool: &PgPool, input: &StationInput) -> Result<Station> {
    input.validate().map_err(|reason| Error::InvalidStation { code: input.code.clone(), reason })?;
    let sql = format!("{STATION_INSERT} returning {STATION_COLUMNS}");
    let mut tx = pool.begin().await?;
    let row = bind_station(sqlx::query(&sql), input).fetch_one(&mut *tx).await.map_err(|e| match e {
        sqlx::Error::Database(db) if db.constraint() == Some("station_code_key") => {
            Error::DuplicateStation { code: input.code.clone() }
        }
        other => Error::Database(other),
    })?;
    let station = station_from_row(&row)?;
    same_as_sent(&station, input)?;
    announce(&mut tx, "created", &station.code, Some((station.lon, station.lat)), None).await?;
    tx.commit().await?;
    Ok(station)
}

/// Kind of the event a station change appends to the live-event spine (tile caches, live maps).
pub const STATION_CHANGED: &str = "station.changed";

/// Appends `station.changed` `{code, change, lon, lat, previous: {lon, lat}}` — the last statement before COMMIT.
async fn announce(
    conn: &mut PgConnection,
    change: &str,
    code: &str,
    at: Option<(f64, f64)>,
    previous: Option<(f64, f64)>,
) -> Result<()> {
    let point = |p: Option<(f64, f64)>| p.map(|(lon, lat)| serde_json::json!({"lon": lon, "lat": lat}));
    let payload = serde_json::json!({
        "code": code, "change": change, "position": point(at), "previous": point(previous),
    });
    let event = database::event::NewEvent::new(STATION_CHANGED, Some(code.to_string()), payload);
    database::event::append(conn, &[event]).await.map_err(|e| Error::Spine(e.to_string()))?;
    Ok(())
}

/// Creates or updates the station with `input.code`. Returns the station and whether it was created. The input is
/// validated first and the row is committed only if it reads back as sent.
pub async fn upsert_station(pool: &PgPool, input: &StationInput) -> Result<(Station, bool)> {
    input.validate().map_err(|reason| Error::InvalidStation { code: input.code.clone(), reason })?;
    // Update first: `insert … on conflict do update` would use up an identity value on every call, and station
    // ids are bounded (they are part of SensorThings Observation ids). The insert runs only for a new code; when
    // another writer created it in between, the insert does nothing and the update runs again.
    let update = format!(
        "update sensors.station set name = $2, kind = $3, geom = st_setsrid(st_makepoint($4, $5), 4326),
             elevation_m = $6, comune_istat = coalesce($7, core.comune_at(st_setsrid(st_makepoint($4, $5), 4326))),
             river = $8, basin = $9, range_min = $10, range_max = $11, interval_s = $12, thresholds = $13, qc = $14,
             properties = $15, updated_at = now()
         where code = $1
         returning {STATION_COLUMNS}, false as created"
    );
    let mut tx = pool.begin().await?;
    let previous: Option<(f64, f64)> =
        sqlx::query_as("select st_x(geom), st_y(geom) from sensors.station where code = $1")
            .bind(&input.code)
            .fetch_optional(&mut *tx)
            .await?;
    let mut row = bind_station(sqlx::query(&update), input).fetch_optional(&mut *tx).await?;
    if row.is_none() {
        let insert = format!(
            "{STATION_INSERT} on conflict (code) do nothing returning {STATION_COLUMNS}, true as created"
        );
        row = bind_station(sqlx::query(&insert), input).fetch_optional(&mut *tx).await?;
    }
    let row = match row {
        Some(row) => row,
        None => bind_station(sqlx::query(&update), input).fetch_one(&mut *tx).await?,
    };
    let created: bool = row.try_get("created")?;
    let station = station_from_row(&row)?;
    same_as_sent(&station, input)?;
    let change = if created { "created" } else { "updated" };
    announce(&mut tx, change, &station.code, Some((station.lon, station.lat)), previous).await?;
    tx.commit().await?;
    Ok((station, created))
}

/// The station with `code`. A code no station can have (see [`crate::station::is_code_like`]) is unknown without a
/// query.
pub async fn station(pool: &PgPool, code: &str) -> Result<Station> {
    if !crate::station::is_code_like(code) {
        return Err(Error::UnknownStation(code.chars().take(100).collect()));
    }
    let sql = format!("select {STATION_COLUMNS} from sensors.station where code = $1");
    let row = sqlx::query(&sql).bind(code).fetch_optional(pool).await?;
    row.map(|r| station_from_row(&r)).transpose()?.ok_or_else(|| Error::UnknownStation(code.to_string()))
}

/// Every station, by code.
pub async fn stations(pool: &PgPool) -> Result<Vec<Station>> {
    let sql = format!("select {STATION_COLUMNS} from sensors.station order by code");
    sqlx::query(&sql).fetch_all(pool).await?.iter().map(station_from_row).collect()
}

/// At most `limit` stations by code, those after the code `after` when given (paging).
pub async fn stations_page(pool: &PgPool, after: Option<&str>, limit: i64) -> Result<Vec<Station>> {
    let sql = format!(
        "select {STATION_COLUMNS} from sensors.station where ($1::text is null or code > $1) order by code limit $2"
    );
    // A cursor with a NUL character cannot be sent to PostgreSQL; no code contains one, so it sorts as its prefix.
    let after = after.map(|a| a.split('\0').next().unwrap_or_default());
    sqlx::query(&sql).bind(after).bind(limit).fetch_all(pool).await?.iter().map(station_from_row).collect()
}

/// The stations with these codes (unknown codes are simply absent).
pub async fn stations_by_code(conn: &mut PgConnection, codes: &[String]) -> Result<Vec<Station>> {
    let codes: Vec<&str> =
        codes.iter().map(String::as_str).filter(|c| crate::station::is_code_like(c)).collect();
    let sql = format!("select {STATION_COLUMNS} from sensors.station where code = any($1)");
    sqlx::query(&sql).bind(codes).fetch_all(conn).await?.iter().map(station_from_row).collect()
}

/// The stations with these ids.
pub async fn stations_by_id(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<Station>> {
    let sql = format!("select {STATION_COLUMNS} from sensors.station where id = any($1)");
    sqlx::query(&sql).bind(ids).fetch_all(conn).await?.iter().map(station_from_row).collect()
}

/// Gives every station the comune that contains it (`None` outside every loaded comune), through the
/// `core.comune_at` contract; for after an import of comuni boundaries. Returns how many stations changed.
pub async fn locate_stations(conn: &mut PgConnection) -> Result<u64> {
    let done = sqlx::query(
        "update sensors.station s set comune_istat = core.comune_at(s.geom), updated_at = now()
         where s.comune_istat is distinct from core.comune_at(s.geom)",
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes the station with `code` and its readings. Returns whether it existed.
pub async fn delete_station(pool: &PgPool, code: &str) -> Result<bool> {
    if !crate::station::is_code_like(code) {
        return Ok(false);
    }
    let mut tx = pool.begin().await?;
    let gone: Option<(f64, f64)> =
        sqlx::query_as("delete from sensors.station where code = $1 returning st_x(geom), st_y(geom)")
            .bind(code)
            .fetch_optional(&mut *tx)
            .await?;
    if gone.is_some() {
        announce(&mut tx, "deleted", code, None, gone).await?;
    }
    tx.commit().await?;
    Ok(gone.is_some())
}

/// The latest reading of a station's quantity.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Latest {
    pub observed_at: DateTime<Utc>,
    pub value: f64,
    pub qc: Flags,
}

/// The latest readings of every station, by station id and quantity.
pub async fn latest_all(pool: &PgPool) -> Result<HashMap<(i64, Quantity), Latest>> {
    let rows: Vec<(i64, i16, DateTime<Utc>, f64, i32)> =
        sqlx::query_as("select station_id, quantity, observed_at, value, qc from sensors.latest")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, q, observed_at, value, qc)| {
            Some(((id, Quantity::from_code(q)?), Latest { observed_at, value, qc: Flags(qc) }))
        })
        .collect())
}

/// One reading ready to be stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadingRow {
    pub station_id: i64,
    pub quantity: Quantity,
    pub observed_at: DateTime<Utc>,
    pub value: f64,
    pub qc: Flags,
    pub received_at: DateTime<Utc>,
}

/// Keeps track of the monthly partitions known to exist, so that the hot path asks the database only for new months.
///
/// Partitions created inside a transaction exist only if it commits: [`Partitions::ensure`] returns the months it
/// made sure of, and the caller hands them to [`Partitions::remember`] after the commit. A rolled-back batch thus
/// leaves nothing behind in the cache.
#[derive(Debug, Default)]
pub struct Partitions {
    known: Mutex<HashSet<(i32, u32)>>,
}

/// Months whose partitions a transaction made sure of, to remember once it has committed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[must_use = "remember the months after the commit, or they are created again next time"]
pub struct EnsuredMonths(Vec<(i32, u32)>);

impl EnsuredMonths {
    /// The months, as (year, month).
    pub fn months(&self) -> &[(i32, u32)] {
        &self.0
    }
}

impl Partitions {
    /// Makes sure the partitions for every month of `times` exist, within `conn`'s transaction if it has one.
    /// Returns the months it had to check, for [`Partitions::remember`] after the commit.
    pub async fn ensure(
        &self,
        conn: &mut PgConnection,
        times: impl IntoIterator<Item = DateTime<Utc>>,
    ) -> Result<EnsuredMonths> {
        let wanted: HashSet<(i32, u32)> = times.into_iter().map(|t| (t.year(), t.month())).collect();
        let mut missing: Vec<(i32, u32)> = {
            let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
            wanted.into_iter().filter(|m| !known.contains(m)).collect()
        };
        missing.sort_unstable();
        for &(year, month) in &missing {
            let first = chrono::NaiveDate::from_ymd_opt(year, month, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
                .ok_or_else(|| Error::InvalidQuery(format!("no month {year}-{month}")))?;
            sqlx::query("select sensors.ensure_reading_partition($1)")
                .bind(first)
                .execute(&mut *conn)
                .await?;
        }
        Ok(EnsuredMonths(missing))
    }

    /// Records months whose partitions are known to exist (their transaction committed).
    pub fn remember(&self, months: EnsuredMonths) {
        self.known.lock().unwrap_or_else(|e| e.into_inner()).extend(months.0);
    }

    /// Forgets every month (partitions were dropped, or a reading found its partition missing).
    pub fn forget_all(&self) {
        self.known.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Creates the partitions of the current month and the next `ahead` months (outside any transaction).
    pub async fn ensure_ahead(&self, pool: &PgPool, ahead: u32) -> Result<()> {
        let now = Utc::now();
        let months = (0..=ahead).map(|i| now + Duration::days(31 * i64::from(i)));
        let mut conn = pool.acquire().await?;
        let ensured = self.ensure(&mut conn, months).await?;
        self.remember(ensured);
        Ok(())
    }
}

/// A predecessor: station, quantity, time, value, run_since.
type PreviousTuple = (i64, i16, DateTime<Utc>, f64, DateTime<Utc>);

/// Inserts readings, ignoring those already stored (same station, quantity and time). Returns the rows that were
/// new, so that events and windows count each reading once however often it was delivered.
pub async fn insert_readings(conn: &mut PgConnection, rows: &[ReadingRow]) -> Result<Vec<ReadingRow>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let n = rows.len();
    let (mut ids, mut qs, mut ts, mut vs, mut fs, mut rs) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for r in rows {
        ids.push(r.station_id);
        qs.push(r.quantity.code());
        ts.push(r.observed_at);
        vs.push(r.value);
        fs.push(r.qc.0);
        rs.push(r.received_at);
    }
    // Only the keys come back: the rows themselves are already here.
    let inserted: Vec<(i64, i16, DateTime<Utc>)> = sqlx::query_as(
        "insert into sensors.reading (station_id, quantity, observed_at, value, qc, received_at)
         select * from unnest($1::bigint[], $2::smallint[], $3::timestamptz[], $4::float8[], $5::int[], $6::timestamptz[])
         on conflict do nothing
         returning station_id, quantity, observed_at",
    )
    .bind(&ids)
    .bind(&qs)
    .bind(&ts)
    .bind(&vs)
    .bind(&fs)
    .bind(&rs)
    .fetch_all(&mut *conn)
    .await?;
    if inserted.len() == rows.len() {
        return Ok(rows.to_vec());
    }
    let new: HashSet<(i64, i16, DateTime<Utc>)> = inserted.into_iter().collect();
    Ok(rows
        .iter()
        .filter(|r| new.contains(&(r.station_id, r.quantity.code(), r.observed_at)))
        .copied()
        .collect())
}

/// The QC state of each series: the reading just before `before` (the earliest new time of the series).
/// Series whose new readings are all later than the stored latest use `sensors.latest` (the common case); late
/// readings look up their predecessor in the readings.
pub async fn previous(
    conn: &mut PgConnection,
    series: &[(i64, Quantity, DateTime<Utc>)],
) -> Result<HashMap<(i64, Quantity), Previous>> {
    if series.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<i64> = series.iter().map(|s| s.0).collect();
    let qs: Vec<i16> = series.iter().map(|s| s.1.code()).collect();
    let ts: Vec<DateTime<Utc>> = series.iter().map(|s| s.2).collect();
    let rows: Vec<PreviousTuple> = sqlx::query_as(
        "select s.station_id, s.quantity, p.observed_at, p.value, p.run_since
         from unnest($1::bigint[], $2::smallint[], $3::timestamptz[]) as s (station_id, quantity, before)
         cross join lateral (
             select l.observed_at, l.value, l.run_since
             from sensors.latest l
             where l.station_id = s.station_id and l.quantity = s.quantity and l.observed_at < s.before
             union all
             select r.observed_at, r.value, r.observed_at
             from sensors.latest l
             join lateral (
                 select observed_at, value from sensors.reading r
                 where r.station_id = s.station_id and r.quantity = s.quantity and r.observed_at < s.before
                 order by observed_at desc limit 1
             ) r on true
             where l.station_id = s.station_id and l.quantity = s.quantity and l.observed_at >= s.before
         ) p",
    )
    .bind(&ids)
    .bind(&qs)
    .bind(&ts)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, q, observed_at, value, run_since)| {
            Some(((id, Quantity::from_code(q)?), Previous { observed_at, value, run_since }))
        })
        .collect())
}

/// Moves `sensors.latest` forward to the newest of `rows` per series (never backwards), keeping the start of the
/// run of identical values for flat-line detection.
pub async fn advance_latest(
    conn: &mut PgConnection,
    latest: &[(i64, Quantity, Previous, Flags)],
) -> Result<()> {
    if latest.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = latest.iter().map(|l| l.0).collect();
    let qs: Vec<i16> = latest.iter().map(|l| l.1.code()).collect();
    let ts: Vec<DateTime<Utc>> = latest.iter().map(|l| l.2.observed_at).collect();
    let vs: Vec<f64> = latest.iter().map(|l| l.2.value).collect();
    let runs: Vec<DateTime<Utc>> = latest.iter().map(|l| l.2.run_since).collect();
    let fs: Vec<i32> = latest.iter().map(|l| l.3.0).collect();
    sqlx::query(
        "insert into sensors.latest (station_id, quantity, observed_at, value, run_since, qc)
         select * from unnest($1::bigint[], $2::smallint[], $3::timestamptz[], $4::float8[], $5::timestamptz[], $6::int[])
         on conflict (station_id, quantity) do update set
             observed_at = excluded.observed_at, value = excluded.value, qc = excluded.qc,
             run_since = case when sensors.latest.value = excluded.value then sensors.latest.run_since
                              else excluded.run_since end
         where excluded.observed_at > sensors.latest.observed_at",
    )
    .bind(&ids)
    .bind(&qs)
    .bind(&ts)
    .bind(&vs)
    .bind(&runs)
    .bind(&fs)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Drops the monthly partitions that end before `cutoff`. Returns their names.
pub async fn drop_partitions_before(pool: &PgPool, cutoff: DateTime<Utc>) -> Result<Vec<String>> {
    let parts: Vec<(String, String)> = sqlx::query_as(
        "select c.relname::text, pg_get_expr(c.relpartbound, c.oid)
         from pg_inherits i join pg_class c on c.oid = i.inhrelid
         where i.inhparent = 'sensors.reading'::regclass",
    )
    .fetch_all(pool)
    .await?;
    let mut dropped = Vec::new();
    for (name, bound) in parts {
        // FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')
        let Some(upper) = bound.split("TO ('").nth(1).and_then(|s| s.split('\'').next()) else {
            continue;
        };
        let Ok(upper) = DateTime::parse_from_str(&format!("{upper}00"), "%Y-%m-%d %H:%M:%S%z") else {
            continue;
        };
        if upper.with_timezone(&Utc) <= cutoff && name.starts_with("reading_") {
            sqlx::query(&format!("drop table sensors.\"{name}\"")).execute(pool).await?;
            dropped.push(name);
        }
    }
    Ok(dropped)
}

/// The latest reading of one station's quantity.
pub async fn latest(pool: &PgPool, station_id: i64, quantity: Quantity) -> Result<Option<Latest>> {
    let row: Option<(DateTime<Utc>, f64, i32)> = sqlx::query_as(
        "select observed_at, value, qc from sensors.latest where station_id = $1 and quantity = $2",
    )
    .bind(station_id)
    .bind(quantity.code())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(observed_at, value, qc)| Latest { observed_at, value, qc: Flags(qc) }))
}
