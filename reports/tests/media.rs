//! Photos, reporters' emails and per-comune webhooks, against real files, a real SMTP server (aiosmtpd), a real
//! HTTP receiver on 127.0.0.1 and a real PostGIS database.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use reports::mail::{self, MailConfig, Mailer};
use reports::photo::{self, PhotoStore};
use reports::report::{PhotoRef, PublicReport, ReporterType};
use reports::webhook::{self, Dispatcher, DispatcherOptions, NewWebhook};
use reports::{Error, Status};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use testkit::{TestDb, WebhookBehaviour, WebhookHit, WebhookReceiver, free_port};
use tokio_util::sync::CancellationToken;

// ------------------------------------------------------------------ photos

fn encode(picture: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A picture with structure (a gradient and a block), so that resizing and orientation can be checked.
fn gradient(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        if x < width / 4 && y < height / 4 {
            Rgb([255, 0, 0])
        } else {
            Rgb([(x * 255 / width.max(1)) as u8, (y * 255 / height.max(1)) as u8, 128])
        }
    })
}

fn decoded(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).expect("the output decodes")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The TIFF body of an EXIF APP1 segment: IFD0 with an ImageDescription that names the GPS position, Orientation 6
/// (rotate 90° clockwise to show), and a GPSInfo IFD with GPSLatitudeRef N and GPSLatitude 44° 24' 30".
fn exif_tiff() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"II*\0");
    t.extend_from_slice(&8u32.to_le_bytes());
    // IFD0 at 8: 3 entries → ends at 8 + 2 + 36 + 4 = 50.
    let description = b"GPS 44.4083N 8.9342E\0";
    let description_at = 50u32;
    let gps_ifd_at = (description_at as usize + description.len()).next_multiple_of(2) as u32;
    let rationals_at = gps_ifd_at + 2 + 2 * 12 + 4;
    t.extend_from_slice(&3u16.to_le_bytes());
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value);
    };
    entry(&mut t, 0x010E, 2, description.len() as u32, description_at.to_le_bytes());
    entry(&mut t, 0x0112, 3, 1, [6, 0, 0, 0]);
    entry(&mut t, 0x8825, 4, 1, gps_ifd_at.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len(), description_at as usize);
    t.extend_from_slice(description);
    t.resize(gps_ifd_at as usize, 0);
    t.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, *b"N\0\0\0");
    entry(&mut t, 0x0002, 5, 3, rationals_at.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len(), rationals_at as usize);
    for (numerator, denominator) in [(44u32, 1u32), (24, 1), (30, 1)] {
        t.extend_from_slice(&numerator.to_le_bytes());
        t.extend_from_slice(&denominator.to_le_bytes());
    }
    t
}

/// `jpeg` with an APP1 "Exif\0\0" segment spliced in right after SOI.
fn with_exif(jpeg: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&exif_tiff());
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn check_hashes(p: &photo::Processed) {
    assert_eq!(p.sha256, hex::encode(Sha256::digest(&p.bytes)));
    assert_eq!(p.thumb_sha256, hex::encode(Sha256::digest(&p.thumb)));
    let thumb = decoded(&p.thumb);
    assert!(thumb.width() <= photo::THUMB_SIDE && thumb.height() <= photo::THUMB_SIDE);
    assert_eq!((thumb.width(), thumb.height()), (p.thumb_width, p.thumb_height));
    assert_eq!(image::guess_format(&p.thumb).unwrap(), ImageFormat::Jpeg);
}

#[test]
fn png_stays_png_with_alpha_and_gets_a_jpeg_thumbnail() {
    let picture =
        RgbaImage::from_fn(640, 480, |x, y| Rgba([(x % 256) as u8, (y % 256) as u8, 77, (x % 200) as u8]));
    let input = encode(&DynamicImage::ImageRgba8(picture.clone()), ImageFormat::Png);
    let p = photo::process(&input, "image/png").unwrap();
    assert_eq!(p.content_type, "image/png");
    assert_eq!((p.width, p.height), (640, 480));
    assert_eq!(image::guess_format(&p.bytes).unwrap(), ImageFormat::Png);
    let out = decoded(&p.bytes).to_rgba8();
    assert_eq!(out.dimensions(), (640, 480));
    assert_eq!(out.get_pixel(123, 45), picture.get_pixel(123, 45), "PNG is lossless, alpha included");
    assert_eq!((p.thumb_width, p.thumb_height), (320, 240));
    check_hashes(&p);
}

