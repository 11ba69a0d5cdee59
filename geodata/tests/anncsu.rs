//! ANNCSU import on a real PostGIS database, with the real Lamezia Terme extract (release 2026-06-02).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use geodata::anncsu::{self, AnncsuReport};
use sqlx::PgPool;
use testkit::TestDb;

const INDIRIZZI_ROWS: u64 = 22_757;
const STRADE_ROWS: u64 = 1_320;
/// Streets of the STRADE file that have at least one civico in INDIRIZZI (the other 202 have TOTALE_ACCESSI 0).
const STREETS_WITH_CIVICI: u64 = 1_118;

const HEADER: &str = "CODICE_COMUNE;CODICE_ISTAT;PROGRESSIVO_NAZIONALE;CODICE_COMUNALE;ODONIMO;LOCALITA';\
    DIZIONE_LINGUA1;DIZIONE_LINGUA2;PROGRESSIVO_ACCESSO;CODICE_COMUNALE_ACCESSO;CIVICO;ESPONENTE;SPECIFICITA;\
    METRICO;PROGRESSIVO_SNC;COORD_X_COMUNE;COORD_Y_COMUNE;QUOTA;METODO";

fn indirizzi() -> PathBuf {
    testkit::test_data("anncsu/anncsu_lamezia_indirizzario_20260602.csv")
}

fn strade() -> PathBuf {
    testkit::test_data("anncsu/anncsu_lamezia_stradario_20260602.csv")
}

