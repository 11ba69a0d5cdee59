//! Citizen reports through the real binary: routing to the comune by location (and refusal at sea), the workflow
//! with an intervention and its history, illegal steps refused with the allowed ones, the role × comune matrix on
//! every endpoint, photos stripped of their metadata, fakes refused, nearby duplicates with thumbnail, distance and
//! age, "me too" counted once, rate limits, the live stream for operators, open data and statistics.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::TestDb;

use crate::support::{Launch, Vedetta, block_on, get, import, request as call};

pub(crate) const ADMIN: &str = "vdt_reports_admin";
pub(crate) const GENOVA_OP: &str = "vdt_reports_operator_genova";
pub(crate) const CHIAVARI_OP: &str = "vdt_reports_operator_chiavari";
pub(crate) const CIVIL_PROTECTION: &str = "vdt_reports_civil_protection";
pub(crate) const COUNCILLOR: &str = "vdt_reports_councillor_genova";
pub(crate) const CITIZEN: &str = "vdt_reports_citizen";
pub(crate) const GENOVA: &str = "010025";
pub(crate) const CHIAVARI: &str = "010015";
/// Piazza De Ferrari, Genova (WGS84 lon, lat).
pub(crate) const DE_FERRARI: (f64, f64) = (8.9340, 44.4073);
/// The longest a test reads a live stream (ureq's deadline covers the whole body, from the request on).
const SSE_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs SQL statements on the test database.
pub(crate) fn execute(db: &TestDb, statements: &[&str]) {
    block_on(async {
        let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
        for sql in statements {
            sqlx::query(sql).execute(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        pool.close().await;
    });
}

/// A serve over the comuni of the Città metropolitana di Genova, with an admin token, operators of Genova and of
/// Chiavari, civil protection, a councillor of Genova and a citizen with an account.
pub(crate) fn serve(root: &std::path::Path, db: &TestDb) -> Vedetta {
    let comuni = testkit::test_data("comuni/limits_P_10_municipalities.geojson");
    import(root, db, &["comuni", comuni.to_str().expect("a UTF-8 path")]);
    let mut vedetta =
        Launch::serve(root).env("VEDETTA_DATABASE_URL", &db.url).env("VEDETTA_ADMIN_TOKEN", ADMIN).spawn();
    vedetta.wait_healthy();
    let token = |name: &str, role: &str, comuni: &str, secret: &str| {
        format!(
            "insert into core.api_token (name, role, token_sha256, comuni) values
             ('{name}', '{role}', sha256(convert_to('{secret}', 'UTF8')), '{comuni}')"
        )
    };
    execute(
        db,
        &[
            &token("Operatore Comune di Genova", "operator", "{010025}", GENOVA_OP),
            &token("Operatore Comune di Chiavari", "operator", "{010015}", CHIAVARI_OP),
            &token("Sala operativa protezione civile", "civil_protection", "{}", CIVIL_PROTECTION),
            &token("Consigliere Municipio I", "councillor", "{010025}", COUNCILLOR),
            "insert into core.account (username, display_name, email) values
             ('cittadina', 'Cittadina Registrata', 'cittadina@example.org')",
            &format!(
                "insert into core.api_token (name, role, token_sha256, account_id)
                 select 'app', 'citizen', sha256(convert_to('{CITIZEN}', 'UTF8')), id
                 from core.account where username = 'cittadina'"
            ),
        ],
    );
    vedetta
}

pub(crate) fn detail(body: &Value) -> &str {
    body["detail"].as_str().unwrap_or_default()
}

/// A report body at `(lon, lat)`.
pub(crate) fn report_at(point: (f64, f64), category: &str, description: &str) -> Value {
    json!({"lon": point.0, "lat": point.1, "category": category, "description": description})
}

/// Files a report as JSON; asserts 201 and returns the answer (`report`, `tracking_token`, `tracking_url`).
pub(crate) fn file(vedetta: &Vedetta, token: Option<&str>, body: &Value) -> Value {
    let (status, created) = call("POST", &vedetta.url("/api/reports"), token, Some(body));
    assert_eq!(status, 201, "{created}");
    created
}

/// A response read whole: status, headers we look at, body bytes.
pub(crate) struct Raw {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) cache_control: String,
    pub(crate) retry_after: Option<String>,
    pub(crate) link: Option<String>,
    pub(crate) body: Vec<u8>,
}

impl Raw {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn raw(response: Result<ureq::Response, ureq::Error>, what: &str) -> Raw {
    let response = match response {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{what}: {e}"),
    };
    let header = |name: &str| response.header(name).map(str::to_string);
    let (status, content_type, cache_control, retry_after, link) = (
        response.status(),
        header("content-type").unwrap_or_default(),
        header("cache-control").unwrap_or_default(),
        header("retry-after"),
        header("link"),
    );
    let mut body = Vec::new();
    response.into_reader().take(64 << 20).read_to_end(&mut body).expect("read the body");
    Raw { status, content_type, cache_control, retry_after, link, body }
}

/// GET `url`, whole.
pub(crate) fn get_raw(url: &str, token: Option<&str>) -> Raw {
    let mut request = ureq::get(url).timeout(Duration::from_secs(20));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    raw(request.call(), url)
}

/// POSTs `body` with a content type.
pub(crate) fn post_bytes(url: &str, token: Option<&str>, content_type: &str, body: &[u8]) -> Raw {
    let mut request = ureq::post(url).timeout(Duration::from_secs(60)).set("Content-Type", content_type);
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    raw(request.send_bytes(body), url)
}

/// A `multipart/form-data` body with the part `report` and `photo` parts: its content type and bytes.
pub(crate) fn multipart(report: &Value, photos: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "vedetta-e2e-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"report\"\r\n\
             Content-Type: application/json\r\n\r\n{report}\r\n"
        )
        .as_bytes(),
    );
    for (n, (content_type, bytes)) in photos.iter().enumerate() {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"foto{n}.jpg\"\r\n\
                 Content-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A 16×16 baseline JPEG without metadata (the Python logo of CPython's `Lib/test/imghdrdata/python.jpg`).
const PYTHON_JPEG: [&str; 10] = [
    "ffd8ffe000104a46494600010101000100010000ffdb004300030202020202030202020303030304060404040404080606050609080a0a090809090a",
    "0c0f0c0a0b0e0b09090d110d0e0f101011100a0c12131210130f101010ffdb00430103030304030408040408100b090b101010101010101010101010",
    "1010101010101010101010101010101010101010101010101010101010101010101010101010ffc00011080010001003012200021101031101ffc400",
    "160001010100000000000000000000000000070405ffc4002410000104010402020300000000000000000102030406050708121311220014093132ff",
    "c4001501010100000000000000000000000000000006ffc400231100010205030500000000000000000000010211030405062100123115166181e1ff",
    "da000c03010002110311003f0014a6d26a1b73c1e61312d4951cf31163e42565beba5aec694540b1e520b254a51fd2cab8faf220ab963d976c9335e6",
    "9b77d7e66da71781a5571c7f1cea71e24b39d7e32253f21a69ded4714a38b482e84b892a71691ecd2d213bf1efb91a74aceea15a758ed548ac655b85",
    "8b81857b21299867a96b94b949654fb9c88529114b812af07ad9f23c807e55be0df662a140cce8e69a3d5cb743b3d77a6558b1d9512188bf64b8d3f1",
    "c3680429c0d0febb3c02e03c5407b4bdd97b54e627fb6edf9460148262138db8529828370589727960e432896fc3828ea7528cea208dbe78191f07ad",
    "7fffd9",
];

/// A 2×2 greyscale JPEG (IPython's `core/tests/2x2.jpg`).
const TINY_JPEG: [&str; 6] = [
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a1f1e1d1a1c1c20",
    "242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080002000201011100ffc4001f0000010501010101010100000000",
    "000000000102030405060708090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a108",
    "2342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475",
    "767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2",
    "e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f002bffd9",
];

fn unhex(lines: &[&str]) -> Vec<u8> {
    let hex: String = lines.concat();
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
}

pub(crate) fn plain_jpeg() -> Vec<u8> {
    unhex(&PYTHON_JPEG)
}

fn tiny_jpeg() -> Vec<u8> {
    unhex(&TINY_JPEG)
}

/// The plain JPEG with an EXIF APP1 segment spliced in after SOI: IFD0 with a description naming the position and
/// a camera serial, and a GPS IFD with GPSLatitudeRef N and GPSLatitude 44° 24' 26".
pub(crate) fn jpeg_with_exif_gps() -> Vec<u8> {
    let description = b"GPS 44.4073N 8.9340E serial CAM-0042\0";
    let mut t = Vec::new();
    t.extend_from_slice(b"II*\0");
    t.extend_from_slice(&8u32.to_le_bytes());
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value);
    };
    // IFD0 at 8 with 2 entries ends at 8 + 2 + 24 + 4 = 38.
    let description_at = 38u32;
    let gps_at = (description_at as usize + description.len()).next_multiple_of(2) as u32;
    let rationals_at = gps_at + 2 + 2 * 12 + 4;
    t.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut t, 0x010E, 2, description.len() as u32, description_at.to_le_bytes());
    entry(&mut t, 0x8825, 4, 1, gps_at.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(description);
    t.resize(gps_at as usize, 0);
    t.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, *b"N\0\0\0");
    entry(&mut t, 0x0002, 5, 3, rationals_at.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    for (numerator, denominator) in [(44u32, 1u32), (24, 1), (26, 1)] {
        t.extend_from_slice(&numerator.to_le_bytes());
        t.extend_from_slice(&denominator.to_le_bytes());
    }
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&t);
    let plain = plain_jpeg();
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&u16::try_from(payload.len() + 2).expect("a short segment").to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&plain[2..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The report stream replayed from its start (`Last-Event-ID: 0`) as text, read until `complete` holds for what was
/// read and then until nothing more comes for a second (at most 60 s in all). The replay is in id order: a
/// `complete` that looks for the newest change means every earlier one was read, so a check that something is
/// *absent* covers the whole replay. (A fixed reading window cut a slow replay short on a loaded machine.)
pub(crate) fn replay_stream(
    vedetta: &Vedetta,
    token: Option<&str>,
    complete: impl Fn(&str) -> bool,
) -> String {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(vedetta.http).expect("connect");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    // HTTP/1.0: the body comes as it is until the connection closes (no chunks to take apart).
    write!(
        stream,
        "GET /api/reports/stream HTTP/1.0\r\nHost: vedetta\r\nAccept: text/event-stream\r\nLast-Event-ID: 0\r\n{auth}\r\n"
    )
    .expect("send the request");
    stream.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if complete(&String::from_utf8_lossy(&bytes)) || std::time::Instant::now() >= deadline {
                    break;
                }
            }
            Err(e) => panic!("reading the report stream: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    assert!(head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("chunked"), "{head}");
    body.to_string()
}

type Lines = std::io::Lines<BufReader<Box<dyn std::io::Read + Send + Sync>>>;

/// Opens the report stream with an optional token.
fn open_stream(vedetta: &Vedetta, token: Option<&str>) -> Lines {
    let mut request = ureq::get(&vedetta.url("/api/reports/stream")).timeout(SSE_TIMEOUT);
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let response = request.call().expect("the report stream");
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    BufReader::new(response.into_reader()).lines()
}

/// The next `report` event's data.
fn next_event(lines: &mut Lines) -> Value {
    let mut data = Value::Null;
    for line in lines {
        let line = line.unwrap_or_else(|e| panic!("no SSE line within {SSE_TIMEOUT:?}: {e}"));
        if let Some(v) = line.strip_prefix("event:") {
            assert_eq!(v.trim(), "report");
        } else if let Some(v) = line.strip_prefix("data:") {
            data = serde_json::from_str(v.trim()).expect("JSON data");
        } else if line.is_empty() && !data.is_null() {
            return data;
        }
    }
    panic!("the stream ended");
}

#[test]
fn a_report_is_routed_to_its_comune_and_one_in_the_sea_is_refused() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);

    let created = file(&vedetta, None, &report_at(DE_FERRARI, "buca_stradale", "Buca davanti alla fontana"));
    let report = &created["report"];
    assert_eq!(report["comune"], GENOVA, "{created}");
    assert_eq!(report["comune_name"], "Genova");
    assert_eq!(report["status"], "new");
    assert_eq!(report["category_name"], "Buca stradale");
    let token = created["tracking_token"].as_str().unwrap();
    assert!(token.starts_with("vtr_") && token.len() == 36, "{token}");
    assert!(created["tracking_url"].as_str().unwrap().ends_with(&format!("/api/reports/track/{token}")));
    assert!(report.get("private").is_none(), "the public does not get the private block: {report}");

    // The tracking link shows the report and its public history without an account.
    let (status, tracked) = get(&vedetta.url(&format!("/api/reports/track/{token}")), None);
    assert_eq!(status, 200, "{tracked}");
    assert_eq!(tracked["report"]["id"], report["id"]);
    assert_eq!(tracked["public"], true);
    assert_eq!(tracked["history"].as_array().unwrap().len(), 1);
    let (status, _) = get(&vedetta.url("/api/reports/track/vtr_00000000000000000000000000000000"), None);
    assert_eq!(status, 404);

    // In the Ligurian Sea, off Genova: refused with words a citizen understands.
    let (status, body) =
        call("POST", &vedetta.url("/api/reports"), None, Some(&report_at((8.90, 44.30), "altro", "Chiazza")));
    assert_eq!(status, 422, "{body}");
    assert!(detail(&body).contains("outside every comune"), "{body}");

    // Every other mistake is a clear 4xx.
    let bad: [(Value, u16, &str); 6] = [
        (json!({"lon": 200.0, "lat": 44.4, "category": "altro", "description": "x"}), 422, "±180"),
        (report_at(DE_FERRARI, "teletrasporto", "x"), 422, "buca_stradale"),
        (report_at(DE_FERRARI, "altro", "<script>alert(1)</script>"), 422, "HTML"),
        (json!({"lon": 8.934, "lat": 44.4073, "category": "altro"}), 422, "description"),
        (
            json!({"lon": 8.934, "lat": 44.4073, "category": "altro", "description": "x", "website": "spam.example"}),
            400,
            "website",
        ),
        (
            json!({"lon": 8.934, "lat": 44.4073, "category": "altro", "description": "x", "email": "not an email"}),
            422,
            "email",
        ),
    ];
    for (body, expected, phrase) in bad {
        let (status, answer) = call("POST", &vedetta.url("/api/reports"), None, Some(&body));
        assert_eq!(status, expected, "{body} → {answer}");
        assert!(detail(&answer).contains(phrase), "{body} → {answer}");
    }
    let text = post_bytes(&vedetta.url("/api/reports"), None, "text/plain", b"buca");
    assert_eq!(text.status, 415, "{}", text.text());
    let (status, body) = call(
        "POST",
        &vedetta.url("/api/reports"),
        None,
        Some(
            &json!({"lon": 8.934, "lat": 44.4073, "category": "altro", "description": "x", "comune": CHIAVARI}),
        ),
    );
    assert_eq!(status, 422, "the named comune must be the point's: {body}");

    // Listing filters are checked too.
    for query in [
        "bbox=9,44,8,45",
        "status=done",
        "comune=Genova",
        "from=ieri",
        "limit=5000",
        "from=2026-12-01&to=2026-11-01",
    ] {
        let (status, body) = get(&vedetta.url(&format!("/api/reports?{query}")), None);
        assert_eq!(status, 400, "{query} → {body}");
    }
    let (status, page) = get(&vedetta.url("/api/reports?comune=010025&bbox=8.9,44.4,9.0,44.5"), None);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 1);
}

