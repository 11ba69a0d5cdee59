//! The batch writer on a real PostGIS database: messages in, readings and dead letters out, acknowledgements only
//! for what is durable, and no stall on bad input.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use ingest::client::{Ack, IngestStatus, Message, MessageSink};
use ingest::dead_letter;
use ingest::{BatchSink, WriterOptions};
use sensors::event::ReadingsCommitted;
use sensors::{Quantity, StationInput, store};
use serde_json::json;
use sqlx::PgPool;
use testkit::TestDb;
use tokio::sync::oneshot;

/// The longest a test waits for the writer's decision on a message (a loaded 2-core CI machine runs many test
/// binaries at once); a writer that retries for ever still fails the test.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running writer.
struct Pipeline {
    sink: BatchSink,
    events: Arc<database::event::Spine>,
    status: Arc<IngestStatus>,
}

impl Pipeline {
    /// A writer that batches whatever arrives within 200 ms, so that the messages a test sends together are one
    /// batch.
    fn start(pool: &PgPool) -> Pipeline {
        let events = database::event::Spine::start(pool.clone(), None);
        let status = Arc::new(IngestStatus::default());
        let opts = WriterOptions { max_delay: Duration::from_millis(200), ..WriterOptions::default() };
        let (sink, writer) = ingest::writer(pool.clone(), status.clone(), opts);
        tokio::spawn(writer.run());
        Pipeline { sink, events, status }
    }

    async fn send(&mut self, topic: &str, payload: &[u8]) -> oneshot::Receiver<()> {
        let (ack, confirmed) = Ack::channel();
        let message = Message {
            topic: topic.to_string(),
            payload: bytes::Bytes::copy_from_slice(payload),
            received_at: SystemTime::now(),
        };
        self.sink.accept(message, ack).await;
        confirmed
    }
}

/// The writer's batches and retries, counted from its metrics. Installed as the thread's default recorder by a
/// `#[tokio::test]` (a current-thread runtime: the writer's task runs on the test's thread). Whether the writer
/// retried is then a count, not a guess from the time it took (which a loaded machine stretches).
#[derive(Debug, Default)]
struct WriterCounts {
    batches: Arc<AtomicU64>,
    retries: Arc<AtomicU64>,
}

