//! The SensorThings API read face under hostile input, through the real binary: every bad input is a 400 that
//! names the problem, responses stay bounded, links use the configured public URL, and the server stays healthy
//! with its data intact.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use testkit::TestDb;

use crate::support::{Launch, Vedetta, block_on, get, query_i64};

const PUBLIC_URL: &str = "https://sensori.example.it/vedetta";

/// Vedetta on a fresh database with `stations` stations of `readings` readings each (every 5 minutes from
/// 2026-11-01), and its public URL set.
fn platform(root: &std::path::Path, db: &TestDb, stations: i64, readings: i64) -> Vedetta {
    block_on(async {
        let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
        sqlx::query(
            "insert into sensors.station (code, name, kind, geom)
             select 'STA-' || i, 'Stazione ' || i, case when i % 2 = 0 then 'rain_gauge' else 'hydrometer' end,
                    st_setsrid(st_makepoint(8.9 + i * 0.001, 44.4), 4326)
             from generate_series(1, $1) i",
        )
        .bind(stations)
        .execute(&pool)
        .await
        .expect("stations");
        sqlx::query("select sensors.ensure_reading_partition('2026-11-01T00:00:00Z'), sensors.ensure_reading_partition('2026-12-01T00:00:00Z')")
            .execute(&pool)
            .await
            .expect("partitions");
        sqlx::query(
            "insert into sensors.reading (station_id, quantity, observed_at, value, qc, received_at)
             select s.id, case s.kind when 'rain_gauge' then 1 else 2 end,
                    timestamptz '2026-11-01T00:00:00Z' + g * interval '5 minutes', g * 0.01, 0, now()
             from sensors.station s, generate_series(0, $1 - 1) g",
        )
        .bind(readings)
        .execute(&pool)
        .await
        .expect("readings");
        pool.close().await;
    });
    let mut vedetta = Launch::serve(root)
        .env("VEDETTA_DATABASE_URL", &db.url)
        .env("VEDETTA_HTTP_PUBLIC_URL", PUBLIC_URL)
        .spawn();
    vedetta.wait_healthy();
    vedetta
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn sta(vedetta: &Vedetta, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    get(&vedetta.url(&format!("/sta/v1.1/{path}?{}", query.join("&"))), None)
}

/// A raw HTTP/1.1 GET (any URI length, any Host header): status and body.
fn raw_get(vedetta: &Vedetta, target: &str, host: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(vedetta.http).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-Proto: javascript\r\nConnection: close\r\n\r\n"
    );
    // The server may answer (and close) before reading a huge request: a failed write is fine.
    let _ = stream.write_all(request.as_bytes());
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// The server answers, and nothing was written.
fn healthy_and_intact(vedetta: &Vedetta, db: &TestDb, stations: i64, readings: i64) {
    assert_eq!(get(&vedetta.url("/healthz"), None).0, 200);
    let (status, body) = sta(vedetta, "Things", &[("$top", "1")]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(query_i64(&db.url, "select count(*) from sensors.station"), stations);
    assert_eq!(query_i64(&db.url, "select count(*) from sensors.reading"), readings);
}

/// Entities in an STA response, at every level.
fn entities(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(entities).sum(),
        Value::Object(map) => {
            let own = usize::from(map.contains_key("@iot.id"));
            own + map.iter().filter(|(k, _)| !k.contains('@')).map(|(_, v)| entities(v)).sum::<usize>()
        }
        _ => 0,
    }
}

#[test]
fn hostile_query_options_are_400s_that_say_why_and_harm_nothing() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = platform(root.path(), &db, 3, 10);
    let hostile: &[(&str, &str, &str, &str)] = &[
        ("Things", "$filter", "9223372036854775807 add 1 eq 0", "does not fit in a 64-bit integer"),
        ("Things", "$filter", "1e308 mul 10 eq 0", "out of the range of numbers"),
        ("Things", "$filter", "substring(name,99999999999) eq 'x'", "start of `substring` must be between"),
        ("Things", "$filter", "substring(name,1,-5) eq 'x'", "length of `substring` must be between"),
        ("Locations", "$filter", "st_intersects(location, geography'POINT(a b)')", "expected a point"),
        ("Locations", "$filter", "st_within(location, geography'POLYGON((0 0, 1 1))')", "polygon ring"),
        (
            "Locations",
            "$filter",
            "st_within(location, geography'POINT(500 500)')",
            "not a longitude and latitude",
        ),
        ("Locations", "$filter", "st_relate(location, geography'POINT(8.9 44.4)', 'garbage')", "DE-9IM"),
        ("Things", "$filter", "name eq 'x\0y'", "NUL"),
        ("Things", "$filter", "1 div 0 eq 1", "division by zero"),
        // Evaluated by PostgreSQL, refused there: still the client's error.
        ("Things", "$filter", "@iot.id mul 9223372036854775807 gt 0", "cannot be evaluated"),
        ("Observations", "$filter", "result mul 1e300 mul 1e300 gt 0", "cannot be evaluated"),
        ("Things", "$skip", "9223372036854775808", "too large"),
        ("Things", "$skip", "1000001", "too large"),
        ("Things", "$top", "99999999999999999999", "too large"),
        ("Things", "$top", "-1", "non-negative integer"),
        ("Things", "$expand", "Datastreams($skip=9223372036854775808)", "too large"),
        ("Things", "$expand", &vec!["Datastreams"; 33].join(","), "navigations expanded"),
    ];
    for (path, key, value, phrase) in hostile {
        let (status, body) = sta(&vedetta, path, &[(key, value)]);
        assert_eq!(status, 400, "{key}={value}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(phrase), "{key}={value}: {detail}");
    }
    // Nesting: refused by depth within the length limit, by length beyond it, and by the HTTP layer when the
    // URI itself is too long (100,000 parentheses).
    let deep = |n: usize| format!("{}name{} eq 'x'", "(".repeat(n), ")".repeat(n));
    let (status, body) = sta(&vedetta, "Things", &[("$filter", &deep(4_000))]);
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("nested deeper than 32 levels"), "{body}");
    let (status, body) = sta(&vedetta, "Things", &[("$filter", &format!("name eq '{}'", "x".repeat(9_000)))]);
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("more than the 8192 accepted"), "{body}");
    // Parentheses may stand unencoded in a query string: 200 kB of them.
    let target = format!("/sta/v1.1/Things?$filter={}", deep(100_000).replace(' ', "%20"));
    let (status, _) = raw_get(&vedetta, &target, "localhost");
    assert!((400..500).contains(&status), "100,000 parentheses: {status}");
    let expand = format!("{}Observations{}", "Datastreams($expand=".repeat(20), ")".repeat(20));
    let (status, body) = sta(&vedetta, "Things", &[("$expand", &expand)]);
    assert_eq!(status, 400, "{body}");
    // Paths with too many hops.
    let (status, _) = sta(&vedetta, &"Things(1)/Datastreams(12)/Thing".repeat(4), &[]);
    assert_eq!(status, 400);
    healthy_and_intact(&vedetta, &db, 3, 30);
}

