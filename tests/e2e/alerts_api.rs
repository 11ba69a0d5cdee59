//! The alerts' HTTP face through the real binary: roles on every write endpoint, acknowledgements (who, when,
//! note) in the history and on the live stream, bounded silences, manual alerts that escalate and end on one alert
//! id, rules and webhooks administered through the API, alert zones as GeoJSON with their colour, and the CAP 1.2
//! messages and Atom feed of the public alerts.

use std::io::{BufRead, BufReader};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use testkit::TestDb;

use crate::support::{Launch, Vedetta, block_on, query_i64, request as call};

const ADMIN: &str = "vdt_alerts_api_admin";
const OPERATOR: &str = "vdt_alerts_api_operator";
const CITIZEN: &str = "vdt_alerts_api_citizen";
/// The longest a test reads a live stream (ureq's deadline covers the whole body, from the request on): generous
/// for a loaded CI machine.
const SSE_TIMEOUT: Duration = Duration::from_secs(60);

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

/// A serve with an admin token, an operator token ("sala operativa") and a citizen token, and two alert zones:
/// B (two comuni) and C.
fn serve(root: &std::path::Path, db: &TestDb) -> Vedetta {
    let mut vedetta =
        Launch::serve(root).env("VEDETTA_DATABASE_URL", &db.url).env("VEDETTA_ADMIN_TOKEN", ADMIN).spawn();
    vedetta.wait_healthy();
    execute(
        db,
        &[
            &format!(
                "insert into core.api_token (name, role, token_sha256) values
                 ('sala operativa', 'operator', sha256(convert_to('{OPERATOR}', 'UTF8'))),
                 ('a citizen', 'citizen', sha256(convert_to('{CITIZEN}', 'UTF8')))"
            ),
            "insert into alerts.zone (code, name, geom, comuni, source) values
             ('B', 'Genova centro', st_multi(st_makeenvelope(8.85, 44.38, 8.95, 44.48, 4326)),
              array['010015', '010025'], 'geojson'),
             ('C', 'Tigullio', st_multi(st_makeenvelope(9.20, 44.28, 9.40, 44.42, 4326)), array['010028'], 'geojson')",
        ],
    );
    vedetta
}

/// A GET answering text (XML): status, content type and body.
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

fn detail(body: &Value) -> &str {
    body["detail"].as_str().unwrap_or_default()
}

type Lines = std::io::Lines<BufReader<Box<dyn std::io::Read + Send + Sync>>>;

/// Opens the alert stream, with a token and a `Last-Event-ID` when given.
fn open_stream(vedetta: &Vedetta, token: Option<&str>, last_event_id: Option<&str>) -> Lines {
    let mut request = ureq::get(&vedetta.url("/api/alerts/stream")).timeout(SSE_TIMEOUT);
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    if let Some(id) = last_event_id {
        request = request.set("Last-Event-ID", id);
    }
    let response = request.call().expect("the alert stream");
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    BufReader::new(response.into_reader()).lines()
}

/// The next event: its name, id and data.
fn next_event(lines: &mut Lines) -> (String, String, Value) {
    let (mut name, mut id, mut data) = (String::new(), String::new(), Value::Null);
    for line in lines {
        let line = line.unwrap_or_else(|e| panic!("no SSE line within {SSE_TIMEOUT:?}: {e}"));
        if let Some(v) = line.strip_prefix("event:") {
            name = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            data = serde_json::from_str(v.trim()).expect("JSON data");
        } else if line.is_empty() && !data.is_null() {
            return (name, id, data);
        }
    }
    panic!("the stream ended");
}

/// The next `alert` event about alert `id`.
fn next_change_of(lines: &mut Lines, id: i64) -> (String, Value) {
    loop {
        let (name, event_id, data) = next_event(lines);
        assert_eq!(name, "alert");
        if data["id"] == id {
            return (event_id, data);
        }
    }
}

fn manual(vedetta: &Vedetta, token: &str, zone: &str, level: &str) -> (u16, Value) {
    let body =
        json!({"zone": zone, "level": level, "hazard": "idraulico", "message": "Dal bollettino regionale"});
    call("POST", &vedetta.url("/api/alerts/manual"), Some(token), Some(&body))
}

