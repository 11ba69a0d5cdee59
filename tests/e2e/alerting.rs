//! Alerting end to end: readings over MQTT into the real binary, alerts out over MQTT (retained) and webhooks;
//! the real MONTG series gives one alert, not dozens; two `serve` processes give one notification per change and
//! the survivor takes over when the leader is killed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::DateTime;
use serde_json::{Value, json};
use testkit::{Mosquitto, TestDb, WebhookBehaviour, WebhookReceiver, wait_for};

use crate::support::{Launch, metric, publish_all, query_i64, send_json, station_feature};

const TOKEN: &str = "vdt_alerting_test_token";

fn config_file(root: &std::path::Path) -> std::path::PathBuf {
    let path = root.join("vedetta.toml");
    std::fs::write(
        &path,
        "[alerts]\ntick_s = 1\n[alerts.webhooks]\nbackoff_base_ms = 200\nbackoff_max_s = 1\nmax_attempts = 5\n",
    )
    .unwrap();
    path
}

fn launch(root: &std::path::Path, db: &TestDb) -> Launch {
    Launch::serve(root)
        .arg("--config")
        .arg(config_file(root).to_str().unwrap())
        .env("VEDETTA_DATABASE_URL", &db.url)
        .env("VEDETTA_ADMIN_TOKEN", TOKEN)
}

/// Waits until an evaluator leads (it evaluates what is committed from then on).
fn wait_evaluator(db: &TestDb) {
    wait_for("an evaluator to lead", Duration::from_secs(60), || {
        (query_i64(&db.url, "select count(*) from alerts.consumer_cursor where consumer = 'evaluator'") > 0)
            .then_some(())
    });
}

/// Waits until the MQTT publisher of alerts has published every alert change committed so far (its cursor at the
/// newest `alert.changed` event, both read in one statement): the retained messages are then the final ones.
fn wait_published(db: &TestDb) {
    wait_for("every alert change published over MQTT", Duration::from_secs(60), || {
        (query_i64(
            &db.url,
            "select ((select coalesce(max(last_event_id), 0) from alerts.consumer_cursor where consumer = 'mqtt')
                     >= (select coalesce(max(id), 0) from core.event where kind = 'alert.changed'))::int::int8",
        ) == 1)
            .then_some(())
    });
}

/// Collects every message on `filter` (retained ones included) in a background thread; returns once the broker
/// has acknowledged the subscription (a message published from then on is not missed).
fn subscribe(port: u16, filter: &str) -> Arc<Mutex<Vec<(String, Value, bool)>>> {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let got = Arc::new(Mutex::new(Vec::new()));
    let (subscribed, suback) = std::sync::mpsc::channel();
    let id = format!("test-alert-sub-{}", testkit::free_port());
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut connection) = Client::new(opts, 64);
    client.subscribe(filter, QoS::AtLeastOnce).unwrap();
    let sink = got.clone();
    std::thread::spawn(move || {
        let _client = client;
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let body = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                    sink.lock().unwrap().push((p.topic.clone(), body, p.retain));
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = subscribed.send(());
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    });
    suback.recv_timeout(Duration::from_secs(60)).expect("the broker acknowledges the subscription");
    got
}

