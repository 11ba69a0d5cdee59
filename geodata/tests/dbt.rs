//! DB Topografico import on a real PostGIS database, against the real Venezia extract and GDAL's reading of it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use geodata::dbt::{self, ClassReport, DbtOptions};
use geodata::features::{self, ItemsQuery, Layer};
use serde_json::{Value, json};
use testkit::TestDb;

fn venezia(class: &str) -> PathBuf {
    testkit::test_data(&format!("dbt/venezia/{class}.shp"))
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn at(valid_from: &str) -> DbtOptions {
    DbtOptions { valid_from: Some(t(valid_from)), ..DbtOptions::default() }
}

fn no_progress(_: u64, _: u64) {}

/// `ogr2ogr -f GeoJSON [-t_srs …] /vsistdout/ file` parsed.
fn ogr2ogr(file: &Path, t_srs: Option<&str>) -> Value {
    let mut cmd = Command::new("ogr2ogr");
    cmd.args(["-f", "GeoJSON"]);
    if let Some(srs) = t_srs {
        cmd.args(["-t_srs", srs]);
    }
    let out = cmd.arg("/vsistdout/").arg(file).output().expect("ogr2ogr runs (apt-get install gdal-bin)");
    assert!(out.status.success(), "ogr2ogr failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("ogr2ogr writes GeoJSON")
}

/// The OGC API collection of a DBT class: what `/ogc/collections/dbt-<CLASS>` serves.
async fn layer(pool: &sqlx::PgPool, class: &str) -> Layer {
    features::layer(pool, &format!("dbt-{class}"))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no collection for {class}"))
}

/// A page of `class` as the OGC API serves it.
async fn page(pool: &sqlx::PgPool, class: &str, q: ItemsQuery) -> (Vec<Value>, i64) {
    let page = features::items(pool, &layer(pool, class).await, &q).await.unwrap();
    (page.features.iter().map(features::Feature::to_value).collect(), page.matched)
}

/// Every feature of `class` valid at `when`, by id, as the OGC API serves them.
async fn all(pool: &sqlx::PgPool, class: &str, when: Option<DateTime<Utc>>) -> HashMap<String, Value> {
    let (features, total) =
        page(pool, class, ItemsQuery { at: when, limit: features::MAX_LIMIT, ..ItemsQuery::default() }).await;
    assert_eq!(features.len() as i64, total);
    features.into_iter().map(|f| (f["id"].as_str().unwrap().to_string(), f)).collect()
}

/// One object of `class` by natural key, as of `when`, as the OGC API serves it.
async fn one(pool: &sqlx::PgPool, class: &str, key: &str, when: Option<DateTime<Utc>>) -> Option<Value> {
    features::item(pool, &layer(pool, class).await, key, None, when).await.unwrap().map(|f| f.to_value())
}

fn class<'a>(report: &'a dbt::DbtReport, name: &str) -> &'a ClassReport {
    report.classes.iter().find(|c| c.class == name).unwrap_or_else(|| panic!("no class {name} in {report:?}"))
}

/// The natural keys Vedetta gives features in file order: `ID`, then `ID~2`, `ID~3` for repeated IDs.
fn keys(features: &[Value]) -> Vec<String> {
    let mut seen: HashMap<String, u32> = HashMap::new();
    features
        .iter()
        .map(|f| {
            let id = f["properties"]["ID"].to_string();
            let n = seen.entry(id.clone()).or_insert(0);
            *n += 1;
            if *n == 1 { id } else { format!("{id}~{n}") }
        })
        .collect()
}

/// Flattened positions of a GeoJSON geometry.
fn positions(g: &Value) -> Vec<(f64, f64)> {
    fn walk(v: &Value, out: &mut Vec<(f64, f64)>) {
        match v.as_array() {
            Some(a) if a.first().is_some_and(Value::is_number) => {
                out.push((a[0].as_f64().unwrap(), a[1].as_f64().unwrap()))
            }
            Some(a) => a.iter().for_each(|x| walk(x, out)),
            None => {}
        }
    }
    let mut out = Vec::new();
    walk(&g["coordinates"], &mut out);
    out
}

/// Distance in metres between two WGS84 positions (equirectangular, fine at these distances).
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let lat = a.1.to_radians();
    let dx = (a.0 - b.0) * 111_320.0 * lat.cos();
    let dy = (a.1 - b.1) * 110_540.0;
    (dx * dx + dy * dy).sqrt()
}