#[test]
fn write_endpoints_are_refused_without_a_token_and_to_a_citizen_and_admin_ones_to_an_operator() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);

    let silence = json!({"scope_kind": "zone", "scope": "B", "minutes": 30});
    let manual_body = json!({"zone": "B", "level": "gialla", "hazard": "idraulico"});
    let rule = json!({"name": "Bisagno", "kind": "level", "thresholds": {"yellow": 2.5}});
    let rules = json!({"rules": [{"code": "x", "name": "x", "kind": "silent"}]});
    let webhook = json!({"name": "sala", "url": "https://hooks.example.org/vedetta"});
    // (method, path, body, least role): operator or admin.
    let endpoints: [(&str, &str, Option<&Value>, &str); 13] = [
        ("POST", "/api/alerts/1/acknowledge", None, "operator"),
        ("GET", "/api/alerts/silences", None, "operator"),
        ("POST", "/api/alerts/silences", Some(&silence), "operator"),
        ("DELETE", "/api/alerts/silences/1", None, "operator"),
        ("POST", "/api/alerts/manual", Some(&manual_body), "operator"),
        ("POST", "/api/alerts/rules/check", Some(&rules), "operator"),
        ("GET", "/api/alerts/rules", None, "admin"),
        ("PUT", "/api/alerts/rules/bisagno", Some(&rule), "admin"),
        ("DELETE", "/api/alerts/rules/bisagno", None, "admin"),
        ("GET", "/api/alerts/webhooks", None, "admin"),
        ("POST", "/api/alerts/webhooks", Some(&webhook), "admin"),
        ("GET", "/api/alerts/webhooks/deliveries", None, "admin"),
        ("POST", "/api/alerts/webhooks/deliveries/1/retry", None, "admin"),
    ];
    for (method, path, body, role) in endpoints {
        let url = vedetta.url(path);
        let (status, problem) = call(method, &url, None, body);
        assert_eq!(status, 401, "{method} {path} without a token: {problem}");
        let (status, problem) = call(method, &url, Some(CITIZEN), body);
        assert_eq!(status, 403, "{method} {path} as a citizen: {problem}");
        assert!(detail(&problem).contains(&format!("needs the {role} role")), "{problem}");
        let (status, problem) = call(method, &url, Some(OPERATOR), body);
        if role == "admin" {
            assert_eq!(status, 403, "{method} {path} as an operator: {problem}");
        } else {
            // Allowed: the answer is the endpoint's own (1 is no alert nor silence: 404).
            assert!(![401, 403].contains(&status), "{method} {path} as an operator: {status} {problem}");
        }
        let (status, problem) = call(method, &url, Some(ADMIN), body);
        assert!(![401, 403].contains(&status), "{method} {path} as an admin: {status} {problem}");
    }
    // Nothing refused was written: only the operator's and the admin's manual alert (one alert) and silences.
    assert_eq!(query_i64(&db.url, "select count(*) from alerts.alert"), 1);
    assert_eq!(query_i64(&db.url, "select count(*) from alerts.silence"), 2);
    assert_eq!(query_i64(&db.url, "select count(*) from alerts.webhook_subscription"), 1);
    // An unknown token is refused even where the public may read.
    let (status, _) = call("GET", &vedetta.url("/api/alerts"), Some("vdt_nobody"), None);
    assert_eq!(status, 401);
    let (status, _) = call("GET", &vedetta.url("/api/alerts"), None, None);
    assert_eq!(status, 200);
}

