//! The gate: schemathesis fuzzes every operation of `/api/openapi.json` against a live `vedetta serve` with data
//! loaded (comuni, ANNCSU, the Venezia DBT, zoning, stations with readings). Zero failures of the checks
//! not-a-server-error, status-code, content-type and response-schema conformance. Every endpoint added later joins
//! the document, and therefore this gate.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use testkit::{TestDb, wait_for};

use crate::support::{Launch, Vedetta, data, get, import, mosquitto_pub, send_json, station_feature};

const TOKEN: &str = "vdt_gate_admin_token";

/// A serve with every kind of data the API answers about.
fn loaded_vedetta(root: &Path, db: &TestDb) -> Vedetta {
    import(root, db, &["comuni", &data("comuni/limits_P_10_municipalities.geojson")]);
    import(
        root,
        db,
        &[
            "anncsu",
            &data("anncsu/anncsu_lamezia_indirizzario_20260602.csv"),
            &data("anncsu/anncsu_lamezia_stradario_20260602.csv"),
        ],
    );
    import(root, db, &["dbt", &data("dbt/venezia/TP_IDRO.shp")]);
    let zoning = root.join("zoning.geojson");
    let square = |x0: f64, y0: f64, d: f64| json!({"type": "Polygon", "coordinates": [[[x0, y0], [x0 + d, y0], [x0 + d, y0 + d], [x0, y0 + d], [x0, y0]]]});
    let plan = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": square(8.90, 44.40, 0.02), "properties": {"zona": "B1", "zto": "B"}},
        {"type": "Feature", "geometry": square(8.92, 44.40, 0.02), "properties": {"zona": "E1", "zto": "E"}}
    ]});
    std::fs::write(&zoning, plan.to_string()).unwrap();
    import(
        root,
        db,
        &[
            "zoning",
            zoning.to_str().unwrap(),
            "--plan",
            "PUC Genova",
            "--version",
            "2015",
            "--approved",
            "2015-12-01",
        ],
    );

    let launch = Launch::serve(root).env("VEDETTA_DATABASE_URL", &db.url).env("VEDETTA_ADMIN_TOKEN", TOKEN);
    let port: u16 = launch.env["VEDETTA_MQTT_LISTEN"].rsplit(':').next().unwrap().parse().unwrap();
    let mut vedetta = launch.spawn();
    vedetta.wait_healthy();
    for (code, kind) in [("GE-GATE-R1", "rain_gauge"), ("GE-GATE-L1", "hydrometer")] {
        let (status, body) =
            send_json("POST", &vedetta.url("/api/stations"), TOKEN, &station_feature(code, kind, json!({})));
        assert_eq!(status, 201, "{body}");
    }
    let now = chrono::Utc::now();
    for minutes in (5..=60).step_by(5) {
        let t = (now - chrono::Duration::minutes(minutes)).to_rfc3339();
        mosquitto_pub(port, "vedetta/v1/sensors/GE-GATE-R1/rain", &json!({"t": t, "v": 0.4}).to_string());
        mosquitto_pub(port, "vedetta/v1/sensors/GE-GATE-L1/level", &json!({"t": t, "v": 1.2}).to_string());
    }
    wait_for("the gate's readings", Duration::from_secs(60), || {
        let (_, latest) = get(&vedetta.url("/api/stations/GE-GATE-L1/latest"), None);
        latest["latest"].is_object().then_some(())
    });
    // Citizen reports in Genova, so that the reports API answers about real ones.
    for (lon, lat, category) in [(8.9340, 44.4073, "buca_stradale"), (8.9350, 44.4080, "allagamento")] {
        let report =
            json!({"lon": lon, "lat": lat, "category": category, "description": "Segnalazione del gate"});
        let (status, body) = send_json("POST", &vedetta.url("/api/reports"), TOKEN, &report);
        assert_eq!(status, 201, "{body}");
    }
    vedetta
}

#[test]
fn schemathesis_finds_no_failure_in_the_openapi_document() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let mut vedetta = loaded_vedetta(root.path(), &db);

    let (status, doc) = get(&vedetta.url("/api/openapi.json"), None);
    assert_eq!(status, 200);
    let operations: usize =
        doc["paths"].as_object().unwrap().values().map(|p| p.as_object().map_or(0, |m| m.len())).sum();
    assert!(operations >= 5, "{doc}");

    let report = root.path().join("schemathesis");
    let report_arg = report.to_str().expect("a UTF-8 temporary path");
    let out = crate::support::schemathesis(
        &vedetta,
        TOKEN,
        100,
        "20261129",
        // The reports' live stream never ends by design (tested with deadlines in reports.rs).
        &["--report", "junit", "--report-dir", report_arg, "--exclude-path", "/api/reports/stream"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{stderr}\n--- vedetta log:\n{}",
        tail(&vedetta.stderr())
    );

    // The fuzzing did no harm: Vedetta and its database are still well.
    let health = vedetta.wait_healthy();
    assert_eq!(health["status"], "ok", "{health}");
    // (The fuzzer holds an admin token: it may have replaced or deleted stations, as an admin may.)
    let (status, body) = get(&vedetta.url("/api/stations"), None);
    assert_eq!(status, 200, "{body}");
    assert!(body["features"].is_array(), "{body}");
    assert!(vedetta.terminate().success());
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}