#[test]
fn three_levels_of_expansion_with_huge_tops_answer_a_bounded_page_with_links() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = platform(root.path(), &db, 100, 300);
    let expand = "Datastreams($top=10000;$expand=Observations($top=10000;$expand=FeatureOfInterest($expand=Observations($top=10000))))";
    let url = vedetta.url(&format!("/sta/v1.1/Things?$top=10000&$expand={}", enc(expand)));
    let response = ureq::get(&url).timeout(Duration::from_secs(30)).call().expect("an answer");
    assert_eq!(response.status(), 200);
    let text = response.into_string().unwrap();
    assert!(text.len() < 10 << 20, "{} bytes", text.len());
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(entities(&body) <= 10_000, "{} entities", entities(&body));
    let things = body["value"].as_array().unwrap();
    assert_eq!(things.len(), 100);
    assert!(body.get("@iot.nextLink").is_none());
    let datastream = &things[0]["Datastreams"][0];
    let observations = datastream["Observations"].as_array().unwrap();
    assert_eq!(observations.len(), 98, "9,800 entities left for 100 datastreams");
    // The rest through the link, with the same options, at the public URL.
    let next = datastream["Observations@iot.nextLink"].as_str().unwrap();
    let self_link = datastream["@iot.selfLink"].as_str().unwrap();
    assert!(next.starts_with(&format!("{self_link}/Observations?")), "{next}");
    assert!(next.starts_with(PUBLIC_URL), "{next}");
    assert!(next.contains("%24top=100&%24skip=98"), "{next}");
    let local = next.replace(PUBLIC_URL, &vedetta.url(""));
    let (status, page) = get(&local, None);
    assert_eq!(status, 200, "{page}");
    let rest = page["value"].as_array().unwrap();
    assert_eq!(rest.len(), 100);
    assert_eq!(rest[0]["@iot.id"], observations_after(&db, datastream["@iot.id"].as_i64().unwrap(), 98));
    let inner = rest[0]["FeatureOfInterest"]["Observations"].as_array();
    assert!(inner.is_some_and(|o| !o.is_empty() && o.len() <= 100), "the nested options came along: {page}");
    // $top=0 gives a count and no link to itself.
    let (status, zero) = sta(&vedetta, "Things", &[("$top", "0"), ("$count", "true")]);
    assert_eq!(status, 200);
    assert_eq!((zero["@iot.count"].as_i64(), zero.get("@iot.nextLink")), (Some(100), None));
    healthy_and_intact(&vedetta, &db, 100, 30_000);
}

