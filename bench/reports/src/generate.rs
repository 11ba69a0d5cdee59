//! The data set: the 149 real comuni of the metropolitan cities of Genova and Palermo, and a million reports inside
//! them with a plausible history, written by the server itself (`INSERT … SELECT` over `ST_GeneratePoints`, with the
//! table's secondary indexes dropped during the load and rebuilt after, as a bulk load does).

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use serde_json::Value;
use sqlx::{PgPool, Row};

/// Genova and Palermo, the two capoluoghi.
pub const GENOVA: &str = "010025";
pub const PALERMO: &str = "082053";

/// Share of the reports filed in each capoluogo; the rest is spread over the other comuni by area.
const CAPOLUOGO_SHARE: f64 = 0.15;

/// Loads both comuni files with `geodata::comune::import`; returns how many comuni are stored.
pub async fn comuni(pool: &PgPool) -> Result<i64> {
    for file in ["comuni/limits_P_10_municipalities.geojson", "comuni/limits_P_82_municipalities.geojson"] {
        let path = testkit::test_data(file);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let collection: Value = serde_json::from_str(&text)?;
        geodata::comune::import(pool, &collection).await?;
    }
    Ok(sqlx::query_scalar("select count(*) from core.comune").fetch_one(pool).await?)
}

/// How many reports each comune gets: 15 % each for Genova and Palermo, the rest by area (largest remainders).
async fn quotas(pool: &PgPool, total: u64) -> Result<Vec<(String, i32)>> {
    let rows = sqlx::query("select istat, st_area(geom::geography) as area from core.comune order by istat")
        .fetch_all(pool)
        .await?;
    let comuni: Vec<(String, f64)> =
        rows.iter().map(|r| Ok((r.try_get("istat")?, r.try_get("area")?))).collect::<Result<_>>()?;
    let others_area: f64 = comuni.iter().filter(|(c, _)| c != GENOVA && c != PALERMO).map(|(_, a)| a).sum();
    let total_f = total as f64;
    let mut shares: Vec<(String, f64)> = comuni
        .iter()
        .map(|(c, area)| {
            let share = if c == GENOVA || c == PALERMO {
                CAPOLUOGO_SHARE
            } else {
                (1.0 - 2.0 * CAPOLUOGO_SHARE) * area / others_area
            };
            (c.clone(), share * total_f)
        })
        .collect();
    let mut quotas: Vec<(String, i32, f64)> =
        shares.drain(..).map(|(c, exact)| (c, exact.floor() as i32, exact - exact.floor())).collect();
    let assigned: i64 = quotas.iter().map(|(_, n, _)| i64::from(*n)).sum();
    let mut missing = total as i64 - assigned;
    let mut order: Vec<usize> = (0..quotas.len()).collect();
    order.sort_by(|a, b| quotas[*b].2.total_cmp(&quotas[*a].2));
    for i in order {
        if missing <= 0 {
            break;
        }
        quotas[i].1 += 1;
        missing -= 1;
    }
    Ok(quotas.into_iter().map(|(c, n, _)| (c, n)).collect())
}

/// What the load took.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub reports: i64,
    pub points_s: f64,
    pub insert_s: f64,
    pub index_s: f64,
    pub genova_last_year: i64,
}

