//! What each layer's tiles hold, read back by an independent decoder (the `mapbox-vector-tile` Python package):
//! layers, attributes and where features land in the tile, against a real PostGIS.

mod common;

use std::collections::BTreeSet;

use common::{dbt_objects, decoded, decoded_many, features, latest, pixel, position, service, station};
use serde_json::{Value, json};
use tiles::TileCoord;

/// A decoded Point's tile units.
fn point(feature: &Value) -> (f64, f64) {
    let c = &feature["geometry"]["coordinates"];
    (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
}

fn near(a: (f64, f64), b: (f64, f64)) -> bool {
    (a.0 - b.0).abs() <= 1.0 && (a.1 - b.1).abs() <= 1.0
}

#[tokio::test]
async fn stations_land_on_their_pixel_with_latest_value_colour_and_silence() {
    let (_db, pool, tiles) = service().await;
    let (lon, lat) = (8.9339, 44.4073);
    let hydro =
        station(&pool, "GE-IDRO", "hydrometer", lon, lat, json!({"yellow": 1.0, "orange": 2.0, "red": 3.0}))
            .await;
    latest(&pool, hydro, 2, 2.5, 2).await;
    let rain = station(&pool, "GE-PLUV", "rain_gauge", 8.9300, 44.4050, json!({"1h": {"red": 50}})).await;
    // The rain gauge reported an hour ago (silent after 3 × 5 min) and has a firing red alert.
    latest(&pool, rain, 1, 12.4, 60).await;
    sqlx::query(
        "insert into alerts.alert (rule, subject_kind, subject, zone, category, hazard, state, level, peak_level,
                                   started_at, fired_at)
         values ('rain_1h', 'station', 'GE-PLUV', null, 'hydro', 'idrogeologico', 'firing', 'rossa', 'rossa',
                 now(), now())",
    )
    .execute(&pool)
    .await
    .unwrap();

    for z in [8u8, 14, 17] {
        let (coord, px, py) = pixel(lon, lat, z);
        let tile = decoded(&tiles, "stations", z, coord.x, coord.y, None).await;
        assert_eq!(tile["stations"]["extent"], 4096, "{tile}");
        let found = features(&tile, "stations");
        let idro = found
            .iter()
            .find(|f| f["properties"]["code"] == "GE-IDRO")
            .unwrap_or_else(|| panic!("z{z}: {tile}"));
        assert_eq!(idro["id"], hydro, "{idro}");
        assert!(near(point(idro), (px, py)), "z{z}: at {:?}, expected ({px}, {py})", point(idro));
        let p = &idro["properties"];
        assert_eq!(p["kind"], "hydrometer");
        assert_eq!(p["value"], 2.5);
        assert_eq!(p["level"], "arancione", "between orange and red: {p}");
        assert_eq!(p["silent"], false);
        assert!(p["observed_at"].as_i64().unwrap() > 1_700_000_000, "{p}");
        let keys: BTreeSet<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["code", "kind", "value", "observed_at", "level", "silent"]));
        if z <= 14 {
            let pluv = found.iter().find(|f| f["properties"]["code"] == "GE-PLUV").expect("the rain gauge");
            assert_eq!(pluv["properties"]["level"], "rossa", "its firing alert colours it: {pluv}");
            assert_eq!(pluv["properties"]["silent"], true, "{pluv}");
        }
    }
}

