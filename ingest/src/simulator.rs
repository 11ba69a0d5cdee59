//! The storm simulator: demo stations that publish over MQTT exactly as real stations do.
//!
//! The stations of [`sensors::simulation::demo_stations`] are created (or updated) first, so that their readings
//! are stored rather than dead-lettered. Their readings ([`sensors::simulation::Scenario`]) are published with
//! QoS 1 on `vedetta/v1/sensors/{code}/{rain|level}` with the documented payload
//! `{"t":"2026-11-22T10:05:00+00:00","v":1.2}`, in two phases:
//!
//! 1. **Backfill**: the last `backfill` hours, one reading per station every [`BACKFILL_STEP`], published at once —
//!    so that the map shows history and no station reads `silent` at the start.
//! 2. **Live**: readings stamped with the present, `rate` per second in total (the stations take turns), until
//!    `duration` has passed or `stop` fires. A storm cell, when asked for, is over the territory's centre
//!    `storm_peak_in` after the start: the storm happens now, not in a replay.
//!
//! Then it waits until the broker has acknowledged every reading.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};
use sensors::simulation::{Scenario, SimReading, demo_stations};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{Endpoint, Error, Result};

/// How long to wait for the first connection to the broker.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait, after the last reading, for the broker to acknowledge them all.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// How often progress is logged.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Most stations (their codes have four digits).
pub const MAX_STATIONS: usize = 9999;
/// Time between two backfilled readings of a station (the demo stations' interval).
pub const BACKFILL_STEP: chrono::Duration = chrono::Duration::minutes(5);
/// Longest backfill.
pub const MAX_BACKFILL: chrono::Duration = chrono::Duration::days(7);

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    /// Number of demo stations (about 60 % rain gauges, 40 % hydrometers) over the Genova area.
    pub stations: usize,
    /// Live readings published per second, all stations together.
    pub rate: f64,
    /// Send a convective storm cell across the territory (otherwise light drizzle).
    pub storm: bool,
    /// How long after the start the storm cell is over the territory's centre.
    pub storm_peak_in: chrono::Duration,
    /// History published at once before the live readings.
    pub backfill: chrono::Duration,
    /// Stop the live phase after this long (real time); `None` runs until `stop`.
    pub duration: Option<Duration>,
    /// Seed of the stations and of the weather: the same seed gives the same run.
    pub seed: u64,
}

impl Default for SimulatorOptions {
    fn default() -> Self {
        SimulatorOptions {
            stations: 20,
            rate: 10.0,
            storm: false,
            storm_peak_in: chrono::Duration::minutes(10),
            backfill: chrono::Duration::hours(3),
            duration: None,
            seed: 1,
        }
    }
}

impl SimulatorOptions {
    fn check(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::InvalidSimulation { reason });
        if !(1..=MAX_STATIONS).contains(&self.stations) {
            return bad(format!("stations must be between 1 and {MAX_STATIONS} (got {})", self.stations));
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return bad(format!(
                "the rate must be a positive number of readings per second (got {})",
                self.rate
            ));
        }
        if self.backfill < chrono::Duration::zero() || self.backfill > MAX_BACKFILL {
            return bad(format!("the backfill must be between 0 and {} hours", MAX_BACKFILL.num_hours()));
        }
        if self.storm_peak_in.abs() > chrono::Duration::days(1) {
            return bad("the storm must peak within a day of the start".into());
        }
        Ok(())
    }
}

/// What a simulation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimSummary {
    /// Readings published and acknowledged by the broker (backfill and live).
    pub published: u64,
    /// Of which backfilled.
    pub backfilled: u64,
    /// Stations that took part.
    pub stations: usize,
}

/// The state of the broker connection, as the event loop task sees it.
#[derive(Debug, Clone, Default)]
struct Link {
    connected: bool,
    /// Connections made (more than one means the connection dropped and was made again).
    connections: u64,
    /// PUBACKs received.
    acked: u64,
    last_error: Option<String>,
}

