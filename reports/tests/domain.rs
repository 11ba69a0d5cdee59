//! The reports domain on a real PostGIS with the real comuni of the Città metropolitana di Genova and the real
//! ANNCSU extract of Lamezia Terme: filing, routing, addresses, the workflow, interventions, moderation,
//! duplicates, support and anonymization.

use chrono::{Duration, NaiveDate, Utc};
use geodata::geocoder::Geocoder;
use reports::Status;
use reports::category::{self, CategoryInput, ModerationMode};
use reports::report::{
    self, Actor, InterventionInput, Moderation, NewReport, ReportQuery, Reporter, ReporterType, Source,
    TransitionRequest,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use testkit::TestDb;

const GENOVA: &str = "010025";
/// Piazza De Ferrari, Genova.
const DE_FERRARI: (f64, f64) = (8.9340, 44.4073);
const EMAIL: &str = "maria.bianchieri@example.org";
const SURNAME: &str = "Bianchieri";

/// A database with the 67 comuni of the Città metropolitana di Genova.
async fn genova() -> (TestDb, PgPool, Geocoder) {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let path = testkit::test_data("comuni/limits_P_10_municipalities.geojson");
    let comuni: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let imported = geodata::comune::import(&pool, &comuni).await.unwrap();
    assert_eq!(imported.created, 67);
    let geocoder = Geocoder::new(pool.clone());
    (db, pool, geocoder)
}

fn filing(at: (f64, f64), category: &str) -> NewReport {
    NewReport {
        lon: at.0,
        lat: at.1,
        category: category.into(),
        description: "Buca profonda davanti al civico, pericolosa per i motorini".into(),
        reporter_type: ReporterType::Citizen,
        people_at_risk: false,
        reporter: Reporter {
            name: Some(format!("Maria {SURNAME}")),
            email: Some(EMAIL.into()),
            phone: Some("+39 010 555 1234".into()),
            account_id: None,
        },
        anonymous: false,
        attributes: serde_json::Map::new(),
        media_url: None,
        source: Source::Api,
        photos: Vec::new(),
        jurisdiction: None,
    }
}

fn operator() -> Actor {
    Actor { account_id: None, name: "Operatore Comune di Genova".into() }
}

/// (lon, lat) `metres` north of `at`.
fn north(at: (f64, f64), metres: f64) -> (f64, f64) {
    (at.0, at.1 + metres / 111_132.0)
}

async fn events(pool: &PgPool, id: i64) -> Vec<Value> {
    sqlx::query_scalar(
        "select payload from core.event where kind = 'report.changed' and subject = $1 order by id",
    )
    .bind(id.to_string())
    .fetch_all(pool)
    .await
    .unwrap()
}

fn step(to: Status, note: &str) -> TransitionRequest {
    TransitionRequest { public_note: Some(note.into()), ..TransitionRequest::to(to) }
}

#[tokio::test]
async fn a_report_in_genova_is_routed_to_genova_and_followed_by_its_token() {
    let (_db, pool, geocoder) = genova().await;
    let mut new = filing(DE_FERRARI, "buca_stradale");
    new.people_at_risk = true;
    new.jurisdiction = Some(GENOVA.into());
    let created = report::create(&pool, &geocoder, new).await.unwrap();
    let r = &created.report;
    assert_eq!(r.public.comune, GENOVA);
    assert_eq!(r.public.comune_name, "Genova");
    assert_eq!(r.public.category_name, "Buca stradale");
    assert_eq!(r.public.status, Status::New);
    assert_eq!(r.public.status_label, "Nuova");
    assert_eq!(r.public.priority, 1, "people at risk raise the priority");
    assert!((r.public.lon - DE_FERRARI.0).abs() < 1e-9 && (r.public.lat - DE_FERRARI.1).abs() < 1e-9);
    assert_eq!(r.public.address, None, "no toponymy is loaded");
    assert!(r.private.approved && !r.private.hidden && r.is_public());
    assert_eq!(r.private.reporter_email.as_deref(), Some(EMAIL));

    // The token: shown once, kept only as its SHA-256.
    let token = &created.tracking_token;
    assert!(token.starts_with("vtr_") && token.len() == 36, "{token}");
    let stored: Vec<u8> = sqlx::query_scalar("select tracking_sha256 from reports.report where id = $1")
        .bind(r.public.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, Sha256::digest(token.as_bytes()).to_vec());
    assert_eq!(report::by_tracking(&pool, token).await.unwrap().unwrap().public.id, r.public.id);
    assert!(report::by_tracking(&pool, "vtr_00000000000000000000000000000000").await.unwrap().is_none());
    assert!(report::by_tracking(&pool, "'; drop table reports.report; --").await.unwrap().is_none());

    // The filing is the first step of the history, without an actor.
    let history = report::history(&pool, r.public.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].from, history[0].to, history[0].actor_name.clone()), (None, Status::New, None));

    // One event, public, without a trace of the reporter; the public report has no reporter field at all.
    let events = events(&pool, r.public.id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["change"], "created");
    assert_eq!(events[0]["comune"], GENOVA);
    assert_eq!(events[0]["public"], true);
    assert_eq!(events[0]["report"]["id"], r.public.id);
    let public = serde_json::to_value(&r.public).unwrap();
    assert!(public.as_object().unwrap().keys().all(|k| !k.contains("reporter_") || k == "reporter_type"));
    for text in [events[0].to_string(), public.to_string()] {
        assert!(!text.contains(EMAIL) && !text.contains(SURNAME) && !text.contains("555 1234"), "{text}");
    }
    assert_eq!(report::get(&pool, r.public.id).await.unwrap().as_ref(), Some(r));
    assert!(report::get(&pool, r.public.id + 1000).await.unwrap().is_none());
}