#[tokio::test]
async fn features_near_a_tile_edge_are_in_both_tiles_and_polygons_survive_every_zoom() {
    let (_db, pool, tiles) = service().await;
    // Half a unit inside the west edge of a zoom-14 tile: in that tile at x ≈ 0.5 and in the buffer of its western
    // neighbour at x ≈ 4096.5.
    let t = TileCoord { z: 14, x: 8598, y: 5931 };
    let (lon, lat) = position(t, 0.5, 2000.0);
    station(&pool, "EDGE", "rain_gauge", lon, lat, json!({})).await;
    let here = decoded(&tiles, "stations", 14, t.x, t.y, None).await;
    let west = decoded(&tiles, "stations", 14, t.x - 1, t.y, None).await;
    let a = point(features(&here, "stations")[0]);
    let b = point(features(&west, "stations")[0]);
    assert!(near(a, (0.5, 2000.0)), "{a:?}");
    assert!(near(b, (4096.5, 2000.0)), "{b:?}");
    // Far from the edge (beyond the 64-unit buffer) it is in one tile only.
    let east = decoded(&tiles, "stations", 14, t.x + 1, t.y, None).await;
    assert!(features(&east, "stations").is_empty(), "{east}");

    // A comune larger than the tiles of high zooms, and crossing tile edges at every zoom: present at every zoom
    // 0–16 in the tile of a point inside it and in a tile its border crosses (PostGIS before 3.5 dropped geometry at
    // some zooms: martin issue 1651).
    sqlx::query(
        "insert into core.comune (istat, belfiore, name, geom)
         values ('010025', 'D969', 'Genova', st_multi(st_makeenvelope(8.80, 44.38, 9.05, 44.50, 4326)))",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut which = Vec::new();
    for z in 0..=16u8 {
        for (lon, lat) in [(8.93, 44.44), (8.80, 44.44)] {
            let (coord, _, _) = pixel(lon, lat, z);
            which.push(("comuni", z, coord.x, coord.y));
        }
    }
    for ((_, z, x, y), tile) in which.iter().zip(decoded_many(&tiles, &which).await) {
        {
            let found = features(&tile, "comuni");
            assert_eq!(found.len(), 1, "{z}/{x}/{y}: {tile}");
            assert_eq!(found[0]["id"], 10025);
            assert_eq!(found[0]["properties"], json!({"istat": "010025", "name": "Genova"}));
            let kind = found[0]["geometry"]["type"].as_str().unwrap();
            assert!(kind.ends_with("Polygon"), "{kind}");
        }
    }
    // A long road (DBT line) across many tiles: in the tile of each of its ends and of its middle, zooms 13–16.
    dbt_objects(&pool, "TR_STR", &[("strada-1", "LINESTRING(8.81 44.39, 9.04 44.49)")]).await;
    let mut which = Vec::new();
    for z in 13..=16u8 {
        for (lon, lat) in [(8.81, 44.39), (8.925, 44.44), (9.04, 44.49)] {
            let (coord, _, _) = pixel(lon, lat, z);
            which.push(("dbt", z, coord.x, coord.y));
        }
    }
    for ((_, z, x, y), tile) in which.iter().zip(decoded_many(&tiles, &which).await) {
        {
            let found = features(&tile, "dbt");
            assert_eq!(found.len(), 1, "{z}/{x}/{y}: {tile}");
            assert_eq!(found[0]["properties"], json!({"class": "TR_STR", "code": "strada-1"}));
        }
    }
}

#[tokio::test]
async fn reports_carry_public_fields_of_public_reports_and_nothing_of_the_reporter() {
    let (_db, pool, tiles) = service().await;
    let insert = |approved: bool, hidden: bool, lon: f64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "insert into reports.report (comune, category, description, geom, status, reporter_name,
                     reporter_email, reporter_phone, tracking_sha256, approved, hidden, supporters, created_at)
                 values ('010025', 'allagamento', 'Acqua alta in via Segreta', st_setsrid(st_makepoint($1, 44.4073), 4326),
                         'acknowledged', 'Mario Riservato', 'mario.riservato@example.org', '+39 333 7654321',
                         sha256(random()::text::bytea), $2, $3, 4, now() - interval '3 days 2 hours')
                 returning id",
            )
            .bind(lon)
            .bind(approved)
            .bind(hidden)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let public = insert(true, false, 8.9339).await;
    insert(true, true, 8.9340).await; // hidden by moderation
    insert(false, false, 8.9341).await; // waiting for approval
    let (coord, px, py) = pixel(8.9339, 44.4073, 15);
    let request =
        tiles::TileRequest::parse("reports", "15", &coord.x.to_string(), &format!("{}.mvt", coord.y), None)
            .unwrap();
    let raw = tiles.tile(&request).await.unwrap();
    let text = String::from_utf8_lossy(raw.raw());
    for private in ["Riservato", "example.org", "7654321", "Segreta"] {
        assert!(!text.contains(private), "`{private}` is in the tile");
    }
    let tile = common::decode(raw.raw());
    let found = features(&tile, "reports");
    assert_eq!(found.len(), 1, "only the public report: {tile}");
    assert_eq!(found[0]["id"], public);
    assert_eq!(
        found[0]["properties"],
        json!({"category": "allagamento", "status": "acknowledged", "supporters": 4, "age_days": 3})
    );
    assert!(near(point(found[0]), (px, py)));
    // Below zoom 8 the layer is empty.
    let (coord, _, _) = pixel(8.9339, 44.4073, 7);
    assert_eq!(decoded(&tiles, "reports", 7, coord.x, coord.y, None).await, json!({}));
}

