//! `vedetta_ingest_dead_letters_total{kind}` counts each committed dead letter exactly once, also when a batch is
//! planned twice (a retry after a station vanished). Alone in its test binary: it installs the global recorder.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ingest::WriterOptions;
use ingest::client::{Ack, IngestStatus, Message, MessageSink};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use sensors::{StationInput, store};
use serde_json::json;
use testkit::TestDb;

/// Counters by name and labels; gauges and histograms are ignored.
#[derive(Debug, Default)]
struct Counters(Mutex<HashMap<String, Arc<AtomicU64>>>);

#[derive(Debug)]
struct Cell(Arc<AtomicU64>);

impl metrics::CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }

    fn absolute(&self, value: u64) {
        self.0.fetch_max(value, Ordering::Relaxed);
    }
}

impl Counters {
    fn get(&self, name: &str) -> u64 {
        self.0.lock().unwrap().get(name).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    fn total(&self, prefix: &str) -> u64 {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, c)| c.load(Ordering::Relaxed))
            .sum()
    }
}

impl Recorder for &'static Counters {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let labels: Vec<String> = key.labels().map(|l| format!("{}=\"{}\"", l.key(), l.value())).collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        let cell = self.0.lock().unwrap().entry(name).or_default().clone();
        Counter::from_arc(Arc::new(Cell(cell)))
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

async fn send(
    sink: &mut ingest::BatchSink,
    topic: &str,
    payload: &str,
) -> tokio::sync::oneshot::Receiver<()> {
    let (ack, confirmed) = Ack::channel();
    let message = Message {
        topic: topic.into(),
        payload: bytes::Bytes::copy_from_slice(payload.as_bytes()),
        received_at: SystemTime::now(),
    };
    sink.accept(message, ack).await;
    confirmed
}

#[tokio::test]
async fn each_dead_letter_is_counted_once_even_when_its_batch_is_retried() {
    let counters: &'static Counters = Box::leak(Box::default());
    metrics::set_global_recorder(counters).unwrap();
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let feature = |code: &str| {
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [8.93, 44.41]},
            "properties": {"code": code, "name": code, "kind": "rain_gauge"}})
    };
    store::insert_station(&pool, &StationInput::from_feature(&feature("M-PLUV")).unwrap()).await.unwrap();
    let opts = WriterOptions { max_delay: Duration::from_millis(200), ..WriterOptions::default() };
    let (mut sink, writer) = ingest::writer(pool.clone(), Arc::new(IngestStatus::default()), opts);
    tokio::spawn(writer.run());
    let topic = "vedetta/v1/sensors/M-PLUV/rain";
    let first = send(&mut sink, topic, r#"{"t":"2026-11-22T10:00:00Z","v":0.2}"#).await;
    tokio::time::timeout(Duration::from_secs(30), first).await.unwrap().unwrap();
    // The station goes while the writer has it cached: the next batch fails on the foreign key and is planned and
    // stored again, with its dead letters.
    sqlx::query("delete from sensors.station where code = 'M-PLUV'").execute(&pool).await.unwrap();
    let batch = [
        send(&mut sink, topic, "{not json").await,
        send(&mut sink, "vedetta/v1/sensors/M-PLUV/rain", r#"{"t":"2026-11-22T10:05:00Z","v":0.4}"#).await,
        send(&mut sink, "vedetta/v1/sensors/M-PLUV/temperature", "{}").await,
    ];
    for confirmed in batch {
        tokio::time::timeout(Duration::from_secs(30), confirmed).await.unwrap().unwrap();
    }
    sink.close().await;

    let stored: i64 =
        sqlx::query_scalar("select count(*) from sensors.dead_letter").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 3);
    assert_eq!(counters.total("vedetta_ingest_dead_letters_total"), 3, "one count per stored dead letter");
    assert_eq!(counters.get("vedetta_ingest_dead_letters_total{kind=\"bad_json\"}"), 1);
    assert_eq!(counters.get("vedetta_ingest_dead_letters_total{kind=\"unknown_station\"}"), 1);
    assert_eq!(counters.get("vedetta_ingest_dead_letters_total{kind=\"unknown_quantity\"}"), 1);
    assert_eq!(counters.get("vedetta_ingest_retries_total{}"), 0, "a vanished station is not an outage");
}
