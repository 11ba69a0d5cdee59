//! Outgoing webhooks against a real PostGIS database and a real HTTP receiver on 127.0.0.1.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use alerts::Error;
use alerts::webhook::{
    self, CancellationToken, Delivery, DeliveryQuery, DeliveryState, Dispatcher, DispatcherOptions,
    NewSubscription,
};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::PgPool;
use testkit::{TestDb, WebhookBehaviour as Behaviour, WebhookReceiver as Receiver};

// ---------------------------------------------------------------- helpers

/// A receiver on 127.0.0.1 that answers a success with 204 No Content.
fn start_receiver(behaviour: Behaviour) -> Receiver {
    Receiver::start(Behaviour { ok_status: 204, ..behaviour })
}

fn alert(id: i64, version: i64, zone: Option<&str>, level: &str, category: &str) -> Value {
    json!({
        "id": id, "version": version, "rule": "level", "subject_kind": "station", "subject": "GE-BISAGNO-01",
        "zone": zone, "category": category, "hazard": "idraulico", "state": "firing", "level": level,
        "peak_level": level, "previous_level": null, "change": "fired", "value": 3.4, "unit": "m",
        "message": "Bisagno a Genova Sant'Agata sopra la soglia", "started_at": "2026-11-29T10:00:00+01:00",
        "fired_at": "2026-11-29T10:05:00+01:00", "resolved_at": null, "updated_at": "2026-11-29T10:05:00+01:00",
        "acknowledged_at": null, "acknowledged_by": null, "silenced": false
    })
}

/// Enqueues in a transaction of its own, as the evaluator does in the transaction that changes the alert.
async fn enqueue(pool: &PgPool, alert: &Value, event_id: Option<i64>) -> u64 {
    let mut tx = pool.begin().await.unwrap();
    let queued = webhook::enqueue(&mut tx, alert, event_id).await.unwrap();
    tx.commit().await.unwrap();
    queued
}

async fn subscribe(pool: &PgPool, new: NewSubscription) -> (i64, String) {
    let created = webhook::create_subscription(pool, &new, Some("admin")).await.unwrap();
    (created.subscription.id, created.secret)
}

/// How long a test waits for a delivery to reach a state: generous for a loaded 2-core CI machine; a passing run
/// waits only as long as the dispatcher takes.
const PATIENCE: Duration = Duration::from_secs(60);

/// Short backoffs and polls. The request timeout is long: a request to a receiver in this process that answers at
/// once must never time out on a stalled machine (that would be a retry, and a second request the tests count).
fn fast() -> DispatcherOptions {
    DispatcherOptions {
        timeout: Duration::from_secs(30),
        max_attempts: 8,
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        poll_interval: Duration::from_millis(50),
        ..DispatcherOptions::default()
    }
}

/// A running dispatcher, stopped (and awaited) by `stop`.
struct Running {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn start(pool: &PgPool, opts: DispatcherOptions) -> Running {
    let dispatcher = Dispatcher::new(pool.clone(), opts).unwrap();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(dispatcher.run(cancel.clone()));
    Running { cancel, task }
}

impl Running {
    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(PATIENCE, self.task).await.expect("the dispatcher stops").unwrap();
    }
}

async fn deliveries(pool: &PgPool, query: DeliveryQuery) -> Vec<Delivery> {
    webhook::list_deliveries(pool, &query).await.unwrap()
}

