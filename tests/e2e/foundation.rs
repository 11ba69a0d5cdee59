//! The foundation: serve with a private cluster or an external database, brokers, config, health, shutdown.

use std::time::Duration;

use serde_json::Value;
use testkit::{Mosquitto, TestCluster, TestDb, wait_for};

use crate::support::{Launch, cluster_running, get, metric, mosquitto_pub, request};

fn admin_token_from(stdout: &str) -> Option<String> {
    stdout.lines().map(str::trim).find(|l| l.starts_with("vdt_")).map(str::to_string)
}

#[test]
fn serve_with_a_private_cluster_is_healthy_and_stops_it_on_sigterm() {
    let root = tempfile::tempdir().unwrap();
    let mut vedetta = Launch::serve(root.path()).spawn();
    let health = vedetta.wait_healthy();
    assert_eq!(health["database"], "ok", "{health}");
    assert_eq!(health["mqtt"], "ok", "{health}");
    assert_eq!(health["status"], "ok", "{health}");
    assert!(cluster_running(&vedetta.data_dir), "the private cluster runs under the data dir");

    // The home page says Vedetta is up, in Italian first.
    let (status, page) = get(&vedetta.url("/"), None);
    assert_eq!(status, 200);
    let page = page.as_str().unwrap().to_string();
    assert!(page.contains("<html lang=\"it\">") && page.contains("Vedetta"), "{page}");

    // The admin token is printed once and works; no token or a bad one is refused with a reason.
    let token = admin_token_from(&vedetta.stdout()).expect("an admin token on stdout");
    let (status, me) = get(&vedetta.url("/api/auth/whoami"), Some(&token));
    assert_eq!((status, me["role"].as_str()), (200, Some("admin")), "{me}");
    let (status, body) = get(&vedetta.url("/api/auth/whoami"), None);
    assert_eq!(status, 401);
    assert!(body["detail"].as_str().unwrap().contains("Bearer"), "{body}");
    let (status, _) = get(&vedetta.url("/api/auth/whoami"), Some("vdt_wrong"));
    assert_eq!(status, 401);
    let (status, body) = get(&vedetta.url("/no/such/thing"), None);
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));

    // Prometheus metrics cover HTTP, the pool and MQTT.
    let (_, metrics) = get(&vedetta.url("/metrics"), None);
    let metrics = metrics.as_str().unwrap();
    for name in [
        "vedetta_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}",
        "vedetta_http_request_duration_seconds_bucket",
        "vedetta_db_pool_connections",
        "vedetta_mqtt_connected 1",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics:\n{metrics}");
    }

    let status = vedetta.terminate();
    assert!(status.success(), "exit status {status}:\n{}", vedetta.stderr());
    assert!(!cluster_running(&vedetta.data_dir), "the private cluster is stopped on shutdown");
    assert!(vedetta.stderr().contains("Private PostgreSQL cluster stopped"));

    // A second start on the same data dir reuses the cluster and the token, and prints no new token.
    let mut again = Launch::serve(root.path()).spawn();
    again.wait_healthy();
    assert_eq!(admin_token_from(&again.stdout()), None, "the token is printed only at the first start");
    assert_eq!(get(&again.url("/api/auth/whoami"), Some(&token)).0, 200);
    assert!(again.terminate().success());
}

#[test]
fn a_second_serve_on_the_same_data_dir_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let mut first = Launch::serve(root.path()).spawn();
    first.wait_healthy();

    let out = Launch::serve(root.path()).run();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is in use by another Vedetta process"), "{stderr}");
    assert!(stderr.contains("vedetta serve, pid"), "{stderr}");

    // The first one is unharmed.
    assert_eq!(get(&first.url("/healthz"), None).0, 200);
    assert!(first.terminate().success());
}

#[test]
fn serve_against_an_external_database_url_starts_no_cluster() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let mut vedetta = Launch::serve(root.path())
        .env("VEDETTA_DATABASE_URL", &db.url)
        .env("VEDETTA_ADMIN_TOKEN", "vdt_configured_for_the_test")
        .arg("--log-format")
        .arg("json")
        .spawn();
    let health = vedetta.wait_healthy();
    assert_eq!(health["database"], "ok");
    assert!(!vedetta.data_dir.join("postgres").exists(), "no private cluster with an external database");

    // The configured token works and nothing is generated.
    assert_eq!(get(&vedetta.url("/api/auth/whoami"), Some("vdt_configured_for_the_test")).0, 200);
    assert_eq!(admin_token_from(&vedetta.stdout()), None);

    assert!(vedetta.terminate().success());
    // Logs are JSON lines.
    let stderr = vedetta.stderr();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let parsed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(parsed.get("level").is_some() && parsed.get("timestamp").is_some(), "{line}");
    }
}