#[test]
fn jpeg_with_exif_gps_comes_back_without_any_metadata_and_upright() {
    let plain = encode(&DynamicImage::ImageRgb8(gradient(300, 200)), ImageFormat::Jpeg);
    let input = with_exif(&plain);
    assert!(contains(&input, b"Exif\0\0") && contains(&input, b"GPS"), "the crafted input carries EXIF GPS");
    // The decoder reads the crafted EXIF (its orientation is applied: 300×200 turned a quarter is 200×300).
    let p = photo::process(&input, "image/jpeg").unwrap();
    assert_eq!(p.content_type, "image/jpeg");
    assert_eq!((p.width, p.height), (200, 300), "EXIF orientation 6 applied");
    for bytes in [&p.bytes, &p.thumb] {
        assert!(!contains(bytes, b"Exif"), "no EXIF in the output");
        assert!(!contains(bytes, b"GPS"), "no GPS bytes in the output");
        assert!(!contains(bytes, &[0xFF, 0xE1]), "no APP1 segment in the output");
        assert!(!contains(bytes, b"http://ns.adobe.com/xap"), "no XMP in the output");
    }
    // The red block of the top-left corner is now at the top right (rotated 90° clockwise).
    let out = decoded(&p.bytes).to_rgb8();
    let Rgb([r, g, _]) = *out.get_pixel(190, 10);
    assert!(r > 200 && g < 60, "rotated picture: top right is red, got {r},{g}");
    check_hashes(&p);
}

#[test]
fn a_text_file_declared_as_jpeg_is_refused() {
    let err = photo::process(b"hello, this is not a picture at all\n", "image/jpeg").unwrap_err();
    assert!(matches!(err, Error::PhotoNotImage { .. }), "{err:?}");
    assert!(err.to_string().contains("image/jpeg"), "{err}");
}

