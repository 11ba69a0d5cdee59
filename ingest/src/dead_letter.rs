//! Dead letters: what ingest could not store, with the reason. Nothing is dropped silently.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use tracing::warn;

/// How much of a payload is kept.
pub const PAYLOAD_HEAD_BYTES: usize = 1024;

/// A message, or a part of one, that was not stored.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DeadLetter {
    pub topic: String,
    pub received_at: DateTime<Utc>,
    pub kind: String,
    pub reason: String,
    /// The first bytes of the payload (or the offending element), as text.
    pub payload_head: String,
    pub payload_size: i32,
}

impl DeadLetter {
    /// A dead letter for `payload` (the whole message or one element of it).
    pub fn new(topic: &str, received_at: DateTime<Utc>, kind: &str, reason: String, payload: &[u8]) -> Self {
        let head = &payload[..payload.len().min(PAYLOAD_HEAD_BYTES)];
        // Counted once, where it is created: logs and /metrics agree.
        metrics::counter!("vedetta_ingest_dead_letters_total", "kind" => kind.to_string()).increment(1);
        warn!(topic, kind, reason = %reason, "Dead letter.");
        DeadLetter {
            topic: topic.to_string(),
            received_at,
            kind: kind.to_string(),
            reason,
            payload_head: String::from_utf8_lossy(head).into_owned(),
            payload_size: i32::try_from(payload.len()).unwrap_or(i32::MAX),
        }
    }
}

/// Stores dead letters in one statement.
pub async fn insert(conn: &mut PgConnection, letters: &[DeadLetter]) -> Result<(), sqlx::Error> {
    if letters.is_empty() {
        return Ok(());
    }
    let topics: Vec<&str> = letters.iter().map(|l| l.topic.as_str()).collect();
    let times: Vec<DateTime<Utc>> = letters.iter().map(|l| l.received_at).collect();
    let kinds: Vec<&str> = letters.iter().map(|l| l.kind.as_str()).collect();
    let reasons: Vec<&str> = letters.iter().map(|l| l.reason.as_str()).collect();
    let heads: Vec<&str> = letters.iter().map(|l| l.payload_head.as_str()).collect();
    let sizes: Vec<i32> = letters.iter().map(|l| l.payload_size).collect();
    sqlx::query(
        "insert into sensors.dead_letter (topic, received_at, kind, reason, payload_head, payload_size)
         select * from unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::int[])",
    )
    .bind(&topics)
    .bind(&times)
    .bind(&kinds)
    .bind(&reasons)
    .bind(&heads)
    .bind(&sizes)
    .execute(conn)
    .await?;
    Ok(())
}

/// A stored dead letter.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct StoredDeadLetter {
    pub id: i64,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub letter: DeadLetter,
}

/// The newest dead letters, optionally of one kind, before id `before` (paging).
pub async fn list(
    pool: &PgPool,
    kind: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<StoredDeadLetter>, sqlx::Error> {
    sqlx::query_as(
        "select id, topic, received_at, kind, reason, payload_head, payload_size from sensors.dead_letter
         where ($1::text is null or kind = $1) and ($2::bigint is null or id < $2)
         order by id desc limit $3",
    )
    .bind(kind)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}
