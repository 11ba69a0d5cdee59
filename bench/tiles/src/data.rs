//! The data every server reads: a DB Topografico class of generated buildings around Genova (written straight
//! into its partition of `topo.object`, as the DBT import leaves it), the comuni of the province, stations
//! imported by `vedetta import stations`, citizen reports; and the list of tiles the clients ask for.

use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use sqlx::PgPool;

/// The buildings' partition: what Martin and TiPG publish as a table (Vedetta's `dbt` layer reads the same rows
/// through `topo.object`).
pub const BUILDINGS_SCHEMA: &str = "topo";
pub const BUILDINGS_TABLE: &str = "object_edifc";

/// Where the buildings are: Genova from Voltri to Nervi and up the Polcevera and Bisagno valleys
/// (`[west, south, east, north]`, WGS84).
pub const AREA: [f64; 4] = [8.78, 44.38, 9.05, 44.49];

/// The probe station of the freshness phase: a hydrometer on the Bisagno at Brignole.
pub const PROBE: (&str, f64, f64) = ("BENCH-PROBE", 8.9466, 44.4071);

/// A tile address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Xyz {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl Xyz {
    /// The tile at zoom `z` showing the point.
    pub fn at(lon: f64, lat: f64, z: u8) -> Xyz {
        let n = f64::from(1u32 << z);
        let x = ((lon + 180.0) / 360.0 * n).floor();
        let lat = lat.to_radians();
        let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
        // Inside [0, n) for any point of the area.
        Xyz { z, x: x as u32, y: y as u32 }
    }

    /// `template` with `{z}`, `{x}`, `{y}` replaced.
    pub fn fill(&self, template: &str) -> String {
        template
            .replace("{z}", &self.z.to_string())
            .replace("{x}", &self.x.to_string())
            .replace("{y}", &self.y.to_string())
    }
}

/// `count` buildings: rectangles of 8 to 30 m, turned at random, two thirds of them in fifty neighbourhoods
/// (normal spread of about 600 m) and the rest evenly over [`AREA`]. The same buildings on every run (the
/// generator is seeded). Returns the seconds it took, indexes included.
pub async fn buildings(pool: &PgPool, count: u64) -> Result<f64> {
    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    sqlx::query("select topo.create_class_table('EDIFC', $1)")
        .bind(BUILDINGS_TABLE)
        .execute(&mut *conn)
        .await?;
    let release: i64 = sqlx::query_scalar(
        "insert into topo.release (class, label, source_file, crs, comune_istat, valid_from, features, added)
         values ('EDIFC', 'bench-tiles', 'generated', 'EPSG:4326', '010025', now(), $1, $1) returning id",
    )
    .bind(i64::try_from(count)?)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("select setseed(0.42)").execute(&mut *conn).await?;
    let [west, south, east, north] = AREA;
    sqlx::query(&format!(
        "with centre as (
             select c, {west} + random() * ({east} - {west}) as cx, {south} + random() * ({north} - {south}) as cy
             from generate_series(1, 50) c
         ),
         spot as (
             select i, random() as pick, random() as u1, random() as u2, random() as u3, random() as u4,
                    1 + floor(random() * 50)::int as c,
                    4 + random() * 11 as half_w, 4 + random() * 11 as half_h, random() * pi() as angle
             from generate_series(1, $1::bigint) i
         ),
         placed as (
             select s.i, s.half_w, s.half_h, s.angle,
                    case when s.pick < 0.67
                         then c.cx + 0.0075 * sqrt(-2 * ln(1 - s.u1)) * cos(2 * pi() * s.u2)
                         else {west} + s.u3 * ({east} - {west}) end as x,
                    case when s.pick < 0.67
                         then c.cy + 0.0054 * sqrt(-2 * ln(1 - s.u1)) * sin(2 * pi() * s.u2)
                         else {south} + s.u4 * ({north} - {south}) end as y
             from spot s join centre c using (c)
         )
         insert into topo.{BUILDINGS_TABLE}
             (class, key, valid_from, release_id, code, comune_istat, source_index, attrs, geom, digest)
         select 'EDIFC', 'EDIFC.' || i, now(), $2, '0201', '010025', i - 1,
                jsonb_build_object('EDIFC_USO', (array['01', '02', '03', '04'])[1 + (i % 4)::int]),
                st_rotate(st_makeenvelope(x - half_w / 79560.0, y - half_h / 111130.0,
                                          x + half_w / 79560.0, y + half_h / 111130.0, 4326), angle, x, y),
                i
         from placed"
    ))
    .bind(i64::try_from(count)?)
    .bind(release)
    .execute(&mut *conn)
    .await
    .context("while generating the buildings")?;
    for sql in [
        format!(
            "create unique index {BUILDINGS_TABLE}_pkey on topo.{BUILDINGS_TABLE} (class, key, valid_from)"
        ),
        format!(
            "create unique index {BUILDINGS_TABLE}_current_key on topo.{BUILDINGS_TABLE} (class, key) where valid_to is null"
        ),
        format!("create index {BUILDINGS_TABLE}_geom_idx on topo.{BUILDINGS_TABLE} using gist (geom)"),
    ] {
        sqlx::query(&sql).execute(&mut *conn).await?;
    }
    sqlx::query("select topo.attach_class_table('EDIFC', $1)")
        .bind(BUILDINGS_TABLE)
        .execute(&mut *conn)
        .await?;
    Ok(started.elapsed().as_secs_f64())
}

