//! Comuni and zoning on a real PostGIS, with the real ISTAT boundaries of Genova and Palermo.

use chrono::NaiveDate;
use geodata::zoning::{self, ZoningOptions};
use serde_json::{Value, json};
use testkit::TestDb;

async fn load_comuni(pool: &sqlx::PgPool) {
    for file in ["comuni/limits_P_10_municipalities.geojson", "comuni/limits_P_82_municipalities.geojson"] {
        let text = std::fs::read_to_string(testkit::test_data(file)).unwrap();
        let report = geodata::comune::import(pool, &serde_json::from_str(&text).unwrap()).await.unwrap();
        assert!(report.invalid.is_empty(), "{:?}", report.invalid);
    }
}

#[tokio::test]
async fn known_points_resolve_to_their_comune_and_the_sea_to_none() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    load_comuni(&pool).await;
    let list = geodata::comune::list(&pool).await.unwrap();
    assert_eq!(list.len(), 67 + 82);

    let ferrari = geodata::comune::at(&pool, 8.9339, 44.4073).await.unwrap().unwrap();
    assert_eq!(
        (ferrari.istat.as_str(), ferrari.belfiore.as_str(), ferrari.name.as_str()),
        ("010025", "D969", "Genova")
    );
    let massimo = geodata::comune::at(&pool, 13.3573, 38.1203).await.unwrap().unwrap();
    assert_eq!((massimo.istat.as_str(), massimo.name.as_str()), ("082053", "Palermo"));
    let camogli = geodata::comune::at(&pool, 9.1546, 44.3490).await.unwrap().unwrap();
    assert_eq!(camogli.name, "Camogli");
    assert_eq!(
        geodata::comune::at(&pool, 8.90, 44.30).await.unwrap(),
        None,
        "the Ligurian Sea is in no comune"
    );

    // Re-importing updates, never duplicates.
    let text =
        std::fs::read_to_string(testkit::test_data("comuni/limits_P_10_municipalities.geojson")).unwrap();
    let again = geodata::comune::import(&pool, &serde_json::from_str(&text).unwrap()).await.unwrap();
    assert_eq!((again.created, again.updated), (0, 67));
}

#[tokio::test]
async fn a_point_on_a_shared_border_resolves_to_the_same_comune_every_time() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    load_comuni(&pool).await;
    // A vertex of the border between Genova and one of its neighbours.
    let (lon, lat, neighbour): (f64, f64, String) = sqlx::query_as(
        "select st_x(p), st_y(p), n.istat from core.comune g join core.comune n
           on n.istat <> g.istat and st_intersects(g.geom, n.geom),
         lateral (select (st_dumppoints(st_intersection(st_boundary(g.geom), st_boundary(n.geom)))).geom as p limit 1) x
         where g.istat = '010025' limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let expected = if neighbour.as_str() < "010025" { neighbour } else { "010025".to_string() };
    for _ in 0..3 {
        let c = geodata::comune::at(&pool, lon, lat).await.unwrap().expect("a border point is in a comune");
        assert_eq!(c.istat, expected, "the lower ISTAT code wins on a shared border");
    }
}

