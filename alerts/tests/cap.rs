//! CAP 1.2 messages checked by independent tools: `xmllint` against the OASIS schema, the `capvalidator` package
//! (PyPI, non-strict mode), `xmlsec1` for the XML-DSig signature, and `xmllint --xpath` to read what was written.
//! A missing tool fails the test with a message saying how to install it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use alerts::Level;
use alerts::cap::{
    Cap, CapChange, CapConfig, CapInput, CapStatus, CapZone, Hazard, Measurement, Origin, PreviousMessage,
    Signer, SigningConfig, Subject, SubjectKind, atom_feed, cap_time, identifier, message,
    rings_from_geojson,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

// ---------- tools ----------

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schema() -> PathBuf {
    testkit::test_data("cap/CAP-v1.2-schema.xsd")
}

/// Runs a tool, failing clearly when it is not installed.
fn run(program: &str, args: &[&str], install: &str) -> Output {
    match Command::new(program).args(args).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{program}` is not installed ({install}); run scripts/install-deps.sh")
        }
        Err(e) => panic!("cannot run {program}: {e}"),
    }
}

fn xmllint(args: &[&str]) -> Output {
    run("xmllint", args, "Debian package libxml2-utils")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `xmllint --noout --schema tests/data/cap/CAP-v1.2-schema.xsd FILE` succeeds.
fn assert_schema_valid(file: &Path) {
    let schema = schema();
    let out = xmllint(&["--noout", "--schema", path_str(&schema), path_str(file)]);
    assert!(
        out.status.success(),
        "{} is not valid CAP 1.2:\n{}\n{}",
        file.display(),
        text(&out.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
}

/// `tests/clients/cap_validate.py [--strict] FILE…` (capvalidator) succeeds.
fn capvalidator(files: &[&Path], strict: bool) -> Output {
    let root = workspace_root();
    let python = root.join("tests/.venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/python-clients.sh (it installs capvalidator from tests/clients/requirements.txt)",
        python.display()
    );
    let script = root.join("tests/clients/cap_validate.py");
    let mut args = vec![path_str(&script).to_string()];
    if strict {
        args.push("--strict".into());
    }
    args.extend(files.iter().map(|f| path_str(f).to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(path_str(&python), &args, "scripts/python-clients.sh")
}

fn assert_capvalidator_accepts(files: &[&Path]) {
    let out = capvalidator(files, false);
    assert!(out.status.success(), "capvalidator refused:\n{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(text(&out.stdout).matches(": PASS: ").count(), files.len(), "{}", text(&out.stdout));
}

/// The string value of an XPath expression over a file (namespaces matched by local name).
fn xpath(file: &Path, expression: &str) -> String {
    let out = xmllint(&["--xpath", &format!("string({expression})"), path_str(file)]);
    assert!(out.status.success(), "xpath {expression} on {}: {}", file.display(), text(&out.stderr));
    // xmllint ends its answer with a line feed.
    let value = text(&out.stdout);
    value.strip_suffix('\n').map(str::to_string).unwrap_or(value)
}

fn xpath_count(file: &Path, expression: &str) -> usize {
    let value = xpath(file, &format!("count({expression})"));
    value
        .trim()
        .parse::<f64>()
        .map(|n| n as usize)
        .unwrap_or_else(|_| panic!("count({expression}) gave {value}"))
}

/// `/*[local-name()='alert']/*[local-name()='info'][1]/…` from a short `alert/info[1]/…` path.
fn cap_path(path: &str) -> String {
    path.split('/')
        .map(|step| match step.split_once('[') {
            Some((name, predicate)) => format!("*[local-name()='{name}'][{predicate}"),
            None => format!("*[local-name()='{step}']"),
        })
        .fold(String::new(), |acc, step| format!("{acc}/{step}"))
}

fn cap_value(file: &Path, path: &str) -> String {
    xpath(file, &cap_path(path))
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

fn write(dir: &Path, name: &str, xml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, xml).expect("write the message");
    path
}

// ---------- inputs ----------

fn config() -> CapConfig {
    CapConfig {
        sender: "protezionecivile@comune.genova.it".into(),
        sender_name: "Comune di Genova – Protezione Civile".into(),
        identifier_prefix: "it.comune.genova.vedetta".into(),
        base_url: "https://allerta.comune.genova.example/".into(),
        web_url: None,
        status: CapStatus::Actual,
        signing: None,
    }
}

/// Zone B: real ISTAT boundaries of Genova (a MultiPolygon), Sant'Olcese, Serra Riccò, Davagna and Bargagli.
fn zone_b() -> CapZone {
    let path = testkit::test_data("comuni/limits_P_10_municipalities.geojson");
    let collection: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read comuni")).expect("comuni are JSON");
    let wanted = ["010025", "010055", "010058", "010021", "010003"];
    let mut rings = Vec::new();
    let mut comuni = Vec::new();
    for feature in collection["features"].as_array().expect("features") {
        let code = feature["properties"]["com_istat_code"].as_str().expect("ISTAT code");
        if wanted.contains(&code) {
            rings.extend(rings_from_geojson(feature).expect("comune polygon"));
            comuni.push(code.to_string());
        }
    }
    assert_eq!(comuni.len(), wanted.len());
    CapZone { code: "B".into(), name: "Bacini costieri centro".into(), rings, comuni }
}

fn t(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 3, 15, hour, minute, 0).unwrap() + Duration::microseconds(123_456)
}

fn station_alert(
    version: i64,
    change: CapChange,
    level: Level,
    previous_level: Option<Level>,
    sent: DateTime<Utc>,
) -> CapInput {
    CapInput {
        alert_id: 12,
        version,
        previous: Vec::new(),
        change,
        origin: Origin::Measured,
        level,
        previous_level,
        hazard: Hazard::Idraulico,
        subject: Subject {
            kind: SubjectKind::Station,
            code: "GE-BISAGNO-01".into(),
            name: Some("Bisagno a Passerella Firpo".into()),
        },
        zone: Some(zone_b()),
        measurement: Some(Measurement { value: 3.4, unit: "m".into() }),
        sent,
        onset: Some(t(10, 0)),
        expires: None,
        note: None,
    }
}

/// The life of one station alert: fired yellow, escalated to orange then red, de-escalated to orange, resolved.
/// Each input's `previous` lists the messages before it, as the caller builds it from the alert's history.
fn lifecycle() -> Vec<CapInput> {
    let steps = [
        (CapChange::Fired, Level::Gialla, None, t(10, 0)),
        (CapChange::Escalated, Level::Arancione, Some(Level::Gialla), t(10, 45)),
        (CapChange::Escalated, Level::Rossa, Some(Level::Arancione), t(11, 30)),
        (CapChange::Deescalated, Level::Arancione, Some(Level::Rossa), t(14, 15)),
        (CapChange::Resolved, Level::Arancione, None, t(18, 0)),
    ];
    let cfg = config();
    let mut inputs: Vec<CapInput> = Vec::new();
    for (i, (change, level, previous_level, sent)) in steps.into_iter().enumerate() {
        let mut input = station_alert(i as i64 + 1, change, level, previous_level, sent);
        input.previous = inputs
            .iter()
            .map(|p| PreviousMessage { identifier: identifier(&cfg, p.alert_id, p.version), sent: p.sent })
            .collect();
        inputs.push(input);
    }
    inputs
}

fn manual_zone_alert() -> CapInput {
    CapInput {
        alert_id: 40,
        version: 1,
        previous: Vec::new(),
        change: CapChange::Manual,
        origin: Origin::Manual,
        level: Level::Arancione,
        previous_level: None,
        hazard: Hazard::Temporali,
        subject: Subject {
            kind: SubjectKind::Zone,
            code: "B".into(),
            name: Some("Bacini costieri centro".into()),
        },
        zone: Some(zone_b()),
        measurement: None,
        sent: t(6, 0),
        onset: Some(t(12, 0)),
        expires: Some(t(23, 59)),
        note: None,
    }
}

// ---------- tests ----------

#[test]
fn every_message_of_a_station_alert_validates_with_xmllint_and_capvalidator() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config();
    let mut files = Vec::new();
    for input in lifecycle() {
        let xml = message(&input, &cfg, None).unwrap();
        files.push(write(dir.path(), &format!("v{}.xml", input.version), &xml));
    }
    for file in &files {
        assert_schema_valid(file);
    }
    assert_capvalidator_accepts(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>());

    let kinds: Vec<String> = files.iter().map(|f| cap_value(f, "alert/msgType")).collect();
    assert_eq!(kinds, ["Alert", "Update", "Update", "Update", "Cancel"]);
    let first = &files[0];
    assert_eq!(cap_value(first, "alert/identifier"), "it.comune.genova.vedetta.12.1");
    assert_eq!(cap_value(first, "alert/sender"), "protezionecivile@comune.genova.it");
    assert_eq!(cap_value(first, "alert/status"), "Actual");
    assert_eq!(cap_value(first, "alert/scope"), "Public");
    // 10:00:00.123456 UTC on 15 March 2020 is 11:00:00 in Italy (CET): no Z, no fraction.
    assert_eq!(cap_value(first, "alert/sent"), "2020-03-15T11:00:00+01:00");
    assert_eq!(xpath_count(first, &cap_path("alert/references")), 0);
    assert_eq!(cap_value(first, "alert/info[1]/language"), "it-IT");
    assert_eq!(cap_value(first, "alert/info[2]/language"), "en-US");
    for info in ["info[1]", "info[2]"] {
        assert_eq!(cap_value(first, &format!("alert/{info}/category")), "Met");
        assert_eq!(cap_value(first, &format!("alert/{info}/eventCode/valueName")), "IT-PC-hazard");
        assert_eq!(cap_value(first, &format!("alert/{info}/eventCode/value")), "idraulico");
        assert_eq!(cap_value(first, &format!("alert/{info}/certainty")), "Observed");
    }
    let headline = cap_value(first, "alert/info[1]/headline");
    assert!(
        headline.starts_with("Allerta gialla – rischio idraulico – stazione GE-BISAGNO-01"),
        "{headline}"
    );
    assert!(cap_value(first, "alert/info[1]/description").contains("3,40 m"));
    assert!(cap_value(first, "alert/info[2]/description").contains("3.40 m"));
    assert_eq!(cap_value(first, "alert/info[2]/web"), "https://allerta.comune.genova.example/");

    // The colour mapping, message by message.
    let mapped: Vec<(String, String, String)> = files
        .iter()
        .map(|f| {
            (
                cap_value(f, "alert/info[1]/severity"),
                cap_value(f, "alert/info[1]/urgency"),
                cap_value(f, "alert/info[1]/responseType[1]"),
            )
        })
        .collect();
    let expected = [
        ("Moderate", "Future", "Monitor"),
        ("Severe", "Expected", "Prepare"),
        ("Extreme", "Immediate", "Prepare"),
        ("Severe", "Expected", "Prepare"),
        ("Minor", "Past", "AllClear"),
    ];
    for (got, want) in mapped.iter().zip(expected) {
        assert_eq!((got.0.as_str(), got.1.as_str(), got.2.as_str()), want);
    }
    assert_eq!(cap_value(&files[2], "alert/info[1]/responseType[2]"), "Avoid");
    assert!(cap_value(&files[1], "alert/info[1]/description").contains("da gialla ad arancione"));
}

#[test]
fn the_area_carries_the_zone_polygons_and_the_comuni_istat_codes() {
    let dir = tempfile::tempdir().unwrap();
    let input = &lifecycle()[0];
    let file = write(dir.path(), "a.xml", &message(input, &config(), None).unwrap());
    let area = "alert/info[1]/area";
    assert_eq!(cap_value(&file, &format!("{area}/areaDesc")), "Zona di allerta B (Bacini costieri centro)");
    let rings = input.zone.as_ref().unwrap().rings.len();
    assert!(rings >= 5, "Genova is a MultiPolygon, plus four comuni: {rings} rings");
    assert_eq!(xpath_count(&file, &cap_path(&format!("{area}/polygon"))), rings);
    for i in 1..=rings {
        let polygon = cap_value(&file, &format!("{area}/polygon[{i}]"));
        let pairs: Vec<&str> = polygon.split(' ').collect();
        assert!(pairs.len() >= 4, "polygon {i} has {} pairs", pairs.len());
        assert_eq!(pairs.first(), pairs.last(), "polygon {i} is closed");
        for pair in &pairs {
            let (lat, lon) = pair.split_once(',').expect("lat,lon");
            let (lat, lon): (f64, f64) = (lat.parse().unwrap(), lon.parse().unwrap());
            assert!(
                (43.5..45.0).contains(&lat) && (8.0..10.0).contains(&lon),
                "{pair} is lat,lon in Liguria"
            );
        }
    }
    let geocodes = xpath_count(&file, &cap_path(&format!("{area}/geocode")));
    assert_eq!(geocodes, 6, "five comuni and the zone");
    let istat = format!("{}[*[local-name()='valueName']='ISTAT']", cap_path(&format!("{area}/geocode")));
    assert_eq!(xpath_count(&file, &istat), 5);
    for code in ["010025", "010055", "010058", "010021", "010003"] {
        assert_eq!(xpath_count(&file, &format!("{istat}[*[local-name()='value']='{code}']")), 1, "{code}");
    }
    let zone = format!("{}[*[local-name()='valueName']='IT-PC-zone']", cap_path(&format!("{area}/geocode")));
    assert_eq!(xpath(&file, &format!("{zone}/*[local-name()='value']")), "B");
}

#[test]
fn an_update_references_its_alert_and_a_cancel_every_earlier_message() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config();
    let inputs = lifecycle();
    let files: Vec<PathBuf> = inputs
        .iter()
        .map(|input| {
            write(dir.path(), &format!("v{}.xml", input.version), &message(input, &cfg, None).unwrap())
        })
        .collect();
    let reference_to = |file: &Path| {
        format!(
            "{},{},{}",
            cap_value(file, "alert/sender"),
            cap_value(file, "alert/identifier"),
            cap_value(file, "alert/sent")
        )
    };
    // The first Update references exactly the Alert, as sender,identifier,sent taken from the Alert itself.
    assert_eq!(cap_value(&files[1], "alert/msgType"), "Update");
    assert_eq!(cap_value(&files[1], "alert/references"), reference_to(&files[0]));
    assert_eq!(
        reference_to(&files[0]),
        "protezionecivile@comune.genova.it,it.comune.genova.vedetta.12.1,2020-03-15T11:00:00+01:00"
    );
    // The Cancel references all four earlier messages, space-separated, oldest first.
    let all: Vec<String> = files[..4].iter().map(|f| reference_to(f)).collect();
    assert_eq!(cap_value(&files[4], "alert/references"), all.join(" "));
    // All versions share the incident.
    for file in &files {
        assert_eq!(cap_value(file, "alert/incidents"), "it.comune.genova.vedetta.12");
    }
}

#[test]
fn a_manual_zone_alert_is_likely_and_escapes_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config();
    cfg.sender_name = "Protezione Civile <Genova> & \"Sant'Olcese\"".into();
    let input = manual_zone_alert();
    let file = write(dir.path(), "manual.xml", &message(&input, &cfg, None).unwrap());
    assert_schema_valid(&file);
    assert_capvalidator_accepts(&[&file]);
    assert_eq!(cap_value(&file, "alert/msgType"), "Alert");
    assert_eq!(cap_value(&file, "alert/info[1]/certainty"), "Likely");
    assert_eq!(cap_value(&file, "alert/info[1]/severity"), "Severe");
    assert_eq!(cap_value(&file, "alert/info[1]/eventCode/value"), "temporali");
    assert_eq!(cap_value(&file, "alert/info[1]/event"), "Rischio idrogeologico per temporali");
    assert_eq!(cap_value(&file, "alert/info[1]/onset"), "2020-03-15T13:00:00+01:00");
    assert_eq!(cap_value(&file, "alert/info[1]/expires"), "2020-03-16T00:59:00+01:00");
    // The sender name went through the XML writer and comes back intact.
    assert_eq!(cap_value(&file, "alert/info[1]/senderName"), cfg.sender_name);
    assert!(cap_value(&file, "alert/info[1]/description").starts_with(
        "Protezione Civile <Genova> & \"Sant'Olcese\" ha emesso un'allerta arancione per la zona di allerta B"
    ),);
    assert_eq!(
        xpath_count(&file, &cap_path("alert/info[1]/parameter")),
        3,
        "level, awareness level and type"
    );
}

#[test]
fn a_manual_alert_updated_then_withdrawn_is_an_update_then_a_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config();
    let issued = manual_zone_alert();
    let first = PreviousMessage { identifier: identifier(&cfg, 40, 1), sent: issued.sent };
    let mut updated = manual_zone_alert();
    updated.version = 2;
    updated.change = "updated".parse().unwrap();
    updated.previous_level = Some(Level::Arancione);
    updated.level = Level::Rossa;
    updated.sent = t(9, 0);
    updated.previous = vec![first.clone()];
    let mut withdrawn = updated.clone();
    withdrawn.version = 3;
    withdrawn.change = "withdrawn".parse().unwrap();
    withdrawn.previous_level = None;
    withdrawn.sent = t(15, 0);
    withdrawn.previous =
        vec![first, PreviousMessage { identifier: identifier(&cfg, 40, 2), sent: updated.sent }];

    let files: Vec<PathBuf> = [&issued, &updated, &withdrawn]
        .iter()
        .map(|input| {
            write(dir.path(), &format!("m{}.xml", input.version), &message(input, &cfg, None).unwrap())
        })
        .collect();
    for file in &files {
        assert_schema_valid(file);
    }
    assert_capvalidator_accepts(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    let kinds: Vec<String> = files.iter().map(|f| cap_value(f, "alert/msgType")).collect();
    assert_eq!(kinds, ["Alert", "Update", "Cancel"]);
    assert!(cap_value(&files[1], "alert/info[1]/headline").starts_with("Allerta rossa (era arancione)"));
    assert!(cap_value(&files[1], "alert/info[1]/description").contains("sale da arancione a rossa"));
    assert_eq!(cap_value(&files[1], "alert/info[1]/urgency"), "Immediate");
    assert!(cap_value(&files[2], "alert/info[1]/headline").starts_with("Allerta revocata"));
    assert!(cap_value(&files[2], "alert/info[2]/description").contains("has been withdrawn"));
    assert_eq!(cap_value(&files[2], "alert/info[1]/responseType"), "AllClear");
    assert_eq!(
        cap_value(&files[2], "alert/references").split(' ').count(),
        2,
        "the Cancel references the Alert and the Update"
    );
}

#[test]
fn an_escalation_without_earlier_messages_is_refused() {
    let input = station_alert(2, CapChange::Escalated, Level::Rossa, Some(Level::Arancione), t(11, 0));
    let err = message(&input, &config(), None).unwrap_err().to_string();
    assert!(err.contains("alert 12 version 2") && err.contains("previous"), "{err}");
    let mut resolved = station_alert(3, CapChange::Resolved, Level::Rossa, None, t(12, 0));
    assert!(message(&resolved, &config(), None).is_err());
    resolved.previous = vec![PreviousMessage { identifier: "bad id".into(), sent: t(11, 0) }];
    assert!(message(&resolved, &config(), None).unwrap_err().to_string().contains("bad id"));
}

#[test]
fn a_degenerate_zone_polygon_is_refused() {
    let mut input = manual_zone_alert();
    input.zone.as_mut().unwrap().rings = vec![vec![(8.9, 44.4), (9.0, 44.4), (8.9, 44.4)]];
    let err = message(&input, &config(), None).unwrap_err().to_string();
    assert!(err.contains("ring 0") && err.contains("at least three"), "{err}");
}

#[test]
fn the_atom_feed_is_well_formed_and_links_each_alert() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config();
    let entries = vec![lifecycle().swap_remove(2), manual_zone_alert()];
    let feed = atom_feed(&entries, &cfg, t(11, 30));
    let file = write(dir.path(), "alerts.atom", &feed);
    let out = xmllint(&["--noout", path_str(&file)]);
    assert!(out.status.success(), "the feed is not well-formed XML: {}\n{feed}", text(&out.stderr));

    let atom = |path: &str| xpath(&file, &cap_path(path));
    assert_eq!(atom("feed/id"), "https://allerta.comune.genova.example/cap/alerts.atom");
    assert_eq!(atom("feed/updated"), cap_time(t(11, 30)));
    assert_eq!(xpath_count(&file, &cap_path("feed/entry")), 2);
    assert_eq!(
        xpath(&file, &format!("{}/@href", cap_path("feed/entry[1]/link"))),
        "https://allerta.comune.genova.example/cap/alerts/12.xml"
    );
    assert_eq!(
        xpath(&file, &format!("{}/@href", cap_path("feed/entry[2]/link"))),
        "https://allerta.comune.genova.example/cap/alerts/40.xml"
    );
    assert_eq!(atom("feed/entry[1]/identifier"), "it.comune.genova.vedetta.12.3");
    assert!(atom("feed/entry[1]/title").starts_with("Allerta rossa (era arancione)"));
    assert_eq!(atom("feed/entry[1]/updated"), "2020-03-15T12:30:00+01:00");
    assert!(atom("feed/entry[2]/summary").contains("allerta arancione"));
    assert_eq!(atom("feed/entry[2]/severity"), "Severe");
    // The Atom and CAP namespaces are the real ones.
    let ns = xpath(&file, "namespace-uri(/*)");
    assert_eq!(ns, "http://www.w3.org/2005/Atom");
    let cap_ns = xpath(&file, &format!("namespace-uri({})", cap_path("feed/entry[1]/identifier")));
    assert_eq!(cap_ns, "urn:oasis:names:tc:emergency:cap:1.2");
}

/// A throwaway RSA key and self-signed certificate made by `openssl req -x509` in `dir`.
fn key_and_certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key.pem"));
    let cert = dir.join(format!("{name}.cert.pem"));
    let out = run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-days",
            "2",
            "-subj",
            &format!("/CN=Vedetta CAP test {name}/O=Comune di Genova"),
            "-keyout",
            path_str(&key),
            "-out",
            path_str(&cert),
        ],
        "Debian package openssl",
    );
    assert!(out.status.success(), "openssl req failed: {}", text(&out.stderr));
    (key, cert)
}

fn xmlsec_verify(cert: &Path, file: &Path) -> Output {
    run("xmlsec1", &["--verify", "--trusted-pem", path_str(cert), path_str(file)], "Debian package xmlsec1")
}

#[test]
fn a_signed_message_verifies_with_xmlsec1_and_a_tampered_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = key_and_certificate(dir.path(), "signer");
    let mut cfg = config();
    cfg.signing = Some(SigningConfig { key: path_str(&key).into(), certificate: path_str(&cert).into() });
    let cap = Cap::new(cfg).unwrap();
    assert!(cap.signer().unwrap().certificate_subject().contains("Vedetta CAP test signer"));

    let inputs = lifecycle();
    let mut signed = Vec::new();
    for input in [&inputs[0], &inputs[1], &inputs[4]] {
        let xml = cap.message(input).unwrap();
        signed.push(write(dir.path(), &format!("signed-v{}.xml", input.version), &xml));
    }
    let manual = cap.message(&manual_zone_alert()).unwrap();
    signed.push(write(dir.path(), "signed-manual.xml", &manual));

    for file in &signed {
        let out = xmlsec_verify(&cert, file);
        assert!(
            out.status.success(),
            "xmlsec1 refused the signature of {}:\n{}{}",
            file.display(),
            text(&out.stdout),
            text(&out.stderr)
        );
        assert_schema_valid(file);
    }
    let files: Vec<&Path> = signed.iter().map(PathBuf::as_path).collect();
    assert_capvalidator_accepts(&files);
    // capvalidator's strict mode verifies the signature too (with signxml): a second, independent verifier.
    let strict = capvalidator(&files, true);
    assert!(
        strict.status.success(),
        "capvalidator --strict: {}{}",
        text(&strict.stdout),
        text(&strict.stderr)
    );

    // One character of the Italian headline changed: the digest no longer matches.
    let original = std::fs::read_to_string(&signed[0]).unwrap();
    let tampered = original.replacen("Allerta gialla", "Allerta giallo", 1);
    assert_ne!(tampered, original);
    let tampered = write(dir.path(), "tampered.xml", &tampered);
    let out = xmlsec_verify(&cert, &tampered);
    assert!(!out.status.success(), "xmlsec1 accepted a tampered message:\n{}", text(&out.stderr));
    let strict = capvalidator(&[&tampered], true);
    assert!(!strict.status.success(), "capvalidator --strict accepted a tampered message");

    // Verified against another certificate, the untampered message does not pass either.
    let (_, other_cert) = key_and_certificate(dir.path(), "other");
    let out = xmlsec_verify(&other_cert, &signed[0]);
    assert!(!out.status.success(), "xmlsec1 trusted a certificate it was not given");
}

#[test]
fn inline_pem_signs_too_and_a_key_that_is_not_the_certificates_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = key_and_certificate(dir.path(), "a");
    let (other_key, _) = key_and_certificate(dir.path(), "b");
    let key_pem = std::fs::read_to_string(&key).unwrap();
    let cert_pem = std::fs::read_to_string(&cert).unwrap();
    let other_key_pem = std::fs::read_to_string(&other_key).unwrap();

    let err = Signer::from_pem(&other_key_pem, &cert_pem).unwrap_err().to_string();
    assert!(err.contains("public keys differ"), "{err}");
    let err = Signer::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", &cert_pem)
        .unwrap_err()
        .to_string();
    assert!(err.contains("key"), "{err}");
    let mut cfg = config();
    cfg.signing = Some(SigningConfig { key: "/nonexistent/cap.key".into(), certificate: cert_pem.clone() });
    let err = Cap::new(cfg.clone()).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/cap.key"), "{err}");

    cfg.signing = Some(SigningConfig { key: key_pem, certificate: cert_pem });
    let cap = Cap::new(cfg).unwrap();
    let file = write(dir.path(), "inline.xml", &cap.message(&manual_zone_alert()).unwrap());
    let out = xmlsec_verify(&cert, &file);
    assert!(out.status.success(), "xmlsec1: {}", text(&out.stderr));
}

#[test]
fn a_manual_zone_message_matches_its_snapshot() {
    // A small zone, so that the snapshot stays readable; times fixed, no signature: the output is deterministic.
    let mut input = manual_zone_alert();
    let zone = input.zone.as_mut().unwrap();
    zone.rings = vec![vec![(8.90, 44.40), (8.98, 44.40), (8.98, 44.46), (8.90, 44.46)]];
    zone.comuni = vec!["010025".into()];
    let xml = message(&input, &config(), None).unwrap();
    insta::assert_snapshot!(xml.replace("><", ">\n<"));
}