#[test]
fn operators_acknowledge_silence_and_issue_a_manual_alert_that_escalates_and_ends_on_one_id() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);

    let mut public_stream = open_stream(&vedetta, None, None);
    let (status, issued) = manual(&vedetta, OPERATOR, "B", "gialla");
    assert_eq!(status, 200, "{issued}");
    let alert = &issued["alert"];
    let id = alert["id"].as_i64().unwrap();
    assert_eq!(
        (alert["state"].as_str(), alert["level"].as_str()),
        (Some("firing"), Some("gialla")),
        "{alert}"
    );
    assert_eq!((alert["category"].as_str(), alert["subject"].as_str()), (Some("manual"), Some("B")));
    let (_, fired) = next_change_of(&mut public_stream, id);
    assert_eq!(fired["level"], "gialla");

    // The bulletin turns orange: the same alert escalates.
    let (status, escalated) = manual(&vedetta, OPERATOR, "B", "orange");
    assert_eq!(status, 200, "{escalated}");
    assert_eq!(escalated["alert"]["id"], id);
    assert_eq!(
        (escalated["alert"]["level"].as_str(), escalated["alert"]["change"].as_str()),
        (Some("arancione"), Some("escalated"))
    );
    let (escalation_event, _) = next_change_of(&mut public_stream, id);
    let (_, zone) = call("GET", &vedetta.url("/api/alerts/zones/B"), None, None);
    assert_eq!(zone["properties"]["level"], "arancione", "{zone}");

    // Acknowledged by the operator, with a note: who and when on the alert, in its history, on both streams.
    let (status, acked) = call(
        "POST",
        &vedetta.url(&format!("/api/alerts/{id}/acknowledge")),
        Some(OPERATOR),
        Some(&json!({"note": "Squadra inviata sul Bisagno"})),
    );
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["acknowledged_by"], "sala operativa");
    assert_eq!(acked["ack_note"], "Squadra inviata sul Bisagno");
    assert!(acked["acknowledged_at"].is_string(), "{acked}");
    let (_, public_ack) = next_change_of(&mut public_stream, id);
    assert_eq!(public_ack["change"], "acknowledged");
    assert!(public_ack["acknowledged_at"].is_string());
    assert!(public_ack["acknowledged_by"].is_null() && public_ack["ack_note"].is_null(), "{public_ack}");
    // An operator resuming after the escalation gets the acknowledgement, unredacted.
    let mut resumed = open_stream(&vedetta, Some(OPERATOR), Some(&escalation_event));
    let (_, ack) = next_change_of(&mut resumed, id);
    assert_eq!(
        (ack["change"].as_str(), ack["acknowledged_by"].as_str()),
        (Some("acknowledged"), Some("sala operativa"))
    );
    drop(resumed);

    let (status, full) = call("GET", &vedetta.url(&format!("/api/alerts/{id}")), Some(OPERATOR), None);
    assert_eq!(status, 200, "{full}");
    let history = full["history"].as_array().unwrap();
    let reasons: Vec<&str> = history.iter().map(|h| h["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["fired", "escalated", "acknowledged: Squadra inviata sul Bisagno"]);
    assert_eq!(history[2]["actor"], "sala operativa");
    let (status, public) = call("GET", &vedetta.url(&format!("/api/alerts/{id}")), None, None);
    assert_eq!(status, 200);
    assert!(public["acknowledged_by"].is_null() && public["ack_note"].is_null(), "{public}");
    assert!(public["history"].as_array().unwrap().iter().all(|h| h["actor"].is_null()), "{public}");
    assert_eq!(public["history"][2]["reason"], "acknowledged");
    // A second acknowledgement keeps the first.
    let (status, again) =
        call("POST", &vedetta.url(&format!("/api/alerts/{id}/acknowledge")), Some(ADMIN), None);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["acknowledged_by"], "sala operativa");
    let (status, problem) =
        call("POST", &vedetta.url("/api/alerts/999999/acknowledge"), Some(OPERATOR), None);
    assert_eq!(status, 404, "{problem}");

    // Silences are bounded: not in the past, at most 72 hours.
    let silences = vedetta.url("/api/alerts/silences");
    let past = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let (status, problem) = call(
        "POST",
        &silences,
        Some(OPERATOR),
        Some(&json!({"scope_kind": "zone", "scope": "B", "until": past})),
    );
    assert_eq!(status, 422, "{problem}");
    assert!(detail(&problem).contains("is not in the future"), "{problem}");
    let far = (chrono::Utc::now() + chrono::Duration::hours(73)).to_rfc3339();
    let (status, problem) = call(
        "POST",
        &silences,
        Some(OPERATOR),
        Some(&json!({"scope_kind": "zone", "scope": "B", "until": far})),
    );
    assert_eq!(status, 422, "{problem}");
    assert!(detail(&problem).contains("at most 72 hours"), "{problem}");
    let (status, problem) = call(
        "POST",
        &silences,
        Some(OPERATOR),
        Some(&json!({"scope_kind": "zone", "scope": "B", "minutes": 4321})),
    );
    assert_eq!(status, 422, "{problem}");
    assert!(detail(&problem).contains("at most 72 hours"), "{problem}");
    let (status, problem) = call(
        "POST",
        &silences,
        Some(OPERATOR),
        Some(&json!({"scope_kind": "zone", "scope": "Z", "minutes": 30})),
    );
    assert_eq!(status, 422, "{problem}");
    assert!(detail(&problem).contains("no alert zone has the code `Z`"), "{problem}");
    let (status, problem) =
        call("POST", &silences, Some(OPERATOR), Some(&json!({"scope_kind": "zone", "scope": "B"})));
    assert_eq!(status, 422, "{problem}");
    let (status, silence) = call(
        "POST",
        &silences,
        Some(OPERATOR),
        Some(&json!({"scope_kind": "zone", "scope": "B", "minutes": 90, "note": "Manutenzione"})),
    );
    assert_eq!(status, 201, "{silence}");
    assert_eq!(
        (silence["created_by"].as_str(), silence["note"].as_str()),
        (Some("sala operativa"), Some("Manutenzione"))
    );
    let silence_id = silence["id"].as_i64().unwrap();
    let (_, listed) = call("GET", &silences, Some(OPERATOR), None);
    assert_eq!(listed["silences"].as_array().unwrap().len(), 1, "{listed}");
    let (_, silenced) = call("GET", &vedetta.url(&format!("/api/alerts/{id}")), Some(OPERATOR), None);
    assert_eq!(silenced["silenced"], true, "a zone silence covers the zone's alert: {silenced}");
    let lift = vedetta.url(&format!("/api/alerts/silences/{silence_id}"));
    assert_eq!(call("DELETE", &lift, Some(OPERATOR), None).0, 204);
    assert_eq!(call("DELETE", &lift, Some(OPERATOR), None).0, 404);

    // Verde ends the manual alert: the same id, resolved; a second verde finds nothing to end.
    let (status, ended) = manual(&vedetta, OPERATOR, "B", "verde");
    assert_eq!(status, 200, "{ended}");
    assert_eq!(
        (ended["alert"]["id"].as_i64(), ended["alert"]["state"].as_str()),
        (Some(id), Some("resolved"))
    );
    let (status, nothing) = manual(&vedetta, OPERATOR, "B", "verde");
    assert_eq!((status, &nothing["alert"]), (200, &Value::Null));
    assert_eq!(query_i64(&db.url, "select count(*) from alerts.alert"), 1, "one alert id all along");
    let (_, zone) = call("GET", &vedetta.url("/api/alerts/zones/B"), None, None);
    assert_eq!(zone["properties"]["level"], "verde");
    let (status, problem) = manual(&vedetta, OPERATOR, "NOPE", "rossa");
    assert_eq!(status, 422, "{problem}");
    let (status, problem) = call(
        "POST",
        &vedetta.url("/api/alerts/manual"),
        Some(OPERATOR),
        Some(&json!({"zone": "B", "level": "viola", "hazard": "idraulico"})),
    );
    assert_eq!(status, 422, "{problem}");

    // Everything the operators did is logged.
    let logged = |action: &str| {
        query_i64(
            &db.url,
            &format!(
                "select count(*) from alerts.action_log where action = '{action}' and actor = 'sala operativa'"
            ),
        )
    };
    assert_eq!((logged("acknowledge"), logged("silence"), logged("lift_silence")), (1, 1, 1));
    assert!(logged("manual_alert") >= 4);

    // A technical alert (a silent station) is for the operators only.
    execute(
        &db,
        &["insert into alerts.alert (rule, subject_kind, subject, zone, category, hazard, state, level, peak_level,
              started_at, fired_at, last_change)
           values ('silent', 'station', 'GE-MUTA', 'B', 'technical', 'tecnico', 'firing', 'gialla', 'gialla',
              now(), now(), 'fired')"],
    );
    let technical = query_i64(&db.url, "select id from alerts.alert where category = 'technical'");
    let ids = |body: &Value| -> Vec<i64> {
        body["alerts"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect()
    };
    let (_, public) = call("GET", &vedetta.url("/api/alerts"), None, None);
    assert_eq!(ids(&public), [id], "{public}");
    let (_, public) = call("GET", &vedetta.url("/api/alerts"), Some(CITIZEN), None);
    assert_eq!(ids(&public), [id]);
    let (_, all) = call("GET", &vedetta.url("/api/alerts"), Some(OPERATOR), None);
    assert_eq!(ids(&all), [technical, id]);
    let (_, firing) = call("GET", &vedetta.url("/api/alerts?state=firing&zone=B"), Some(OPERATOR), None);
    assert_eq!(ids(&firing), [technical]);
    let (_, paged) = call("GET", &vedetta.url("/api/alerts?limit=1&offset=1"), Some(OPERATOR), None);
    assert_eq!((ids(&paged), paged["next_offset"].as_i64()), (vec![id], Some(2)));
    assert_eq!(call("GET", &vedetta.url(&format!("/api/alerts/{technical}")), None, None).0, 404);
    assert_eq!(call("GET", &vedetta.url(&format!("/api/alerts/{technical}")), Some(OPERATOR), None).0, 200);
    for bad in ["limit=0", "limit=1001", "offset=-1", "state=burning", "since=yesterday", "category=meteo"] {
        let (status, problem) = call("GET", &vedetta.url(&format!("/api/alerts?{bad}")), None, None);
        assert_eq!(status, 400, "{bad}: {problem}");
    }
}

#[test]
fn rules_and_webhooks_are_administered_through_the_api() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);
    let rule_url = vedetta.url("/api/alerts/rules/bisagno-livello");

    // A bad rule: 422 naming the field, nothing stored.
    let bad = json!({"name": "Bisagno", "kind": "level", "stations": ["GE-BISAGNO-01"],
                     "thresholds": {"yellow": 2.5, "orange": 2.0, "red": 4.0}});
    let (status, problem) = call("PUT", &rule_url, Some(ADMIN), Some(&bad));
    assert_eq!(status, 422, "{problem}");
    assert!(detail(&problem).contains("thresholds.orange"), "{problem}");
    let (status, problem) =
        call("PUT", &rule_url, Some(ADMIN), Some(&json!({"code": "other", "name": "x", "kind": "silent"})));
    assert_eq!(status, 422, "{problem}");
    assert!(detail(&problem).contains("differs from the path"), "{problem}");
    assert_eq!(query_i64(&db.url, "select count(*) from alerts.rule"), 0);

    let good = json!({"name": "Bisagno a Sant'Agata", "kind": "level", "stations": ["GE-BISAGNO-01"],
                      "thresholds": {"yellow": 2.5, "orange": 3.2, "red": 4.0, "clear": {"yellow": 2.3}}, "for": "10m"});
    let (status, stored) = call("PUT", &rule_url, Some(ADMIN), Some(&good));
    assert_eq!(status, 201, "{stored}");
    assert_eq!(
        (stored["code"].as_str(), stored["source"].as_str(), stored["valid"].as_bool()),
        (Some("bisagno-livello"), Some("api"), Some(true))
    );
    let (status, _) = call("PUT", &rule_url, Some(ADMIN), Some(&good));
    assert_eq!(status, 200, "a second PUT replaces");
    let (status, listed) = call("GET", &vedetta.url("/api/alerts/rules"), Some(ADMIN), None);
    assert_eq!(status, 200);
    assert_eq!(listed["rules"][0]["definition"]["thresholds"]["orange"], 3.2, "{listed}");
    assert_eq!(listed["rules"][0]["updated_by"], "admin (configured)");
    let builtin: Vec<&str> =
        listed["builtin"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(builtin, ["level", "rain", "silent"]);
    assert_eq!(query_i64(&db.url, "select count(*) from alerts.action_log where action = 'rule_put'"), 2);

    // Checking a set stores nothing.
    let check = vedetta.url("/api/alerts/rules/check");
    let mut with_code = good.clone();
    with_code["code"] = json!("bisagno-livello");
    let set = json!({"rules": [with_code, {"code": "muta", "name": "Muta", "kind": "silent", "factor": 4}]});
    let (status, verdict) = call("POST", &check, Some(OPERATOR), Some(&set));
    assert_eq!(status, 200, "{verdict}");
    assert_eq!((verdict["valid"].as_bool(), verdict["total"].as_i64()), (Some(true), Some(2)), "{verdict}");
    let (_, verdict) = call(
        "POST",
        &check,
        Some(OPERATOR),
        Some(&json!([{"code": "a", "name": "A", "kind": "level", "colour": 1}])),
    );
    assert_eq!(verdict["valid"], false, "{verdict}");
    assert!(verdict["problems"].as_array().unwrap().iter().any(|p| p["field"] == "colour"), "{verdict}");
    assert_eq!(query_i64(&db.url, "select count(*) from alerts.rule"), 1);

    assert_eq!(call("DELETE", &rule_url, Some(ADMIN), None).0, 204);
    assert_eq!(call("DELETE", &rule_url, Some(ADMIN), None).0, 404);
    assert_eq!(query_i64(&db.url, "select count(*) from alerts.action_log where action = 'rule_delete'"), 1);

    // Webhooks: created with a secret shown once, a change of an alert queued for it, retried only when dead.
    let hooks = vedetta.url("/api/alerts/webhooks");
    let (status, problem) =
        call("POST", &hooks, Some(ADMIN), Some(&json!({"name": "sala", "url": "ftp://hooks.example.org/x"})));
    assert_eq!(status, 422, "{problem}");
    assert!(detail(&problem).contains("url"), "{problem}");
    // Port 9 (discard) on localhost: every attempt fails.
    let body =
        json!({"name": "sala", "url": "http://127.0.0.1:9/hook", "zones": ["B"], "min_level": "yellow"});
    let (status, created) = call("POST", &hooks, Some(ADMIN), Some(&body));
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["secret"].as_str().map(str::len), Some(64), "{created}");
    assert_eq!(
        (created["min_level"].as_str(), created["created_by"].as_str()),
        (Some("gialla"), Some("admin (configured)"))
    );
    let hook_id = created["id"].as_i64().unwrap();
    let (status, problem) = call("POST", &hooks, Some(ADMIN), Some(&body));
    assert_eq!(status, 409, "{problem}");
    let (_, listed) = call("GET", &hooks, Some(ADMIN), None);
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 1);
    assert!(listed["webhooks"][0].get("secret").is_none(), "the secret is never shown again: {listed}");

    let (status, issued) = manual(&vedetta, OPERATOR, "B", "rossa");
    assert_eq!(status, 200, "{issued}");
    let deliveries = vedetta.url(&format!("/api/alerts/webhooks/deliveries?subscription_id={hook_id}"));
    let (status, page) = call("GET", &deliveries, Some(ADMIN), None);
    assert_eq!(status, 200, "{page}");
    let delivery = &page["deliveries"][0];
    assert_eq!(delivery["alert_id"], issued["alert"]["id"], "{page}");
    let delivery_id = delivery["id"].as_i64().unwrap();
    let retry = vedetta.url(&format!("/api/alerts/webhooks/deliveries/{delivery_id}/retry"));
    let (status, problem) = call("POST", &retry, Some(ADMIN), None);
    assert_eq!(status, 409, "only a dead delivery is retried: {problem}");
    execute(&db, &[&format!("update alerts.webhook_delivery set state = 'dead' where id = {delivery_id}")]);
    let (_, dead) =
        call("GET", &vedetta.url("/api/alerts/webhooks/deliveries?state=dead&limit=10"), Some(ADMIN), None);
    assert_eq!(dead["deliveries"].as_array().unwrap().len(), 1, "{dead}");
    let (status, retried) = call("POST", &retry, Some(ADMIN), None);
    assert_eq!(status, 200, "{retried}");
    assert_eq!((retried["state"].as_str(), retried["attempts"].as_i64()), (Some("pending"), Some(0)));
    for bad in ["limit=0", "state=lost", "subscription_id=x"] {
        let (status, problem) =
            call("GET", &vedetta.url(&format!("/api/alerts/webhooks/deliveries?{bad}")), Some(ADMIN), None);
        assert_eq!(status, 400, "{bad}: {problem}");
    }
    assert_eq!(
        call("POST", &vedetta.url("/api/alerts/webhooks/deliveries/987654/retry"), Some(ADMIN), None).0,
        404
    );
    assert_eq!(
        call("DELETE", &vedetta.url(&format!("/api/alerts/webhooks/{hook_id}")), Some(ADMIN), None).0,
        204
    );
    assert_eq!(
        call("DELETE", &vedetta.url(&format!("/api/alerts/webhooks/{hook_id}")), Some(ADMIN), None).0,
        404
    );
    assert_eq!(
        query_i64(&db.url, "select count(*) from alerts.webhook_delivery"),
        0,
        "deleted with its subscription"
    );

    // The zones as GeoJSON, with their colour: B red (the manual alert), C green.
    let (status, zones) = call("GET", &vedetta.url("/api/alerts/zones"), None, None);
    assert_eq!(status, 200, "{zones}");
    assert_eq!(zones["type"], "FeatureCollection");
    let features = zones["features"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str)> = features
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap(),
                f["properties"]["level"].as_str().unwrap(),
                f["geometry"]["type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, [("B", "rossa", "MultiPolygon"), ("C", "verde", "MultiPolygon")]);
    assert_eq!(features[0]["properties"]["comuni"], json!(["010015", "010025"]));
    assert_eq!(call("GET", &vedetta.url("/api/alerts/zones/NOPE"), None, None).0, 404);
}

