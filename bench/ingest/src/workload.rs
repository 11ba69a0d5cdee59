//! What is published: stations, readings, topics, payloads; and the MQTT publishers that send them.
//!
//! Message `i` of a plan belongs to station `i % S` and is that station's `k = i / S`-th reading, observed at
//! `base + k minutes`: every (station, time) pair is unique, each station's times only grow (the common case for
//! Vedetta's QC), and the same function gives the rows of the raw COPY.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Datelike, SecondsFormat, TimeZone, Utc};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Station `s` (0-based) has the code `B-0001` for `s = 0`.
pub fn code(station: u32) -> String {
    format!("B-{:04}", station + 1)
}

/// What a station measures.
#[derive(Debug, Clone, Copy)]
pub struct Series {
    /// `sensors.station.kind`.
    pub kind: &'static str,
    /// Last segment of the topic.
    pub topic_quantity: &'static str,
    /// `sensors.reading.quantity`.
    pub quantity: i16,
}

/// Even stations are rain gauges, odd ones hydrometers.
pub fn series(station: u32) -> Series {
    if station.is_multiple_of(2) {
        Series { kind: "rain_gauge", topic_quantity: "rain", quantity: 1 }
    } else {
        Series { kind: "hydrometer", topic_quantity: "level", quantity: 2 }
    }
}

/// `vedetta/v1/sensors/{code}/{rain|level}`.
pub fn topic(station: u32) -> String {
    format!("vedetta/v1/sensors/{}/{}", code(station), series(station).topic_quantity)
}

