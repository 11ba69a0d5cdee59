//! The batch writer: decodes messages, checks them, stores readings and dead letters in one transaction per batch,
//! together with the "readings committed" events of the live-event spine, and only then acknowledges the messages
//! to the broker.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sensors::event::ReadingsCommitted;
use sensors::qc::{self, Flags, Previous, QcStation};
use sensors::store::{self, Partitions, ReadingRow};
use sensors::{Decoded, Quantity, RawReading, Reject, RejectKind, Source};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::client::{Ack, IngestStatus, Message, MessageSink};
use crate::dead_letter::{self, DeadLetter};
use crate::station_cache::StationCache;

/// How the writer batches.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Most messages in one batch.
    pub max_batch: usize,
    /// Longest wait for more messages after the first of a batch.
    pub max_delay: Duration,
    /// Payloads larger than this many bytes are dead letters.
    pub max_payload: usize,
    /// Topics under this prefix are Vedetta's own publications (the alerts it announces), not readings: they are
    /// acknowledged and left alone.
    pub own_prefix: Option<String>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            max_batch: 5000,
            max_delay: Duration::from_millis(5),
            max_payload: 256 * 1024,
            own_prefix: None,
        }
    }
}

/// The sink the MQTT loop delivers to; the writer task drains it.
#[derive(Debug)]
pub struct BatchSink {
    tx: Option<mpsc::UnboundedSender<(Message, Ack)>>,
    done: Option<oneshot::Receiver<()>>,
}

impl MessageSink for BatchSink {
    async fn accept(&mut self, message: Message, ack: Ack) {
        if let Some(tx) = &self.tx
            && tx.send((message, ack)).is_err()
        {
            warn!("The writer is gone; the message stays with the broker.");
        }
    }

    async fn close(&mut self) {
        self.tx.take();
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
    }
}

/// The writer task.
#[derive(Debug)]
pub struct Writer {
    pool: PgPool,
    rx: mpsc::UnboundedReceiver<(Message, Ack)>,
    done: Option<oneshot::Sender<()>>,
    opts: WriterOptions,
    partitions: Partitions,
    stations: StationCache,
    status: Arc<IngestStatus>,
}

/// A writer and the sink that feeds it.
pub fn writer(pool: PgPool, status: Arc<IngestStatus>, opts: WriterOptions) -> (BatchSink, Writer) {
    // Unbounded on purpose. What can queue here is bounded by the broker's in-flight window: nothing is acknowledged
    // before commit, so while the database is down at most `max_inflight_messages` wait here. A bounded queue would
    // make the MQTT loop stop polling when full; the loop also carries the acknowledgements out, so the writer
    // could block on them and the two would wait for each other (seen with Mosquitto 2.0.11, which overruns its
    // window while acknowledgements flow).
    let (tx, rx) = mpsc::unbounded_channel();
    let (done_tx, done_rx) = oneshot::channel();
    let sink = BatchSink { tx: Some(tx), done: Some(done_rx) };
    let writer = Writer {
        pool,
        rx,
        done: Some(done_tx),
        opts,
        partitions: Partitions::default(),
        stations: StationCache::default(),
        status,
    };
    (sink, writer)
}

/// A message on its way through a batch.
struct Item {
    message: Message,
    ack: Ack,
    received_at: DateTime<Utc>,
    decoded: Result<Decoded, Reject>,
}

/// What one batch stores.
#[derive(Default)]
struct Plan {
    rows: Vec<ReadingRow>,
    /// Readings decoded for known stations, duplicates within the batch included.
    decoded: usize,
    latest: Vec<(i64, Quantity, Previous, Flags)>,
    dead: Vec<DeadLetter>,
    codes: HashMap<i64, String>,
}

