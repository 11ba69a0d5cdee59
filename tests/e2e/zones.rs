//! Alert zones through the real binary: `vedetta import zones`.

use serde_json::json;
use testkit::TestDb;

use crate::support::{Launch, import, query_i64};

/// Runs `vedetta import zones FILE` expecting a refusal: its exit code, stdout and stderr.
fn import_refused(
    root: &std::path::Path,
    db: &TestDb,
    file: &std::path::Path,
) -> (Option<i32>, String, String) {
    let mut launch = Launch::serve(root).env("VEDETTA_DATABASE_URL", &db.url);
    launch.command = "import".into();
    let out = launch.arg_after("zones").arg_after(file.to_str().unwrap()).run();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn zones_import_from_lists_of_comuni_and_polygons_and_again_unchanged() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let genova = testkit::test_data("comuni/limits_P_10_municipalities.geojson");
    import(root.path(), &db, &["comuni", genova.to_str().unwrap()]);

    let lists = testkit::test_data("zones/genova_comuni.geojson");
    let out = import(root.path(), &db, &["zones", lists.to_str().unwrap()]);
    assert!(out.contains("4 added, 0 updated, 0 unchanged"), "{out}");
    let out = import(root.path(), &db, &["zones", lists.to_str().unwrap()]);
    assert!(out.contains("0 added, 0 updated, 4 unchanged"), "{out}");
    let polygons = testkit::test_data("zones/genova_poligoni.geojson");
    let out = import(root.path(), &db, &["zones", polygons.to_str().unwrap()]);
    assert!(out.contains("2 added, 0 updated, 0 unchanged"), "{out}");

    assert_eq!(query_i64(&db.url, "select count(*) from alerts.zone"), 6);
    // Every comune of the Città metropolitana is in exactly one zone of the list-defined ones.
    assert_eq!(
        query_i64(
            &db.url,
            "select count(*) from core.comune c
             where (select count(*) from alerts.zone z where z.source = 'comuni' and c.istat = any(z.comuni)) = 1"
        ),
        67
    );
}

#[test]
fn an_invalid_zones_file_exits_1_listing_every_problem_and_imports_nothing() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let genova = testkit::test_data("comuni/limits_P_10_municipalities.geojson");
    import(root.path(), &db, &["comuni", genova.to_str().unwrap()]);

    let bad = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": null, "properties": {"code": "B", "name": "Centro", "comuni": ["010025"]}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates":
            [[[8.8, 44.4], [8.9, 44.5], [8.9, 44.4], [8.8, 44.5], [8.8, 44.4]]]},
         "properties": {"code": "X", "name": "Farfalla"}},
        {"type": "Feature", "geometry": null, "properties": {"code": "C", "name": "Levante", "comuni": ["010025", "010999"]}}
    ]});
    let file = root.path().join("bad-zones.geojson");
    std::fs::write(&file, bad.to_string()).unwrap();
    let (code, stdout, stderr) = import_refused(root.path(), &db, &file);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("feature 1 (X): invalid geometry: Self-intersection"), "{stdout}");
    assert!(stdout.contains("feature 2 (C): unknown comune 010999"), "{stdout}");
    assert!(stdout.contains("feature 2 (C): comune 010025 (Genova) is in two zones, B and C"), "{stdout}");
    assert!(stderr.contains("3 problem(s)") && stderr.contains("nothing imported"), "{stderr}");
    assert_eq!(query_i64(&db.url, "select count(*) from alerts.zone"), 0);

    // Not JSON at all: exit 1 naming the file.
    let garbage = root.path().join("garbage.geojson");
    std::fs::write(&garbage, "zona B: Genova").unwrap();
    let (code, _, stderr) = import_refused(root.path(), &db, &garbage);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("garbage.geojson is not JSON"), "{stderr}");
}

#[test]
fn the_demo_brings_zones_a_to_e_with_every_comune_and_station_in_one() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let mut launch = Launch::serve(root.path()).env("VEDETTA_DATABASE_URL", &db.url);
    launch.command = "demo".into();
    let mut vedetta = launch.spawn();
    vedetta.wait_healthy();
    assert_eq!(
        query_i64(
            &db.url,
            "select count(*) from alerts.zone where source = 'demo' and code in ('A','B','C','D','E')"
        ),
        5
    );
    let in_one_zone = "select count(*) from core.comune c
                       where (select count(*) from alerts.zone z where c.istat = any(z.comuni)) = 1";
    assert_eq!(query_i64(&db.url, in_one_zone), query_i64(&db.url, "select count(*) from core.comune"));
    assert_eq!(query_i64(&db.url, "select count(*) from core.comune"), 10);
    testkit::wait_for("the 24 simulated stations", std::time::Duration::from_secs(60), || {
        (query_i64(&db.url, "select count(*) from sensors.station") == 24).then_some(())
    });
    let outside = "select count(*) from sensors.station_alerting s
                   where not exists (select 1 from alerts.zone z where st_covers(z.geom, s.geom))";
    assert_eq!(query_i64(&db.url, outside), 0, "every demo station is in a zone");
    assert!(vedetta.terminate().success());
}
