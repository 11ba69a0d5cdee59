//! The databases of the phases, on the benchmarks' private cluster (`testkit::BenchCluster`: the server defaults,
//! fsync and synchronous_commit on, as Vedetta's own private cluster has them).

use anyhow::{Context, Result};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::workload::{self, Plan};

pub use testkit::BenchCluster;

/// Creates `name` afresh on `cluster` (migrated with `migrate`, PostGIS only otherwise) and returns its URL.
pub async fn create_database(cluster: &BenchCluster, name: &str, migrate: bool) -> Result<String> {
    let pool = cluster
        .fresh_database(name, migrate)
        .await
        .with_context(|| format!("cannot create the database {name}"))?;
    pool.close().await;
    Ok(cluster.url(name))
}

/// A small pool on `url`.
pub async fn pool(url: &str, max: u32) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max)
        .connect(url)
        .await
        .context("cannot connect to a benchmark database")
}

/// `PostgreSQL 15.10`, say.
pub async fn server_version(pool: &PgPool) -> Result<String> {
    let full: String = sqlx::query_scalar("select version()").fetch_one(pool).await?;
    Ok(full.split(" on ").next().unwrap_or(&full).split(" (").next().unwrap_or(&full).to_string())
}

/// Inserts the plan's stations (`B-0001`…; even indexes rain gauges, odd hydrometers). Returns their ids by index.
pub async fn insert_stations(pool: &PgPool, stations: u32) -> Result<Vec<i64>> {
    let codes: Vec<String> = (0..stations).map(workload::code).collect();
    let kinds: Vec<&str> = (0..stations).map(|s| workload::series(s).kind).collect();
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "insert into sensors.station (code, name, kind, geom, interval_s, thresholds)
         select c, 'Bench ' || c, k, st_setsrid(st_makepoint(8.9, 44.4), 4326), 60, '{}'
         from unnest($1::text[], $2::text[]) as s (c, k)
         returning code, id",
    )
    .bind(&codes)
    .bind(&kinds)
    .fetch_all(pool)
    .await
    .context("cannot insert the stations")?;
    let by_code: std::collections::HashMap<String, i64> = rows.into_iter().collect();
    codes
        .iter()
        .map(|c| by_code.get(c).copied().with_context(|| format!("station {c} was not created")))
        .collect()
}

/// Creates the monthly reading partitions the plan needs.
pub async fn ensure_partitions(pool: &PgPool, plan: &Plan) -> Result<()> {
    for month in plan.months() {
        sqlx::query("select sensors.ensure_reading_partition($1)")
            .bind(month)
            .execute(pool)
            .await
            .with_context(|| format!("cannot create the partition of {month}"))?;
    }
    Ok(())
}

/// The newest migration applied in the database, and the newest one this benchmark was built with.
pub async fn migration_versions(pool: &PgPool) -> Result<(i64, i64)> {
    let applied: Option<i64> = sqlx::query_scalar("select max(version) from _sqlx_migrations where success")
        .fetch_one(pool)
        .await
        .context("cannot read _sqlx_migrations")?;
    let built = ::database::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    Ok((applied.unwrap_or(0), built))
}

/// Exact number of stored readings.
pub async fn count_readings(pool: &PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar("select count(*) from sensors.reading").fetch_one(pool).await?)
}

/// Number of dead letters.
pub async fn count_dead_letters(pool: &PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar("select count(*) from sensors.dead_letter").fetch_one(pool).await?)
}

/// Flushes dirty pages so that a phase does not pay for the previous phase's checkpoint.
pub async fn checkpoint(pool: &PgPool) -> Result<()> {
    sqlx::query("checkpoint").execute(pool).await.context("checkpoint")?;
    Ok(())
}