/// The `@iot.id` of the Observation at `skip` of a Datastream (by time).
fn observations_after(db: &TestDb, datastream: i64, skip: i64) -> Value {
    let id = query_i64(
        &db.url,
        &format!(
            "select ((r.station_id * 2 + r.quantity - 1) << 44) | (floor(extract(epoch from r.observed_at) * 1000)::bigint + 2208988800000)
             from sensors.reading r where r.station_id = {} and r.quantity = {} order by r.observed_at offset {skip} limit 1",
            datastream / 10,
            datastream % 10
        ),
    );
    Value::from(id)
}

#[test]
fn observations_from_1900_to_2399_have_ids_that_find_them() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = platform(root.path(), &db, 1, 0);
    let station = query_i64(&db.url, "select id from sensors.station");
    let times = [
        "1900-01-01T00:00:00.000Z",
        "1969-12-31T23:59:59.999Z",
        "2109-06-01T00:00:00.000Z",
        "2200-12-31T23:59:59.999Z",
    ];
    block_on(async {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        for t in times {
            sqlx::query("select sensors.ensure_reading_partition($1::timestamptz)")
                .bind(t)
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("insert into sensors.reading (station_id, quantity, observed_at, value, qc, received_at) values ($1, 2, $2::timestamptz, 1.25, 0, now())")
                .bind(station)
                .bind(t)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    });
    let datastream = station * 10 + 2;
    let (status, body) =
        sta(&vedetta, &format!("Datastreams({datastream})/Observations"), &[("$orderby", "phenomenonTime")]);
    assert_eq!(status, 200, "{body}");
    let observations = body["value"].as_array().unwrap();
    let found: Vec<&str> = observations.iter().map(|o| o["phenomenonTime"].as_str().unwrap()).collect();
    assert_eq!(found, times);
    let mut ids: Vec<i64> = observations.iter().map(|o| o["@iot.id"].as_i64().unwrap()).collect();
    for (id, time) in ids.iter().zip(times) {
        assert!(*id > 0);
        let (status, one) = sta(&vedetta, &format!("Observations({id})"), &[]);
        assert_eq!(status, 200, "{time}: {one}");
        assert_eq!(one["phenomenonTime"], time);
        assert_eq!(one["@iot.selfLink"], format!("{PUBLIC_URL}/sta/v1.1/Observations({id})"));
        let (status, ds) = sta(&vedetta, &format!("Observations({id})/Datastream"), &[]);
        assert_eq!((status, ds["@iot.id"].as_i64()), (200, Some(datastream)), "{time}");
    }
    ids.dedup();
    assert_eq!(ids.len(), times.len(), "distinct ids");
    let (status, _) = sta(&vedetta, "Observations(4611686018427387904)", &[]);
    assert_eq!(status, 404);
    // A Datastream of another Thing is not found under this one.
    let (status, _) = sta(&vedetta, &format!("Things({station})/Datastreams({})", datastream + 10), &[]);
    assert_eq!(status, 404);
    healthy_and_intact(&vedetta, &db, 1, 4);
}

#[test]
fn links_use_the_public_url_whatever_the_request_headers() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let vedetta = platform(root.path(), &db, 3, 0);
    let (status, body) =
        raw_get(&vedetta, "/sta/v1.1/Things?$top=1&$expand=Datastreams", "evil.example\"><script>");
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("evil.example") && !body.contains("javascript"), "{body}");
    let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let links = [
        &body["@iot.nextLink"],
        &body["value"][0]["@iot.selfLink"],
        &body["value"][0]["Datastreams@iot.navigationLink"],
        &body["value"][0]["Datastreams"][0]["@iot.selfLink"],
    ];
    for link in links {
        assert!(link.as_str().is_some_and(|l| l.starts_with(&format!("{PUBLIC_URL}/sta/v1.1/"))), "{link}");
    }
    // `$select` picks members, at every level of expansion.
    let (status, body) = sta(
        &vedetta,
        "Things",
        &[("$select", "id,name"), ("$expand", "Datastreams($select=name,unitOfMeasurement)")],
    );
    assert_eq!(status, 200, "{body}");
    let thing = body["value"][0].as_object().unwrap();
    let mut keys: Vec<&str> = thing.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["@iot.id", "Datastreams", "name"]);
    let datastream = thing["Datastreams"][0].as_object().unwrap();
    let mut keys: Vec<&str> = datastream.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["name", "unitOfMeasurement"]);
    assert!(datastream["name"].as_str().unwrap().starts_with("Stazione "));
    let (_, landing) = raw_get(&vedetta, "/sta/v1.1", "evil.example");
    assert!(!landing.contains("evil.example") && landing.contains(PUBLIC_URL), "{landing}");
}
