//! Outgoing webhooks per comune, for maintenance systems: every public change of a report of the comune is POSTed
//! as signed JSON to the comune's receivers.
//!
//! - [`create`], [`list`], [`get`], [`set_active`], [`delete`]: the receivers of a comune (URL and secret).
//! - [`Dispatcher`]: follows the spine's `report.changed` events from a durable cursor (`reports.consumer_cursor`),
//!   queues one delivery per (webhook, event) in `reports.webhook_delivery` for the active webhooks of the event's
//!   comune when the event is public (`"public": true`: approved and not hidden), and delivers them with retries
//!   and exponential backoff; [`deliveries`] lists them (dead ones included) for an administrator.
//! - [`sign`] / [`verify_signature`]: the HMAC-SHA256 signature and the receivers' reference check (re-exported
//!   from [`webhooks`], which also runs the delivery loop; the alerts' webhooks sign alike).
//!
//! # What a receiver gets
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! X-Vedetta-Event: report.changed
//! X-Vedetta-Delivery: 4711
//! X-Vedetta-Timestamp: 1767225600
//! X-Vedetta-Signature: sha256=<hex HMAC-SHA256(secret, "1767225600." + body)>
//!
//! {"event": "report.changed", "delivery_id": 4711, "event_id": 90210, "change": "status", "comune": "010025",
//!  "report": {"id": 12, "status": "acknowledged", …}}
//! ```
//!
//! `report` is the public report (no reporter data exists in it). The delivery id is the same on every attempt of
//! one delivery; the timestamp and signature are those of the attempt. A receiver answers 2xx within 10 s;
//! anything else is retried after 1, 2, 4 … s (capped at 10 min) until the delivery is dead after 8 attempts (the
//! defaults of [`DispatcherOptions`]). A webhook gets the events that happened after it was created.

mod dispatcher;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

pub use dispatcher::{Dispatcher, DispatcherOptions, POLL_INTERVAL};
pub use webhooks::{
    DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature,
};

use crate::{Error, Result};

/// The `event` of every delivery body and the `X-Vedetta-Event` header.
pub const EVENT: &str = "report.changed";
/// Longest URL accepted, in bytes.
const MAX_URL_LEN: usize = 2048;
/// Shortest and longest secret accepted, in characters.
const SECRET_CHARS: std::ops::RangeInclusive<usize> = 16..=200;

/// A receiver of a comune's report changes. The secret is shown only once, by [`create`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Webhook {
    pub id: i64,
    /// ISTAT code of the comune whose reports it receives.
    pub comune: String,
    pub url: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// What [`create`] needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NewWebhook {
    /// ISTAT code of a comune with a boundary.
    pub comune: String,
    /// `http` or `https` URL with a host, no credentials, no fragment, ≤ 2048 bytes.
    pub url: String,
    /// 16–200 characters; generated (64 hex digits) when absent.
    #[serde(default)]
    pub secret: Option<String>,
}

/// A new webhook with its secret (shown this once).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    pub secret: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::WebhookInvalid { field, reason: reason.into() }
}