#[tokio::test]
async fn a_report_in_the_sea_is_refused_with_the_point() {
    let (_db, pool, geocoder) = genova().await;
    let err = report::create(&pool, &geocoder, filing((8.90, 44.30), "buca_stradale")).await.unwrap_err();
    assert!(matches!(err, reports::Error::OutsideTerritory { .. }), "{err:?}");
    assert!(err.to_string().contains("8.9, 44.3"), "{err}");
    let count: i64 =
        sqlx::query_scalar("select count(*) from reports.report").fetch_one(&pool).await.unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn bad_fields_are_refused_with_what_is_wrong() {
    let (_db, pool, geocoder) = genova().await;
    let cases: Vec<(NewReport, &str)> = vec![
        (
            NewReport {
                description: "<script>alert(1)</script>".into(),
                ..filing(DE_FERRARI, "buca_stradale")
            },
            "HTML",
        ),
        (NewReport { description: "x".repeat(4001), ..filing(DE_FERRARI, "buca_stradale") }, "at most 4000"),
        (NewReport { description: "   ".into(), ..filing(DE_FERRARI, "buca_stradale") }, "required"),
        (NewReport { lon: f64::NAN, ..filing(DE_FERRARI, "buca_stradale") }, "longitude"),
        (NewReport { jurisdiction: Some("082053".into()), ..filing(DE_FERRARI, "buca_stradale") }, "010025"),
        (
            NewReport { media_url: Some("file:///etc/passwd".into()), ..filing(DE_FERRARI, "buca_stradale") },
            "media_url",
        ),
        (filing(DE_FERRARI, "graffiti"), "buca_stradale"),
    ];
    for (new, phrase) in cases {
        let err = report::create(&pool, &geocoder, new).await.unwrap_err();
        assert!(err.to_string().contains(phrase), "{err} lacks {phrase}");
    }
    // Comparisons are not markup; an empty jurisdiction is tolerated.
    let new = NewReport {
        description: "Acqua alta < 10 cm ma in aumento".into(),
        jurisdiction: Some(String::new()),
        ..filing(DE_FERRARI, "allagamento")
    };
    report::create(&pool, &geocoder, new).await.unwrap();
}

#[tokio::test]
async fn categories_are_overridden_per_comune() {
    let (_db, pool, geocoder) = genova().await;
    let defaults = category::categories(&pool, GENOVA).await.unwrap();
    assert_eq!(defaults.len(), 9);
    assert_eq!(defaults.last().unwrap().code, "altro");
    // Genova withdraws `rifiuti` (AMIU has its own app) and adds `graffiti`; Camogli keeps the defaults.
    let input = |code: &str, active: bool| CategoryInput {
        code: code.into(),
        name_it: if code == "graffiti" { "Graffiti".into() } else { "Rifiuti".into() },
        name_en: "Graffiti".into(),
        description: String::new(),
        group: "decoro".into(),
        keywords: vec!["Scritte ".into()],
        attributes: serde_json::json!([]),
        active,
    };
    category::upsert(&pool, GENOVA, &input("rifiuti", false)).await.unwrap();
    let graffiti = category::upsert(&pool, GENOVA, &input("graffiti", true)).await.unwrap();
    assert!(graffiti.own && graffiti.keywords == ["scritte"]);
    let codes: Vec<String> =
        category::categories(&pool, GENOVA).await.unwrap().into_iter().map(|c| c.code).collect();
    assert!(codes.contains(&"graffiti".to_string()) && !codes.contains(&"rifiuti".to_string()), "{codes:?}");
    assert_eq!(category::categories(&pool, "010007").await.unwrap().len(), 9);
    assert!(category::all_codes(&pool).await.unwrap().contains(&"graffiti".to_string()));

    let err = report::create(&pool, &geocoder, filing(DE_FERRARI, "rifiuti")).await.unwrap_err();
    match &err {
        reports::Error::UnknownCategory { known, comune, .. } => {
            assert_eq!(comune, GENOVA);
            assert!(known.contains(&"graffiti".to_string()) && !known.contains(&"rifiuti".to_string()));
        }
        other => panic!("{other:?}"),
    }
    let r = report::create(&pool, &geocoder, filing(DE_FERRARI, "graffiti")).await.unwrap().report;
    assert_eq!(r.public.category_name, "Graffiti");

    assert!(matches!(
        category::upsert(&pool, "999999", &input("graffiti", true)).await,
        Err(reports::Error::UnknownComune { .. })
    ));
    assert!(category::upsert(&pool, GENOVA, &input("Graffiti!", true)).await.is_err());
}

#[tokio::test]
async fn the_full_workflow_with_an_intervention_is_recorded_and_told_to_the_reporter() {
    let (_db, pool, geocoder) = genova().await;
    let id =
        report::create(&pool, &geocoder, filing(DE_FERRARI, "buca_stradale")).await.unwrap().report.public.id;
    let op = operator();

    let ack =
        report::transition(&pool, id, &step(Status::Acknowledged, "Presa in carico"), &op).await.unwrap();
    assert!(ack.public.acknowledged_at.is_some());
    assert_eq!(ack.public.public_note.as_deref(), Some("Presa in carico"));

    let planned = report::add_intervention(
        &pool,
        id,
        &InterventionInput {
            team: Some("Squadra strade Centro Est".into()),
            scheduled_for: NaiveDate::from_ymd_opt(2026, 12, 3),
            ..Default::default()
        },
        &op,
    )
    .await
    .unwrap();
    let going = TransitionRequest {
        private_note: Some("chiamare ASTer".into()),
        ..step(Status::InProgress, "Intervento programmato")
    };
    report::transition(&pool, id, &going, &op).await.unwrap();
    let done_at = Utc::now();
    let done = report::update_intervention(
        &pool,
        id,
        planned.id,
        &InterventionInput {
            done_at: Some(done_at),
            outcome: Some("Buca chiusa a freddo".into()),
            ..Default::default()
        },
        &op,
    )
    .await
    .unwrap();
    assert_eq!(done.team, "Squadra strade Centro Est", "fields not given stay");
    assert_eq!(done.scheduled_for, NaiveDate::from_ymd_opt(2026, 12, 3));
    assert_eq!(done.outcome.as_deref(), Some("Buca chiusa a freddo"));
    assert!((done.done_at.unwrap() - done_at).num_milliseconds().abs() < 1);
    assert_eq!(report::interventions(&pool, id).await.unwrap(), vec![done]);

    let resolved = report::transition(&pool, id, &step(Status::Resolved, "Riparata"), &op).await.unwrap();
    assert!(resolved.public.resolved_at.is_some() && resolved.public.closed_at.is_none());
    let closed = report::transition(&pool, id, &TransitionRequest::to(Status::Closed), &op).await.unwrap();
    assert!(closed.public.closed_at.is_some());
    assert_eq!(closed.public.public_note, None, "the note is the last step's");

    // An illegal step is refused with the allowed ones.
    let err =
        report::transition(&pool, id, &TransitionRequest::to(Status::InProgress), &op).await.unwrap_err();
    assert!(matches!(err, reports::Error::Transition { .. }));
    assert!(err.to_string().ends_with("allowed: reopened"), "{err}");

    let reopened =
        report::transition(&pool, id, &TransitionRequest::to(Status::Reopened), &op).await.unwrap();
    assert!(reopened.public.closed_at.is_none() && reopened.public.resolved_at.is_none());
    assert!(reopened.public.acknowledged_at.is_some());

    let steps = report::history(&pool, id).await.unwrap();
    let path: Vec<Status> = steps.iter().map(|s| s.to).collect();
    use Status::*;
    assert_eq!(path, [New, Acknowledged, InProgress, Resolved, Closed, Reopened]);
    assert_eq!(steps[2].from, Some(Acknowledged));
    assert_eq!(steps[2].private_note.as_deref(), Some("chiamare ASTer"));
    assert_eq!(steps[2].actor_name.as_deref(), Some("Operatore Comune di Genova"));

    // A rejection needs a reason, kept privately.
    let bare = report::transition(&pool, id, &TransitionRequest::to(Rejected), &op).await.unwrap_err();
    assert!(bare.to_string().contains("reason"), "{bare}");
    let reason =
        TransitionRequest { reason: Some("Strada privata".into()), ..TransitionRequest::to(Rejected) };
    let rejected = report::transition(&pool, id, &reason, &op).await.unwrap();
    assert_eq!(rejected.private.reject_reason.as_deref(), Some("Strada privata"));
    assert!(rejected.public.closed_at.is_some());

    // One email per step, to the reporter, in the outbox.
    let mails: Vec<(String, String)> = sqlx::query_as(
        "select to_address, subject from reports.notification where report_id = $1 order by id",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(mails.len(), 6, "{mails:?}");
    assert!(mails.iter().all(|(to, _)| to == EMAIL));

    // Every event of the report: none carries the reporter, private notes or the reason.
    let events = events(&pool, id).await;
    assert_eq!(events.len(), 9, "created, 6 steps, 2 interventions");
    let all = serde_json::to_string(&events).unwrap();
    for secret in [EMAIL, SURNAME, "chiamare ASTer", "Strada privata"] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    assert!(matches!(
        report::transition(&pool, 999_999, &TransitionRequest::to(Acknowledged), &op).await,
        Err(reports::Error::NotFound { id: 999_999 })
    ));
}

#[tokio::test]
async fn interventions_need_a_team_and_an_existing_report() {
    let (_db, pool, geocoder) = genova().await;
    let id = report::create(&pool, &geocoder, filing(DE_FERRARI, "frana")).await.unwrap().report.public.id;
    let op = operator();
    let none = report::add_intervention(&pool, id, &InterventionInput::default(), &op).await.unwrap_err();
    assert!(none.to_string().contains("team"), "{none}");
    let blank = InterventionInput { team: Some("  ".into()), ..Default::default() };
    assert!(report::add_intervention(&pool, id, &blank, &op).await.is_err());
    let team = InterventionInput { team: Some("Protezione civile".into()), ..Default::default() };
    assert!(matches!(
        report::add_intervention(&pool, id + 1, &team, &op).await,
        Err(reports::Error::NotFound { .. })
    ));
    let long = InterventionInput { outcome: Some("x".repeat(4001)), ..team.clone() };
    assert!(report::add_intervention(&pool, id, &long, &op).await.is_err());
    let added = report::add_intervention(&pool, id, &team, &op).await.unwrap();
    assert!(matches!(
        report::update_intervention(&pool, id, added.id + 1, &team, &op).await,
        Err(reports::Error::InterventionNotFound { .. })
    ));
    assert!(matches!(report::interventions(&pool, id + 1).await, Err(reports::Error::NotFound { .. })));
}

#[tokio::test]
async fn pre_moderation_keeps_new_reports_out_of_public_lists_until_approved() {
    let (_db, pool, geocoder) = genova().await;
    assert_eq!(category::settings(&pool, GENOVA).await.unwrap(), ModerationMode::Post);
    assert_eq!(category::set_moderation(&pool, GENOVA, true).await.unwrap(), ModerationMode::Pre);
    assert_eq!(category::settings(&pool, GENOVA).await.unwrap(), ModerationMode::Pre);
    assert!(category::set_moderation(&pool, "999999", true).await.is_err());
    let r = report::create(&pool, &geocoder, filing(DE_FERRARI, "buca_stradale")).await.unwrap().report;
    assert!(!r.private.approved && !r.is_public());
    assert_eq!(events(&pool, r.public.id).await[0]["public"], false);

    let public = ReportQuery::default();
    let everything = ReportQuery { public_only: false, ..ReportQuery::default() };
    assert_eq!(report::list(&pool, &public).await.unwrap().1, 0);
    assert_eq!(report::list(&pool, &everything).await.unwrap().1, 1);

    let op = operator();
    let approved = report::moderate(&pool, r.public.id, &Moderation::Approve, &op).await.unwrap();
    assert!(approved.is_public());
    assert_eq!(report::list(&pool, &public).await.unwrap().1, 1);

    let hidden = report::moderate(&pool, r.public.id, &Moderation::Hide { reason: "Offensiva".into() }, &op)
        .await
        .unwrap();
    assert!(!hidden.is_public());
    assert_eq!(report::list(&pool, &public).await.unwrap().1, 0);
    assert!(
        report::moderate(&pool, r.public.id, &Moderation::Hide { reason: " ".into() }, &op).await.is_err()
    );
    report::moderate(&pool, r.public.id, &Moderation::Unhide, &op).await.unwrap();
    assert_eq!(report::list(&pool, &public).await.unwrap().1, 1);

    let log = report::moderation_log(&pool, r.public.id).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["approve", "hide", "unhide"]);
    assert_eq!(log[1].detail["reason"], "Offensiva");
    assert_eq!(log[1].actor_name.as_deref(), Some("Operatore Comune di Genova"));
    let publics: Vec<Value> = events(&pool, r.public.id).await.iter().map(|e| e["public"].clone()).collect();
    // Hiding also marks the earlier events not public (a replay from Last-Event-ID never shows a hidden text);
    // unhiding publishes from then on.
    assert_eq!(publics, [false, false, false, true]);
}

fn photo(n: u8) -> reports::photo::Processed {
    let bytes = vec![n; 100];
    let thumb = vec![n; 10];
    reports::photo::Processed {
        content_type: "image/jpeg",
        sha256: hex::encode(Sha256::digest(&bytes)),
        thumb_sha256: hex::encode(Sha256::digest(&thumb)),
        bytes,
        width: 640,
        height: 480,
        thumb,
        thumb_width: 320,
        thumb_height: 240,
    }
}

#[tokio::test]
async fn moderators_redact_remove_photos_and_move_reports_with_a_note() {
    let (_db, pool, geocoder) = genova().await;
    let new = NewReport { photos: vec![photo(1), photo(2)], ..filing(DE_FERRARI, "rifiuti") };
    let r = report::create(&pool, &geocoder, new).await.unwrap().report;
    let id = r.public.id;
    assert_eq!(r.public.photos.len(), 2);
    assert_eq!(r.public.photos[1].position, 2);
    assert_eq!(r.public.photos[1].sha256, photo(2).sha256);
    assert_eq!((r.public.photos[0].width, r.public.photos[0].content_type.as_str()), (640, "image/jpeg"));
    let six = NewReport { photos: (1..=6).map(photo).collect(), ..filing(DE_FERRARI, "rifiuti") };
    assert!(report::create(&pool, &geocoder, six).await.unwrap_err().to_string().contains("at most 5"));

    let op = operator();
    let redacted = report::moderate(
        &pool,
        id,
        &Moderation::Redact { description: "Rifiuti abbandonati [testo rimosso]".into() },
        &op,
    )
    .await
    .unwrap();
    assert_eq!(redacted.public.description, "Rifiuti abbandonati [testo rimosso]");
    let html = Moderation::Redact { description: "<b>x</b>".into() };
    assert!(report::moderate(&pool, id, &html, &op).await.is_err());

    let removed = report::moderate(&pool, id, &Moderation::RemovePhoto { position: 1 }, &op).await.unwrap();
    assert_eq!(removed.public.photos.iter().map(|p| p.position).collect::<Vec<_>>(), [2]);
    let again = report::moderate(&pool, id, &Moderation::RemovePhoto { position: 1 }, &op).await.unwrap_err();
    assert!(again.to_string().contains("no photo at position 1"), "{again}");

    // Moved to Bogliasco (010004) with a note; an unknown comune is refused.
    let nowhere = Moderation::Move { comune: "999999".into(), note: "Altro ente".into() };
    assert!(matches!(
        report::moderate(&pool, id, &nowhere, &op).await,
        Err(reports::Error::UnknownComune { .. })
    ));
    let silent = Moderation::Move { comune: "010004".into(), note: String::new() };
    assert!(report::moderate(&pool, id, &silent, &op).await.is_err());
    let to = Moderation::Move {
        comune: "010004".into(),
        note: "Strada di confine, competenza di Bogliasco".into(),
    };
    let moved = report::moderate(&pool, id, &to, &op).await.unwrap();
    assert_eq!((moved.public.comune.as_str(), moved.public.comune_name.as_str()), ("010004", "Bogliasco"));

    let log = report::moderation_log(&pool, id).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["redact", "remove_photo", "move"]);
    assert_eq!(
        log[2].detail,
        serde_json::json!({"from": GENOVA, "to": "010004", "note": "Strada di confine, competenza di Bogliasco"})
    );
    let events = events(&pool, id).await;
    assert_eq!(events.last().unwrap()["change"], "moved");
    assert_eq!(events.last().unwrap()["comune"], "010004");
    assert!(matches!(report::moderation_log(&pool, id + 100).await, Err(reports::Error::NotFound { .. })));
}