#[tokio::test]
async fn venezia_imports_with_the_names_and_positions_gdal_reads() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let calls = std::sync::Mutex::new(Vec::new());
    let progress = |done: u64, total: u64| calls.lock().unwrap().push((done, total));
    let report =
        dbt::import(&pool, &[venezia("TP_CAN"), venezia("TP_IDRO")], &at("2024-01-01T00:00:00Z"), &progress)
            .await
            .unwrap();
    for (name, count) in [("TP_CAN", 455), ("TP_IDRO", 131)] {
        let c = class(&report, name);
        assert_eq!(
            (c.features, c.added, c.changed, c.removed, c.unchanged),
            (count, count, 0, 0, 0),
            "{c:?}"
        );
        assert_eq!(c.crs, "EPSG:3004");
        assert!(c.rejected.is_empty(), "{:?}", c.rejected);
        assert_eq!(c.key, "attribute ID");
        assert!(c.notes[0].contains("UTF-8"), "{:?}", c.notes);
    }
    // TP_CAN repeats 14 IDs for different objects: they get ID~n.
    assert!(class(&report, "TP_CAN").notes.iter().any(|n| n.starts_with("14 features repeat an ID")));
    let calls = calls.into_inner().unwrap();
    assert_eq!(calls.last(), Some(&(586, 586)), "progress ends at the total");

    for (name, denom) in [("TP_CAN", "TC_DENOM"), ("TP_IDRO", "TI_DENOM")] {
        let ours = all(&pool, name, None).await;
        let gdal = ogr2ogr(&venezia(name), Some("EPSG:4326"));
        let gdal = gdal["features"].as_array().unwrap();
        assert_eq!(ours.len(), gdal.len());
        let mut worst: f64 = 0.0;
        for (g, id) in gdal.iter().zip(keys(gdal)) {
            let f = &ours[&id];
            // Every attribute, typed and spelled as GDAL reads it (accents and apostrophes included).
            assert_eq!(f["properties"], g["properties"], "attributes of {name} {id}");
            let (a, b) = (positions(&f["geometry"]), positions(&g["geometry"]));
            assert_eq!(a.len(), b.len(), "vertices of {name} {id}");
            for (p, q) in a.iter().zip(&b) {
                worst = worst.max(metres(*p, *q));
            }
        }
        assert!(worst < 1.0, "{name}: a vertex is {worst} m away from ogr2ogr's");
        eprintln!("{name}: farthest vertex {worst:.6} m from ogr2ogr's");
        let accented: Vec<&Value> =
            ours.values().filter(|f| f["properties"][denom] == "VITTORIO EMANUELE III°").collect();
        assert_eq!(accented.len(), 1, "{name}: the degree sign comes out right");
        assert!(ours.values().any(|f| f["properties"][denom].as_str().is_some_and(|s| s.contains('\''))));
    }

    let classes = dbt::classes(&pool).await.unwrap();
    assert_eq!(
        classes.iter().map(|c| (c.class.as_str(), c.features)).collect::<Vec<_>>(),
        [("TP_CAN", 455), ("TP_IDRO", 131)]
    );
    let bbox = classes[0].bbox.unwrap();
    assert!(bbox[0] > 12.1 && bbox[2] < 12.6 && bbox[1] > 45.2 && bbox[3] < 45.6, "Venezia: {bbox:?}");
    assert_eq!(classes[0].first_valid_from, t("2024-01-01T00:00:00Z"));

    // The same release again: nothing changes.
    let again =
        dbt::import(&pool, &[venezia("TP_CAN")], &at("2024-02-01T00:00:00Z"), &no_progress).await.unwrap();
    let c = class(&again, "TP_CAN");
    assert_eq!((c.added, c.changed, c.removed, c.unchanged), (0, 0, 0, 455), "{c:?}");
    let versions: i64 = sqlx::query_scalar("select count(*) from topo.object where class = 'TP_CAN'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(versions, 455);

    // A release cannot go back in time.
    let err = dbt::import(&pool, &[venezia("TP_CAN")], &at("2023-01-01T00:00:00Z"), &no_progress)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("in order"), "{err}");
}

/// Writes `doc` as `dir/name`.
fn write(dir: &Path, name: &str, doc: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(doc).unwrap()).unwrap();
    path
}

