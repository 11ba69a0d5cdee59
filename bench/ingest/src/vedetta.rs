//! Phase "vedetta": the real `vedetta ingest` worker between Mosquitto and PostGIS — a burst for the sustained
//! rate, then a paced stream for the publish → commit latency.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use chrono::{TimeZone, Utc};

use crate::database::{self, BenchCluster};
use crate::metrics::{self, Histogram, Quantile};
use crate::processes::{self, ChildGuard, Mosquitto};
use crate::workload::{self, Plan, Publishers};

const STORED: &str = "vedetta_ingest_readings_stored_total";
const DUPLICATES: &str = "vedetta_ingest_readings_duplicate_total";
const LAG: &str = "vedetta_ingest_commit_lag_seconds";
const BATCHES: &str = "vedetta_ingest_batches_total";
const BATCH_SECONDS: &str = "vedetta_ingest_batch_seconds_sum";
/// A phase fails when nothing is stored for this long.
pub const STALL: Duration = Duration::from_secs(60);

/// How the phase runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub binary: PathBuf,
    pub publishers: usize,
    pub latency_rate: u32,
    pub latency_seconds: u32,
}

/// What the phase measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub readings: u64,
    /// First publish → the last reading committed.
    pub seconds: f64,
    /// First publish → the last PUBACK from the broker.
    pub publish_seconds: f64,
    /// Batches the writer committed during the burst, and the seconds it spent in them (decode to commit).
    pub batches: f64,
    pub batch_seconds: f64,
    pub latency: Latency,
    pub peak_rss_kb: Option<u64>,
    pub exit: String,
    pub exit_ok: bool,
    pub dead_letters: i64,
    pub duplicates: f64,
    pub rows_in_database: i64,
    pub rows_expected: i64,
    /// The newest migration in Vedetta's database and the newest one the benchmark was built with.
    pub migrations: (i64, i64),
}

/// The paced sub-phase.
#[derive(Debug, Clone)]
pub struct Latency {
    pub rate: u32,
    pub published: u64,
    pub publish_seconds: f64,
    pub observed: f64,
    pub p50: Quantile,
    pub p99: Quantile,
    /// Fraction of the readings committed within the p99 target (a bucket bound, so exact).
    pub within_target: Option<f64>,
}

/// A running `vedetta ingest`.
struct Vedetta {
    child: ChildGuard,
    base: String,
    _dir: tempfile::TempDir,
}

impl Vedetta {
    fn start(binary: &Path, database_url: &str, mqtt_port: u16) -> Result<Vedetta> {
        let dir = tempfile::Builder::new().prefix("vedetta-bench-data-").tempdir()?;
        let http = format!("127.0.0.1:{}", ::database::cluster::free_port()?);
        let mut cmd = Command::new(binary);
        cmd.arg("--data-dir").arg(dir.path().join("data")).arg("ingest").current_dir(dir.path());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("VEDETTA_") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        cmd.env("VEDETTA_DATABASE_URL", database_url)
            .env("VEDETTA_MQTT_URL", format!("mqtt://127.0.0.1:{mqtt_port}"))
            .env("VEDETTA_HTTP_ADDR", &http)
            .env("VEDETTA_LOG_LEVEL", "warn");
        let child = ChildGuard::spawn("vedetta ingest", cmd, &dir.path().join("vedetta.log"), dir.path())?;
        Ok(Vedetta { child, base: format!("http://{http}"), _dir: dir })
    }