#[tokio::test]
async fn duplicates_near_by_are_offered_and_supported_instead() {
    let (_db, pool, geocoder) = genova().await;
    let original =
        report::create(&pool, &geocoder, filing(DE_FERRARI, "buca_stradale")).await.unwrap().report;
    let id = original.public.id;
    // Another category at the same place, and a closed pothole: never offered.
    report::create(&pool, &geocoder, filing(DE_FERRARI, "illuminazione")).await.unwrap();
    let old =
        report::create(&pool, &geocoder, filing(north(DE_FERRARI, 50.0), "buca_stradale")).await.unwrap();
    let op = operator();
    let rejected =
        TransitionRequest { reason: Some("Già riparata".into()), ..TransitionRequest::to(Status::Rejected) };
    report::transition(&pool, old.report.public.id, &rejected, &op).await.unwrap();

    let at_200 = north(DE_FERRARI, 200.0);
    let found = report::nearby(&pool, at_200.0, at_200.1, Some("buca_stradale"), 250.0, 10).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].report.id, id);
    assert!((found[0].distance_m - 200.0).abs() < 2.0, "{}", found[0].distance_m);
    assert!((0..60).contains(&found[0].age_s));
    let at_300 = north(DE_FERRARI, 300.0);
    assert!(
        report::nearby(&pool, at_300.0, at_300.1, Some("buca_stradale"), 250.0, 10).await.unwrap().is_empty()
    );
    // Without a category, both open reports, nearest first.
    let here = north(DE_FERRARI, 1.0);
    let any = report::nearby(&pool, here.0, here.1, None, 250.0, 10).await.unwrap();
    assert_eq!(any.len(), 2);
    assert!(any[0].distance_m <= any[1].distance_m);
    assert!(report::nearby(&pool, here.0, here.1, None, 251.0, 10).await.is_err());
    assert!(report::nearby(&pool, here.0, here.1, None, f64::NAN, 10).await.is_err());
    assert!(report::nearby(&pool, here.0, here.1, None, 100.0, 0).await.is_err());

    // Support: once per supporter.
    assert_eq!(report::support(&pool, id, "account:7").await.unwrap(), 1);
    assert_eq!(report::support(&pool, id, "account:7").await.unwrap(), 1);
    assert_eq!(report::support(&pool, id, "ip:3f2a…:2026-11-29").await.unwrap(), 2);
    assert!(report::support(&pool, id, " ").await.is_err());
    assert!(matches!(report::support(&pool, id + 100, "x").await, Err(reports::Error::NotFound { .. })));

    // A second filing marked duplicate: it links to the original, is logged, and its support goes there.
    let second =
        report::create(&pool, &geocoder, filing(at_200, "buca_stradale")).await.unwrap().report.public.id;
    let self_dup =
        TransitionRequest { duplicate_of: Some(second), ..TransitionRequest::to(Status::Duplicate) };
    assert!(report::transition(&pool, second, &self_dup, &op).await.is_err());
    let no_link = report::transition(&pool, second, &TransitionRequest::to(Status::Duplicate), &op).await;
    assert!(no_link.unwrap_err().to_string().contains("duplicate_of"));
    let dup = TransitionRequest { duplicate_of: Some(id), ..TransitionRequest::to(Status::Duplicate) };
    let marked = report::transition(&pool, second, &dup, &op).await.unwrap();
    assert_eq!(marked.public.duplicate_of, Some(id));
    let log = report::moderation_log(&pool, second).await.unwrap();
    assert_eq!((log[0].action.as_str(), &log[0].detail["original"]), ("mark_duplicate", &Value::from(id)));
    assert_eq!(report::support(&pool, second, "account:9").await.unwrap(), 3);
    let (supporters_of_dup, rows): (i32, i64) = sqlx::query_as(
        "select r.supporters, (select count(*) from reports.support s where s.report_id = $1)
         from reports.report r where r.id = $1",
    )
    .bind(second)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((supporters_of_dup, rows), (0, 0));
    // A third marked duplicate of the duplicate goes to the original too.
    let third =
        report::create(&pool, &geocoder, filing(at_200, "buca_stradale")).await.unwrap().report.public.id;
    let chained =
        TransitionRequest { duplicate_of: Some(second), ..TransitionRequest::to(Status::Duplicate) };
    assert_eq!(report::transition(&pool, third, &chained, &op).await.unwrap().public.duplicate_of, Some(id));
    // Duplicates are not open: they are not offered either.
    let found = report::nearby(&pool, at_200.0, at_200.1, Some("buca_stradale"), 10.0, 10).await.unwrap();
    assert!(found.is_empty(), "{found:?}");
    // Updates follow the original: its next step is told to the reporters of its duplicates too.
    let told = |report_id: i64| {
        let pool = pool.clone();
        async move {
            let subjects: Vec<String> =
                sqlx::query_scalar("select body from reports.notification where report_id = $1 order by id")
                    .bind(report_id)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            subjects
        }
    };
    let before = (told(second).await.len(), told(third).await.len());
    report::transition(&pool, id, &TransitionRequest::to(Status::Acknowledged), &op).await.unwrap();
    let (second_told, third_told) = (told(second).await, told(third).await);
    assert_eq!((second_told.len(), third_told.len()), (before.0 + 1, before.1 + 1));
    assert!(second_told.last().unwrap().contains(&format!("/segnalazioni/{id}")), "the original's link");
}

