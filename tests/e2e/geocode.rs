//! The geocoder through the real binary: `vedetta import comuni` with ISTAT's list and the boundaries (in any
//! order), `vedetta import anncsu`, then `GET /api/geocode` names the comune, filters on a comune written in the
//! query, breaks ties with the map's view and refuses bad parameters with a reason.

use testkit::TestDb;

use crate::support::{Launch, Vedetta, get, import};

fn serve(root: &std::path::Path, db: &TestDb) -> Vedetta {
    let mut vedetta = Launch::serve(root).env("VEDETTA_DATABASE_URL", &db.url).spawn();
    vedetta.wait_healthy();
    vedetta
}

/// `q` with spaces and punctuation escaped for a URL.
fn escape(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn the_istat_list_then_anncsu_then_addresses_are_labelled_with_their_comune() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let list = testkit::test_data("comuni/Elenco-comuni-italiani.csv");
    let genova = testkit::test_data("comuni/limits_P_10_municipalities.geojson");
    // The list and a boundary file together, the list second: recognised by content, in any order.
    let out = import(root.path(), &db, &["comuni", genova.to_str().unwrap(), list.to_str().unwrap()]);
    assert!(out.contains("67 comuni created"), "{out}");
    assert!(
        out.contains(
            "ISTAT list, 7896 comuni: 7896 created, 0 updated, 0 unchanged, 0 invalid; 67 with boundaries"
        ),
        "{out}"
    );
    // Again, the list first: nothing changes, no boundary goes.
    let out = import(root.path(), &db, &["comuni", list.to_str().unwrap(), genova.to_str().unwrap()]);
    assert!(out.contains("0 created, 0 updated, 7896 unchanged"), "{out}");
    let indirizzi = testkit::test_data("anncsu/anncsu_lamezia_indirizzario_20260602.csv");
    let strade = testkit::test_data("anncsu/anncsu_lamezia_stradario_20260602.csv");
    let out = import(root.path(), &db, &["anncsu", indirizzi.to_str().unwrap(), strade.to_str().unwrap()]);
    assert!(out.contains("house numbers:"), "{out}");
    // Catanzaro has an Atrio Addolorata 12 too.
    let catanzaro = root.path().join("catanzaro.csv");
    std::fs::write(
        &catanzaro,
        "CODICE_COMUNE;CODICE_ISTAT;PROGRESSIVO_NAZIONALE;CODICE_COMUNALE;ODONIMO;LOCALITA';DIZIONE_LINGUA1;\
         DIZIONE_LINGUA2;PROGRESSIVO_ACCESSO;CODICE_COMUNALE_ACCESSO;CIVICO;ESPONENTE;SPECIFICITA;METRICO;\
         PROGRESSIVO_SNC;COORD_X_COMUNE;COORD_Y_COMUNE;QUOTA;METODO\n\
         C352;079023;9000001;;ATRIO ADDOLORATA;;;;9000101;;12;;;;;16,5940;38,9090;0;4\n",
    )
    .unwrap();
    import(root.path(), &db, &["anncsu", catanzaro.to_str().unwrap()]);

    let vedetta = serve(root.path(), &db);
    let geocode = |query: &str| get(&vedetta.url(&format!("/api/geocode?{query}")), None);
    for q in [
        "Atrio Addolorata n. 12, Lamezia Terme",
        "Atrio Addolorata 12 Lamezia",
        "atrio addolorata 12 (CZ) lamezia terme",
    ] {
        let (status, body) = geocode(&format!("q={}", escape(q)));
        assert_eq!(status, 200, "{q}: {body}");
        let first = &body["candidates"][0];
        assert_eq!(first["label"], "Atrio Addolorata 12, Lamezia Terme", "{q}: {body}");
        assert_eq!(
            (first["comune"].as_str(), first["istat"].as_str()),
            (Some("Lamezia Terme"), Some("079160"))
        );
        assert_eq!((first["lon"].as_f64(), first["lat"].as_f64()), (Some(16.2854363), Some(38.9700306)));
        assert!(body["candidates"].as_array().unwrap().iter().all(|c| c["istat"] == "079160"), "{q}: {body}");
    }
    // The same street and number in two comuni: the map's view decides.
    let labels = |query: &str| -> Vec<String> {
        let (status, body) = geocode(query);
        assert_eq!(status, 200, "{query}: {body}");
        body["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .take(2)
            .map(|c| c["label"].as_str().unwrap().to_string())
            .collect()
    };
    let q = escape("atrio addolorata 12");
    assert_eq!(labels(&format!("q={q}&lat=38.91&lon=16.60"))[0], "Atrio Addolorata 12, Catanzaro");
    assert_eq!(labels(&format!("q={q}&bbox=16.5,38.85,16.7,38.95"))[0], "Atrio Addolorata 12, Catanzaro");
    assert_eq!(labels(&format!("q={q}&lat=38.97&lon=16.28"))[0], "Atrio Addolorata 12, Lamezia Terme");
    // Reverse geocoding names the comune too.
    let (status, hit) = get(&vedetta.url("/api/reverse?lat=38.9090&lon=16.5940&radius=10"), None);
    assert_eq!(
        (status, hit["civico"]["label"].as_str()),
        (200, Some("Atrio Addolorata 12, Catanzaro")),
        "{hit}"
    );

    // Bad parameters: 400 with a reason, and the server is none the worse.
    let long = "a".repeat(201);
    for (query, phrase) in [
        ("q=".to_string(), "`q` is empty"),
        (format!("q={long}"), "longer than 200"),
        ("q=via%00roma".to_string(), "NUL"),
        (format!("q={q}&comune=a%00b"), "NUL"),
        (format!("q={q}&limit=0"), "`limit`"),
        (format!("q={q}&limit=51"), "`limit`"),
        (format!("q={q}&lat=91&lon=16"), "`lat`"),
        (format!("q={q}&lat=38&lon=NaN"), "`lon`"),
        (format!("q={q}&lat=38"), "go together"),
        (format!("q={q}&bbox=1,2,3"), "four numbers"),
        (format!("q={q}&bbox=16.7,38.85,16.5,38.95"), "below the maximum"),
        (format!("q={q}&bbox=1,2,3,4&lat=1&lon=2"), "not both"),
    ] {
        let (status, body) = geocode(&query);
        assert_eq!(status, 400, "{query}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(phrase), "{query}: {body}");
    }
    let (status, body) = geocode(&format!("q={q}&limit=1"));
    assert_eq!((status, body["candidates"].as_array().map(Vec::len)), (200, Some(1)), "{body}");
    assert_eq!(get(&vedetta.url("/healthz"), None).0, 200);
}
