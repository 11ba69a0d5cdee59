//! `vedetta simulate`: demo stations that publish a simulated storm over MQTT, as real stations would.
//!
//! The stations of [`sensors::simulation::demo_stations`] are created (or updated) first, so that their readings
//! are stored rather than dead-lettered. Their readings ([`sensors::simulation::Scenario`]) are then published
//! with QoS 1 on `vedetta/v1/sensors/{code}/{rain|level}` with the documented payload
//! `{"t":"2026-11-22T10:05:00+00:00","v":1.2}`.
//!
//! Simulated time runs `speedup` times faster than real time and never ahead of the clock (a reading from the
//! future would be flagged as clock skew): it starts `duration × speedup` before now (six simulated hours when
//! no duration is given), so that a storm unfolds and reaches the present, then goes on in real time. `rate`
//! readings per second are published in total, the stations taking turns. The command stops after `duration` seconds or on Ctrl-C
//! (SIGTERM too), then waits until the broker has acknowledged every reading.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};
use sensors::simulation::{Scenario, SimReading, demo_stations};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// How long to wait for the first connection to the broker.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait, after the last reading, for the broker to acknowledge them all.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// How often progress is logged.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Most stations (their codes have four digits).
const MAX_STATIONS: usize = 9999;

/// Arguments of `vedetta simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Number of demo stations (about 60 % rain gauges, 40 % hydrometers) over the Genova area.
    #[arg(long, default_value_t = 20)]
    pub stations: usize,

    /// Readings published per second, all stations together.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,

    /// Send a convective storm cell across the territory (otherwise light drizzle).
    #[arg(long)]
    pub storm: bool,

    /// Stop after this many seconds [default: until Ctrl-C].
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,

    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 60)]
    pub speedup: u32,

    /// Seed of the stations and of the weather: the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// What a simulation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimSummary {
    /// Readings published and acknowledged by the broker.
    pub published: u64,
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

/// Runs `vedetta simulate`: upserts the demo stations in `pool`, publishes their readings to the broker at
/// `broker_url` (`mqtt://[user[:password]@]host[:port]`) and returns once the broker has acknowledged them all.
pub async fn run(args: SimulateArgs, pool: PgPool, broker_url: &str) -> anyhow::Result<SimSummary> {
    ensure!(
        (1..=MAX_STATIONS).contains(&args.stations),
        "--stations must be between 1 and {MAX_STATIONS} (got {})",
        args.stations
    );
    ensure!(
        args.rate.is_finite() && args.rate > 0.0,
        "--rate must be a positive number of readings per second (got {})",
        args.rate
    );
    ensure!(args.speedup >= 1, "--speedup must be at least 1 (got 0)");
    let masked = crate::config::mask_url_password(broker_url);
    let endpoint = ingest::Endpoint::parse(broker_url).map_err(|e| match e {
        ingest::Error::BadUrl { reason, .. } => anyhow::anyhow!("MQTT URL `{masked}`: {reason}"),
        other => anyhow::Error::new(other).context(format!("MQTT URL `{masked}`")),
    })?;

    let (stop, abort) = (CancellationToken::new(), CancellationToken::new());
    let _signals = AbortOnDrop(tokio::spawn(stop_on_signals(stop.clone(), abort.clone())));

    let inputs = demo_stations(args.stations, args.seed);
    let mut created = 0;
    for input in &inputs {
        let (_, new) = sensors::store::upsert_station(&pool, input)
            .await
            .with_context(|| format!("while creating the simulated station {}", input.code))?;
        created += usize::from(new);
    }
    info!(stations = inputs.len(), created, "Simulated stations ready.");

    let mut options =
        MqttOptions::new(format!("vedetta-simulate-{}", std::process::id()), &endpoint.host, endpoint.port);
    // A publisher only: nothing to keep on the broker once it leaves.
    options.set_keep_alive(Duration::from_secs(30)).set_clean_session(true);
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
        let why = link.borrow().last_error.clone().unwrap_or_else(|| "no answer".into());
        bail!("cannot connect to the MQTT broker at {broker} within {CONNECT_TIMEOUT:?}: {why}");
    }

    let span_s = args.duration.map_or(6 * 3600, |d| d.saturating_mul(u64::from(args.speedup)));
    let sim_start = Utc::now().trunc_subsecs(0)
        - chrono::Duration::seconds(i64::try_from(span_s).unwrap_or(i64::MAX / 2).min(30 * 86_400));
    let mut scenario = Scenario::new(&inputs, args.storm, args.seed, sim_start);
    let published = publish_readings(&args, &mut scenario, &client, &stop, &link, sim_start).await?;

    // Every reading acknowledged before saying it was published.
    let acknowledged = async { link.wait_for(|l| l.acked >= published).await.map(|_| ()) };
    tokio::select! {
        _ = abort.cancelled() => {
            let acked = link.borrow().acked;
            bail!("interrupted while the broker had acknowledged {acked} of {published} readings");
        }
        waited = tokio::time::timeout(ACK_TIMEOUT, acknowledged) => match waited {
            Ok(Ok(())) => {}
            Ok(Err(_)) => bail!("the connection to the MQTT broker at {broker} ended before it acknowledged every reading"),
            Err(_) => {
                let l = link.borrow().clone();
                let dropped = if l.connections > 1 {
                    format!(
                        "; the connection dropped {} time(s), and readings in flight then may have been lost",
                        l.connections - 1
                    )
                } else {
                    String::new()
                };
                let why = l.last_error.map(|e| format!(" (last error: {e})")).unwrap_or_default();
                bail!(
                    "the MQTT broker at {broker} acknowledged {} of {published} readings within {ACK_TIMEOUT:?}{dropped}{why}",
                    l.acked
                );
            }
        }
    }

    if let Err(e) = client.disconnect().await {
        debug!(error = %e, "Cannot disconnect from the MQTT broker.");
    }
    if tokio::time::timeout(Duration::from_secs(2), &mut driver.0).await.is_err() {
        debug!("The MQTT event loop did not stop after the disconnection.");
    }

    let summary = SimSummary { published, stations: inputs.len() };
    println!(
        "Pubblicate {} letture da {} stazioni / published {} readings from {} stations",
        summary.published, summary.stations, summary.published, summary.stations
    );
    Ok(summary)
}

