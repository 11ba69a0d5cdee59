//! Transparency stats on a crafted history in a real PostGIS database: exact medians and 90th percentiles, counts,
//! and a ranking that one fast fix cannot top.

use chrono::{DateTime, Duration, TimeZone, Utc};
use reports::stats::{self, Hours, Stats, StatsQuery, Timing};
use sqlx::PgPool;
use testkit::TestDb;

const GENOVA: &str = "010025";
const TIGLIETO: &str = "010061";
const CAMOGLI: &str = "010010";
const RAPALLO: &str = "010046";

/// A report of the history.
struct Row<'a> {
    comune: &'a str,
    category: &'a str,
    status: &'a str,
    created_at: DateTime<Utc>,
    /// Hours from filing.
    ack_h: Option<f64>,
    resolve_h: Option<f64>,
    approved: bool,
    hidden: bool,
}

impl<'a> Row<'a> {
    fn new(comune: &'a str, category: &'a str, status: &'a str, created_at: DateTime<Utc>) -> Self {
        Row {
            comune,
            category,
            status,
            created_at,
            ack_h: None,
            resolve_h: None,
            approved: true,
            hidden: false,
        }
    }
    fn ack(mut self, hours: f64) -> Self {
        self.ack_h = Some(hours);
        self
    }
    fn resolved(mut self, hours: f64) -> Self {
        self.resolve_h = Some(hours);
        self
    }
}

async fn insert(pool: &PgPool, row: &Row<'_>) {
    let at =
        |hours: Option<f64>| hours.map(|h| row.created_at + Duration::milliseconds((h * 3_600_000.0) as i64));
    sqlx::query(
        "insert into reports.report (comune, category, description, geom, tracking_sha256, status, approved, hidden,
                                     created_at, updated_at, acknowledged_at, resolved_at)
         values ($1, $2, 'segnalazione di prova', st_setsrid(st_makepoint(8.93, 44.41), 4326),
                 sha256(convert_to(random()::text || clock_timestamp()::text, 'UTF8')), $3, $4, $5, $6, $6, $7, $8)",
    )
    .bind(row.comune)
    .bind(row.category)
    .bind(row.status)
    .bind(row.approved)
    .bind(row.hidden)
    .bind(row.created_at)
    .bind(at(row.ack_h))
    .bind(at(row.resolve_h))
    .execute(pool)
    .await
    .unwrap();
}

fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap() + Duration::days(n)
}

fn year() -> (DateTime<Utc>, DateTime<Utc>) {
    (Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap())
}

fn close(got: Option<f64>, want: f64) -> bool {
    got.is_some_and(|g| (g - want).abs() < 1e-6)
}

#[track_caller]
fn assert_hours(got: Hours, median: f64, p90: f64) {
    assert!(close(got.median, median) && close(got.p90, p90), "want median {median} p90 {p90}, got {got:?}");
}

