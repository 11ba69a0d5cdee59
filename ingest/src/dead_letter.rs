//! Dead letters: what ingest could not store, with the reason. Nothing is dropped silently.
//!
//! A dead letter keeps the exact bytes of the topic and of the first [`PAYLOAD_HEAD_BYTES`] of the payload (both
//! `bytea`: a NUL byte or invalid UTF-8 is kept as it came). The listing shows them as text for reading — valid
//! UTF-8 as is, control characters and invalid bytes as `\xNN` escapes — and the payload head also in base64,
//! exactly.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use tracing::warn;

/// How much of a payload is kept.
pub const PAYLOAD_HEAD_BYTES: usize = 1024;

/// Most characters of a stored reason (reasons quote input, which may be long).
pub const MAX_REASON_CHARS: usize = 1000;

/// The kind of a message that could not be stored even alone, for a reason other than its content.
pub const STORAGE_FAILED: &str = "storage_failed";

/// Every kind a dead letter can have: the decoding rejections of `sensors` and [`STORAGE_FAILED`].
pub fn kinds() -> impl Iterator<Item = &'static str> {
    sensors::RejectKind::ALL.into_iter().map(sensors::RejectKind::as_str).chain([STORAGE_FAILED])
}

/// A message, or a part of one, that was not stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The topic's bytes.
    pub topic: Vec<u8>,
    pub received_at: DateTime<Utc>,
    pub kind: String,
    /// Why, as printable text (control characters escaped, at most [`MAX_REASON_CHARS`]).
    pub reason: String,
    /// The first bytes of the payload (or of the offending element), exactly.
    pub payload_head: Vec<u8>,
    pub payload_size: i32,
}

impl DeadLetter {
    /// A dead letter for `payload` (the whole message or one element of it). Nothing is counted or logged here:
    /// the writer does both once the letter is committed ([`DeadLetter::record`]).
    pub fn new(topic: &str, received_at: DateTime<Utc>, kind: &str, reason: &str, payload: &[u8]) -> Self {
        let head = &payload[..payload.len().min(PAYLOAD_HEAD_BYTES)];
        let mut reason = printable(reason.as_bytes());
        if let Some((cut, _)) = reason.char_indices().nth(MAX_REASON_CHARS) {
            reason.truncate(cut);
            reason.push('…');
        }
        DeadLetter {
            topic: topic.as_bytes().to_vec(),
            received_at,
            kind: kind.to_string(),
            reason,
            payload_head: head.to_vec(),
            payload_size: i32::try_from(payload.len()).unwrap_or(i32::MAX),
        }
    }

    /// Counts and logs a committed dead letter: once per letter, so that `/metrics`, the logs and the table agree.
    pub fn record(&self) {
        metrics::counter!("vedetta_ingest_dead_letters_total", "kind" => self.kind.clone()).increment(1);
        warn!(topic = %printable(&self.topic), kind = %self.kind, reason = %self.reason, "Dead letter.");
    }
}

/// Bytes as readable text: valid UTF-8 as is, except control characters other than tab, newline and carriage
/// return, which become `\xNN` (`\u{NNNN}` for the C1 controls); bytes that are not UTF-8 become `\xNN` too.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
                if (c as u32) < 0x80 {
                    let _ = write!(out, "\\x{:02X}", c as u32);
                } else {
                    let _ = write!(out, "\\u{{{:X}}}", c as u32);
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
    out
}

