//! The territory through the real binary: comuni and zoning imports, routing of stations, zoning queries,
//! OGC API – Features read by OWSLib.

use serde_json::{Value, json};
use testkit::TestDb;

use crate::support::{Launch, Vedetta, get, python_client, send_json, station_feature};

const TOKEN: &str = "vdt_territory_test_token";

fn import(root: &std::path::Path, db: &TestDb, args: &[&str]) -> String {
    let mut launch = Launch::serve(root).env("VEDETTA_DATABASE_URL", &db.url);
    launch.command = "import".into();
    for a in args {
        launch = launch.arg_after(a);
    }
    let out = launch.run();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "import {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn serve(root: &std::path::Path, db: &TestDb) -> Vedetta {
    let mut vedetta =
        Launch::serve(root).env("VEDETTA_DATABASE_URL", &db.url).env("VEDETTA_ADMIN_TOKEN", TOKEN).spawn();
    vedetta.wait_healthy();
    vedetta
}

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

#[test]
fn comuni_route_stations_and_answer_where_a_point_is() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let genova = testkit::test_data("comuni/limits_P_10_municipalities.geojson");
    let palermo = testkit::test_data("comuni/limits_P_82_municipalities.geojson");
    let out = import(root.path(), &db, &["comuni", genova.to_str().unwrap(), palermo.to_str().unwrap()]);
    assert!(out.contains("67 comuni created") && out.contains("82 comuni created"), "{out}");

    let vedetta = serve(root.path(), &db);
    let (status, body) = get(&vedetta.url("/api/comuni/at?lat=44.4073&lon=8.9339"), None);
    assert_eq!(
        (status, body["istat"].as_str(), body["name"].as_str()),
        (200, Some("010025"), Some("Genova"))
    );
    let (status, body) = get(&vedetta.url("/api/comuni/at?lat=44.30&lon=8.90"), None);
    assert_eq!(status, 404, "a point at sea is in no comune and says so: {body}");
    assert!(body["detail"].as_str().unwrap().contains("in no comune"));
    assert_eq!(get(&vedetta.url("/api/comuni/at?lat=95&lon=8"), None).0, 400);

    // A station placed in Genova knows its comune.
    let (status, _) = send_json(
        "POST",
        &vedetta.url("/api/stations"),
        TOKEN,
        &station_feature("GE-FERR-01", "rain_gauge", json!({})),
    );
    assert_eq!(status, 201);
    let (_, station) = get(&vedetta.url("/api/stations/GE-FERR-01"), None);
    assert_eq!(station["properties"]["comune"], "010025");
}

