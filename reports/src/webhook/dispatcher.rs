//! The report webhook dispatcher: fans the spine's `report.changed` events out into deliveries, then works them off
//! with the [`webhooks`] delivery loop over `reports.webhook_delivery` (claim, signed POST, outcome, exponential
//! backoff, `dead` after the last failed attempt). Any number of processes may run one.

use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use webhooks::{Job, Queue, Recorded};

use super::EVENT;
use crate::{Error, Result};

/// The dispatcher's row in `reports.consumer_cursor`.
const CONSUMER: &str = "report_webhooks";
/// The channel the fan-out notifies when it queued deliveries (other processes' dispatchers wake on it).
const NOTIFY_CHANNEL: &str = "vedetta_report_webhook";
/// Most events fanned out in one transaction.
const FANOUT_PAGE: i64 = 1000;

/// How a dispatcher behaves (timeout, attempts, backoff, lease, polling, concurrency). [`Default`] gives 10 s,
/// 8 attempts, 1 s doubling up to 10 min, a 60 s lease and 8 in flight; the reports' production poll interval is
/// [`POLL_INTERVAL`].
pub use webhooks::DeliveryOptions as DispatcherOptions;

/// How often the production dispatcher looks for new events and due deliveries when nothing wakes it (1 s; the
/// spine's and the fan-out's NOTIFY wake it sooner).
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Fans `report.changed` events out to the comuni's webhooks and delivers them. Build one per process with
/// [`Dispatcher::new`] and [`run`](Dispatcher::run) it until shutdown.
///
/// Fan-out: in one transaction, the dispatcher locks its cursor row, queues a delivery for each (public event of
/// a comune, active webhook of that comune created before the event) after the cursor, and moves the cursor; the
/// unique (webhook, event) makes a replay queue nothing twice. On its very first start the cursor begins at the
/// newest event (history is not replayed to receivers).
///
/// Delivery: a short statement claims due rows with `FOR UPDATE SKIP LOCKED`, counting the attempt and moving
/// `next_attempt_at` to the end of a lease; the request is made with no lock held; a second statement records the
/// outcome. A delivery is made at least once; receivers drop repeats by `X-Vedetta-Delivery`.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    engine: webhooks::Dispatcher<Deliveries>,
}

impl Dispatcher {
    /// A dispatcher on `pool` (errors: [`Error::WebhookSetup`] for inconsistent options or no TLS set-up).
    pub fn new(pool: PgPool, opts: DispatcherOptions) -> Result<Dispatcher> {
        let engine = webhooks::Dispatcher::new(pool.clone(), Deliveries { pool }, opts)?;
        Ok(Dispatcher { engine })
    }

    /// Fans out and delivers until `cancel` fires; then lets the requests in flight finish (each within the
    /// timeout) and returns. Database errors are logged and retried at the poll interval.
    pub async fn run(self, cancel: CancellationToken) {
        self.engine.run(cancel).await;
    }

    /// Queues the deliveries of the events after the cursor (a page at most) and moves the cursor; returns how many
    /// events it read.
    pub async fn fan_out(&self) -> Result<i64> {
        self.engine.queue().fan_out().await
    }
}

/// `reports.webhook_delivery` of the active `reports.webhook`s, fed from the spine.
#[derive(Debug)]
struct Deliveries {
    pool: PgPool,
}

impl Deliveries {
    /// See [`Dispatcher::fan_out`].
    async fn fan_out(&self) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let cursor: Option<i64> = sqlx::query_scalar(
            "select last_event_id from reports.consumer_cursor where consumer = $1 for update",
        )
        .bind(CONSUMER)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(cursor) = cursor else {
            // First start: begin at the newest event. Another process may do the same at once: one insert wins.
            sqlx::query(
                "insert into reports.consumer_cursor (consumer, last_event_id)
                 select $1, coalesce(max(id), 0) from core.event
                 on conflict (consumer) do nothing",
            )
            .bind(CONSUMER)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(0);
        };
        let (read, last): (i64, Option<i64>) = sqlx::query_as(
            "select count(*), max(id) from (
                 select id from core.event where kind = $1 and id > $2 order by id limit $3
             ) page",
        )
        .bind(EVENT)
        .bind(cursor)
        .bind(FANOUT_PAGE)
        .fetch_one(&mut *tx)
        .await?;
        let Some(last) = last else {
            tx.rollback().await?;
            return Ok(0);
        };
        let queued = sqlx::query(
            "insert into reports.webhook_delivery (webhook_id, event_id, payload)
             select w.id, e.id, e.payload - 'public'
               from core.event e
               join reports.webhook w
                 on w.comune = e.payload->>'comune' and w.active and w.created_at <= e.created_at
              where e.kind = $1 and e.id > $2 and e.id <= $3
                and jsonb_typeof(e.payload->'public') = 'boolean' and (e.payload->>'public')::boolean
             on conflict (webhook_id, event_id) do nothing",
        )
        .bind(EVENT)
        .bind(cursor)
        .bind(last)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "update reports.consumer_cursor set last_event_id = $2, updated_at = now() where consumer = $1",
        )
        .bind(CONSUMER)
        .bind(last)
        .execute(&mut *tx)
        .await?;
        if queued > 0 {
            sqlx::query("select pg_notify($1, '')").bind(NOTIFY_CHANNEL).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        if queued > 0 {
            tracing::debug!(events = read, queued, "Report webhook deliveries queued.");
        }
        Ok(read)
    }
}