async fn import(pool: &PgPool, indirizzi: &Path, strade: Option<&Path>) -> AnncsuReport {
    anncsu::import(pool, indirizzi, strade, &|_| {}).await.expect("the import succeeds")
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn revision(pool: &PgPool) -> i64 {
    count(pool, "select revision from toponymy.revision").await
}

#[tokio::test]
async fn lamezia_extract_imports_with_its_real_counts() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let rows = AtomicU64::new(0);
    let report = anncsu::import(&pool, &indirizzi(), Some(&strade()), &|n| {
        rows.fetch_max(n, Ordering::Relaxed);
    })
    .await
    .unwrap();
    assert_eq!(report.rejected, vec![]);
    assert_eq!(report.civici_added, INDIRIZZI_ROWS);
    assert_eq!(report.streets_added, STRADE_ROWS);
    assert_eq!(
        (report.civici_changed, report.civici_removed, report.streets_changed, report.streets_removed),
        (0, 0, 0, 0)
    );
    assert_eq!(report.without_coordinates, 0, "every row of this extract has coordinates");
    assert_eq!(rows.load(Ordering::Relaxed), INDIRIZZI_ROWS, "progress reaches every row");

    assert_eq!(count(&pool, "select count(*) from toponymy.civico").await, INDIRIZZI_ROWS as i64);
    assert_eq!(count(&pool, "select count(*) from toponymy.street").await, STRADE_ROWS as i64);
    assert_eq!(
        count(&pool, "select count(*) from toponymy.street where civici > 0 and geom is not null").await,
        STREETS_WITH_CIVICI as i64
    );
    assert_eq!(
        count(&pool, "select count(*) from toponymy.street where totale_accessi is distinct from civici")
            .await,
        0,
        "TOTALE_ACCESSI of the STRADE file agrees with the civici imported"
    );
    assert_eq!(count(&pool, "select count(*) from toponymy.civico where esponente = 'A'").await, 659);
    assert_eq!(count(&pool, "select count(*) from toponymy.civico where esponente = 'BIS'").await, 87);
    assert_eq!(revision(&pool).await, 1);

    // Line 2: M208;079160;1245026;;ATRIO ADDOLORATA;;;;3533265;;7;;;;;16,283421;38,9701829;0;4
    let (numero, lon, lat, street): (Option<i32>, f64, f64, i64) = sqlx::query_as(
        "select numero, st_x(geom), st_y(geom), progressivo_nazionale from toponymy.civico
         where progressivo_accesso = 3533265",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((numero, lon, lat, street), (Some(7), 16.283421, 38.9701829, 1245026), "decimal commas read");
    let (dug, denominazione, istat, belfiore): (String, String, String, String) = sqlx::query_as(
        "select dug, denominazione, istat, belfiore from toponymy.street where progressivo_nazionale = 1245026",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((dug.as_str(), denominazione.as_str()), ("ATRIO", "ADDOLORATA"));
    assert_eq!((istat.as_str(), belfiore.as_str()), ("079160", "M208"));
    let dugs: Vec<(String, i64)> = sqlx::query_as(
        "select dug, count(*) from toponymy.street where dug in ('VIA', 'CONTRADA', 'LOCALITA''', 'VICO')
         group by 1 order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        dugs,
        [("CONTRADA".into(), 172), ("LOCALITA'".into(), 61), ("VIA".into(), 720), ("VICO".into(), 156)]
    );
    assert_eq!(
        count(&pool, "select count(*) from toponymy.street where dug = ''").await,
        0,
        "every DUG known"
    );
    let runs = count(&pool, "select count(*) from toponymy.import_run where civici_added = 22757").await;
    assert_eq!(runs, 1);
}

#[tokio::test]
async fn second_import_of_the_same_release_changes_nothing() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    import(&pool, &indirizzi(), Some(&strade())).await;
    let before = revision(&pool).await;
    let again = import(&pool, &indirizzi(), Some(&strade())).await;
    assert_eq!(again, AnncsuReport::default(), "all zeros, nothing rejected");
    assert_eq!(revision(&pool).await, before, "geocoders are not told to reload");
    // INDIRIZZI alone: the streets without civici stay, nothing changes either.
    let alone = import(&pool, &indirizzi(), None).await;
    assert_eq!(alone, AnncsuReport::default());
    assert_eq!(count(&pool, "select count(*) from toponymy.street").await, STRADE_ROWS as i64);
}

#[tokio::test]
async fn indirizzi_alone_bring_the_streets_of_their_civici() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let report = import(&pool, &indirizzi(), None).await;
    assert_eq!(report.streets_added, STREETS_WITH_CIVICI);
    assert_eq!(report.civici_added, INDIRIZZI_ROWS);
    // Then the STRADE file adds the 202 streets without civici and the TOTALE_ACCESSI of the others.
    let report = import(&pool, &indirizzi(), Some(&strade())).await;
    assert_eq!(report.streets_added, STRADE_ROWS - STREETS_WITH_CIVICI);
    assert_eq!(report.streets_changed, STREETS_WITH_CIVICI, "TOTALE_ACCESSI now known");
    assert_eq!((report.civici_added, report.civici_changed, report.civici_removed), (0, 0, 0));
}

/// Rewrites the Lamezia INDIRIZZI file: `edit` may change, drop or add lines.
fn modified_copy(dir: &Path, name: &str, edit: impl Fn(&str) -> Option<String>, extra: &[&str]) -> PathBuf {
    let text = std::fs::read_to_string(indirizzi()).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            out.push_str(line);
            out.push('\n');
        } else if let Some(l) = edit(line) {
            out.push_str(&l);
            out.push('\n');
        }
    }
    for l in extra {
        out.push_str(l);
        out.push('\n');
    }
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