#[test]
fn a_message_published_to_external_mosquitto_reaches_ingest() {
    let mosquitto = Mosquitto::start();
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let launch = Launch::serve(root.path())
        .env("VEDETTA_DATABASE_URL", &db.url)
        .env("VEDETTA_MQTT_URL", mosquitto.url());
    let embedded: std::net::SocketAddr = launch.env["VEDETTA_MQTT_LISTEN"].parse().unwrap();
    let mut vedetta = launch.spawn();
    vedetta.wait_healthy();
    assert!(
        std::net::TcpStream::connect(embedded).is_err(),
        "no embedded broker when an external one is configured"
    );

    mosquitto_pub(
        mosquitto.port(),
        "vedetta/v1/sensors/GE-TEST-01/rain",
        r#"{"t":"2026-11-22T10:05:00+01:00","v":1.2}"#,
    );
    wait_for("ingest to count the message", Duration::from_secs(60), || {
        (metric(&vedetta, "vedetta_mqtt_messages_received_total") >= 1.0).then_some(())
    });
    assert!(vedetta.terminate().success());
}

#[test]
fn a_message_published_to_the_embedded_broker_reaches_ingest() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let launch = Launch::serve(root.path()).env("VEDETTA_DATABASE_URL", &db.url);
    let broker_port: u16 = launch.env["VEDETTA_MQTT_LISTEN"].rsplit(':').next().unwrap().parse().unwrap();
    let mut vedetta = launch.spawn();
    vedetta.wait_healthy();

    for i in 0..3 {
        mosquitto_pub(
            broker_port,
            "vedetta/v1/sensors/GE-TEST-01/level",
            &format!(r#"{{"t":"2026-11-22T10:0{i}:00Z","v":2.5}}"#),
        );
    }
    wait_for("ingest to count the messages", Duration::from_secs(60), || {
        (metric(&vedetta, "vedetta_mqtt_messages_received_total") >= 3.0).then_some(())
    });
    assert!(vedetta.terminate().success());
}

#[test]
fn healthz_turns_503_when_the_database_stops_and_recovers_when_it_returns() {
    let mut cluster = TestCluster::start();
    let root = tempfile::tempdir().unwrap();
    let mut vedetta = Launch::serve(root.path()).env("VEDETTA_DATABASE_URL", cluster.url("postgres")).spawn();
    vedetta.wait_healthy();

    cluster.kill();
    let body = wait_for("healthz to report the database down", Duration::from_secs(60), || {
        let (status, body) = get(&vedetta.url("/healthz"), None);
        (status == 503).then_some(body)
    });
    assert_eq!(body["database"], "down", "{body}");
    assert_eq!(body["mqtt"], "ok", "{body}");
    assert!(body["errors"]["database"].is_string(), "{body}");

    cluster.restart();
    let body = vedetta.wait_healthy();
    assert_eq!(body["database"], "ok");
    assert!(vedetta.terminate().success());
}

#[test]
fn healthz_reports_mqtt_down_when_the_external_broker_goes_away() {
    let mosquitto = Mosquitto::start();
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let mut vedetta = Launch::serve(root.path())
        .env("VEDETTA_DATABASE_URL", &db.url)
        .env("VEDETTA_MQTT_URL", mosquitto.url())
        .spawn();
    vedetta.wait_healthy();
    drop(mosquitto);
    let body = wait_for("healthz to report mqtt down", Duration::from_secs(60), || {
        let (status, body) = get(&vedetta.url("/healthz"), None);
        (status == 503).then_some(body)
    });
    assert_eq!((body["mqtt"].as_str(), body["database"].as_str()), (Some("down"), Some("ok")), "{body}");
    assert!(vedetta.terminate().success());
}

#[test]
fn an_unknown_config_key_is_named_in_the_error() {
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("vedetta.toml");
    std::fs::write(&config, "[http]\naddr = \"127.0.0.1:0\"\n\n[mqtt]\nlisten_adress = \"127.0.0.1:1883\"\n")
        .unwrap();
    let out = Launch::serve(root.path()).arg("--config").arg(config.to_str().unwrap()).run();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("listen_adress"), "{stderr}");
    assert!(!root.path().join("data").exists(), "nothing is started with a bad configuration");
}