fn level_message(code: &str, minute: i64, value: f64) -> (String, String) {
    // Recent readings (a station whose last reading is old is also silent, a technical alert of its own).
    static START: std::sync::OnceLock<chrono::DateTime<chrono::Utc>> = std::sync::OnceLock::new();
    let start = START.get_or_init(|| chrono::Utc::now() - chrono::Duration::minutes(40));
    let t = *start + chrono::Duration::minutes(minute);
    (format!("vedetta/v1/sensors/{code}/level"), format!(r#"{{"t":"{}","v":{value}}}"#, t.to_rfc3339()))
}

#[test]
fn the_real_montg_series_with_a_threshold_inside_its_range_gives_one_alert_on_mqtt() {
    let path = testkit::test_data("hydro/MONTG_idro.json");
    let series: Vec<(i64, f64)> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let launch = launch(root.path(), &db);
    let port: u16 = launch.env["VEDETTA_MQTT_LISTEN"].rsplit(':').next().unwrap().parse().unwrap();
    let mut vedetta = launch.spawn();
    vedetta.wait_healthy();
    // The level oscillates between 0.96 and 1.04 m; gialla at 1.00 m crosses it 15 times. With a clear level
    // of 0.97 m it is one episode: fired at the first reading, resolved when the level settles at 0.96 m.
    let station = station_feature(
        "MONTG",
        "hydrometer",
        json!({"interval_s": 900, "thresholds": {"yellow": 1.0, "clear": {"yellow": 0.97}}}),
    );
    let (status, body) = send_json("POST", &vedetta.url("/api/stations"), TOKEN, &station);
    assert_eq!(status, 201, "{body}");
    wait_evaluator(&db);
    let messages: Vec<(String, String)> = series
        .chunks(48)
        .map(|chunk| {
            let items: Vec<String> = chunk
                .iter()
                .map(|(ms, v)| {
                    format!(
                        r#"{{"t":"{}","v":{v}}}"#,
                        DateTime::from_timestamp_millis(*ms).unwrap().to_rfc3339()
                    )
                })
                .collect();
            ("vedetta/v1/sensors/MONTG/level".to_string(), format!("[{}]", items.join(",")))
        })
        .collect();
    publish_all(port, &messages);
    wait_for("the evaluator to catch up", Duration::from_secs(60), || {
        // Every reading first: the last event is then final (a batch's event commits with its readings). Reading
        // the last event id before the count raced with a batch committing in between.
        if query_i64(&db.url, "select count(*) from sensors.reading") != 1440 {
            return None;
        }
        let last = query_i64(
            &db.url,
            "select coalesce(max(id), 0) from core.event where kind = 'readings.committed'",
        );
        let cursor = query_i64(
            &db.url,
            "select last_event_id from alerts.consumer_cursor where consumer = 'evaluator'",
        );
        (cursor >= last).then_some(())
    });
    assert_eq!(
        query_i64(&db.url, "select count(*) from alerts.alert where subject = 'MONTG' and rule = 'level'"),
        1,
        "one alert"
    );
    assert_eq!(
        query_i64(
            &db.url,
            "select count(*) from alerts.alert_history h join alerts.alert a on a.id = h.alert_id where a.subject = 'MONTG' and a.rule = 'level'"
        ),
        2,
        "fired once and resolved once: no flapping"
    );
    // A dashboard connecting now gets the station's last state, retained. (Once it is published: the evaluator
    // having caught up says nothing of the MQTT publisher, which follows it.)
    wait_published(&db);
    let got = subscribe(port, "vedetta/v1/alerts/#");
    wait_for("the retained alert", Duration::from_secs(60), || {
        let got = got.lock().unwrap();
        got.iter().find(|(t, _, _)| t == "vedetta/v1/alerts/-/MONTG").cloned()
    });
    let (_, body, retained) =
        got.lock().unwrap().iter().find(|(t, _, _)| t == "vedetta/v1/alerts/-/MONTG").cloned().unwrap();
    assert!(retained, "retained");
    assert_eq!(
        (body["rule"].as_str(), body["state"].as_str(), body["subject_level"].as_str()),
        (Some("level"), Some("resolved"), Some("verde"))
    );
    // Replayed from 2020, the station has been silent for years: a technical alert, on a topic of its own.
    wait_for("the silent-station alert", Duration::from_secs(60), || {
        got.lock().unwrap().iter().find(|(t, _, _)| t == "vedetta/v1/alerts/-/MONTG/technical").cloned()
    });
    // Ingest's own subscription gets them independently of the test's: waited for, not assumed.
    wait_for("ingest to receive its own alert publications", Duration::from_secs(60), || {
        (metric(&vedetta, "vedetta_ingest_own_publications_total") >= 2.0).then_some(())
    });
    assert_eq!(query_i64(&db.url, "select count(*) from sensors.dead_letter"), 0, "no dead letter for it");
    assert!(vedetta.terminate().success());
}

#[test]
fn two_serves_give_one_notification_per_change_and_the_survivor_takes_over() {
    let mosquitto = Mosquitto::for_vedetta();
    let db = TestDb::new_blocking();
    let roots: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // Readings go through a `vedetta ingest` worker; the two serves ingest nothing (a serve killed while it
    // holds a persistent MQTT session would keep its share of the readings queued at the broker).
    let start = |root: &std::path::Path, id: &str, command: &str| {
        let mut launch = launch(root, &db).on_broker(mosquitto.url(), id).subcommand(command);
        if command == "serve" {
            launch = launch.env("VEDETTA_MQTT_TOPICS", "vedetta-test/nothing");
        }
        launch.start()
    };
    let mut worker = start(roots[2].path(), "worker", "ingest");
    let mut serves =
        vec![start(roots[0].path(), "serve-a", "serve"), start(roots[1].path(), "serve-b", "serve")];
    let (status, body) = send_json(
        "POST",
        &serves[0].url("/api/stations"),
        TOKEN,
        &station_feature(
            "AL-IDRO",
            "hydrometer",
            json!({"thresholds": {"yellow": 2.0, "orange": 3.0, "red": 4.0}}),
        ),
    );
    assert_eq!(status, 201, "{body}");
    // A receiver that fails twice before it works, subscribed to everything.
    let receiver = WebhookReceiver::start(WebhookBehaviour::fail_first(2));
    let secret = "s3cret-webhook-key";
    crate::support::block_on(async {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let mut sub = alerts::webhook::NewSubscription::new("test", receiver.url());
        sub.secret = Some(secret.into());
        alerts::webhook::create_subscription(&pool, &sub, Some("test")).await.unwrap();
        pool.close().await;
    });
    wait_evaluator(&db);
    let mqtt = subscribe(mosquitto.port(), "vedetta/v1/alerts/#");

    let versions = |n: i64| {
        wait_for(&format!("alert version {n}"), Duration::from_secs(60), || {
            (query_i64(
                &db.url,
                "select coalesce(max(version), 0)::bigint from alerts.alert where subject = 'AL-IDRO' and rule = 'level'",
            ) >= n)
                .then_some(())
        })
    };
    publish_all(mosquitto.port(), &[level_message("AL-IDRO", 0, 1.0), level_message("AL-IDRO", 5, 2.5)]);
    versions(1);
    publish_all(mosquitto.port(), &[level_message("AL-IDRO", 10, 3.5)]);
    versions(2);
    // An operator acknowledges with a note: a change of the alert (version 3), not a notification, and the note
    // and name stay in the operators' room.
    let id = query_i64(&db.url, "select id from alerts.alert where subject = 'AL-IDRO' and rule = 'level'");
    let (status, body) = send_json(
        "POST",
        &serves[1].url(&format!("/api/alerts/{id}/acknowledge")),
        TOKEN,
        &json!({"note": "squadra Rossi in arrivo"}),
    );
    assert_eq!(status, 200, "{body}");
    versions(3);

    // Kill the leader outright: the other process takes over within seconds. First, what is owed for the changes so
    // far is done: both webhooks delivered (the acknowledgement queues none) and every change published over MQTT.
    // A kill between a receiver's answer and its recording (or between a PUBACK and the publisher's cursor) makes
    // the survivor send it again — at least once, by design — and the exact counts below would not hold.
    wait_for("the changes so far delivered", Duration::from_secs(60), || {
        (query_i64(
            &db.url,
            "select ((select count(*) from alerts.webhook_delivery where state = 'delivered') = 2
                     and (select count(*) from alerts.webhook_delivery where state <> 'delivered') = 0)::int::int8",
        ) == 1)
            .then_some(())
    });
    wait_published(&db);
    let leader = serves
        .iter()
        .position(|v| metric(v, "vedetta_alert_changes_total") > 0.0)
        .expect("one process evaluated");
    assert_eq!(
        serves.iter().filter(|v| metric(v, "vedetta_alert_changes_total") > 0.0).count(),
        1,
        "one evaluator"
    );
    drop(serves.remove(leader)); // SIGKILL
    // The fall to 1.0 m is slow enough (0.23 m/min) not to be flagged a spike: flagged readings never clear.
    publish_all(mosquitto.port(), &[level_message("AL-IDRO", 15, 4.5), level_message("AL-IDRO", 30, 1.0)]);
    for _ in 0..600 {
        if query_i64(
            &db.url,
            "select coalesce(max(version), 0)::bigint from alerts.alert where subject = 'AL-IDRO' and rule = 'level'",
        ) >= 5
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        query_i64(
            &db.url,
            "select coalesce(max(version), 0)::bigint from alerts.alert where subject = 'AL-IDRO' and rule = 'level'"
        ),
        5,
        "the survivor took over: {} readings, {} events, cursor {}:\n{}\nworker:\n{}",
        query_i64(&db.url, "select count(*) from sensors.reading"),
        query_i64(&db.url, "select count(*) from core.event where kind = 'readings.committed'"),
        query_i64(&db.url, "select last_event_id from alerts.consumer_cursor where consumer = 'evaluator'"),
        serves[0].stderr(),
        worker.stderr()
    );

    // Webhooks: two failures, then each change delivered once, signed.
    wait_for("four webhook deliveries", Duration::from_secs(60), || {
        (receiver.hits().iter().filter(|hit| hit.status == 200).count() >= 4).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let requests = receiver.hits();
    let delivered: Vec<_> = requests.iter().filter(|hit| hit.status == 200).collect();
    assert_eq!(delivered.len(), 4, "one delivery per change");
    let mut changes = Vec::new();
    for hit in &delivered {
        let ts = hit.header("x-vedetta-timestamp");
        assert!(
            alerts::webhook::verify_signature(secret, ts, &hit.body, hit.header("x-vedetta-signature")),
            "signed with the subscription's secret"
        );
        let body: Value = serde_json::from_slice(&hit.body).unwrap();
        changes.push(format!("{}:{}", body["alert"]["change"].as_str().unwrap(), body["alert"]["version"]));
    }
    changes.sort();
    assert_eq!(
        changes,
        ["escalated:2", "escalated:4", "fired:1", "resolved:5"],
        "the acknowledgement is no news"
    );
    for hit in &delivered {
        let text = String::from_utf8_lossy(&hit.body);
        assert!(!text.contains("squadra Rossi"), "no operator's note in a webhook: {text}");
    }
    assert_eq!(requests.len(), 6, "two failures, four deliveries");

    // MQTT: every change published; before the kill, each exactly once.
    wait_for("five MQTT alert messages", Duration::from_secs(30), || {
        let got = mqtt.lock().unwrap();
        (got.iter().filter(|(t, _, _)| t == "vedetta/v1/alerts/-/AL-IDRO").count() >= 5).then_some(())
    });
    let published: Vec<i64> = mqtt
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _, _)| t == "vedetta/v1/alerts/-/AL-IDRO")
        .map(|(_, b, _)| b["version"].as_i64().unwrap())
        .collect();
    assert_eq!(published.iter().filter(|v| **v <= 3).count(), 3, "one message per change: {published:?}");
    for (t, body, _) in mqtt.lock().unwrap().iter() {
        assert!(body["ack_note"].is_null() && body["acknowledged_by"].is_null(), "{t}: {body}");
    }
    for v in 1..=5 {
        assert!(published.contains(&v), "version {v} published: {published:?}");
    }
    assert_eq!(
        query_i64(&db.url, "select count(*) from alerts.alert where subject = 'AL-IDRO' and rule = 'level'"),
        1,
        "one alert id"
    );
    assert!(serves[0].terminate().success());
    assert!(worker.terminate().success());
}

#[test]
fn alerts_check_says_what_is_wrong_and_where_and_accepts_a_good_file() {
    let root = tempfile::tempdir().unwrap();
    let bad = root.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[rules]]\ncode = \"bisagno\"\nname = \"Bisagno\"\nkind = \"level\"\nthresholds = { yellow = 2.5, orange = 2.0 }\n\n\
         [[rules]]\ncode = \"rain-x\"\nname = \"x\"\nkind = \"rain\"\nthresholds = { \"7m\" = { yellow = 3 } }\n",
    )
    .unwrap();
    let check = |file: &std::path::Path| {
        let mut launch = Launch::serve(root.path()).arg_after("check").arg_after(file.to_str().unwrap());
        launch.command = "alerts".into();
        launch.run()
    };
    let out = check(&bad);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("bad.toml:5:39: rule 1 (`bisagno`), thresholds.orange"), "{stdout}");
    assert!(stdout.contains("rule 2 (`rain-x`), thresholds.7m: unknown window `7m`"), "{stdout}");

    let good = root.path().join("good.toml");
    std::fs::write(
        &good,
        "[[rules]]\ncode = \"bisagno-salita\"\nname = \"Salita rapida\"\nkind = \"rate_of_rise\"\n\
         stations = [\"GE-BISAGNO-01\"]\nrate_m_per_h = 0.5\nwindow = \"30m\"\n",
    )
    .unwrap();
    let out = check(&good);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 rule: 1 rate_of_rise"));
}