/// The history:
/// - Genova: 10 potholes acknowledged after 1…10 h and resolved after 10…100 h; 2 waste reports acknowledged after
///   2 and 4 h, not resolved; and three that must not count (hidden, awaiting approval, filed before the period),
///   each resolved in minutes.
/// - Tiglieto: one pothole fixed in half an hour (acknowledged in a quarter).
/// - Camogli: 6 floodings resolved after 2, 4 … 12 h.
/// - Rapallo: 5 landslides, 2 resolved in 1 h, 3 new.
async fn history(pool: &PgPool) {
    sqlx::query(
        "insert into core.comune (istat, belfiore, name, geom) values
            ('010025', 'D969', 'Genova', st_multi(st_makeenvelope(8.8, 44.3, 9.1, 44.5, 4326))),
            ('010010', 'B490', 'Camogli', st_multi(st_makeenvelope(9.1, 44.3, 9.2, 44.4, 4326)))",
    )
    .execute(pool)
    .await
    .unwrap();
    for i in 0..10 {
        let h = f64::from(i + 1);
        insert(
            pool,
            &Row::new(GENOVA, "buca_stradale", "resolved", day(i64::from(i))).ack(h).resolved(10.0 * h),
        )
        .await;
    }
    insert(pool, &Row::new(GENOVA, "rifiuti", "acknowledged", day(20)).ack(2.0)).await;
    insert(pool, &Row::new(GENOVA, "rifiuti", "acknowledged", day(21)).ack(4.0)).await;
    let hidden =
        Row { hidden: true, ..Row::new(GENOVA, "buca_stradale", "resolved", day(3)).ack(0.1).resolved(0.1) };
    insert(pool, &hidden).await;
    let unapproved = Row {
        approved: false,
        ..Row::new(GENOVA, "buca_stradale", "resolved", day(4)).ack(0.1).resolved(0.1)
    };
    insert(pool, &unapproved).await;
    let early = Utc.with_ymd_and_hms(2025, 12, 31, 23, 0, 0).unwrap();
    insert(pool, &Row::new(GENOVA, "buca_stradale", "resolved", early).ack(0.1).resolved(0.1)).await;

    insert(pool, &Row::new(TIGLIETO, "buca_stradale", "closed", day(5)).ack(0.25).resolved(0.5)).await;
    for i in 0..6 {
        let h = 2.0 * f64::from(i + 1);
        insert(
            pool,
            &Row::new(CAMOGLI, "allagamento", "resolved", day(30 + i64::from(i))).ack(1.0).resolved(h),
        )
        .await;
    }
    for i in 0..5 {
        let row = Row::new(RAPALLO, "frana", if i < 2 { "resolved" } else { "new" }, day(40 + i64::from(i)));
        let row = if i < 2 { row.ack(0.5).resolved(1.0) } else { row };
        insert(pool, &row).await;
    }
}

fn timing<'a>(stats: &'a Stats, comune: &str) -> &'a Timing {
    stats.comuni.iter().find(|t| t.comune == comune).unwrap_or_else(|| panic!("no row for {comune}"))
}

