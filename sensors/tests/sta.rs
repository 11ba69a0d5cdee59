//! The SensorThings read model on a real PostGIS: Observation ids over five centuries, bounded expansions, paging
//! edges and database errors caused by user expressions.

use chrono::{DateTime, Utc};
use sensors::Quantity;
use sensors::sta::model::{
    self, EntitySet, Expanded, MAX_ENTITIES, MAX_EXPAND_TOP, MAX_TOP, Next, Page, Scope,
};
use sensors::sta::query::QueryOptions;
use sensors::sta::{self as sta, datastream_id, observation_id};
use sqlx::PgPool;
use testkit::TestDb;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn opts(pairs: &[(&str, &str)]) -> QueryOptions {
    QueryOptions::parse_pairs(pairs.iter().copied()).unwrap_or_else(|e| panic!("{pairs:?}: {e}"))
}

/// `n` stations (odd: hydrometers, even: rain gauges) with `per_station` readings every 5 minutes from `from`.
async fn network(pool: &PgPool, n: i64, per_station: i64, from: &str) {
    sqlx::query(
        "insert into sensors.station (code, name, kind, geom)
         select 'S' || i, 'Stazione ' || i, case when i % 2 = 0 then 'rain_gauge' else 'hydrometer' end,
                st_setsrid(st_makepoint(8.9 + i * 0.001, 44.4), 4326)
         from generate_series(1, $1) i",
    )
    .bind(n)
    .execute(pool)
    .await
    .unwrap();
    readings(pool, per_station, from).await;
}

async fn readings(pool: &PgPool, per_station: i64, from: &str) {
    sqlx::query(
        "select sensors.ensure_reading_partition(t)
         from generate_series($1::timestamptz, $1::timestamptz + $2 * interval '5 minutes', interval '1 month') t",
    )
    .bind(t(from))
    .bind(per_station)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("select sensors.ensure_reading_partition($1::timestamptz + $2 * interval '5 minutes')")
        .bind(t(from))
        .bind(per_station)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into sensors.reading (station_id, quantity, observed_at, value, qc, received_at)
         select s.id, case s.kind when 'rain_gauge' then 1 else 2 end, $1::timestamptz + g * interval '5 minutes',
                g * 0.1, 0, now()
         from sensors.station s, generate_series(0, $2 - 1) g",
    )
    .bind(t(from))
    .bind(per_station)
    .execute(pool)
    .await
    .unwrap();
}

async fn at(pool: &PgPool, station: i64, quantity: i16, observed_at: &str) {
    sqlx::query("select sensors.ensure_reading_partition($1)")
        .bind(t(observed_at))
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into sensors.reading (station_id, quantity, observed_at, value, qc, received_at)
         values ($1, $2, $3, 1.5, 0, now())",
    )
    .bind(station)
    .bind(quantity)
    .bind(t(observed_at))
    .execute(pool)
    .await
    .unwrap();
}

async fn read(pool: &PgPool, set: EntitySet, scope: Scope, options: &QueryOptions) -> sensors::Result<Page> {
    let mut tx = model::begin(pool).await?;
    let page = model::read(&mut tx, set, &scope, options).await;
    tx.commit().await?;
    page
}

async fn one(pool: &PgPool, set: EntitySet, scope: Scope) -> Option<model::Entity> {
    let mut tx = model::begin(pool).await.unwrap();
    model::read_one(&mut tx, set, &scope, &QueryOptions::default()).await.unwrap()
}

/// Entities rendered in a page, at every level.
fn rendered(page: &Page) -> usize {
    page.items.iter().map(|e| 1 + e.expanded.iter().map(|x| expanded(&x.value)).sum::<usize>()).sum()
}

fn expanded(value: &Expanded) -> usize {
    match value {
        Expanded::One(Some(e)) => 1 + e.expanded.iter().map(|x| expanded(&x.value)).sum::<usize>(),
        Expanded::One(None) => 0,
        Expanded::Many(page) => rendered(page),
    }
}

