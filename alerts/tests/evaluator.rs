//! The evaluator on a real PostGIS: readings committed with their spine events (as the ingest writer does), rules
//! firing, escalating and clearing on one alert, exactly one evaluator across "processes", restarts without
//! duplicates.

use std::time::Duration;

use alerts::alert::State;
use alerts::evaluator::{Evaluator, EvaluatorOptions};
use alerts::rule::RuleSet;
use alerts::{Level, store};
use chrono::{DateTime, TimeDelta, Utc};
use database::event::{NewEvent, Spine};
use serde_json::json;
use sqlx::PgPool;
use testkit::TestDb;
use tokio_util::sync::CancellationToken;

async fn station(pool: &PgPool, code: &str, kind: &str, thresholds: serde_json::Value) -> i64 {
    sqlx::query_scalar(
        "insert into sensors.station (code, name, kind, geom, interval_s, thresholds)
         values ($1, $1, $2, st_setsrid(st_makepoint(8.95, 44.42), 4326), 300, $3) returning id",
    )
    .bind(code)
    .bind(kind)
    .bind(thresholds)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn t0() -> DateTime<Utc> {
    "2026-11-20T00:00:00Z".parse().unwrap()
}

/// Stores readings of one station and announces them, as one ingest batch.
async fn commit(pool: &PgPool, id: i64, code: &str, quantity: i16, readings: &[(i64, f64)]) {
    let mut tx = pool.begin().await.unwrap();
    let times: Vec<DateTime<Utc>> = readings.iter().map(|(m, _)| t0() + TimeDelta::minutes(*m)).collect();
    for t in &times {
        sqlx::query("select sensors.ensure_reading_partition($1)").bind(t).execute(&mut *tx).await.unwrap();
    }
    let values: Vec<f64> = readings.iter().map(|r| r.1).collect();
    sqlx::query(
        "insert into sensors.reading (station_id, quantity, observed_at, value, received_at)
         select $1, $2, t, v, now() from unnest($3::timestamptz[], $4::float8[]) as u(t, v)
         on conflict do nothing",
    )
    .bind(id)
    .bind(quantity)
    .bind(&times)
    .bind(&values)
    .execute(&mut *tx)
    .await
    .unwrap();
    let (from, to) = (times.iter().min().unwrap(), times.iter().max().unwrap());
    let payload = json!({"station": code, "station_id": id, "quantity": if quantity == 1 {"rain"} else {"level"},
        "from": from, "to": to, "count": readings.len(), "latest_at": to, "latest_value": 0.0, "latest_qc": ["ok"]});
    database::event::append(&mut tx, &[NewEvent::new("readings.committed", Some(code.into()), payload)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

struct Running {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn start(pool: &PgPool, rules: RuleSet) -> Running {
    let spine = Spine::start(pool.clone(), None);
    let opts = EvaluatorOptions { rules, tick: Duration::from_millis(300), ..Default::default() };
    let evaluator = Evaluator::new(pool.clone(), spine, opts);
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let cancel = cancel.clone();
        async move { evaluator.run(cancel, || async {}).await }
    });
    Running { cancel, task }
}

impl Running {
    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(PATIENCE, self.task).await.unwrap().unwrap();
    }
}

/// How long a test waits for the evaluator (a loaded 2-core CI machine runs many test binaries at once; a passing
/// run waits only as long as the evaluator takes).
const PATIENCE: Duration = Duration::from_secs(60);

/// Waits until the evaluator's cursor reaches the newest event. Callers commit their events first (awaited), so the
/// newest event is final; both values are read in one statement (one snapshot).
async fn settled(pool: &PgPool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (last, cursor): (i64, Option<i64>) = sqlx::query_as(
            "select (select coalesce(max(id), 0) from core.event where kind = 'readings.committed'),
                    (select last_event_id from alerts.consumer_cursor where consumer = 'evaluator')",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if cursor.is_some_and(|c| c >= last) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the evaluator did not catch up within {PATIENCE:?} (cursor {cursor:?}, last event {last})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn alerts_of(pool: &PgPool, subject: &str) -> Vec<alerts::Alert> {
    let all = store::list(pool, &store::Filter { limit: 1000, ..Default::default() }).await.unwrap();
    all.into_iter().filter(|a| a.subject == subject).collect()
}

async fn changes(pool: &PgPool, subject: &str) -> Vec<String> {
    sqlx::query_scalar(
        "select payload->>'change' || ':' || (payload->>'level') from core.event
         where kind = 'alert.changed' and payload->>'subject' = $1 order by id",
    )
    .bind(subject)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Waits for the first start to take the leadership and set its cursor.
async fn leading(pool: &PgPool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let n: i64 =
            sqlx::query_scalar("select count(*) from alerts.consumer_cursor where consumer = 'evaluator'")
                .fetch_one(pool)
                .await
                .unwrap();
        if n > 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no evaluator took the leadership within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_hydrometer_escalates_and_clears_on_one_alert_with_hysteresis() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = station(
        &pool,
        "EV-IDRO",
        "hydrometer",
        json!({"yellow": 2.0, "orange": 3.0, "red": 4.0, "clear": {"yellow": 1.8, "orange": 2.8, "red": 3.8}}),
    )
    .await;
    let running = start(&pool, RuleSet::default());
    leading(&pool).await;
    // Up through every colour, oscillating around gialla on the way, then down.
    let series = [1.0, 1.9, 2.05, 1.95, 2.1, 1.9, 3.1, 4.2, 3.9, 3.7, 2.9, 2.7, 1.9, 1.7, 1.0];
    for (i, v) in series.iter().enumerate() {
        commit(&pool, id, "EV-IDRO", 2, &[(i as i64 * 5, *v)]).await;
    }
    settled(&pool).await;
    let got = alerts_of(&pool, "EV-IDRO").await;
    assert_eq!(got.len(), 1, "one alert for the whole episode: {got:?}");
    let alert = &got[0];
    assert_eq!((alert.state, alert.peak_level), (State::Resolved, Level::Rossa));
    assert_eq!(
        changes(&pool, "EV-IDRO").await,
        [
            "fired:gialla",
            "escalated:arancione",
            "escalated:rossa",
            "deescalated:arancione",
            "deescalated:gialla",
            "resolved:gialla"
        ],
        "no flapping around 2.0 m (clear at 1.8 m)"
    );
    let history = store::history(&pool, alert.id).await.unwrap();
    assert_eq!(history.len(), 6);
    assert_eq!(history.iter().map(|h| h.version).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    running.stop().await;
}

#[tokio::test]
async fn a_restart_mid_alert_and_replayed_readings_duplicate_nothing() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = station(&pool, "EV-RST", "hydrometer", json!({"yellow": 2.0, "orange": 3.0, "red": 4.0})).await;
    let running = start(&pool, RuleSet::default());
    leading(&pool).await;
    commit(&pool, id, "EV-RST", 2, &[(0, 1.0), (5, 2.5)]).await;
    settled(&pool).await;
    running.stop().await;

    // While no evaluator runs, readings go on; a new process takes over where the last one committed.
    commit(&pool, id, "EV-RST", 2, &[(10, 3.5)]).await;
    // The same readings announced again (a replayed batch) and a late reading older than what was evaluated.
    commit(&pool, id, "EV-RST", 2, &[(0, 1.0), (5, 2.5), (10, 3.5)]).await;
    commit(&pool, id, "EV-RST", 2, &[(7, 3.6)]).await;
    let running = start(&pool, RuleSet::default());
    settled(&pool).await;
    assert_eq!(changes(&pool, "EV-RST").await, ["fired:gialla", "escalated:arancione"]);
    let got = alerts_of(&pool, "EV-RST").await;
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].version, got[0].level), (2, Level::Arancione));
    running.stop().await;
}

#[tokio::test]
async fn of_two_evaluators_one_leads_and_the_other_takes_over_when_it_stops() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = station(&pool, "EV-TWO", "rain_gauge", json!({"1h": {"yellow": 10.0, "orange": 20.0}})).await;
    let a = start(&pool, RuleSet::default());
    let b = start(&pool, RuleSet::default());
    leading(&pool).await;
    // 2 mm every 5 minutes: 10 mm within the hour after 25 minutes, 20 mm after 50.
    for m in 0..6 {
        commit(&pool, id, "EV-TWO", 1, &[(m * 5, 2.0)]).await;
    }
    settled(&pool).await;
    a.stop().await;
    for m in 6..12 {
        commit(&pool, id, "EV-TWO", 1, &[(m * 5, 2.0)]).await;
    }
    // `b` takes over (it tries for the leadership every 2 s; `settled` allows a loaded machine its time).
    settled(&pool).await;
    assert_eq!(changes(&pool, "EV-TWO").await, ["fired:gialla", "escalated:arancione"], "each change once");
    b.stop().await;
}