/// Aborts a task when dropped, so that no early return leaves it running.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs a simulation: upserts the demo stations in `pool`, publishes their readings to the broker at
/// `broker_url` (`mqtt://[user[:password]@]host[:port]`) and returns once the broker has acknowledged them all.
/// `stop` ends the live phase (what was published is still waited for); `abort` gives up waiting.
pub async fn run(
    opts: &SimulatorOptions,
    pool: &PgPool,
    broker_url: &str,
    stop: &CancellationToken,
    abort: &CancellationToken,
) -> Result<SimSummary> {
    opts.check()?;
    let endpoint = Endpoint::parse(broker_url)?;

    let inputs = demo_stations(opts.stations, opts.seed);
    let mut created = 0;
    for input in &inputs {
        let (_, new) = sensors::store::upsert_station(pool, input)
            .await
            .map_err(|source| Error::Station { code: input.code.clone(), source })?;
        created += usize::from(new);
    }
    info!(stations = inputs.len(), created, "Simulated stations ready.");

    let mut options =
        MqttOptions::new(format!("vedetta-simulate-{}", std::process::id()), &endpoint.host, endpoint.port);
    // A publisher only: nothing to keep on the broker once it leaves.
    options.set_keep_alive(Duration::from_secs(30)).set_clean_session(true).set_inflight(200);
    if let Some(user) = &endpoint.username {
        options.set_credentials(user, endpoint.password.clone().unwrap_or_default());
    }
    let (client, events) = AsyncClient::new(options, 256);
    let (link_tx, mut link) = watch::channel(Link::default());
    let mut driver = AbortOnDrop(tokio::spawn(drive(events, link_tx)));
    let broker = format!("{}:{}", endpoint.host, endpoint.port);

    info!(broker = %broker, "Connecting to the MQTT broker.");
    let connected = async { link.wait_for(|l| l.connected).await.is_ok() };
    let connected = tokio::select! {
        _ = stop.cancelled() => true,
        connected = tokio::time::timeout(CONNECT_TIMEOUT, connected) => connected.unwrap_or(false),
    };
    if !connected {
        let reason = link.borrow().last_error.clone().unwrap_or_else(|| "no answer".into());
        return Err(Error::BrokerUnreachable { broker, within: CONNECT_TIMEOUT, reason });
    }

    let now = Utc::now().trunc_subsecs(0);
    let storm_start = now + opts.storm_peak_in - chrono::Duration::hours(1);
    let mut scenario = Scenario::new(&inputs, opts.storm, opts.seed, storm_start);
    let backfilled = backfill(opts, &mut scenario, &client, stop, now).await?;
    let live = publish_live(opts, &mut scenario, &client, stop, &link).await?;
    let published = backfilled + live;

    // Every reading acknowledged before saying it was published.
    let acknowledged = async { link.wait_for(|l| l.acked >= published).await.map(|_| ()) };
    tokio::select! {
        _ = abort.cancelled() => {
            return Err(Error::Unacknowledged {
                broker, acked: link.borrow().acked, published, detail: "interrupted".into(),
            });
        }
        waited = tokio::time::timeout(ACK_TIMEOUT, acknowledged) => match waited {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                return Err(Error::Unacknowledged {
                    broker, acked: link.borrow().acked, published, detail: "the connection ended".into(),
                });
            }
            Err(_) => {
                let l = link.borrow().clone();
                let mut detail = format!("not within {ACK_TIMEOUT:?}");
                if l.connections > 1 {
                    detail.push_str(&format!(
                        "; the connection dropped {} time(s), and readings in flight then may have been lost",
                        l.connections - 1
                    ));
                }
                if let Some(e) = l.last_error {
                    detail.push_str(&format!(" (last error: {e})"));
                }
                return Err(Error::Unacknowledged { broker, acked: l.acked, published, detail });
            }
        }
    }

    if let Err(e) = client.disconnect().await {
        debug!(error = %e, "Cannot disconnect from the MQTT broker.");
    }
    if tokio::time::timeout(Duration::from_secs(2), &mut driver.0).await.is_err() {
        debug!("The MQTT event loop did not stop after the disconnection.");
    }
    Ok(SimSummary { published, backfilled, stations: inputs.len() })
}

/// Publishes the history, `opts.backfill` before `now` until `now`, one reading per station per
/// [`BACKFILL_STEP`], as fast as the broker takes them. Returns how many.
async fn backfill(
    opts: &SimulatorOptions,
    scenario: &mut Scenario,
    client: &AsyncClient,
    stop: &CancellationToken,
    now: DateTime<Utc>,
) -> Result<u64> {
    if opts.backfill <= chrono::Duration::zero() {
        return Ok(0);
    }
    let mut published = 0;
    let mut t = now - opts.backfill;
    info!(from = %t.to_rfc3339_opts(SecondsFormat::AutoSi, false), "Backfilling the simulated history.");
    while t < now && !stop.is_cancelled() {
        for reading in scenario.step(t) {
            let (topic, payload) = message(&reading);
            client.publish(topic, QoS::AtLeastOnce, false, payload).await?;
            published += 1;
        }
        t += BACKFILL_STEP;
    }
    info!(published, "History backfilled.");
    Ok(published)
}