#[test]
fn the_workflow_runs_with_an_intervention_and_refuses_illegal_steps() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);
    let created =
        file(&vedetta, None, &report_at(DE_FERRARI, "caditoia_ostruita", "Caditoia piena di foglie"));
    let id = created["report"]["id"].as_i64().unwrap();
    let url = |path: &str| vedetta.url(&format!("/api/reports/{id}{path}"));
    let step = |to: &str, extra: Value| {
        let mut body = json!({"to": to});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        call("POST", &url("/transitions"), Some(GENOVA_OP), Some(&body))
    };

    let (status, body) =
        step("acknowledged", json!({"public_note": "Presa in carico", "private_note": "Chiamare AMIU"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "acknowledged");
    assert!(body["acknowledged_at"].is_string());
    assert_eq!(body["private"]["approved"], true, "the operator sees the private block: {body}");

    let (status, intervention) = call(
        "POST",
        &url("/interventions"),
        Some(GENOVA_OP),
        Some(&json!({"team": "Squadra idraulica 2", "scheduled_for": "2026-12-03"})),
    );
    assert_eq!(status, 201, "{intervention}");
    let iid = intervention["id"].as_i64().unwrap();
    let (status, _) = step("in_progress", json!({"public_note": "Squadra in arrivo"}));
    assert_eq!(status, 200);
    let done = json!({"done_at": chrono::Utc::now().to_rfc3339(), "outcome": "Caditoia pulita"});
    let (status, intervention) = call(
        "PATCH",
        &vedetta.url(&format!("/api/reports/{id}/interventions/{iid}")),
        Some(GENOVA_OP),
        Some(&done),
    );
    assert_eq!(status, 200, "{intervention}");
    assert_eq!(intervention["outcome"], "Caditoia pulita");
    assert_eq!(intervention["scheduled_for"], "2026-12-03");
    let (status, list) = call("GET", &url("/interventions"), Some(GENOVA_OP), None);
    assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(1)), "{list}");
    for (to, note) in [("resolved", "Risolta"), ("closed", "Chiusa")] {
        let (status, body) = step(to, json!({"public_note": note}));
        assert_eq!(status, 200, "{body}");
    }

    // Closed: only reopening is allowed, and the refusal says so.
    let (status, body) = step("in_progress", json!({}));
    assert_eq!(status, 409, "{body}");
    assert!(detail(&body).contains("allowed: reopened"), "{body}");
    let (status, body) = step("reopened", json!({"public_note": "Di nuovo ostruita"}));
    assert_eq!(status, 200, "{body}");
    let (status, body) = step("rejected", json!({}));
    assert_eq!(status, 422, "a rejection needs a reason: {body}");
    let (status, body) = step("teleported", json!({}));
    assert_eq!(status, 422, "{body}");

    // The operator reads the whole history; the public, the public notes without actors and private notes.
    let (status, history) = call("GET", &url("/history"), Some(GENOVA_OP), None);
    assert_eq!(status, 200);
    let steps = history.as_array().unwrap();
    let path: Vec<&str> = steps.iter().map(|s| s["to"].as_str().unwrap()).collect();
    assert_eq!(path, ["new", "acknowledged", "in_progress", "resolved", "closed", "reopened"]);
    assert_eq!(steps[1]["private_note"], "Chiamare AMIU");
    assert_eq!(steps[1]["actor_name"], "Operatore Comune di Genova");
    let (_, public) = get(&url("/history"), None);
    assert_eq!(public[1]["public_note"], "Presa in carico");
    assert!(public[1]["private_note"].is_null() && public[1]["actor_name"].is_null(), "{public}");
    assert!(!public.to_string().contains("AMIU"));
    // The public view of the report carries the last public note.
    let (_, seen) = get(&url(""), None);
    assert_eq!(seen["public_note"], "Di nuovo ostruita");
    assert_eq!(seen["status_label"], "Riaperta");
}