/// `count` hydrometers spread over [`AREA`] (a jittered grid), with the three thresholds, plus the probe, as the
/// GeoJSON FeatureCollection `vedetta import stations` reads.
pub fn stations(count: u32) -> Value {
    let [west, south, east, north] = AREA;
    let columns = f64::from(count).sqrt().ceil().max(1.0) as u32;
    let rows = count.div_ceil(columns).max(1);
    let mut features: Vec<Value> = (0..count)
        .map(|i| {
            let jitter = |k: u32| f64::from((i.wrapping_mul(2_654_435_761).wrapping_add(k)) % 1000) / 1000.0;
            let lon = west + (east - west) * (f64::from(i % columns) + jitter(1)) / f64::from(columns);
            let lat = south + (north - south) * (f64::from(i / columns) + jitter(7)) / f64::from(rows);
            station(&code(i), round6(lon), round6(lat))
        })
        .collect();
    features.push(station(PROBE.0, PROBE.1, PROBE.2));
    json!({"type": "FeatureCollection", "features": features})
}

fn station(code: &str, lon: f64, lat: f64) -> Value {
    json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "code": code, "name": format!("Idrometro {code}"), "kind": "hydrometer", "interval_s": 60,
            "thresholds": {"yellow": 2.0, "orange": 3.0, "red": 4.0}
        }
    })
}

/// `BENCH-0001`, …
pub fn code(i: u32) -> String {
    format!("BENCH-{:04}", i + 1)
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// `count` approved citizen reports of Genova over [`AREA`], mostly open.
pub async fn reports(pool: &PgPool, count: u32) -> Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query("select setseed(0.17)").execute(&mut *conn).await?;
    let [west, south, east, north] = AREA;
    sqlx::query(&format!(
        "insert into reports.report (comune, category, description, geom, status, reporter_type, priority,
             tracking_sha256, approved, hidden, source, created_at, updated_at)
         select '010025',
                (array['buca_stradale', 'rifiuti', 'illuminazione', 'caditoia_ostruita', 'allagamento'])
                    [1 + floor(random() * 5)::int],
                'Segnalazione generata n. ' || n,
                st_setsrid(st_point({west} + random() * ({east} - {west}), {south} + random() * ({north} - {south})), 4326),
                (array['new', 'acknowledged', 'in_progress', 'resolved'])[1 + floor(random() * 4)::int],
                'citizen', 3, sha256(int8send(n)), true, false, 'import', now() - random() * interval '60 days', now()
         from generate_series(1, $1::bigint) n"
    ))
    .bind(i64::from(count))
    .execute(&mut *conn)
    .await
    .context("while generating the reports")?;
    Ok(())
}

/// The tiles the clients ask for, `count` of them over [`AREA`]: every zoom-14 tile, every zoom-15 tile, then
/// zoom-16 tiles taken evenly from those of the area (the same list on every run).
pub fn tile_list(count: usize) -> Vec<Xyz> {
    let [west, south, east, north] = AREA;
    let span = |z: u8| {
        let (a, b) = (Xyz::at(west, north, z), Xyz::at(east, south, z));
        (a.x..=b.x).flat_map(move |x| (a.y..=b.y).map(move |y| Xyz { z, x, y })).collect::<Vec<_>>()
    };
    let mut list: Vec<Xyz> = span(14).into_iter().chain(span(15)).take(count).collect();
    let z16 = span(16);
    let wanted = count.saturating_sub(list.len());
    if wanted > 0 && !z16.is_empty() {
        let step = (z16.len() as f64 / wanted as f64).max(1.0);
        list.extend((0..wanted).map(|k| z16[((k as f64 * step) as usize).min(z16.len() - 1)]));
    }
    list.sort_unstable();
    list.dedup();
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_are_addressed_as_slippy_maps_do() {
        // Piazza De Ferrari, Genova, at zoom 14.
        assert_eq!(Xyz::at(8.9339, 44.4073, 14), Xyz { z: 14, x: 8598, y: 5931 });
        let list = tile_list(890);
        assert_eq!(list.len(), 890);
        assert!(list.iter().all(|t| (14..=16).contains(&t.z)));
    }
}