    async fn wait_healthy(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.child.check_alive()?;
            let answer = processes::http_get(&format!("{}/healthz", self.base)).await;
            if let Ok((200, _)) = answer {
                return Ok(());
            }
            if Instant::now() > deadline {
                let last = match answer {
                    Ok((status, body)) => format!("{status} {body}"),
                    Err(e) => format!("{e:#}"),
                };
                bail!(
                    "vedetta ingest is not healthy after {timeout:?} (last answer: {last}); its log:\n{}",
                    self.child.log_tail(20)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn metrics(&mut self) -> Result<String> {
        self.child.check_alive()?;
        let (status, body) = processes::http_get(&format!("{}/metrics", self.base)).await?;
        ensure!(status == 200, "GET /metrics answered {status}: {body}");
        Ok(body)
    }

    async fn stored(&mut self) -> Result<u64> {
        Ok(metrics::sample(&self.metrics().await?, STORED).unwrap_or(0.0) as u64)
    }

    /// Polls `/metrics` every 50 ms until `target` readings are stored; returns when that was seen. Also notes
    /// when the publishers had every PUBACK (`acked`, for `expected_acks`).
    async fn wait_stored(
        &mut self,
        target: u64,
        broker: &mut Mosquitto,
        publishers: &Publishers,
        expected_acks: u64,
        acked: &mut Option<Instant>,
    ) -> Result<Instant> {
        let (mut last, mut last_change, mut last_print) = (0, Instant::now(), Instant::now());
        loop {
            let stored = self.stored().await?;
            let now = Instant::now();
            if acked.is_none() && publishers.acked() >= expected_acks {
                *acked = Some(now);
            }
            if stored >= target {
                return Ok(now);
            }
            if stored != last {
                (last, last_change) = (stored, now);
            } else if now - last_change > STALL {
                bail!(
                    "Vedetta stored nothing for {STALL:?} ({stored} of {target} stored, {} PUBACKs); its log:\n{}",
                    publishers.acked(),
                    self.child.log_tail(20)
                );
            }
            if now - last_print > Duration::from_secs(5) {
                eprintln!("  … {stored} of {target} stored, {} PUBACKs", publishers.acked());
                last_print = now;
            }
            broker.check_alive()?;
            publishers.check()?;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Runs the phase on a fresh database of `cluster`.
pub async fn run(
    cluster: &BenchCluster,
    broker: &mut Mosquitto,
    plan: &Plan,
    s: &Settings,
) -> Result<Outcome> {
    // Vedetta migrates its database itself (with the migrations it was built with); the stations come after.
    let url = database::create_database(cluster, "bench_vedetta", false).await?;
    let mut vedetta = Vedetta::start(&s.binary, &url, broker.port())?;
    vedetta.wait_healthy(Duration::from_secs(60)).await?;
    let pool = database::pool(&url, 2).await?;
    let (applied, built) = database::migration_versions(&pool).await?;
    if applied != built {
        eprintln!(
            "warning: Vedetta's newest migration is {applied}, this benchmark's is {built}: the binary and the \
             benchmark were built from different sources (the COPY and naive phases use the benchmark's schema)"
        );
    }
    database::insert_stations(&pool, plan.stations).await?;
    database::checkpoint(&pool).await?;
    let publishers = Publishers::connect(broker.port(), s.publishers, "bench-vedetta").await?;

    // A probe, repeated until stored: the worker's subscription is in place and its first batch paid for.
    let probe = plan.probe(0);
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let baseline = loop {
        let stored = vedetta.stored().await?;
        if stored >= 1 {
            break stored;
        }
        ensure!(Instant::now() < deadline, "Vedetta did not store the probe reading within 30 s");
        let payload = workload::payload(probe.observed_at, probe.value).into_bytes();
        publishers.publish(0, workload::topic(probe.station), payload).await?;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    publishers.wait_acked(sent, Duration::from_secs(10)).await?;

    // Burst.
    eprintln!("vedetta: publishing {} readings at QoS 1 over {} connections …", plan.messages, s.publishers);
    let lists = plan.messages_by_publisher(s.publishers);
    let acks_before = publishers.acked();
    let text = vedetta.metrics().await?;
    let (batches_before, batch_seconds_before) = (
        metrics::sample(&text, BATCHES).unwrap_or(0.0),
        metrics::sample(&text, BATCH_SECONDS).unwrap_or(0.0),
    );
    let started = Instant::now();
    let tasks = publishers.publish_all(lists);
    let mut acked = None;
    let done = vedetta
        .wait_stored(baseline + plan.messages, broker, &publishers, acks_before + plan.messages, &mut acked)
        .await?;
    for task in tasks {
        task.await.context("a publishing task failed")??;
    }
    publishers.wait_acked(acks_before + plan.messages, Duration::from_secs(30)).await?;
    let acked = acked.unwrap_or_else(Instant::now);
    let seconds = (done - started).as_secs_f64();
    let text = vedetta.metrics().await?;
    let batches = metrics::sample(&text, BATCHES).unwrap_or(0.0) - batches_before;
    let batch_seconds = metrics::sample(&text, BATCH_SECONDS).unwrap_or(0.0) - batch_seconds_before;

    let latency = paced(&mut vedetta, broker, &publishers, plan, s).await?;
    let text = vedetta.metrics().await?;
    let duplicates = metrics::sample(&text, DUPLICATES).unwrap_or(0.0);
    let peak_rss_kb = processes::peak_rss_kb(vedetta.child.pid());
    publishers.close().await;

    let status = tokio::task::block_in_place(|| vedetta.child.terminate(Duration::from_secs(30)));
    let (exit, exit_ok) = match status {
        Ok(status) if status.success() => ("exit status 0 after SIGTERM".to_string(), true),
        Ok(status) => (format!("{status} after SIGTERM; log:\n{}", vedetta.child.log_tail(10)), false),
        Err(e) => (format!("{e:#}"), false),
    };
    let rows_in_database = database::count_readings(&pool).await?;
    let dead_letters = database::count_dead_letters(&pool).await?;
    pool.close().await;
    Ok(Outcome {
        readings: plan.messages,
        seconds,
        publish_seconds: (acked - started).as_secs_f64(),
        batches,
        batch_seconds,
        latency,
        peak_rss_kb,
        exit,
        exit_ok,
        dead_letters,
        duplicates,
        rows_in_database,
        migrations: (applied, built),
        rows_expected: (1 + plan.messages + u64::from(s.latency_rate) * u64::from(s.latency_seconds)) as i64,
    })
}

/// Publishes at `s.latency_rate` readings/s for `s.latency_seconds`, each observed at its publish time, and reads
/// the commit-lag histogram of exactly those readings.
async fn paced(
    vedetta: &mut Vedetta,
    broker: &mut Mosquitto,
    publishers: &Publishers,
    plan: &Plan,
    s: &Settings,
) -> Result<Latency> {
    let total = u64::from(s.latency_rate) * u64::from(s.latency_seconds);
    eprintln!("vedetta: publishing {} readings/s for {} s …", s.latency_rate, s.latency_seconds);
    let before_text = vedetta.metrics().await?;
    let before = Histogram::parse(&before_text, LAG).unwrap_or_default();
    let stored_before = metrics::sample(&before_text, STORED).unwrap_or(0.0) as u64;
    let acks_before = publishers.acked();

    let stations = u64::from(plan.stations);
    let first_k = plan.messages.div_ceil(stations);
    let mut last_ms = vec![i64::MIN; plan.stations as usize];
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        tick.tick().await;
        let due = ((started.elapsed().as_secs_f64() * f64::from(s.latency_rate)) as u64).min(total);
        while sent < due {
            let station = (sent % stations) as u32;
            let slot = &mut last_ms[station as usize];
            *slot = Utc::now().timestamp_millis().max(slot.saturating_add(1));
            let t = Utc.timestamp_millis_opt(*slot).single().context("a representable time")?;
            let v = workload::value(station, first_k + sent / stations);
            let payload = workload::payload(t, v).into_bytes();
            publishers.publish(station as usize, workload::topic(station), payload).await?;
            sent += 1;
        }
    }
    let publish_seconds = started.elapsed().as_secs_f64();
    let mut acked = None;
    vedetta.wait_stored(stored_before + total, broker, publishers, acks_before + total, &mut acked).await?;
    let after = Histogram::parse(&vedetta.metrics().await?, LAG).unwrap_or_default();
    let lags = after.since(&before);
    Ok(Latency {
        rate: s.latency_rate,
        published: total,
        publish_seconds,
        observed: lags.count(),
        p50: lags.quantile(0.5),
        p99: lags.quantile(0.99),
        within_target: lags.fraction_at_most(crate::report::TARGET_P99_S),
    })
}