#[test]
fn an_operator_of_another_comune_gets_403_or_404_on_every_endpoint() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);
    let public =
        file(&vedetta, None, &report_at(DE_FERRARI, "rifiuti", "Sacchi abbandonati"))["report"]["id"]
            .as_i64()
            .unwrap();
    let hidden =
        file(&vedetta, None, &report_at((8.9330, 44.4080), "rifiuti", "Altri sacchi"))["report"]["id"]
            .as_i64()
            .unwrap();
    let (status, body) = call(
        "POST",
        &vedetta.url(&format!("/api/reports/{hidden}/moderation")),
        Some(GENOVA_OP),
        Some(&json!({"action": "hide", "reason": "Dati personali nella descrizione"})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, intervention) = call(
        "POST",
        &vedetta.url(&format!("/api/reports/{public}/interventions")),
        Some(GENOVA_OP),
        Some(&json!({"team": "AMIU"})),
    );
    assert_eq!(status, 201, "{intervention}");
    let iid = intervention["id"].as_i64().unwrap();

    let step = json!({"to": "acknowledged"});
    let team = json!({"team": "Squadra di Chiavari"});
    let hide = json!({"action": "hide", "reason": "no"});
    // (method, path, body, status on the public report): private reads are 404, actions 403.
    let endpoints: [(&str, &str, Option<&Value>, u16); 6] = [
        ("POST", "/transitions", Some(&step), 403),
        ("GET", "/interventions", None, 404),
        ("POST", "/interventions", Some(&team), 403),
        ("PATCH", "/interventions/{iid}", Some(&team), 403),
        ("GET", "/moderation", None, 404),
        ("POST", "/moderation", Some(&hide), 403),
    ];
    for (method, path, body, expected) in endpoints {
        let path = path.replace("{iid}", &iid.to_string());
        let (status, answer) =
            call(method, &vedetta.url(&format!("/api/reports/{public}{path}")), Some(CHIAVARI_OP), body);
        assert_eq!(status, expected, "{method} {path} on a public report → {answer}");
        // A hidden report does not exist for him, on every endpoint, reads included.
        let (status, answer) =
            call(method, &vedetta.url(&format!("/api/reports/{hidden}{path}")), Some(CHIAVARI_OP), body);
        assert_eq!(status, 404, "{method} {path} on a hidden report → {answer}");
        // Without credentials: 401 where credentials are needed.
        let (status, _) = call(method, &vedetta.url(&format!("/api/reports/{public}{path}")), None, body);
        assert_eq!(status, 401, "{method} {path} without a token");
    }
    for (method, path) in [("GET", ""), ("GET", "/history"), ("POST", "/support")] {
        let (status, answer) =
            call(method, &vedetta.url(&format!("/api/reports/{hidden}{path}")), Some(CHIAVARI_OP), None);
        assert_eq!(status, 404, "{method} {path} on a hidden report → {answer}");
    }
    let (status, seen) = get(&vedetta.url(&format!("/api/reports/{public}")), Some(CHIAVARI_OP));
    assert_eq!(status, 200);
    assert!(seen.get("private").is_none(), "no private data of another comune: {seen}");
    let (_, page) = get(&vedetta.url("/api/reports?comune=010025"), Some(CHIAVARI_OP));
    assert_eq!(page["total"], 1, "only the public report: {page}");
    let (_, page) = get(&vedetta.url("/api/reports?comune=010025"), Some(GENOVA_OP));
    assert_eq!(page["total"], 2, "the comune's operator lists the hidden one too: {page}");
    assert_eq!(page["reports"][0]["private"]["hidden"], true, "{page}");
    // Nothing was changed by the refused requests.
    let (_, report) = get(&vedetta.url(&format!("/api/reports/{public}")), Some(GENOVA_OP));
    assert_eq!(report["status"], "new");
    assert_eq!(report["private"]["hidden"], false);
    // Civil protection acts everywhere; a councillor of Genova sees the name but not the contact.
    let (status, body) = call(
        "POST",
        &vedetta.url(&format!("/api/reports/{public}/transitions")),
        Some(CIVIL_PROTECTION),
        Some(&step),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = call(
        "POST",
        &vedetta.url(&format!("/api/reports/{public}/transitions")),
        Some(COUNCILLOR),
        Some(&json!({"to": "in_progress"})),
    );
    assert_eq!(status, 403);
    // Configuring is for admins only.
    let settings = json!({"moderation": "pre"});
    let (status, _) =
        call("PUT", &vedetta.url("/api/reports/settings/010025"), Some(GENOVA_OP), Some(&settings));
    assert_eq!(status, 403);
    let (status, _) = call("PUT", &vedetta.url("/api/reports/settings/010025"), Some(ADMIN), Some(&settings));
    assert_eq!(status, 200);
}

#[test]
fn photos_come_back_without_metadata_and_fakes_are_refused() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);
    let exif = jpeg_with_exif_gps();
    assert!(contains(&exif, b"Exif\0\0") && contains(&exif, b"GPS") && contains(&exif, b"CAM-0042"));
    let body = report_at(DE_FERRARI, "alberi_verde", "Ramo caduto sul marciapiede");
    let (content_type, form) = multipart(&body, &[("image/jpeg", &exif), ("image/jpeg", &tiny_jpeg())]);
    let created = post_bytes(&vedetta.url("/api/reports"), None, &content_type, &form);
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let photos = created["report"]["photos"].as_array().unwrap().clone();
    assert_eq!(photos.len(), 2, "{created}");
    assert_eq!(photos[0]["content_type"], "image/jpeg");
    assert_eq!((photos[0]["width"].as_i64(), photos[0]["height"].as_i64()), (Some(16), Some(16)));

    let photo = get_raw(photos[0]["url"].as_str().unwrap(), None);
    assert_eq!(photo.status, 200);
    assert_eq!(photo.content_type, "image/jpeg");
    assert_eq!(photo.cache_control, "public, max-age=600", "removable: not cached for ever");
    assert_eq!(&photo.body[..2], &[0xFF, 0xD8], "a JPEG");
    for needle in [&b"Exif"[..], b"GPS", b"CAM-0042"] {
        assert!(
            !contains(&photo.body, needle),
            "the served photo carries {:?}",
            String::from_utf8_lossy(needle)
        );
    }
    let thumb = get_raw(photos[0]["thumb_url"].as_str().unwrap(), None);
    assert_eq!((thumb.status, thumb.content_type.as_str()), (200, "image/jpeg"));
    assert!(!contains(&thumb.body, b"Exif"));
    let (status, _) = get(&vedetta.url(&format!("/api/reports/photos/{}", "0".repeat(64))), None);
    assert_eq!(status, 404);
    let (status, _) = get(&vedetta.url("/api/reports/photos/..%2F..%2Fetc%2Fpasswd"), None);
    assert_eq!(status, 404);

    // A text file that claims to be a JPEG, a PNG declared as something else, a seventh photo: refused.
    let (ct, fake) = multipart(&body, &[("image/jpeg", b"this is not a picture at all")]);
    let refused = post_bytes(&vedetta.url("/api/reports"), None, &ct, &fake);
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(refused.json()["detail"].as_str().unwrap().contains("photo 1"), "{}", refused.text());
    let (ct, pdf) = multipart(&body, &[("application/pdf", &plain_jpeg())]);
    assert_eq!(post_bytes(&vedetta.url("/api/reports"), None, &ct, &pdf).status, 422);
    let many: Vec<(&str, &[u8])> = (0..6).map(|_| ("image/jpeg", &exif[..])).collect();
    let (ct, six) = multipart(&body, &many);
    let refused = post_bytes(&vedetta.url("/api/reports"), Some(GENOVA_OP), &ct, &six);
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(refused.text().contains("at most 5 photos"));

    // A photo removed by a moderator is gone from the report and from the photo URL (the other stays).
    assert_eq!((photos[1]["width"].as_i64(), photos[1]["height"].as_i64()), (Some(2), Some(2)));
    let id = created["report"]["id"].as_i64().unwrap();
    let (status, moderated) = call(
        "POST",
        &vedetta.url(&format!("/api/reports/{id}/moderation")),
        Some(GENOVA_OP),
        Some(&json!({"action": "remove_photo", "position": 2})),
    );
    assert_eq!(status, 200, "{moderated}");
    assert_eq!(moderated["photos"].as_array().unwrap().len(), 1);
    assert_eq!(get_raw(photos[1]["url"].as_str().unwrap(), None).status, 404);
    assert_eq!(get_raw(photos[1]["thumb_url"].as_str().unwrap(), None).status, 404);
    assert_eq!(get_raw(photos[0]["url"].as_str().unwrap(), None).status, 200);
    let (status, log) =
        call("GET", &vedetta.url(&format!("/api/reports/{id}/moderation")), Some(GENOVA_OP), None);
    assert_eq!(status, 200);
    assert_eq!(log[0]["action"], "remove_photo", "{log}");
}