#[tokio::test]
async fn flagged_readings_do_not_raise_orange_alone_and_silent_stations_raise_a_technical_alert() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = station(&pool, "EV-QC", "hydrometer", json!({"yellow": 2.0, "orange": 3.0, "red": 4.0})).await;
    let running = start(&pool, RuleSet::default());
    leading(&pool).await;
    // A spike flagged by QC.
    let mut tx = pool.begin().await.unwrap();
    let t = Utc::now() - TimeDelta::minutes(20);
    sqlx::query("select sensors.ensure_reading_partition($1)").bind(t).execute(&mut *tx).await.unwrap();
    sqlx::query(
        "insert into sensors.reading (station_id, quantity, observed_at, value, qc, received_at) values ($1, 2, $2, 5.0, 4, now())",
    )
    .bind(id)
    .bind(t)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("insert into sensors.latest (station_id, quantity, observed_at, value, qc, run_since) values ($1, 2, $2, 5.0, 4, $2)")
        .bind(id)
        .bind(t)
        .execute(&mut *tx)
        .await
        .unwrap();
    let payload = json!({"station": "EV-QC", "station_id": id, "quantity": "level", "from": t, "to": t, "count": 1,
        "latest_at": t, "latest_value": 5.0, "latest_qc": ["spike"]});
    database::event::append(&mut tx, &[NewEvent::new("readings.committed", Some("EV-QC".into()), payload)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    settled(&pool).await;
    let got = alerts_of(&pool, "EV-QC").await;
    let hydro: Vec<_> = got.iter().filter(|a| a.rule == "level").collect();
    let states: Vec<(String, String, serde_json::Value)> =
        sqlx::query_as("select rule, subject, state from alerts.evaluation_state")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(hydro.len(), 1, "{got:?} {states:?}");
    assert_eq!(hydro[0].level, Level::Gialla, "a flagged reading raises gialla at most");

    // 20 minutes without a reading at a 5-minute interval: silent (3 × interval), a technical alert.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let silent: Vec<_> =
            alerts_of(&pool, "EV-QC").await.into_iter().filter(|a| a.rule == "silent").collect();
        if let Some(a) = silent.first() {
            assert_eq!(a.category, alerts::alert::Category::Technical);
            assert_eq!(a.state, State::Firing);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no silent-station alert");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.stop().await;
}

async fn zone(pool: &PgPool, code: &str) {
    sqlx::query(
        "insert into alerts.zone (code, name, geom, source)
         values ($1, $1, st_multi(st_makeenvelope(8.9, 44.4, 9.0, 44.5, 4326)), 'geojson')",
    )
    .bind(code)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_rate_of_rise_fires_while_the_river_climbs_and_clears_when_it_levels_off() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = station(&pool, "EV-RATE", "hydrometer", json!({})).await;
    let rules = RuleSet::parse_toml(
        "[[rules]]\ncode = \"salita\"\nname = \"Salita rapida\"\nkind = \"rate_of_rise\"\n\
         rate_m_per_h = 0.5\nwindow = \"30m\"\n",
    )
    .unwrap();
    let running = start(&pool, rules);
    leading(&pool).await;
    // Flat, then 0.1 m every 5 minutes (1.2 m/h), then flat again.
    let mut level = 1.0;
    for i in 0..30 {
        if (6..14).contains(&i) {
            level += 0.1;
        }
        commit(&pool, id, "EV-RATE", 2, &[(i * 5, level)]).await;
    }
    settled(&pool).await;
    assert_eq!(changes(&pool, "EV-RATE").await, ["fired:gialla", "resolved:gialla"]);
    let got = alerts_of(&pool, "EV-RATE").await;
    assert_eq!((got.len(), got[0].rule.as_str()), (1, "salita"));
    running.stop().await;
}

#[tokio::test]
async fn zone_rules_count_stations_at_a_colour_and_average_the_rain() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    zone(&pool, "ZB").await;
    let levels = json!({"yellow": 2.0, "orange": 3.0, "red": 4.0});
    let a = station(&pool, "EV-ZA", "hydrometer", levels.clone()).await;
    let b = station(&pool, "EV-ZB", "hydrometer", levels).await;
    let p1 = station(&pool, "EV-P1", "rain_gauge", json!({})).await;
    let p2 = station(&pool, "EV-P2", "rain_gauge", json!({})).await;
    let rules = RuleSet::parse_toml(
        "[[rules]]\ncode = \"zona-idro\"\nname = \"Due idrometri in gialla\"\nkind = \"zone_count\"\n\
         min_stations = 2\nstation_level = \"gialla\"\nlevel = \"arancione\"\n\n\
         [[rules]]\ncode = \"zona-pioggia\"\nname = \"Pioggia media\"\nkind = \"zone_mean_rain\"\n\
         window = \"1h\"\nthresholds = { yellow = 15.0 }\n",
    )
    .unwrap();
    let running = start(&pool, rules);
    leading(&pool).await;

    commit(&pool, a, "EV-ZA", 2, &[(0, 2.5)]).await;
    settled(&pool).await;
    assert!(changes(&pool, "ZB").await.is_empty(), "one station is not two");
    commit(&pool, b, "EV-ZB", 2, &[(0, 2.6)]).await;
    settled(&pool).await;
    // Zone rules are evaluated on wall-clock time; give the commit a moment.
    let until_changes = |n: usize| {
        let pool = pool.clone();
        async move {
            let deadline = tokio::time::Instant::now() + PATIENCE;
            loop {
                let got = changes(&pool, "ZB").await;
                if got.len() >= n || tokio::time::Instant::now() >= deadline {
                    return got;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(until_changes(1).await, ["fired:arancione"]);
    commit(&pool, a, "EV-ZA", 2, &[(5, 1.5)]).await;
    settled(&pool).await;
    assert_eq!(until_changes(2).await, ["fired:arancione", "resolved:arancione"]);

    // Rain: 3 mm every 5 minutes at one gauge, 1 mm at the other: the mean over the hour crosses 15 mm.
    for m in 0..12 {
        commit(&pool, p1, "EV-P1", 1, &[(m * 5, 3.0)]).await;
        commit(&pool, p2, "EV-P2", 1, &[(m * 5, 1.0)]).await;
    }
    settled(&pool).await;
    let got = until_changes(3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[2], "fired:gialla");
    let zone_alerts: Vec<_> = alerts_of(&pool, "ZB").await;
    assert!(
        zone_alerts
            .iter()
            .all(|a| a.subject_kind == alerts::alert::SubjectKind::Zone && a.zone.as_deref() == Some("ZB"))
    );
    running.stop().await;
}

#[tokio::test]
async fn an_alert_whose_rule_or_station_is_gone_ends_instead_of_firing_for_ever() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let id = station(&pool, "EV-GONE", "hydrometer", json!({"yellow": 2.0})).await;
    let other = station(&pool, "EV-RULE", "hydrometer", json!({})).await;
    let rule = alerts::rule::Rule::from_json(
        &json!({"code": "bassa", "name": "Soglia bassa", "kind": "level", "stations": ["EV-RULE"], "thresholds": {"yellow": 0.5}}),
    )
    .unwrap();
    alerts::rules_store::put(&pool, &rule, "test").await.unwrap();
    let running = start(&pool, RuleSet::default());
    leading(&pool).await;
    commit(&pool, id, "EV-GONE", 2, &[(0, 2.5)]).await;
    commit(&pool, other, "EV-RULE", 2, &[(0, 1.0)]).await;
    settled(&pool).await;
    assert_eq!(changes(&pool, "EV-GONE").await, ["fired:gialla"]);
    assert_eq!(changes(&pool, "EV-RULE").await, ["fired:gialla"]);

    alerts::rules_store::delete(&pool, "bassa", "test").await.unwrap();
    sqlx::query("delete from sensors.station where code = 'EV-GONE'").execute(&pool).await.unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let open: i64 = sqlx::query_scalar(
            "select count(*) from alerts.alert where state <> 'resolved' and subject in ('EV-GONE', 'EV-RULE') and rule <> 'silent'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if open == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{open} alerts still open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(changes(&pool, "EV-GONE").await, ["fired:gialla", "resolved:gialla"]);
    assert_eq!(changes(&pool, "EV-RULE").await, ["fired:gialla", "resolved:gialla"]);
    let states: i64 = sqlx::query_scalar("select count(*) from alerts.evaluation_state where rule = 'bassa'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(states, 0, "the ladder state is forgotten");
    running.stop().await;
}