#[test]
fn config_prints_the_effective_configuration_with_secrets_masked() {
    let root = tempfile::tempdir().unwrap();
    let mut launch = Launch::serve(root.path())
        .env("VEDETTA_DATABASE_URL", "postgres://vedetta:hunter2@db.example:5432/vedetta")
        .env("VEDETTA_ADMIN_TOKEN", "vdt_secret_token");
    launch.command = "config".into();
    let out = launch.run();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("hunter2") && !stdout.contains("vdt_secret_token"), "{stdout}");
    assert!(stdout.contains("postgres://vedetta:****@db.example:5432/vedetta"), "{stdout}");
    assert!(stdout.contains("admin_token = \"****\""), "{stdout}");
    // It is valid TOML that Vedetta itself accepts.
    let _: toml::Value = toml::from_str(&stdout).expect("the printed configuration is TOML");
}

#[test]
fn migrate_starts_the_private_cluster_for_itself_and_stops_it() {
    let root = tempfile::tempdir().unwrap();
    let mut launch = Launch::serve(root.path());
    launch.command = "migrate".into();
    let data_dir = launch.data_dir.clone();
    let out = launch.run();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(data_dir.join("postgres/PG_VERSION").exists());
    assert!(!cluster_running(&data_dir), "a command stops the cluster it started");
}

#[test]
fn migrate_reuses_the_cluster_of_a_running_serve() {
    let root = tempfile::tempdir().unwrap();
    let mut vedetta = Launch::serve(root.path()).spawn();
    vedetta.wait_healthy();
    let mut launch = Launch::serve(root.path());
    launch.command = "migrate".into();
    let out = launch.run();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Using the private cluster of the running Vedetta")
    );
    // serve still owns a running cluster.
    assert_eq!(get(&vedetta.url("/healthz"), None).0, 200);
    assert!(vedetta.terminate().success());
}

#[test]
fn migrations_create_postgis_and_one_schema_per_domain() {
    let db = TestDb::new_blocking();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pool = db.pool().await;
        let postgis: String =
            sqlx::query_scalar("select postgis_lib_version()").fetch_one(&pool).await.unwrap();
        assert!(postgis.starts_with('3'), "{postgis}");
        let schemas: Vec<String> = sqlx::query_scalar("select nspname::text from pg_namespace order by 1")
            .fetch_all(&pool)
            .await
            .unwrap();
        for schema in database::SCHEMAS {
            assert!(schemas.iter().any(|s| s == schema), "schema {schema} missing: {schemas:?}");
        }
    });
}

#[test]
fn demo_generates_its_territory_and_a_storm_streams_in() {
    let root = tempfile::tempdir().unwrap();
    let mut launch = Launch::serve(root.path());
    launch.command = "demo".into();
    let mut vedetta = launch.spawn();
    vedetta.wait_healthy();
    assert!(vedetta.stdout().contains("Vedetta demo è attiva"), "{}", vedetta.stdout());
    // The demo's civil-protection operator signs in with the password printed once.
    let out = vedetta.stdout();
    let password = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("protezione.civile / "))
        .unwrap_or_else(|| panic!("the demo operator's password is printed: {out}"))
        .to_string();
    let login = serde_json::json!({"username": "protezione.civile", "password": password});
    let (status, me) = request("POST", &vedetta.url("/api/auth/login"), None, Some(&login));
    assert_eq!(status, 200, "the demo operator signs in: {me}");
    wait_for("the 24 simulated stations", Duration::from_secs(60), || {
        let (_, stations) = get(&vedetta.url("/api/stations"), None);
        (stations["features"].as_array().map_or(0, Vec::len) == 24).then_some(())
    });
    // The past is backfilled at once: every station reports from the first seconds, none reads `silent`.
    wait_for("every simulated station reporting", Duration::from_secs(60), || {
        let (_, stations) = get(&vedetta.url("/api/stations"), None);
        let features = stations["features"].as_array().cloned().unwrap_or_default();
        features.iter().all(|f| f["properties"]["state"] == "reporting").then_some(())
    });
    let (_, readings) = get(&vedetta.url("/api/stations/SIM-IDRO-0001/readings?interval=PT1H"), None);
    assert!(readings["buckets"].as_array().map_or(0, Vec::len) >= 3, "three hours of history: {readings}");
    let (_, comuni) = get(&vedetta.url("/api/comuni"), None);
    assert_eq!(comuni["comuni"][0]["name"], "Comune dimostrativo");
    let (_, zones) = get(&vedetta.url("/api/zoning/at?lat=44.41&lon=8.92"), None);
    assert_eq!(zones["zones"][0]["code"], "FV1", "the variant is in force today: {zones}");
    let (_, found) = get(&vedetta.url("/api/geocode?q=via%20xx%20sett%2012r"), None);
    let first = &found["candidates"][0];
    assert_eq!(
        (first["kind"].as_str(), first["comune"].as_str()),
        (Some("civico"), Some("Comune dimostrativo")),
        "{found}"
    );
    // The red 12r and the black 12 are different doors: each query finds its own.
    let street_part = |label: &str| label.split(',').next().unwrap_or_default().trim().to_string();
    let red = street_part(first["label"].as_str().unwrap());
    assert!(red.to_lowercase().ends_with("settembre 12r"), "a red number: {found}");
    let (_, black) = get(&vedetta.url("/api/geocode?q=via%20xx%20settembre%2012"), None);
    let black_label = street_part(black["candidates"][0]["label"].as_str().unwrap_or_default());
    assert!(black_label.to_lowercase().ends_with("settembre 12"), "a black number: {black}");
    wait_for("simulated readings to be stored", Duration::from_secs(60), || {
        (metric(&vedetta, "vedetta_ingest_readings_stored_total") >= 10.0).then_some(())
    });
    assert!(vedetta.terminate().success());
}

