//! The delivery queue: one row per (subscription, alert change), written in the transaction that changes the
//! alert, then worked off by the [`Dispatcher`](super::Dispatcher)s. Dead deliveries are the dead-letter list.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use super::subscription::{CATEGORIES, level_name};
use crate::{Error, Level, Result};

/// The channel the queue NOTIFYs (on commit) when it has new due deliveries, and the dispatchers LISTEN on.
pub const NOTIFY_CHANNEL: &str = "vedetta_webhook";

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Waiting for its first attempt, for a retry, or in flight.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed: in the dead-letter list until retried by hand.
    Dead,
}

impl DeliveryState {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(DeliveryState::Pending),
            "delivered" => Ok(DeliveryState::Delivered),
            "dead" => Ok(DeliveryState::Dead),
            other => Err(Error::WebhookInvalid {
                field: "state",
                reason: format!("`{other}` is not a delivery state (pending, delivered, dead)"),
            }),
        }
    }
}

/// One delivery of one alert change to one subscription.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// Its id (the `X-Vedetta-Delivery` header and `delivery_id` of the body).
    pub id: i64,
    /// The subscription.
    pub subscription_id: i64,
    /// The alert.
    pub alert_id: i64,
    /// The alert's version at that change.
    pub alert_version: i32,
    /// The `alert.changed` event of the spine, if the change came with one.
    pub event_id: Option<i64>,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts started so far.
    pub attempts: i32,
    /// When the next attempt is due (pending), or when the lease of the attempt in flight ends.
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The HTTP status of the last answer, if there was one.
    pub last_status: Option<i32>,
    /// When the receiver accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// The alert as it was at that change (the `alert` of the body).
    pub alert: Value,
}

const COLUMNS: &str = "id, subscription_id, alert_id, alert_version, event_id, state, attempts, next_attempt_at, \
                       last_error, last_status, delivered_at, created_at, payload";

fn from_row(row: &PgRow) -> Result<Delivery> {
    let state: String = row.try_get("state")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        subscription_id: row.try_get("subscription_id")?,
        alert_id: row.try_get("alert_id")?,
        alert_version: row.try_get("alert_version")?,
        event_id: row.try_get("event_id")?,
        state: state.parse()?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        last_status: row.try_get("last_status")?,
        delivered_at: row.try_get("delivered_at")?,
        created_at: row.try_get("created_at")?,
        alert: row.try_get("payload")?,
    })
}

/// What an alert change must say for the queue to route it.
struct Routing<'a> {
    id: i64,
    version: i32,
    zone: Option<&'a str>,
    category: &'a str,
    /// The most severe of `level` and `peak_level`.
    level: Level,
    silenced: bool,
}

fn payload_error(reason: impl Into<String>) -> Error {
    Error::WebhookPayload { reason: reason.into() }
}

fn routing(alert: &Value) -> Result<Routing<'_>> {
    let id = alert.get("id").and_then(Value::as_i64).ok_or_else(|| payload_error("has no integer `id`"))?;
    let version = alert
        .get("version")
        .and_then(Value::as_i64)
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| payload_error(format!("of alert {id} has no integer `version`")))?;
    let zone = match alert.get("zone") {
        None | Some(Value::Null) => None,
        Some(Value::String(zone)) => Some(zone.as_str()),
        Some(_) => return Err(payload_error(format!("of alert {id} has a `zone` that is not a string"))),
    };
    let category =
        alert.get("category").and_then(Value::as_str).filter(|c| CATEGORIES.contains(c)).ok_or_else(
            || payload_error(format!("of alert {id} has no `category` among {}", CATEGORIES.join(", "))),
        )?;
    let level_of = |field: &str| -> Result<Option<Level>> {
        match alert.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(name)) => name
                .parse()
                .map(Some)
                .map_err(|_| payload_error(format!("of alert {id} has `{field}` `{name}`, not a level"))),
            Some(_) => Err(payload_error(format!("of alert {id} has a `{field}` that is not a string"))),
        }
    };
    let level = level_of("level")?.ok_or_else(|| payload_error(format!("of alert {id} has no `level`")))?;
    let level = level_of("peak_level")?.map_or(level, |peak| peak.max(level));
    let silenced = alert.get("silenced").and_then(Value::as_bool).unwrap_or(false);
    Ok(Routing { id, version, zone, category, level, silenced })
}

