//! Open311 GeoReport v2 through the real binary: services in JSON and XML (well-formed, checked by xmllint), a
//! request filed exactly as FixMyStreet's Open311 client files it (a form body with `api_key` and
//! `jurisdiction_id`, the XML answer read for the id), read back open with its category, closed through the REST
//! workflow with its status notes, attributes stored as answered, an address geocoded through ANNCSU, the spec's
//! error bodies (403 without a key, 400 for an unknown service or a point at sea, 404 for an unknown
//! jurisdiction), and the independent `georeport` client reading services and the request in both formats.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::TestDb;

use crate::support::{
    LAMEZIA, Launch, Vedetta, block_on, data, import, import_lamezia, python_client, request as call,
};

const ADMIN: &str = "vdt_open311_admin";
/// The key an Open311 client (a FixMyStreet installation) is given: a citizen's token.
const CLIENT_KEY: &str = "vdt_open311_fixmystreet_client";
const GENOVA: &str = "010025";
/// Via XX Settembre, Genova.
const IN_GENOVA: (f64, f64) = (44.4066, 8.9395);
/// The Ligurian Sea, 12 km off the coast.
const AT_SEA: (f64, f64) = (44.30, 8.90);
const EMAIL: &str = "giovanna.parodi.open311@example.org";
const SURNAME: &str = "Parodischi";

/// Runs SQL statements on the test database.
fn execute(db: &TestDb, statements: &[&str]) {
    block_on(async {
        let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
        for sql in statements {
            sqlx::query(sql).execute(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        pool.close().await;
    });
}

/// A serve over the comuni of the province of Genova and, for geocoding, Lamezia Terme (a box around its ANNCSU
/// addresses) with its ANNCSU; an admin token and the client's key; Genova's potholes with three attributes.
fn serve(root: &std::path::Path, db: &TestDb) -> Vedetta {
    import(root, db, &["comuni", &data("comuni/limits_P_10_municipalities.geojson")]);
    import_lamezia(root, db);
    let mut vedetta =
        Launch::serve(root).env("VEDETTA_DATABASE_URL", &db.url).env("VEDETTA_ADMIN_TOKEN", ADMIN).spawn();
    vedetta.wait_healthy();
    execute(
        db,
        &[&format!(
            "insert into core.api_token (name, role, token_sha256) values
             ('FixMyStreet Liguria', 'citizen', sha256(convert_to('{CLIENT_KEY}', 'UTF8')))"
        )],
    );
    let pothole = json!({
        "name_it": "Buca stradale", "name_en": "Pothole", "group": "strade", "keywords": ["buca", "asfalto"],
        "attributes": [
            {"code": "profondita", "datatype": "number", "required": true, "description": "Profondità (cm)", "order": 1},
            {"code": "corsia", "datatype": "singlevaluelist", "description": "Corsia", "order": 2,
             "values": [{"key": "destra", "name": "Destra"}, {"key": "sinistra", "name": "Sinistra"}]},
            {"code": "pericoli", "datatype": "multivaluelist", "description": "Pericoli", "order": 3,
             "values": [{"key": "ghiaccio", "name": "Ghiaccio"}, {"key": "olio", "name": "Olio"},
                        {"key": "vetri", "name": "Vetri"}]}
        ]
    });
    let (status, body) = call(
        "PUT",
        &vedetta.url(&format!("/api/reports/categories/{GENOVA}/buca_stradale")),
        Some(ADMIN),
        Some(&pothole),
    );
    assert_eq!(status, 200, "{body}");
    vedetta
}

/// A GET: status, content type and body text.
fn get_text(url: &str) -> (u16, String, String) {
    let response = match ureq::get(url).timeout(Duration::from_secs(20)).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    let status = response.status();
    let content_type = response.header("content-type").unwrap_or_default().to_string();
    (status, content_type, response.into_string().unwrap_or_default())
}

/// A GET of JSON: status and body.
fn get_json(url: &str) -> (u16, Value) {
    let (status, content_type, text) = get_text(url);
    assert!(content_type.starts_with("application/json"), "{url}: {content_type} {text}");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}")))
}

/// A form POST as FixMyStreet's Open311 client sends it (`application/x-www-form-urlencoded`): status, content
/// type and body text.
fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let response = match ureq::post(url).timeout(Duration::from_secs(20)).send_form(form) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST {url}: {e}"),
    };
    let status = response.status();
    let content_type = response.header("content-type").unwrap_or_default().to_string();
    (status, content_type, response.into_string().unwrap_or_default())
}

