//! Phase "pace": the ingest benchmark's full burst (as fast as the publishers go) into `vedetta serve`, whose
//! evaluator must keep pace. Every second the evaluator's lag is sampled: the `readings.committed` events it has not
//! evaluated yet (after its cursor, `alerts.consumer_cursor` 'evaluator'), and how old the oldest of them is.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use sqlx::PgPool;
use testkit::BenchCluster;

use crate::mqtt::{self, Load};
use crate::rig::{self, Rig};

/// How long after the last reading is stored the evaluator may take to reach lag 0 (the PASS criterion).
pub const CATCH_UP: Duration = Duration::from_secs(5);
/// How long the phase waits for that at the most.
const GIVE_UP: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Settings {
    pub stations: u32,
    pub messages: u64,
    pub connections: usize,
}

/// One sample of the evaluator's lag.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Seconds since the first publish.
    pub at: f64,
    /// Readings stored so far (of the burst).
    pub stored: f64,
    /// `readings.committed` events after the evaluator's cursor.
    pub events: i64,
    /// Age of the oldest of them, s (0 when none).
    pub age: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub messages: u64,
    pub stations: u32,
    /// First publish → every reading stored.
    pub stored_seconds: f64,
    /// Every reading stored → the evaluator's lag at 0 (`None`: not within the phase's patience).
    pub caught_up_after: Option<f64>,
    /// `readings.committed` events the burst appended.
    pub events: i64,
    /// PUBACKs the publishers received.
    pub acked: u64,
    pub samples: Vec<Sample>,
    pub ending: rig::Ending,
    /// What the ingest writer and the evaluator did from the first publish to no lag.
    pub work: Option<rig::Work>,
}

impl Outcome {
    pub fn max_events(&self) -> i64 {
        self.samples.iter().map(|s| s.events).max().unwrap_or(0)
    }

    pub fn max_age(&self) -> f64 {
        self.samples.iter().map(|s| s.age).fold(0.0, f64::max)
    }

    pub fn pass(&self) -> bool {
        self.caught_up_after.is_some_and(|s| s <= CATCH_UP.as_secs_f64())
    }
}

async fn lag(pool: &PgPool) -> Result<(i64, f64)> {
    let row: (i64, Option<f64>) = sqlx::query_as(
        "with c as (select coalesce(max(last_event_id), 0) as id from alerts.consumer_cursor where consumer = 'evaluator')
         select (select count(*) from core.event e, c where e.kind = 'readings.committed' and e.id > c.id),
                (select extract(epoch from clock_timestamp() - e.created_at)::float8 from core.event e, c
                 where e.kind = 'readings.committed' and e.id > c.id order by e.id limit 1)",
    )
    .fetch_one(pool)
    .await
    .context("cannot read the evaluator's lag")?;
    Ok((row.0, row.1.unwrap_or(0.0).max(0.0)))
}

async fn last_event(pool: &PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar("select coalesce(max(id), 0) from core.event").fetch_one(pool).await?)
}

/// Runs the phase on a fresh database `bench_alerts_pace` of `cluster`.
pub async fn run(cluster: &BenchCluster, binary: &Path, s: &Settings) -> Result<Outcome> {
    let mut rig = Rig::start(cluster, binary, "bench_alerts_pace", s.stations).await?;
    let load = Load::connect(rig.broker.port(), s.connections, s.stations, "burst").await?;
    let stored = "vedetta_ingest_readings_stored_total";

    // One reading of the probe, repeated until stored and evaluated: subscription in place, evaluator leading.
    let (probe, _) = mqtt::Conn::open(rig.broker.port(), "bench-alerts-pace-probe", &[]).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        probe.publish(rig::topic(0), mqtt::payload(Utc::now(), 1.0)).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if rig.serve.metric(stored).await? >= 1.0 && lag(&rig.pool).await?.0 == 0 {
            let cursor: Option<i64> = sqlx::query_scalar(
                "select last_event_id from alerts.consumer_cursor where consumer = 'evaluator'",
            )
            .fetch_optional(&rig.pool)
            .await?;
            if cursor.is_some() {
                break;
            }
        }
        if Instant::now() > deadline {
            bail!(
                "Vedetta did not store and evaluate a reading within 60 s; its log:\n{}",
                rig.serve.log_tail()
            );
        }
    }
    drop(probe);

    let per_station = s.messages.div_ceil(u64::from(s.stations - 1));
    let total = per_station * u64::from(s.stations - 1);
    // Times end now, half a second apart: no station looks silent (3 × 60 s) while the burst flows.
    let lists = load.burst(per_station, Utc::now(), chrono::Duration::milliseconds(500));
    let work_before = rig.serve.work().await?;
    let base = work_before.ingest_readings;
    let first_event = last_event(&rig.pool).await?;
    eprintln!("pace: publishing {total} readings over {} connections …", s.connections);
    let started = Instant::now();
    let tasks = load.send_all(lists);
    let mut out = Outcome { messages: total, stations: s.stations, ..Outcome::default() };
    let (mut stored_at, mut next_sample) = (None::<Instant>, Instant::now());
    loop {
        let now = Instant::now();
        let done = rig.serve.metric(stored).await? - base;
        if stored_at.is_none() && done >= total as f64 {
            stored_at = Some(now);
            out.stored_seconds = (now - started).as_secs_f64();
        }
        if now >= next_sample || stored_at.is_some() {
            let (events, age) = lag(&rig.pool).await?;
            if now >= next_sample {
                out.samples.push(Sample { at: (now - started).as_secs_f64(), stored: done, events, age });
                next_sample += Duration::from_secs(1);
            }
            if let Some(at) = stored_at
                && events == 0
            {
                out.caught_up_after = Some(at.elapsed().as_secs_f64());
                break;
            }
        }
        if stored_at.is_some_and(|at| at.elapsed() > GIVE_UP) || started.elapsed() > GIVE_UP * 10 {
            break;
        }
        load.check()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    out.work = Some(rig.serve.work().await?.since(&work_before));
    let (events, age) = lag(&rig.pool).await?;
    out.samples.push(Sample { at: started.elapsed().as_secs_f64(), stored: total as f64, events, age });
    for task in tasks {
        task.await.context("a publishing task failed")??;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while load.acked() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    out.acked = load.acked();
    out.events =
        sqlx::query_scalar("select count(*) from core.event where kind = 'readings.committed' and id > $1")
            .bind(first_event)
            .fetch_one(&rig.pool)
            .await?;
    drop(load);
    out.ending = rig.finish().await?;
    Ok(out)
}
