//! The dispatcher of the alerts' webhooks: the [`webhooks`] delivery loop over `alerts.webhook_delivery`.
//! Any number of processes may run one.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use webhooks::{Job, Queue, Recorded};

use super::delivery::NOTIFY_CHANNEL;
use crate::{Error, Result};

/// The `event` of every delivery body and the `X-Vedetta-Event` header.
pub const EVENT_ALERT_CHANGED: &str = "alert.changed";

/// How a dispatcher behaves (timeout, attempts, backoff, lease, polling, concurrency). [`Default`] gives the
/// production values: 10 s, 8 attempts, 1 s doubling up to 10 min, a 60 s lease, a 500 ms poll, 8 in flight.
pub use webhooks::DeliveryOptions as DispatcherOptions;

/// Delivers queued alert webhook deliveries. Build one per process with [`Dispatcher::new`] and
/// [`run`](Dispatcher::run) it until shutdown.
///
/// Claiming is safe across processes: a short statement takes due rows with `FOR UPDATE SKIP LOCKED`, counts the
/// attempt and moves `next_attempt_at` to the end of a lease, then commits; the request is made with no row lock
/// held; a second short statement records the outcome. If the process dies mid-request, another takes the delivery
/// over when the lease ends (the lost attempt counts). A delivery is therefore made at least once, and exactly
/// once unless a process dies between the receiver's answer and the recording of it; the receiver can drop repeats
/// by `X-Vedetta-Delivery`.
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

    /// Delivers until `cancel` fires; then stops claiming, lets the requests in flight finish (each within the
    /// timeout) and returns. Database errors are logged and retried at the poll interval: the dispatcher outlives
    /// a database restart.
    pub async fn run(self, cancel: CancellationToken) {
        self.engine.run(cancel).await;
    }
}

/// `alerts.webhook_delivery` of the active `alerts.webhook_subscription`s.
#[derive(Debug)]
struct Deliveries {
    pool: PgPool,
}

impl Queue for Deliveries {
    type Error = Error;

    const LABEL: &'static str = "Webhook";
    const EVENT: &'static str = EVENT_ALERT_CHANGED;
    const CHANNELS: &'static [&'static str] = &[NOTIFY_CHANNEL];
    const DELIVERIES_METRIC: &'static str = "vedetta_webhook_deliveries_total";
    const REQUEST_METRIC: &'static str = "vedetta_webhook_request_seconds";

    async fn bury_abandoned(&self, max_attempts: u32) -> Result<u64> {
        let buried = sqlx::query(
            "update alerts.webhook_delivery
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
                   from alerts.webhook_delivery d
                   join alerts.webhook_subscription s on s.id = d.subscription_id
                  where d.state = 'pending' and d.next_attempt_at <= now() and d.attempts < $2 and s.active
                  order by d.next_attempt_at, d.id
                  limit $1
                    for update of d skip locked
             )
             update alerts.webhook_delivery d
                set attempts = d.attempts + 1,
                    next_attempt_at = now() + make_interval(secs => $3)
               from due, alerts.webhook_subscription s
              where d.id = due.id and s.id = d.subscription_id
          returning d.id, d.attempts, d.event_id, d.payload, s.url, s.secret",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(i32::try_from(max_attempts).unwrap_or(i32::MAX))
        .bind(lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(Job::from_row).collect::<std::result::Result<_, _>>()?)
    }

    /// `event`, `delivery_id`, `event_id` and the `alert` as the spine's `alert.changed` carries it.
    fn body(&self, job: &Job) -> Value {
        json!({
            "event": EVENT_ALERT_CHANGED,
            "delivery_id": job.id,
            "event_id": job.event_id,
            "alert": job.payload,
        })
    }

    async fn record(&self, job: &Job, recorded: &Recorded<'_>) -> Result<()> {
        match recorded {
            Recorded::Delivered { status } => {
                sqlx::query(
                    "update alerts.webhook_delivery
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
                    "update alerts.webhook_delivery
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