/// Publishes live readings at `opts.rate` until `opts.duration` has passed or `stop` fires. Returns how many.
async fn publish_live(
    opts: &SimulatorOptions,
    scenario: &mut Scenario,
    client: &AsyncClient,
    stop: &CancellationToken,
    link: &watch::Receiver<Link>,
) -> Result<u64> {
    let stations = scenario.len() as u64;
    let start = Instant::now();
    let deadline = opts.duration.map(|d| start + d);
    let mut next_progress = start + PROGRESS_EVERY;
    let mut published: u64 = 0;
    info!(stations, rate = opts.rate, storm = opts.storm, "Publishing live simulated readings.");
    // Reading number `published` is due `published / rate` seconds after the start.
    while let Ok(offset) = Duration::try_from_secs_f64(published as f64 / opts.rate) {
        let due = start + offset;
        if deadline.is_some_and(|d| due >= d) {
            break;
        }
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(due) => {}
        }
        let index = (published % stations) as usize;
        let Some(reading) = scenario.step_station(index, Utc::now()) else { break };
        let (topic, payload) = message(&reading);
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            sent = client.publish(topic, QoS::AtLeastOnce, false, payload) => sent?,
        }
        published += 1;
        let now = Instant::now();
        if now >= next_progress {
            next_progress = now + PROGRESS_EVERY;
            info!(published, acknowledged = link.borrow().acked, "Simulation running.");
        }
    }
    info!(published, "Publishing done; waiting for the broker's acknowledgements.");
    Ok(published)
}

/// The topic and payload of a reading, in the documented Vedetta format.
pub fn message(reading: &SimReading) -> (String, Vec<u8>) {
    let topic = format!("vedetta/v1/sensors/{}/{}", reading.code, reading.quantity.as_str());
    let t = reading.t.to_rfc3339_opts(SecondsFormat::AutoSi, false);
    let value = if reading.value.is_finite() { reading.value } else { 0.0 };
    (topic, format!("{{\"t\":\"{t}\",\"v\":{value}}}").into_bytes())
}

/// Drives the MQTT event loop, reporting connections and acknowledgements, until the client disconnects.
async fn drive(mut events: EventLoop, link: watch::Sender<Link>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = Duration::from_millis(200);
                let again = link.borrow().connections > 0;
                link.send_modify(|l| {
                    l.connected = true;
                    l.connections += 1;
                    l.last_error = None;
                });
                if again {
                    warn!(
                        "Reconnected to the MQTT broker; readings in flight when the connection dropped may be lost."
                    );
                } else {
                    info!("Connected to the MQTT broker.");
                }
            }
            Ok(Event::Incoming(Packet::PubAck(_))) => link.send_modify(|l| l.acked += 1),
            Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(ConnectionError::RequestsDone) => break,
            Ok(_) => {}
            Err(e) => {
                if link.borrow().connected {
                    warn!(error = %e, "Lost the MQTT broker; reconnecting.");
                } else {
                    debug!(error = %e, "Cannot reach the MQTT broker yet.");
                }
                link.send_modify(|l| {
                    l.connected = false;
                    l.last_error = Some(e.to_string());
                });
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_the_documented_topic_and_payload() {
        let reading = SimReading {
            code: "SIM-PLUV-0001".into(),
            quantity: sensors::Quantity::Rain,
            t: "2026-11-22T09:05:00Z".parse().unwrap(),
            value: 0.6,
        };
        let (topic, payload) = message(&reading);
        assert_eq!(topic, "vedetta/v1/sensors/SIM-PLUV-0001/rain");
        assert_eq!(
            String::from_utf8(payload.clone()).unwrap(),
            r#"{"t":"2026-11-22T09:05:00+00:00","v":0.6}"#
        );
        // What ingest reads back.
        let decoded = sensors::payload::decode(&topic, &payload, reading.t).unwrap();
        assert_eq!(decoded.readings.len(), 1);
        assert_eq!(decoded.readings[0].value, 0.6);
        assert_eq!(decoded.readings[0].observed_at, reading.t);
    }

    #[test]
    fn options_are_checked_before_anything_happens() {
        let ok = SimulatorOptions::default();
        assert!(ok.check().is_ok());
        for bad in [
            SimulatorOptions { stations: 0, ..ok.clone() },
            SimulatorOptions { rate: f64::NAN, ..ok.clone() },
            SimulatorOptions { rate: 0.0, ..ok.clone() },
            SimulatorOptions { backfill: chrono::Duration::days(8), ..ok.clone() },
            SimulatorOptions { backfill: chrono::Duration::hours(-1), ..ok.clone() },
        ] {
            let err = bad.check().unwrap_err().to_string();
            assert!(!err.is_empty());
        }
    }

    #[test]
    fn the_storm_peaks_now_and_the_backfill_ends_now() {
        // The backfill of 3 h at 5-minute steps gives 36 readings per station, none from the future.
        let opts = SimulatorOptions { stations: 4, storm: true, ..SimulatorOptions::default() };
        let inputs = demo_stations(opts.stations, opts.seed);
        let now = Utc::now().trunc_subsecs(0);
        let mut scenario =
            Scenario::new(&inputs, true, 1, now + opts.storm_peak_in - chrono::Duration::hours(1));
        let mut t = now - opts.backfill;
        let mut steps = 0;
        while t < now {
            let readings = scenario.step(t);
            assert!(readings.iter().all(|r| r.t <= now));
            steps += 1;
            t += BACKFILL_STEP;
        }
        assert_eq!(steps, 36);
    }
}