/// Validates CAP files with `xmllint` against the OASIS schema and with capvalidator (non-strict).
fn validate_cap(dir: &std::path::Path, messages: &[(&str, &str)]) {
    let schema = testkit::test_data("cap/CAP-v1.2-schema.xsd");
    let mut files = Vec::new();
    for (name, xml) in messages {
        let path = dir.join(name);
        std::fs::write(&path, xml).unwrap();
        files.push(path.to_string_lossy().into_owned());
    }
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .args(&files)
        .output()
        .expect("xmllint is installed");
    assert!(out.status.success(), "xmllint: {}", String::from_utf8_lossy(&out.stderr));
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/.venv/bin/python");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/cap_validate.py");
    let out = Command::new(python).arg(script).args(&files).output().expect("run cap_validate.py");
    assert!(
        out.status.success(),
        "capvalidator:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The text of the first `<name>` element of an XML document.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..end])
}

#[test]
fn cap_messages_of_a_manual_alert_validate_and_refer_to_the_earlier_ones() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);

    let (_, issued) = manual(&vedetta, OPERATOR, "B", "gialla");
    let id = issued["alert"]["id"].as_i64().unwrap();
    let (status, content_type, first) = get_text(&vedetta.url(&format!("/cap/alerts/{id}.xml")));
    assert_eq!((status, content_type.as_str()), (200, "application/cap+xml"), "{first}");
    assert_eq!(element(&first, "msgType"), Some("Alert"), "{first}");
    // An acknowledgement is not a message.
    call("POST", &vedetta.url(&format!("/api/alerts/{id}/acknowledge")), Some(OPERATOR), None);
    manual(&vedetta, OPERATOR, "B", "arancione");
    let (_, _, update) = get_text(&vedetta.url(&format!("/cap/alerts/{id}.xml")));
    assert_eq!(element(&update, "msgType"), Some("Update"), "{update}");
    let first_id = element(&first, "identifier").unwrap();
    let first_sent = element(&first, "sent").unwrap();
    let sender = element(&first, "sender").unwrap();
    assert_eq!(element(&update, "references"), Some(format!("{sender},{first_id},{first_sent}").as_str()));
    assert!(
        update.contains("<geocode><valueName>ISTAT</valueName><value>010025</value></geocode>"),
        "{update}"
    );
    assert!(update.contains("<polygon>"), "{update}");
    // The feed lists the alert with its latest message.
    let (status, content_type, feed) = get_text(&vedetta.url("/cap/alerts.atom"));
    assert_eq!((status, content_type.as_str()), (200, "application/atom+xml"), "{feed}");
    assert!(feed.contains(&format!("/cap/alerts/{id}.xml")), "{feed}");
    assert!(
        feed.contains(&format!(
            "<cap:identifier>{}</cap:identifier>",
            element(&update, "identifier").unwrap()
        )),
        "{feed}"
    );

    // The same colour with the bulletin's words: an Update carrying them, escaped.
    let body = json!({"zone": "B", "level": "arancione", "hazard": "idraulico",
        "message": "Bollettino ARPAL n. 12: temporali forti & diffusi <zona B>"});
    let (status, reworded) = call("POST", &vedetta.url("/api/alerts/manual"), Some(OPERATOR), Some(&body));
    assert_eq!((status, reworded["alert"]["change"].as_str()), (200, Some("updated")), "{reworded}");
    let (_, _, note) = get_text(&vedetta.url(&format!("/cap/alerts/{id}.xml")));
    assert_eq!(element(&note, "msgType"), Some("Update"), "{note}");
    assert!(note.contains("temporali forti &amp; diffusi &lt;zona B&gt;"), "{note}");

    manual(&vedetta, OPERATOR, "B", "verde");
    let (_, _, cancel) = get_text(&vedetta.url(&format!("/cap/alerts/{id}.xml")));
    assert_eq!(element(&cancel, "msgType"), Some("Cancel"), "{cancel}");
    let references = element(&cancel, "references").unwrap();
    assert_eq!(references.split(' ').count(), 3, "the Alert and the two Updates: {references}");
    // The earlier versions stay available.
    let version = |xml: &str| element(xml, "identifier").unwrap().rsplit('.').next().unwrap().to_string();
    let (status, _, again) =
        get_text(&vedetta.url(&format!("/cap/alerts/{id}.xml?version={}", version(&first))));
    assert_eq!((status, again.as_str()), (200, first.as_str()), "the same message, byte for byte");
    let (status, _, _) = get_text(&vedetta.url(&format!("/cap/alerts/{id}.xml?version=99")));
    assert_eq!(status, 404);
    validate_cap(
        root.path(),
        &[("first.xml", &first), ("update.xml", &update), ("note.xml", &note), ("cancel.xml", &cancel)],
    );

    // Technical alerts and unknown ids have no message.
    execute(
        &db,
        &["insert into alerts.alert (rule, subject_kind, subject, category, hazard, state, level, peak_level,
              started_at, fired_at, last_change)
           values ('silent', 'station', 'GE-MUTA', 'technical', 'tecnico', 'firing', 'gialla', 'gialla', now(), now(), 'fired')"],
    );
    let technical = query_i64(&db.url, "select id from alerts.alert where category = 'technical'");
    for path in [
        format!("/cap/alerts/{technical}.xml"),
        "/cap/alerts/424242.xml".into(),
        format!("/cap/alerts/{id}.json"),
    ] {
        let (status, content_type, body) = get_text(&vedetta.url(&path));
        assert_eq!((status, content_type.as_str()), (404, "application/problem+json"), "{path}: {body}");
    }
}

