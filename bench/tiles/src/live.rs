//! The freshness phase: readings arrive over MQTT at a steady rate for every station while the crowd asks for
//! stations tiles from the cache; every half second the probe station gets a new level and a client polls the
//! probe's tile (zoom 14, 15 or 16 in turn) until it shows that level. Staleness is publish → first tile showing
//! the new value: an upper bound of what a map sees (it includes the broker, the batching writer and the commit).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use geozero::mvt::{Message, Tile};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use crate::data::{self, PROBE, Xyz};

/// Longest the probe waits for its value before it counts the sample as missed.
const PATIENCE: Duration = Duration::from_secs(5);

/// What the probe saw.
#[derive(Debug, Clone, Default)]
pub struct Freshness {
    /// Publish → tile showing the value, ms, one per probe that arrived.
    pub samples: Vec<f64>,
    /// Probes whose value no tile showed within [`PATIENCE`].
    pub missed: usize,
    /// Background readings published (PUBACKed).
    pub readings: u64,
    pub seconds: f64,
}

impl Freshness {
    pub fn quantile(&self, q: f64) -> f64 {
        let mut s = self.samples.clone();
        s.sort_by(f64::total_cmp);
        if s.is_empty() {
            return f64::NAN;
        }
        s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1]
    }

    pub fn max(&self) -> f64 {
        self.samples.iter().copied().fold(f64::NAN, f64::max)
    }

    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 { self.readings as f64 / self.seconds } else { 0.0 }
    }
}

/// An MQTT connection to the embedded broker, driven in a task; counts PUBACKs.
struct Publisher {
    client: AsyncClient,
    acked: Arc<AtomicU64>,
    driver: tokio::task::JoinHandle<Result<()>>,
}

impl Publisher {
    async fn connect(port: u16, id: &str) -> Publisher {
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(60)).set_inflight(500);
        let (client, mut events) = AsyncClient::new(opts, 10_000);
        let acked = Arc::new(AtomicU64::new(0));
        let driver = {
            let acked = acked.clone();
            tokio::spawn(async move {
                loop {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::PubAck(_))) => {
                            acked.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(e) => bail!("the MQTT connection broke: {e}"),
                    }
                }
            })
        };
        Publisher { client, acked, driver }
    }

    async fn level(&self, code: &str, t: DateTime<Utc>, v: f64) -> Result<()> {
        let body = format!(r#"{{"t":"{}","v":{v}}}"#, t.to_rfc3339_opts(SecondsFormat::Millis, true));
        self.client
            .publish(format!("vedetta/v1/sensors/{code}/level"), QoS::AtLeastOnce, false, body)
            .await
            .context("cannot queue a publication")
    }

    fn check(&self) -> Result<()> {
        if self.driver.is_finished() {
            bail!("the MQTT publisher stopped (broker gone?)");
        }
        Ok(())
    }
}

/// Runs the phase for `seconds`: `rate` readings/s spread over `stations` stations, and the probe. `stop` is set
/// when the phase ends (the crowd runs beside it in another thread).
pub async fn run(base: &str, mqtt_port: u16, stations: u32, rate: u32, seconds: f64) -> Result<Freshness> {
    let background = Publisher::connect(mqtt_port, "bench-tiles-readings").await;
    let probe = Publisher::connect(mqtt_port, "bench-tiles-probe").await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut sent = 0u64;
            let mut last = Utc::now();
            while !stop.load(Ordering::Relaxed) {
                let due = (started.elapsed().as_secs_f64() * f64::from(rate)) as u64;
                // Each station's readings a millisecond apart at least: the newest is always the latest.
                let now = Utc::now().max(last + chrono::TimeDelta::milliseconds(1));
                last = now;
                while sent < due {
                    let i = (sent % u64::from(stations)) as u32;
                    let v = 1.0 + ((sent / u64::from(stations)) % 500) as f64 / 1000.0;
                    background.level(&data::code(i), now, v).await?;
                    sent += 1;
                }
                background.check()?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok::<_, anyhow::Error>((
                background.acked.load(Ordering::Relaxed),
                started.elapsed().as_secs_f64(),
            ))
        })
    };

    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
    let mut out = Freshness::default();
    let started = Instant::now();
    let mut k = 0u32;
    while started.elapsed().as_secs_f64() < seconds {
        let tick = Instant::now();
        k += 1;
        // Levels the other stations never have: 2.5xx m (above the yellow threshold: the colour changes too).
        let value = 2.5 + f64::from(k % 1000) / 1000.0;
        let z = [14, 15, 16][k as usize % 3];
        let tile = Xyz::at(PROBE.1, PROBE.2, z);
        let url = format!("{base}{}", tile.fill("/tiles/stations/{z}/{x}/{y}.mvt"));
        let published = Instant::now();
        probe.level(PROBE.0, Utc::now(), value).await?;
        let agent = agent.clone();
        let seen = tokio::task::spawn_blocking(move || -> Result<Option<f64>> {
            while published.elapsed() < PATIENCE {
                if probe_value(&agent, &url)? == Some(value) {
                    return Ok(Some(published.elapsed().as_secs_f64() * 1e3));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None)
        })
        .await??;
        match seen {
            Some(ms) => out.samples.push(ms),
            None => out.missed += 1,
        }
        probe.check()?;
        if let Some(rest) = Duration::from_millis(500).checked_sub(tick.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (readings, secs) = load.await??;
    out.readings = readings;
    out.seconds = secs;
    Ok(out)
}

/// The probe station's `value` in the stations tile at `url`, if it is there.
fn probe_value(agent: &ureq::Agent, url: &str) -> Result<Option<f64>> {
    let resp = agent.get(url).call().with_context(|| format!("GET {url}"))?;
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body)?;
    let tile = Tile::decode(&body[..]).context("the stations tile is not a vector tile")?;
    for layer in tile.layers.iter().filter(|l| l.name == "stations") {
        let key = |name: &str| layer.keys.iter().position(|k| k == name);
        let (Some(code_key), Some(value_key)) = (key("code"), key("value")) else { continue };
        for feature in &layer.features {
            let tag = |wanted: usize| {
                feature
                    .tags
                    .chunks_exact(2)
                    .find(|kv| kv[0] as usize == wanted)
                    .and_then(|kv| layer.values.get(kv[1] as usize))
            };
            if tag(code_key).and_then(|v| v.string_value.as_deref()) == Some(PROBE.0) {
                return Ok(tag(value_key).and_then(|v| v.double_value.or(v.float_value.map(f64::from))));
            }
        }
    }
    Ok(None)
}