/// A digest of every boundary, to see that nothing touched them.
async fn boundaries(pool: &sqlx::PgPool) -> (i64, String) {
    sqlx::query_as(
        "select count(*), coalesce(md5(string_agg(istat || name || st_asewkt(geom), ',' order by istat)), '')
         from core.comune",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_istat_list_adds_every_comune_name_and_code_and_never_touches_a_boundary() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    load_comuni(&pool).await;
    let before = boundaries(&pool).await;
    assert_eq!(before.0, 67 + 82);
    let list = testkit::test_data("comuni/Elenco-comuni-italiani.csv");
    assert_eq!(geodata::comune::ComuniFile::of(&list).unwrap(), geodata::comune::ComuniFile::IstatList);

    let report = geodata::comune::import_list(&pool, &list).await.unwrap();
    assert!(report.invalid.is_empty(), "{:?}", report.invalid);
    assert_eq!((report.rows, report.created, report.updated, report.unchanged), (7896, 7896, 0, 0));
    assert_eq!((report.with_boundary, report.boundaries_not_listed), (149, 0));
    let count: i64 =
        sqlx::query_scalar("select count(*) from core.comune_registry").fetch_one(&pool).await.unwrap();
    assert_eq!(count, 7896);
    assert_eq!(boundaries(&pool).await, before, "the list has no geometry and leaves the boundaries alone");

    // Names in both languages, codes as text with their zeros, province and region.
    type Row = (String, String, Option<String>, String, String, String, String, String, String);
    let row = |istat: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, Row>(
                "select name, name_it, name_other, belfiore, province_code, province_name, province_acronym,
                        region_code, region_name
                 from core.comune_registry where istat = $1",
            )
            .bind(istat)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let bz = row("021008").await;
    assert_eq!((bz.0.as_str(), bz.1.as_str(), bz.2.as_deref()), ("Bolzano/Bozen", "Bolzano", Some("Bozen")));
    assert_eq!((bz.3.as_str(), bz.6.as_str(), bz.7.as_str()), ("A952", "BZ", "04"));
    assert_eq!(bz.8, "Trentino-Alto Adige/Südtirol", "Windows-1252 decoded");
    let aglie = row("001001").await;
    assert_eq!((aglie.0.as_str(), aglie.3.as_str(), aglie.4.as_str()), ("Agliè", "A074", "001"));
    assert_eq!((aglie.5.as_str(), aglie.6.as_str(), aglie.8.as_str()), ("Torino", "TO", "Piemonte"));
    let lamezia = row("079160").await;
    assert_eq!((lamezia.0.as_str(), lamezia.3.as_str(), lamezia.6.as_str()), ("Lamezia Terme", "M208", "CZ"));
    let others: i64 =
        sqlx::query_scalar("select count(*) from core.comune_registry where name_other is not null")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(others, 124, "the comuni with a name in another official language");

    // Again: nothing changes, nothing is removed.
    let again = geodata::comune::import_list(&pool, &list).await.unwrap();
    assert_eq!((again.rows, again.created, again.updated, again.unchanged), (7896, 0, 0, 7896));
    assert_eq!(boundaries(&pool).await, before);
    // Boundaries imported after the list keep the list too, and readers of boundaries see only boundaries.
    load_comuni(&pool).await;
    assert_eq!(boundaries(&pool).await, before);
    let count: i64 =
        sqlx::query_scalar("select count(*) from core.comune_registry").fetch_one(&pool).await.unwrap();
    assert_eq!(count, 7896);
    assert_eq!(geodata::comune::list(&pool).await.unwrap().len(), 67 + 82, "a name is not a boundary");
    assert_eq!(geodata::comune::at(&pool, 8.9339, 44.4073).await.unwrap().unwrap().name, "Genova");
    assert_eq!(geodata::comune::at(&pool, 8.90, 44.30).await.unwrap(), None, "still at sea");
}

#[tokio::test]
async fn a_file_that_is_not_the_istat_list_is_refused_and_changes_nothing() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("comuni.csv");
    std::fs::write(&path, "comune;codice\nRoma;058091\n").unwrap();
    let err = geodata::comune::import_list(&pool, &path).await.unwrap_err();
    assert!(err.to_string().contains("not ISTAT's list of comuni"), "{err}");
    let count: i64 =
        sqlx::query_scalar("select count(*) from core.comune_registry").fetch_one(&pool).await.unwrap();
    assert_eq!(count, 0);
    let geojson = testkit::test_data("comuni/limits_P_10_municipalities.geojson");
    assert_eq!(geodata::comune::ComuniFile::of(&geojson).unwrap(), geodata::comune::ComuniFile::Boundaries);
}

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