async fn wait_for_state(pool: &PgPool, id: i64, state: DeliveryState, within: Duration) -> Delivery {
    let deadline = Instant::now() + within;
    loop {
        let delivery = webhook::get_delivery(pool, id).await.unwrap().expect("the delivery exists");
        if delivery.state == state {
            return delivery;
        }
        assert!(Instant::now() < deadline, "delivery {id} not {state} within {within:?}: {delivery:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The signature computed here, independently of alerts::webhook.
fn hmac_hex(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_twice_then_accepting_gets_one_delivery_with_a_valid_signature() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let receiver = start_receiver(Behaviour::fail_first(2));
    let secret = "s3cret-of-the-prefettura-di-genova";
    let new =
        NewSubscription { secret: Some(secret.into()), ..NewSubscription::new("prefettura", receiver.url()) };
    let (subscription, returned_secret) = subscribe(&pool, new).await;
    assert_eq!(returned_secret, secret);

    let running = start(&pool, fast());
    let change = alert(12, 3, Some("B"), "arancione", "hydro");
    assert_eq!(enqueue(&pool, &change, Some(90210)).await, 1);
    let queued = deliveries(&pool, DeliveryQuery::default()).await;
    assert_eq!(queued.len(), 1);
    let delivered = wait_for_state(&pool, queued[0].id, DeliveryState::Delivered, PATIENCE).await;
    // Nothing more arrives afterwards.
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.stop().await;

    assert_eq!(delivered.subscription_id, subscription);
    assert_eq!((delivered.alert_id, delivered.alert_version, delivered.event_id), (12, 3, Some(90210)));
    assert_eq!(delivered.attempts, 3);
    assert_eq!(delivered.last_status, Some(204));
    assert_eq!(delivered.last_error, None);
    assert!(delivered.delivered_at.is_some());

    let hits = receiver.hits();
    assert_eq!(
        hits.iter().map(|h| h.status).collect::<Vec<_>>(),
        [500, 500, 204],
        "three attempts, one success"
    );
    for hit in &hits {
        assert_eq!(hit.header("content-type"), "application/json");
        assert_eq!(hit.header("x-vedetta-event"), "alert.changed");
        assert_eq!(
            hit.header("x-vedetta-delivery"),
            delivered.id.to_string(),
            "one delivery id on every attempt"
        );
        let timestamp = hit.header("x-vedetta-timestamp");
        let seconds: i64 = timestamp.parse().unwrap();
        assert!(
            (chrono::Utc::now().timestamp() - seconds).abs() < 60,
            "{timestamp} is the time of the attempt"
        );
        let signature = hit.header("x-vedetta-signature");
        assert!(webhook::verify_signature(secret, timestamp, &hit.body, signature), "{signature}");
        assert_eq!(signature, format!("sha256={}", hmac_hex(secret, timestamp, &hit.body)));
        // A tampered body, another timestamp or another secret do not verify.
        let mut tampered = hit.body.to_vec();
        tampered[10] ^= 1;
        assert!(!webhook::verify_signature(secret, timestamp, &tampered, signature));
        assert!(!webhook::verify_signature(secret, &(seconds + 1).to_string(), &hit.body, signature));
        assert!(!webhook::verify_signature("another-secret-entirely", timestamp, &hit.body, signature));

        let body: Value = serde_json::from_slice(&hit.body).unwrap();
        assert_eq!(body["event"], "alert.changed");
        assert_eq!(body["delivery_id"], delivered.id);
        assert_eq!(body["event_id"], 90210);
        assert_eq!(body["alert"], change);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_change_enqueued_twice_is_delivered_once() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let receiver = start_receiver(Behaviour::default());
    subscribe(&pool, NewSubscription::new("sala operativa", receiver.url())).await;

    let v1 = alert(7, 1, Some("A"), "gialla", "hydro");
    assert_eq!(enqueue(&pool, &v1, Some(1)).await, 1);
    // A replay of the same change (another event id, another process) queues nothing.
    assert_eq!(enqueue(&pool, &v1, Some(2)).await, 0);
    let mut tx = pool.begin().await.unwrap();
    assert_eq!(webhook::enqueue(&mut tx, &v1, None).await.unwrap(), 0);
    tx.commit().await.unwrap();
    // A rolled-back change queues nothing either.
    let mut tx = pool.begin().await.unwrap();
    assert_eq!(webhook::enqueue(&mut tx, &alert(8, 1, Some("A"), "rossa", "hydro"), None).await.unwrap(), 1);
    tx.rollback().await.unwrap();
    // The next version of the alert is a new change.
    let v2 = alert(7, 2, Some("A"), "arancione", "hydro");
    assert_eq!(enqueue(&pool, &v2, Some(3)).await, 1);

    let queued = deliveries(&pool, DeliveryQuery::default()).await;
    assert_eq!(queued.iter().map(|d| (d.alert_id, d.alert_version)).collect::<Vec<_>>(), [(7, 2), (7, 1)]);
    assert_eq!(queued[1].event_id, Some(1), "the first enqueue wins");

    let running = start(&pool, fast());
    for delivery in &queued {
        wait_for_state(&pool, delivery.id, DeliveryState::Delivered, PATIENCE).await;
    }
    assert_eq!(enqueue(&pool, &v1, Some(4)).await, 0, "a delivered change is not queued again");
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.stop().await;
    let versions: Vec<i64> = receiver
        .hits()
        .iter()
        .map(|hit| serde_json::from_slice::<Value>(&hit.body).unwrap()["alert"]["version"].as_i64().unwrap())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(receiver.hits().len(), 2);
    assert_eq!(versions, [1, 2]);
}

#[tokio::test]
async fn subscriptions_filter_by_zone_colour_and_category() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let url = "http://127.0.0.1:9/hook";
    let (all, _) = subscribe(&pool, NewSubscription::new("all", url)).await;
    let (zone_a_orange, _) = subscribe(
        &pool,
        NewSubscription {
            zones: vec!["A".into()],
            min_level: alerts::Level::Arancione,
            ..NewSubscription::new("zone A from orange", url)
        },
    )
    .await;
    let (red_everything, _) = subscribe(
        &pool,
        NewSubscription {
            min_level: alerts::Level::Rossa,
            categories: vec!["hydro".into(), "technical".into(), "manual".into()],
            ..NewSubscription::new("red, every category", url)
        },
    )
    .await;
    let (technical, _) = subscribe(
        &pool,
        NewSubscription { categories: vec!["technical".into()], ..NewSubscription::new("technical", url) },
    )
    .await;
    let (paused, _) =
        subscribe(&pool, NewSubscription { active: false, ..NewSubscription::new("paused", url) }).await;

    let mut deescalated = alert(6, 4, Some("A"), "gialla", "hydro");
    deescalated["peak_level"] = json!("rossa");
    deescalated["previous_level"] = json!("arancione");
    deescalated["change"] = json!("deescalated");
    let mut silenced = alert(8, 1, Some("A"), "rossa", "hydro");
    silenced["silenced"] = json!(true);
    let changes = [
        alert(1, 1, Some("B"), "gialla", "hydro"),
        alert(2, 1, Some("A"), "gialla", "hydro"),
        alert(3, 1, Some("A"), "arancione", "hydro"),
        alert(4, 1, Some("A"), "rossa", "manual"),
        alert(5, 1, Some("B"), "rossa", "technical"),
        deescalated,
        alert(7, 1, None, "arancione", "hydro"),
        silenced,
    ];
    for change in &changes {
        enqueue(&pool, change, None).await;
    }

    let mut routed: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for d in deliveries(&pool, DeliveryQuery::default()).await {
        routed.entry(d.subscription_id).or_default().push(d.alert_id);
    }
    for ids in routed.values_mut() {
        ids.sort();
    }
    assert_eq!(routed.get(&all).cloned().unwrap_or_default(), [1, 2, 3, 4, 6, 7]);
    assert_eq!(
        routed.get(&zone_a_orange).cloned().unwrap_or_default(),
        [3, 4, 6],
        "zone A, peak orange or red"
    );
    assert_eq!(routed.get(&red_everything).cloned().unwrap_or_default(), [4, 5, 6]);
    assert_eq!(routed.get(&technical).cloned().unwrap_or_default(), [5]);
    assert_eq!(routed.get(&paused), None);

    // Per-subscription listing, and a malformed change is refused with a reason.
    let listed =
        deliveries(&pool, DeliveryQuery { subscription_id: Some(technical), ..DeliveryQuery::default() })
            .await;
    assert_eq!(listed.iter().map(|d| d.alert_id).collect::<Vec<_>>(), [5]);
    let mut conn = pool.acquire().await.unwrap();
    let refused =
        webhook::enqueue(&mut conn, &json!({"id": 9, "version": 1, "category": "hydro"}), None).await;
    assert!(
        matches!(&refused, Err(Error::WebhookPayload { reason }) if reason.contains("level")),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_receivers_leave_dead_deliveries_with_the_reason_and_a_retry_delivers() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let failing = start_receiver(Behaviour { always_fail: true, ..Behaviour::default() });
    let slow = start_receiver(Behaviour { delay: Duration::from_secs(3), ..Behaviour::default() });
    let (failing_sub, _) = subscribe(&pool, NewSubscription::new("failing", failing.url())).await;
    let (slow_sub, _) = subscribe(&pool, NewSubscription::new("slow", slow.url())).await;
    let nobody = format!("http://127.0.0.1:{}/hook", testkit::free_port());
    let (refused_sub, _) = subscribe(&pool, NewSubscription::new("nobody listening", nobody)).await;
    // https to a server that speaks plain HTTP: the TLS handshake fails.
    let plain = start_receiver(Behaviour::default());
    let not_tls = format!("https://{}/hook", plain.addr());
    let (not_tls_sub, _) = subscribe(&pool, NewSubscription::new("not TLS", not_tls)).await;

    assert_eq!(enqueue(&pool, &alert(40, 1, Some("C"), "rossa", "hydro"), None).await, 4);
    let of = |subscription| DeliveryQuery { subscription_id: Some(subscription), ..DeliveryQuery::default() };
    let failing_delivery = deliveries(&pool, of(failing_sub)).await[0].id;
    let slow_delivery = deliveries(&pool, of(slow_sub)).await[0].id;
    let refused_delivery = deliveries(&pool, of(refused_sub)).await[0].id;
    let not_tls_delivery = deliveries(&pool, of(not_tls_sub)).await[0].id;

    // First the receivers that answer (or refuse) at once, under a request timeout no stalled machine reaches: a
    // 500 must be recorded as a 500, not as a timeout. The slow receiver's subscription is paused meanwhile (its
    // delivery stays pending, unclaimed).
    assert!(webhook::set_subscription_active(&pool, slow_sub, false).await.unwrap());
    let running = start(&pool, DispatcherOptions { max_attempts: 3, ..fast() });
    let dead = wait_for_state(&pool, failing_delivery, DeliveryState::Dead, PATIENCE).await;
    assert_eq!(dead.attempts, 3);
    assert_eq!(dead.last_status, Some(500));
    let reason = dead.last_error.clone().unwrap();
    assert!(reason.contains("500") && reason.contains("database down"), "{reason}");
    assert_eq!(failing.hits().len(), 3, "exactly max_attempts requests");

    let refused = wait_for_state(&pool, refused_delivery, DeliveryState::Dead, PATIENCE).await;
    assert_eq!((refused.attempts, refused.last_status), (3, None));
    assert!(refused.last_error.as_deref().unwrap().to_lowercase().contains("connect"), "{refused:?}");

    let not_tls = wait_for_state(&pool, not_tls_delivery, DeliveryState::Dead, PATIENCE).await;
    assert_eq!((not_tls.attempts, not_tls.last_status), (3, None));
    // (rustls says "received corrupt message of type InvalidContentType")
    assert!(not_tls.last_error.as_deref().unwrap().contains("Connect"), "{not_tls:?}");
    assert!(plain.hits().is_empty(), "no HTTP request got through");
    let pending = webhook::get_delivery(&pool, slow_delivery).await.unwrap().expect("it exists");
    assert_eq!((pending.state, pending.attempts), (DeliveryState::Pending, 0), "a paused subscription waits");
    running.stop().await;

    // Then the slow receiver (it answers after 3 s) under a dispatcher that waits 300 ms for an answer.
    assert!(webhook::set_subscription_active(&pool, slow_sub, true).await.unwrap());
    let impatient =
        start(&pool, DispatcherOptions { max_attempts: 3, timeout: Duration::from_millis(300), ..fast() });
    let timed_out = wait_for_state(&pool, slow_delivery, DeliveryState::Dead, PATIENCE).await;
    assert_eq!((timed_out.attempts, timed_out.last_status), (3, None));
    assert!(timed_out.last_error.as_deref().unwrap().contains("no answer within 300 ms"), "{timed_out:?}");
    impatient.stop().await;

    // The dead-letter list.
    let dead_letters =
        deliveries(&pool, DeliveryQuery { state: Some(DeliveryState::Dead), ..Default::default() }).await;
    assert_eq!(
        dead_letters.iter().map(|d| d.id).collect::<BTreeSet<_>>(),
        BTreeSet::from([failing_delivery, slow_delivery, refused_delivery, not_tls_delivery])
    );
    let page = deliveries(&pool, DeliveryQuery { limit: Some(3), ..Default::default() }).await;
    assert_eq!(page.len(), 3);
    let next = deliveries(&pool, DeliveryQuery { before_id: Some(page[2].id), ..Default::default() }).await;
    assert_eq!(next.len(), 1);
    assert!(matches!(
        webhook::list_deliveries(&pool, &DeliveryQuery { limit: Some(0), ..Default::default() }).await,
        Err(Error::WebhookInvalid { field: "limit", .. })
    ));

    // The receiver recovers; an administrator retries the dead delivery and it goes through.
    failing.set_always_fail(false);
    let running = start(&pool, DispatcherOptions { max_attempts: 3, ..fast() });
    let retried = webhook::retry_delivery(&pool, failing_delivery).await.unwrap().expect("it exists");
    assert_eq!((retried.state, retried.attempts), (DeliveryState::Pending, 0));
    let delivered = wait_for_state(&pool, failing_delivery, DeliveryState::Delivered, PATIENCE).await;
    assert_eq!((delivered.attempts, delivered.last_status, delivered.last_error), (1, Some(204), None));
    assert_eq!(failing.hits().iter().filter(|h| h.status == 204).count(), 1);
    running.stop().await;

    // Only a dead delivery can be retried.
    let not_dead = webhook::retry_delivery(&pool, failing_delivery).await;
    assert!(
        matches!(&not_dead, Err(Error::WebhookNotDead { state, .. }) if state == "delivered"),
        "{not_dead:?}"
    );
    assert!(webhook::retry_delivery(&pool, 999_999).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_deliver_each_delivery_once() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let receiver = start_receiver(Behaviour { delay: Duration::from_millis(20), ..Behaviour::default() });
    subscribe(&pool, NewSubscription::new("one", receiver.url())).await;
    subscribe(&pool, NewSubscription::new("two", receiver.url())).await;
    for id in 1..=30 {
        enqueue(&pool, &alert(id, 1, Some("D"), "gialla", "hydro"), None).await;
    }

    let opts = DispatcherOptions { concurrency: 4, ..fast() };
    let first = start(&db.pool().await, opts.clone());
    let second = start(&db.pool().await, opts);
    // More changes while both run.
    for id in 31..=40 {
        enqueue(&pool, &alert(id, 1, Some("D"), "gialla", "hydro"), None).await;
    }
    let deadline = Instant::now() + PATIENCE;
    loop {
        let pending =
            deliveries(&pool, DeliveryQuery { state: Some(DeliveryState::Pending), ..Default::default() });
        if pending.await.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "deliveries still pending after {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.stop().await;
    second.stop().await;

    let delivered = deliveries(&pool, DeliveryQuery { limit: Some(1000), ..Default::default() }).await;
    assert_eq!(delivered.len(), 80);
    assert!(
        delivered.iter().all(|d| d.state == DeliveryState::Delivered && d.attempts == 1),
        "{delivered:?}"
    );
    let hits = receiver.hits();
    let ids: BTreeSet<&str> = hits.iter().map(|h| h.header("x-vedetta-delivery")).collect();
    assert_eq!(hits.len(), 80, "one request per delivery");
    assert_eq!(ids.len(), 80);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_delivery_wakes_an_idle_dispatcher_without_waiting_for_the_poll() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let receiver = start_receiver(Behaviour::default());
    subscribe(&pool, NewSubscription::new("prompt", receiver.url())).await;
    let running = start(&pool, DispatcherOptions { poll_interval: Duration::from_secs(60), ..fast() });
    // Let it reach its idle wait (LISTEN, nothing due). It listens before it first claims, so a delivery queued
    // earlier (a slow start) is found by that claim: no missed notification either way.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    enqueue(&pool, &alert(77, 1, Some("E"), "rossa", "hydro"), Some(5)).await;
    let id = deliveries(&pool, DeliveryQuery::default()).await[0].id;
    // Well under the 60 s poll, with room for a loaded machine.
    wait_for_state(&pool, id, DeliveryState::Delivered, Duration::from_secs(30)).await;
    assert!(started.elapsed() < Duration::from_secs(30), "woken by NOTIFY, not by the 60 s poll");
    running.stop().await;
    assert_eq!(receiver.hits().len(), 1);
}

#[tokio::test]
async fn subscriptions_are_validated_listed_paused_and_deleted() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let created = webhook::create_subscription(
        &pool,
        &NewSubscription::new("comune di Genova", "https://example.org/h"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(created.secret.len(), 64, "a generated secret");
    let shown = serde_json::to_value(&created).unwrap();
    assert_eq!(shown["secret"], created.secret.as_str(), "the secret is shown at creation");
    assert_eq!(shown["min_level"], "gialla");
    assert_eq!(shown["categories"], json!(["hydro", "manual"]));

    let taken = webhook::create_subscription(
        &pool,
        &NewSubscription::new("comune di Genova", "https://e.org/"),
        None,
    )
    .await;
    assert!(
        matches!(&taken, Err(Error::WebhookNameTaken { name }) if name == "comune di Genova"),
        "{taken:?}"
    );
    for (new, field) in [
        (NewSubscription::new("ftp", "ftp://example.org/"), "url"),
        (NewSubscription::new("relative", "/hook"), "url"),
        (
            NewSubscription { zones: vec!["zona A".into()], ..NewSubscription::new("z", "https://e.org/") },
            "zones",
        ),
        (
            NewSubscription {
                categories: vec!["meteo".into()],
                ..NewSubscription::new("c", "https://e.org/")
            },
            "categories",
        ),
        (
            NewSubscription {
                min_level: alerts::Level::Verde,
                ..NewSubscription::new("l", "https://e.org/")
            },
            "min_level",
        ),
        (
            NewSubscription { secret: Some("short".into()), ..NewSubscription::new("s", "https://e.org/") },
            "secret",
        ),
    ] {
        let refused = webhook::create_subscription(&pool, &new, None).await;
        assert!(
            matches!(&refused, Err(Error::WebhookInvalid { field: f, .. }) if *f == field),
            "{refused:?}"
        );
    }

    let listed = webhook::list_subscriptions(&pool).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&created.subscription));
    assert!(
        serde_json::to_value(&listed[0]).unwrap().get("secret").is_none(),
        "listing never shows the secret"
    );

    let id = created.subscription.id;
    assert!(webhook::set_subscription_active(&pool, id, false).await.unwrap());
    assert_eq!(enqueue(&pool, &alert(1, 1, Some("B"), "rossa", "hydro"), None).await, 0, "paused");
    assert!(webhook::set_subscription_active(&pool, id, true).await.unwrap());
    assert_eq!(enqueue(&pool, &alert(1, 2, Some("B"), "rossa", "hydro"), None).await, 1);

    assert!(webhook::delete_subscription(&pool, id).await.unwrap());
    assert!(!webhook::delete_subscription(&pool, id).await.unwrap());
    assert!(webhook::get_subscription(&pool, id).await.unwrap().is_none());
    assert!(deliveries(&pool, DeliveryQuery::default()).await.is_empty(), "its deliveries go with it");
}
