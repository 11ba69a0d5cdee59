//! Rate limits shared by every Vedetta process (logins, reports filed), counted in `core.rate_event`.
//!
//! A limit is "at most `limit` events of `action` for `key` in any sliding `window`". [`hit`] decides and, when the
//! event is allowed, records it, under a transaction-level advisory lock on (action, key): two processes counting
//! the same key at once never both take the last free slot. Rows older than the window are pruned now and then
//! by the hits of the same action (an action is always counted over the same window).

use std::time::Duration;

use sqlx::PgPool;

/// The first key of the two-key advisory lock taken per (action, key) (see `leader` for 22084, alerts for 22085).
const LOCK_NAMESPACE: i32 = 22086;

/// One hit in this many also prunes the expired rows of its action.
const PRUNE_EVERY: u32 = 64;

/// What [`hit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the event may go ahead (it has then been counted).
    pub allowed: bool,
    /// When refused: seconds until one more event would be allowed (at least 1). 0 when allowed.
    pub retry_after_s: u64,
}

/// Counts one event of `action` for `key` (e.g. `login`, `ip:192.0.2.7`) if fewer than `limit` were counted in
/// the last `window`; otherwise refuses it and says when to retry. A `limit` of 0 refuses everything.
pub async fn hit(
    pool: &PgPool,
    action: &str,
    key: &str,
    limit: u32,
    window: Duration,
) -> Result<Decision, sqlx::Error> {
    let window_s = window.as_secs_f64();
    let mut tx = pool.begin().await?;
    sqlx::query("select pg_advisory_xact_lock($1, hashtext($2 || chr(1) || $3))")
        .bind(LOCK_NAMESPACE)
        .bind(action)
        .bind(key)
        .execute(&mut *tx)
        .await?;
    // The limit-th newest event in the window, if there is one, is the event whose expiry frees a slot: its
    // presence means the limit is reached, and its age says how long until it leaves the window.
    let blocking: Option<f64> = if limit == 0 {
        Some(window_s)
    } else {
        sqlx::query_scalar(
            "select extract(epoch from at + make_interval(secs => $3) - clock_timestamp())::float8
             from core.rate_event
             where action = $1 and key = $2 and at > clock_timestamp() - make_interval(secs => $3)
             order by at desc
             offset $4 limit 1",
        )
        .bind(action)
        .bind(key)
        .bind(window_s)
        .bind(i64::from(limit) - 1)
        .fetch_optional(&mut *tx)
        .await?
    };
    let decision = match blocking {
        Some(remaining_s) => Decision { allowed: false, retry_after_s: (remaining_s.ceil() as u64).max(1) },
        None => {
            sqlx::query("insert into core.rate_event (action, key, at) values ($1, $2, clock_timestamp())")
                .bind(action)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            Decision { allowed: true, retry_after_s: 0 }
        }
    };
    if rand::random::<u32>().is_multiple_of(PRUNE_EVERY) {
        prune(&mut tx, action, window).await?;
    }
    tx.commit().await?;
    Ok(decision)
}

/// Deletes the events of `action` older than `window`: they count no more.
pub async fn prune(
    conn: &mut sqlx::PgConnection,
    action: &str,
    window: Duration,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "delete from core.rate_event where action = $1 and at < clock_timestamp() - make_interval(secs => $2)",
    )
    .bind(action)
    .bind(window.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Forgets the events of `action` for `key` (a successful sign-in clears the username's failed attempts).
pub async fn forget(pool: &PgPool, action: &str, key: &str) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("delete from core.rate_event where action = $1 and key = $2")
        .bind(action)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