impl WriterCounts {
    fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

impl metrics::Recorder for WriterCounts {
    fn describe_counter(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
    fn describe_gauge(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
    fn describe_histogram(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        match key.name() {
            "vedetta_ingest_batches_total" => metrics::Counter::from_arc(self.batches.clone()),
            "vedetta_ingest_retries_total" => metrics::Counter::from_arc(self.retries.clone()),
            _ => metrics::Counter::noop(),
        }
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

/// Whether the message was acknowledged within `within` (`false` when its acknowledgement was dropped).
async fn acknowledged(confirmed: oneshot::Receiver<()>, within: Duration) -> bool {
    match tokio::time::timeout(within, confirmed).await {
        Ok(result) => result.is_ok(),
        Err(_) => panic!("no decision on the message within {within:?}: the writer stalls"),
    }
}

async fn station(pool: &PgPool, code: &str, kind: &str) -> i64 {
    let feature = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [8.93, 44.41]},
        "properties": {"code": code, "name": code, "kind": kind}});
    store::insert_station(pool, &StationInput::from_feature(&feature).unwrap()).await.unwrap().id
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

fn reading(t: DateTime<Utc>, v: f64) -> Vec<u8> {
    format!(r#"{{"t":"{}","v":{v}}}"#, t.to_rfc3339()).into_bytes()
}

#[tokio::test]
async fn nul_bytes_and_invalid_utf8_become_exact_dead_letters_without_stalling() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    station(&pool, "NUL-PLUV", "rain_gauge").await;
    let counts = WriterCounts::default();
    let _counting = metrics::set_default_local_recorder(&counts);
    let mut pipeline = Pipeline::start(&pool);
    let good = br#"{"t":"2026-11-22T10:00:00Z","v":1}"#;
    let bad: [(&str, &[u8], &str); 5] = [
        ("vedetta/v1/sensors/A\0B/rain", good, "bad_topic"),
        ("vedetta/v1/sensors/NUL-PLUV/rain", b"{\"t\":\"2026-11-22T10:00:00Z\",\"v\":1}\0", "bad_json"),
        ("vedetta/v1/sensors/NUL-PLUV/rain", b"\0\0\0", "bad_json"),
        ("vedetta/v1/sensors/NUL-PLUV/rain", br#"{"t":"\u0000","v":1}"#, "bad_time"),
        ("vedetta/v1/sensors/NUL-PLUV/rain", b"\xff\xfe{\"t\":1}", "bad_json"),
    ];
    let mut confirmations = Vec::new();
    for (topic, payload, _) in bad {
        confirmations.push(pipeline.send(topic, payload).await);
    }
    confirmations.push(pipeline.send("vedetta/v1/sensors/NUL-PLUV/rain", good).await);
    for confirmed in confirmations {
        assert!(acknowledged(confirmed, PATIENCE).await, "every message is durable and acknowledged");
    }
    assert!(counts.batches() > 0, "the writer's metrics are counted here");
    assert_eq!(counts.retries(), 0, "no retries of what cannot succeed");
    assert_eq!(count(&pool, "select count(*) from sensors.reading").await, 1, "the good reading is stored");

    // The exact bytes are kept.
    let rows: Vec<(Vec<u8>, String, Vec<u8>, i32)> =
        sqlx::query_as("select topic, kind, payload_head, payload_size from sensors.dead_letter order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 5);
    for ((topic, kind, head, size), (sent_topic, sent_payload, expected_kind)) in rows.iter().zip(bad) {
        assert_eq!(topic.as_slice(), sent_topic.as_bytes());
        assert_eq!(kind, expected_kind, "{sent_topic}");
        assert_eq!(head.as_slice(), sent_payload);
        assert_eq!(*size as usize, sent_payload.len());
    }
    // The listing is readable text, with the exact bytes in base64.
    let listed = dead_letter::list(&pool, None, None, 100).await.unwrap();
    let by_kind = |k: &str| listed.iter().filter(|l| l.kind == k).collect::<Vec<_>>();
    assert_eq!(by_kind("bad_topic")[0].topic, "vedetta/v1/sensors/A\\x00B/rain");
    assert!(
        by_kind("bad_topic")[0].reason.contains("`A\\x00B` is not a station code"),
        "{:?}",
        by_kind("bad_topic")
    );
    let time = by_kind("bad_time")[0];
    assert!(time.reason.contains("`\\x00`"), "{}", time.reason);
    assert_eq!(time.payload_head, r#"{"t":"\u0000","v":1}"#, "the payload's own escape is text, kept as is");
    let nuls = listed.iter().find(|l| l.payload_size == 3).unwrap();
    assert_eq!((nuls.payload_head.as_str(), nuls.payload_base64.as_str()), ("\\x00\\x00\\x00", "AAAA"));
    let invalid = listed.iter().find(|l| l.payload_head.starts_with("\\xFF")).unwrap();
    assert_eq!(invalid.payload_head, "\\xFF\\xFE{\"t\":1}");
    assert!(pipeline.status.check_storage().is_ok());
    pipeline.sink.close().await;
}

#[tokio::test]
async fn a_station_that_cannot_be_read_fails_alone_and_quickly() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    station(&pool, "OK-PLUV", "rain_gauge").await;
    station(&pool, "POISON-IDRO", "hydrometer").await;
    // A threshold only an unchecked writer of earlier versions could store: it cannot be read back.
    sqlx::query("update sensors.station set thresholds = '{\"yellow\": 1.7976931348623157e308}' where code = 'POISON-IDRO'")
        .execute(&pool)
        .await
        .unwrap();
    let counts = WriterCounts::default();
    let _counting = metrics::set_default_local_recorder(&counts);
    let mut pipeline = Pipeline::start(&pool);
    let good = pipeline.send("vedetta/v1/sensors/OK-PLUV/rain", &reading(Utc::now(), 0.2)).await;
    let poisoned = pipeline.send("vedetta/v1/sensors/POISON-IDRO/level", &reading(Utc::now(), 1.0)).await;
    assert!(acknowledged(good, PATIENCE).await);
    assert!(acknowledged(poisoned, PATIENCE).await, "recorded as a dead letter");
    assert!(counts.batches() > 0, "the writer's metrics are counted here");
    assert_eq!(counts.retries(), 0, "not retried");
    assert_eq!(count(&pool, "select count(*) from sensors.reading").await, 1);
    let letters = dead_letter::list(&pool, None, None, 10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].kind, "storage_failed");
    assert_eq!(letters[0].topic, "vedetta/v1/sensors/POISON-IDRO/level");
    pipeline.sink.close().await;
}

#[tokio::test]
async fn a_message_whose_dead_letter_cannot_be_stored_stays_with_the_broker() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    station(&pool, "KEEP-PLUV", "rain_gauge").await;
    // The table refuses every dead letter (as a broken database would).
    sqlx::query("alter table sensors.dead_letter add constraint refuse_all check (false) not valid")
        .execute(&pool)
        .await
        .unwrap();
    let mut pipeline = Pipeline::start(&pool);
    let good = pipeline.send("vedetta/v1/sensors/KEEP-PLUV/rain", &reading(Utc::now(), 0.2)).await;
    let bad = pipeline.send("vedetta/v1/sensors/KEEP-PLUV/rain", b"{not json").await;
    assert!(acknowledged(good, PATIENCE).await, "the good message is stored and acknowledged");
    assert!(!acknowledged(bad, PATIENCE).await, "the bad one is not acknowledged: not lost");
    assert_eq!(count(&pool, "select count(*) from sensors.reading").await, 1);
    assert!(pipeline.status.check_storage().is_err(), "/healthz says ingest cannot store everything");
    // Once dead letters can be stored again, the next batch clears the state.
    sqlx::query("alter table sensors.dead_letter drop constraint refuse_all").execute(&pool).await.unwrap();
    let again = pipeline.send("vedetta/v1/sensors/KEEP-PLUV/rain", b"{not json").await;
    assert!(acknowledged(again, PATIENCE).await);
    assert!(pipeline.status.check_storage().is_ok());
    pipeline.sink.close().await;
}

#[tokio::test]
async fn a_rolled_back_batch_does_not_leave_its_partitions_in_the_cache() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    station(&pool, "GONE-PLUV", "rain_gauge").await;
    station(&pool, "STAY-PLUV", "rain_gauge").await;
    let mut pipeline = Pipeline::start(&pool);
    let january: DateTime<Utc> = "2019-01-10T10:00:00Z".parse().unwrap();
    let march: DateTime<Utc> = "2019-03-10T10:00:00Z".parse().unwrap();
    // The writer learns GONE-PLUV, which is then deleted behind its back.
    let first = pipeline.send("vedetta/v1/sensors/GONE-PLUV/rain", &reading(january, 0.2)).await;
    assert!(acknowledged(first, PATIENCE).await);
    sqlx::query("delete from sensors.station where code = 'GONE-PLUV'").execute(&pool).await.unwrap();
    // Its reading of March 2019 makes the batch create that month's partition, then fail on the foreign key and
    // roll back; the retry makes it a dead letter.
    let gone = pipeline.send("vedetta/v1/sensors/GONE-PLUV/rain", &reading(march, 0.4)).await;
    assert!(acknowledged(gone, PATIENCE).await);
    // A reading of the same month for another station is stored: the partition is created again.
    let stay = pipeline.send("vedetta/v1/sensors/STAY-PLUV/rain", &reading(march, 0.6)).await;
    assert!(acknowledged(stay, PATIENCE).await);
    assert_eq!(
        count(&pool, "select count(*) from sensors.reading where observed_at = '2019-03-10T10:00:00Z'").await,
        1
    );
    let kinds: Vec<String> = sqlx::query_scalar("select kind from sensors.dead_letter order by id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(kinds, ["unknown_station"], "nothing failed to store");
    pipeline.sink.close().await;
}

#[tokio::test]
async fn readings_in_the_future_never_become_latest_and_beyond_a_day_are_dead_letters() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = station(&pool, "FUT-IDRO", "hydrometer").await;
    let mut pipeline = Pipeline::start(&pool);
    let mut live = pipeline.events.subscribe(Some(0), &[ReadingsCommitted::KIND]);
    let now = Utc::now();
    let topic = "vedetta/v1/sensors/FUT-IDRO/level";
    let batch = [
        reading(now - chrono::Duration::minutes(10), 1.0),
        reading(now + chrono::Duration::hours(2), 5.0), // clock skew: stored, flagged `future`
        br#"{"t":"9999-12-31T00:00:00Z","v":7.0}"#.to_vec(), // beyond the horizon: a dead letter
        br#"{"t":"1800-01-01T00:00:00Z","v":7.0}"#.to_vec(), // before 1900: a dead letter
    ];
    let mut confirmations = Vec::new();
    for payload in &batch {
        confirmations.push(pipeline.send(topic, payload).await);
    }
    for confirmed in confirmations {
        assert!(acknowledged(confirmed, PATIENCE).await);
    }
    let latest = store::latest(&pool, id, Quantity::Level).await.unwrap().unwrap();
    assert_eq!(latest.value, 1.0, "the future reading is not the latest");
    assert_eq!(count(&pool, "select count(*) from sensors.reading").await, 2);
    let flags: i32 = sqlx::query_scalar("select qc from sensors.reading where value = 5.0")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(flags & 16, 16, "flagged future");
    let letters = dead_letter::list(&pool, None, None, 10).await.unwrap();
    assert_eq!(letters.iter().map(|l| l.kind.as_str()).collect::<Vec<_>>(), ["time_out_of_range"; 2]);
    assert!(letters.iter().any(|l| l.reason.contains("is more than a day after reception")), "{letters:?}");
    assert!(letters.iter().any(|l| l.reason.contains("is before 1900")), "{letters:?}");
    let event = tokio::time::timeout(PATIENCE, live.next()).await.unwrap().unwrap().unwrap();
    let announced = ReadingsCommitted::from_payload(&event.payload);
    assert_eq!(announced.len(), 1, "one station in the batch: {}", event.payload);
    let event = &announced[0];
    assert_eq!((event.count, event.latest_value), (2, 1.0), "events prefer readings not in the future");

    // A later reading on time becomes the latest.
    let next = pipeline.send(topic, &reading(now - chrono::Duration::minutes(5), 1.1)).await;
    assert!(acknowledged(next, PATIENCE).await);
    let latest = store::latest(&pool, id, Quantity::Level).await.unwrap().unwrap();
    assert_eq!(latest.value, 1.1);
    pipeline.sink.close().await;
}

#[tokio::test]
async fn a_senml_pack_named_after_the_station_is_stored() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    station(&pool, "GE-BISAG-01", "hydrometer").await;
    let mut pipeline = Pipeline::start(&pool);
    let confirmed = pipeline
        .send("vedetta/v1/senml/GE-BISAG-01", br#"[{"bn":"GE-BISAG-01","n":"level","t":-60,"v":2.7}]"#)
        .await;
    assert!(acknowledged(confirmed, PATIENCE).await);
    let overflow = pipeline
        .send(
            "vedetta/v1/senml/GE-BISAG-01",
            br#"[{"bn":"GE-BISAG-01","bv":1.7e308,"n":"level","v":1.7e308}]"#,
        )
        .await;
    assert!(acknowledged(overflow, PATIENCE).await);
    assert_eq!(count(&pool, "select count(*) from sensors.reading where value = 2.7").await, 1);
    let letters = dead_letter::list(&pool, Some("non_finite"), None, 10).await.unwrap();
    assert_eq!(letters.len(), 1, "bv + v overflowing to infinity is a dead letter, never stored");
    assert_eq!(count(&pool, "select count(*) from sensors.reading").await, 1);
    pipeline.sink.close().await;
}