#[test]
fn nearby_reports_are_offered_with_thumbnail_distance_and_age_and_support_counts_once() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);
    let (ct, form) =
        multipart(&report_at(DE_FERRARI, "buca_stradale", "Buca profonda"), &[("image/jpeg", &plain_jpeg())]);
    let created = post_bytes(&vedetta.url("/api/reports"), None, &ct, &form).json();
    let id = created["report"]["id"].as_i64().unwrap();
    // Another category at the same place, and the same category 1 km away: not offered.
    file(&vedetta, None, &report_at(DE_FERRARI, "illuminazione", "Lampione spento"));
    file(&vedetta, None, &report_at((8.9465, 44.4073), "buca_stradale", "Buca lontana"));

    // About 55 m north of the first report.
    let (status, near) = get(
        &vedetta.url("/api/reports/nearby?lon=8.9340&lat=44.4078&category=buca_stradale&radius=250"),
        None,
    );
    assert_eq!(status, 200, "{near}");
    let found = near["reports"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{near}");
    let first = &found[0];
    assert_eq!(first["report"]["id"], id);
    let distance = first["distance_m"].as_f64().unwrap();
    assert!((50.0..62.0).contains(&distance), "{distance}");
    assert!((0..600).contains(&first["age_s"].as_i64().unwrap()), "{first}");
    let thumb = first["thumbnail_url"].as_str().unwrap();
    assert!(thumb.ends_with("/thumb"), "{thumb}");
    assert_eq!(get_raw(thumb, None).status, 200);
    for query in [
        "lon=8.93&lat=95",
        "lon=8.93&lat=44.4&radius=251",
        "lon=8.93&lat=44.4&radius=-1",
        "lat=44.4",
        "lon=8.93&lat=44.4&limit=0",
    ] {
        let (status, body) = get(&vedetta.url(&format!("/api/reports/nearby?{query}")), None);
        assert_eq!(status, 400, "{query} → {body}");
    }

    // "Me too": counted once per person, however often it is sent.
    let support = vedetta.url(&format!("/api/reports/{id}/support"));
    for _ in 0..3 {
        let (status, body) = call("POST", &support, None, None);
        assert_eq!((status, body["supporters"].as_i64()), (200, Some(1)), "{body}");
    }
    let (status, body) = call("POST", &support, Some(CITIZEN), None);
    assert_eq!((status, body["supporters"].as_i64()), (200, Some(2)), "another person: {body}");
    let (_, seen) = get(&vedetta.url(&format!("/api/reports/{id}")), None);
    assert_eq!(seen["supporters"], 2);
}