fn shift(g: &mut Value, dx: f64) {
    match g {
        Value::Array(a) if a.first().is_some_and(Value::is_number) => {
            a[0] = json!(a[0].as_f64().unwrap() + dx);
        }
        Value::Array(a) => a.iter_mut().for_each(|x| shift(x, dx)),
        _ => {}
    }
}

#[tokio::test]
async fn a_second_release_yields_its_differences_and_keeps_history() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let first = DbtOptions { release: Some("2024".into()), ..at("2024-01-01T00:00:00Z") };
    dbt::import(&pool, &[venezia("TP_CAN")], &first, &no_progress).await.unwrap();

    // The second release, built from the first as GDAL reads it (EPSG:3004, the `crs` member says so).
    let mut doc = ogr2ogr(&venezia("TP_CAN"), None);
    let features = doc["features"].as_array_mut().unwrap();
    let keys = keys(features);
    let unique: Vec<usize> = (0..features.len())
        .filter(|&i| keys.iter().filter(|k| k.split('~').next() == keys[i].split('~').next()).count() == 1)
        .collect();
    let (moved, renamed, deleted) = (&unique[0..3], &unique[3..5], &unique[10..14]);
    for &i in moved {
        shift(&mut features[i]["geometry"]["coordinates"], 50.0);
    }
    for &i in renamed {
        features[i]["properties"]["TC_DENOM"] = json!(format!("NUOVO NOME {i}"));
    }
    let mut added = Vec::new();
    for (n, id) in [900_001, 900_002].into_iter().enumerate() {
        let mut f = features[unique[20 + n]].clone();
        f["properties"]["ID"] = json!(id);
        shift(&mut f["geometry"]["coordinates"], 500.0);
        added.push(f);
    }
    let deleted_keys: Vec<String> = deleted.iter().map(|&i| keys[i].clone()).collect();
    let mut i = 0;
    features.retain(|_| {
        i += 1;
        !deleted.contains(&(i - 1))
    });
    features.extend(added);
    let dir = tempfile::tempdir().unwrap();
    let second_file = write(dir.path(), "TP_CAN.geojson", &doc);

    let second = DbtOptions { release: Some("2025".into()), ..at("2025-01-01T00:00:00Z") };
    let report = dbt::import(&pool, &[second_file], &second, &no_progress).await.unwrap();
    let c = class(&report, "TP_CAN");
    assert_eq!(c.crs, "EPSG:3004", "from the GeoJSON crs member");
    assert_eq!((c.features, c.added, c.changed, c.removed, c.unchanged), (453, 2, 5, 4, 446), "{c:?}");

    // The DBT as of 2024-06 and as of now.
    let before = all(&pool, "TP_CAN", Some(t("2024-06-01T00:00:00Z"))).await;
    let now = all(&pool, "TP_CAN", None).await;
    assert_eq!((before.len(), now.len()), (455, 453));
    for &i in renamed {
        assert_eq!(now[&keys[i]]["properties"]["TC_DENOM"], json!(format!("NUOVO NOME {i}")));
        assert_ne!(before[&keys[i]]["properties"]["TC_DENOM"], now[&keys[i]]["properties"]["TC_DENOM"]);
        assert_eq!(before[&keys[i]]["release"], "2024");
        assert_eq!(now[&keys[i]]["release"], "2025");
    }
    for key in &deleted_keys {
        assert!(before.contains_key(key) && !now.contains_key(key), "{key} was deleted in 2025");
        let then = one(&pool, "TP_CAN", key, Some(t("2024-12-31T00:00:00Z"))).await;
        assert!(then.is_some());
        assert!(one(&pool, "TP_CAN", key, None).await.is_none());
    }
    for id in ["900001", "900002"] {
        assert!(now.contains_key(id) && !before.contains_key(id), "{id} was added in 2025");
    }
    for &i in moved {
        let (a, b) = (positions(&before[&keys[i]]["geometry"])[0], positions(&now[&keys[i]]["geometry"])[0]);
        let d = metres(a, b);
        assert!((d - 50.0).abs() < 0.5, "{} moved by {d} m", keys[i]);
    }
    // History: the renamed object has two versions, the first closed when the second began.
    let history: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "select valid_from, valid_to from topo.object where class = 'TP_CAN' and key = $1 order by valid_from",
    )
    .bind(&keys[renamed[0]])
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        history,
        [(t("2024-01-01T00:00:00Z"), Some(t("2025-01-01T00:00:00Z"))), (t("2025-01-01T00:00:00Z"), None)]
    );
    let info = dbt::classes(&pool).await.unwrap();
    assert_eq!(info[0].releases, ["2024", "2025"]);
    assert_eq!(info[0].features, 453);

    // bbox and paging.
    let b = positions(&now[&keys[unique[30]]]["geometry"])[0];
    let bbox = [b.0 - 0.001, b.1 - 0.001, b.0 + 0.001, b.1 + 0.001];
    let (near, matched) =
        page(&pool, "TP_CAN", ItemsQuery { bbox: Some(bbox), limit: 100, ..ItemsQuery::default() }).await;
    assert!((1..50).contains(&matched), "{matched}");
    assert!(near.iter().any(|f| f["id"] == json!(keys[unique[30]])));
    let (last, total) = page(&pool, "TP_CAN", ItemsQuery { offset: 445, ..ItemsQuery::default() }).await;
    assert_eq!((last.len(), total), (8, 453));
}