#[tokio::test]
async fn medians_and_p90_are_exact_and_one_fast_fix_is_not_ranked() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    history(&pool).await;
    let (from, to) = year();
    let all = stats::stats(&pool, &StatsQuery { from: Some(from), to: Some(to), ..StatsQuery::default() })
        .await
        .unwrap();

    assert_eq!(all.total, 12 + 1 + 6 + 5, "hidden, unapproved and earlier reports do not count");
    let counts: Vec<(&str, &str, i64)> =
        all.by_category.iter().map(|c| (c.key.as_str(), c.name.as_str(), c.count)).collect();
    assert_eq!(
        counts,
        [
            ("buca_stradale", "Buca stradale", 11),
            ("allagamento", "Allagamento", 6),
            ("frana", "Frana / smottamento", 5),
            ("rifiuti", "Rifiuti", 2)
        ]
    );
    let statuses: Vec<(&str, &str, i64)> =
        all.by_status.iter().map(|c| (c.key.as_str(), c.name.as_str(), c.count)).collect();
    assert_eq!(
        statuses,
        [
            ("new", "Nuova", 3),
            ("acknowledged", "Presa in carico", 2),
            ("resolved", "Risolta", 18),
            ("closed", "Chiusa", 1)
        ]
    );

    // Genova as a whole: acknowledge times 1…10 and 2, 4 → sorted 1 2 2 3 4 4 5 6 7 8 9 10: median 4.5, p90 at
    // rank 9.9 → 8.9; resolve times 10…100: median 55, p90 91.
    let genova = timing(&all, GENOVA);
    assert_eq!(genova.comune_name, "Genova");
    assert_eq!((genova.reports, genova.acknowledged, genova.resolved), (12, 12, 10));
    assert_hours(genova.hours_to_acknowledge, 4.5, 8.9);
    assert_hours(genova.hours_to_resolve, 55.0, 91.0);
    assert!(genova.ranked);

    // Per category.
    let potholes = all
        .categories
        .iter()
        .find(|t| t.comune == GENOVA && t.category.as_deref() == Some("buca_stradale"))
        .unwrap();
    assert_eq!(potholes.category_name.as_deref(), Some("Buca stradale"));
    assert_eq!(potholes.reports, 10);
    assert_hours(potholes.hours_to_acknowledge, 5.5, 9.1);
    assert_hours(potholes.hours_to_resolve, 55.0, 91.0);
    assert!(potholes.ranked);
    let waste = all
        .categories
        .iter()
        .find(|t| t.comune == GENOVA && t.category.as_deref() == Some("rifiuti"))
        .unwrap();
    assert_eq!((waste.reports, waste.resolved), (2, 0));
    assert_hours(waste.hours_to_acknowledge, 3.0, 3.8);
    assert_eq!(waste.hours_to_resolve, Hours { median: None, p90: None });
    assert!(!waste.ranked, "2 reports are below the minimum count");

    // Tiglieto's single fix in half an hour is given, flagged unranked, and outside the ranking.
    let tiglieto = timing(&all, TIGLIETO);
    assert_eq!(tiglieto.comune_name, TIGLIETO, "no boundary nor registry row: the code stands for the name");
    assert_eq!(tiglieto.reports, 1);
    assert_hours(tiglieto.hours_to_resolve, 0.5, 0.5);
    assert!(!tiglieto.ranked);

    // Camogli: 2, 4 … 12 h → median 7, p90 at rank 4.5 → 11.
    let camogli = timing(&all, CAMOGLI);
    assert_hours(camogli.hours_to_resolve, 7.0, 11.0);
    assert_hours(camogli.hours_to_acknowledge, 1.0, 1.0);

    // Rapallo is ranked (5 reports) but has only 2 resolved: no place in the ranking by time to resolve.
    let rapallo = timing(&all, RAPALLO);
    assert!(rapallo.ranked);
    assert_eq!(rapallo.resolved, 2);

    let ranking: Vec<(i64, &str, f64)> =
        all.ranking.iter().map(|r| (r.rank, r.comune.as_str(), r.median_hours_to_resolve)).collect();
    assert_eq!(ranking, [(1, CAMOGLI, 7.0), (2, GENOVA, 55.0)]);

    // With a minimum of 1, the single fast fix does top the ranking: the minimum is what keeps it out.
    let lax = stats::stats(
        &pool,
        &StatsQuery { from: Some(from), to: Some(to), min_count: 1, ..StatsQuery::default() },
    )
    .await
    .unwrap();
    assert_eq!(lax.ranking.first().map(|r| r.comune.as_str()), Some(TIGLIETO));

    // One comune.
    let one = stats::stats(
        &pool,
        &StatsQuery { comune: Some(GENOVA.into()), from: Some(from), to: Some(to), ..StatsQuery::default() },
    )
    .await
    .unwrap();
    assert_eq!(one.total, 12);
    assert_eq!(one.comuni.len(), 1);
    assert_eq!(one.comuni[0], *genova);
    assert_eq!(one.ranking.len(), 1);
    assert_eq!(one.categories.len(), 2);

    // The period: only the report filed before 2026 (resolved in minutes) in December 2025.
    let december = stats::stats(
        &pool,
        &StatsQuery {
            comune: Some(GENOVA.into()),
            from: Some(Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap()),
            to: Some(from),
            ..StatsQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(december.total, 1);
    assert!(!december.comuni[0].ranked);
    assert!(december.ranking.is_empty());
}

#[tokio::test]
async fn an_empty_period_and_bad_queries() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let empty = stats::stats(&pool, &StatsQuery::default()).await.unwrap();
    assert_eq!(empty.total, 0);
    assert!(empty.comuni.is_empty() && empty.ranking.is_empty() && empty.by_category.is_empty());
    let bad =
        stats::stats(&pool, &StatsQuery { comune: Some("Genova".into()), ..StatsQuery::default() }).await;
    assert!(matches!(bad, Err(reports::Error::Invalid(_))), "{bad:?}");
}