#[tokio::test]
async fn lists_filter_in_sql_and_page_newest_first() {
    let (_db, pool, geocoder) = genova().await;
    // Camogli (010007), and three in Genova.
    let camogli = (9.1545, 44.3490);
    let c = report::create(&pool, &geocoder, filing(camogli, "frana")).await.unwrap().report;
    assert_eq!(c.public.comune, "010007");
    let mut ids = Vec::new();
    for category in ["buca_stradale", "frana", "buca_stradale"] {
        ids.push(
            report::create(&pool, &geocoder, filing(DE_FERRARI, category)).await.unwrap().report.public.id,
        );
    }
    let op = operator();
    report::transition(&pool, ids[0], &TransitionRequest::to(Status::Acknowledged), &op).await.unwrap();

    let q = |f: &dyn Fn(&mut ReportQuery)| {
        let mut q = ReportQuery::default();
        f(&mut q);
        q
    };
    let listed = |q: ReportQuery| {
        let pool = pool.clone();
        async move {
            let (reports, total) = report::list(&pool, &q).await.unwrap();
            (reports.into_iter().map(|r| r.public.id).collect::<Vec<_>>(), total)
        }
    };
    assert_eq!(listed(q(&|_| {})).await, (vec![ids[2], ids[1], ids[0], c.public.id], 4));
    assert_eq!(listed(q(&|q| q.comuni = Some(vec!["010007".into()]))).await, (vec![c.public.id], 1));
    assert_eq!(listed(q(&|q| q.comuni = Some(vec![]))).await, (vec![], 0));
    assert_eq!(listed(q(&|q| q.category = Some("frana".into()))).await, (vec![ids[1], c.public.id], 2));
    assert_eq!(listed(q(&|q| q.status = vec![Status::Acknowledged])).await, (vec![ids[0]], 1));
    assert_eq!(listed(q(&|q| q.bbox = Some([9.1, 44.3, 9.2, 44.4]))).await, (vec![c.public.id], 1));
    assert_eq!(listed(q(&|q| q.ids = vec![ids[0], c.public.id])).await, (vec![ids[0], c.public.id], 2));
    assert_eq!(listed(q(&|q| q.from = Some(Utc::now() + Duration::hours(1)))).await, (vec![], 0));
    assert_eq!(listed(q(&|q| q.to = Some(Utc::now() + Duration::hours(1)))).await.1, 4);
    assert_eq!(
        listed(q(&|q| {
            q.limit = 2;
            q.offset = 1
        }))
        .await,
        (vec![ids[1], ids[0]], 4)
    );
    assert_eq!(
        listed(q(&|q| {
            q.limit = 2;
            q.offset = 10
        }))
        .await,
        (vec![], 4)
    );
    assert!(report::list(&pool, &q(&|q| q.limit = 1001)).await.is_err());
    assert!(report::list(&pool, &q(&|q| q.bbox = Some([9.2, 44.3, 9.1, 44.4]))).await.is_err());
}