#[tokio::test]
async fn a_newer_release_reports_exactly_what_changed() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    import(&pool, &indirizzi(), Some(&strade())).await;
    // Another comune imported before must not be touched by Lamezia's release.
    let dir = tempfile::tempdir().unwrap();
    let genova = dir.path().join("genova.csv");
    std::fs::write(
        &genova,
        format!("{HEADER}\nD969;010025;9000001;;VIA XX SETTEMBRE;;;;9100001;;12;;;;;8,9386;44,4066;0;4\n"),
    )
    .unwrap();
    assert_eq!(import(&pool, &genova, None).await.civici_added, 1);

    // One civico moved (VIA XX SETTEMBRE 12), one removed (ATRIO ADDOLORATA 10), one added (ATRIO ADDOLORATA 8).
    let newer = modified_copy(
        dir.path(),
        "newer.csv",
        |line| {
            if line.contains(";3528731;") {
                Some(line.replace("16,319597;38,97113", "16,3196;38,97114"))
            } else if line.contains(";3533263;") {
                None
            } else {
                Some(line.to_string())
            }
        },
        &["M208;079160;1245026;;ATRIO ADDOLORATA;;;;9999001;;8;;;;;16,2812;38,9709;0;4"],
    );
    let report = import(&pool, &newer, Some(&strade())).await;
    assert_eq!(
        report,
        AnncsuReport { civici_added: 1, civici_changed: 1, civici_removed: 1, ..AnncsuReport::default() }
    );
    let moved: (f64, f64) = sqlx::query_as(
        "select st_x(geom), st_y(geom) from toponymy.civico where progressivo_accesso = 3528731",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(moved, (16.3196, 38.97114));
    assert_eq!(
        count(&pool, "select count(*) from toponymy.civico where progressivo_accesso = 3533263").await,
        0
    );
    assert_eq!(
        count(&pool, "select count(*) from toponymy.civico where progressivo_accesso = 9100001").await,
        1
    );
    assert_eq!(
        count(&pool, "select civici::bigint from toponymy.street where progressivo_nazionale = 1245026")
            .await,
        3
    );

    // A street renamed and one gone from the STRADE file (with no civici): changed and removed.
    let strade_text = std::fs::read_to_string(strade()).unwrap();
    let renamed = strade_text
        .replace(";1245026;;ATRIO ADDOLORATA;", ";1245026;;ATRIO DELL'ADDOLORATA;")
        .lines()
        .filter(|l| !l.contains(";1245528;")) // VICO TERZO DI VIA GARIBALDI, 0 civici
        .collect::<Vec<_>>()
        .join("\n");
    let strade_newer = dir.path().join("strade.csv");
    std::fs::write(&strade_newer, renamed).unwrap();
    let report = import(&pool, &newer, Some(&strade_newer)).await;
    assert_eq!(report, AnncsuReport { streets_changed: 1, streets_removed: 1, ..AnncsuReport::default() });
    let odonimo: String =
        sqlx::query_scalar("select odonimo from toponymy.street where progressivo_nazionale = 1245026")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(odonimo, "ATRIO DELL'ADDOLORATA");
    assert_eq!(count(&pool, "select count(*) from toponymy.street where istat = '010025'").await, 1);
}

