//! The database side of an import, class by class. Imports of one class are serialised by an advisory lock.
//!
//! - **New class**: a table of its own is created and filled by several `COPY … (FORMAT binary)` streams at
//!   once (one connection each: the server parses EWKB and jsonb on every core), repaired, indexed by two
//!   connections at once (GiST on one, the B-trees on the other) and attached to `topo.object` in one final
//!   transaction with the release record. Until that commit no query sees the class; if anything fails the table
//!   is dropped. Every feature is `added`.
//! - **Known class**: one transaction. The features are copied into a temporary staging table; the differences
//!   with the current versions (by natural key and digest) are computed and applied with a few set-based
//!   statements: changed and removed objects get `valid_to`, new versions get `valid_from`. Unchanged objects are
//!   not touched.
//!
//! Invalid geometries (`ST_IsValid`) of the rows to be stored are repaired with `ST_MakeValid` (keeping the
//! parts of the original dimension) and counted; those that repair to nothing are rejected with
//! `ST_IsValidReason`. With `--comune` the import covers that comune only: objects of other comuni are never
//! removed by it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use tokio::sync::mpsc;

use super::ClassReport;
use super::encode::CopyBuffer;
use super::pipeline::{self, Chunk, Layout, Summary};
use super::source::Layer;
use crate::{Error, Result};

/// What is common to the classes of one import.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub label: String,
    pub valid_from: DateTime<Utc>,
    pub comune: Option<String>,
    pub total: u64,
}

/// Progress of the whole import: features done before this class, and the callback.
pub(crate) struct Progress<'a> {
    pub done_before: u64,
    pub callback: &'a (dyn Fn(u64, u64) + Sync),
}

/// The name of a class's partition: letters, digits and `_` only (safe in SQL), unique by a hash suffix.
fn partition_name(class: &str) -> String {
    let slug: String = class
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    let hash = xxhash_rust::xxh3::xxh3_64(class.as_bytes());
    format!("object_{slug}_{:08x}", hash as u32)
}

/// `CASE` giving the `ST_CollectionExtract` type of a geometry's own dimension.
const SAME_DIMENSION: &str = "case st_dimension(geom) when 0 then 1 when 1 then 2 else 3 end";

/// Most COPY streams for a new class.
const MAX_STREAMS: usize = 4;

pub(crate) async fn import_layer(
    pool: &PgPool,
    layer: Arc<Layer>,
    run: &Run,
    progress: &Progress<'_>,
) -> Result<ClassReport> {
    let mut conn = pool.acquire().await?;
    let lock = "select pg_advisory_lock(hashtextextended('vedetta.topo.' || $1, 0))";
    sqlx::query(lock).bind(&layer.class).execute(&mut *conn).await?;
    let result = import_locked(pool, &mut conn, layer.clone(), run, progress).await;
    let unlock = "select pg_advisory_unlock(hashtextextended('vedetta.topo.' || $1, 0))";
    if sqlx::query(unlock).bind(&layer.class).execute(&mut *conn).await.is_err() {
        conn.detach(); // closing the session releases the lock
    }
    result
}

async fn import_locked(
    pool: &PgPool,
    conn: &mut PoolConnection<Postgres>,
    layer: Arc<Layer>,
    run: &Run,
    progress: &Progress<'_>,
) -> Result<ClassReport> {
    let latest: Option<DateTime<Utc>> =
        sqlx::query_scalar("select max(valid_from) from topo.release where class = $1")
            .bind(&layer.class)
            .fetch_one(&mut **conn)
            .await?;
    if let Some(latest) = latest.filter(|l| *l >= run.valid_from) {
        return Err(Error::Import(format!(
            "class {}: this release is valid from {}, not after the latest one already imported ({}); \
             releases are imported in order",
            layer.class,
            run.valid_from.to_rfc3339(),
            latest.to_rfc3339()
        )));
    }
    let release_id: i64 = sqlx::query_scalar("select nextval(pg_get_serial_sequence('topo.release', 'id'))")
        .fetch_one(&mut **conn)
        .await?;
    let known: bool = sqlx::query_scalar("select exists (select 1 from topo.class where class = $1)")
        .bind(&layer.class)
        .fetch_one(&mut **conn)
        .await?;
    let mut report = ClassReport {
        class: layer.class.clone(),
        file: layer.file.display().to_string(),
        crs: layer.crs.clone(),
        key: layer.key.describe(),
        notes: layer.notes.clone(),
        ..ClassReport::default()
    };
    let summary = if known {
        let mut tx = conn.begin().await?;
        let summary = known_class(&mut tx, layer.clone(), run, release_id, progress, &mut report).await?;
        record_release(&mut tx, release_id, &layer, run, &report).await?;
        tx.commit().await?;
        summary
    } else {
        let table = partition_name(&layer.class);
        // A table left by an interrupted import (never attached, so never seen) is dropped and made anew.
        sqlx::query(&format!("drop table if exists topo.{table}")).execute(&mut **conn).await?;
        sqlx::query("select topo.create_class_table($1, $2)")
            .bind(&layer.class)
            .bind(&table)
            .execute(&mut **conn)
            .await?;
        let loaded =
            new_class(pool, conn, &table, layer.clone(), run, release_id, progress, &mut report).await;
        match loaded {
            Ok(summary) => summary,
            Err(e) => {
                let _ = sqlx::query(&format!("drop table if exists topo.{table}")).execute(&mut **conn).await;
                return Err(e);
            }
        }
    };
    if summary.repeated_ids > 0 {
        report.notes.push(format!(
            "{} features repeat an ID an earlier feature of the file has: the n-th feature with ID x is keyed x~n",
            summary.repeated_ids
        ));
    }
    report.rejected.sort_by_key(|r| r.0);
    Ok(report)
}