/// Publishes readings at `args.rate` until `args.duration` has passed or `stop` fires. Returns how many.
async fn publish_readings(
    args: &SimulateArgs,
    scenario: &mut Scenario,
    client: &AsyncClient,
    stop: &CancellationToken,
    link: &watch::Receiver<Link>,
    sim_start: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let stations = scenario.len() as u64;
    let speedup = f64::from(args.speedup);
    let real_start = Instant::now();
    let deadline = args.duration.map(|d| real_start + Duration::from_secs(d));
    let mut next_progress = real_start + PROGRESS_EVERY;
    let mut sim_time = sim_start;
    let mut published: u64 = 0;
    info!(
        stations,
        rate = args.rate,
        speedup = args.speedup,
        storm = args.storm,
        simulated_start = %sim_start.to_rfc3339_opts(SecondsFormat::AutoSi, false),
        "Publishing simulated readings."
    );
    // Reading number `published` is due `published / rate` seconds after the start, in real time.
    while let Ok(offset) = Duration::try_from_secs_f64(published as f64 / args.rate) {
        let due = real_start + offset;
        if deadline.is_some_and(|d| due >= d) {
            break;
        }
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(due) => {}
        }
        sim_time = (sim_start
            + chrono::Duration::milliseconds((offset.as_secs_f64() * speedup * 1000.0).round() as i64))
        .min(Utc::now());
        let index = (published % stations) as usize;
        let Some(reading) = scenario.step_station(index, sim_time) else { break };
        let (topic, payload) = message(&reading);
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            sent = client.publish(topic, QoS::AtLeastOnce, false, payload) => {
                sent.with_context(|| format!("cannot publish the reading of {}", reading.code))?;
            }
        }
        published += 1;
        let now = Instant::now();
        if now >= next_progress {
            next_progress = now + PROGRESS_EVERY;
            info!(
                published,
                acknowledged = link.borrow().acked,
                simulated_time = %sim_time.to_rfc3339_opts(SecondsFormat::AutoSi, false),
                "Simulation running."
            );
        }
    }
    info!(
        published,
        simulated_time = %sim_time.to_rfc3339_opts(SecondsFormat::AutoSi, false),
        "Publishing done; waiting for the broker's acknowledgements."
    );
    Ok(published)
}

/// The topic and payload of a reading, in the documented Vedetta format.
fn message(reading: &SimReading) -> (String, Vec<u8>) {
    let topic = format!("vedetta/v1/sensors/{}/{}", reading.code, reading.quantity.as_str());
    let payload = serde_json::json!({
        "t": reading.t.to_rfc3339_opts(SecondsFormat::AutoSi, false),
        "v": reading.value,
    });
    (topic, payload.to_string().into_bytes())
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

/// Fires `stop` at the first Ctrl-C or SIGTERM, `abort` at the second.
async fn stop_on_signals(stop: CancellationToken, abort: CancellationToken) {
    if let Err(e) = signal().await {
        warn!(error = %e, "Cannot listen for Ctrl-C; stop the simulation with --duration.");
        return;
    }
    info!("Stopping: waiting for the broker to acknowledge what was published (Ctrl-C again to give up).");
    stop.cancel();
    if signal().await.is_ok() {
        abort.cancel();
    }
}

/// The next Ctrl-C (or SIGTERM on Unix).
async fn signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
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
    fn the_command_line_has_the_documented_defaults() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            args: SimulateArgs,
        }
        let args = Cli::try_parse_from(["simulate"]).unwrap().args;
        assert_eq!((args.stations, args.rate, args.storm, args.duration), (20, 10.0, false, None));
        assert_eq!((args.speedup, args.seed), (60, 1));
        let args =
            Cli::try_parse_from(["simulate", "--storm", "--duration", "120", "--rate", "2.5"]).unwrap().args;
        assert_eq!((args.storm, args.duration, args.rate), (true, Some(120), 2.5));
    }
}