#[tokio::test]
async fn bad_rows_are_reported_with_their_line_and_nothing_else_is_lost() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    let rows = [
        "D969;010025;900;;VIA GARIBALDI;;;;1001;;1;;;;;8,934;44,411;0;4",
        "D969;010025;900;;VIA GARIBALDI;;;;1002;;2;;;;;;;;", // no coordinates: kept
        "D969;010025;900;;VIA GARIBALDI;;;;1003;;3;;;;;8,934;44,411;0", // 18 fields
        "D969;010025;900;;VIA GARIBALDI;;;;1004;;4;;;;;otto;44,411;0;4", // bad longitude
        "D969;010025;900;;VIA GARIBALDI;;;;;;5;;;;;8,934;44,411;0;4", // no PROGRESSIVO_ACCESSO
        "D969;010025;900;;VIA GARIBALDI;;;;1001;;6;;;;;8,934;44,411;0;4", // PROGRESSIVO_ACCESSO repeated
        "D969;010025;900;;VIA GARIBALDI;;;;1007;;;;;;;8,934;44,411;0;4", // no number at all
        "D969;010025;900;;VIA GARIBALDI;;;;1008;;;;;;77;8,934;44,411;0;4", // SNC: kept
        "D969;010025;900;;VIA GARIBALDI;;;;1009;;9;;;;;200;44,411;0;4", // not a longitude
        "D969;010025;901;;;;;;1010;;1;;;;;8,934;44,411;0;4", // no ODONIMO
        "",                                                  // blank line: skipped
    ];
    // A BOM before the header, and CRLF line ends as Windows tools write them.
    let text = format!("\u{feff}{HEADER}\r\n{}\r\n", rows.join("\r\n"));
    std::fs::write(&path, text).unwrap();
    let report = import(&pool, &path, None).await;
    assert_eq!(report.civici_added, 3, "1001, 1002 and 1008");
    assert_eq!(report.without_coordinates, 1);
    let lines: Vec<u64> = report.rejected.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [4, 5, 6, 7, 8, 10, 11], "{:#?}", report.rejected);
    let reason = |line: u64| report.rejected.iter().find(|(l, _)| *l == line).unwrap().1.clone();
    assert_eq!(reason(4), "indirizzi: 18 fields instead of 19");
    assert!(reason(5).contains("COORD_X_COMUNE: `otto` is not a number"), "{}", reason(5));
    assert!(reason(6).contains("PROGRESSIVO_ACCESSO is empty"), "{}", reason(6));
    assert!(reason(7).contains("PROGRESSIVO_ACCESSO 1001 repeats line 2"), "{}", reason(7));
    assert!(reason(8).contains("no CIVICO, METRICO or PROGRESSIVO_SNC"), "{}", reason(8));
    assert!(reason(10).contains("coordinates (200, 44.411) are not longitude, latitude"), "{}", reason(10));
    assert!(reason(11).contains("ODONIMO is empty"), "{}", reason(11));
    let snc: (Option<i32>, Option<i64>) = sqlx::query_as(
        "select numero, progressivo_snc from toponymy.civico where progressivo_accesso = 1008",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(snc, (None, Some(77)));

    // The next release has a bad row for 1001: the stored civico is kept as it was, not removed.
    let next = dir.path().join("next.csv");
    std::fs::write(
        &next,
        format!(
            "{HEADER}\n{}\n{}\n{}\n",
            "D969;010025;900;;VIA GARIBALDI;;;;1001;;1;;;;;8,934;quarantaquattro;0;4", rows[1], rows[7]
        ),
    )
    .unwrap();
    let report = import(&pool, &next, None).await;
    assert_eq!((report.civici_removed, report.civici_changed, report.rejected.len()), (0, 0, 1));
}

#[tokio::test]
async fn genova_red_and_black_numbers_are_different_civici() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genova.csv");
    let text = format!(
        "{HEADER}\n{}\n{}\n{}\n",
        "D969;010025;900;;VIA XX SETTEMBRE;;;;1;;12;;NERO;;;8,9380;44,4070;0;4",
        "D969;010025;900;;VIA XX SETTEMBRE;;;;2;;12;;ROSSO;;;8,9382;44,4071;0;4",
        "D969;010025;900;;VIA XX SETTEMBRE;;;;3;;12;A;ROSSO;;;8,9383;44,4072;0;4",
    );
    std::fs::write(&path, text).unwrap();
    assert_eq!(import(&pool, &path, None).await.civici_added, 3);
    let numbers: Vec<String> = sqlx::query_scalar(
        "select numero || '/' || esponente || '/' || specificita from toponymy.civico order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(numbers, ["12//NERO", "12//ROSSO", "12/A/ROSSO"]);
}

#[tokio::test]
async fn a_file_that_is_not_anncsu_is_refused_whole() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let err = anncsu::import(&pool, &strade(), None, &|_| {}).await.unwrap_err();
    assert!(err.to_string().contains("is not an ANNCSU INDIRIZZI file"), "{err}");
    assert!(err.to_string().contains("PROGRESSIVO_ACCESSO"), "{err}");
    let missing = anncsu::import(&pool, Path::new("/nonexistent/indirizzi.csv"), None, &|_| {}).await;
    assert!(missing.unwrap_err().to_string().contains("/nonexistent/indirizzi.csv"));
    assert_eq!(count(&pool, "select count(*) from toponymy.street").await, 0);
}
