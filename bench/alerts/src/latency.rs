//! Phase "latency": while a background load of readings flows, a probe hydrometer is walked through its colours
//! (verde → gialla → arancione → rossa → arancione → gialla → verde …) one reading every `interval`; each reading is
//! an alert change. For each, from the instant it is handed to the MQTT client, until
//! - the alert change arrives on `vedetta/v1/alerts/#` (matched by subject, `change` and `value`),
//! - the `alert` event arrives on `GET /api/alerts/stream`,
//! - and, the floor, the probe reading itself arrives at a plain subscriber of the same broker.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use serde_json::Value;
use testkit::BenchCluster;
use tokio::sync::mpsc;

use crate::mqtt::{self, Conn, Load};
use crate::rig::{self, Rig};

/// One lap of the probe: its value and the change it must cause.
const LAP: [(f64, &str); 6] = [
    (2.0, "fired"),
    (3.0, "escalated"),
    (4.0, "escalated"),
    (3.0, "deescalated"),
    (2.0, "deescalated"),
    (1.0, "resolved"),
];
/// Probe readings at the most (warm-up included): each adds its number of millimetres to the colour's base, which
/// keeps it within the colour and below the colour's clear level (with up to 12 % hysteresis) for fewer than 500.
const MAX_PROBES: usize = 500;
/// Probe readings of the warm-up (one lap, each awaited, not timed).
const WARM_UP: usize = LAP.len();
/// How long the last probes may take before they count as lost.
const GRACE: Duration = Duration::from_secs(10);

/// The `n`-th probe reading's value and the change it causes. The value is unique — `n` mm added to the base, which
/// stays within the colour for `n` < [`MAX_PROBES`] — since alerts carry values rounded to the millimetre.
fn probe(n: usize) -> (f64, &'static str) {
    let (base, change) = LAP[n % LAP.len()];
    (((base + n as f64 / 1000.0) * 1000.0).round() / 1000.0, change)
}

/// A value in millimetres, for matching.
fn key(v: f64) -> i64 {
    (v * 1000.0).round() as i64
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub stations: u32,
    pub rate: u32,
    pub connections: usize,
    pub probes: usize,
    pub interval: Duration,
}

/// What the phase measured; latencies in ms, one entry per probe that arrived.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub stations: u32,
    pub probes: usize,
    pub mqtt: Vec<f64>,
    pub sse: Vec<f64>,
    pub floor: Vec<f64>,
    /// The SSE route measured (`/api/alerts/stream`, or the readings stream when the alerts stream is missing).
    pub sse_route: String,
    /// Publish → the ingest transaction that stored the probe began, and → the evaluator's transaction that wrote
    /// the alert change began (`core.event.created_at`, the transaction start; same wall clock).
    pub to_ingest_tx: Vec<f64>,
    pub to_evaluator_tx: Vec<f64>,
    pub background_sent: u64,
    pub background_seconds: f64,
    /// PUBACKs the background publishers received.
    pub background_acked: u64,
    /// Readings Vedetta stored during the phase, of background + probes published.
    pub stored: f64,
    pub published: u64,
    pub ending: rig::Ending,
    /// What the ingest writer and the evaluator did while the probes ran.
    pub work: Option<rig::Work>,
}