#[test]
fn filing_is_rate_limited_per_address_and_staff_is_not() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);
    for n in 0..10 {
        file(&vedetta, None, &report_at(DE_FERRARI, "altro", &format!("Segnalazione {n}")));
    }
    let refused = post_bytes(
        &vedetta.url("/api/reports"),
        None,
        "application/json",
        report_at(DE_FERRARI, "altro", "Undicesima").to_string().as_bytes(),
    );
    assert_eq!(refused.status, 429, "{}", refused.text());
    let retry: u64 = refused.retry_after.as_deref().expect("Retry-After").parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert!(refused.text().contains("10 reports per hour"), "{}", refused.text());
    // An account from the same address is limited by the address too; an operator files what the phone brings.
    let (status, _) =
        call("POST", &vedetta.url("/api/reports"), Some(CITIZEN), Some(&report_at(DE_FERRARI, "altro", "x")));
    assert_eq!(status, 429);
    file(&vedetta, Some(GENOVA_OP), &report_at(DE_FERRARI, "altro", "Telefonata del signor Bianchi"));
    assert_eq!(crate::support::query_i64(&db.url, "select count(*) from reports.report"), 11);
}

#[test]
fn operators_get_reports_live_and_the_public_only_public_ones() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);
    // Genova moderates before publishing: a new report is for its operators only until approved.
    let (status, body) = call(
        "PUT",
        &vedetta.url("/api/reports/settings/010025"),
        Some(ADMIN),
        Some(&json!({"moderation": "pre"})),
    );
    assert_eq!((status, body["moderation"].as_str()), (200, Some("pre")), "{body}");
    let mut operator = open_stream(&vedetta, Some(GENOVA_OP));
    let mut chiavari = open_stream(&vedetta, Some(CHIAVARI_OP));
    let mut public = open_stream(&vedetta, None);

    let created = file(&vedetta, None, &report_at(DE_FERRARI, "allagamento", "Sottopasso allagato"));
    let id = created["report"]["id"].clone();
    assert_eq!(created["report"]["id"], id);
    let event = next_event(&mut operator);
    assert_eq!((event["change"].as_str(), &event["report"]["id"]), (Some("created"), &id), "{event}");
    assert_eq!(event["public"], false);
    assert_eq!(event["report"]["comune"], GENOVA);
    let text = event.to_string();
    assert!(
        event.get("private").is_none() && !text.contains("reporter_e") && !text.contains("reporter_n"),
        "{event}"
    );
    let (_, page) = get(&vedetta.url("/api/reports"), None);
    assert_eq!(page["total"], 0, "not public before approval: {page}");
    let (status, _) = get(&vedetta.url(&format!("/api/reports/{id}")), None);
    assert_eq!(status, 404);

    let (status, body) = call(
        "POST",
        &vedetta.url(&format!("/api/reports/{id}/moderation")),
        Some(GENOVA_OP),
        Some(&json!({"action": "approve"})),
    );
    assert_eq!(status, 200, "{body}");
    // The public's first event is the approval: it never saw the report while it waited.
    let event = next_event(&mut public);
    assert_eq!(
        (event["change"].as_str(), event["public"].as_bool()),
        (Some("moderated"), Some(true)),
        "{event}"
    );
    assert_eq!(event["report"]["id"], id);
    assert_eq!(next_event(&mut operator)["change"], "moderated");
    // Chiavari's operator sees Genova's public change only, not the creation.
    let event = next_event(&mut chiavari);
    assert_eq!(
        (event["change"].as_str(), event["public"].as_bool()),
        (Some("moderated"), Some(true)),
        "{event}"
    );
    let (status, body) = get(&vedetta.url("/api/reports/stream?comune=Genova"), None);
    assert_eq!(status, 400, "{body}");
}