fn polygon(ring: &[[f64; 2]]) -> Value {
    json!({"type": "Polygon", "coordinates": [ring]})
}

#[tokio::test]
async fn invalid_geometries_are_repaired_and_counted_or_rejected_with_the_reason() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let (x, y) = (12.33, 45.43);
    let bow_tie = polygon(&[[x, y], [x + 0.001, y + 0.001], [x + 0.001, y], [x, y + 0.001], [x, y]]);
    let square = polygon(&[[x, y], [x + 0.001, y], [x + 0.001, y + 0.001], [x, y + 0.001], [x, y]]);
    let collapsed = polygon(&[[x, y], [x + 0.001, y], [x + 0.002, y], [x, y]]);
    let feature =
        |props: Value, geometry: Value| json!({"type": "Feature", "properties": props, "geometry": geometry});
    let mut doc = json!({"type": "FeatureCollection", "name": "TEST_AREA", "features": [
        feature(json!({"ID": 1, "NOME": "farfalla"}), bow_tie.clone()),
        feature(json!({"ID": 2, "NOME": "quadrato"}), square.clone()),
        feature(json!({"ID": 3, "NOME": "collassato"}), collapsed),
        feature(json!({"ID": 4, "NOME": "senza geometria"}), Value::Null),
        feature(json!({"ID": 2, "NOME": "quadrato bis"}), square),
        feature(json!({"NOME": "senza ID"}), bow_tie.clone()),
    ]});
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "test_area.geojson", &doc);
    let report = dbt::import(&pool, std::slice::from_ref(&file), &at("2024-01-01T00:00:00Z"), &no_progress)
        .await
        .unwrap();
    let c = class(&report, "TEST_AREA");
    assert_eq!(c.crs, "EPSG:4326");
    assert_eq!((c.features, c.added, c.repaired), (6, 3, 1), "{c:?}");
    let rejected: Vec<u64> = c.rejected.iter().map(|r| r.0).collect();
    assert_eq!(rejected, [2, 3, 5], "{:?}", c.rejected);
    assert!(c.rejected[0].1.contains("cannot repair"), "{:?}", c.rejected);
    assert!(c.rejected[1].1.contains("no geometry"), "{:?}", c.rejected);
    assert!(c.rejected[2].1.contains("natural key"), "{:?}", c.rejected);
    let repaired = one(&pool, "TEST_AREA", "1", None).await.unwrap();
    assert_eq!(repaired["geometry"]["type"], "MultiPolygon", "the bow tie is two triangles");
    assert_eq!(repaired["repaired"], true);
    assert_eq!(one(&pool, "TEST_AREA", "2~2", None).await.unwrap()["properties"]["NOME"], "quadrato bis");

    // Same file again: the repaired object is unchanged (digests are of the source); a new bow tie in a later
    // release is repaired on the re-import path too. Rejected objects are not removed.
    let again = dbt::import(&pool, std::slice::from_ref(&file), &at("2024-02-01T00:00:00Z"), &no_progress)
        .await
        .unwrap();
    let c = class(&again, "TEST_AREA");
    assert_eq!(
        (c.added, c.changed, c.removed, c.unchanged, c.repaired, c.rejected.len()),
        (0, 0, 0, 3, 0, 3)
    );
    doc["features"].as_array_mut().unwrap().push(feature(json!({"ID": 7, "NOME": "farfalla 2"}), bow_tie));
    let file = write(dir.path(), "test_area.geojson", &doc);
    let third = dbt::import(&pool, &[file], &at("2024-03-01T00:00:00Z"), &no_progress).await.unwrap();
    let c = class(&third, "TEST_AREA");
    assert_eq!((c.added, c.changed, c.removed, c.unchanged, c.repaired), (1, 0, 0, 3, 1), "{c:?}");
}