/// The gate fuzzes every endpoint on a database without alerts; this fuzzes the alert and CAP endpoints with
/// alerts, zones, a silence, a rule and a webhook present, so that the answers with data are checked too.
#[test]
fn schemathesis_finds_no_failure_in_the_alert_endpoints_with_alerts_present() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let mut vedetta = serve(root.path(), &db);
    let (_, issued) = manual(&vedetta, OPERATOR, "B", "gialla");
    let id = issued["alert"]["id"].as_i64().unwrap();
    manual(&vedetta, OPERATOR, "B", "rossa");
    call("POST", &vedetta.url(&format!("/api/alerts/{id}/acknowledge")), Some(OPERATOR), None);
    manual(&vedetta, OPERATOR, "C", "arancione");
    manual(&vedetta, OPERATOR, "C", "verde");
    let silence = json!({"scope_kind": "rule", "scope": "level", "minutes": 60});
    assert_eq!(call("POST", &vedetta.url("/api/alerts/silences"), Some(OPERATOR), Some(&silence)).0, 201);
    let rule = json!({"name": "Muta", "kind": "silent", "factor": 4});
    assert_eq!(call("PUT", &vedetta.url("/api/alerts/rules/muta"), Some(ADMIN), Some(&rule)).0, 201);
    let hook = json!({"name": "sala", "url": "http://127.0.0.1:9/hook"});
    assert_eq!(call("POST", &vedetta.url("/api/alerts/webhooks"), Some(ADMIN), Some(&hook)).0, 201);

    let out = crate::support::schemathesis(
        &vedetta,
        ADMIN,
        40,
        "20261201",
        &["--include-path-regex", "^/(api/alerts|cap/)"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{}\n--- vedetta log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        vedetta.stderr().lines().rev().take(60).collect::<Vec<_>>().join("\n")
    );
    assert_eq!(vedetta.wait_healthy()["status"], "ok");
    assert!(vedetta.terminate().success());
}
