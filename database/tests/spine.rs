//! The live-event spine on a real PostgreSQL: ids visible in commit order, subscriptions without gap or duplicate,
//! replay after a restart, retention.

use std::time::Duration;

use database::event::{self, NewEvent, Spine};
use serde_json::json;
use sqlx::PgPool;
use testkit::TestDb;

fn ev(n: i64) -> NewEvent {
    NewEvent::new("test.happened", Some(format!("s{}", n % 3)), json!({ "n": n }))
}

/// How long a test waits for something that takes milliseconds on an idle machine (a loaded 2-core CI machine runs
/// many test binaries at once).
const PATIENCE: Duration = Duration::from_secs(30);

/// Waits until a session of this database waits for a lock (B blocked on A's append lock).
async fn someone_waits_for_a_lock(pool: &PgPool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let waiting: bool = sqlx::query_scalar(
            "select exists (select 1 from pg_locks l join pg_database d on d.oid = l.database
                             where d.datname = current_database() and not l.granted)",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "B never waited for A's lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn append_committed(pool: &PgPool, events: &[NewEvent]) -> Vec<i64> {
    let mut tx = pool.begin().await.unwrap();
    let ids = event::append(&mut tx, events).await.unwrap();
    tx.commit().await.unwrap();
    ids
}

#[tokio::test]
async fn ids_become_visible_in_commit_order() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    // A appends first but commits last: B must wait, so B's id is above A's and no reader sees B before A.
    let mut a = pool.begin().await.unwrap();
    let a_ids = event::append(&mut a, &[ev(1)]).await.unwrap();
    let pool_b = pool.clone();
    let b = tokio::spawn(async move { append_committed(&pool_b, &[ev(2)]).await });
    // Seen waiting in PostgreSQL (a fixed sleep proved nothing when B had not even started yet).
    someone_waits_for_a_lock(&pool).await;
    assert!(!b.is_finished(), "B waits for A's commit");
    assert!(event::read_after(&pool, 0, &[], 10).await.unwrap().is_empty(), "nothing visible yet");
    a.commit().await.unwrap();
    let b_ids = b.await.unwrap();
    assert!(b_ids[0] > a_ids[0]);
    let seen: Vec<i64> = event::read_after(&pool, 0, &[], 10).await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(seen, [a_ids[0], b_ids[0]]);

    // A rolled-back append leaves a gap in the ids, never a hole a reader could fall into.
    let mut c = pool.begin().await.unwrap();
    event::append(&mut c, &[ev(3)]).await.unwrap();
    c.rollback().await.unwrap();
    let d = append_committed(&pool, &[ev(4), ev(5)]).await;
    let after_b: Vec<i64> =
        event::read_after(&pool, b_ids[0], &[], 10).await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(after_b, d);
}

#[tokio::test]
async fn a_subscription_replays_then_follows_without_gap_or_duplicate() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let first = append_committed(&pool, &(1..=5).map(ev).collect::<Vec<_>>()).await;
    let spine = Spine::start(pool.clone(), None);
    assert!(spine.caught_up(first[4], PATIENCE).await);

    // Resume after the second event: three from the table, then the live ones.
    let mut sub = spine.subscribe(Some(first[1]), &["test.happened"]);
    let mut fresh = spine.subscribe(None, &[]);
    let writer = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 6..=2005 {
                ids.extend(append_committed(&pool, &[ev(n)]).await);
            }
            ids
        })
    };
    let mut got = Vec::new();
    while got.len() < 3 + 2000 {
        let e = tokio::time::timeout(PATIENCE, sub.next()).await.unwrap().unwrap().unwrap();
        got.push(e.payload["n"].as_i64().unwrap());
    }
    assert_eq!(got, (3..=2005).collect::<Vec<_>>(), "every event once, in order");
    writer.await.unwrap();
    // The fresh subscriber saw only what came after it subscribed, in order.
    let e = tokio::time::timeout(PATIENCE, fresh.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(e.payload["n"], 6);

    // Other kinds are filtered out.
    append_committed(&pool, &[NewEvent::new("other.thing", None, json!({}))]).await;
    let last = append_committed(&pool, &[ev(9999)]).await;
    let e = tokio::time::timeout(PATIENCE, sub.next()).await.unwrap().unwrap().unwrap();
    assert_eq!((e.id, e.payload["n"].as_i64()), (last[0], Some(9999)));
}

#[tokio::test]
async fn a_new_process_resumes_from_an_id_and_old_events_expire() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let ids = append_committed(&pool, &(1..=3).map(ev).collect::<Vec<_>>()).await;
    {
        let spine = Spine::start(pool.clone(), None);
        let mut sub = spine.subscribe(Some(ids[0]), &[]);
        assert_eq!(sub.next().await.unwrap().unwrap().id, ids[1]);
    }
    // "Restart": a new spine, resuming with the id the client last saw.
    let spine = Spine::start(pool.clone(), None);
    let mut sub = spine.subscribe(Some(ids[1]), &[]);
    assert_eq!(sub.next().await.unwrap().unwrap().id, ids[2]);

    sqlx::query("update core.event set created_at = now() - interval '8 days' where id = $1")
        .bind(ids[0])
        .execute(&pool)
        .await
        .unwrap();
    let deleted = event::purge_before(&pool, chrono::Utc::now() - chrono::Duration::days(7)).await.unwrap();
    assert_eq!(deleted, 1);
    // A client whose id is older than the retention gets what is still there.
    let mut sub = spine.subscribe(Some(0), &[]);
    assert_eq!(sub.next().await.unwrap().unwrap().id, ids[1]);
}

#[tokio::test]
async fn an_id_beyond_the_newest_event_resumes_from_the_newest() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    append_committed(&pool, &[ev(1)]).await;
    let spine = Spine::start(pool.clone(), None);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while spine.head() < 1 {
        assert!(tokio::time::Instant::now() < deadline, "the spine never read where it ends");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut sub = spine.subscribe(Some(1_000_000), &[]);
    // Appended after the subscription and before its first read: the subscription resumes from the newest event
    // as of subscribing, so this one comes out (not silence until ids reach a million, and not skipped).
    let appended = append_committed(&pool, &[ev(2)]).await;
    let e = tokio::time::timeout(PATIENCE, sub.next()).await.expect("silence").unwrap().unwrap();
    assert_eq!(vec![e.id], appended);
}
