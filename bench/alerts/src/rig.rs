//! What one phase runs on: a fresh database of the benchmark cluster, a fresh Mosquitto, the real `vedetta serve`
//! (release) with the evaluator ticking every second, and the stations.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use testkit::{BenchCluster, Mosquitto};

/// The admin token the benchmark gives Vedetta (`VEDETTA_ADMIN_TOKEN`), for the operators' SSE stream.
pub const TOKEN: &str = "vdt_bench_alerts_0123456789abcdef";
/// Thresholds of the probe hydrometer (m above the hydrometric zero).
pub const PROBE_THRESHOLDS: &str = r#"{"yellow":2.0,"orange":3.0,"red":4.0}"#;
/// The broker's settings: as `bench/ingest` has them (no maximum on queues, 1000 in flight).
const BROKER: &str = "max_inflight_messages 1000\nmax_queued_messages 0\nmax_queued_bytes 0\n";

/// Station `i` (0-based): `A-0001`…; the probe is station 0.
pub fn code(i: u32) -> String {
    format!("A-{:04}", i + 1)
}

/// Station 0 is the probe hydrometer; then rain gauges and hydrometers alternate.
pub fn is_hydrometer(i: u32) -> bool {
    i.is_multiple_of(2)
}

/// `vedetta/v1/sensors/{code}/{level|rain}`.
pub fn topic(i: u32) -> String {
    let quantity = if is_hydrometer(i) { "level" } else { "rain" };
    format!("vedetta/v1/sensors/{}/{quantity}", code(i))
}

/// A `vedetta serve` child, stopped when dropped (and by a watchdog shell when the benchmark is killed).
#[derive(Debug)]
pub struct Serve {
    child: Child,
    log: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Serve {
    fn spawn(binary: &Path, database_url: &str, mqtt_url: &str) -> Result<Serve> {
        let dir = tempfile::Builder::new().prefix("vedetta-bench-alerts-").tempdir()?;
        let config = dir.path().join("vedetta.toml");
        std::fs::write(&config, "[alerts]\ntick_s = 1\n").context("cannot write vedetta.toml")?;
        let log = dir.path().join("serve.log");
        let out = File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let addr = format!("127.0.0.1:{}", testkit::free_port());
        let mut cmd = Command::new(binary);
        cmd.args(["--config".as_ref(), config.as_os_str(), "--data-dir".as_ref()])
            .arg(dir.path().join("data"))
            .arg("serve")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("VEDETTA_DATABASE_URL", database_url)
            .env("VEDETTA_MQTT_URL", mqtt_url)
            .env("VEDETTA_HTTP_ADDR", &addr)
            .env("VEDETTA_ADMIN_TOKEN", TOKEN)
            .env("VEDETTA_LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = cmd.spawn().with_context(|| format!("cannot start {}", binary.display()))?;
        // Outlives a SIGKILL of the benchmark: stops Vedetta and removes its directory once we are gone.
        testkit::spawn_detached(&format!(
            "p={child} me={me}; until ! kill -0 $me 2>/dev/null || ! kill -0 $p 2>/dev/null; do sleep 1; done; \
             kill -0 $p 2>/dev/null && {{ kill $p; sleep 3; kill -9 $p; }} 2>/dev/null; rm -rf '{dir}'",
            child = child.id(),
            me = std::process::id(),
            dir = dir.path().display()
        ));
        Ok(Serve { child, log, base: format!("http://{addr}"), _dir: dir })
    }

    /// The last lines of Vedetta's log, indented.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].iter().map(|l| format!("  {l}\n")).collect()
    }

    /// Fails, with the end of the log, when Vedetta has exited.
    pub fn alive(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => bail!("vedetta serve exited ({status}); end of its log:\n{}", self.log_tail()),
        }
    }

    /// A counter or gauge of `/metrics` (0 when absent).
    pub async fn metric(&mut self, name: &str) -> Result<f64> {
        Ok(sample(&self.metrics().await?, name))
    }

    async fn metrics(&mut self) -> Result<String> {
        self.alive()?;
        let (status, body) = http_get(&format!("{}/metrics", self.base)).await?;
        anyhow::ensure!(status == 200, "GET /metrics answered {status}");
        Ok(body)
    }

    /// What the ingest writer and the evaluator have done so far.
    pub async fn work(&mut self) -> Result<Work> {
        let text = self.metrics().await?;
        Ok(Work {
            at: Instant::now(),
            seconds: 0.0,
            ingest_batches: sample(&text, "vedetta_ingest_batches_total"),
            ingest_seconds: sample(&text, "vedetta_ingest_batch_seconds_sum"),
            ingest_readings: sample(&text, "vedetta_ingest_readings_stored_total"),
            eval_batches: sample(&text, "vedetta_alert_evaluation_seconds_count"),
            eval_seconds: sample(&text, "vedetta_alert_evaluation_seconds_sum"),
            eval_events: sample(&text, "vedetta_alert_events_evaluated_total"),
        })
    }

    /// SIGTERM, then the exit status (killed after 30 s): `Ok(true)` for a clean exit 0.
    pub fn stop(mut self) -> Result<bool> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().context("cannot run kill")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.success());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(false)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A running phase: broker, Vedetta and a pool on its database.
#[derive(Debug)]
pub struct Rig {
    pub serve: Serve,
    pub pool: PgPool,
    pub broker: Mosquitto,
}