/// `{"t":"2026-11-22T10:05:00.000Z","v":1.2}`.
pub fn payload(t: DateTime<Utc>, v: f64) -> String {
    format!(r#"{{"t":"{}","v":{v}}}"#, t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A plausible value for a station's `k`-th reading: rain 0–3.9 mm, level 1–2 m, changing slowly.
pub fn value(station: u32, k: u64) -> f64 {
    if series(station).quantity == 1 {
        ((u64::from(station) * 31 + k * 17) % 40) as f64 / 10.0
    } else {
        let x = 1.5 + 0.5 * (f64::from(station) + k as f64 / 30.0).sin();
        (x * 1000.0).round() / 1000.0
    }
}

/// One reading of a plan.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    pub station: u32,
    pub observed_at: DateTime<Utc>,
    pub value: f64,
}

/// A burst of `messages` readings over `stations` stations.
#[derive(Debug, Clone)]
pub struct Plan {
    pub messages: u64,
    pub stations: u32,
    base: DateTime<Utc>,
}

impl Plan {
    /// Times end an hour before `now`, so that the latency phase's readings (observed now) come after them.
    pub fn new(messages: u64, stations: u32, now: DateTime<Utc>) -> Plan {
        let per_station = messages.div_ceil(u64::from(stations)) as i64;
        let start = now - chrono::Duration::minutes(per_station + 60);
        let base = Utc.timestamp_opt(start.timestamp() / 60 * 60, 0).single().unwrap_or(start);
        Plan { messages, stations, base }
    }

    /// Reading `i`.
    pub fn reading(&self, i: u64) -> Reading {
        let station = (i % u64::from(self.stations)) as u32;
        let k = i / u64::from(self.stations);
        let observed_at = self.base + chrono::Duration::minutes(k as i64);
        Reading { station, observed_at, value: value(station, k) }
    }

    /// A reading observed before all of the plan's, for `station`.
    pub fn probe(&self, station: u32) -> Reading {
        Reading { station, observed_at: self.base - chrono::Duration::minutes(1), value: value(station, 0) }
    }

    /// The first instant of every month the plan's readings (and the probe) fall in.
    pub fn months(&self) -> Vec<DateTime<Utc>> {
        let first = self.probe(0).observed_at;
        let last = self.reading(self.messages.saturating_sub(1)).observed_at;
        let mut months = Vec::new();
        let (mut y, mut m) = (first.year(), first.month());
        while (y, m) <= (last.year(), last.month()) {
            if let Some(t) = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single() {
                months.push(t);
            }
            (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        }
        months
    }

    /// The plan's messages as (topic, payload), split over `publishers` so that each station always goes through
    /// the same connection (MQTT keeps the order within a connection).
    pub fn messages_by_publisher(&self, publishers: usize) -> Vec<Vec<(String, Vec<u8>)>> {
        let topics: Vec<String> = (0..self.stations).map(topic).collect();
        let mut out: Vec<Vec<(String, Vec<u8>)>> =
            (0..publishers).map(|_| Vec::with_capacity(self.messages as usize / publishers + 1)).collect();
        for i in 0..self.messages {
            let r = self.reading(i);
            out[r.station as usize % publishers]
                .push((topics[r.station as usize].clone(), payload(r.observed_at, r.value).into_bytes()));
        }
        out
    }
}

/// One publishing MQTT connection and the task that drives it.
#[derive(Debug)]
struct Publisher {
    client: AsyncClient,
    task: JoinHandle<()>,
}

/// Several QoS 1 publishers on the broker, counting the PUBACKs they receive.
#[derive(Debug)]
pub struct Publishers {
    publishers: Vec<Publisher>,
    acked: Arc<AtomicU64>,
    error: Arc<Mutex<Option<String>>>,
}

impl Publishers {
    /// Connects `n` publishers (client ids `{prefix}-{j}`, clean sessions, 1000 messages in flight each).
    pub async fn connect(port: u16, n: usize, prefix: &str) -> Result<Publishers> {
        let acked = Arc::new(AtomicU64::new(0));
        let error = Arc::new(Mutex::new(None));
        let mut publishers = Vec::with_capacity(n);
        for j in 0..n {
            let mut opts = MqttOptions::new(format!("{prefix}-{j}"), "127.0.0.1", port);
            opts.set_clean_session(true).set_keep_alive(Duration::from_secs(60)).set_inflight(1000);
            let (client, mut events) = AsyncClient::new(opts, 20_000);
            let (connected_tx, connected_rx) = oneshot::channel();
            let (acked, error) = (acked.clone(), error.clone());
            let task = tokio::spawn(async move {
                let mut connected = Some(connected_tx);
                loop {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::PubAck(_))) => {
                            acked.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            if let Some(tx) = connected.take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                        Ok(_) => {}
                        Err(e) => {
                            if let Ok(mut slot) = error.lock() {
                                slot.get_or_insert_with(|| format!("publisher {j}: {e}"));
                            }
                            break;
                        }
                    }
                }
            });
            publishers.push(Publisher { client, task });
            tokio::time::timeout(Duration::from_secs(10), connected_rx)
                .await
                .ok()
                .and_then(Result::ok)
                .with_context(|| format!("publisher {j} did not connect to the broker on port {port}"))?;
        }
        Ok(Publishers { publishers, acked, error })
    }

    /// Number of connections.
    pub fn len(&self) -> usize {
        self.publishers.len()
    }

    /// PUBACKs received so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Fails when a connection broke.
    pub fn check(&self) -> Result<()> {
        match self.error.lock().ok().and_then(|e| e.clone()) {
            Some(e) => bail!("an MQTT publisher failed: {e}"),
            None => Ok(()),
        }
    }

    /// Queues one QoS 1 message on connection `j`.
    pub async fn publish(&self, j: usize, topic: String, payload: Vec<u8>) -> Result<()> {
        self.publishers[j % self.publishers.len()]
            .client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .map_err(|e| anyhow::anyhow!("cannot queue a message on publisher {j}: {e}"))
    }

    /// Publishes each list on its own connection, as fast as the broker takes them; returns at once.
    pub fn publish_all(&self, lists: Vec<Vec<(String, Vec<u8>)>>) -> Vec<JoinHandle<Result<()>>> {
        lists
            .into_iter()
            .enumerate()
            .map(|(j, list)| {
                let client = self.publishers[j % self.publishers.len()].client.clone();
                tokio::spawn(async move {
                    for (topic, payload) in list {
                        client
                            .publish(topic, QoS::AtLeastOnce, false, payload)
                            .await
                            .map_err(|e| anyhow::anyhow!("cannot queue a message on publisher {j}: {e}"))?;
                    }
                    Ok(())
                })
            })
            .collect()
    }

    /// Waits until `n` PUBACKs have arrived in all, failing after `timeout`.
    pub async fn wait_acked(&self, n: u64, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while self.acked() < n {
            self.check()?;
            if Instant::now() > deadline {
                bail!("only {} of {n} messages acknowledged by the broker after {timeout:?}", self.acked());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Disconnects every publisher.
    pub async fn close(self) {
        for p in &self.publishers {
            let _ = p.client.try_disconnect();
        }
        for p in &self.publishers {
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while !p.task.is_finished() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await;
        }
    }
}

impl Drop for Publishers {
    fn drop(&mut self) {
        for p in &self.publishers {
            p.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_station_and_time_is_unique_and_times_grow_per_station() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        let plan = Plan::new(10_000, 7, now);
        let mut seen = std::collections::HashSet::new();
        let mut last = std::collections::HashMap::new();
        for i in 0..plan.messages {
            let r = plan.reading(i);
            assert!(seen.insert((r.station, r.observed_at)));
            if let Some(prev) = last.insert(r.station, r.observed_at) {
                assert!(prev < r.observed_at);
            }
            assert!(r.observed_at < now);
        }
    }

    #[test]
    fn payloads_are_what_vedetta_reads() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 10, 5, 0).unwrap();
        assert_eq!(payload(t, 1.2), r#"{"t":"2026-11-22T10:05:00.000Z","v":1.2}"#);
        assert_eq!(topic(0), "vedetta/v1/sensors/B-0001/rain");
        assert_eq!(topic(1), "vedetta/v1/sensors/B-0002/level");
    }

    #[test]
    fn months_cover_a_plan_across_new_year() {
        let now = Utc.with_ymd_and_hms(2027, 1, 1, 1, 0, 0).unwrap();
        let plan = Plan::new(300_000, 1000, now);
        let months = plan.months();
        assert_eq!(months.first().map(|m| (m.year(), m.month())), Some((2026, 12)));
        assert_eq!(months.last().map(|m| (m.year(), m.month())), Some((2026, 12)));
        let plan = Plan::new(300_000, 1000, Utc.with_ymd_and_hms(2027, 1, 1, 3, 0, 0).unwrap());
        assert_eq!(plan.months().len(), 2);
    }
}
