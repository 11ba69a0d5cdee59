//! MQTT connections of the benchmark (rumqttc, QoS 1, clean sessions): publishers that count their PUBACKs,
//! subscribers that stamp each message with the instant it arrived, and the two workloads — a paced background
//! load at wall-clock time and a burst as fast as the broker takes it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::rig;

/// The payload of a message a subscriber received, and when it arrived.
#[derive(Debug)]
pub struct Received {
    pub at: Instant,
    pub payload: Vec<u8>,
}

/// One MQTT connection and the task that drives it.
#[derive(Debug)]
pub struct Conn {
    client: AsyncClient,
    acked: Arc<AtomicU64>,
    broken: Arc<Mutex<Option<String>>>,
    driver: JoinHandle<()>,
}

impl Conn {
    /// Connects as `id` and subscribes to `filters` (QoS 1); messages go to the returned receiver, stamped on
    /// arrival. Returns once the broker acknowledged the connection and every subscription.
    pub async fn open(
        port: u16,
        id: &str,
        filters: &[&str],
    ) -> Result<(Conn, mpsc::UnboundedReceiver<Received>)> {
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_clean_session(true).set_keep_alive(Duration::from_secs(60)).set_inflight(1000);
        let (client, mut events) = AsyncClient::new(opts, 20_000);
        for filter in filters {
            client.subscribe(*filter, QoS::AtLeastOnce).await?;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (acked, broken) = (Arc::new(AtomicU64::new(0)), Arc::new(Mutex::new(None)));
        let (ready_tx, mut ready_rx) = mpsc::channel::<()>(1);
        let mut subacks_due = filters.len();
        let driver = {
            let (acked, broken, name) = (acked.clone(), broken.clone(), id.to_string());
            tokio::spawn(async move {
                loop {
                    let event = match events.poll().await {
                        Ok(event) => event,
                        Err(e) => {
                            *broken.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{name}: {e}"));
                            return;
                        }
                    };
                    match event {
                        Event::Incoming(Packet::Publish(p)) => {
                            let _ = tx.send(Received { at: Instant::now(), payload: p.payload.to_vec() });
                        }
                        Event::Incoming(Packet::PubAck(_)) => {
                            acked.fetch_add(1, Ordering::Relaxed);
                        }
                        // Ready: connected when there is nothing to subscribe, else every SUBACK arrived.
                        Event::Incoming(Packet::ConnAck(_)) if subacks_due == 0 => {
                            let _ = ready_tx.try_send(());
                        }
                        Event::Incoming(Packet::SubAck(_)) => {
                            subacks_due = subacks_due.saturating_sub(1);
                            if subacks_due == 0 {
                                let _ = ready_tx.try_send(());
                            }
                        }
                        Event::Outgoing(rumqttc::Outgoing::Disconnect) => return,
                        _ => {}
                    }
                }
            })
        };
        let conn = Conn { client, acked, broken, driver };
        if tokio::time::timeout(Duration::from_secs(10), ready_rx.recv()).await.ok().flatten().is_none() {
            conn.check()?;
            bail!("{id} was not connected and subscribed within 10 s");
        }
        Ok((conn, rx))
    }

    /// Queues a QoS 1 message.
    pub async fn publish(&self, topic: String, payload: Vec<u8>) -> Result<()> {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .map_err(|e| anyhow!("publish: {e}"))
    }

    /// PUBACKs so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Fails when the connection broke.
    pub fn check(&self) -> Result<()> {
        match self.broken.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(e) => bail!("an MQTT connection broke: {e}"),
            None => Ok(()),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let _ = self.client.try_disconnect();
        self.driver.abort();
    }
}

/// `{"t":"…Z","v":…}` (milliseconds).
pub fn payload(t: DateTime<Utc>, v: f64) -> Vec<u8> {
    format!(r#"{{"t":"{}","v":{v}}}"#, t.to_rfc3339_opts(SecondsFormat::Millis, true)).into_bytes()
}

/// A background value: rain 0–1.9 mm, levels 0.6–1.4 m (far below the probe's thresholds), changing slowly.
fn value(station: u32, k: u64) -> f64 {
    if rig::is_hydrometer(station) {
        let x = 1.0 + 0.4 * (f64::from(station) + k as f64 / 600.0).sin();
        (x * 1000.0).round() / 1000.0
    } else {
        ((u64::from(station) * 7 + k) % 20) as f64 / 10.0
    }
}

/// Publishers of readings of stations `1..stations` (never the probe), each station always on the same connection.
#[derive(Debug)]
pub struct Load {
    conns: Vec<Conn>,
    stations: u32,
}

impl Load {
    pub async fn connect(port: u16, connections: usize, stations: u32, name: &str) -> Result<Load> {
        let mut conns = Vec::with_capacity(connections);
        for j in 0..connections {
            conns.push(Conn::open(port, &format!("bench-alerts-{name}-{j}"), &[]).await?.0);
        }
        Ok(Load { conns, stations })
    }

    fn conn(&self, station: u32) -> &Conn {
        &self.conns[station as usize % self.conns.len()]
    }

    /// PUBACKs of every connection.
    pub fn acked(&self) -> u64 {
        self.conns.iter().map(Conn::acked).sum()
    }

    pub fn check(&self) -> Result<()> {
        self.conns.iter().try_for_each(Conn::check)
    }

    /// `rate` readings per second, observed now (each station's times strictly growing), round-robin over the
    /// background stations, until `stop`. Returns how many were published and over how many seconds.
    pub async fn paced(&self, rate: u32, stop: &AtomicBool) -> Result<(u64, f64)> {
        let background = u64::from(self.stations - 1);
        let mut last_ms = vec![0i64; self.stations as usize];
        let started = Instant::now();
        let mut sent = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let due = (started.elapsed().as_secs_f64() * f64::from(rate)) as u64;
            while sent < due {
                let station = 1 + (sent % background) as u32;
                let slot = &mut last_ms[station as usize];
                *slot = Utc::now().timestamp_millis().max(*slot + 1);
                let t = DateTime::from_timestamp_millis(*slot).unwrap_or_else(Utc::now);
                let body = payload(t, value(station, sent / background));
                self.conn(station).publish(rig::topic(station), body).await?;
                sent += 1;
            }
            self.check()?;
            tokio::time::sleep(Duration::from_millis(4)).await;
        }
        Ok((sent, started.elapsed().as_secs_f64()))
    }

    /// The burst's messages: `per_station` readings of every background station, station `s`'s `k`-th observed at
    /// `end − (per_station − k) × step`, interleaved over stations; one list per connection.
    pub fn burst(
        &self,
        per_station: u64,
        end: DateTime<Utc>,
        step: chrono::Duration,
    ) -> Vec<Vec<(String, Vec<u8>)>> {
        let topics: Vec<String> = (0..self.stations).map(rig::topic).collect();
        let mut lists = vec![Vec::new(); self.conns.len()];
        for k in 0..per_station {
            let t = end - step * i32::try_from(per_station - k).unwrap_or(i32::MAX);
            for station in 1..self.stations {
                let list = &mut lists[station as usize % self.conns.len()];
                list.push((topics[station as usize].clone(), payload(t, value(station, k))));
            }
        }
        lists
    }

    /// Publishes each list on its connection, as fast as the broker takes them; returns at once.
    pub fn send_all(&self, lists: Vec<Vec<(String, Vec<u8>)>>) -> Vec<JoinHandle<Result<()>>> {
        lists
            .into_iter()
            .zip(&self.conns)
            .map(|(list, conn)| {
                let client = conn.client.clone();
                tokio::spawn(async move {
                    for (topic, body) in list {
                        client
                            .publish(topic, QoS::AtLeastOnce, false, body)
                            .await
                            .map_err(|e| anyhow!("{e}"))?;
                    }
                    Ok(())
                })
            })
            .collect()
    }
}