#[tokio::test]
async fn observation_ids_name_readings_from_1900_to_2399() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    network(&pool, 1, 0, "2026-01-01T00:00:00Z").await;
    let station: i64 = sqlx::query_scalar("select id from sensors.station").fetch_one(&pool).await.unwrap();
    let times = [
        "1900-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999Z",
        "1970-01-01T00:00:00Z",
        "2026-11-22T10:05:00.123Z",
        "2109-06-01T00:00:00Z",
        "2200-12-31T23:59:59.999Z",
        "2399-12-31T23:59:59.999Z",
    ];
    for time in times {
        at(&pool, station, 2, time).await;
    }
    // Stored with microseconds: its id names its millisecond, and finds it.
    at(&pool, station, 2, "2026-11-22T10:06:00.123456Z").await;
    // Outside what ids can name: not served (never a wrong or duplicate id).
    at(&pool, station, 2, "1850-06-01T00:00:00Z").await;
    at(&pool, station, 2, "2400-01-01T00:00:00Z").await;

    let ds = datastream_id(station, Quantity::Level);
    let page = read(&pool, EntitySet::Observations, Scope::All, &opts(&[("$top", "1000")])).await.unwrap();
    let ids: Vec<i64> = page.items.iter().map(|e| e.id).collect();
    let mut want: Vec<i64> = times.iter().map(|s| observation_id(ds, t(s)).unwrap()).collect();
    want.insert(4, observation_id(ds, t("2026-11-22T10:06:00.123Z")).unwrap());
    assert_eq!(ids, want, "in time order, 1850 and 2400 left out");

    for (id, time) in
        want.iter().zip(times.iter().take(4).chain(["2026-11-22T10:06:00.123Z"].iter()).chain(&times[4..]))
    {
        let found =
            one(&pool, EntitySet::Observations, Scope::Id(*id)).await.unwrap_or_else(|| panic!("{time}"));
        assert_eq!(found.id, *id);
        let phenomenon: DateTime<Utc> =
            found.field_map()["phenomenonTime"].as_str().unwrap().parse().unwrap();
        assert_eq!(phenomenon, t(time), "{time}");
        assert_eq!(sta::observation_key(*id), Some((ds, t(time))));
        // The Datastream and FeatureOfInterest of the Observation.
        let related =
            Scope::Related { parent: EntitySet::Observations, nav: "Datastream".into(), parent_id: *id };
        assert_eq!(one(&pool, EntitySet::Datastreams, related).await.map(|e| e.id), Some(ds));
    }
    // An id no reading has, and ids no reading can have, find nothing.
    let missing = observation_id(ds, t("2026-11-22T10:05:00.124Z")).unwrap();
    for id in [missing, 0, -1, i64::MAX, i64::MIN] {
        assert!(one(&pool, EntitySet::Observations, Scope::Id(id)).await.is_none(), "{id}");
    }
}

#[tokio::test]
async fn stations_beyond_the_id_range_are_left_out_of_observations() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let big = sta::MAX_OBSERVATION_STATION + 1;
    sqlx::query(
        "insert into sensors.station (id, code, name, kind, geom) overriding system value
         values ($1, 'BIG', 'Big', 'hydrometer', st_setsrid(st_makepoint(8.9, 44.4), 4326)),
                ($2, 'EDGE', 'Edge', 'hydrometer', st_setsrid(st_makepoint(8.9, 44.4), 4326))",
    )
    .bind(big)
    .bind(big - 1)
    .execute(&pool)
    .await
    .unwrap();
    at(&pool, big, 2, "2026-11-22T10:00:00Z").await;
    at(&pool, big - 1, 2, "2026-11-22T10:00:00Z").await;
    let page = read(&pool, EntitySet::Observations, Scope::All, &QueryOptions::default()).await.unwrap();
    let edge = observation_id(datastream_id(big - 1, Quantity::Level), t("2026-11-22T10:00:00Z")).unwrap();
    assert_eq!(page.items.iter().map(|e| e.id).collect::<Vec<_>>(), [edge]);
}