#[test]
fn a_png_declared_as_jpeg_is_refused_naming_both() {
    let png = encode(&DynamicImage::ImageRgb8(gradient(32, 32)), ImageFormat::Png);
    let err = photo::process(&png, "image/jpeg").unwrap_err();
    assert!(matches!(err, Error::PhotoMismatch { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("image/jpeg") && message.contains("image/png"), "{message}");
}

#[test]
fn other_types_truncated_files_and_oversized_ones_are_refused() {
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    assert!(matches!(photo::process(gif, "image/gif"), Err(Error::PhotoType { .. })));
    assert!(matches!(photo::process(gif, "image/png"), Err(Error::PhotoMismatch { .. })));
    // A truncated PNG (a JPEG decoder fills a truncated picture in grey instead, which is no harm).
    let png = encode(&DynamicImage::ImageRgb8(gradient(400, 300)), ImageFormat::Png);
    let truncated = &png[..png.len() / 3];
    let err = photo::process(truncated, "image/png").unwrap_err();
    assert!(matches!(err, Error::PhotoDecode { .. }), "{err:?}");
    let jpeg = encode(&DynamicImage::ImageRgb8(gradient(400, 300)), ImageFormat::Jpeg);
    let mut huge = jpeg.clone();
    huge.resize(photo::MAX_BYTES + 1, 0);
    assert!(matches!(photo::process(&huge, "image/jpeg"), Err(Error::PhotoTooLarge { .. })));
    // 13,000 × 1 pixels: a small file with a side beyond the limit.
    let wide = encode(&DynamicImage::ImageRgb8(RgbImage::new(13_000, 1)), ImageFormat::Png);
    let err = photo::process(&wide, "image/png").unwrap_err();
    assert!(matches!(err, Error::PhotoDimensions { width: 13_000, height: 1, .. }), "{err:?}");
}

#[test]
fn a_3000_by_1000_photo_is_resized_to_2048_by_683() {
    let input = encode(&DynamicImage::ImageRgb8(gradient(3000, 1000)), ImageFormat::Jpeg);
    let p = photo::process(&input, "image/jpeg").unwrap();
    assert_eq!((p.width, p.height), (2048, 683));
    let out = decoded(&p.bytes);
    assert_eq!((out.width(), out.height()), (2048, 683));
    assert_eq!((p.thumb_width, p.thumb_height), (320, 107));
    check_hashes(&p);
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[test]
fn webp_lossy_and_lossless_are_decoded_and_stored_as_jpeg() {
    // A lossy WebP with an alpha channel (VP8 + ALPH, 16×16; CPython's test image).
    let lossy = std::fs::read(fixture("python-logo-lossy.webp")).unwrap();
    let p = photo::process(&lossy, "image/webp").unwrap();
    assert_eq!(p.content_type, "image/jpeg", "WebP is stored as JPEG and says so");
    assert_eq!((p.width, p.height), (16, 16));
    assert_eq!(image::guess_format(&p.bytes).unwrap(), ImageFormat::Jpeg);
    check_hashes(&p);
    // A lossless WebP written by the image crate.
    let lossless = encode(
        &DynamicImage::ImageRgba8(RgbaImage::from_pixel(50, 40, Rgba([0, 0, 255, 255]))),
        ImageFormat::WebP,
    );
    let p = photo::process(&lossless, "image/webp").unwrap();
    assert_eq!((p.content_type, p.width, p.height), ("image/jpeg", 50, 40));
    let Rgb([r, g, b]) = *decoded(&p.bytes).to_rgb8().get_pixel(25, 20);
    assert!(r < 30 && g < 30 && b > 220, "{r},{g},{b}");
}

#[tokio::test]
async fn the_store_keeps_photos_by_hash_and_refuses_bad_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = PhotoStore::new(dir.path().join("photos"));
    let input = encode(&DynamicImage::ImageRgb8(gradient(800, 600)), ImageFormat::Jpeg);
    let p = photo::process(&input, "image/jpeg").unwrap();
    store.save(&p).await.unwrap();
    store.save(&p).await.unwrap(); // idempotent
    let path = dir.path().join("photos").join(&p.sha256[..2]).join(format!("{}.jpg", p.sha256));
    assert_eq!(std::fs::read(&path).unwrap(), p.bytes);
    let (bytes, content_type) = store.open(&p.sha256).await.unwrap().unwrap();
    assert_eq!((bytes, content_type), (p.bytes.clone(), "image/jpeg"));
    let (thumb, content_type) = store.open(&p.thumb_sha256).await.unwrap().unwrap();
    assert_eq!((thumb, content_type), (p.thumb.clone(), "image/jpeg"));
    let png =
        photo::process(&encode(&DynamicImage::ImageRgb8(gradient(10, 10)), ImageFormat::Png), "image/png")
            .unwrap();
    store.save(&png).await.unwrap();
    assert_eq!(store.open(&png.sha256).await.unwrap().unwrap().1, "image/png");
    assert!(store.open(&"0".repeat(64)).await.unwrap().is_none());
    for bad in ["../../etc/passwd", "", &"A".repeat(64), &format!("{}/x", "a".repeat(62))] {
        assert!(matches!(store.open(bad).await, Err(Error::PhotoId { .. })), "{bad}");
    }
    // No temporary file is left behind.
    let leftovers: Vec<_> =
        walk(dir.path()).into_iter().filter(|p| p.to_string_lossy().ends_with(".tmp")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

// ------------------------------------------------------------------ database helpers

/// A report row written directly (comune Genova), returning its id.
async fn insert_report(pool: &PgPool, comune: &str) -> i64 {
    sqlx::query_scalar(
        "insert into reports.report (comune, category, description, geom, tracking_sha256)
         values ($1, 'buca_stradale', 'Buca profonda', st_setsrid(st_makepoint(8.93, 44.41), 4326),
                 sha256(convert_to(random()::text || clock_timestamp()::text, 'UTF8')))
         returning id",
    )
    .bind(comune)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A comune row with a square boundary (webhooks need a comune that exists).
async fn insert_comune(pool: &PgPool, istat: &str, belfiore: &str, name: &str) {
    sqlx::query(
        "insert into core.comune (istat, belfiore, name, geom)
         values ($1, $2, $3, st_multi(st_makeenvelope(8.8, 44.3, 9.1, 44.5, 4326)))",
    )
    .bind(istat)
    .bind(belfiore)
    .bind(name)
    .execute(pool)
    .await
    .unwrap();
}

fn public_report(id: i64, status: Status) -> PublicReport {
    let now = Utc::now();
    PublicReport {
        id,
        comune: "010025".into(),
        comune_name: "Genova".into(),
        category: "buca_stradale".into(),
        category_name: "Buca stradale".into(),
        description: "Buca profonda davanti al civico".into(),
        lon: 8.93,
        lat: 44.41,
        address: Some("Via XX Settembre 12".into()),
        status,
        status_label: status.label_it().into(),
        reporter_type: ReporterType::Citizen,
        people_at_risk: false,
        priority: 3,
        supporters: 0,
        duplicate_of: None,
        public_note: Some("Squadra in arrivo".into()),
        media_url: None,
        photos: Vec::<PhotoRef>::new(),
        created_at: now,
        updated_at: now,
        acknowledged_at: Some(now),
        resolved_at: None,
        closed_at: None,
    }
}

// ------------------------------------------------------------------ mail

/// aiosmtpd saving every message into a Maildir; killed on drop.
struct SmtpSink {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/.venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/python-clients.sh (it installs aiosmtpd)",
            python.display()
        );
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
        testkit::wait_for("aiosmtpd to listen", Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        SmtpSink { child, port, maildir }
    }

    fn messages(&self) -> Vec<PathBuf> {
        let new = self.maildir.path().join("box/new");
        std::fs::read_dir(new).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (subject, To, decoded text body) of a message file, parsed by Python's own email package.
fn parse_message(path: &Path) -> (String, String, String) {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/.venv/bin/python");
    let script = "import email, email.policy, json, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
print(json.dumps([str(m['subject']), str(m['to']), m.get_body(('plain',)).get_content()]))";
    let out = Command::new(python).args(["-c", script]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let [subject, to, body]: [String; 3] = serde_json::from_slice(&out.stdout).unwrap();
    (subject, to, body)
}

#[test]
fn the_status_change_email_is_italian_then_english_with_the_public_link() {
    let (subject, body) =
        mail::status_change(&public_report(42, Status::Acknowledged), "https://vedetta.example.org/");
    assert_eq!(subject, "Segnalazione n. 42: Presa in carico / Report no. 42: Taken in charge");
    let it = body.find("ora è: Presa in carico").expect("Italian text");
    let en = body.find("is now: Taken in charge").expect("English text");
    assert!(it < en, "Italian first");
    assert_eq!(body.matches("https://vedetta.example.org/segnalazioni/42\n").count(), 2, "{body}");
    assert!(body.contains("Via XX Settembre 12, Genova") && body.contains("Squadra in arrivo"), "{body}");
}

#[tokio::test]
async fn a_queued_email_reaches_a_real_smtp_server() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let sink = SmtpSink::start();
    let id = insert_report(&pool, "010025").await;
    let (subject, body) =
        mail::status_change(&public_report(id, Status::InProgress), "http://localhost:8080");
    let mut tx = pool.begin().await.unwrap();
    mail::enqueue(&mut tx, id, "mario.rossi@example.org", &subject, &body).await.unwrap();
    tx.commit().await.unwrap();
    // A bad address is refused at the door, not queued.
    let mut tx = pool.begin().await.unwrap();
    let refused = mail::enqueue(&mut tx, id, "mario.rossi at example", &subject, &body).await;
    assert!(matches!(refused, Err(Error::MailAddress { .. })), "{refused:?}");
    drop(tx);

    let config = MailConfig {
        smtp_host: "127.0.0.1".into(),
        smtp_port: sink.port,
        from: "Comune di Genova <segnalazioni@example.org>".into(),
        ..MailConfig::default()
    };
    let mailer = Mailer::new(pool.clone(), config).unwrap().with_poll_interval(Duration::from_millis(100));
    let cancel = CancellationToken::new();
    let running = tokio::spawn(mailer.run(cancel.clone()));
    let message = tokio::task::spawn_blocking(move || {
        let found =
            testkit::wait_for("the email in the sink", Duration::from_secs(60), || sink.messages().pop());
        (found, sink)
    });
    let (path, _sink) = message.await.unwrap();
    cancel.cancel();
    running.await.unwrap();

    let (got_subject, to, got_body) = parse_message(&path);
    assert_eq!(got_subject, subject);
    assert_eq!(to, "mario.rossi@example.org");
    assert!(got_body.contains(&format!("http://localhost:8080/segnalazioni/{id}")), "{got_body}");
    assert!(got_body.contains("ora è: In lavorazione"), "{got_body}");
    let (state, attempts, sent): (String, i32, bool) = sqlx::query_as(
        "select state, attempts, sent_at is not null from reports.notification where report_id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((state.as_str(), attempts, sent), ("sent", 1, true));
}

#[tokio::test]
async fn an_email_that_cannot_be_sent_is_retried_then_given_up() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = insert_report(&pool, "010025").await;
    let mut tx = pool.begin().await.unwrap();
    mail::enqueue(&mut tx, id, "mario.rossi@example.org", "Oggetto", "Testo").await.unwrap();
    tx.commit().await.unwrap();
    // Nothing listens on this port.
    let closed = free_port();
    let config = MailConfig {
        smtp_host: "127.0.0.1".into(),
        smtp_port: closed,
        max_attempts: 2,
        ..MailConfig::default()
    };
    let mailer = Mailer::new(pool.clone(), config)
        .unwrap()
        .with_backoff(Duration::from_secs(600), Duration::from_secs(3600));
    assert_eq!(mailer.send_due().await.unwrap(), 1);
    let row = || async {
        sqlx::query_as::<_, (String, i32, Option<String>)>(
            "select state, attempts, last_error from reports.notification where report_id = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let (state, attempts, error) = row().await;
    assert_eq!((state.as_str(), attempts), ("pending", 1));
    assert!(error.is_some_and(|e| !e.is_empty()));
    // Not due again before its backoff (ten minutes: no scheduling delay reaches it)…
    assert_eq!(mailer.send_due().await.unwrap(), 0);
    let due: bool = sqlx::query_scalar(
        "select next_attempt_at > now() + interval '5 minutes' from reports.notification where report_id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(due, "the retry is scheduled after the backoff");
    // …and due once that time has come.
    sqlx::query("update reports.notification set next_attempt_at = now() where report_id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(mailer.send_due().await.unwrap(), 1);
    let (state, attempts, _) = row().await;
    assert_eq!((state.as_str(), attempts), ("dead", 2));
    // With mail off nothing is claimed.
    let off = Mailer::new(pool.clone(), MailConfig::default()).unwrap();
    assert!(!off.enabled());
    assert_eq!(off.send_due().await.unwrap(), 0);
}

// ------------------------------------------------------------------ webhooks

fn verify(secret: &str, hit: &WebhookHit) {
    let timestamp = &hit.headers["x-vedetta-timestamp"];
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&hit.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(hit.headers["x-vedetta-signature"], expected);
    assert!(webhook::verify_signature(secret, timestamp, &hit.body, &expected));
}

async fn append_event(pool: &PgPool, comune: &str, public: bool, report_id: i64) -> i64 {
    let payload = json!({
        "change": "status",
        "comune": comune,
        "public": public,
        "report": {"id": report_id, "comune": comune, "status": "acknowledged"},
    });
    let mut tx = pool.begin().await.unwrap();
    let ids = database::event::append(
        &mut tx,
        &[database::event::NewEvent::new("report.changed", Some(report_id.to_string()), payload)],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    ids[0]
}

#[tokio::test]
async fn public_report_changes_reach_the_comune_webhook_signed_with_retries() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    insert_comune(&pool, "010025", "D969", "Genova").await;
    insert_comune(&pool, "010046", "L304", "Tiglieto").await;
    let receiver = WebhookReceiver::start(WebhookBehaviour::fail_first(1));
    let url = receiver.url();
    let secret = "genova-maintenance-secret-0001";
    let hook = webhook::create(
        &pool,
        &NewWebhook { comune: "010025".into(), url: url.clone(), secret: Some(secret.into()) },
    )
    .await
    .unwrap();
    assert_eq!(hook.secret, secret);
    let other =
        webhook::create(&pool, &NewWebhook { comune: "010046".into(), url: url.clone(), secret: None })
            .await
            .unwrap();
    assert_eq!(other.secret.len(), 64, "a generated secret");
    let paused =
        webhook::create(&pool, &NewWebhook { comune: "010025".into(), url: url.clone(), secret: None })
            .await
            .unwrap();
    webhook::set_active(&pool, paused.webhook.id, false).await.unwrap();
    assert_eq!(webhook::list(&pool, Some("010025")).await.unwrap().len(), 2);
    // Bad input is refused with the field named.
    let bad =
        webhook::create(&pool, &NewWebhook { comune: "010025".into(), url: "ftp://x".into(), secret: None })
            .await;
    assert!(matches!(bad, Err(Error::WebhookInvalid { field: "url", .. })), "{bad:?}");
    let short = webhook::create(
        &pool,
        &NewWebhook { comune: "010025".into(), url: url.clone(), secret: Some("short".into()) },
    )
    .await;
    assert!(matches!(short, Err(Error::WebhookInvalid { field: "secret", .. })), "{short:?}");
    let unknown =
        webhook::create(&pool, &NewWebhook { comune: "999999".into(), url: url.clone(), secret: None }).await;
    assert!(matches!(unknown, Err(Error::UnknownComune { .. })), "{unknown:?}");

    let opts = DispatcherOptions {
        backoff_base: Duration::from_millis(100),
        poll_interval: Duration::from_millis(50),
        // A receiver in this process answers at once: no stalled machine may turn that into a timeout and a retry
        // (a fourth request the test counts).
        timeout: Duration::from_secs(30),
        ..DispatcherOptions::default()
    };
    let dispatcher = Dispatcher::new(pool.clone(), opts).unwrap();
    // An event from before the dispatcher's first start is history: not replayed.
    let before = append_event(&pool, "010025", true, 1).await;
    assert_eq!(dispatcher.fan_out().await.unwrap(), 0);
    let cancel = CancellationToken::new();
    let running = tokio::spawn(dispatcher.clone().run(cancel.clone()));

    let report_id = insert_report(&pool, "010025").await;
    let public = append_event(&pool, "010025", true, report_id).await;
    append_event(&pool, "010025", false, report_id).await; // hidden or unapproved: not for receivers
    let elsewhere = append_event(&pool, "010046", true, report_id).await;

    let hits = tokio::task::spawn_blocking(move || {
        testkit::wait_for("three requests (a retry included)", Duration::from_secs(60), || {
            let hits = receiver.hits();
            (hits.len() >= 3).then_some(hits)
        })
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    cancel.cancel();
    running.await.unwrap();

    let bodies: Vec<Value> = hits.iter().map(|h| serde_json::from_slice(&h.body).unwrap()).collect();
    let for_genova: Vec<(&WebhookHit, &Value)> =
        hits.iter().zip(&bodies).filter(|(_, b)| b["comune"] == "010025").collect();
    assert_eq!(for_genova.len(), 2, "one failed attempt, one delivered: {bodies:#?}");
    assert_eq!(for_genova.iter().map(|(h, _)| h.status).collect::<Vec<_>>(), [500, 200]);
    for (hit, body) in &for_genova {
        verify(secret, hit);
        assert_eq!(hit.headers["x-vedetta-event"], "report.changed");
        assert_eq!(hit.headers["content-type"], "application/json");
        assert_eq!(body["event"], "report.changed");
        assert_eq!(body["event_id"], public);
        assert_eq!(body["change"], "status");
        assert_eq!(body["report"]["id"], report_id);
        assert!(body.get("public").is_none(), "the routing flag is not sent");
        assert_eq!(hit.headers["x-vedetta-delivery"], body["delivery_id"].to_string());
    }
    assert_eq!(for_genova[0].1["delivery_id"], for_genova[1].1["delivery_id"], "same delivery id on a retry");
    let for_tiglieto: Vec<&Value> = bodies.iter().filter(|b| b["comune"] == "010046").collect();
    assert_eq!(for_tiglieto.len(), 1);
    assert_eq!(for_tiglieto[0]["event_id"], elsewhere);
    verify(&other.secret, &hits[bodies.iter().position(|b| b["comune"] == "010046").unwrap()]);

    let deliveries = webhook::deliveries(&pool, hook.webhook.id, 10).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!((deliveries[0].state.as_str(), deliveries[0].attempts), ("delivered", 2));
    assert_eq!(deliveries[0].last_status, Some(200));
    assert!(
        webhook::deliveries(&pool, paused.webhook.id, 10).await.unwrap().is_empty(),
        "paused: nothing queued"
    );
    let queued: i64 = sqlx::query_scalar("select count(*) from reports.webhook_delivery where event_id = $1")
        .bind(before)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(queued, 0, "history is not replayed");

    // A replay of the same events (a cursor moved back, a second process) queues nothing twice.
    let total = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from reports.webhook_delivery")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let before_replay = total().await;
    sqlx::query("update reports.consumer_cursor set last_event_id = $1")
        .bind(public - 1)
        .execute(&pool)
        .await
        .unwrap();
    dispatcher.fan_out().await.unwrap();
    assert_eq!(total().await, before_replay);

    webhook::delete(&pool, other.webhook.id).await.unwrap();
    assert!(matches!(webhook::delete(&pool, other.webhook.id).await, Err(Error::WebhookNotFound { .. })));
}

#[tokio::test]
async fn a_delivery_to_a_dead_receiver_is_given_up_after_its_attempts() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    insert_comune(&pool, "010025", "D969", "Genova").await;
    let url = format!("http://127.0.0.1:{}/hook", free_port());
    let hook =
        webhook::create(&pool, &NewWebhook { comune: "010025".into(), url, secret: None }).await.unwrap();
    let opts = DispatcherOptions {
        max_attempts: 3,
        backoff_base: Duration::from_millis(20),
        poll_interval: Duration::from_millis(20),
        timeout: Duration::from_secs(2),
        ..DispatcherOptions::default()
    };
    let dispatcher = Dispatcher::new(pool.clone(), opts).unwrap();
    dispatcher.fan_out().await.unwrap();
    let cancel = CancellationToken::new();
    let running = tokio::spawn(dispatcher.run(cancel.clone()));
    append_event(&pool, "010025", true, 7).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let delivery = loop {
        let deliveries = webhook::deliveries(&pool, hook.webhook.id, 10).await.unwrap();
        if let Some(d) = deliveries.into_iter().find(|d| d.state == "dead") {
            break d;
        }
        assert!(std::time::Instant::now() < deadline, "the delivery never died");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    cancel.cancel();
    running.await.unwrap();
    assert_eq!(delivery.attempts, 3);
    assert_eq!(delivery.last_status, None);
    assert!(delivery.last_error.as_deref().is_some_and(|e| !e.is_empty()), "{delivery:?}");
}