fn copy_shapefile(class: &str, dir: &Path, with: &[&str]) -> PathBuf {
    for ext in ["shp", "shx", "dbf"].iter().chain(with) {
        std::fs::copy(venezia(class).with_extension(ext), dir.join(format!("{class}.{ext}"))).unwrap();
    }
    dir.join(format!("{class}.shp"))
}

#[tokio::test]
async fn the_crs_comes_from_the_prj_or_crs_and_the_code_page_from_the_cpg() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let dir = tempfile::tempdir().unwrap();
    let shp = copy_shapefile("TP_IDRO", dir.path(), &[]);
    let err = dbt::import(&pool, std::slice::from_ref(&shp), &DbtOptions::default(), &no_progress)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--crs"), "{err}");
    let opts = DbtOptions { crs: Some("EPSG:3004".into()), ..DbtOptions::default() };
    let report = dbt::import(&pool, &[shp], &opts, &no_progress).await.unwrap();
    assert_eq!(class(&report, "TP_IDRO").added, 131);
    let err = dbt::import(
        &pool,
        &[venezia("TP_CAN")],
        &DbtOptions { crs: Some("Gauss-Boaga".into()), ..opts.clone() },
        &no_progress,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("EPSG:nnnn"), "{err}");

    // A .cpg wins over the bytes: told Windows-1252, the UTF-8 degree sign reads as two characters.
    let shp = copy_shapefile("TP_CAN", dir.path(), &["prj"]);
    std::fs::write(dir.path().join("TP_CAN.cpg"), "1252").unwrap();
    let report = dbt::import(&pool, &[shp], &DbtOptions::default(), &no_progress).await.unwrap();
    assert!(class(&report, "TP_CAN").notes[0].contains("TP_CAN.cpg says 1252"), "{report:?}");
    let (found, _) = page(&pool, "TP_CAN", ItemsQuery { limit: 1000, ..ItemsQuery::default() }).await;
    assert!(found.iter().any(|f| f["properties"]["TC_DENOM"] == "VITTORIO EMANUELE III\u{c2}\u{b0}"));
}

#[tokio::test]
async fn a_geopackage_and_its_shapefile_are_the_same_release() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("idro.gpkg");
    let out =
        Command::new("ogr2ogr").args(["-f", "GPKG"]).arg(&gpkg).arg(venezia("TP_IDRO")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = dbt::import(&pool, &[gpkg], &at("2024-01-01T00:00:00Z"), &no_progress).await.unwrap();
    let c = class(&report, "TP_IDRO");
    assert_eq!((c.crs.as_str(), c.added, c.rejected.len()), ("EPSG:3004", 131, 0), "{c:?}");
    let report =
        dbt::import(&pool, &[venezia("TP_IDRO")], &at("2024-02-01T00:00:00Z"), &no_progress).await.unwrap();
    let c = class(&report, "TP_IDRO");
    assert_eq!((c.added, c.changed, c.removed, c.unchanged), (0, 0, 0, 131), "{c:?}");
}