#[tokio::test]
async fn anonymize_clears_the_reporter_of_reports_ended_long_ago() {
    let (_db, pool, geocoder) = genova().await;
    let op = operator();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            report::create(&pool, &geocoder, filing(DE_FERRARI, "altro")).await.unwrap().report.public.id,
        );
    }
    let [old_closed, recent_closed, open] = [ids[0], ids[1], ids[2]];
    for id in [old_closed, recent_closed] {
        report::transition(&pool, id, &TransitionRequest::to(Status::Resolved), &op).await.unwrap();
        report::transition(&pool, id, &TransitionRequest::to(Status::Closed), &op).await.unwrap();
    }
    sqlx::query("update reports.report set closed_at = now() - interval '40 days', updated_at = now() - interval '40 days' where id = any($1)")
        .bind(vec![old_closed, open])
        .execute(&pool)
        .await
        .unwrap();
    assert!(report::anonymize(&pool, Duration::days(-1)).await.is_err());
    assert_eq!(report::anonymize(&pool, Duration::days(30)).await.unwrap(), 1);
    assert_eq!(report::anonymize(&pool, Duration::days(30)).await.unwrap(), 0, "done once");

    let gone = report::get(&pool, old_closed).await.unwrap().unwrap().private;
    assert_eq!((gone.reporter_name, gone.reporter_email, gone.reporter_phone), (None, None, None));
    assert!(gone.anonymized_at.is_some());
    let mails: i64 = sqlx::query_scalar("select count(*) from reports.notification where report_id = $1")
        .bind(old_closed)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mails, 0, "the emails to the reporter go with the address");
    for id in [recent_closed, open] {
        let kept = report::get(&pool, id).await.unwrap().unwrap().private;
        assert_eq!(kept.reporter_email.as_deref(), Some(EMAIL));
        assert!(kept.anonymized_at.is_none());
    }
    // Nothing personal left anywhere for that report.
    let row: String = sqlx::query_scalar("select row_to_json(r)::text from reports.report r where id = $1")
        .bind(old_closed)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!row.contains(EMAIL) && !row.contains(SURNAME), "{row}");
}

