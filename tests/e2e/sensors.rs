//! The sensor network: MQTT payloads into PostGIS, QC, dead letters, durability, scale-out, REST and SSE.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use testkit::{Mosquitto, TestCluster, TestDb, wait_for};

use crate::support::{
    Launch, Vedetta, block_on, get, metric, publish_all, query_i64, send_json, station_feature,
};

const TOKEN: &str = "vdt_sensors_test_token";

/// Vedetta on a fresh database with the embedded broker, and the broker's port.
fn platform(root: &std::path::Path, db: &TestDb) -> (Vedetta, u16) {
    let launch = Launch::serve(root).env("VEDETTA_DATABASE_URL", &db.url).env("VEDETTA_ADMIN_TOKEN", TOKEN);
    let port: u16 = launch.env["VEDETTA_MQTT_LISTEN"].rsplit(':').next().unwrap().parse().unwrap();
    let mut vedetta = launch.spawn();
    vedetta.wait_healthy();
    (vedetta, port)
}

fn create_station(vedetta: &Vedetta, feature: Value) {
    let (status, body) = send_json("POST", &vedetta.url("/api/stations"), TOKEN, &feature);
    assert_eq!(status, 201, "{body}");
}

fn msg(topic: &str, payload: impl Into<String>) -> (String, String) {
    (topic.to_string(), payload.into())
}

fn readings(vedetta: &Vedetta, code: &str, query: &str) -> Vec<Value> {
    let (status, body) = get(&vedetta.url(&format!("/api/stations/{code}/readings?{query}")), None);
    assert_eq!(status, 200, "{body}");
    body["readings"].as_array().cloned().unwrap_or_default()
}

fn wait_count(db: &TestDb, n: i64) {
    wait_for(&format!("{n} readings stored"), Duration::from_secs(60), || {
        (query_i64(&db.url, "select count(*) from sensors.reading") >= n).then_some(())
    });
}

#[test]
fn every_payload_form_is_stored() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let (vedetta, port) = platform(root.path(), &db);
    create_station(&vedetta, station_feature("GE-BISAG-01", "hydrometer", json!({"range": [0, 10]})));
    create_station(&vedetta, station_feature("GE-PLUV-01", "rain_gauge", json!({})));
    let station_id = query_i64(&db.url, "select id from sensors.station where code = 'GE-BISAG-01'");
    let datastream = station_id * 10 + 2;

    publish_all(
        port,
        &[
            msg("vedetta/v1/sensors/GE-BISAG-01/level", r#"{"t":"2026-11-22T10:00:00+01:00","v":1.10}"#),
            msg(
                "vedetta/v1/sensors/GE-BISAG-01/level",
                r#"[{"t":"2026-11-22T09:05:00Z","v":1.2},{"t":"2026-11-22T09:10:00Z","v":130,"u":"cm"}]"#,
            ),
            msg(
                "vedetta/v1/senml/GE-BISAG-01",
                r#"[{"bn":"urn:dev:vedetta:GE-BISAG-01:","bt":1795338900,"bu":"m","n":"level","v":1.4},{"n":"level","t":300,"v":1.5}]"#,
            ),
            msg(
                &format!("v1.1/Datastreams({datastream})/Observations"),
                r#"{"phenomenonTime":"2026-11-22T09:25:00Z","result":1.6}"#,
            ),
            msg("vedetta/v1/sensors/GE-PLUV-01/rain", r#"{"t":"2026-11-22T09:05:00Z","v":0.4}"#),
            // A device naming itself in `bn` and the quantity in `n`, without a separator.
            msg(
                "vedetta/v1/senml/GE-BISAG-01",
                r#"[{"bn":"GE-BISAG-01","bt":1795339800,"n":"level","v":1.7}]"#,
            ),
        ],
    );
    wait_count(&db, 8);
    let level = readings(&vedetta, "GE-BISAG-01", "from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z");
    let got: Vec<(String, f64)> =
        level.iter().map(|r| (r["t"].as_str().unwrap().to_string(), r["v"].as_f64().unwrap())).collect();
    assert_eq!(
        got,
        [
            ("2026-11-22T09:00:00Z".to_string(), 1.1),
            ("2026-11-22T09:05:00Z".to_string(), 1.2),
            ("2026-11-22T09:10:00Z".to_string(), 1.3),
            ("2026-11-22T09:15:00Z".to_string(), 1.4),
            ("2026-11-22T09:20:00Z".to_string(), 1.5),
            ("2026-11-22T09:25:00Z".to_string(), 1.6),
            ("2026-11-22T09:30:00Z".to_string(), 1.7),
        ]
    );
    let rain = readings(&vedetta, "GE-PLUV-01", "from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z");
    assert_eq!(rain[0]["v"], 0.4);
    assert_eq!(query_i64(&db.url, "select count(*) from sensors.dead_letter"), 0);
}

#[test]
fn paho_publishes_sensorthings_observations_and_senml_packs() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let (vedetta, port) = platform(root.path(), &db);
    create_station(&vedetta, station_feature("PAHO-PLUV", "rain_gauge", json!({})));
    let station_id = query_i64(&db.url, "select id from sensors.station where code = 'PAHO-PLUV'");
    let topic = format!("v1.1/Datastreams({})/Observations", station_id * 10 + 1);
    let out = crate::support::python_client(
        "mqtt_publish.py",
        &[
            &port.to_string(),
            &topic,
            r#"{"phenomenonTime":"2026-11-21T10:00:00Z/2026-11-21T10:05:00Z","result":1.4}"#,
            "vedetta/v1/senml/PAHO-PLUV",
            r#"[{"bn":"PAHO-PLUV:","n":"rain","t":1795251600,"v":0.6,"u":"mm"}]"#,
        ],
    );
    assert_eq!(out["published"], 2);
    wait_count(&db, 2);
    let rain = readings(&vedetta, "PAHO-PLUV", "from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z");
    let got: Vec<(&str, f64)> =
        rain.iter().map(|r| (r["t"].as_str().unwrap(), r["v"].as_f64().unwrap())).collect();
    assert_eq!(got, [("2026-11-21T09:00:00Z", 0.6), ("2026-11-21T10:05:00Z", 1.4)]);
}