async fn record_release(
    conn: &mut PgConnection,
    id: i64,
    layer: &Layer,
    run: &Run,
    report: &ClassReport,
) -> Result<()> {
    sqlx::query(
        "insert into topo.release (id, class, label, source_file, crs, comune_istat, valid_from, features, added,
             changed, removed, unchanged, repaired, rejected)
         overriding system value values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(id)
    .bind(&layer.class)
    .bind(&run.label)
    .bind(layer.file.display().to_string())
    .bind(&layer.crs)
    .bind(&run.comune)
    .bind(run.valid_from)
    .bind(report.features as i64)
    .bind(report.added as i64)
    .bind(report.changed as i64)
    .bind(report.removed as i64)
    .bind(report.unchanged as i64)
    .bind(report.repaired as i64)
    .bind(report.rejected.len() as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// One COPY stream: sends what `rx` brings to `COPY <sql>` on `conn`.
async fn stream(
    conn: &mut PgConnection,
    sql: &str,
    mut rx: mpsc::Receiver<Chunk>,
    done: &AtomicU64,
    run: &Run,
    progress: &Progress<'_>,
) -> Result<()> {
    let mut sink = conn.copy_in_raw(sql).await?;
    let mut result = sink.send(CopyBuffer::header()).await.map(|_| ());
    while let Some(chunk) = rx.recv().await {
        if result.is_ok() {
            result = sink.send(chunk.bytes).await.map(|_| ());
        }
        if result.is_err() {
            break; // dropping rx stops the producer
        }
        let now = done.fetch_add(chunk.features, Ordering::Relaxed) + chunk.features;
        (progress.callback)(progress.done_before + now, run.total);
    }
    drop(rx);
    match result {
        Ok(()) => {
            sink.send(CopyBuffer::trailer()).await?;
            sink.finish().await?;
            Ok(())
        }
        Err(e) => {
            let _ = sink.abort(e.to_string()).await;
            Err(e.into())
        }
    }
}

/// Streams the layer through the pipeline into `COPY <target> … FROM STDIN (FORMAT binary)` on each of `conns`.
async fn copy(
    conns: Vec<&mut PgConnection>,
    target: &str,
    layer: Arc<Layer>,
    layout: Layout,
    run: &Run,
    progress: &Progress<'_>,
) -> Result<Summary> {
    let sql = format!("copy {target} {} from stdin with (format binary)", layout.columns());
    let (senders, receivers): (Vec<_>, Vec<_>) = conns.iter().map(|_| mpsc::channel::<Chunk>(2)).unzip();
    let producer = tokio::task::spawn_blocking(move || pipeline::produce(&layer, &layout, &senders));
    let done = AtomicU64::new(0);
    let streams = conns.into_iter().zip(receivers).map(|(c, rx)| stream(c, &sql, rx, &done, run, progress));
    let streamed = futures::future::join_all(streams).await;
    let produced = producer.await.map_err(|e| Error::Import(format!("the reader failed: {e}")))?;
    // The database's error explains a reader that was interrupted, so it comes first.
    streamed.into_iter().collect::<Result<Vec<()>>>()?;
    produced
}

/// The invalid geometries among `rows` (a query giving `tid`, `source_index`, `geom`): (tid, source index,
/// reason, repairable).
async fn invalid(conn: &mut PgConnection, rows: &str) -> Result<Vec<(String, i64, String, bool)>> {
    Ok(sqlx::query_as(&format!(
        "select tid::text, source_index, st_isvalidreason(geom),
                not st_isempty(st_collectionextract(st_makevalid(geom), {SAME_DIMENSION}))
         from ({rows}) s where not st_isvalid(geom) order by source_index"
    ))
    .fetch_all(conn)
    .await?)
}

fn unrepairable(bad: &[(String, i64, String, bool)]) -> Vec<(u64, String)> {
    bad.iter()
        .filter(|b| !b.3)
        .map(|b| (b.1 as u64, format!("invalid geometry that ST_MakeValid cannot repair: {}", b.2)))
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn new_class(
    pool: &PgPool,
    conn: &mut PoolConnection<Postgres>,
    table: &str,
    layer: Arc<Layer>,
    run: &Run,
    release_id: i64,
    progress: &Progress<'_>,
    report: &mut ClassReport,
) -> Result<Summary> {
    let target = format!("topo.{table}");
    let layout = Layout::Object {
        class: layer.class.clone(),
        valid_from: run.valid_from,
        release_id,
        comune: run.comune.clone(),
    };
    // More streams than cores gains nothing; small layers need one; the pool may be small.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let wanted = if layer.count < 50_000 { 1 } else { cores.clamp(1, MAX_STREAMS) };
    let mut extra: Vec<PoolConnection<Postgres>> = Vec::new();
    while extra.len() + 1 < wanted {
        match pool.try_acquire() {
            Some(c) => extra.push(c),
            None => break,
        }
    }
    let mut conns: Vec<&mut PgConnection> = vec![&mut **conn];
    conns.extend(extra.iter_mut().map(|c| &mut **c));
    let mut summary = copy(conns, &target, layer.clone(), layout, run, progress).await?;
    report.features = summary.features;
    let mut rejected = std::mem::take(&mut summary.rejected);

    // The validity scan may use parallel workers: the table is committed and ST_IsValid is costly.
    let mut tx = conn.begin().await?;
    sqlx::query("set local parallel_setup_cost = 0").execute(&mut *tx).await?;
    sqlx::query("set local min_parallel_table_scan_size = 0").execute(&mut *tx).await?;
    sqlx::query("set local client_min_messages = warning").execute(&mut *tx).await?;
    let bad = invalid(&mut tx, &format!("select ctid as tid, source_index, geom from {target}")).await?;
    let tids = |repairable: bool| -> Vec<String> {
        bad.iter().filter(|b| b.3 == repairable).map(|b| b.0.clone()).collect()
    };
    let (fix, unfixable) = (tids(true), tids(false));
    if !fix.is_empty() {
        sqlx::query(&format!(
            "update {target} set geom = st_collectionextract(st_makevalid(geom), {SAME_DIMENSION}), repaired = true
             where ctid = any($1::text[]::tid[])"
        ))
        .bind(&fix)
        .execute(&mut *tx)
        .await?;
    }
    if !unfixable.is_empty() {
        sqlx::query(&format!("delete from {target} where ctid = any($1::text[]::tid[])"))
            .bind(&unfixable)
            .execute(&mut *tx)
            .await?;
    }
    report.repaired = fix.len() as u64;
    rejected.extend(unrepairable(&bad));
    if run.comune.is_none() && comuni_loaded(&mut tx).await? {
        sqlx::query(&format!(
            "update {target} set comune_istat = ({})",
            crate::comune::CONTAINING.replace("$POINT", "st_pointonsurface(geom)")
        ))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;

    // The GiST index on one connection, the B-trees on another, at the same time.
    let btrees = [
        format!("create unique index {table}_pkey on {target} (class, key, valid_from)"),
        format!("create unique index {table}_current_key on {target} (class, key) where valid_to is null"),
    ];
    let gist = format!("create index {table}_geom_idx on {target} using gist (geom)");
    let on_gist_conn = match extra.first_mut() {
        Some(c) => {
            let (a, b) = tokio::join!(run_all(conn, &btrees), run_all(c, std::slice::from_ref(&gist)));
            a.and(b)
        }
        None => run_all(conn, &[btrees[0].clone(), btrees[1].clone(), gist]).await,
    };
    on_gist_conn?;
    drop(extra);

    report.added = report.features - rejected.len() as u64;
    report.rejected = rejected;
    let mut tx = conn.begin().await?;
    sqlx::query("select topo.attach_class_table($1, $2)")
        .bind(&layer.class)
        .bind(table)
        .execute(&mut *tx)
        .await?;
    record_release(&mut tx, release_id, &layer, run, report).await?;
    tx.commit().await?;
    Ok(summary)
}

async fn run_all(conn: &mut PgConnection, statements: &[String]) -> Result<()> {
    for s in statements {
        sqlx::query(s).execute(&mut *conn).await?;
    }
    Ok(())
}

async fn comuni_loaded(conn: &mut PgConnection) -> Result<bool> {
    Ok(sqlx::query_scalar("select exists (select 1 from core.comune)").fetch_one(&mut *conn).await?)
}

async fn known_class(
    conn: &mut PgConnection,
    layer: Arc<Layer>,
    run: &Run,
    release_id: i64,
    progress: &Progress<'_>,
    report: &mut ClassReport,
) -> Result<Summary> {
    sqlx::query("set local client_min_messages = warning").execute(&mut *conn).await?;
    sqlx::query(
        "create temp table dbt_stage (source_index bigint, key text, code text, attrs jsonb, geom geometry,
             digest bigint, reject text) on commit drop",
    )
    .execute(&mut *conn)
    .await?;
    let mut summary =
        copy(vec![&mut *conn], "dbt_stage", layer.clone(), Layout::Stage, run, progress).await?;
    report.features = summary.features;
    let mut rejected = std::mem::take(&mut summary.rejected);
    sqlx::query("analyze dbt_stage").execute(&mut *conn).await?;

    // The rows to store: new keys, and keys whose digest differs from their current version's.
    let class = &layer.class;
    sqlx::query(
        "create temp table dbt_todo on commit drop as
         select s.source_index, s.key, (c.key is null) as is_new
         from dbt_stage s
         left join topo.object c on c.class = $1 and c.key = s.key and c.valid_to is null
         where s.reject is null and (c.key is null or c.digest <> s.digest)",
    )
    .bind(class)
    .execute(&mut *conn)
    .await?;
    let bad = invalid(
        conn,
        "select s.source_index as tid, s.source_index, s.geom from dbt_stage s join dbt_todo t using (source_index)",
    )
    .await?;
    let dropped: Vec<i64> = bad.iter().filter(|b| !b.3).map(|b| b.1).collect();
    let fixed: Vec<i64> = bad.iter().filter(|b| b.3).map(|b| b.1).collect();
    if !dropped.is_empty() {
        sqlx::query("delete from dbt_todo where source_index = any($1)")
            .bind(&dropped)
            .execute(&mut *conn)
            .await?;
    }
    report.repaired = fixed.len() as u64;
    rejected.extend(unrepairable(&bad));

    let (added, changed): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where is_new), count(*) filter (where not is_new) from dbt_todo",
    )
    .fetch_one(&mut *conn)
    .await?;
    let removed = sqlx::query(
        "update topo.object c set valid_to = $2
         where c.class = $1 and c.valid_to is null and ($3::text is null or c.comune_istat = $3)
           and not exists (select 1 from dbt_stage s where s.key = c.key)",
    )
    .bind(class)
    .bind(run.valid_from)
    .bind(&run.comune)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query(
        "update topo.object c set valid_to = $2 from dbt_todo t
         where not t.is_new and c.class = $1 and c.key = t.key and c.valid_to is null",
    )
    .bind(class)
    .bind(run.valid_from)
    .execute(&mut *conn)
    .await?;
    let geom = format!(
        "case when s.source_index = any($5) then st_collectionextract(st_makevalid(s.geom), {}) else s.geom end",
        SAME_DIMENSION.replace("geom", "s.geom")
    );
    let containing = crate::comune::CONTAINING.replace("$POINT", "st_pointonsurface(g.geom)");
    sqlx::query(&format!(
        "insert into topo.object (class, key, valid_from, release_id, code, comune_istat, source_index, attrs, geom,
             digest, repaired)
         select $1, g.key, $2, $3, g.code, coalesce($4, ({containing})), g.source_index, g.attrs, g.geom, g.digest,
                g.repaired
         from (select s.key, s.code, s.source_index, s.attrs, {geom} as geom, s.digest,
                      s.source_index = any($5) as repaired
               from dbt_todo t join dbt_stage s using (source_index)) g"
    ))
    .bind(class)
    .bind(run.valid_from)
    .bind(release_id)
    .bind(&run.comune)
    .bind(&fixed)
    .execute(&mut *conn)
    .await?;
    report.added = added as u64;
    report.changed = changed as u64;
    report.removed = removed;
    report.unchanged = report.features - rejected.len() as u64 - report.added - report.changed;
    report.rejected = rejected;
    Ok(summary)
}