fn zones(items: &[(&str, &str, Value)]) -> Value {
    let features: Vec<Value> = items
        .iter()
        .map(|(code, class, geom)| {
            json!({"type": "Feature", "geometry": geom,
                   "properties": {"zona": code, "zto": class, "nta": format!("art. {code}"), "note": "x"}})
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn opts(version: &str, approved: &str, variant_of: Option<&str>) -> ZoningOptions {
    ZoningOptions {
        plan: "PUC Genova".into(),
        version: version.into(),
        approved: date(approved),
        variant_of: variant_of.map(str::to_string),
        source_file: None,
    }
}

#[tokio::test]
async fn variants_replace_zones_inside_their_perimeter_from_their_approval_date() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    // Base plan: AC west of 8.94, BR east of it; a variant turns a square of the east into a park (F).
    let base = zones(&[
        ("AC", "A", square(8.92, 44.40, 8.94, 44.42)),
        ("BR", "B", square(8.94, 44.40, 8.96, 44.42)),
    ]);
    let report = zoning::import(&pool, &base, &opts("2000", "2000-01-01", None)).await.unwrap();
    assert_eq!(report.zones, 2);
    let variant = zones(&[("FP", "F", square(8.95, 44.405, 8.955, 44.41))]);
    zoning::import(&pool, &variant, &opts("Variante 1", "2010-06-01", Some("2000"))).await.unwrap();

    let in_park = (8.952, 44.407);
    let before = zoning::at(&pool, in_park.0, in_park.1, date("2009-12-31"), None).await.unwrap();
    assert_eq!(
        before.iter().map(|z| (z.code.as_str(), z.version.as_str())).collect::<Vec<_>>(),
        [("BR", "2000")]
    );
    let after = zoning::at(&pool, in_park.0, in_park.1, date("2011-01-01"), None).await.unwrap();
    assert_eq!(
        after.iter().map(|z| (z.code.as_str(), z.version.as_str())).collect::<Vec<_>>(),
        [("FP", "Variante 1")]
    );
    assert_eq!((after[0].class.as_deref(), after[0].nta.as_deref()), (Some("F"), Some("art. FP")));
    assert_eq!(after[0].attributes["note"], "x");
    let outside = zoning::at(&pool, 8.958, 44.418, date("2011-01-01"), None).await.unwrap();
    assert_eq!(outside[0].code, "BR", "outside the variant the base zone stays");
    assert!(
        zoning::at(&pool, 8.952, 44.407, date("1999-01-01"), None).await.unwrap().is_empty(),
        "before any plan"
    );

    // A parcel across AC, BR and the park, on a date when the variant is in force.
    let parcel =
        json!({"type": "Feature", "properties": {}, "geometry": square(8.935, 44.405, 8.955, 44.41)});
    let (area, overlaps) =
        zoning::intersect(&pool, &parcel, date("2015-01-01"), Some("PUC Genova")).await.unwrap();
    let codes: Vec<&str> = overlaps.iter().map(|o| o.code.as_str()).collect();
    assert_eq!(codes, ["BR", "AC", "FP"], "largest overlap first: {overlaps:?}");
    let shares: f64 = overlaps.iter().map(|o| o.share).sum();
    assert!((shares - 1.0).abs() < 0.001, "the zones cover the parcel exactly once: {shares}");
    // 0.02° × 0.005° at 44.4°N ≈ 1,593 m × 556 m.
    assert!((area - 885_000.0).abs() < 15_000.0, "{area}");
    assert!((overlaps[1].share - 0.25).abs() < 0.002, "AC is a quarter of the parcel: {overlaps:?}");

    // A new full plan supersedes the base and its variants.
    let new = zones(&[("CN", "C", square(8.92, 44.40, 8.96, 44.42))]);
    zoning::import(&pool, &new, &opts("2020", "2020-03-01", None)).await.unwrap();
    let now = zoning::at(&pool, in_park.0, in_park.1, date("2021-01-01"), None).await.unwrap();
    assert_eq!(now.iter().map(|z| z.code.as_str()).collect::<Vec<_>>(), ["CN"]);

    // Versions are immutable and variants need their base.
    let err = zoning::import(&pool, &variant, &opts("2000", "2000-01-01", None)).await.unwrap_err();
    assert!(err.to_string().contains("already has a version `2000`"), "{err}");
    let err = zoning::import(&pool, &variant, &opts("V9", "2012-01-01", Some("1990"))).await.unwrap_err();
    assert!(err.to_string().contains("no version `1990`"), "{err}");
}
