//! The web app in a real browser: headless Debian Chromium, driven by `playwright-core` from the Node.js test
//! scripts of `tests/browser/` (`node --test`), against a real `vedetta serve` with data: the comuni of the
//! province of Genova in alert zones, Lamezia Terme with its ANNCSU house numbers (the address search), a zoning
//! plan over central Genova, a hydrometer with thresholds and a civil-protection account with a password.
//!
//! The scripts are told where everything is through the environment (`BASE_URL`, `FIXTURE` as JSON,
//! `ARTIFACTS_DIR`, `CHROMIUM_PATH`); they publish the hydrometer's red reading themselves with `mosquitto_pub`
//! once the dashboard is open, so the 2-second deadline is measured from the publication. Screenshots go to
//! `target/browser-artifacts/`.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use serde_json::json;
use testkit::{TestDb, wait_for};

use crate::support::{
    BIN, Launch, data, get, import, import_lamezia, publish_all, query_i64, send_json, station_feature,
};

const ADMIN: &str = "vdt_browser_admin";
const USER: &str = "sala.operativa";
const PASSWORD: &str = "una password per la sala operativa";
const STATION: &str = "GE-BISAG-01";
/// The hydrometer on the Bisagno, Genova (lon, lat).
const STATION_AT: (f64, f64) = (8.9530, 44.4170);
/// The whole Node.js run, Chromium included, must end within this.
const NODE_TIMEOUT: Duration = Duration::from_secs(170);

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `vedetta ARGS…` on the database of `db` with `stdin`; asserts it succeeded.
fn vedetta_cli(root: &Path, db: &TestDb, args: &[&str], stdin: &str) {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("VEDETTA_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd
        .arg("--data-dir")
        .arg(root.join("data"))
        .args(args)
        .env("VEDETTA_DATABASE_URL", &db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vedetta");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("run vedetta");
    assert!(
        out.status.success(),
        "{args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the browser tests need besides the repository: Node.js, Chromium and `tests/browser/node_modules`
/// (`make test-deps` installs all three). A missing piece fails the test with what to run.
fn preconditions() -> (PathBuf, PathBuf) {
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    assert!(
        chromium.exists(),
        "{} is missing: run `make test-deps` (apt package chromium)",
        chromium.display()
    );
    let node_ok = Command::new("node").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(node_ok, "node is missing: run `make test-deps`");
    let scripts = repository().join("tests/browser");
    for module in ["playwright-core", "axe-core"] {
        assert!(
            scripts.join("node_modules").join(module).exists(),
            "tests/browser/node_modules/{module} is missing: run `make test-deps` (scripts/browser-deps.sh)"
        );
    }
    (chromium, scripts)
}

/// The test scripts, in name order (they run one after the other: one Chromium at a time).
fn test_files(scripts: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scripts)
        .expect("tests/browser")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".test.mjs")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test.mjs in {}", scripts.display());
    files
}

#[test]
fn citizens_operators_and_planners_use_the_web_app_in_a_real_browser() {
    let (chromium, scripts) = preconditions();
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let root = root.path();

    // The territory: Genova's province in its alert zones, Lamezia Terme (a box around its ANNCSU addresses)
    // with its house numbers, and a zoning plan of two zones over central Genova.
    import(root, &db, &["comuni", &data("comuni/limits_P_10_municipalities.geojson")]);
    import(root, &db, &["zones", &data("zones/genova_comuni.geojson")]);
    import_lamezia(root, &db);
    let square = |x0: f64, y0: f64, x1: f64, y1: f64| json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]});
    let plan = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": square(8.92, 44.40, 8.94, 44.42), "properties": {"zona": "AC", "zto": "A", "nta": "art. 12"}},
        {"type": "Feature", "geometry": square(8.94, 44.40, 8.96, 44.42), "properties": {"zona": "BR", "zto": "B", "nta": "art. 14"}}
    ]});
    let plan_file = root.join("puc.geojson");
    std::fs::write(&plan_file, plan.to_string()).unwrap();
    let out = import(
        root,
        &db,
        &[
            "zoning",
            plan_file.to_str().unwrap(),
            "--plan",
            "PUC Genova",
            "--version",
            "2000",
            "--approved",
            "2000-01-01",
        ],
    );
    assert!(out.contains("2 zones imported"), "{out}");
    vedetta_cli(
        root,
        &db,
        &["users", "add", USER, "--name", "Sala operativa", "--role", "civil_protection", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );

    let config = root.join("vedetta.toml");
    std::fs::write(&config, "[alerts]\ntick_s = 1\n").unwrap();
    let launch = Launch::serve(root)
        .arg("--config")
        .arg(config.to_str().unwrap())
        .env("VEDETTA_DATABASE_URL", &db.url)
        .env("VEDETTA_ADMIN_TOKEN", ADMIN);
    let mqtt_port: u16 = launch.env["VEDETTA_MQTT_LISTEN"].rsplit(':').next().unwrap().parse().unwrap();
    let mut vedetta = launch.spawn();
    vedetta.wait_healthy();

    // A hydrometer on the Bisagno with its thresholds.
    let mut station = station_feature(
        STATION,
        "hydrometer",
        json!({"name": "Bisagno a Sant'Agata", "interval_s": 300,
               "thresholds": {"yellow": 2.0, "orange": 3.0, "red": 4.0}}),
    );
    station["geometry"]["coordinates"] = json!([STATION_AT.0, STATION_AT.1]);
    let (status, body) = send_json("POST", &vedetta.url("/api/stations"), ADMIN, &station);
    assert_eq!(status, 201, "{body}");
    wait_for("an evaluator to lead", Duration::from_secs(60), || {
        (query_i64(&db.url, "select count(*) from alerts.consumer_cursor where consumer = 'evaluator'") > 0)
            .then_some(())
    });
    // Half an hour of a river rising below its yellow threshold, the last reading six minutes ago: the red
    // reading the browser test publishes (4.2 m) is then a flood rise, not a spike for quality control (which
    // would keep the alert at gialla).
    let now = chrono::Utc::now();
    let history: Vec<(String, String)> = [(31, 0.8), (26, 0.9), (21, 1.0), (16, 1.2), (11, 1.5), (6, 1.8)]
        .iter()
        .map(|(minutes_ago, v)| {
            let t = (now - chrono::Duration::minutes(*minutes_ago)).to_rfc3339();
            (format!("vedetta/v1/sensors/{STATION}/level"), format!(r#"{{"t":"{t}","v":{v}}}"#))
        })
        .collect();
    publish_all(mqtt_port, &history);
    wait_for("the river's history", Duration::from_secs(30), || {
        (query_i64(&db.url, "select count(*) from sensors.reading") == history.len() as i64).then_some(())
    });
    let fixture = json!({
        "admin_token": ADMIN,
        "user": USER,
        "password": PASSWORD,
        "mqtt_port": mqtt_port,
        "station": {"code": STATION, "lon": STATION_AT.0, "lat": STATION_AT.1, "red_reading": 4.2,
                    "topic": format!("vedetta/v1/sensors/{STATION}/level")},
        "report": {"lon": 8.9340, "lat": 44.4073, "comune": "010025", "category": "buca_stradale"},
        "address": {"query": "Atrio Addolorata 12", "label": "Atrio Addolorata 12, Lamezia Terme",
                    "lon": 16.2854363, "lat": 38.9700306},
        "zoning": {"lon": 8.93, "lat": 44.41, "code": "AC", "nta": "art. 12", "other": "BR"},
    });
    let artifacts = testkit::target_dir().join("browser-artifacts");
    // For writing the scripts: BROWSER_TEST_PAUSE_S=600 prints the environment to run `node --test` by hand
    // against this serve, and waits that long first.
    if let Some(pause) = std::env::var("BROWSER_TEST_PAUSE_S").ok().and_then(|s| s.parse().ok()) {
        println!(
            "cd {} && BASE_URL='{}' FIXTURE='{fixture}' ARTIFACTS_DIR='{}' node --test --test-concurrency=1 *.test.mjs",
            scripts.display(),
            vedetta.url(""),
            artifacts.display()
        );
        std::thread::sleep(Duration::from_secs(pause));
    }
    std::fs::create_dir_all(&artifacts).unwrap();
    let log = root.join("node.log");
    let started = Instant::now();
    let log_file = std::fs::File::create(&log).unwrap();
    let mut node = Command::new("node")
        .arg("--test")
        .arg("--test-concurrency=1")
        .arg("--test-reporter=spec")
        .args(test_files(&scripts))
        .current_dir(&scripts)
        .env("BASE_URL", vedetta.url(""))
        .env("FIXTURE", fixture.to_string())
        .env("ARTIFACTS_DIR", &artifacts)
        .env("CHROMIUM_PATH", &chromium)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("the log file"))
        .stderr(log_file)
        // A group of its own: on a timeout the test files' processes and their Chromium go with it.
        .process_group(0)
        .spawn()
        .expect("start node --test");
    let status = loop {
        if let Some(status) = node.try_wait().expect("wait for node") {
            break Some(status);
        }
        if started.elapsed() > NODE_TIMEOUT {
            let _ = nix::sys::signal::killpg(Pid::from_raw(node.id() as i32), Signal::SIGKILL);
            let _ = node.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    println!("{output}\nbrowser tests: {:.1} s", started.elapsed().as_secs_f64());
    match status {
        None => panic!("the browser tests took longer than {NODE_TIMEOUT:?}:\n{output}"),
        Some(status) => assert!(
            status.success(),
            "the browser tests failed ({status}):\n{output}\n--- vedetta stderr (tail) ---\n{}",
            tail(&vedetta.stderr(), 60)
        ),
    }
    assert_eq!(get(&vedetta.url("/healthz"), None).0, 200, "vedetta is still healthy");
    assert!(vedetta.terminate().success());
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
