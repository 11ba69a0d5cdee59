//! Hostile input and privacy of citizen reports through the real binary: what a stranger, a citizen or an
//! operator may try, and what must never come back — far dates that once overflowed into a 500, the live stream
//! replaying what moderation took away, the hourly limit dodged through Open311, a public duplicate pointing to a
//! hidden report, a stranger filing as the municipal police, photos cached for a year after their removal.

use std::time::Duration;

use serde_json::{Value, json};

use crate::reports::{
    ADMIN, CITIZEN, DE_FERRARI, GENOVA_OP, detail, file, get_raw, replay_stream, report_at, serve,
};
use crate::support::{block_on, request as call};

/// POSTs an Open311 form; status and body text.
fn open311_post(url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = ureq::post(url).timeout(Duration::from_secs(20)).send_form(form);
    let response = match response {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST {url}: {e}"),
    };
    (response.status(), response.into_string().unwrap_or_default())
}

#[test]
fn hostile_requests_get_4xx_and_moderated_content_stays_out_of_replays() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let db = block_on(testkit::TestDb::new());
    let vedetta = serve(root.path(), &db);

    // Far dates: chrono reads years up to ±262143; a window opened from them overflowed (a panic, 500).
    for path in [
        "/open311/v2/requests.json?start_date=%2B262142-12-31",
        "/open311/v2/requests.json?end_date=-262143-01-01",
        "/open311/v2/requests.xml?start_date=9999-12-31",
    ] {
        let raw = get_raw(&vedetta.url(path), None);
        assert_eq!(raw.status, 400, "{path}: {}", raw.text());
        assert!(raw.text().contains("9999"), "{path}: {}", raw.text());
    }
    for path in [
        "/api/stats/reports?to=-262143-01-01",
        "/api/stats/reports?from=%2B262142-12-31",
        "/api/reports?from=-262143-01-01",
        "/api/reports/opendata.csv?to=%2B262142-12-31",
    ] {
        let (status, body) = call("GET", &vedetta.url(path), None, None);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(detail(&body).contains("years 1 to 9999"), "{path}: {body}");
    }
    let (status, body) = call("GET", &vedetta.url("/api/reports?from=0001-01-01&to=9999-12-31"), None, None);
    assert_eq!(status, 200, "the whole calendar is a valid period: {body}");

    // A stranger does not pass for the municipal police or an office; staff may.
    let mut police = report_at(DE_FERRARI, "segnaletica", "Cartello abbattuto");
    police["reporter_type"] = json!("municipal_police");
    let (status, body) = call("POST", &vedetta.url("/api/reports"), None, Some(&police));
    assert_eq!(status, 403, "{body}");
    assert!(detail(&body).contains("reporter_type"), "{body}");
    let filed = file(&vedetta, Some(GENOVA_OP), &police);
    assert_eq!(filed["report"]["reporter_type"], "municipal_police");

    // Hidden and redacted: the public replay of the stream (Last-Event-ID: 0) no longer carries either.
    let hidden_text = "Il vicino Gianfranco Nascosti parcheggia sul marciapiede";
    let redacted_text = "Buca davanti a casa di Ottavia Redatti, tel. 333 1234567";
    let hidden = file(&vedetta, None, &report_at(DE_FERRARI, "altro", hidden_text));
    let redacted = file(&vedetta, None, &report_at(DE_FERRARI, "buca_stradale", redacted_text));
    let id_hidden = hidden["report"]["id"].as_i64().unwrap();
    let id_redacted = redacted["report"]["id"].as_i64().unwrap();
    // Each replay is read until the newest change is in it (see `replay_stream`).
    let before = replay_stream(&vedetta, None, |s| s.contains("Nascosti") && s.contains("Redatti"));
    assert!(before.contains("Nascosti") && before.contains("Redatti"), "public before moderation: {before}");
    let moderate = |id: i64, body: Value| {
        let (status, answer) = call(
            "POST",
            &vedetta.url(&format!("/api/reports/{id}/moderation")),
            Some(GENOVA_OP),
            Some(&body),
        );
        assert_eq!(status, 200, "{answer}");
    };
    moderate(id_hidden, json!({"action": "hide", "reason": "accusa un privato"}));
    moderate(
        id_redacted,
        json!({"action": "redact", "description": "Buca stradale [dati personali rimossi]"}),
    );
    let after = replay_stream(&vedetta, None, |s| s.contains("[dati personali rimossi]"));
    assert!(!after.contains("Nascosti"), "a hidden report replayed to the public: {after}");
    assert!(!after.contains("Redatti") && !after.contains("333 1234567"), "redacted text replayed: {after}");
    assert!(after.contains("[dati personali rimossi]"), "{after}");
    let operator = replay_stream(&vedetta, Some(GENOVA_OP), |s| {
        s.contains(&format!("\"id\":{id_hidden}")) && s.contains("[dati personali rimossi]")
    });
    assert!(operator.contains(&format!("\"id\":{id_hidden}")), "the operator still follows it: {operator}");
    assert!(!operator.contains("Redatti"), "{operator}");

    // A public report may not be marked a duplicate of a hidden one (its id would be public, and its support).
    let public = file(&vedetta, None, &report_at(DE_FERRARI, "altro", "Auto in sosta sul marciapiede"));
    let id_public = public["report"]["id"].as_i64().unwrap();
    let (status, body) = call(
        "POST",
        &vedetta.url(&format!("/api/reports/{id_public}/transitions")),
        Some(GENOVA_OP),
        Some(&json!({"to": "duplicate", "duplicate_of": id_hidden})),
    );
    assert_eq!(status, 422, "{body}");
    assert!(detail(&body).contains("not public"), "{body}");
    let (status, body) = call("GET", &vedetta.url(&format!("/api/reports/{id_public}")), None, None);
    assert_eq!((status, body["status"].as_str()), (200, Some("new")), "{body}");

    // A citizen's own key does not dodge the hourly limit through Open311 (10 per hour per account).
    let url = vedetta.url("/open311/v2/requests.xml");
    let (lon, lat) = (DE_FERRARI.0.to_string(), DE_FERRARI.1.to_string());
    let form = [
        ("api_key", CITIZEN),
        ("jurisdiction_id", ""),
        ("service_code", "rifiuti"),
        ("lat", lat.as_str()),
        ("long", lon.as_str()),
        ("description", "Sacchi abbandonati"),
    ];
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(open311_post(&url, &form));
    }
    assert!(statuses[..10].iter().all(|(s, _)| *s == 200), "{statuses:?}");
    let (status, text) = &statuses[10];
    assert_eq!(*status, 429, "{text}");
    assert!(text.contains("<errors>") && text.contains("at most 10 reports per hour"), "{text}");
    // An admin's key (staff) is not limited.
    let admin_form: Vec<(&str, &str)> =
        form.iter().map(|&(k, v)| if k == "api_key" { (k, ADMIN) } else { (k, v) }).collect();
    assert_eq!(open311_post(&url, &admin_form).0, 200);

    let (status, _) = call("GET", &vedetta.url("/healthz"), None, None);
    assert_eq!(status, 200, "still healthy");
}