/// Runs the phase on a fresh database `bench_alerts_latency` of `cluster`.
pub async fn run(cluster: &BenchCluster, binary: &Path, s: &Settings) -> Result<Outcome> {
    anyhow::ensure!(s.probes + WARM_UP <= MAX_PROBES, "at most {} probes", MAX_PROBES - WARM_UP);
    let mut rig = Rig::start(cluster, binary, "bench_alerts_latency", s.stations).await?;
    let port = rig.broker.port();
    let probe_topic = rig::topic(0);
    let (_alerts, mut alerts_rx) = Conn::open(port, "bench-alerts-alerts", &["vedetta/v1/alerts/#"]).await?;
    let (_floor, mut floor_rx) = Conn::open(port, "bench-alerts-floor", &[probe_topic.as_str()]).await?;
    let (prober, _) = Conn::open(port, "bench-alerts-probe", &[]).await?;
    let (mut sse_rx, sse_route) = sse(&rig.serve.base).await?;
    let mut out = Outcome { stations: s.stations, probes: s.probes, sse_route, ..Outcome::default() };

    // Warm-up: one lap, each change awaited on MQTT (the evaluator has loaded the probe's thresholds by then).
    eprintln!("latency: warm-up (one lap of the probe, each change awaited) …");
    let mut last_ms = 0i64;
    let mut seen = Vec::new();
    for n in 0..WARM_UP {
        let (v, change) = probe(n);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut next = Instant::now();
        loop {
            if Instant::now() >= next {
                // Republished (at a later time) until the change shows: the first may precede the thresholds' load.
                publish_probe(&prober, &probe_topic, v, &mut last_ms).await?;
                next = Instant::now() + Duration::from_secs(2);
            }
            if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), alerts_rx.recv()).await {
                if alert_matches(&m.payload, v, change) {
                    break;
                }
                seen.push(String::from_utf8_lossy(&m.payload).chars().take(2000).collect::<String>());
            }
            if Instant::now() > deadline {
                rig.serve.alive()?;
                bail!(
                    "no `{change}` alert for the probe at {v} m within 30 s; other alert messages: {seen:?}; \
                     Vedetta's log:\n{}",
                    rig.serve.log_tail()
                );
            }
        }
        // A second between warm-up steps, as between real readings.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    drain(&mut alerts_rx, &mut floor_rx, &mut sse_rx);
    let stored_before = rig.serve.metric("vedetta_ingest_readings_stored_total").await?;

    // Background load, then the probes.
    let load = Arc::new(Load::connect(port, s.connections, s.stations, "load").await?);
    let stop = Arc::new(AtomicBool::new(false));
    let background = {
        let (load, stop, rate) = (load.clone(), stop.clone(), s.rate);
        tokio::spawn(async move { load.paced(rate, &stop).await })
    };
    eprintln!("latency: {} readings/s in the background; settling 5 s …", s.rate);
    tokio::time::sleep(Duration::from_secs(5)).await;
    eprintln!("latency: {} probes, one every {} ms …", s.probes, s.interval.as_millis());

    let work_before = rig.serve.work().await?;
    let n = s.probes;
    let index: HashMap<i64, usize> = (0..n).map(|i| (key(probe(WARM_UP + i).0), i)).collect();
    let mut sent: Vec<Option<(Instant, DateTime<Utc>)>> = vec![None; n];
    let (mut mqtt_at, mut sse_at, mut floor_at) = (vec![None; n], vec![None; n], vec![None; n]);
    let mut ticker = tokio::time::interval(s.interval);
    let mut published = 0;
    let mut finished_at = None;
    loop {
        tokio::select! {
            _ = ticker.tick(), if published < n => {
                let (v, _) = probe(WARM_UP + published);
                sent[published] = Some(publish_probe(&prober, &probe_topic, v, &mut last_ms).await?);
                published += 1;
                if published == n {
                    finished_at = Some(Instant::now());
                }
            }
            Some(m) = alerts_rx.recv() => {
                if let Some(i) = alert_index(&m.payload, &index)
                    && alert_matches(&m.payload, probe(WARM_UP + i).0, probe(WARM_UP + i).1)
                {
                    mqtt_at[i].get_or_insert(m.at);
                }
            }
            Some(m) = floor_rx.recv() => {
                let v = serde_json::from_slice::<Value>(&m.payload).ok().and_then(|j| j["v"].as_f64());
                if let Some(&i) = v.and_then(|v| index.get(&key(v))) {
                    floor_at[i].get_or_insert(m.at);
                }
            }
            Some((at, data)) = sse_rx.recv() => {
                let v = data["value"].as_f64().or_else(|| data["latest_value"].as_f64());
                if let Some(&i) = v.and_then(|v| index.get(&key(v))) {
                    sse_at[i].get_or_insert(at);
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                load.check()?;
                rig.serve.alive()?;
            }
        }
        let complete = [&mqtt_at, &sse_at, &floor_at].iter().all(|v| v.iter().all(Option::is_some));
        if finished_at.is_some_and(|t| complete || t.elapsed() > GRACE) {
            break;
        }
    }
    out.work = Some(rig.serve.work().await?.since(&work_before));
    stop.store(true, Ordering::Relaxed);
    (out.background_sent, out.background_seconds) = background.await.context("the background load")??;
    out.published = out.background_sent + n as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while load.acked() < out.background_sent && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    out.background_acked = load.acked();

    let starts: Vec<Instant> =
        sent.iter().map(|s| s.map(|(at, _)| at).unwrap_or_else(Instant::now)).collect();
    let since = |arrivals: &[Option<Instant>]| -> Vec<f64> {
        arrivals.iter().zip(&starts).filter_map(|(a, s)| a.map(|a| (a - *s).as_secs_f64() * 1000.0)).collect()
    };
    (out.mqtt, out.sse, out.floor) = (since(&mqtt_at), since(&sse_at), since(&floor_at));
    (out.to_ingest_tx, out.to_evaluator_tx) = stages(&rig, &sent, n).await?;

    // Everything published is stored before Vedetta stops.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        out.stored = rig.serve.metric("vedetta_ingest_readings_stored_total").await? - stored_before;
        if out.stored >= out.published as f64 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(load);
    out.ending = rig.finish().await?;
    Ok(out)
}