#[tokio::test]
async fn filters_ids_and_bboxes_reach_the_database_as_values_never_as_sql() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    dbt::import(&pool, &[venezia("TP_IDRO")], &at("2024-01-01T00:00:00Z"), &no_progress).await.unwrap();
    let everything = all(&pool, "TP_IDRO", None).await;
    assert_eq!(everything.len(), 131);
    let quoted = everything
        .values()
        .find_map(|f| f["properties"]["TI_DENOM"].as_str().filter(|n| n.contains('\'')))
        .expect("a name with an apostrophe")
        .to_string();
    let filter = |key: &str, value: &str| ItemsQuery {
        properties: vec![(key.to_string(), value.to_string())],
        limit: 1000,
        ..ItemsQuery::default()
    };
    let (found, matched) = page(&pool, "TP_IDRO", filter("TI_DENOM", &quoted)).await;
    assert!(matched >= 1 && found.iter().all(|f| f["properties"]["TI_DENOM"] == json!(quoted)), "{quoted}");
    for (key, value) in [("TI_DENOM", "x' or '1'='1"), ("TI_DENOM' or 1=1 --", "x"), ("TI_DENOM", "%")] {
        assert_eq!(page(&pool, "TP_IDRO", filter(key, value)).await.1, 0, "{key} = {value}");
    }
    let idro = layer(&pool, "TP_IDRO").await;
    let err = features::items(&pool, &idro, &filter("TI_DENOM", "a\0b")).await.unwrap_err();
    assert!(matches!(err, geodata::Error::InvalidInput { .. }), "{err:?}");
    let past = page(&pool, "TP_IDRO", ItemsQuery { offset: 1_000, ..ItemsQuery::default() }).await;
    assert_eq!((past.0.len(), past.1), (0, 131), "past the end, the count is still right");
    let deep = ItemsQuery { offset: i64::MAX, ..ItemsQuery::default() };
    assert!(matches!(features::items(&pool, &idro, &deep).await, Err(geodata::Error::InvalidInput { .. })));

    let some_key = everything.keys().next().unwrap().clone();
    assert!(one(&pool, "TP_IDRO", &some_key, None).await.is_some());
    for id in ["x\0y", "1' or '1'='1", ""] {
        assert!(one(&pool, "TP_IDRO", id, None).await.is_none(), "{id:?}");
    }
    for id in
        ["dbt-TP_IDRO' or '1'='1", "dbt-TP\0IDRO", "dbt-", "zoning-1 or 1=1", "zoning-9223372036854775808"]
    {
        assert!(features::layer(&pool, id).await.unwrap().is_none(), "{id:?}");
    }

    // The same bbox (the south-west quarter of the class) in CRS84, in EPSG:4326 (latitude first), in Web Mercator and in RDN2008 / UTM
    // 33N (northing first) finds the same objects.
    let [a, b, c, d] = dbt::classes(&pool).await.unwrap()[0].bbox.unwrap();
    let (x0, y0, x1, y1) = (a, b, (a + c) / 2.0, (b + d) / 2.0);
    let crs84 = ItemsQuery { bbox: Some([x0, y0, x1, y1]), limit: 1000, ..ItemsQuery::default() };
    let (_, expected) = page(&pool, "TP_IDRO", crs84.clone()).await;
    assert!(expected > 0 && expected < 131, "{expected}");
    let lat_first =
        ItemsQuery { bbox: Some([y0, x0, y1, x1]), bbox_crs: features::crs("EPSG:4326"), ..crs84.clone() };
    assert_eq!(page(&pool, "TP_IDRO", lat_first).await.1, expected);
    let corners: Vec<(f64, f64)> = sqlx::query_as(
        "select st_x(p), st_y(p) from (select st_transform(st_setsrid(st_makepoint(x, y), 4326), s) as p
         from (values ($1::float8, $2::float8, 3857), ($3, $4, 3857), ($1, $2, 6708), ($3, $4, 6708)) v(x, y, s)) q",
    )
    .bind(x0)
    .bind(y0)
    .bind(x1)
    .bind(y1)
    .fetch_all(&pool)
    .await
    .unwrap();
    let mercator = ItemsQuery {
        bbox: Some([corners[0].0, corners[0].1, corners[1].0, corners[1].1]),
        bbox_crs: features::crs("EPSG:3857"),
        ..crs84.clone()
    };
    assert_eq!(page(&pool, "TP_IDRO", mercator).await.1, expected);
    let utm = ItemsQuery {
        bbox: Some([corners[2].1, corners[2].0, corners[3].1, corners[3].0]),
        bbox_crs: features::crs("EPSG:6708"),
        ..crs84.clone()
    };
    let (_, in_utm) = page(&pool, "TP_IDRO", utm).await;
    assert!((in_utm - expected).abs() <= 2, "a UTM box is not quite a degree box: {in_utm} vs {expected}");
    let beyond =
        ItemsQuery { bbox: Some([1e300, 0.0, 1e301, 1.0]), bbox_crs: features::crs("EPSG:7792"), ..crs84 };
    assert!(matches!(features::items(&pool, &idro, &beyond).await, Err(geodata::Error::InvalidInput { .. })));
    // The database is fine after all that.
    assert_eq!(all(&pool, "TP_IDRO", None).await.len(), 131);
}
