//! The baseline: what a plain PostgreSQL offers for the same autocomplete — one row per civico with its label
//! (`Via Giuseppe Garibaldi 12/A, Genova`), searched with `ILIKE '%…%'` through a pg_trgm GIN index, and by
//! trigram similarity (`%` and the `<->` distance, ordered through a pg_trgm GiST index).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sqlx::PgPool;

use crate::generate::Dataset;
use crate::names;

/// The label of a civico as the baseline stores it (and as Vedetta writes it).
pub fn label(data: &Dataset, i: usize) -> String {
    let c = &data.civici[i];
    let s = &data.streets[c.street as usize];
    let number = geodata::anncsu::civico::display(
        Some(c.numero as i32),
        c.esponente,
        if c.red { "ROSSO" } else { "" },
        None,
    );
    format!("{} {number}, {}", geodata::anncsu::odonimo::display(&s.odonimo()), names::COMUNI[s.comune].2)
}

/// Creates and indexes the baseline table. Returns how long the indexes took.
pub async fn prepare(pool: &PgPool, data: &Dataset, knn: bool) -> Result<Duration> {
    sqlx::query("create extension if not exists pg_trgm").execute(pool).await?;
    sqlx::query("create schema if not exists bench_baseline").execute(pool).await?;
    sqlx::query("create table bench_baseline.address (id bigint primary key, istat text not null, label text not null)")
        .execute(pool)
        .await?;
    let mut text = String::with_capacity(data.civici.len() * 48);
    for i in 0..data.civici.len() {
        let istat = names::COMUNI[data.streets[data.civici[i].street as usize].comune].0;
        let _ = writeln!(text, "{i}\t{istat}\t{}", label(data, i));
    }
    let mut conn = pool.acquire().await?;
    let mut copy = conn.copy_in_raw("copy bench_baseline.address (id, istat, label) from stdin").await?;
    copy.send(text.into_bytes()).await?;
    copy.finish().await.context("COPY of the baseline")?;
    drop(conn);
    let started = Instant::now();
    sqlx::query("create index address_label_trgm on bench_baseline.address using gin (label gin_trgm_ops)")
        .execute(pool)
        .await?;
    sqlx::query("create index address_istat on bench_baseline.address (istat)").execute(pool).await?;
    if knn {
        sqlx::query(
            "create index address_label_gist on bench_baseline.address using gist (label gist_trgm_ops)",
        )
        .execute(pool)
        .await?;
    }
    sqlx::query("analyze bench_baseline.address").execute(pool).await?;
    Ok(started.elapsed())
}

fn like_pattern(q: &str) -> String {
    let escaped = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// `label ILIKE '%q%'`, in the comune when given.
pub async fn ilike(pool: &PgPool, q: &str, istat: Option<&str>, limit: i64) -> Result<Vec<(i64, String)>> {
    let pattern = like_pattern(q);
    let rows =
        match istat {
            Some(istat) => sqlx::query_as(
                "select id, label from bench_baseline.address where label ilike $1 and istat = $2 limit $3",
            )
            .bind(pattern)
            .bind(istat)
            .bind(limit)
            .fetch_all(pool)
            .await?,
            None => {
                sqlx::query_as("select id, label from bench_baseline.address where label ilike $1 limit $2")
                    .bind(pattern)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
        };
    Ok(rows)
}

/// Trigram similarity: `label % q order by label <-> q`, in the comune when given.
pub async fn trigram(pool: &PgPool, q: &str, istat: Option<&str>, limit: i64) -> Result<Vec<(i64, String)>> {
    let rows = match istat {
        Some(istat) => {
            sqlx::query_as(
                "select id, label from bench_baseline.address
                 where label % $1 and istat = $2 order by label <-> $1 limit $3",
            )
            .bind(q)
            .bind(istat)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        None => sqlx::query_as(
            "select id, label from bench_baseline.address where label % $1 order by label <-> $1 limit $2",
        )
        .bind(q)
        .bind(limit)
        .fetch_all(pool)
        .await?,
    };
    Ok(rows)
}
