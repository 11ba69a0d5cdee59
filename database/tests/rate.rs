//! Rate limits on a real PostgreSQL: exact across concurrent callers, per key, sliding, pruned.

use std::time::Duration;

use database::rate::{self, Decision};
use testkit::TestDb;

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn the_hit_past_the_limit_is_refused_with_the_time_to_wait() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    for _ in 0..3 {
        assert_eq!(
            rate::hit(&pool, "login", "ip:192.0.2.7", 3, MINUTE).await.unwrap(),
            Decision { allowed: true, retry_after_s: 0 }
        );
    }
    let refused = rate::hit(&pool, "login", "ip:192.0.2.7", 3, MINUTE).await.unwrap();
    assert!(!refused.allowed);
    assert!((59..=60).contains(&refused.retry_after_s), "{refused:?}");
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
    let window = Duration::from_secs(4);
    let start = tokio::time::Instant::now();
    assert!(rate::hit(&pool, "login", "user:anna", 2, window).await.unwrap().allowed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(rate::hit(&pool, "login", "user:anna", 2, window).await.unwrap().allowed);
    let refused = rate::hit(&pool, "login", "user:anna", 2, window).await.unwrap();
    assert!(!refused.allowed);
    assert!((2..=3).contains(&refused.retry_after_s), "{refused:?}");
    // The first hit leaves the window: one slot frees, not two.
    tokio::time::sleep_until(start + Duration::from_millis(4200)).await;
    assert!(rate::hit(&pool, "login", "user:anna", 2, window).await.unwrap().allowed);
    assert!(!rate::hit(&pool, "login", "user:anna", 2, window).await.unwrap().allowed);
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