#[tokio::test]
async fn nested_expansions_with_huge_tops_stay_within_the_budget() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    network(&pool, 100, 150, "2026-11-01T00:00:00Z").await;
    let hostile = opts(&[
        ("$top", "10000"),
        ("$expand", "Datastreams($top=10000;$expand=Observations($top=10000;$expand=FeatureOfInterest))"),
    ]);
    let page = read(&pool, EntitySet::Things, Scope::All, &hostile).await.unwrap();
    assert_eq!(page.items.len(), 100);
    assert_eq!(page.next, None);
    assert!(rendered(&page) <= MAX_ENTITIES, "{}", rendered(&page));
    for thing in &page.items {
        let Expanded::Many(datastreams) = &thing.expanded[0].value else { panic!() };
        assert_eq!(datastreams.items.len(), 1);
        let Expanded::Many(observations) = &datastreams.items[0].expanded[0].value else { panic!() };
        // 9,900 entities left for 100 datastreams and their observations: 98 observations each, then a link.
        assert_eq!(observations.items.len(), 98);
        assert_eq!(observations.next, Some(Next { top: MAX_EXPAND_TOP, skip: 98 }));
        // No budget left for their features of interest: left out, the navigationLink leads there.
        assert!(observations.items.iter().all(|o| o.expanded.is_empty()));
    }

    // A page larger than the server's is served in pages of MAX_TOP.
    let all = read(&pool, EntitySet::Observations, Scope::All, &opts(&[("$top", "100000")])).await.unwrap();
    assert_eq!(all.items.len() as u64, MAX_TOP);
    assert_eq!(all.next, Some(Next { top: MAX_TOP, skip: MAX_TOP }));

    // Entities shared through a to-one relation count once per place they appear.
    let shared = opts(&[("$top", "1000"), ("$expand", "Datastream($expand=Observations($top=100))")]);
    let page = read(&pool, EntitySet::Observations, Scope::All, &shared).await.unwrap();
    assert_eq!(page.items.len(), 1000);
    assert!(rendered(&page) <= MAX_ENTITIES, "{}", rendered(&page));
    let Expanded::One(Some(datastream)) = &page.items[0].expanded[0].value else { panic!() };
    let Expanded::Many(observations) = &datastream.expanded[0].value else { panic!() };
    assert_eq!(observations.items.len(), 8, "8,000 left for 1,000 rendered datastreams");
    assert_eq!(observations.next, Some(Next { top: 100, skip: 8 }));
}

#[tokio::test]
async fn expansions_keep_their_own_options() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    network(&pool, 3, 20, "2026-11-01T00:00:00Z").await;
    let options = opts(&[
        ("$orderby", "@iot.id desc"),
        (
            "$expand",
            "Datastreams($expand=Observations($top=3;$skip=2;$count=true;$orderby=phenomenonTime desc;$filter=result ge 0.5))",
        ),
    ]);
    let page = read(&pool, EntitySet::Things, Scope::All, &options).await.unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(page.items[0].id > page.items[2].id);
    for thing in &page.items {
        let Expanded::Many(datastreams) = &thing.expanded[0].value else { panic!() };
        let Expanded::Many(observations) = &datastreams.items[0].expanded[0].value else { panic!() };
        // 15 readings of 20 have result ≥ 0.5; newest first, after 2 skipped.
        assert_eq!(observations.count, Some(15));
        let results: Vec<f64> =
            observations.items.iter().map(|o| o.field_map()["result"].as_f64().unwrap()).collect();
        assert_eq!(results.len(), 3);
        assert!((results[0] - 1.7).abs() < 1e-9 && (results[2] - 1.5).abs() < 1e-9, "{results:?}");
        assert_eq!(observations.next, Some(Next { top: 3, skip: 5 }));
        let options = &datastreams.items[0].expanded[0].options;
        let link: Vec<_> = options.link_pairs().collect();
        assert!(
            link.contains(&("$filter", "result ge 0.5")) && link.contains(&("$count", "true")),
            "{link:?}"
        );
    }
    // `A/B` expands A with B inside it.
    let path = read(&pool, EntitySet::Things, Scope::All, &opts(&[("$expand", "Datastreams/Observations")]))
        .await
        .unwrap();
    let Expanded::Many(datastreams) = &path.items[0].expanded[0].value else { panic!() };
    let Expanded::Many(observations) = &datastreams.items[0].expanded[0].value else { panic!() };
    assert_eq!(observations.items.len(), 20);
}