/// Checks a receiver URL: absolute, `http` or `https`, with a host, no user information, no fragment, at most 2048
/// bytes. Returns it normalised.
pub fn validate_url(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.len() > MAX_URL_LEN {
        return Err(invalid("url", format!("is longer than {MAX_URL_LEN} bytes")));
    }
    let url = url::Url::parse(raw).map_err(|e| {
        let shown: String = raw.chars().filter(|c| !c.is_control()).take(200).collect();
        invalid("url", format!("`{shown}` is not an absolute URL ({e})"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("url", format!("scheme `{}` is not http or https", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("url", "has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("url", "must not carry user information (credentials in a URL are not sent)"));
    }
    if url.fragment().is_some() {
        return Err(invalid("url", "must not have a fragment (#…)"));
    }
    Ok(url.into())
}

fn check_comune(comune: &str) -> Result<()> {
    if comune.len() == 6 && comune.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        let shown: String = comune.chars().filter(|c| !c.is_control()).take(20).collect();
        Err(invalid("comune", format!("`{shown}` is not an ISTAT code (6 digits)")))
    }
}

const COLUMNS: &str = "id, comune, url, active, created_at";

fn from_row(row: &PgRow) -> Result<Webhook> {
    Ok(Webhook {
        id: row.try_get("id")?,
        comune: row.try_get("comune")?,
        url: row.try_get("url")?,
        active: row.try_get("active")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Adds a receiver of `new.comune`'s report changes. Errors: [`Error::WebhookInvalid`] (comune, url, secret),
/// [`Error::UnknownComune`] when no comune with a boundary has the code.
pub async fn create(pool: &PgPool, new: &NewWebhook) -> Result<CreatedWebhook> {
    check_comune(&new.comune)?;
    let url = validate_url(&new.url)?;
    let secret = match &new.secret {
        Some(secret) => {
            if !SECRET_CHARS.contains(&secret.chars().count()) || secret.chars().any(char::is_control) {
                return Err(invalid("secret", "must be 16–200 characters, none of them control characters"));
            }
            secret.clone()
        }
        None => hex::encode(rand::rng().random::<[u8; 32]>()),
    };
    let known: bool = sqlx::query_scalar("select exists (select 1 from core.comune where istat = $1)")
        .bind(&new.comune)
        .fetch_one(pool)
        .await?;
    if !known {
        return Err(Error::UnknownComune { comune: new.comune.clone() });
    }
    let row = sqlx::query(&format!(
        "insert into reports.webhook (comune, url, secret) values ($1, $2, $3) returning {COLUMNS}"
    ))
    .bind(&new.comune)
    .bind(&url)
    .bind(&secret)
    .fetch_one(pool)
    .await?;
    Ok(CreatedWebhook { webhook: from_row(&row)?, secret })
}

/// The webhooks of `comune` (of every comune when `None`), oldest first.
pub async fn list(pool: &PgPool, comune: Option<&str>) -> Result<Vec<Webhook>> {
    let rows = sqlx::query(&format!(
        "select {COLUMNS} from reports.webhook where $1::text is null or comune = $1 order by id"
    ))
    .bind(comune)
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// One webhook.
pub async fn get(pool: &PgPool, id: i64) -> Result<Option<Webhook>> {
    let row = sqlx::query(&format!("select {COLUMNS} from reports.webhook where id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Pauses (`false`) or resumes a webhook; a paused one gets no new deliveries and its pending ones wait.
/// [`Error::WebhookNotFound`] when there is none.
pub async fn set_active(pool: &PgPool, id: i64, active: bool) -> Result<Webhook> {
    let row =
        sqlx::query(&format!("update reports.webhook set active = $2 where id = $1 returning {COLUMNS}"))
            .bind(id)
            .bind(active)
            .fetch_optional(pool)
            .await?;
    row.as_ref().map(from_row).transpose()?.ok_or(Error::WebhookNotFound { id })
}

/// Removes a webhook and its deliveries. [`Error::WebhookNotFound`] when there is none.
pub async fn delete(pool: &PgPool, id: i64) -> Result<()> {
    let done = sqlx::query("delete from reports.webhook where id = $1").bind(id).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(Error::WebhookNotFound { id });
    }
    Ok(())
}

/// One delivery of one event to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// Its id (`X-Vedetta-Delivery`).
    pub id: i64,
    pub webhook_id: i64,
    /// The spine event.
    pub event_id: i64,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    /// Attempts started so far.
    pub attempts: i32,
    /// When the next attempt is due (pending), or when the lease of the attempt in flight ends.
    pub next_attempt_at: DateTime<Utc>,
    /// The HTTP status of the last answer.
    pub last_status: Option<i32>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// What is delivered (the event's payload: change, comune, report).
    pub payload: Value,
}

/// The newest `limit` (≤ 1000) deliveries of webhook `webhook_id`, newest first.
pub async fn deliveries(pool: &PgPool, webhook_id: i64, limit: i64) -> Result<Vec<Delivery>> {
    let rows = sqlx::query(
        "select id, webhook_id, event_id, state, attempts, next_attempt_at, last_status, last_error, delivered_at,
                created_at, payload
           from reports.webhook_delivery where webhook_id = $1 order by id desc limit $2",
    )
    .bind(webhook_id)
    .bind(limit.clamp(1, 1000))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Delivery {
                id: row.try_get("id")?,
                webhook_id: row.try_get("webhook_id")?,
                event_id: row.try_get("event_id")?,
                state: row.try_get("state")?,
                attempts: row.try_get("attempts")?,
                next_attempt_at: row.try_get("next_attempt_at")?,
                last_status: row.try_get("last_status")?,
                last_error: row.try_get("last_error")?,
                delivered_at: row.try_get("delivered_at")?,
                created_at: row.try_get("created_at")?,
                payload: row.try_get("payload")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert_eq!(validate_url(" https://example.org/hook ").unwrap(), "https://example.org/hook");
        for bad in
            ["ftp://example.org", "/relative", "https://user:pw@example.org/", "https://example.org/#x"]
        {
            assert!(matches!(validate_url(bad), Err(Error::WebhookInvalid { field: "url", .. })), "{bad}");
        }
        assert!(matches!(check_comune("10025"), Err(Error::WebhookInvalid { field: "comune", .. })));
        check_comune("010025").unwrap();
    }
}
