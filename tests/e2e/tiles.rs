//! Vector tiles through the real binary: decoded by an independent decoder (the `mapbox-vector-tile` Python
//! package), fresh on the next request after a reading stored by another Vedetta process (a `vedetta ingest`
//! worker), after an import run by a third, and never carrying reporter data.

use std::io::{BufRead, BufReader, Read};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::{Mosquitto, TestDb, wait_for};

use crate::support::{Launch, Vedetta, get, import, publish_all, python_client, send_json, station_feature};

const TOKEN: &str = "vdt_tiles_test_token";

/// A GET with `headers`: status, the headers asked for, the body's bytes.
fn fetch(url: &str, headers: &[(&str, &str)]) -> (u16, Vec<Option<String>>, Vec<u8>) {
    let mut request = ureq::get(url).timeout(Duration::from_secs(20));
    for (k, v) in headers {
        request = request.set(k, v);
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    let status = response.status();
    let named = ["content-type", "content-encoding", "etag", "cache-control"]
        .iter()
        .map(|h| response.header(h).map(str::to_string))
        .collect();
    let mut body = Vec::new();
    response.into_reader().read_to_end(&mut body).unwrap();
    (status, named, body)
}

/// A tile decoded by tests/clients/decode_tile.py.
fn decode(bytes: &[u8]) -> Value {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    python_client("decode_tile.py", &[file.path().to_str().unwrap()])[0].clone()
}

/// The zoom-`z` tile of a WGS84 position and the position in it (tile units, y down).
fn tile_of(lon: f64, lat: f64, z: u8) -> ((u32, u32), (f64, f64)) {
    let n = f64::from(1u32 << z);
    let fx = (lon + 180.0) / 360.0 * n;
    let phi = lat.to_radians();
    let fy = (1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    ((fx as u32, fy as u32), ((fx - fx.floor()) * 4096.0, (fy - fy.floor()) * 4096.0))
}

fn features<'a>(tile: &'a Value, layer: &str) -> Vec<&'a Value> {
    tile[layer]["features"].as_array().map(|f| f.iter().collect()).unwrap_or_default()
}

