//! Phase "raw COPY": the same rows written with one `COPY … FROM STDIN` into the same table — what the disk and
//! PostgreSQL can do with no broker, no decoding, no QC and no acknowledgements: the physical reference.

use std::fmt::Write;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use chrono::{SecondsFormat, Utc};

use crate::database::{self, BenchCluster};
use crate::workload::{self, Plan};

/// What the phase measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub readings: u64,
    pub seconds: f64,
}

/// Runs the phase on a fresh database of `cluster`.
pub async fn run(cluster: &BenchCluster, plan: &Plan) -> Result<Outcome> {
    let url = database::create_database(cluster, "bench_copy", true).await?;
    let pool = database::pool(&url, 2).await?;
    let ids = database::insert_stations(&pool, plan.stations).await?;
    database::ensure_partitions(&pool, plan).await?;

    // The rows as CSV, prepared before the clock starts.
    let received_at = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut csv = String::with_capacity(plan.messages as usize * 80);
    for i in 0..plan.messages {
        let r = plan.reading(i);
        let _ = writeln!(
            csv,
            "{},{},{},{},0,{received_at}",
            ids[r.station as usize],
            workload::series(r.station).quantity,
            r.observed_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            r.value
        );
    }
    database::checkpoint(&pool).await?;

    eprintln!("raw COPY: {} rows …", plan.messages);
    let mut conn = pool.acquire().await?;
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw(
            "copy sensors.reading (station_id, quantity, observed_at, value, qc, received_at) \
             from stdin (format csv)",
        )
        .await
        .context("cannot start the COPY")?;
    for chunk in csv.as_bytes().chunks(1 << 20) {
        copy.send(chunk).await.context("cannot send COPY data")?;
    }
    let rows = copy.finish().await.context("the COPY failed")?;
    let seconds = started.elapsed().as_secs_f64();
    drop(conn);
    ensure!(rows == plan.messages, "COPY stored {rows} rows instead of {}", plan.messages);
    let counted = database::count_readings(&pool).await?;
    ensure!(counted == plan.messages as i64, "{counted} readings in the table instead of {}", plan.messages);
    pool.close().await;
    Ok(Outcome { readings: plan.messages, seconds })
}