#[test]
fn sigterm_ends_serve_in_seconds_while_a_query_is_stuck_and_a_stream_is_open() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let mut vedetta = Launch::serve(root.path()).env("VEDETTA_DATABASE_URL", &db.url).spawn();
    vedetta.wait_healthy();

    // Another client holds a lock that the station listing waits on, as a stuck or slow statement would, until the
    // test lets it go (a fixed hold could end before a slow machine got to the SIGTERM).
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
    let locker = std::thread::spawn({
        let url = db.url.clone();
        move || {
            crate::support::block_on(async move {
                let pool = sqlx::PgPool::connect(&url).await.unwrap();
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("lock table sensors.station in access exclusive mode")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                locked_tx.send(()).unwrap();
                // Released by the test, or at the latest when this times out (a failed test leaves nothing behind).
                let _ = tokio::time::timeout(Duration::from_secs(300), release_rx).await;
                drop(tx);
            })
        }
    });
    locked.recv_timeout(Duration::from_secs(60)).expect("the locker holds the lock");
    let waiting = || {
        crate::support::query_i64(
            &db.url,
            "select count(*) from pg_locks where relation = 'sensors.station'::regclass and not granted",
        )
    };
    let waiting_before = waiting();
    let stuck_url = vedetta.url("/api/stations");
    let stuck = std::thread::spawn(move || get(&stuck_url, None));
    // The listing is seen waiting for the lock in PostgreSQL, not assumed to after a sleep.
    wait_for("the station listing to wait for the lock", Duration::from_secs(60), || {
        (waiting() > waiting_before).then_some(())
    });
    // An SSE client that never goes away on its own, seen open (its response headers read).
    let stream = std::net::TcpStream::connect(vedetta.http).unwrap();
    {
        use std::io::{Read, Write};
        let mut s = &stream;
        s.write_all(b"GET /api/readings/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
            .unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut byte).expect("the stream's response headers");
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));
    }

    let started = std::time::Instant::now();
    let status = vedetta.terminate();
    let took = started.elapsed();
    assert!(status.success(), "exit status {status}:\n{}", vedetta.stderr());
    // The grace for requests in flight is 3 s (ingest's 5 s): 15 s is "in seconds" with room for a loaded machine.
    assert!(took < Duration::from_secs(15), "SIGTERM took {took:?}:\n{}", vedetta.stderr());
    let _ = stuck.join();
    drop(stream);
    let _ = release.send(());
    locker.join().unwrap();
}

#[test]
fn simulate_backfills_the_history_then_publishes_live_readings() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let launch = Launch::serve(root.path()).env("VEDETTA_DATABASE_URL", &db.url);
    let broker = launch.env["VEDETTA_MQTT_LISTEN"].clone();
    let mut vedetta = launch.spawn();
    vedetta.wait_healthy();

    let mut simulate = Launch::serve(root.path())
        .env("VEDETTA_DATABASE_URL", &db.url)
        .env("VEDETTA_MQTT_URL", format!("mqtt://{broker}"));
    simulate.command = "simulate".into();
    for arg in ["--stations", "3", "--rate", "10", "--duration", "2", "--backfill", "1", "--storm"] {
        simulate = simulate.arg_after(arg);
    }
    let out = simulate.run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // One hour at 5-minute steps: 12 readings per station, then about 20 live ones.
    assert!(stdout.contains("(36 backfilled)"), "{stdout}");
    wait_for("the backfilled readings to be stored", Duration::from_secs(60), || {
        let stored = crate::support::query_i64(&db.url, "select count(*) from sensors.reading");
        (stored >= 36 + 10).then_some(())
    });
    let oldest = crate::support::query_i64(
        &db.url,
        "select extract(epoch from now() - min(observed_at))::bigint from sensors.reading",
    );
    assert!((3000..=3700).contains(&oldest), "the history starts an hour ago: {oldest} s");
    assert!(vedetta.terminate().success());
}