#[tokio::test]
async fn zones_zoning_addresses_and_dbt_classes_follow_their_rules() {
    let (_db, pool, tiles) = service().await;
    // Alert zones: one with a firing orange alert, one without.
    sqlx::raw_sql(
        "insert into alerts.zone (code, name, geom, source) values
             ('B', 'Zona B', st_multi(st_makeenvelope(8.80, 44.30, 8.95, 44.50, 4326)), 'geojson'),
             ('C', 'Zona C', st_multi(st_makeenvelope(8.95, 44.30, 9.10, 44.50, 4326)), 'geojson');
         insert into alerts.alert (rule, subject_kind, subject, zone, category, hazard, state, level, peak_level,
                                   started_at, fired_at)
         values ('manual', 'zone', 'B', 'B', 'manual', 'idrogeologico', 'firing', 'arancione', 'arancione', now(), now())",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (coord, _, _) = pixel(8.95, 44.40, 10);
    let tile = decoded(&tiles, "alert_zones", 10, coord.x, coord.y, None).await;
    let levels: BTreeSet<(String, String)> = features(&tile, "alert_zones")
        .iter()
        .map(|f| {
            (
                f["properties"]["code"].as_str().unwrap().into(),
                f["properties"]["level"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        BTreeSet::from([("B".into(), "arancione".into()), ("C".into(), "verde".into())]),
        "{tile}"
    );

    // Zoning: a plan of 2015, a variant of 2022 over the eastern half of zone B1.
    sqlx::query(
        "with base as (
             insert into zoning.plan_version (plan, version, approved, perimeter)
             values ('PUC Genova', '2015', '2015-12-01', st_multi(st_makeenvelope(8.90, 44.40, 8.92, 44.42, 4326)))
             returning id),
         variant as (
             insert into zoning.plan_version (plan, version, approved, variant_of, perimeter)
             select 'PUC Genova', 'Variante 2022', '2022-06-01', id, st_multi(st_makeenvelope(8.91, 44.40, 8.92, 44.42, 4326))
             from base returning id)
         insert into zoning.zone (version_id, code, dm1444_class, nta_article, geom)
         select id, 'B1', 'B', 'art. 12', st_multi(st_makeenvelope(8.90, 44.40, 8.92, 44.42, 4326)) from base
         union all
         select id, 'F1', 'F', 'art. 40', st_multi(st_makeenvelope(8.91, 44.40, 8.92, 44.42, 4326)) from variant",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (coord, _, _) = pixel(8.91, 44.41, 12);
    let before = decoded(&tiles, "zoning", 12, coord.x, coord.y, Some("2020-01-01")).await;
    let codes = |t: &Value| -> BTreeSet<String> {
        features(t, "zoning").iter().map(|f| f["properties"]["code"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(codes(&before), BTreeSet::from(["B1".to_string()]), "{before}");
    let b1 = features(&before, "zoning")[0];
    assert_eq!(
        b1["properties"],
        json!({"code": "B1", "class": "B", "nta": "art. 12", "plan": "PUC Genova", "version": "2015"})
    );
    let after = decoded(&tiles, "zoning", 12, coord.x, coord.y, Some("2023-01-01")).await;
    assert_eq!(codes(&after), BTreeSet::from(["B1".to_string(), "F1".to_string()]), "{after}");
    // In 2023 B1 stops where the variant begins (8.91 E): its easternmost vertex is there.
    let b1 = features(&after, "zoning").into_iter().find(|f| f["properties"]["code"] == "B1").unwrap();
    let (_, edge, _) = pixel(8.91, 44.41, 12);
    let max_x = b1["geometry"]["coordinates"].to_string();
    let xs: Vec<f64> = serde_json::from_str::<Value>(&max_x)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|ring| ring.as_array().unwrap().iter().map(|p| p[0].as_f64().unwrap()))
        .collect();
    let east = xs.iter().cloned().fold(f64::MIN, f64::max);
    assert!((east - edge).abs() <= 1.0, "B1 reaches {east}, the variant starts at {edge}");
    // Today (no date) is after 2022 too.
    assert_eq!(codes(&decoded(&tiles, "zoning", 12, coord.x, coord.y, None).await).len(), 2);

    // Streets and house numbers: civici from zoom 17 only.
    sqlx::raw_sql(
        "insert into toponymy.street (progressivo_nazionale, belfiore, istat, odonimo, dug, denominazione, geom)
         values (7001, 'D969', '010025', 'VIA XX SETTEMBRE', 'VIA', 'XX SETTEMBRE', st_setsrid(st_makepoint(8.9370, 44.4065), 4326));
         insert into toponymy.civico (progressivo_accesso, progressivo_nazionale, numero, esponente, specificita, geom)
         values (1, 7001, 12, '', 'ROSSO', st_setsrid(st_makepoint(8.93701, 44.40651), 4326)),
                (2, 7001, 12, 'A', '', st_setsrid(st_makepoint(8.93705, 44.40652), 4326))",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (c17, _, _) = pixel(8.93701, 44.40651, 17);
    let tile = decoded(&tiles, "civici,streets", 17, c17.x, c17.y, None).await;
    let labels: BTreeSet<String> = features(&tile, "civici")
        .iter()
        .map(|f| f["properties"]["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(labels, BTreeSet::from(["12r".to_string(), "12A".to_string()]), "{tile}");
    assert_eq!(features(&tile, "civici")[0]["properties"]["street"], "VIA XX SETTEMBRE");
    assert_eq!(
        features(&tile, "streets")[0]["properties"],
        json!({"name": "VIA XX SETTEMBRE", "comune": "010025", "civici": 0})
    );
    let (c16, _, _) = pixel(8.93701, 44.40651, 16);
    let tile = decoded(&tiles, "civici,streets", 16, c16.x, c16.y, None).await;
    assert!(features(&tile, "civici").is_empty() && features(&tile, "streets").len() == 1, "{tile}");

    // DBT: buildings from zoom 14, roads from 13.
    dbt_objects(
        &pool,
        "EDIFC",
        &[(
            "edificio-1",
            "POLYGON((8.9338 44.4072, 8.9341 44.4072, 8.9341 44.4074, 8.9338 44.4074, 8.9338 44.4072))",
        )],
    )
    .await;
    dbt_objects(&pool, "TR_STR", &[("strada-1", "LINESTRING(8.9330 44.4070, 8.9350 44.4080)")]).await;
    let classes = |t: &Value| -> BTreeSet<String> {
        features(t, "dbt").iter().map(|f| f["properties"]["class"].as_str().unwrap().to_string()).collect()
    };
    let (c, _, _) = pixel(8.9340, 44.4073, 14);
    assert_eq!(
        classes(&decoded(&tiles, "dbt", 14, c.x, c.y, None).await),
        BTreeSet::from(["EDIFC".into(), "TR_STR".into()])
    );
    let (c, _, _) = pixel(8.9340, 44.4073, 13);
    assert_eq!(classes(&decoded(&tiles, "dbt", 13, c.x, c.y, None).await), BTreeSet::from(["TR_STR".into()]));
    let (c, _, _) = pixel(8.9340, 44.4073, 11);
    assert_eq!(decoded(&tiles, "dbt", 11, c.x, c.y, None).await, json!({}));

    // Several layers in one tile.
    let (c, _, _) = pixel(8.9340, 44.4073, 14);
    let tile = decoded(&tiles, "dbt,alert_zones,zoning", 14, c.x, c.y, None).await;
    let names: BTreeSet<&str> = tile.as_object().unwrap().keys().map(String::as_str).collect();
    // No zone of the plan there: a layer without features is left out of the tile.
    assert_eq!(names, BTreeSet::from(["alert_zones", "dbt"]), "{tile}");
}