#[test]
fn duplicates_and_redeliveries_are_stored_once() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let (vedetta, port) = platform(root.path(), &db);
    create_station(&vedetta, station_feature("GE-PLUV-02", "rain_gauge", json!({})));
    let one = r#"{"t":"2026-11-22T09:05:00Z","v":0.6}"#;
    let topic = "vedetta/v1/sensors/GE-PLUV-02/rain";
    publish_all(port, &[msg(topic, one), msg(topic, one)]);
    publish_all(port, &[msg(topic, format!("[{one},{one},{}]", r#"{"t":"2026-11-22T09:10:00Z","v":0.2}"#))]);
    wait_for("all messages handled", Duration::from_secs(60), || {
        (metric(&vedetta, "vedetta_ingest_readings_duplicate_total") >= 3.0).then_some(())
    });
    assert_eq!(query_i64(&db.url, "select count(*) from sensors.reading"), 2);
    // The 24 h total counts the duplicated reading once.
    let (_, windows) = get(&vedetta.url("/api/stations/GE-PLUV-02/windows?at=2026-11-22T09:30:00Z"), None);
    assert_eq!(windows["totals"]["1h"], 0.8, "{windows}");
}

#[test]
fn every_qc_flag_is_raised_by_a_crafted_series() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let (vedetta, port) = platform(root.path(), &db);
    create_station(
        &vedetta,
        station_feature("QC-IDRO", "hydrometer", json!({"range": [0, 5], "qc": {"flat_line_s": 1800}})),
    );
    create_station(&vedetta, station_feature("QC-PLUV", "rain_gauge", json!({"range": [0, 200]})));
    let future = (Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let level = |m: u32, v: f64| format!(r#"{{"t":"2026-11-21T10:{m:02}:00Z","v":{v}}}"#);
    let series = [
        level(0, 1.0),
        level(5, 1.1),
        level(6, 4.0),  // spike: 2.9 m in a minute
        level(10, 6.0), // out of range (and a spike)
        level(15, 2.0),
        level(20, 2.0),
        level(30, 2.0),
        level(45, 2.0), // 30 minutes identical: flat line
    ];
    publish_all(
        port,
        &[
            msg("vedetta/v1/sensors/QC-IDRO/level", format!("[{}]", series.join(","))),
            msg("vedetta/v1/sensors/QC-IDRO/level", format!(r#"{{"t":"{future}","v":2.1}}"#)),
            msg(
                "vedetta/v1/sensors/QC-PLUV/rain",
                r#"[{"t":"2026-11-21T10:00:00Z","v":0},{"t":"2026-11-21T10:05:00Z","v":75.0},{"t":"2026-11-21T10:10:00Z","v":1.0}]"#,
            ),
        ],
    );
    wait_count(&db, 12);
    let flags_of = |code: &str| -> Vec<Vec<String>> {
        readings(&vedetta, code, "from=2026-11-20T00:00:00Z&to=2030-01-01T00:00:00Z")
            .iter()
            .map(|r| r["qc"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect())
            .collect()
    };
    let idro = flags_of("QC-IDRO");
    assert_eq!(idro[0], ["ok"]);
    assert_eq!(idro[1], ["ok"]);
    assert_eq!(idro[2], ["spike"]);
    assert!(idro[3].contains(&"out_of_range".to_string()), "{:?}", idro[3]);
    assert_eq!(idro[6], ["ok"], "20 minutes identical is not yet flat");
    assert_eq!(idro[7], ["flat_line"]);
    assert!(idro[8].contains(&"future".to_string()), "{:?}", idro[8]);
    let pluv = flags_of("QC-PLUV");
    assert_eq!(pluv[1], ["implausible"], "75 mm in 5 minutes");
    assert_eq!(pluv[2], ["ok"]);

    // Silence is a state of the station.
    let (_, latest) = get(&vedetta.url("/api/stations/QC-PLUV/latest"), None);
    assert_eq!(latest["state"], "silent", "{latest}");
    assert_eq!(latest["latest"]["v"], 1.0);
}

#[test]
fn bad_input_becomes_dead_letters_with_reasons_and_ingest_goes_on() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let (vedetta, port) = platform(root.path(), &db);
    create_station(&vedetta, station_feature("DL-PLUV", "rain_gauge", json!({})));
    let big = format!(r#"{{"t":"2026-11-22T10:00:00Z","v":1,"pad":"{}"}}"#, "x".repeat(300 * 1024));
    let topic = "vedetta/v1/sensors/DL-PLUV/rain";
    publish_all(
        port,
        &[
            msg("vedetta/v1/sensors/NO-SUCH/rain", r#"{"t":"2026-11-22T10:00:00Z","v":1}"#),
            msg(topic, "{not json"),
            msg(topic, r#"{"t":"2026-11-22T10:00:00Z","v":1,"u":"m"}"#),
            msg(topic, r#"{"v":1}"#),
            msg(topic, r#"{"t":"2026-11-22T10:00:00Z","v":null}"#),
            msg(topic, r#"{"t":"ieri","v":1}"#),
            msg("vedetta/v1/sensors/DL-PLUV/level", r#"{"t":"2026-11-22T10:00:00Z","v":1}"#),
            msg(topic, big),
            msg(topic, r#"{"t":"9999-12-31T00:00:00Z","v":1}"#),
            msg("vedetta/v1/senml/DL-PLUV", r#"[{"bn":"DL-PLUV","bv":1.7e308,"n":"rain","v":1.7e308}]"#),
            msg("vedetta/v1/senml/DL-PLUV", r#"[{"bn":"DL-PLUV","n":"humidity","v":80}]"#),
            msg(topic, r#"{"t":"2026-11-22T10:00:00Z","v":5e9}"#),
            msg(topic, r#"{"t":"2026-11-22T10:05:00Z","v":0.2}"#),
        ],
    );
    wait_count(&db, 1);
    let body = wait_for("twelve dead letters", Duration::from_secs(60), || {
        let (status, body) = get_auth(&vedetta, "/api/ingest/dead-letters");
        assert_eq!(status, 200);
        (body["dead_letters"].as_array().unwrap().len() == 12).then_some(body)
    });
    let mut kinds: Vec<&str> =
        body["dead_letters"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "bad_json",
            "bad_time",
            "bad_value",
            "missing_field",
            "non_finite",
            "out_of_bounds",
            "time_out_of_range",
            "too_large",
            "unknown_quantity",
            "unknown_station",
            "wrong_quantity",
            "wrong_unit"
        ]
    );
    let letters = body["dead_letters"].as_array().unwrap();
    let of = |kind: &str| letters.iter().find(|d| d["kind"] == kind).unwrap();
    assert_eq!(of("unknown_station")["reason"], "no station has the code `NO-SUCH`");
    assert_eq!(of("unknown_station")["topic"], "vedetta/v1/sensors/NO-SUCH/rain");
    assert_eq!(
        of("unknown_quantity")["reason"],
        "element 0: name `DL-PLUVhumidity` names no quantity Vedetta reads: its last part `DL-PLUVhumidity` is neither rain nor level"
    );
    assert!(of("non_finite")["reason"].as_str().unwrap().contains("bv + v"), "{}", of("non_finite"));
    assert!(of("time_out_of_range")["reason"].as_str().unwrap().contains("more than a day after reception"));
    let too_large = of("too_large");
    assert_eq!(too_large["payload_head"].as_str().unwrap().len(), 1024, "only the first bytes are kept");
    assert_eq!(too_large["payload_base64"].as_str().unwrap().len(), 1368, "1024 bytes in base64");
    assert!(too_large["payload_size"].as_i64().unwrap() > 300 * 1024);
    // Counted right after the commit that made them visible: waited for, then exact.
    wait_dead_letter_metric(&vedetta, 12.0);
    assert_eq!(dead_letter_metric(&vedetta), 12.0, "each dead letter counted once");
    assert_eq!(metric(&vedetta, "vedetta_ingest_dead_letters_total{kind=\"bad_json\"}"), 1.0);

    // The reading of year 9999 did not become the latest: the one on time did.
    let (_, latest) = get(&vedetta.url("/api/stations/DL-PLUV/latest"), None);
    assert_eq!(latest["latest"]["t"], "2026-11-22T10:05:00Z", "{latest}");

    // Operators only.
    assert_eq!(get(&vedetta.url("/api/ingest/dead-letters"), None).0, 401);
}

/// Waits until `vedetta_ingest_dead_letters_total` reaches `n`: ingest counts a batch's dead letters just after
/// the commit that shows them in the API, so a test that has seen them may still read the count before.
fn wait_dead_letter_metric(vedetta: &Vedetta, n: f64) {
    wait_for(&format!("{n} dead letters counted"), Duration::from_secs(60), || {
        (dead_letter_metric(vedetta) >= n).then_some(())
    });
}

/// The sum of `vedetta_ingest_dead_letters_total` over its kinds.
fn dead_letter_metric(vedetta: &Vedetta) -> f64 {
    let (_, body) = get(&vedetta.url("/metrics"), None);
    body.as_str()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("vedetta_ingest_dead_letters_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn nul_bytes_in_topics_and_payloads_are_kept_as_dead_letters_without_stalling_ingest() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let (vedetta, port) = platform(root.path(), &db);
    create_station(&vedetta, station_feature("NUL-PLUV", "rain_gauge", json!({})));
    // Through the embedded broker, which passes a NUL in a topic on.
    publish_all(
        port,
        &[
            msg("vedetta/v1/sensors/NUL\0PLUV/rain", r#"{"t":"2026-11-22T10:00:00Z","v":1}"#),
            msg("vedetta/v1/sensors/NUL-PLUV/rain", "{\"t\":\"2026-11-22T10:00:00Z\",\"v\":1}\0"),
            msg("vedetta/v1/sensors/NUL-PLUV/rain", "\0"),
            msg("vedetta/v1/sensors/NUL-PLUV/rain", r#"{"t":"2026-11-22T10:05:00Z","v":0.2}"#),
        ],
    );
    wait_count(&db, 1);
    let body = wait_for("three dead letters", Duration::from_secs(60), || {
        let (_, body) = get_auth(&vedetta, "/api/ingest/dead-letters");
        (body["dead_letters"].as_array().map_or(0, Vec::len) == 3).then_some(body)
    });
    let letters = body["dead_letters"].as_array().unwrap();
    let topics: Vec<&str> = letters.iter().map(|d| d["topic"].as_str().unwrap()).collect();
    assert!(topics.contains(&"vedetta/v1/sensors/NUL\\x00PLUV/rain"), "{topics:?}");
    let heads: Vec<(&str, &str)> = letters
        .iter()
        .map(|d| (d["payload_head"].as_str().unwrap(), d["payload_base64"].as_str().unwrap()))
        .collect();
    assert!(heads.contains(&("\\x00", "AA==")), "{heads:?}");
    wait_dead_letter_metric(&vedetta, 3.0);
    assert_eq!(dead_letter_metric(&vedetta), 3.0);
    // Ingest did not stall: nothing was retried (a count; the time taken says more about the machine's load).
    assert_eq!(metric(&vedetta, "vedetta_ingest_retries_total"), 0.0, "ingest did not stall on a retry");
    // Still ingesting.
    publish_all(port, &[msg("vedetta/v1/sensors/NUL-PLUV/rain", r#"{"t":"2026-11-22T10:10:00Z","v":0.2}"#)]);
    wait_count(&db, 2);
}

#[test]
fn a_station_deleted_while_ingest_knows_it_turns_its_readings_into_dead_letters() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let (vedetta, port) = platform(root.path(), &db);
    create_station(&vedetta, station_feature("DEL-PLUV", "rain_gauge", json!({})));
    publish_all(port, &[msg("vedetta/v1/sensors/DEL-PLUV/rain", r#"{"t":"2026-11-21T10:00:00Z","v":0.2}"#)]);
    wait_count(&db, 1);
    let (status, _) = send_json("DELETE", &vedetta.url("/api/stations/DEL-PLUV"), TOKEN, &Value::Null);
    assert_eq!(status, 204);
    publish_all(port, &[msg("vedetta/v1/sensors/DEL-PLUV/rain", r#"{"t":"2026-11-21T10:05:00Z","v":0.4}"#)]);
    let body = wait_for("a dead letter", Duration::from_secs(60), || {
        let (_, body) = get_auth(&vedetta, "/api/ingest/dead-letters");
        (!body["dead_letters"].as_array().unwrap().is_empty()).then_some(body)
    });
    assert_eq!(body["dead_letters"][0]["kind"], "unknown_station", "{body}");
    wait_dead_letter_metric(&vedetta, 1.0);
    assert_eq!(dead_letter_metric(&vedetta), 1.0, "the retried batch counts its dead letter once");
    assert_eq!(
        query_i64(&db.url, "select count(*) from sensors.reading"),
        0,
        "the station's readings went with it"
    );
}

fn get_auth(vedetta: &Vedetta, path: &str) -> (u16, Value) {
    get(&vedetta.url(path), Some(TOKEN))
}

/// Lines of `count` readings of `code`, one per message, one second apart from `start`.
fn stream_of(code: &str, start: DateTime<Utc>, count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            let t = start + chrono::Duration::seconds(i as i64);
            msg(
                &format!("vedetta/v1/sensors/{code}/rain"),
                format!(r#"{{"t":"{}","v":0.2}}"#, t.to_rfc3339()),
            )
        })
        .collect()
}

#[test]
fn a_backlog_larger_than_any_default_queue_and_a_kill_9_lose_nothing() {
    let mosquitto = Mosquitto::for_vedetta();
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let launch = || {
        Launch::serve(root.path())
            .env("VEDETTA_DATABASE_URL", &db.url)
            .env("VEDETTA_ADMIN_TOKEN", TOKEN)
            .env("VEDETTA_MQTT_URL", mosquitto.url())
            .env("VEDETTA_MQTT_CLIENT_ID", "vedetta-durability-test")
    };
    // First start registers the persistent session, then Vedetta goes away.
    let mut vedetta = launch().spawn();
    vedetta.wait_healthy();
    create_station(&vedetta, station_feature("KILL-PLUV", "rain_gauge", json!({})));
    assert!(vedetta.terminate().success());

    // 20,000 readings arrive while nobody listens: more than Mosquitto's default queue of 1,000.
    let start: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
    let backlog = stream_of("KILL-PLUV", start, 20_000);
    publish_all(mosquitto.port(), &backlog);

    // Vedetta comes back, and is killed with -9 in the middle of the backlog. So that "the middle" does not
    // depend on how fast this machine is, the writer's statements after its first committed batch wait for an
    // advisory lock the test holds: the kill finds part of the backlog stored and a batch in flight.
    let holder = AdvisoryHold::take(&db.url, 4242);
    exec(
        &db.url,
        "create function public.hold_after_first_batch() returns trigger language plpgsql as $$
         begin
             if exists (select 1 from sensors.reading) then
                 perform pg_advisory_xact_lock_shared(4242);
             end if;
             return null;
         end $$;
         create trigger hold_after_first_batch before insert on sensors.reading
             for each statement execute function public.hold_after_first_batch()",
    );
    let mut vedetta = launch().spawn();
    wait_for("part of the backlog stored", Duration::from_secs(60), || {
        (query_i64(&db.url, "select count(*) from sensors.reading") > 0).then_some(())
    });
    wait_for("the next batch waiting", Duration::from_secs(60), || {
        let waiting =
            "select count(*) from pg_locks where locktype = 'advisory' and objid = 4242 and not granted";
        (query_i64(&db.url, waiting) > 0).then_some(())
    });
    drop(vedetta); // SIGKILL
    let stored_at_kill = query_i64(&db.url, "select count(*) from sensors.reading");
    let published_at_kill = backlog.len() as i64;
    // The killed writer's transaction goes with its connection once the lock lets its statement end.
    drop(holder);
    exec(
        &db.url,
        "drop trigger hold_after_first_batch on sensors.reading; drop function public.hold_after_first_batch()",
    );
    // More arrive while it is dead.
    let more = stream_of("KILL-PLUV", start + chrono::Duration::seconds(20_000), 5_000);
    publish_all(mosquitto.port(), &more);

    vedetta = launch().spawn();
    vedetta.wait_healthy();
    wait_count(&db, 25_000);
    // The kill happened mid-stream: part of what was published by then was stored, not all of it.
    assert!(
        0 < stored_at_kill && stored_at_kill < published_at_kill,
        "the kill happened mid-stream ({stored_at_kill} of {published_at_kill} stored)"
    );
    // Exactly every reading, each once: 25,000 rows on 25,000 distinct seconds spanning the whole stream.
    assert_eq!(query_i64(&db.url, "select count(*) from sensors.reading"), 25_000);
    assert_eq!(query_i64(&db.url, "select count(distinct observed_at) from sensors.reading"), 25_000);
    assert_eq!(
        query_i64(
            &db.url,
            "select extract(epoch from max(observed_at) - min(observed_at))::bigint from sensors.reading"
        ),
        24_999
    );
    assert_eq!(
        query_i64(&db.url, "select extract(epoch from min(observed_at))::bigint from sensors.reading"),
        start.timestamp()
    );
    assert_eq!(query_i64(&db.url, "select count(*) from sensors.dead_letter"), 0);
    assert!(vedetta.terminate().success());
}

#[test]
fn a_database_outage_mid_stream_loses_nothing() {
    let mosquitto = Mosquitto::for_vedetta();
    let mut cluster = TestCluster::start();
    let url = cluster.url("postgres");
    let root = tempfile::tempdir().unwrap();
    let mut vedetta = Launch::serve(root.path())
        .env("VEDETTA_DATABASE_URL", &url)
        .env("VEDETTA_ADMIN_TOKEN", TOKEN)
        .env("VEDETTA_MQTT_URL", mosquitto.url())
        .spawn();
    vedetta.wait_healthy();
    create_station(&vedetta, station_feature("OUT-PLUV", "rain_gauge", json!({})));
    let start: DateTime<Utc> = "2026-11-02T00:00:00Z".parse().unwrap();
    publish_all(mosquitto.port(), &stream_of("OUT-PLUV", start, 2_000));
    wait_count_url(&url, 2_000);

    cluster.kill();
    publish_all(mosquitto.port(), &stream_of("OUT-PLUV", start + chrono::Duration::seconds(2_000), 3_000));
    let body = wait_for("healthz to say storage is failing", Duration::from_secs(60), || {
        let (status, body) = get(&vedetta.url("/healthz"), None);
        (status == 503 && body["ingest"] == "down").then_some(body)
    });
    assert_eq!(body["database"], "down", "{body}");

    cluster.restart();
    let waited = std::panic::catch_unwind(|| wait_count_url(&url, 5_000));
    if waited.is_err() {
        let err = vedetta.stderr();
        let tail: Vec<&str> =
            err.lines().filter(|l| !l.contains("Message received")).rev().take(60).collect();
        panic!(
            "not all readings landed; vedetta said:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    assert_eq!(query_i64(&url, "select count(*) from sensors.reading"), 5_000);
    vedetta.wait_healthy();
    assert!(vedetta.terminate().success());
}

fn wait_count_url(url: &str, n: i64) {
    wait_for(&format!("{n} readings stored"), Duration::from_secs(90), || {
        let block = crate::support::block_on(async {
            let pool = sqlx::PgPool::connect(url).await.ok()?;
            let count: i64 =
                sqlx::query_scalar("select count(*) from sensors.reading").fetch_one(&pool).await.ok()?;
            pool.close().await;
            Some(count)
        });
        block.filter(|c| *c >= n).map(|_| ())
    });
}

#[test]
fn two_ingest_workers_on_a_shared_subscription_store_everything_once() {
    let mosquitto = Mosquitto::for_vedetta();
    let db = TestDb::new_blocking();
    let root_a = tempfile::tempdir().unwrap();
    let root_b = tempfile::tempdir().unwrap();
    let worker = |root: &std::path::Path, id: &str| {
        Launch::serve(root)
            .env("VEDETTA_DATABASE_URL", &db.url)
            .on_broker(mosquitto.url(), id)
            .subcommand("ingest")
            .start()
    };
    let mut a = worker(root_a.path(), "vedetta-worker-a");
    let mut b = worker(root_b.path(), "vedetta-worker-b");
    crate::support::block_on(async {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query("insert into sensors.station (code, name, kind, geom) values ('SH-PLUV', 'Condivisa', 'rain_gauge', st_setsrid(st_makepoint(8.9, 44.4), 4326))")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let start: DateTime<Utc> = "2026-11-03T00:00:00Z".parse().unwrap();
    publish_all(mosquitto.port(), &stream_of("SH-PLUV", start, 10_000));
    wait_count(&db, 10_000);
    let (got_a, got_b) = (
        metric(&a, "vedetta_mqtt_messages_received_total"),
        metric(&b, "vedetta_mqtt_messages_received_total"),
    );
    assert!(got_a > 0.0 && got_b > 0.0, "both workers take a share: {got_a} + {got_b}");
    assert_eq!(got_a + got_b, 10_000.0, "each message went to one worker");
    assert_eq!(query_i64(&db.url, "select count(*) from sensors.reading"), 10_000);
    assert!(a.terminate().success() && b.terminate().success());
}

#[test]
fn the_real_montg_series_replayed_over_mqtt_reads_back_identical() {
    let path = testkit::test_data("hydro/MONTG_idro.json");
    let series: Vec<(i64, f64)> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(series.len(), 1440);
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let (vedetta, port) = platform(root.path(), &db);
    create_station(
        &vedetta,
        station_feature("MONTG", "hydrometer", json!({"interval_s": 900, "river": "Torrente Fereggiano"})),
    );
    // A station in Palermo, for the spatial filters.
    let mut palermo = station_feature("PA-ORETO-01", "hydrometer", json!({}));
    palermo["geometry"]["coordinates"] = json!([13.36, 38.12]);
    create_station(&vedetta, palermo);
    // As a gauge flushing its buffer: arrays of 48 readings (12 hours).
    let messages: Vec<(String, String)> = series
        .chunks(48)
        .map(|chunk| {
            let items: Vec<String> = chunk
                .iter()
                .map(|(ms, v)| {
                    let t = DateTime::from_timestamp_millis(*ms).unwrap();
                    format!(r#"{{"t":"{}","v":{v}}}"#, t.to_rfc3339())
                })
                .collect();
            msg("vedetta/v1/sensors/MONTG/level", format!("[{}]", items.join(",")))
        })
        .collect();
    publish_all(port, &messages);
    wait_count(&db, 1440);
    let back = readings(&vedetta, "MONTG", "from=2020-03-01T00:00:00Z&to=2020-04-01T00:00:00Z");
    let back: Vec<(i64, f64)> = back
        .iter()
        .map(|r| {
            let t: DateTime<Utc> = r["t"].as_str().unwrap().parse().unwrap();
            (t.timestamp_millis(), r["v"].as_f64().unwrap())
        })
        .collect();
    assert_eq!(back, series);
    // Hourly maxima through the bucket query.
    let (_, hourly) = get(
        &vedetta.url("/api/stations/MONTG/readings?from=2020-03-16T00:00:00Z&to=2020-03-17T00:00:00Z&interval=PT1H&agg=max"),
        None,
    );
    assert_eq!(hourly["buckets"].as_array().unwrap().len(), 24, "{hourly}");
    assert_eq!(hourly["buckets"][0]["n"], 4);

    // The same series through SensorThings, read by the independent frost-sta-client (several pages of 500).
    let sta = crate::support::python_client("sta_frost.py", &[&vedetta.url("/sta/v1.1"), "MONTG"]);
    let through_sta: Vec<(i64, f64)> = serde_json::from_value(sta["observations"].clone()).unwrap();
    assert_eq!(through_sta, series);
    assert_eq!(sta["count"], 1440);
    assert_eq!((sta["things"].as_i64(), sta["datastreams"].as_i64()), (Some(2), Some(1)), "{sta}");
    assert_eq!(sta["unit"], "m");
    assert_eq!(sta["found"], "Stazione MONTG");
    let above = series.iter().filter(|(_, v)| *v > 2.0).count();
    assert_eq!(sta["above_2m"], above as i64);
    let day = series.iter().filter(|(ms, _)| (1_584_662_400_000..1_584_748_800_000).contains(ms)).count();
    assert_eq!(sta["one_day"], day as i64);
    assert_eq!(sta["inside_genova"], json!(["Stazione MONTG"]), "st_within keeps Palermo out");
    assert_eq!(sta["at_point"], json!(["Stazione MONTG"]));
    assert_eq!((sta["sensors"].as_i64(), sta["features"].as_i64()), (Some(2), Some(2)));
    assert_eq!(sta["observed_properties"].as_array().unwrap().len(), 2);
}

#[test]
fn committed_readings_stream_as_server_sent_events_and_resume() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let (vedetta, port) = platform(root.path(), &db);
    create_station(&vedetta, station_feature("SSE-IDRO", "hydrometer", json!({})));

    // Every read of the stream has a deadline: a regression fails the test instead of hanging the suite.
    let response = ureq::get(&vedetta.url("/api/readings/stream")).timeout(SSE_TIMEOUT).call().unwrap();
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    let mut lines = BufReader::new(response.into_reader()).lines();
    publish_all(port, &[msg("vedetta/v1/sensors/SSE-IDRO/level", r#"{"t":"2026-11-22T10:00:00Z","v":2.7}"#)]);
    let (id, data) = next_event(&mut lines);
    assert_eq!(data["station"], "SSE-IDRO");
    assert_eq!(data["quantity"], "level");
    assert_eq!((data["count"].as_i64(), data["latest_value"].as_f64()), (Some(1), Some(2.7)));

    publish_all(port, &[msg("vedetta/v1/sensors/SSE-IDRO/level", r#"{"t":"2026-11-22T10:05:00Z","v":2.9}"#)]);
    wait_count(&db, 2);
    // A client that reconnects with the id it saw gets only what came after.
    let response = ureq::get(&vedetta.url("/api/readings/stream"))
        .timeout(SSE_TIMEOUT)
        .set("Last-Event-ID", &id)
        .call()
        .unwrap();
    let mut lines = BufReader::new(response.into_reader()).lines();
    let (second, data) = next_event(&mut lines);
    assert_eq!(data["latest_value"], 2.9);

    // The events live in PostGIS: after a restart of Vedetta the same id still resumes where the client was.
    drop(lines);
    let mut vedetta = vedetta;
    assert!(vedetta.terminate().success());
    let (vedetta, port) = platform(root.path(), &db);
    publish_all(port, &[msg("vedetta/v1/sensors/SSE-IDRO/level", r#"{"t":"2026-11-22T10:10:00Z","v":3.1}"#)]);
    wait_count(&db, 3);
    for (resume, expect) in [(&id, [2.9, 3.1].as_slice()), (&second, [3.1].as_slice())] {
        let response = ureq::get(&vedetta.url("/api/readings/stream?station=SSE-IDRO"))
            .timeout(SSE_TIMEOUT)
            .set("Last-Event-ID", resume)
            .call()
            .unwrap();
        let mut lines = BufReader::new(response.into_reader()).lines();
        for value in expect {
            assert_eq!(next_event(&mut lines).1["latest_value"], *value, "resumed after {resume}");
        }
    }
}

#[test]
fn one_serve_and_two_ingest_workers_stream_every_reading_once_in_commit_order() {
    let mosquitto = Mosquitto::for_vedetta();
    let db = TestDb::new_blocking();
    let roots: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let launch = |root: &std::path::Path, id: &str, command: &str| {
        Launch::serve(root)
            .env("VEDETTA_DATABASE_URL", &db.url)
            .env("VEDETTA_ADMIN_TOKEN", TOKEN)
            .on_broker(mosquitto.url(), id)
            .subcommand(command)
            .start()
    };
    let mut serve = launch(roots[0].path(), "vedetta-serve", "serve");
    let mut workers = [
        launch(roots[1].path(), "vedetta-worker-a", "ingest"),
        launch(roots[2].path(), "vedetta-worker-b", "ingest"),
    ];
    let codes = ["SP-PLUV-1", "SP-PLUV-2", "SP-PLUV-3"];
    for code in codes {
        create_station(&serve, station_feature(code, "rain_gauge", json!({})));
    }
    let response = ureq::get(&serve.url("/api/readings/stream")).timeout(LONG_SSE_TIMEOUT).call().unwrap();
    let mut lines = BufReader::new(response.into_reader()).lines();

    let start: DateTime<Utc> = "2026-11-03T00:00:00Z".parse().unwrap();
    let per_station = 2000;
    let mut messages = Vec::new();
    for i in 0..per_station {
        for code in codes {
            messages.extend(stream_of(code, start + chrono::Duration::seconds(i as i64), 1));
        }
    }
    publish_all(mosquitto.port(), &messages);

    let mut ids: Vec<i64> = Vec::new();
    // Per station: (count, from, to). One spine event per ingest batch, one SSE event per station in it; the last
    // SSE event of a batch carries the batch's id.
    type Seen = Vec<(i64, DateTime<Utc>, DateTime<Utc>)>;
    let mut per_code: std::collections::BTreeMap<String, Seen> = Default::default();
    let mut total = 0;
    while total < codes.len() * per_station {
        let (id, data) = next_event(&mut lines);
        let count = data["count"].as_i64().unwrap();
        total += count as usize;
        let t = |k: &str| data[k].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
        per_code.entry(data["station"].as_str().unwrap().into()).or_default().push((
            count,
            t("from"),
            t("to"),
        ));
        if !id.is_empty() {
            ids.push(id.parse::<i64>().expect("numeric event ids"));
        }
    }
    assert_eq!(total, codes.len() * per_station, "every reading once, none twice");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "events in the order of their ids");
    let share = |v: &Vedetta| metric(v, "vedetta_ingest_readings_stored_total");
    assert!(workers.iter().all(|w| share(w) > 0.0), "both workers committed readings");
    // Exactly the events the workers committed, in id order, which is commit order (see `database::event`).
    let in_db: Vec<(i64, String)> = crate::support::block_on(async {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let rows = sqlx::query_as(
            "select id, subject from core.event where kind = 'readings.committed' order by id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        rows
    });
    assert_eq!(in_db.iter().map(|(id, _)| *id).collect::<Vec<_>>(), ids, "exactly the committed events");
    for (code, events) in &per_code {
        let counted: i64 = events.iter().map(|e| e.0).sum();
        assert_eq!(counted, per_station as i64, "{code}");
    }
    drop(lines);
    assert!(serve.terminate().success());
    for w in &mut workers {
        assert!(w.terminate().success());
    }
}

/// The longest a test reads a server-sent event stream (ureq's deadline covers reading the body, from the request
/// on): generous for a loaded CI machine, and a regression still fails instead of hanging the suite.
const SSE_TIMEOUT: Duration = Duration::from_secs(60);

/// The same for the stream that follows 6,000 readings from publication to the last event.
const LONG_SSE_TIMEOUT: Duration = Duration::from_secs(240);

fn next_event(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> (String, Value) {
    let (mut id, mut data) = (String::new(), Value::Null);
    for line in lines {
        let line = line.unwrap_or_else(|e| panic!("no SSE line within {SSE_TIMEOUT:?}: {e}"));
        if let Some(v) = line.strip_prefix("id: ").or_else(|| line.strip_prefix("id:")) {
            id = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:")) {
            data = serde_json::from_str(v.trim()).expect("JSON data");
        } else if line.is_empty() && !data.is_null() {
            return (id, data);
        }
    }
    panic!("the stream ended");
}

/// Runs `sql` (statements separated by `;`) on the database at `url`.
fn exec(url: &str, sql: &str) {
    block_on(async {
        let pool = sqlx::PgPool::connect(url).await.expect("connect");
        sqlx::raw_sql(sql).execute(&pool).await.expect(sql);
        pool.close().await;
    })
}

/// An advisory lock held on a connection of its own until dropped.
struct AdvisoryHold {
    release: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AdvisoryHold {
    fn take(url: &str, key: i64) -> AdvisoryHold {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (taken_tx, taken) = std::sync::mpsc::channel::<()>();
        let url = url.to_string();
        let thread = std::thread::spawn(move || {
            block_on(async move {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
                sqlx::query("select pg_advisory_lock($1)").bind(key).execute(&mut conn).await.expect("lock");
                taken_tx.send(()).expect("the test waits");
                let _ = tokio::task::spawn_blocking(move || released.recv()).await;
                let _ = conn.close().await;
            })
        });
        taken.recv_timeout(Duration::from_secs(60)).expect("the advisory lock taken");
        AdvisoryHold { release: Some(release), thread: Some(thread) }
    }
}

impl Drop for AdvisoryHold {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