/// The next `readings` event of an SSE stream.
fn next_event(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> Value {
    for line in lines {
        let line = line.unwrap_or_else(|e| panic!("no SSE line in time: {e}"));
        if let Some(data) = line.strip_prefix("data:") {
            return serde_json::from_str(data.trim()).expect("JSON data");
        }
    }
    panic!("the stream ended");
}

fn reading(code: &str, value: f64) -> (String, String) {
    let t = chrono::Utc::now().to_rfc3339();
    (format!("vedetta/v1/sensors/{code}/level"), json!({"t": t, "v": value}).to_string())
}

#[test]
fn tiles_follow_readings_of_another_process_and_imports_and_carry_no_reporter_data() {
    let mosquitto = Mosquitto::for_vedetta();
    let db = TestDb::new_blocking();
    let roots: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    // Readings are stored by a `vedetta ingest` worker; the serve ingests nothing and serves the tiles.
    let launch = |root: &std::path::Path, id: &str| {
        Launch::serve(root)
            .env("VEDETTA_DATABASE_URL", &db.url)
            .env("VEDETTA_ADMIN_TOKEN", TOKEN)
            .on_broker(mosquitto.url(), id)
    };
    let _worker = launch(roots[1].path(), "tiles-worker").subcommand("ingest").start();
    let serve: Vedetta =
        launch(roots[0].path(), "tiles-serve").env("VEDETTA_MQTT_TOPICS", "vedetta-test/none").start();

    // Comuni: empty before the import, Genova after it (the import is a third process: its event drops the layer).
    let genova = (8.9339, 44.4073);
    let ((x10, y10), _) = tile_of(genova.0, genova.1, 10);
    let comuni = serve.url(&format!("/tiles/comuni/10/{x10}/{y10}.mvt"));
    let (status, h, body) = fetch(&comuni, &[]);
    assert_eq!((status, body.len()), (200, 0), "{h:?}");
    import(
        roots[0].path(),
        &db,
        &["comuni", testkit::test_data("comuni/limits_P_10_municipalities.geojson").to_str().unwrap()],
    );
    let tile = wait_for("the comuni tile after the import", Duration::from_secs(10), || {
        let (_, _, body) = fetch(&comuni, &[]);
        (!body.is_empty()).then(|| decode(&body))
    });
    let names: Vec<&str> =
        features(&tile, "comuni").iter().filter_map(|f| f["properties"]["name"].as_str()).collect();
    assert!(names.contains(&"Genova"), "{names:?}");

    // A hydrometer; its first reading through the worker.
    let thresholds = json!({"thresholds": {"yellow": 1.0, "orange": 2.0, "red": 3.0}});
    let (status, body) = send_json(
        "POST",
        &serve.url("/api/stations"),
        TOKEN,
        &station_feature("TL-IDRO", "hydrometer", thresholds),
    );
    assert_eq!(status, 201, "{body}");
    publish_all(mosquitto.port(), &[reading("TL-IDRO", 0.5)]);
    wait_for("the first reading", Duration::from_secs(20), || {
        let (_, latest) = get(&serve.url("/api/stations/TL-IDRO/latest"), None);
        (latest["latest"]["v"] == 0.5).then_some(())
    });
    // station_feature puts stations at 8.95 E, 44.42 N.
    let ((x, y), (px, py)) = tile_of(8.95, 44.42, 14);
    let url = serve.url(&format!("/tiles/stations/14/{x}/{y}.mvt"));
    let (status, h, body) = fetch(&url, &[]);
    assert_eq!(status, 200);
    assert_eq!(h[0].as_deref(), Some("application/vnd.mapbox-vector-tile"));
    assert_eq!(h[3].as_deref(), Some("public, no-cache"));
    let etag = h[2].clone().expect("an ETag");
    let tile = decode(&body);
    let station = features(&tile, "stations")[0];
    assert_eq!(station["properties"]["code"], "TL-IDRO");
    assert_eq!(
        (station["properties"]["value"].as_f64(), station["properties"]["level"].as_str()),
        (Some(0.5), Some("verde"))
    );
    let at = &station["geometry"]["coordinates"];
    assert!(
        (at[0].as_f64().unwrap() - px).abs() <= 1.0 && (at[1].as_f64().unwrap() - py).abs() <= 1.0,
        "{at} vs {px},{py}"
    );
    let (status, _, body) = fetch(&url, &[("If-None-Match", &etag)]);
    assert_eq!((status, body.len()), (304, 0));

    // The river crosses red. As soon as the serve has the event (its SSE stream shows it), the next request for the
    // tile has the new reading: the ETag the client holds no longer matches.
    let stream = ureq::get(&serve.url("/api/readings/stream?station=TL-IDRO"))
        .timeout(Duration::from_secs(30))
        .call()
        .unwrap();
    let mut lines = BufReader::new(stream.into_reader()).lines();
    publish_all(mosquitto.port(), &[reading("TL-IDRO", 3.4)]);
    assert_eq!(next_event(&mut lines)["latest_value"], 3.4);
    let started = Instant::now();
    let (status, h, body) = fetch(&url, &[("If-None-Match", &etag), ("Accept-Encoding", "gzip")]);
    eprintln!("the fresh tile came {} ms after the event", started.elapsed().as_millis());
    assert_eq!(status, 200, "the stale copy was confirmed");
    assert_eq!(h[1].as_deref(), Some("gzip"));
    let tile = decode(&body);
    let p = &features(&tile, "stations")[0]["properties"];
    assert_eq!((p["value"].as_f64(), p["level"].as_str()), (Some(3.4), Some("rossa")), "{tile}");
    let (_, h, _) = fetch(&url, &[("Accept-Encoding", "gzip, br")]);
    assert_eq!(h[1].as_deref(), Some("br"));

    // A citizen's report: in the reports tile with its public fields only.
    let report = json!({"lon": genova.0, "lat": genova.1, "category": "allagamento",
        "description": "Via allagata, tombino ostruito", "name": "Giulia Riservatissima",
        "email": "giulia.riservatissima@example.org", "phone": "+39 347 1112223"});
    let (status, body) = send_json("POST", &serve.url("/api/reports"), TOKEN, &report);
    assert_eq!(status, 201, "{body}");
    let ((x, y), _) = tile_of(genova.0, genova.1, 16);
    let (status, _, body) = fetch(&serve.url(&format!("/tiles/reports,stations/16/{x}/{y}.mvt")), &[]);
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    for private in ["Riservatissima", "example.org", "1112223", "tombino"] {
        assert!(!text.contains(private), "`{private}` is in the tile");
    }
    let tile = decode(&body);
    let found = features(&tile, "reports");
    assert_eq!(found.len(), 1, "{tile}");
    let keys: Vec<&String> = found[0]["properties"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert_eq!(found[0]["properties"]["category"], "allagamento");
    assert_eq!(found[0]["properties"]["age_days"], 0);

    // Still healthy after all of it.
    let (status, _) = get(&serve.url("/healthz"), None);
    assert_eq!(status, 200);
}
