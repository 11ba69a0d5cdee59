//! Alert zones against a real PostGIS: imports by polygons and by lists of comuni, their refusals, and assignment
//! of comuni and stations by location.

use alerts::Error;
use alerts::zone::{self, ImportSummary, Source};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::TestDb;

async fn genova(db: &TestDb) -> PgPool {
    let pool = db.pool().await;
    let path = testkit::test_data("comuni/limits_P_10_municipalities.geojson");
    let comuni: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let report = geodata::comune::import(&pool, &comuni).await.unwrap();
    assert_eq!(report.created, 67);
    pool
}

fn codes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn listed(code: &str, comuni: &[&str]) -> Value {
    json!({"type": "Feature", "geometry": null, "properties": {"code": code, "name": format!("Zona {code}"), "comuni": comuni}})
}

fn polygon_feature(code: &str, ring: &[[f64; 2]]) -> Value {
    json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {"code": code, "name": format!("Zona {code}")}})
}

fn collection(features: Vec<Value>) -> Value {
    json!({"type": "FeatureCollection", "features": features})
}

async fn count_zones(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from alerts.zone").fetch_one(pool).await.unwrap()
}

fn problems(result: alerts::Result<ImportSummary>) -> Vec<String> {
    match result {
        Err(Error::InvalidZones { problems }) => problems.iter().map(ToString::to_string).collect(),
        other => panic!("expected the import to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn zones_from_lists_of_comuni_are_their_union_and_a_reimport_changes_nothing() {
    let db = TestDb::new().await;
    let pool = genova(&db).await;
    let file = testkit::test_data("zones/genova_comuni.geojson");
    let summary = zone::import_geojson_file(&pool, &file).await.unwrap();
    assert_eq!(summary.added, codes(&["B", "C", "D", "E"]));
    assert!(summary.updated.is_empty() && summary.unchanged.is_empty());

    // Every comune of the Città metropolitana is in exactly one zone.
    let per_comune: Vec<(String, i64)> = sqlx::query_as(
        "select c.istat, (select count(*) from alerts.zone z where c.istat = any(z.comuni))
         from core.comune c order by c.istat",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(per_comune.len(), 67);
    assert!(per_comune.iter().all(|(_, n)| *n == 1), "{per_comune:?}");

    // The zone is the union of its comuni: same area, valid, a MultiPolygon.
    let (zone_area, comuni_area, valid): (f64, f64, bool) = sqlx::query_as(
        "select st_area(z.geom::geography), (select sum(st_area(c.geom::geography)) from core.comune c
                                             where c.istat = any(z.comuni)), st_isvalid(z.geom)
         from alerts.zone z where z.code = 'B'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(valid);
    assert!((zone_area / comuni_area - 1.0).abs() < 1e-3, "{zone_area} m² vs {comuni_area} m²");

    let b = zone::get(&pool, "B").await.unwrap().expect("zone B");
    assert_eq!(b.name, "Bacini liguri marittimi di centro");
    assert_eq!(b.source, Source::Comuni);
    assert!(b.comuni.contains(&"010025".to_string()) && b.comuni.len() == 18, "{:?}", b.comuni);
    assert_eq!(b.geometry["type"], "MultiPolygon");
    assert!(zone::get(&pool, "Z").await.unwrap().is_none());
    let all = zone::list(&pool).await.unwrap();
    assert_eq!(all.iter().map(|z| z.code.as_str()).collect::<Vec<_>>(), ["B", "C", "D", "E"]);

    // Genova's Piazza De Ferrari is in zone B; Santo Stefano d'Aveto in E; the sea in none.
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(zone::zone_of_point(&mut conn, 8.9339, 44.4073).await.unwrap().as_deref(), Some("B"));
    assert_eq!(zone::zone_of_point(&mut conn, 9.4520, 44.5460).await.unwrap().as_deref(), Some("E"));
    assert_eq!(zone::zone_of_point(&mut conn, 8.90, 44.30).await.unwrap(), None);
    assert!(matches!(zone::zone_of_point(&mut conn, 8.9, f64::NAN).await, Err(Error::ZonePoint { .. })));
    assert!(matches!(zone::zone_of_point(&mut conn, 200.0, 44.0).await, Err(Error::ZonePoint { .. })));
    drop(conn);

    let before: Vec<(String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("select code, updated_at from alerts.zone order by code")
            .fetch_all(&pool)
            .await
            .unwrap();
    let again = zone::import_geojson_file(&pool, &file).await.unwrap();
    assert_eq!(again.unchanged, codes(&["B", "C", "D", "E"]));
    assert!(again.added.is_empty() && again.updated.is_empty());
    let after: Vec<(String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("select code, updated_at from alerts.zone order by code")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(before, after, "an unchanged zone is not rewritten");

    // Moving a comune from D to B updates both, and only them.
    let mut text = std::fs::read_to_string(&file).unwrap();
    text = text.replace("\"010008\", ", "").replace("\"010064\"]", "\"010064\", \"010008\"]");
    let moved: Value = serde_json::from_str(&text).unwrap();
    let summary = zone::import_geojson(&pool, &moved).await.unwrap();
    assert_eq!((summary.updated, summary.unchanged), (codes(&["B", "D"]), codes(&["C", "E"])));
    let b = zone::get(&pool, "B").await.unwrap().unwrap();
    assert!(b.comuni.contains(&"010008".to_string()));
}

#[tokio::test]
async fn polygon_zones_get_their_comuni_by_location() {
    let db = TestDb::new().await;
    let pool = genova(&db).await;
    let summary =
        zone::import_geojson_file(&pool, &testkit::test_data("zones/genova_poligoni.geojson")).await.unwrap();
    assert_eq!(summary.added, codes(&["GE-PONENTE", "GE-LEVANTE"]));
    let ponente = zone::get(&pool, "GE-PONENTE").await.unwrap().unwrap();
    let levante = zone::get(&pool, "GE-LEVANTE").await.unwrap().unwrap();
    assert_eq!((ponente.source, levante.source), (Source::Geojson, Source::Geojson));
    assert!(ponente.comuni.contains(&"010001".to_string()), "Arenzano: {:?}", ponente.comuni);
    assert!(levante.comuni.contains(&"010004".to_string()), "Bogliasco: {:?}", levante.comuni);
    assert!(!ponente.comuni.iter().any(|c| levante.comuni.contains(c)), "no comune in both");
    // A comune is assigned where its point on surface lies, and only there.
    let misplaced: i64 = sqlx::query_scalar(
        "select count(*) from alerts.zone z, unnest(z.comuni) i join core.comune c on c.istat = i
         where not st_covers(z.geom, st_pointonsurface(c.geom))",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(misplaced, 0);
    // Santo Stefano d'Aveto lies outside both polygons.
    assert!(
        !ponente.comuni.contains(&"010056".to_string()) && !levante.comuni.contains(&"010056".to_string())
    );

    // Comuni given with a polygon are taken as given.
    let ring = [[8.0, 44.0], [8.1, 44.0], [8.1, 44.1], [8.0, 44.1], [8.0, 44.0]];
    let mut given = polygon_feature("X", &ring);
    given["properties"]["comuni"] = json!(["010025"]);
    zone::import_geojson(&pool, &collection(vec![given])).await.unwrap();
    assert_eq!(zone::get(&pool, "X").await.unwrap().unwrap().comuni, ["010025"]);
}

#[tokio::test]
async fn a_comune_in_two_zones_is_refused_naming_both() {
    let db = TestDb::new().await;
    let pool = genova(&db).await;
    let file = collection(vec![
        listed("B", &["010025", "010001"]),
        listed("C", &["010046"]),
        listed("D", &["010032", "010025"]),
    ]);
    let found = problems(zone::import_geojson(&pool, &file).await);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("feature 2 (D): comune 010025 (Genova) is in two zones, B and D"),
        "{found:?}"
    );
    assert_eq!(count_zones(&pool).await, 0, "nothing is half-imported");

    // Against a zone already stored from another file.
    zone::import_geojson(&pool, &collection(vec![listed("B", &["010025", "010001"])])).await.unwrap();
    let found =
        problems(zone::import_geojson(&pool, &collection(vec![listed("Q", &["010046", "010001"])])).await);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with(
            "feature 0 (Q): comune 010001 (Arenzano) is in two zones, B (already imported) and Q"
        ),
        "{found:?}"
    );
    assert_eq!(count_zones(&pool).await, 1);
    // The same zone imported again with another list is no conflict with itself.
    let summary = zone::import_geojson(&pool, &collection(vec![listed("B", &["010025"])])).await.unwrap();
    assert_eq!(summary.updated, codes(&["B"]));
}

#[tokio::test]
async fn an_unknown_istat_code_is_refused_naming_it() {
    let db = TestDb::new().await;
    let pool = genova(&db).await;
    let file = collection(vec![listed("B", &["010025"]), listed("C", &["010046", "010999", "082053"])]);
    let found = problems(zone::import_geojson(&pool, &file).await);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("feature 1 (C): unknown comune 010999"), "{found:?}");
    assert!(found[1].starts_with("feature 1 (C): unknown comune 082053"), "{found:?}");
    assert_eq!(count_zones(&pool).await, 0);
}

#[tokio::test]
async fn an_invalid_geometry_is_refused_by_feature_index_with_every_other_problem() {
    let db = TestDb::new().await;
    let pool = genova(&db).await;
    let good = polygon_feature("OK", &[[8.8, 44.4], [8.9, 44.4], [8.9, 44.5], [8.8, 44.5], [8.8, 44.4]]);
    let bowtie = polygon_feature("BOW", &[[8.8, 44.4], [8.9, 44.5], [8.9, 44.4], [8.8, 44.5], [8.8, 44.4]]);
    let nameless = json!({"type": "Feature", "geometry": null, "properties": {"code": "N", "name": " ", "comuni": ["010025"]}});
    let badcode = listed("zona 7", &["010001"]);
    let file = collection(vec![good, bowtie, nameless, badcode]);
    let found = problems(zone::import_geojson(&pool, &file).await);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].starts_with("feature 1 (BOW): invalid geometry: Self-intersection["), "{found:?}");
    assert!(found[1].starts_with("feature 2 (N): the name is empty"), "{found:?}");
    assert!(found[2].starts_with("feature 3: code \"zona 7\""), "{found:?}");
    assert_eq!(count_zones(&pool).await, 0, "the valid feature is not imported either");

    let err = zone::import_geojson(&pool, &json!({"type": "Feature"})).await.unwrap_err();
    assert!(matches!(err, Error::ZoneCollection(_)), "{err}");
    let missing = zone::import_geojson_file(&pool, std::path::Path::new("/nonexistent/zones.geojson")).await;
    assert!(matches!(missing, Err(Error::ZoneFile { .. })));
}

#[tokio::test]
async fn stations_are_assigned_by_location_and_the_lowest_code_wins_on_a_shared_border() {
    let db = TestDb::new().await;
    let pool = genova(&db).await;
    zone::import_geojson_file(&pool, &testkit::test_data("zones/genova_poligoni.geojson")).await.unwrap();
    let station = |code: &str, lon: f64, lat: f64| {
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
               "properties": {"code": code, "name": format!("Stazione {code}"), "kind": "rain_gauge"}})
    };
    let stations = collection(vec![
        station("GE-PEGLI", 8.80, 44.43),
        station("GE-BISAGNO", 9.00, 44.45),
        station("GE-CONFINE", 8.95, 44.45),
        station("AL-MARE", 8.90, 44.30),
    ]);
    let report = sensors::import::stations(&pool, &stations).await.unwrap();
    assert!(report.invalid.is_empty(), "{:?}", report.invalid);

    let mut conn = pool.acquire().await.unwrap();
    let zones = zone::zones_of_stations(&mut conn).await.unwrap();
    assert_eq!(zones.get("GE-PEGLI").map(String::as_str), Some("GE-PONENTE"));
    assert_eq!(zones.get("GE-BISAGNO").map(String::as_str), Some("GE-LEVANTE"));
    // On the meridian both zones share, GE-LEVANTE sorts first.
    assert_eq!(zones.get("GE-CONFINE").map(String::as_str), Some("GE-LEVANTE"));
    assert_eq!(zones.get("AL-MARE"), None, "a station in no zone has none");
    assert_eq!(zones.len(), 3);
    assert_eq!(zone::zone_of_point(&mut conn, 8.95, 44.45).await.unwrap().as_deref(), Some("GE-LEVANTE"));
}