/// Stores dead letters in one statement.
pub async fn insert(conn: &mut PgConnection, letters: &[DeadLetter]) -> Result<(), sqlx::Error> {
    if letters.is_empty() {
        return Ok(());
    }
    let topics: Vec<&[u8]> = letters.iter().map(|l| l.topic.as_slice()).collect();
    let times: Vec<DateTime<Utc>> = letters.iter().map(|l| l.received_at).collect();
    let kinds: Vec<&str> = letters.iter().map(|l| l.kind.as_str()).collect();
    let reasons: Vec<&str> = letters.iter().map(|l| l.reason.as_str()).collect();
    let heads: Vec<&[u8]> = letters.iter().map(|l| l.payload_head.as_slice()).collect();
    let sizes: Vec<i32> = letters.iter().map(|l| l.payload_size).collect();
    sqlx::query(
        "insert into sensors.dead_letter (topic, received_at, kind, reason, payload_head, payload_size)
         select * from unnest($1::bytea[], $2::timestamptz[], $3::text[], $4::text[], $5::bytea[], $6::int[])",
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

/// A stored dead letter, as the API lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredDeadLetter {
    pub id: i64,
    /// The topic as readable text (see [`printable`]).
    pub topic: String,
    pub received_at: DateTime<Utc>,
    pub kind: String,
    pub reason: String,
    /// The first bytes of the payload as readable text (see [`printable`]).
    pub payload_head: String,
    /// The same bytes exactly, in base64 (RFC 4648).
    pub payload_base64: String,
    /// The size of the whole payload (or offending element), in bytes.
    pub payload_size: i32,
}

/// Most dead letters one listing returns.
pub const MAX_LIST: i64 = 1000;

/// The newest dead letters, optionally of one kind, before id `before` (paging); at most [`MAX_LIST`].
pub async fn list(
    pool: &PgPool,
    kind: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<StoredDeadLetter>, sqlx::Error> {
    type Row = (i64, Vec<u8>, DateTime<Utc>, String, String, Vec<u8>, i32);
    // No kind contains a NUL character, and PostgreSQL refuses one in text: such a filter matches nothing.
    if kind.is_some_and(|k| k.contains('\0')) {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = sqlx::query_as(
        "select id, topic, received_at, kind, reason, payload_head, payload_size from sensors.dead_letter
         where ($1::text is null or kind = $1) and ($2::bigint is null or id < $2)
         order by id desc limit $3",
    )
    .bind(kind)
    .bind(before)
    .bind(limit.clamp(0, MAX_LIST))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, topic, received_at, kind, reason, head, payload_size)| StoredDeadLetter {
            id,
            topic: printable(&topic),
            received_at,
            kind,
            reason,
            payload_head: printable(&head),
            payload_base64: base64(&head),
            payload_size,
        })
        .collect())
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_follows_rfc_4648() {
        // The test vectors of RFC 4648 §10.
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected, "{input}");
        }
        assert_eq!(base64(&[0, 0xff, 0xfe]), "AP/+");
    }

    #[test]
    fn printable_text_escapes_nul_controls_and_invalid_bytes() {
        assert_eq!(printable(b"{\"t\":1}\n"), "{\"t\":1}\n");
        assert_eq!(printable(b"a\0b"), "a\\x00b");
        assert_eq!(printable(b"\x1b[31m"), "\\x1B[31m");
        assert_eq!(printable(b"caff\xc3\xa8 \xff\xfe"), "caffè \\xFF\\xFE");
        assert_eq!(printable("\u{85}".as_bytes()), "\\u{85}");
    }

    #[test]
    fn a_dead_letter_keeps_bytes_and_a_printable_bounded_reason() {
        let payload = [b'x'; 3000];
        let reason = format!("bad \0 {}", "r".repeat(5000));
        let letter = DeadLetter::new("a/\0/b", Utc::now(), "bad_json", &reason, &payload);
        assert_eq!(letter.topic, b"a/\0/b");
        assert_eq!(letter.payload_head.len(), PAYLOAD_HEAD_BYTES);
        assert_eq!(letter.payload_size, 3000);
        assert!(letter.reason.starts_with("bad \\x00 r"), "{}", &letter.reason[..20]);
        assert_eq!(letter.reason.chars().count(), MAX_REASON_CHARS + 1, "cut, with an ellipsis");
        assert!(!letter.reason.contains('\0'));
    }

    #[test]
    fn every_kind_is_listed_once() {
        let all: Vec<&str> = kinds().collect();
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(all.len(), unique.len());
        assert!(all.contains(&"storage_failed") && all.contains(&"time_out_of_range"));
    }
}
