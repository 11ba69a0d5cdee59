//! Rate limits on a real PostgreSQL: exact across concurrent callers, per key, sliding, pruned.

use std::time::Duration;

use database::rate::{self, Decision};
use testkit::TestDb;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// Moves the counted events of `key` back in time by `minutes`, as if that time had passed: the tests need no sleep
/// (a stalled machine would make a sleep longer than the window it measures).
async fn age(pool: &sqlx::PgPool, key: &str, minutes: i32) {
    sqlx::query("update core.rate_event set at = at - make_interval(mins => $2) where key = $1")
        .bind(key)
        .bind(minutes)
        .execute(pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_hit_past_the_limit_is_refused_with_the_time_to_wait() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    // An hour's window: the wait is the window less the seconds since the first hit, which a stalled machine may
    // make a few; a minute of slack still says "about the whole window".
    for _ in 0..3 {
        assert_eq!(
            rate::hit(&pool, "login", "ip:192.0.2.7", 3, HOUR).await.unwrap(),
            Decision { allowed: true, retry_after_s: 0 }
        );
    }
    let refused = rate::hit(&pool, "login", "ip:192.0.2.7", 3, HOUR).await.unwrap();
    assert!(!refused.allowed);
    assert!((3540..=3600).contains(&refused.retry_after_s), "{refused:?}");
    // A refused hit is not counted.
    let counted: i64 = sqlx::query_scalar("select count(*) from core.rate_event where key = 'ip:192.0.2.7'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(counted, 3);

    // Other keys and other actions have their own counts.
    assert!(rate::hit(&pool, "login", "ip:192.0.2.8", 3, MINUTE).await.unwrap().allowed);
    assert!(rate::hit(&pool, "report", "ip:192.0.2.7", 3, MINUTE).await.unwrap().allowed);
    // A limit of 0 refuses everything.
    let none = rate::hit(&pool, "closed", "k", 0, MINUTE).await.unwrap();
    assert_eq!(none, Decision { allowed: false, retry_after_s: 60 });
}

#[tokio::test]
async fn the_window_slides() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    // A window of an hour; time passes by moving the counted events back (see `age`).
    assert!(rate::hit(&pool, "login", "user:anna", 2, HOUR).await.unwrap().allowed);
    age(&pool, "user:anna", 40).await;
    assert!(rate::hit(&pool, "login", "user:anna", 2, HOUR).await.unwrap().allowed);
    let refused = rate::hit(&pool, "login", "user:anna", 2, HOUR).await.unwrap();
    assert!(!refused.allowed);
    // The first hit, 40 minutes old, leaves the window in 20 minutes (less the seconds the test took).
    assert!((1140..=1200).contains(&refused.retry_after_s), "{refused:?}");
    // 21 minutes later the first hit has left the window, the second (21 minutes old) has not: one slot frees,
    // not two.
    age(&pool, "user:anna", 21).await;
    assert!(rate::hit(&pool, "login", "user:anna", 2, HOUR).await.unwrap().allowed);
    assert!(!rate::hit(&pool, "login", "user:anna", 2, HOUR).await.unwrap().allowed);
}

#[tokio::test]
async fn concurrent_callers_never_exceed_the_limit() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { rate::hit(&pool, "report", "account:7", 5, MINUTE).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if task.await.unwrap().allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5);
}

#[tokio::test]
async fn expired_events_are_pruned() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    sqlx::query(
        "insert into core.rate_event (action, key, at)
         values ('login', 'old', now() - interval '2 hours'), ('login', 'new', now()),
                ('report', 'old', now() - interval '2 hours')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(rate::prune(&mut conn, "login", Duration::from_secs(3600)).await.unwrap(), 1);
    let left: Vec<(String, String)> =
        sqlx::query_as("select action, key from core.rate_event order by action, key")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(left, [("login".to_string(), "new".to_string()), ("report".to_string(), "old".to_string())]);
}