/// Queues one delivery of the alert change `alert` (the payload of the spine's `alert.changed` event) to
/// every active subscription whose filters it passes, and returns how many were queued.
///
/// Call it inside the transaction that changes the alert, with the same `(id, version)`: the queue keeps one
/// delivery per (subscription, alert, version), so enqueueing a change twice (a replay, a takeover, two processes)
/// queues nothing the second time, and the deliveries exist if and only if the change was committed. On commit the
/// dispatchers are woken by a NOTIFY on [`NOTIFY_CHANNEL`].
///
/// Routing: a subscription gets the change when it is active, its `zones` are empty or hold the alert's `zone`,
/// its `categories` hold the alert's `category`, and the alert's peak level (the most severe of `level` and
/// `peak_level`) is at least its `min_level` (so a receiver that got the escalation also gets the de-escalation
/// and the resolution). A change of a silenced alert (`"silenced": true`) is delivered to nobody.
pub async fn enqueue(conn: &mut PgConnection, alert: &Value, event_id: Option<i64>) -> Result<u64> {
    let routing = routing(alert)?;
    if routing.silenced {
        return Ok(0);
    }
    // The subscription's min_level passes when it is at or below the alert's level.
    let passing: Vec<&str> = Level::ALL
        .iter()
        .filter(|l| **l != Level::Verde && **l <= routing.level)
        .map(|l| level_name(*l))
        .collect();
    let queued = sqlx::query(
        "insert into alerts.webhook_delivery (subscription_id, alert_id, alert_version, event_id, payload)
         select s.id, $1, $2, $3, $4
           from alerts.webhook_subscription s
          where s.active
            and (cardinality(s.zones) = 0 or $5 = any (s.zones))
            and $6 = any (s.categories)
            and s.min_level = any ($7)
            -- a subscription deleted meanwhile is skipped instead of failing the alert's transaction on the key
            for key share of s
         on conflict (subscription_id, alert_id, alert_version) do nothing",
    )
    .bind(routing.id)
    .bind(routing.version)
    .bind(event_id)
    .bind(alert)
    .bind(routing.zone)
    .bind(routing.category)
    .bind(&passing)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if queued > 0 {
        sqlx::query("select pg_notify($1, '')").bind(NOTIFY_CHANNEL).execute(&mut *conn).await?;
    }
    Ok(queued)
}

/// Which deliveries [`list_deliveries`] returns: newest first, `limit` (1–1000, default 100) of them, with ids
/// below `before_id` for the next page.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// Only this state (`dead` is the dead-letter list).
    pub state: Option<DeliveryState>,
    /// Only this subscription.
    pub subscription_id: Option<i64>,
    /// Only this alert.
    pub alert_id: Option<i64>,
    /// Only ids below this one (paging).
    pub before_id: Option<i64>,
    /// At most this many (1–1000; default 100).
    pub limit: Option<i64>,
}

/// Deliveries, newest first, filtered by [`DeliveryQuery`].
pub async fn list_deliveries(pool: &PgPool, query: &DeliveryQuery) -> Result<Vec<Delivery>> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::WebhookInvalid {
            field: "limit",
            reason: format!("{limit} is not within 1–1000"),
        });
    }
    let sql = format!(
        "select {COLUMNS} from alerts.webhook_delivery
          where ($1::text is null or state = $1)
            and ($2::bigint is null or subscription_id = $2)
            and ($3::bigint is null or alert_id = $3)
            and ($4::bigint is null or id < $4)
          order by id desc
          limit $5"
    );
    sqlx::query(&sql)
        .bind(query.state.map(DeliveryState::as_str))
        .bind(query.subscription_id)
        .bind(query.alert_id)
        .bind(query.before_id)
        .bind(limit)
        .fetch_all(pool)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// One delivery.
pub async fn get_delivery(pool: &PgPool, id: i64) -> Result<Option<Delivery>> {
    let sql = format!("select {COLUMNS} from alerts.webhook_delivery where id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(pool).await?.as_ref().map(from_row).transpose()
}

/// Puts a dead delivery back in the queue, due now, with a fresh count of attempts (its last error stays until
/// the next attempt). `Ok(None)` when there is no such delivery; [`Error::WebhookNotDead`] when it is not dead.
pub async fn retry_delivery(pool: &PgPool, id: i64) -> Result<Option<Delivery>> {
    let sql = format!(
        "update alerts.webhook_delivery set state = 'pending', attempts = 0, next_attempt_at = now()
          where id = $1 and state = 'dead'
         returning {COLUMNS}"
    );
    if let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(pool).await? {
        wake_dispatchers(pool).await?;
        return Ok(Some(from_row(&row)?));
    }
    let state: Option<String> = sqlx::query_scalar("select state from alerts.webhook_delivery where id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    match state {
        None => Ok(None),
        Some(state) => Err(Error::WebhookNotDead { id, state }),
    }
}

/// Wakes the dispatchers of every process (they also poll, so this only saves latency).
pub(crate) async fn wake_dispatchers(pool: &PgPool) -> Result<()> {
    sqlx::query("select pg_notify($1, '')").bind(NOTIFY_CHANNEL).execute(pool).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn routing_reads_the_alert_payload() {
        let alert = json!({"id": 12, "version": 3, "zone": "B", "category": "hydro", "level": "gialla",
                           "peak_level": "arancione", "silenced": false});
        let r = routing(&alert).unwrap();
        assert_eq!(
            (r.id, r.version, r.zone, r.category, r.level, r.silenced),
            (12, 3, Some("B"), "hydro", Level::Arancione, false)
        );
        let no_zone = json!({"id": 1, "version": 1, "zone": null, "category": "manual", "level": "rossa"});
        assert_eq!(routing(&no_zone).unwrap().zone, None);
        for bad in [
            json!({"version": 1, "category": "hydro", "level": "rossa"}),
            json!({"id": 1, "category": "hydro", "level": "rossa"}),
            json!({"id": 1, "version": 1, "category": "meteo", "level": "rossa"}),
            json!({"id": 1, "version": 1, "category": "hydro", "level": "viola"}),
            json!({"id": 1, "version": 1, "category": "hydro"}),
            json!({"id": 1, "version": 1, "zone": 3, "category": "hydro", "level": "rossa"}),
        ] {
            assert!(matches!(routing(&bad), Err(Error::WebhookPayload { .. })), "{bad}");
        }
    }
}