#[test]
fn zoning_versions_answer_by_date_and_parcels_by_overlap() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let base = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": square(8.92, 44.40, 8.94, 44.42), "properties": {"zona": "AC", "zto": "A", "nta": "art. 12"}},
        {"type": "Feature", "geometry": square(8.94, 44.40, 8.96, 44.42), "properties": {"zona": "BR", "zto": "B", "nta": "art. 14"}}
    ]});
    let variant = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": square(8.95, 44.405, 8.955, 44.41), "properties": {"zona": "FP", "zto": "F"}}
    ]});
    let (base_file, variant_file) = (root.path().join("puc.geojson"), root.path().join("variante.geojson"));
    std::fs::write(&base_file, base.to_string()).unwrap();
    std::fs::write(&variant_file, variant.to_string()).unwrap();
    let out = import(
        root.path(),
        &db,
        &[
            "zoning",
            base_file.to_str().unwrap(),
            "--plan",
            "PUC Genova",
            "--version",
            "2000",
            "--approved",
            "2000-01-01",
        ],
    );
    assert!(out.contains("2 zones imported"), "{out}");
    import(
        root.path(),
        &db,
        &[
            "zoning",
            variant_file.to_str().unwrap(),
            "--plan",
            "PUC Genova",
            "--version",
            "Variante 1",
            "--approved",
            "2010-06-01",
            "--variant-of",
            "2000",
        ],
    );

    let vedetta = serve(root.path(), &db);
    let at = |date: &str| {
        let (status, body) =
            get(&vedetta.url(&format!("/api/zoning/at?lat=44.407&lon=8.952&date={date}")), None);
        assert_eq!(status, 200, "{body}");
        body["zones"]
            .as_array()
            .unwrap()
            .iter()
            .map(|z| z["code"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(at("2005-01-01"), ["BR"]);
    assert_eq!(at("2012-01-01"), ["FP"]);

    let parcel =
        json!({"type": "Feature", "properties": {}, "geometry": square(8.935, 44.405, 8.955, 44.41)});
    let (status, body) =
        send_json("POST", &vedetta.url("/api/zoning/intersect?date=2012-01-01"), TOKEN, &parcel);
    assert_eq!(status, 200, "{body}");
    let zones = body["zones"].as_array().unwrap();
    assert_eq!(zones.len(), 3);
    let total: f64 = zones.iter().map(|z| z["overlap_m2"].as_f64().unwrap()).sum();
    assert!((total - body["area_m2"].as_f64().unwrap()).abs() < 1.0, "{body}");
    let (status, body) = send_json(
        "POST",
        &vedetta.url("/api/zoning/intersect"),
        TOKEN,
        &json!({"type": "Point", "coordinates": [8.9, 44.4]}),
    );
    assert_eq!(status, 422, "{body}");
}

#[test]
fn owslib_lists_collections_and_pages_items() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let genova = testkit::test_data("comuni/limits_P_10_municipalities.geojson");
    import(root.path(), &db, &["comuni", genova.to_str().unwrap()]);
    let vedetta = serve(root.path(), &db);
    for (code, kind) in
        [("OGC-IDRO-1", "hydrometer"), ("OGC-PLUV-1", "rain_gauge"), ("OGC-IDRO-2", "hydrometer")]
    {
        send_json("POST", &vedetta.url("/api/stations"), TOKEN, &station_feature(code, kind, json!({})));
    }
    let ogc = python_client("ogc_owslib.py", &[&vedetta.url("/ogc/")]);
    let collections: Vec<&str> =
        ogc["collections"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(collections.contains(&"comuni") && collections.contains(&"stations"), "{collections:?}");
    assert_eq!(ogc["pages"], 3, "67 comuni in pages of 25");
    assert_eq!(ogc["comuni"].as_array().unwrap().len(), 67);
    assert_eq!(ogc["matched"], 67);
    assert_eq!(ogc["centre"], json!(["Genova"]));
    assert_eq!((ogc["genova"].as_str(), ogc["genova_type"].as_str()), (Some("Genova"), Some("MultiPolygon")));
    assert_eq!(ogc["hydrometers"], json!(["OGC-IDRO-1", "OGC-IDRO-2"]));
    let utm = ogc["utm_point"].as_array().unwrap();
    let (e, n) = (utm[0].as_f64().unwrap(), utm[1].as_f64().unwrap());
    assert!(
        (490_000.0..510_000.0).contains(&e) && (4_910_000.0..4_925_000.0).contains(&n),
        "EPSG:7791 E,N: {utm:?}"
    );
    assert!(
        ogc["conformance"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().ends_with("/conf/geojson"))
    );

    // A browser gets HTML.
    let html = ureq::get(&vedetta.url("/ogc/collections"))
        .set("Accept", "text/html")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(html.contains("<html lang=\"it\">") && html.contains("Comuni"), "{html}");
}

#[test]
fn the_venezia_dbt_imports_through_the_cli_and_is_served_as_of_a_date() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let can = testkit::test_data("dbt/venezia/TP_CAN.shp");
    let idro = testkit::test_data("dbt/venezia/TP_IDRO.shp");
    let out = import(
        root.path(),
        &db,
        &["dbt", can.to_str().unwrap(), idro.to_str().unwrap(), "--release", "2024"],
    );
    assert!(out.contains("TP_CAN") && out.contains("455 features") && out.contains("131 features"), "{out}");

    let vedetta = serve(root.path(), &db);
    let (status, body) = get(&vedetta.url("/ogc/collections/dbt-TP_CAN/items?limit=1000"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["numberMatched"], 455);
    let names: Vec<&str> = body["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["properties"]["TC_DENOM"].as_str())
        .collect();
    assert!(
        names.iter().any(|n| n.contains('°') || n.chars().any(|c| "àèéìòù".contains(c))),
        "accents survive: {names:?}"
    );
    // Before the first release, nothing was valid.
    let (_, before) =
        get(&vedetta.url("/ogc/collections/dbt-TP_CAN/items?datetime=2000-01-01T00:00:00Z"), None);
    assert_eq!(before["numberMatched"], 0, "{before}");
    let (status, _) = get(&vedetta.url("/ogc/collections/dbt-TP_CAN/items?datetime=ieri"), None);
    assert_eq!(status, 400);
}

#[test]
fn anncsu_imports_through_the_cli_and_addresses_are_found_over_http() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let indirizzi = testkit::test_data("anncsu/anncsu_lamezia_indirizzario_20260602.csv");
    let strade = testkit::test_data("anncsu/anncsu_lamezia_stradario_20260602.csv");
    let out = import(root.path(), &db, &["anncsu", indirizzi.to_str().unwrap(), strade.to_str().unwrap()]);
    assert!(out.contains("house numbers:"), "{out}");

    let vedetta = serve(root.path(), &db);
    let (status, body) = get(&vedetta.url("/api/geocode?q=V.%20XX%20Settembre%20n.%2012&limit=3"), None);
    assert_eq!(status, 200, "{body}");
    let first = &body["candidates"][0];
    assert_eq!((first["kind"].as_str(), first["civico"].as_str()), (Some("civico"), Some("12")), "{body}");
    assert_eq!((first["lon"].as_f64(), first["lat"].as_f64()), (Some(16.319597), Some(38.97113)));
    let (status, body) = get(&vedetta.url("/api/geocode?q=via%20xx%20settembre%20999"), None);
    assert_eq!(status, 200);
    assert_eq!(body["candidates"][0]["kind"], "street", "{body}");
    assert!(body["candidates"][0]["note"].is_string(), "the fallback says so: {body}");
    assert_eq!(get(&vedetta.url("/api/geocode?q="), None).0, 400);

    let (status, hit) = get(&vedetta.url("/api/reverse?lat=38.97113&lon=16.319597"), None);
    assert_eq!(status, 200, "{hit}");
    assert_eq!(hit["civico"]["civico"], "12");
    assert!(hit["distance_m"].as_f64().unwrap() < 1.0, "{hit}");
    let (status, _) = get(&vedetta.url("/api/reverse?lat=44.30&lon=8.90&radius=50"), None);
    assert_eq!(status, 404, "nothing at sea");
}
