//! Privacy by design: a reporter's name, email and phone, and the operators' private notes, appear in no public
//! output — the REST listing, one report, its history, the tracking page, nearby reports, open data in GeoJSON and
//! CSV, the statistics, the public live stream (replayed from its start), Open311 GET in JSON and XML, the OGC API
//! — whoever asks without the powers to see them (nobody, or a citizen with an account).

use serde_json::json;
use testkit::TestDb;

use crate::reports::{
    CITIZEN, COUNCILLOR, DE_FERRARI, GENOVA_OP, file, get_raw, jpeg_with_exif_gps, multipart, post_bytes,
    replay_stream, serve,
};
use crate::support::request as call;

const EMAIL: &str = "mario.rossi.privacy@example.org";
const SURNAME: &str = "Privacyrossi";
const PHONE: &str = "+39 010 5557788";
const PRIVATE_NOTE: &str = "Richiamare il segnalante al cellulare";

#[test]
fn the_reporter_appears_in_no_public_output() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);

    let report = json!({
        "lon": DE_FERRARI.0, "lat": DE_FERRARI.1, "category": "buca_stradale",
        "description": "Buca profonda in piazza, pericolosa per i motorini",
        "name": format!("Mario {SURNAME}"), "email": EMAIL, "phone": PHONE, "people_at_risk": true,
    });
    let (content_type, form) = multipart(&report, &[("image/jpeg", &jpeg_with_exif_gps())]);
    let created = post_bytes(&vedetta.url("/api/reports"), None, &content_type, &form);
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let id = created["report"]["id"].as_i64().unwrap();
    let token = created["tracking_token"].as_str().unwrap().to_string();
    // A second report, so that listings have more than the one.
    file(
        &vedetta,
        None,
        &json!({"lon": 8.9350, "lat": 44.4070, "category": "buca_stradale", "description": "Altra buca"}),
    );
    for (to, public_note) in
        [("acknowledged", "Presa in carico"), ("in_progress", "Squadra inviata"), ("resolved", "Riparata")]
    {
        let body = json!({"to": to, "public_note": public_note, "private_note": PRIVATE_NOTE});
        let (status, answer) = call(
            "POST",
            &vedetta.url(&format!("/api/reports/{id}/transitions")),
            Some(GENOVA_OP),
            Some(&body),
        );
        assert_eq!(status, 200, "{answer}");
    }
    // The comune's operator does see the reporter (the check below is not vacuous).
    let operator = get_raw(&vedetta.url(&format!("/api/reports/{id}")), Some(GENOVA_OP)).text();
    assert!(operator.contains(EMAIL) && operator.contains(SURNAME) && operator.contains(PHONE), "{operator}");
    let history = get_raw(&vedetta.url(&format!("/api/reports/{id}/history")), Some(GENOVA_OP)).text();
    assert!(history.contains(PRIVATE_NOTE), "{history}");
    // A councillor of the comune sees who filed it, not how to reach them; never the name of an anonymous one.
    let councillor = get_raw(&vedetta.url(&format!("/api/reports/{id}")), Some(COUNCILLOR)).json();
    assert_eq!(councillor["reporter_name"], format!("Mario {SURNAME}"), "{councillor}");
    let text = councillor.to_string();
    assert!(!text.contains(EMAIL) && !text.contains(PHONE) && councillor.get("private").is_none(), "{text}");
    let anonymous = file(
        &vedetta,
        None,
        &json!({"lon": 8.9345, "lat": 44.4075, "category": "rifiuti", "description": "Rifiuti ingombranti",
                "name": "Giulia Anonimissima", "email": "giulia@example.org", "anonymous": true}),
    );
    let anonymous_id = anonymous["report"]["id"].as_i64().unwrap();
    let seen = get_raw(&vedetta.url(&format!("/api/reports/{anonymous_id}")), Some(COUNCILLOR)).text();
    assert!(!seen.contains("Anonimissima") && !seen.contains("giulia@"), "{seen}");
    let seen = get_raw(&vedetta.url(&format!("/api/reports/{anonymous_id}")), Some(GENOVA_OP)).text();
    assert!(seen.contains("Anonimissima"), "the comune's operators may still call back: {seen}");

    let outputs = [
        "/api/reports".to_string(),
        "/api/reports?comune=010025&status=resolved".to_string(),
        format!("/api/reports/{id}"),
        format!("/api/reports/{id}/history"),
        format!("/api/reports/track/{token}"),
        format!("/api/reports/nearby?lon={}&lat={}&category=buca_stradale", DE_FERRARI.0, DE_FERRARI.1),
        "/api/reports/opendata.geojson".to_string(),
        "/api/reports/opendata.csv".to_string(),
        "/api/stats/reports".to_string(),
        "/api/stats/reports?comune=010025&min_count=1".to_string(),
        "/open311/v2/requests.json".to_string(),
        "/open311/v2/requests.xml".to_string(),
        format!("/open311/v2/requests/{id}.json"),
        format!("/open311/v2/requests/{id}.xml"),
        format!("/open311/v2/requests.json?service_request_id={id}"),
        "/ogc/collections".to_string(),
    ];
    let mut checked = 0;
    for path in &outputs {
        for caller in [None, Some(CITIZEN)] {
            let answer = get_raw(&vedetta.url(path), caller);
            assert_eq!(answer.status, 200, "GET {path} as {caller:?} → {}", answer.text());
            let text = answer.text();
            let has_reports =
                !["/api/stats", "/ogc"].iter().any(|p| path.starts_with(p)) && !path.ends_with("/history");
            assert!(
                !has_reports || text.to_lowercase().contains("buca"),
                "GET {path}: the reports are there: {text}"
            );
            for secret in
                [EMAIL, SURNAME, PHONE, PRIVATE_NOTE, "mario.rossi", "reporter_email", "reporter_name"]
            {
                assert!(
                    !text.to_lowercase().contains(&secret.to_lowercase()),
                    "GET {path} as {caller:?} reveals {secret:?}:\n{text}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, outputs.len() * 2);

    // The photo itself: no metadata left to reveal where or by whom it was taken.
    let photo_url = created["report"]["photos"][0]["url"].as_str().unwrap();
    let photo = get_raw(photo_url, None);
    assert_eq!(photo.status, 200);
    let bytes = String::from_utf8_lossy(&photo.body).to_lowercase();
    assert!(!bytes.contains("gps") && !bytes.contains("exif") && !bytes.contains("cam-0042"));

    // The public live stream, replayed from the beginning: every change of the report, none with the reporter.
    let events =
        |stream: &str| stream.lines().filter(|l| l.starts_with("event:") && l.contains("report")).count();
    let stream = replay_stream(&vedetta, None, |s| events(s) >= 5);
    assert!(events(&stream) >= 5, "creation, a second report and three steps:\n{stream}");
    for secret in [EMAIL, SURNAME, PHONE, PRIVATE_NOTE, "reporter_email", "reporter_name"] {
        assert!(
            !stream.to_lowercase().contains(&secret.to_lowercase()),
            "the stream reveals {secret:?}:\n{stream}"
        );
    }
}