/// Publishes the probe reading `v` observed now (after the previous one); returns when it was handed over.
async fn publish_probe(
    conn: &Conn,
    topic: &str,
    v: f64,
    last_ms: &mut i64,
) -> Result<(Instant, DateTime<Utc>)> {
    let wall = Utc::now();
    *last_ms = wall.timestamp_millis().max(*last_ms + 1);
    let t = DateTime::from_timestamp_millis(*last_ms).unwrap_or(wall);
    let at = Instant::now();
    conn.publish(topic.to_string(), mqtt::payload(t, v)).await?;
    Ok((at, wall))
}

fn alert_index(payload: &[u8], index: &HashMap<i64, usize>) -> Option<usize> {
    let alert: Value = serde_json::from_slice(payload).ok()?;
    index.get(&key(alert["value"].as_f64()?)).copied()
}

/// Whether an alert message is the probe's change `change` at `v`.
fn alert_matches(payload: &[u8], v: f64, change: &str) -> bool {
    let Ok(alert) = serde_json::from_slice::<Value>(payload) else { return false };
    alert["subject"] == rig::code(0).as_str()
        && alert["change"] == change
        && alert["value"].as_f64().is_some_and(|x| key(x) == key(v))
}

fn drain<A, B, C>(
    a: &mut mpsc::UnboundedReceiver<A>,
    b: &mut mpsc::UnboundedReceiver<B>,
    c: &mut mpsc::UnboundedReceiver<C>,
) {
    while a.try_recv().is_ok() {}
    while b.try_recv().is_ok() {}
    while c.try_recv().is_ok() {}
}

/// Opens the SSE stream of alert changes (as the admin, an operator), or — when that route is missing — the
/// readings stream of the probe; a thread reads it and sends each `data:` line, parsed, stamped on arrival.
async fn sse(base: &str) -> Result<(mpsc::UnboundedReceiver<(Instant, Value)>, String)> {
    let base = base.to_string();
    let (reader, route) = tokio::task::spawn_blocking(move || {
        let agent = ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(5)).build();
        let alerts = "/api/alerts/stream".to_string();
        let readings = format!("/api/readings/stream?station={}", rig::code(0));
        for route in [alerts, readings] {
            let answer = agent
                .get(&format!("{base}{route}"))
                .set("Authorization", &format!("Bearer {}", rig::TOKEN))
                .set("Accept", "text/event-stream")
                .call();
            match answer {
                Ok(r) => return Ok((r.into_reader(), route)),
                Err(ureq::Error::Status(404, _)) => {
                    eprintln!(
                        "warning: GET {route} answers 404; measuring SSE on the readings stream instead"
                    );
                }
                Err(e) => return Err(anyhow::Error::new(e).context(format!("GET {route}"))),
            }
        }
        bail!("neither SSE route answers")
    })
    .await??;
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { return };
            if let Some(data) = line.strip_prefix("data:")
                && let Ok(json) = serde_json::from_str::<Value>(data.trim())
                && tx.send((Instant::now(), json)).is_err()
            {
                return;
            }
        }
    });
    Ok((rx, route))
}

/// For each probe: publish → the ingest transaction that stored it began, and → the evaluator's transaction that
/// wrote its alert change began.
async fn stages(
    rig: &Rig,
    sent: &[Option<(Instant, DateTime<Utc>)>],
    n: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let code = rig::code(0);
    // One event per ingest batch: the probe's element of its array (an object alone is read too).
    let committed: Vec<(DateTime<Utc>, Value)> = sqlx::query_as(
        "select ev.created_at, e from core.event ev,
             jsonb_array_elements(case when jsonb_typeof(ev.payload) = 'array' then ev.payload
                                       else jsonb_build_array(ev.payload) end) e
         where ev.kind = 'readings.committed' and e->>'station' = $1",
    )
    .bind(&code)
    .fetch_all(&rig.pool)
    .await?;
    let changed: Vec<(DateTime<Utc>, Value)> =
        sqlx::query_as("select created_at, payload from core.event where kind = 'alert.changed' and payload->>'subject' = $1")
            .bind(&code)
            .fetch_all(&rig.pool)
            .await?;
    let (mut ingest, mut evaluator) = (Vec::new(), Vec::new());
    for (i, slot) in sent.iter().enumerate().take(n) {
        let Some((_, wall)) = slot else { continue };
        let k = key(probe(WARM_UP + i).0);
        let ms = |at: &DateTime<Utc>| (*at - *wall).num_microseconds().unwrap_or(0) as f64 / 1000.0;
        if let Some((at, _)) =
            committed.iter().find(|(_, p)| p["latest_value"].as_f64().is_some_and(|v| key(v) == k))
        {
            ingest.push(ms(at));
        }
        if let Some((at, _)) = changed.iter().find(|(_, p)| p["value"].as_f64().is_some_and(|v| key(v) == k))
        {
            evaluator.push(ms(at));
        }
    }
    Ok((ingest, evaluator))
}