/// Asserts that `xml` is well-formed (xmllint) and starts with the UTF-8 declaration the spec requires.
fn assert_well_formed(xml: &str) {
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "{xml}");
    let mut child = Command::new("xmllint")
        .args(["--noout", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint is installed");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), xml.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "xmllint: {}\n{xml}", String::from_utf8_lossy(&out.stderr));
}

/// The text of the first `<name>` element of `xml`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

/// The form FixMyStreet's Open311 client posts for a report (its `_post` puts `jurisdiction_id` and `api_key` first).
fn fixmystreet_form<'a>(
    key: &'a str,
    (lat, long): (f64, f64),
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, String)> {
    let mut form: Vec<(&str, String)> = vec![
        ("jurisdiction_id", GENOVA.into()),
        ("api_key", key.into()),
        ("lat", lat.to_string()),
        ("long", long.to_string()),
        ("email", EMAIL.into()),
        (
            "description",
            "title: Buca in via XX Settembre\n\ndetail: Profonda, davanti al civico 20.\n\nSubmitted via FixMyStreet"
                .into(),
        ),
        ("service_code", "buca_stradale".into()),
        ("first_name", "Giovanna".into()),
        ("last_name", SURNAME.into()),
        ("phone", "+39 010 555 0101".into()),
        ("media_url", "https://fixmystreet.example.org/photo/123.jpeg".into()),
    ];
    form.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    form
}

fn post(vedetta: &Vedetta, format: &str, form: &[(&str, String)]) -> (u16, String, String) {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post_form(&vedetta.url(&format!("/open311/v2/requests.{format}")), &pairs)
}