impl Writer {
    /// Runs until the sink is closed, then stores what it received and returns.
    pub async fn run(mut self) {
        if let Err(e) = self.partitions.ensure_ahead(&self.pool, 2).await {
            warn!(error = %e, "Cannot create the reading partitions ahead; they will be created on demand.");
        }
        while let Some(first) = self.rx.recv().await {
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + self.opts.max_delay;
            while batch.len() < self.opts.max_batch {
                match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Ok(Some(item)) => batch.push(item),
                    Ok(None) | Err(_) => break,
                }
            }
            self.process(batch).await;
        }
        info!("The ingest writer has stored everything it received.");
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }

    async fn process(&mut self, batch: Vec<(Message, Ack)>) {
        let started = Instant::now();
        let (batch, own): (Vec<_>, Vec<_>) = batch.into_iter().partition(|(m, _)| !self.is_own(&m.topic));
        for (_, ack) in own {
            metrics::counter!("vedetta_ingest_own_publications_total").increment(1);
            if let Err(e) = ack.confirm().await {
                warn!(error = %e, "Cannot acknowledge a message; the broker will deliver it again.");
            }
        }
        if batch.is_empty() {
            return;
        }
        let items: Vec<Item> = batch
            .into_iter()
            .map(|(message, ack)| {
                let received_at: DateTime<Utc> = message.received_at.into();
                let decoded = if message.payload.len() > self.opts.max_payload {
                    Err(Reject::new(
                        RejectKind::TooLarge,
                        format!(
                            "payload of {} bytes exceeds the {}-byte cap",
                            message.payload.len(),
                            self.opts.max_payload
                        ),
                    ))
                } else {
                    sensors::payload::decode(&message.topic, &message.payload, received_at)
                };
                Item { message, ack, received_at, decoded }
            })
            .collect();

        let (committed, durable) = match self.store_retrying(&items).await {
            Ok(committed) => (committed, vec![true; items.len()]),
            Err(e) => {
                warn!(error = %e, messages = items.len(), "A batch failed; storing its messages one by one.");
                self.store_one_by_one(&items).await
            }
        };
        // `/healthz` says ingest is down while a message can be neither stored nor recorded as a dead letter.
        self.status.set_storage_error(durable.contains(&false).then(|| {
            "a message could be neither stored nor recorded as a dead letter; it stays with the broker"
                .to_string()
        }));

        let now = Utc::now();
        let lag = metrics::histogram!("vedetta_ingest_commit_lag_seconds");
        for row in &committed.rows {
            lag.record(((now - row.observed_at).num_milliseconds() as f64 / 1000.0).max(0.0));
        }
        // Counted here, once per committed letter: a retried batch plans its letters again but commits them once.
        for letter in &committed.dead {
            letter.record();
        }
        metrics::counter!("vedetta_ingest_readings_stored_total").increment(committed.rows.len() as u64);
        metrics::counter!("vedetta_ingest_readings_duplicate_total").increment(committed.duplicates as u64);
        metrics::counter!("vedetta_ingest_batches_total").increment(1);
        metrics::histogram!("vedetta_ingest_batch_seconds").record(started.elapsed().as_secs_f64());
        debug!(
            messages = items.len(),
            stored = committed.rows.len(),
            duplicates = committed.duplicates,
            dead_letters = committed.dead.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Batch committed."
        );

        for (item, durable) in items.into_iter().zip(durable) {
            // A message that is neither stored nor a dead letter stays with the broker, which delivers it again.
            if durable && let Err(e) = item.ack.confirm().await {
                warn!(error = %e, "Cannot acknowledge a message; the broker will deliver it again.");
            }
        }
    }

    /// Whether a topic is one of Vedetta's own publications.
    fn is_own(&self, topic: &str) -> bool {
        self.opts.own_prefix.as_deref().is_some_and(|p| {
            topic
                .strip_prefix(p.trim_end_matches('/'))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// Stores `items` in one transaction, retrying what may succeed later: an outage (with backoff, for as long
    /// as it lasts), a station deleted since it was cached and a partition missing from the cache (once each).
    /// Any other error is returned at once: it would fail the same way again.
    async fn store_retrying(&mut self, items: &[Item]) -> sensors::Result<Committed> {
        let mut backoff = Duration::from_millis(100);
        let (mut refreshed_stations, mut refreshed_partitions) = (false, false);
        loop {
            match self.store(items).await {
                Ok(committed) => return Ok(committed),
                Err(e) if e.is_foreign_key_violation() && !refreshed_stations => {
                    // A station was deleted since it was cached: forget the cache and try again.
                    self.stations.clear();
                    refreshed_stations = true;
                }
                Err(e) if e.is_missing_partition() && !refreshed_partitions => {
                    // A month's partition was dropped (retention) since it was cached.
                    self.partitions.forget_all();
                    refreshed_partitions = true;
                }
                Err(e) if e.is_transient() => {
                    metrics::counter!("vedetta_ingest_retries_total").increment(1);
                    self.status.set_storage_error(Some(format!("cannot store readings: {e}; retrying")));
                    warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "Cannot store a batch; retrying.");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Stores a whole batch in one transaction. The caches learn what the batch created only after the commit.
    async fn store(&mut self, items: &[Item]) -> sensors::Result<Committed> {
        let mut tx = self.pool.begin().await?;
        self.stations
            .load(&mut tx, items.iter().filter_map(|i| i.decoded.as_ref().ok().map(|d| &d.source)))
            .await?;
        let mut plan = plan(items, &self.stations);
        qc_and_latest(&mut tx, &mut plan, &self.stations).await?;
        let months = self.partitions.ensure(&mut tx, plan.rows.iter().map(|r| r.observed_at)).await?;
        let inserted = store::insert_readings(&mut tx, &plan.rows).await?;
        store::advance_latest(&mut tx, &plan.latest).await?;
        dead_letter::insert(&mut tx, &plan.dead).await?;
        // Last before the commit: appending takes the lock that keeps event ids in commit order.
        let events = events_of(&inserted, &plan.codes);
        database::event::append(&mut tx, &events).await.map_err(spine_error)?;
        tx.commit().await?;
        self.partitions.remember(months);
        let duplicates = plan.decoded - inserted.len();
        Ok(Committed { rows: inserted, duplicates, codes: plan.codes, dead: plan.dead })
    }

    /// The fallback when a batch fails for a reason other than an outage: each message alone, and what still
    /// fails becomes a dead letter with the error. Returns what was committed and, per message, whether it is
    /// durable (stored or a dead letter) and may be acknowledged.
    async fn store_one_by_one(&mut self, items: &[Item]) -> (Committed, Vec<bool>) {
        let mut all = Committed::default();
        let mut durable = Vec::with_capacity(items.len());
        for item in items {
            match self.store_retrying(std::slice::from_ref(item)).await {
                Ok(c) => {
                    all.rows.extend(c.rows);
                    all.duplicates += c.duplicates;
                    all.codes.extend(c.codes);
                    all.dead.extend(c.dead);
                    durable.push(true);
                }
                Err(e) => {
                    let letter = DeadLetter::new(
                        &item.message.topic,
                        item.received_at,
                        dead_letter::STORAGE_FAILED,
                        &format!("storing failed: {e}"),
                        &item.message.payload,
                    );
                    match self.store_letter(letter).await {
                        Some(letter) => {
                            all.dead.push(letter);
                            durable.push(true);
                        }
                        None => durable.push(false),
                    }
                }
            }
        }
        (all, durable)
    }

    /// Stores one dead letter: retried while the database is out, never for an error that would repeat. When the
    /// letter itself is refused, a bare one (topic, kind and the error, without the payload) is tried once; when
    /// that is refused too, `None`: the message is not acknowledged and the broker keeps it.
    async fn store_letter(&mut self, letter: DeadLetter) -> Option<DeadLetter> {
        let mut backoff = Duration::from_millis(100);
        let mut candidate = letter;
        let mut bare_tried = false;
        loop {
            let result = async {
                let mut conn = self.pool.acquire().await?;
                dead_letter::insert(&mut conn, std::slice::from_ref(&candidate)).await
            }
            .await
            .map_err(sensors::Error::Database);
            match result {
                Ok(()) => return Some(candidate),
                Err(e) if e.is_transient() => {
                    metrics::counter!("vedetta_ingest_retries_total").increment(1);
                    self.status.set_storage_error(Some(format!("cannot store a dead letter: {e}; retrying")));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) if !bare_tried => {
                    warn!(error = %e, "A dead letter was refused; storing it without its payload.");
                    bare_tried = true;
                    let reason = format!("{} (the payload could not be kept: {e})", candidate.reason);
                    let bare = DeadLetter::new("", candidate.received_at, &candidate.kind, &reason, &[]);
                    candidate =
                        DeadLetter { topic: candidate.topic, payload_size: candidate.payload_size, ..bare };
                }
                Err(e) => {
                    error!(
                        error = %e,
                        topic = %dead_letter::printable(&candidate.topic),
                        "Cannot store a dead letter; the message stays with the broker."
                    );
                    return None;
                }
            }
        }
    }
}

#[derive(Default)]
struct Committed {
    rows: Vec<ReadingRow>,
    duplicates: usize,
    codes: HashMap<i64, String>,
    /// The dead letters the transaction stored.
    dead: Vec<DeadLetter>,
}

/// Sorts every decoded reading into rows or dead letters.
fn plan(items: &[Item], stations: &StationCache) -> Plan {
    let mut plan = Plan::default();
    for item in items {
        let topic = &item.message.topic;
        let decoded = match &item.decoded {
            Ok(d) => d,
            Err(reject) => {
                plan.dead.push(letter(topic, item, reject));
                continue;
            }
        };
        for reject in &decoded.rejects {
            plan.dead.push(letter(topic, item, reject));
        }
        let station = stations.get(&decoded.source);
        let Some(station) = station else {
            let who = match &decoded.source {
                Source::Code(code) => format!("no station has the code `{code}`"),
                Source::Datastream(ds) => format!("no Datastream has the id {ds}"),
            };
            plan.dead.push(letter(topic, item, &Reject::new(RejectKind::UnknownStation, who)));
            continue;
        };
        let expected = station.kind.quantity();
        for reading in &decoded.readings {
            if reading.quantity != expected {
                let reason = match &decoded.source {
                    // A Datastream id names a quantity: a station has only the Datastream of what it measures.
                    Source::Datastream(ds) => format!(
                        "no Datastream has the id {ds}: station {} is a {} and its Datastream is {}",
                        station.code,
                        station.kind,
                        sensors::sta::datastream_id(station.id, expected)
                    ),
                    Source::Code(_) => format!(
                        "station {} is a {}; it does not measure {}",
                        station.code, station.kind, reading.quantity
                    ),
                };
                let kind = match &decoded.source {
                    Source::Datastream(_) => RejectKind::UnknownStation,
                    Source::Code(_) => RejectKind::WrongQuantity,
                };
                plan.dead.push(letter(topic, item, &Reject::new(kind, reason)));
                continue;
            }
            plan.codes.insert(station.id, station.code.clone());
            plan.decoded += 1;
            plan.rows.push(ReadingRow {
                station_id: station.id,
                quantity: reading.quantity,
                observed_at: reading.observed_at,
                value: reading.value,
                qc: Flags::default(),
                received_at: item.received_at,
            });
        }
    }
    plan
}

fn letter(topic: &str, item: &Item, reject: &Reject) -> DeadLetter {
    let payload = reject.fragment.as_deref().map(str::as_bytes).unwrap_or(&item.message.payload);
    DeadLetter::new(topic, item.received_at, reject.kind.as_str(), &reject.reason, payload)
}

/// Orders each series, drops duplicates within the batch, raises QC flags and computes the new latest reading.
async fn qc_and_latest(
    conn: &mut sqlx::PgConnection,
    plan: &mut Plan,
    stations: &StationCache,
) -> sensors::Result<()> {
    let params: HashMap<i64, QcStation> = stations
        .stations()
        .map(|s| (s.id, QcStation { kind: s.kind, range: s.range, interval_s: s.interval_s, params: s.qc }))
        .collect();
    let mut series: BTreeMap<(i64, i16), Vec<ReadingRow>> = BTreeMap::new();
    for row in plan.rows.drain(..) {
        series.entry((row.station_id, row.quantity.code())).or_default().push(row);
    }
    let mut firsts = Vec::with_capacity(series.len());
    for ((station_id, _), rows) in series.iter_mut() {
        rows.sort_by_key(|r| r.observed_at);
        rows.dedup_by_key(|r| r.observed_at);
        firsts.push((*station_id, rows[0].quantity, rows[0].observed_at));
    }
    let previous = store::previous(conn, &firsts).await?;
    for ((station_id, _), rows) in series {
        let Some(station) = params.get(&station_id) else {
            continue;
        };
        let quantity = rows[0].quantity;
        let mut prev = previous.get(&(station_id, quantity)).copied();
        // The newest reading that may become the latest: a reading flagged `future` never does (a clock running
        // ahead must not hide every later reading), nor do the QC states that follow it.
        let mut latest: Option<(Previous, Flags)> = None;
        for mut row in rows {
            let raw = RawReading { quantity, observed_at: row.observed_at, value: row.value };
            row.qc = qc::check(station, prev.as_ref(), &raw, row.received_at);
            let next = Previous::after(prev.as_ref(), &raw);
            if !row.qc.contains(Flags::FUTURE) {
                latest = Some((next, row.qc));
            }
            prev = Some(next);
            plan.rows.push(row);
        }
        if let Some((p, flags)) = latest {
            plan.latest.push((station_id, quantity, p, flags));
        }
    }
    Ok(())
}

/// The spine's failures are the database's.
fn spine_error(e: database::Error) -> sensors::Error {
    match e {
        database::Error::Database(e) => sensors::Error::Database(e),
        other => sensors::Error::Database(sqlx::Error::Protocol(other.to_string())),
    }
}

/// One `readings.committed` event per station and quantity of the batch.
/// One `readings.committed` event per batch: the array of what each station and quantity got (one row in the
/// spine per batch, not per station: at 10,000 readings/s over 1,000 stations that is the difference between
/// doubling the rows written and not). The subject is the station when the batch holds one only.
fn events_of(rows: &[ReadingRow], codes: &HashMap<i64, String>) -> Vec<database::event::NewEvent> {
    let series = committed(rows, codes);
    if series.is_empty() {
        return Vec::new();
    }
    let subject = match series.as_slice() {
        [one] => Some(one.station.clone()),
        _ => None,
    };
    let payload = serde_json::to_value(&series).unwrap_or_default();
    vec![database::event::NewEvent::new(ReadingsCommitted::KIND, subject, payload)]
}

fn committed(rows: &[ReadingRow], codes: &HashMap<i64, String>) -> Vec<ReadingsCommitted> {
    let mut by_series: BTreeMap<(i64, i16), ReadingsCommitted> = BTreeMap::new();
    for r in rows {
        let e = by_series.entry((r.station_id, r.quantity.code())).or_insert_with(|| ReadingsCommitted {
            station: codes.get(&r.station_id).cloned().unwrap_or_default(),
            station_id: r.station_id,
            quantity: r.quantity,
            from: r.observed_at,
            to: r.observed_at,
            count: 0,
            latest_at: r.observed_at,
            latest_value: r.value,
            latest_qc: r.qc,
        });
        e.count += 1;
        e.from = e.from.min(r.observed_at);
        e.to = e.to.max(r.observed_at);
        // The newest reading, preferring those not flagged `future` (as `sensors.latest` does).
        let future = |f: Flags| f.contains(Flags::FUTURE);
        let newer = (future(e.latest_qc) && !future(r.qc))
            || (future(e.latest_qc) == future(r.qc) && r.observed_at >= e.latest_at);
        if newer {
            e.latest_at = r.observed_at;
            e.latest_value = r.value;
            e.latest_qc = r.qc;
        }
    }
    by_series.into_values().collect()
}