/// Writes `total` reports filed over the four years before now: points uniformly inside their comune, categories
/// skewed towards potholes and waste, statuses 12 % new, 10 % acknowledged, 10 % in progress, 30 % resolved,
/// 28 % closed, 6 % rejected, 4 % duplicate; taken in charge after a log-normal time (median 24 h), resolved after
/// a further log-normal time (median 3 days); 2 % awaiting approval, 1 % hidden.
pub async fn reports(pool: &PgPool, total: u64, seed: u32) -> Result<Loaded> {
    let quotas = quotas(pool, total).await?;
    let mut conn = pool.acquire().await?;
    let started = Instant::now();
    let (codes, counts): (Vec<String>, Vec<i32>) = quotas.into_iter().unzip();
    sqlx::query("drop table if exists bench_points").execute(&mut *conn).await?;
    sqlx::query(
        // ST_GeneratePoints may give a few points less than asked in some polygons: ask 1 % more, keep the quota.
        "create unlogged table bench_points as
         select row_number() over () as n, istat, geom from (
             select q.istat, q.n as quota, d.geom, row_number() over (partition by q.istat) as k
               from unnest($1::text[], $2::int[]) as q(istat, n)
               join core.comune c using (istat)
               cross join lateral st_dump(st_generatepoints(c.geom, q.n + q.n / 100 + 5, $3)) as d
              where q.n > 0
         ) p where k <= quota",
    )
    .bind(&codes)
    .bind(&counts)
    .bind(i32::try_from(seed % 1_000_000).unwrap_or(1))
    .execute(&mut *conn)
    .await?;
    let points_s = started.elapsed().as_secs_f64();

    // Drop the secondary indexes for the load; rebuild them exactly as the migrations define them.
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "select indexname::text, indexdef from pg_indexes
          where schemaname = 'reports' and tablename = 'report' and indexname <> 'report_pkey'",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (name, _) in &indexes {
        sqlx::query(&format!("drop index reports.{name}")).execute(&mut *conn).await?;
    }
    let started = Instant::now();
    sqlx::query("select setseed($1)").bind(f64::from(seed % 1000) / 1000.0).execute(&mut *conn).await?;
    let inserted = sqlx::query(
        "insert into reports.report (comune, category, description, geom, status, reporter_type, priority,
             tracking_sha256, approved, hidden, source, created_at, updated_at, acknowledged_at, resolved_at,
             closed_at)
         select istat, category, 'Segnalazione generata n. ' || n, geom, status, 'citizen', 3,
                sha256(int8send(n)), approved, hidden, 'import', created,
                coalesce(closed, resolved, ack, created), ack, resolved, closed
           from (
             select n, istat, geom, category, status, approved, hidden, created, ack,
                    resolved, case when status = 'closed' then resolved + interval '2 days' end as closed
               from (
                 select n, istat, geom, category, status, approved, hidden, created,
                        case when status not in ('new', 'duplicate') then created + ack_h * interval '1 hour' end
                            as ack,
                        case when status in ('resolved', 'closed')
                             then created + (ack_h + fix_h) * interval '1 hour' end as resolved
                   from (
                     select n, istat, geom,
                            (array['buca_stradale', 'rifiuti', 'illuminazione', 'caditoia_ostruita', 'alberi_verde',
                                   'segnaletica', 'allagamento', 'altro', 'frana'])[1 + floor(power(random(), 1.6) * 9)::int]
                                as category,
                            case when s < 0.12 then 'new' when s < 0.22 then 'acknowledged'
                                 when s < 0.32 then 'in_progress' when s < 0.62 then 'resolved'
                                 when s < 0.90 then 'closed' when s < 0.96 then 'rejected' else 'duplicate' end
                                as status,
                            random() >= 0.02 as approved,
                            random() < 0.01 as hidden,
                            now() - random() * interval '4 years' as created,
                            exp(ln(24) + 1.0 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) as ack_h,
                            exp(ln(72) + 1.2 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) as fix_h
                       from (select *, random() as s from bench_points) p
                   ) draws
               ) timed
           ) done
          -- in filing order, as a live table grows: a comune's reports of a year are spread over the year's pages
          order by created",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let insert_s = started.elapsed().as_secs_f64();
    ensure!(inserted == total, "inserted {inserted} reports of {total}");
    let started = Instant::now();
    for (_, definition) in &indexes {
        sqlx::query(definition).execute(&mut *conn).await?;
    }
    sqlx::query("drop table bench_points").execute(&mut *conn).await?;
    sqlx::query("vacuum analyze reports.report").execute(&mut *conn).await?;
    let index_s = started.elapsed().as_secs_f64();
    let reports: i64 =
        sqlx::query_scalar("select count(*) from reports.report").fetch_one(&mut *conn).await?;
    let genova_last_year: i64 = sqlx::query_scalar(
        "select count(*) from reports.report where comune = $1 and created_at >= now() - interval '365 days'
           and approved and not hidden",
    )
    .bind(GENOVA)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Loaded { reports, points_s, insert_s, index_s, genova_last_year })
}