#[test]
fn open311_round_trip_as_fixmystreet_posts_and_georeport_reads() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);
    let v2 = |path: &str| vedetta.url(&format!("/open311/v2/{path}"));

    // Discovery, in both formats.
    let (status, discovery) = get_json(&v2("discovery.json"));
    assert_eq!(status, 200);
    assert_eq!(discovery["endpoints"][0]["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert!(discovery["endpoints"][0]["url"].as_str().unwrap().ends_with("/open311/v2"), "{discovery}");
    let (status, content_type, xml) = get_text(&v2("discovery.xml"));
    assert_eq!((status, content_type.starts_with("text/xml")), (200, true), "{content_type}");
    assert_well_formed(&xml);
    assert!(xml.contains("<format>application/json</format>"), "{xml}");

    // Services: Genova's catalogue (its own pothole with attributes) and the default one, in JSON and XML.
    let (status, services) = get_json(&v2(&format!("services.json?jurisdiction_id={GENOVA}")));
    assert_eq!(status, 200, "{services}");
    let services = services.as_array().unwrap();
    assert_eq!(services.len(), 9, "the nine default categories: {services:?}");
    let pothole = services.iter().find(|s| s["service_code"] == "buca_stradale").unwrap();
    assert_eq!(pothole["service_name"], "Buca stradale");
    assert_eq!(pothole["metadata"], true);
    assert_eq!(pothole["type"], "realtime");
    assert_eq!(pothole["group"], "strade");
    let flooding = services.iter().find(|s| s["service_code"] == "allagamento").unwrap();
    assert_eq!(flooding["metadata"], false);
    let (status, defaults) = get_json(&v2("services.json?jurisdiction_id="));
    assert_eq!(status, 200, "an empty jurisdiction_id is the default catalogue");
    let default_pothole =
        defaults.as_array().unwrap().iter().find(|s| s["service_code"] == "buca_stradale").unwrap();
    assert_eq!(default_pothole["metadata"], false, "the default pothole has no attributes");
    let (status, content_type, xml) = get_text(&v2(&format!("services.xml?jurisdiction_id={GENOVA}")));
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    assert_well_formed(&xml);
    assert_eq!(xml.matches("<service>").count(), 9, "{xml}");
    assert!(xml.contains("<service_code>buca_stradale</service_code>"), "{xml}");

    // The service definition, at services/ and at the service/ alias.
    let (status, definition) =
        get_json(&v2(&format!("services/buca_stradale.json?jurisdiction_id={GENOVA}")));
    assert_eq!(status, 200, "{definition}");
    assert_eq!(definition["service_code"], "buca_stradale");
    let attributes = definition["attributes"].as_array().unwrap();
    assert_eq!(
        attributes.iter().map(|a| a["code"].as_str().unwrap()).collect::<Vec<_>>(),
        ["profondita", "corsia", "pericoli"]
    );
    assert_eq!(attributes[0]["datatype"], "number");
    assert_eq!(attributes[0]["required"], true);
    assert_eq!(attributes[2]["values"][1], json!({"key": "olio", "name": "Olio"}));
    let (status, _, xml) = get_text(&v2(&format!("service/buca_stradale.xml?jurisdiction_id={GENOVA}")));
    assert_eq!(status, 200, "{xml}");
    assert_well_formed(&xml);
    assert!(xml.contains("<datatype>multivaluelist</datatype>"), "{xml}");

    // POST as FixMyStreet does: form body, XML answer, the id read from <service_request_id>.
    let form = fixmystreet_form(
        CLIENT_KEY,
        IN_GENOVA,
        &[
            ("attribute[profondita]", "12.5"),
            ("attribute[corsia]", "destra"),
            ("attribute[pericoli][]", "ghiaccio"),
            ("attribute[pericoli][]", "vetri"),
            ("address_id", "ignored"),
            ("device_id", "ignored"),
        ],
    );
    let (status, content_type, xml) = post(&vedetta, "xml", &form);
    assert_eq!(status, 200, "{xml}");
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    assert_well_formed(&xml);
    assert!(xml.contains("<service_requests><request><service_request_id>"), "{xml}");
    assert!(xml.contains("<account_id/>"), "{xml}");
    let id = element(&xml, "service_request_id").unwrap().to_string();
    assert!(element(&xml, "service_notice").unwrap().contains("Genova"), "{xml}");
    let id_n: i64 = id.parse().unwrap();

    // The attributes are stored as answered (a number, a key, a list of keys); the reporter privately.
    let (attributes, source, email): (Value, String, Option<String>) = block_on(async {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let row =
            sqlx::query_as("select attributes, source, reporter_email from reports.report where id = $1")
                .bind(id_n)
                .fetch_one(&pool)
                .await
                .unwrap();
        pool.close().await;
        row
    });
    assert_eq!(
        attributes,
        json!({"profondita": 12.5, "corsia": "destra", "pericoli": ["ghiaccio", "vetri"]})
    );
    assert_eq!(source, "open311");
    assert_eq!(email.as_deref(), Some(EMAIL));

    // Read back: open, with the category's name, the comune as the agency, the point, the media_url.
    let (status, list) = get_json(&v2(&format!("requests/{id}.json")));
    assert_eq!(status, 200, "{list}");
    let request = &list[0];
    assert_eq!(request["service_request_id"], id.as_str());
    assert_eq!(request["status"], "open");
    assert_eq!(request["service_code"], "buca_stradale");
    assert_eq!(request["service_name"], "Buca stradale");
    assert_eq!(request["agency_responsible"], "Genova");
    assert_eq!(request["media_url"], "https://fixmystreet.example.org/photo/123.jpeg");
    assert!((request["lat"].as_f64().unwrap() - IN_GENOVA.0).abs() < 1e-9, "{request}");
    assert!((request["long"].as_f64().unwrap() - IN_GENOVA.1).abs() < 1e-9, "{request}");
    let requested = request["requested_datetime"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(requested).is_ok() && requested.ends_with("+00:00"),
        "{requested}"
    );
    let (status, _, xml) = get_text(&v2(&format!("tokens/{id}.xml")));
    assert_eq!(status, 200, "{xml}");
    assert_eq!(element(&xml, "service_request_id"), Some(id.as_str()));
    assert_eq!(element(&xml, "token"), Some(id.as_str()));

    // The same request through JSON, with a key in the query string; listed by service_code and status.
    let mut form = fixmystreet_form("", IN_GENOVA, &[("attribute[profondita]", "3")]);
    form.retain(|(k, _)| *k != "api_key");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, text) = post_form(&v2(&format!("requests.json?api_key={CLIENT_KEY}")), &pairs);
    assert_eq!(status, 200, "{text}");
    let created: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(created[0]["account_id"], Value::Null);
    let second = created[0]["service_request_id"].as_str().unwrap().to_string();
    let (_, open) = get_json(&v2(&format!(
        "requests.json?jurisdiction_id={GENOVA}&service_code=buca_stradale&status=open"
    )));
    let ids: Vec<&str> =
        open.as_array().unwrap().iter().map(|r| r["service_request_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [second.as_str(), id.as_str()], "newest first");

    // Resolved through the REST workflow: closed, with the comune's public note as status_notes.
    let note = "Buca chiusa con asfalto a freddo il 3 marzo";
    let (status, body) = call(
        "POST",
        &vedetta.url(&format!("/api/reports/{id}/transitions")),
        Some(ADMIN),
        Some(&json!({"to": "resolved", "public_note": note})),
    );
    assert_eq!(status, 200, "{body}");
    let (_, list) = get_json(&v2(&format!("requests/{id}.json")));
    assert_eq!(list[0]["status"], "closed");
    assert_eq!(list[0]["status_notes"], note);
    let (_, _, xml) = get_text(&v2(&format!("requests.xml?service_request_id={id},{second}")));
    assert_well_formed(&xml);
    assert_eq!(xml.matches("<request>").count(), 2, "{xml}");
    assert!(xml.contains("<status>closed</status>") && xml.contains("<status>open</status>"), "{xml}");
    let (_, closed) = get_json(&v2("requests.json?status=closed"));
    assert_eq!(closed.as_array().unwrap().len(), 1, "{closed}");

    // An address_string is geocoded through ANNCSU (the first candidate) in the jurisdiction named.
    let mut form = fixmystreet_form(CLIENT_KEY, (0.0, 0.0), &[("address_string", "Atrio Addolorata 12")]);
    form.retain(|(k, _)| !matches!(*k, "lat" | "long"));
    for (k, v) in form.iter_mut() {
        match *k {
            "jurisdiction_id" => *v = LAMEZIA.into(),
            "service_code" => *v = "rifiuti".into(),
            _ => {}
        }
    }
    let (status, _, text) = post(&vedetta, "json", &form);
    assert_eq!(status, 200, "{text}");
    let geocoded =
        serde_json::from_str::<Value>(&text).unwrap()[0]["service_request_id"].as_str().unwrap().to_string();
    let (_, list) = get_json(&v2(&format!("requests/{geocoded}.json")));
    assert_eq!(list[0]["agency_responsible"], "Lamezia Terme", "{list}");
    assert!((list[0]["lat"].as_f64().unwrap() - 38.97).abs() < 0.01, "{list}");
    assert!((list[0]["long"].as_f64().unwrap() - 16.28).abs() < 0.01, "{list}");
    assert!(list[0]["address"].as_str().is_some_and(|a| a.to_lowercase().contains("addolorata")), "{list}");

    // The independent client reads services and the request, in JSON and in XML.
    let read =
        python_client("open311_client.py", &[&vedetta.url("/open311/v2"), GENOVA, "buca_stradale", &id]);
    for fmt in ["json", "xml"] {
        let r = &read[fmt];
        let codes: Vec<&str> =
            r["services"].as_array().unwrap().iter().map(|s| s["service_code"].as_str().unwrap()).collect();
        assert_eq!(codes.len(), 9, "{fmt}: {r}");
        assert!(codes.contains(&"buca_stradale"), "{fmt}: {r}");
        assert_eq!(r["definition"]["service_code"], "buca_stradale", "{fmt}: {r}");
        assert_eq!(r["request"]["service_request_id"], id.as_str(), "{fmt}: {r}");
        assert_eq!(r["request"]["status"], "closed", "{fmt}: {r}");
        assert_eq!(r["request"]["status_notes"], note, "{fmt}: {r}");
        assert_eq!(r["request"]["service_name"], "Buca stradale", "{fmt}: {r}");
        assert_eq!(r["listed_ids"], json!([id]), "{fmt}: {r}");
    }
    assert_eq!(read["xml"]["definition"]["attributes"]["attribute"][0]["code"], "profondita", "{read}");

    // Nothing of the reporter leaves through Open311.
    for path in [
        format!("requests.json?jurisdiction_id={GENOVA}&status=open,closed"),
        format!("requests.xml?jurisdiction_id={GENOVA}"),
        format!("requests/{id}.json"),
        format!("requests/{id}.xml"),
        format!("requests/{second}.xml"),
    ] {
        let (status, _, text) = get_text(&v2(&path));
        assert_eq!(status, 200, "{path}");
        for secret in [EMAIL, SURNAME, "555 0101", "Giovanna"] {
            assert!(!text.contains(secret), "{path} shows `{secret}`: {text}");
        }
    }
}

#[test]
fn open311_mistakes_get_the_spec_error_bodies() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);
    let v2 = |path: &str| vedetta.url(&format!("/open311/v2/{path}"));
    let attribute = [("attribute[profondita]", "4")];

    // No key, or a key that is no token: 403, in the format asked for.
    let mut no_key = fixmystreet_form(CLIENT_KEY, IN_GENOVA, &attribute);
    no_key.retain(|(k, _)| *k != "api_key");
    let (status, content_type, xml) = post(&vedetta, "xml", &no_key);
    assert_eq!(status, 403, "{xml}");
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    assert_well_formed(&xml);
    assert!(xml.contains("<errors><error><code>403</code><description>"), "{xml}");
    assert!(element(&xml, "description").unwrap().contains("api_key"), "{xml}");
    let (status, _, text) =
        post(&vedetta, "json", &fixmystreet_form("vdt_not_a_token", IN_GENOVA, &attribute));
    assert_eq!(status, 403, "{text}");
    let errors: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(errors[0]["code"], 403, "{errors}");
    assert!(errors[0]["description"].as_str().unwrap().contains("api_key"), "{errors}");

    // An unknown service code: 400 listing the services.
    let mut unknown = fixmystreet_form(CLIENT_KEY, IN_GENOVA, &attribute);
    unknown.iter_mut().filter(|(k, _)| *k == "service_code").for_each(|(_, v)| *v = "graffiti".into());
    let (status, _, text) = post(&vedetta, "json", &unknown);
    assert_eq!(status, 400, "{text}");
    let errors: Value = serde_json::from_str(&text).unwrap();
    let description = errors[0]["description"].as_str().unwrap();
    assert!(description.contains("graffiti") && description.contains("buca_stradale"), "{description}");

    // A point at sea: 400 that says so.
    let (status, _, xml) = post(&vedetta, "xml", &fixmystreet_form(CLIENT_KEY, AT_SEA, &attribute));
    assert_eq!(status, 400, "{xml}");
    assert_well_formed(&xml);
    assert!(element(&xml, "description").unwrap().contains("outside every comune"), "{xml}");

    // A required attribute missing, a list value that is not a key, a number that is not one: 400 naming it.
    for (extra, phrase) in [
        (vec![], "attribute[profondita] is required"),
        (vec![("attribute[profondita]", "4"), ("attribute[corsia]", "centro")], "attribute[corsia]"),
        (vec![("attribute[profondita]", "molto")], "not a number"),
    ] {
        let (status, _, text) = post(&vedetta, "json", &fixmystreet_form(CLIENT_KEY, IN_GENOVA, &extra));
        assert_eq!(status, 400, "{text}");
        assert!(text.contains(phrase), "{phrase}: {text}");
    }

    // Location missing or malformed, a jurisdiction that is not the point's, a body that is not a form.
    let mut nowhere = fixmystreet_form(CLIENT_KEY, IN_GENOVA, &attribute);
    nowhere.retain(|(k, _)| !matches!(*k, "lat" | "long"));
    let (status, _, text) = post(&vedetta, "json", &nowhere);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("address_string"), "{text}");
    let mut elsewhere = fixmystreet_form(CLIENT_KEY, IN_GENOVA, &attribute);
    elsewhere.iter_mut().filter(|(k, _)| *k == "jurisdiction_id").for_each(|(_, v)| *v = LAMEZIA.into());
    let (status, _, text) = post(&vedetta, "json", &elsewhere);
    assert_eq!(status, 400, "{text}");
    let (status, _, text) =
        post(&vedetta, "json", &fixmystreet_form(CLIENT_KEY, (f64::NAN, 8.9), &attribute));
    assert_eq!(status, 400, "{text}");
    let response = ureq::post(&v2("requests.json"))
        .set("Content-Type", "application/json")
        .send_string(&json!({"api_key": CLIENT_KEY}).to_string());
    let Err(ureq::Error::Status(415 | 400, r)) = response else {
        panic!("a JSON body is refused: {response:?}")
    };
    assert!(r.into_string().unwrap().contains("application/x-www-form-urlencoded"));

    // Unknown jurisdiction: 404 on services and requests; unknown service or request: 404.
    for path in [
        "services.json?jurisdiction_id=999999",
        "services.json?jurisdiction_id=genova",
        "requests.json?jurisdiction_id=999999",
        "services/graffiti.json",
        "requests/424242.json",
        "requests/0042.json",
        "tokens/424242.json",
        "requests/1.html",
    ] {
        let (status, content_type, text) = get_text(&v2(path));
        assert_eq!(status, 404, "{path}: {text}");
        if path.ends_with(".html") {
            assert!(content_type.starts_with("text/xml"), "{path}: {content_type}");
            assert_well_formed(&text);
        } else {
            let errors: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
            assert_eq!(errors[0]["code"], 404, "{path}: {errors}");
        }
    }
    let (status, _, xml) = get_text(&v2("services.xml?jurisdiction_id=999999"));
    assert_eq!(status, 404);
    assert_well_formed(&xml);
    assert!(xml.contains("<code>404</code>"), "{xml}");

    // Malformed filters: 400, never 500.
    for path in [
        "requests.json?start_date=yesterday",
        "requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
        "requests.json?start_date=2026-02-01&end_date=2026-01-01",
        "requests.json?status=pending",
        "requests.json?service_request_id=abc",
        "requests.json?service_code=Buca%20Stradale",
        "requests.json?service_code=%00",
    ] {
        let (status, _, text) = get_text(&v2(path));
        assert_eq!(status, 400, "{path}: {text}");
        let errors: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(errors[0]["code"], 400, "{path}: {errors}");
    }

    // Nothing was filed, and the server is healthy.
    let filed = crate::support::query_i64(&db.url, "select count(*) from reports.report");
    assert_eq!(filed, 0);
    assert_eq!(get_text(&vedetta.url("/healthz")).0, 200);
}