impl Queue for Deliveries {
    type Error = Error;

    const LABEL: &'static str = "Report webhook";
    const EVENT: &'static str = EVENT;
    const CHANNELS: &'static [&'static str] = &[database::event::CHANNEL, NOTIFY_CHANNEL];
    const DELIVERIES_METRIC: &'static str = "vedetta_report_webhook_deliveries_total";
    const REQUEST_METRIC: &'static str = "vedetta_report_webhook_request_seconds";

    /// The fan-out; a full page means more events wait.
    async fn feed(&self) -> Result<bool> {
        Ok(self.fan_out().await? >= FANOUT_PAGE)
    }

    async fn bury_abandoned(&self, max_attempts: u32) -> Result<u64> {
        let buried = sqlx::query(
            "update reports.webhook_delivery
                set state = 'dead',
                    last_error = 'attempt ' || attempts || ' never reported back (its dispatcher stopped mid-request)'
                                 || coalesce('; before it: ' || last_error, '')
              where state = 'pending' and attempts >= $1 and next_attempt_at <= now()",
        )
        .bind(i32::try_from(max_attempts).unwrap_or(i32::MAX))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(buried)
    }

    async fn claim(&self, limit: usize, max_attempts: u32, lease: Duration) -> Result<Vec<Job>> {
        let rows = sqlx::query(
            "with due as (
                 select d.id
                   from reports.webhook_delivery d
                   join reports.webhook w on w.id = d.webhook_id
                  where d.state = 'pending' and d.next_attempt_at <= now() and d.attempts < $2 and w.active
                  order by d.next_attempt_at, d.id
                  limit $1
                    for update of d skip locked
             )
             update reports.webhook_delivery d
                set attempts = d.attempts + 1,
                    next_attempt_at = now() + make_interval(secs => $3)
               from due, reports.webhook w
              where d.id = due.id and w.id = d.webhook_id
          returning d.id, d.attempts, d.event_id, d.payload, w.url, w.secret",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(i32::try_from(max_attempts).unwrap_or(i32::MAX))
        .bind(lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(Job::from_row).collect::<std::result::Result<_, _>>()?)
    }

    /// `event`, `delivery_id`, `event_id`, then the event's payload (`change`, `comune`, `report`).
    fn body(&self, job: &Job) -> Value {
        let mut body = serde_json::Map::new();
        body.insert("event".into(), Value::from(EVENT));
        body.insert("delivery_id".into(), Value::from(job.id));
        body.insert("event_id".into(), Value::from(job.event_id));
        if let Value::Object(payload) = &job.payload {
            for (key, value) in payload {
                if !body.contains_key(key) {
                    body.insert(key.clone(), value.clone());
                }
            }
        }
        Value::Object(body)
    }

    async fn record(&self, job: &Job, recorded: &Recorded<'_>) -> Result<()> {
        match recorded {
            Recorded::Delivered { status } => {
                sqlx::query(
                    "update reports.webhook_delivery
                        set state = 'delivered', delivered_at = now(), last_status = $2, last_error = null
                      where id = $1 and state = 'pending'",
                )
                .bind(job.id)
                .bind(i32::from(*status))
                .execute(&self.pool)
                .await?;
            }
            Recorded::Failed { status, error, dead, retry_in } => {
                sqlx::query(
                    "update reports.webhook_delivery
                        set state = case when $3 then 'dead' else 'pending' end,
                            next_attempt_at = case when $3 then now() else now() + make_interval(secs => $4) end,
                            last_status = $5, last_error = $6
                      where id = $1 and state = 'pending' and attempts = $2",
                )
                .bind(job.id)
                .bind(i32::try_from(job.attempt).unwrap_or(i32::MAX))
                .bind(*dead)
                .bind(retry_in.as_secs_f64())
                .bind(status.map(i32::from))
                .bind(*error)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }
}