#[tokio::test]
async fn paging_edges_give_no_endless_links() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    network(&pool, 3, 5, "2026-11-01T00:00:00Z").await;
    let zero = read(&pool, EntitySet::Things, Scope::All, &opts(&[("$top", "0"), ("$count", "true")]))
        .await
        .unwrap();
    assert_eq!((zero.items.len(), zero.next, zero.count), (0, None, Some(3)));
    let zero_inside = opts(&[("$expand", "Datastreams($top=0;$count=true)")]);
    let page = read(&pool, EntitySet::Things, Scope::All, &zero_inside).await.unwrap();
    let Expanded::Many(datastreams) = &page.items[0].expanded[0].value else { panic!() };
    assert_eq!((datastreams.items.len(), datastreams.next, datastreams.count), (0, None, Some(1)));
    let far = read(&pool, EntitySet::Observations, Scope::All, &opts(&[("$skip", "1000000")])).await.unwrap();
    assert_eq!((far.items.len(), far.next), (0, None));
    let last =
        read(&pool, EntitySet::Things, Scope::All, &opts(&[("$top", "2"), ("$skip", "2")])).await.unwrap();
    assert_eq!((last.items.len(), last.next), (1, None));
    let first = read(&pool, EntitySet::Things, Scope::All, &opts(&[("$top", "2")])).await.unwrap();
    assert_eq!(first.next, Some(Next { top: 2, skip: 2 }));
}

#[tokio::test]
async fn an_id_after_a_navigation_must_belong_to_the_parent() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    network(&pool, 2, 0, "2026-11-01T00:00:00Z").await;
    let datastreams: Vec<(i64, i64)> = sqlx::query_as(
        "select id, id * 10 + case kind when 'rain_gauge' then 1 else 2 end from sensors.station order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let (s1, ds1, ds2) = (datastreams[0].0, datastreams[0].1, datastreams[1].1);
    let mine =
        Scope::RelatedId { parent: EntitySet::Things, nav: "Datastreams".into(), parent_id: s1, id: ds1 };
    assert_eq!(one(&pool, EntitySet::Datastreams, mine).await.map(|e| e.id), Some(ds1));
    let theirs =
        Scope::RelatedId { parent: EntitySet::Things, nav: "Datastreams".into(), parent_id: s1, id: ds2 };
    assert!(one(&pool, EntitySet::Datastreams, theirs).await.is_none());
}

#[tokio::test]
async fn database_errors_caused_by_the_expression_are_invalid_queries() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    network(&pool, 3, 10, "2026-11-01T00:00:00Z").await;
    let readings: i64 =
        sqlx::query_scalar("select count(*) from sensors.reading").fetch_one(&pool).await.unwrap();
    for (set, filter) in [
        (EntitySet::Observations, "result mul 1e300 mul 1e300 gt 0"),
        (EntitySet::Things, "@iot.id mul 9223372036854775807 gt 0"),
        (EntitySet::Things, "substring(name, length(name) mul 9999999999) eq 'x'"),
        (EntitySet::Things, "substring(name, 1, 0 sub length(name)) eq 'x'"),
        (EntitySet::Locations, "st_relate(location, geography'POINT(8.9 44.4)', name)"),
        (EntitySet::Locations, "st_overlaps(location, geography'POLYGON((8 44, 10 45, 10 44, 8 45, 8 44))')"),
    ] {
        match read(&pool, set, Scope::All, &opts(&[("$filter", filter)])).await {
            Err(sensors::Error::InvalidQuery(message)) => {
                assert!(message.starts_with("the query cannot be evaluated: "), "{filter}: {message}")
            }
            // GEOS may well answer a predicate on a bow-tie instead of failing: no error is fine, a 500 is not.
            Ok(_) if filter.contains("st_overlaps") => {}
            other => panic!("{filter}: {other:?}"),
        }
    }
    // Nothing changed and the pool serves the next request.
    let after: i64 =
        sqlx::query_scalar("select count(*) from sensors.reading").fetch_one(&pool).await.unwrap();
    assert_eq!(after, readings);
    let page = read(&pool, EntitySet::Things, Scope::All, &QueryOptions::default()).await.unwrap();
    assert_eq!(page.items.len(), 3);
}

#[tokio::test]
async fn reads_run_read_only_with_a_statement_timeout() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let mut tx = model::begin(&pool).await.unwrap();
    let (read_only, timeout): (String, String) = sqlx::query_as(
        "select current_setting('transaction_read_only'), current_setting('statement_timeout')",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!((read_only.as_str(), timeout.as_str()), ("on", "10s"));
    let write = sqlx::query("delete from sensors.station").execute(&mut *tx).await.unwrap_err();
    assert!(write.to_string().contains("read-only transaction"), "{write}");
}