#[test]
fn open_data_and_statistics_show_public_reports_only() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = serve(root.path(), &db);
    let mut ids = Vec::new();
    for (n, description) in
        ["Buca, profonda \"10 cm\"\nsulla destra", "=HYPERLINK(\"http://x\")", "Terza"].iter().enumerate()
    {
        let point = (DE_FERRARI.0 + n as f64 * 0.001, DE_FERRARI.1);
        ids.push(
            file(&vedetta, None, &report_at(point, "buca_stradale", description))["report"]["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let (status, _) = call(
        "POST",
        &vedetta.url(&format!("/api/reports/{}/moderation", ids[2])),
        Some(GENOVA_OP),
        Some(&json!({"action": "hide", "reason": "Spam"})),
    );
    assert_eq!(status, 200);
    let (status, _) = call(
        "POST",
        &vedetta.url(&format!("/api/reports/{}/transitions", ids[0])),
        Some(GENOVA_OP),
        Some(&json!({"to": "acknowledged"})),
    );
    assert_eq!(status, 200);

    let geojson = get_raw(&vedetta.url("/api/reports/opendata.geojson?comune=010025"), Some(ADMIN));
    assert_eq!(geojson.status, 200, "{}", geojson.text());
    assert_eq!(geojson.content_type, "application/geo+json");
    let fc = geojson.json();
    assert_eq!(fc["type"], "FeatureCollection");
    assert_eq!(fc["numberMatched"], 2, "the hidden report is not open data, even for an admin: {fc}");
    let feature = &fc["features"][1];
    assert_eq!(feature["geometry"]["type"], "Point");
    assert_eq!(feature["properties"]["status"], "acknowledged", "{feature}");
    assert!(feature["properties"].get("private").is_none());

    // Paged: one row, and a link to the next.
    let first = get_raw(&vedetta.url("/api/reports/opendata.geojson?comune=010025&limit=1"), None);
    assert_eq!(first.json()["numberReturned"], 1);
    let link = first.link.expect("a Link to the next page");
    assert!(
        link.contains("offset=1") && link.contains("comune=010025") && link.ends_with("rel=\"next\""),
        "{link}"
    );

    let csv = get_raw(&vedetta.url("/api/reports/opendata.csv"), None);
    assert_eq!(csv.status, 200);
    assert!(csv.content_type.starts_with("text/csv"), "{}", csv.content_type);
    let text = csv.text();
    assert!(text.starts_with("id,comune,comune_name,category"), "{text}");
    assert!(text.contains("\"Buca, profonda \"\"10 cm\"\"\nsulla destra\""), "quoted: {text}");
    assert!(text.contains("'=HYPERLINK"), "formulas neutralised: {text}");
    assert!(!text.contains("Terza"), "hidden reports stay out: {text}");
    assert_eq!(get(&vedetta.url("/api/reports/opendata.csv?limit=10001"), None).0, 400);

    let (status, stats) = get(&vedetta.url("/api/stats/reports?comune=010025"), None);
    assert_eq!(status, 200, "{stats}");
    assert!(stats["total"].as_i64().unwrap() >= 2, "{stats}");
    assert!(stats["by_category"].as_array().unwrap().iter().any(|c| c["key"] == "buca_stradale"), "{stats}");
    for query in ["comune=Genova", "from=2026-12-01&to=2026-11-01", "min_count=0", "from=1900-01-01"] {
        let (status, body) = get(&vedetta.url(&format!("/api/stats/reports?{query}")), None);
        assert_eq!(status, 400, "{query} → {body}");
    }
    let (status, categories) = get(&vedetta.url("/api/reports/categories?comune=010025"), None);
    assert_eq!(status, 200);
    assert_eq!(categories.as_array().unwrap().len(), 9, "{categories}");
    let (status, _) = get(&vedetta.url("/api/reports/categories?comune=999999"), None);
    assert_eq!(status, 404);
}