impl Rig {
    /// A fresh database `name` (Vedetta migrates it), a fresh broker, `vedetta serve`, and `stations` stations: the
    /// probe hydrometer with [`PROBE_THRESHOLDS`] (and a QC step limit that lets it jump between colours), the others
    /// without thresholds; every station reports each `interval_s` 60 s.
    pub async fn start(cluster: &BenchCluster, binary: &Path, name: &str, stations: u32) -> Result<Rig> {
        cluster.fresh_database(name, false).await?.close().await;
        let broker = tokio::task::spawn_blocking(|| Mosquitto::start_with(BROKER)).await?;
        let url = cluster.url(name);
        let mut serve = Serve::spawn(binary, &url, &broker.url())?;
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            serve.alive()?;
            if let Ok((200, _)) = http_get(&format!("{}/healthz", serve.base)).await {
                break;
            }
            if Instant::now() > deadline {
                bail!("vedetta serve is not healthy after 90 s; its log:\n{}", serve.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let pool = PgPoolOptions::new().max_connections(2).connect(&url).await?;
        let codes: Vec<String> = (0..stations).map(code).collect();
        let kinds: Vec<&str> =
            (0..stations).map(|i| if is_hydrometer(i) { "hydrometer" } else { "rain_gauge" }).collect();
        sqlx::query(
            "insert into sensors.station (code, name, kind, geom, interval_s, thresholds, qc)
             select c, 'Bench ' || c, k, st_setsrid(st_makepoint(8.93, 44.41), 4326), 60,
                    case when c = $3 then $4::jsonb else '{}' end,
                    case when c = $3 then '{\"max_step_m_per_min\": 10000}'::jsonb else '{}' end
             from unnest($1::text[], $2::text[]) as s (c, k)",
        )
        .bind(&codes)
        .bind(&kinds)
        .bind(code(0))
        .bind(PROBE_THRESHOLDS)
        .execute(&pool)
        .await
        .context("cannot insert the stations")?;
        sqlx::query("checkpoint").execute(&pool).await?;
        Ok(Rig { serve, pool, broker })
    }

    /// Counts the technical (silent-station) alerts, then stops Vedetta (SIGTERM) and says how it ended.
    pub async fn finish(self) -> Result<Ending> {
        let technical_alerts =
            sqlx::query_scalar("select count(*) from alerts.alert where category = 'technical'")
                .fetch_one(&self.pool)
                .await?;
        self.pool.close().await;
        let serve = self.serve;
        let exit_ok = tokio::task::spawn_blocking(move || serve.stop()).await??;
        drop(self.broker);
        Ok(Ending { technical_alerts, exit_ok })
    }
}

/// How a phase's Vedetta ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ending {
    /// Technical alerts (silent stations) it raised: none is expected, every station reports.
    pub technical_alerts: i64,
    /// Exit status 0 after SIGTERM.
    pub exit_ok: bool,
}

/// The unlabelled sample `name` of a Prometheus text (0 when absent).
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(key, _)| *key == name)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Counters of Vedetta's two busy loops: the ingest writer's batches and the evaluator's (`/metrics`).
#[derive(Debug, Clone, Copy)]
pub struct Work {
    /// When the counters were read.
    pub at: Instant,
    /// For a difference ([`Work::since`]): the seconds it spans.
    pub seconds: f64,
    pub ingest_batches: f64,
    pub ingest_seconds: f64,
    pub ingest_readings: f64,
    pub eval_batches: f64,
    pub eval_seconds: f64,
    pub eval_events: f64,
}

impl Work {
    /// What was done between `before` and `self`.
    pub fn since(&self, before: &Work) -> Work {
        Work {
            at: self.at,
            seconds: (self.at - before.at).as_secs_f64(),
            ingest_batches: self.ingest_batches - before.ingest_batches,
            ingest_seconds: self.ingest_seconds - before.ingest_seconds,
            ingest_readings: self.ingest_readings - before.ingest_readings,
            eval_batches: self.eval_batches - before.eval_batches,
            eval_seconds: self.eval_seconds - before.eval_seconds,
            eval_events: self.eval_events - before.eval_events,
        }
    }

    /// One line for the report: batches, their size and time, and the share of the interval each loop was busy.
    pub fn describe(&self) -> String {
        let seconds = self.seconds.max(1e-9);
        let per = |x: f64, n: f64| if n > 0.0 { x / n } else { 0.0 };
        format!(
            "the ingest writer committed {:.0} batches ({:.0} readings, {:.1} ms each; busy {:.0} % of the time), \
             the evaluator {:.0} batches ({:.0} events, {:.1} ms each; busy {:.0} %)",
            self.ingest_batches,
            per(self.ingest_readings, self.ingest_batches),
            per(self.ingest_seconds, self.ingest_batches) * 1000.0,
            self.ingest_seconds / seconds * 100.0,
            self.eval_batches,
            per(self.eval_events, self.eval_batches),
            per(self.eval_seconds, self.eval_batches) * 1000.0,
            self.eval_seconds / seconds * 100.0,
        )
    }
}

/// GET `url` on a blocking thread: status and body.
pub async fn http_get(url: &str) -> Result<(u16, String)> {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || match ureq::get(&url).timeout(Duration::from_secs(5)).call() {
        Ok(r) => Ok((r.status(), r.into_string()?)),
        Err(ureq::Error::Status(code, r)) => Ok((code, r.into_string().unwrap_or_default())),
        Err(e) => Err(anyhow::Error::new(e).context(format!("GET {url}"))),
    })
    .await?
}

/// `2.0.11`, say.
pub fn mosquitto_version() -> String {
    Command::new("mosquitto")
        .arg("-h")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().next().map(str::to_string))
        .map(|l| l.trim_start_matches("mosquitto version ").to_string())
        .unwrap_or_else(|| "?".into())
}
