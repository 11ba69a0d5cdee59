//! The comune's maintenance system is told by webhook: every public change of its reports, signed. The reporter is
//! told by email: a `vedetta serve` configured with an SMTP relay (a real aiosmtpd on 127.0.0.1)
//! sends the status change of a report filed with an email address, in Italian then English, with the link to the
//! report and nothing private.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use testkit::{TestDb, WebhookBehaviour, WebhookReceiver, free_port, wait_for};

use crate::reports::{ADMIN, DE_FERRARI, GENOVA, file, report_at, serve};
use crate::support::{Launch, import, request as call};

/// aiosmtpd keeping every message in a Maildir; killed on drop.
struct Sink {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Sink {
    fn start() -> Sink {
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/.venv/bin/python");
        assert!(python.exists(), "{} is missing: run scripts/python-clients.sh", python.display());
        let maildir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(&python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path().join("box"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        wait_for("aiosmtpd to listen", Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Sink { child, port, maildir }
    }

    fn messages(&self) -> Vec<String> {
        let dir = self.maildir.path().join("box/new");
        std::fs::read_dir(dir)
            .map(|d| d.flatten().filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_reporter_gets_the_status_change_by_email() {
    let sink = Sink::start();
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let comuni = testkit::test_data("comuni/limits_P_10_municipalities.geojson");
    import(root.path(), &db, &["comuni", comuni.to_str().unwrap()]);
    let config = root.path().join("vedetta.toml");
    std::fs::write(
        &config,
        format!(
            "[reports.mail]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nfrom = \"Comune di Genova <segnalazioni@comune.genova.invalid>\"\n",
            sink.port
        ),
    )
    .unwrap();
    let mut vedetta = Launch::serve(root.path())
        .arg("--config")
        .arg(config.to_str().unwrap())
        .env("VEDETTA_DATABASE_URL", &db.url)
        .env("VEDETTA_ADMIN_TOKEN", ADMIN)
        .spawn();
    vedetta.wait_healthy();

    let mut body = report_at(DE_FERRARI, "allagamento", "Sottopasso allagato in via XX Settembre");
    body["name"] = json!("Mario Rossi");
    body["email"] = json!("mario.rossi@example.org");
    let created = file(&vedetta, None, &body);
    let id = created["report"]["id"].as_i64().unwrap();
    let (status, answer) = call(
        "POST",
        &vedetta.url(&format!("/api/reports/{id}/transitions")),
        Some(ADMIN),
        Some(
            &json!({"to": "acknowledged", "public_note": "Squadra allertata", "private_note": "nota interna"}),
        ),
    );
    assert_eq!(status, 200, "{answer}");

    let message = wait_for("the status-change email", Duration::from_secs(60), || {
        sink.messages().into_iter().find(|m| m.contains("mario.rossi@example.org"))
    });
    let decoded = message.replace("=\r\n", "").replace("=\n", "");
    assert!(decoded.contains("segnalazioni@comune.genova.invalid"), "{message}");
    assert!(decoded.contains(&format!("/segnalazioni/{id}")), "the link to the report: {message}");
    assert!(!decoded.contains("nota interna"), "a private note never reaches the reporter: {message}");
    // The mailer records the sending once the server has answered, after the server stored the message: waited for.
    let sent = format!(
        "select count(*) from reports.notification where report_id = {id} and state = 'sent' \
         and id = (select max(id) from reports.notification where report_id = {id})"
    );
    wait_for("the email recorded as sent", Duration::from_secs(60), || {
        (crate::support::query_i64(&db.url, &sent) == 1).then_some(())
    });
}

#[test]
fn a_comune_webhook_gets_its_public_report_changes_signed_and_nothing_private() {
    let receiver = WebhookReceiver::start(WebhookBehaviour::fail_first(1));
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);
    let (status, created) = call(
        "POST",
        &vedetta.url("/api/reports/webhooks"),
        Some(ADMIN),
        Some(&json!({"comune": GENOVA, "url": receiver.url()})),
    );
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    let (status, _) = call("GET", &vedetta.url("/api/reports/webhooks"), None, None);
    assert_eq!(status, 401, "admin only");

    let mut body = report_at(DE_FERRARI, "buca_stradale", "Buca in piazza");
    body["email"] = json!("segreto.webhook@example.org");
    let id = file(&vedetta, None, &body)["report"]["id"].as_i64().unwrap();
    let delivered = wait_for("a signed delivery after one refused attempt", Duration::from_secs(60), || {
        receiver.hits().into_iter().find(|hit| hit.status == 200)
    });
    let (headers, payload) = (delivered.headers, delivered.body);
    let text = String::from_utf8_lossy(&payload).to_string();
    assert!(text.contains(&format!("\"id\":{id}")), "{text}");
    assert!(!text.contains("segreto.webhook"), "no reporter data reaches a webhook: {text}");
    let signature = headers.get("x-vedetta-signature").expect("signed");
    let timestamp = headers.get("x-vedetta-timestamp").expect("timestamped");
    assert!(reports::webhook::verify_signature(&secret, timestamp, &payload, signature), "{signature}");
    // The dispatcher records the delivery once it has the receiver's answer, after the receiver logged it: waited for.
    let deliveries_url =
        vedetta.url(&format!("/api/reports/webhooks/{}/deliveries", created["webhook"]["id"]));
    wait_for("the delivery recorded", Duration::from_secs(60), || {
        let (status, deliveries) = call("GET", &deliveries_url, Some(ADMIN), None);
        assert_eq!(status, 200, "{deliveries}");
        (deliveries[0]["state"] == "delivered").then_some(())
    });
}