/// Lamezia Terme with its real ANNCSU extract; its boundary is the convex hull of its civici (the boundaries in
/// `tests/data` are Genova's and Palermo's).
async fn lamezia() -> (TestDb, PgPool, Geocoder) {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let indirizzi = testkit::test_data("anncsu/anncsu_lamezia_indirizzario_20260602.csv");
    let strade = testkit::test_data("anncsu/anncsu_lamezia_stradario_20260602.csv");
    geodata::anncsu::import(&pool, &indirizzi, Some(&strade), &|_| {}).await.unwrap();
    sqlx::query(
        "insert into core.comune (istat, belfiore, name, province_acronym, region_name, geom)
         select '079160', 'M208', 'Lamezia Terme', 'CZ', 'Calabria',
                st_multi(st_buffer(st_convexhull(st_collect(geom)), 0.001))
         from toponymy.civico where geom is not null",
    )
    .execute(&pool)
    .await
    .unwrap();
    let geocoder = Geocoder::new(pool.clone());
    (db, pool, geocoder)
}

#[tokio::test]
async fn a_report_gets_the_address_of_the_civico_near_by_else_its_street() {
    let (_db, pool, geocoder) = lamezia().await;
    // M208;079160;1245026;;ATRIO ADDOLORATA;;;;3533265;;7;;;;;16,283421;38,9701829;0;4
    let at_the_door = north((16.283421, 38.9701829), 3.0);
    let r = report::create(&pool, &geocoder, filing(at_the_door, "illuminazione")).await.unwrap().report;
    assert_eq!(r.public.comune, "079160");
    assert_eq!(r.public.address.as_deref(), Some("Atrio Addolorata 7"));

    // Somewhere 120 to 280 m from every civico: the street of the nearest one only.
    let mut street_only = None;
    'search: for i in 1..40 {
        for j in 1..40 {
            let p = (16.20 + f64::from(i) * 0.004, 38.92 + f64::from(j) * 0.004);
            if inside_lamezia(&pool, p).await
                && let Some(hit) = geocoder.reverse(p.0, p.1, 300.0).await.unwrap()
                && (120.0..280.0).contains(&hit.distance_m)
            {
                street_only = Some((p, hit.street.unwrap()));
                break 'search;
            }
        }
    }
    let (p, street) = street_only.expect("a point 120 to 280 m from the nearest civico");
    let r = report::create(&pool, &geocoder, filing(p, "illuminazione")).await.unwrap().report;
    assert_eq!(r.public.address.as_deref(), Some(street.as_str()));
    assert!(!street.chars().any(|c| c.is_ascii_digit()), "{street}");

    // Farther than 300 m: no address.
    let mut far = None;
    'far: for i in 1..40 {
        for j in 1..40 {
            let p = (16.20 + f64::from(i) * 0.004, 38.92 + f64::from(j) * 0.004);
            if inside_lamezia(&pool, p).await && geocoder.reverse(p.0, p.1, 300.0).await.unwrap().is_none() {
                far = Some(p);
                break 'far;
            }
        }
    }
    let p = far.expect("a point of Lamezia Terme farther than 300 m from every civico");
    let r = report::create(&pool, &geocoder, filing(p, "illuminazione")).await.unwrap().report;
    assert_eq!(r.public.address, None);
}

async fn inside_lamezia(pool: &PgPool, p: (f64, f64)) -> bool {
    sqlx::query_scalar(
        "select exists (select 1 from core.comune where istat = '079160'
                        and st_intersects(geom, st_setsrid(st_makepoint($1, $2), 4326)))",
    )
    .bind(p.0)
    .bind(p.1)
    .fetch_one(pool)
    .await
    .unwrap()
}
