//! The delivery loop shared by every webhook queue: claims due deliveries, POSTs them signed, records the outcome,
//! retries with exponential backoff and dead-letters a delivery after its last failed attempt. Any number of
//! processes may run one on the same queue.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use database::outbox::next_notification;
use serde_json::Value;
use sqlx::postgres::{PgListener, PgRow};
use sqlx::{PgPool, Row};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::Result;
use crate::client::{Outcome, WebhookClient};
use crate::options::DeliveryOptions;

/// A claimed delivery: its attempt is counted and its lease runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The delivery id (`X-Vedetta-Delivery`), the same on every attempt.
    pub id: i64,
    /// This attempt, 1-based (the delivery's `attempts` after the claim).
    pub attempt: u32,
    /// The spine event delivered, if any.
    pub event_id: Option<i64>,
    /// What the queue stored to deliver.
    pub payload: Value,
    /// The receiver.
    pub url: String,
    /// The receiver's signing secret.
    pub secret: String,
}

impl Job {
    /// A job from a claim's row with the columns `id`, `attempts`, `event_id`, `payload`, `url`, `secret`.
    pub fn from_row(row: &PgRow) -> std::result::Result<Job, sqlx::Error> {
        let attempts: i32 = row.try_get("attempts")?;
        Ok(Job {
            id: row.try_get("id")?,
            attempt: u32::try_from(attempts).unwrap_or(1),
            event_id: row.try_get("event_id")?,
            payload: row.try_get("payload")?,
            url: row.try_get("url")?,
            secret: row.try_get("secret")?,
        })
    }
}

/// What a queue records of an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded<'a> {
    /// The receiver answered 2xx: the delivery is `delivered`, with `status`, and its last error cleared.
    Delivered { status: u16 },
    /// The attempt failed: record `status` and `error`; the delivery is `dead` when `dead` (its last attempt),
    /// otherwise still `pending` and due again in `retry_in`. Only if the delivery is still pending at `attempt`.
    Failed { status: Option<u16>, error: &'a str, dead: bool, retry_in: Duration },
}

/// One domain's delivery queue (its tables), as the [`Dispatcher`] works it off.
///
/// A delivery row is `pending` until `delivered` or `dead`, counts its `attempts` and is due at
/// `next_attempt_at`. The methods are each one short statement; the dispatcher holds no lock while it POSTs.
pub trait Queue: Send + Sync + 'static {
    /// The domain's error (logged by the dispatcher, which retries at the poll interval).
    type Error: std::fmt::Display + Send;

    /// Starts the log messages: `Webhook`, `Report webhook`.
    const LABEL: &'static str;
    /// The event of the deliveries, in the `X-Vedetta-Event` header.
    const EVENT: &'static str;
    /// The NOTIFY channels that wake the dispatcher.
    const CHANNELS: &'static [&'static str];
    /// The counter of outcomes, labelled `outcome` = `delivered`, `retry` or `dead`.
    const DELIVERIES_METRIC: &'static str;
    /// The histogram of request durations, in seconds.
    const REQUEST_METRIC: &'static str;

    /// Queues new deliveries before each claim, if the domain queues them itself (the reports' fan-out from the
    /// spine); `true` when more work waits at once. Nothing by default.
    fn feed(&self) -> impl Future<Output = std::result::Result<bool, Self::Error>> + Send {
        async { Ok(false) }
    }

    /// Marks `dead` the pending deliveries that used their `max_attempts` and whose lease is over (the process
    /// that claimed the last attempt died mid-request); returns how many.
    fn bury_abandoned(
        &self,
        max_attempts: u32,
    ) -> impl Future<Output = std::result::Result<u64, Self::Error>> + Send;

    /// Claims up to `limit` due deliveries (pending, of an active receiver, fewer than `max_attempts` attempts),
    /// oldest due first, with `FOR UPDATE SKIP LOCKED`: counts the attempt and moves `next_attempt_at` to
    /// `now() + lease`.
    fn claim(
        &self,
        limit: usize,
        max_attempts: u32,
        lease: Duration,
    ) -> impl Future<Output = std::result::Result<Vec<Job>, Self::Error>> + Send;

    /// The JSON body of `job`.
    fn body(&self, job: &Job) -> Value;

    /// Records what the attempt `job` came to.
    fn record(
        &self,
        job: &Job,
        recorded: &Recorded<'_>,
    ) -> impl Future<Output = std::result::Result<(), Self::Error>> + Send;
}

/// Delivers a [`Queue`]. Build one per process with [`Dispatcher::new`] and [`run`](Dispatcher::run) it until
/// shutdown.
///
/// Claiming is safe across processes: a short statement takes due rows with `FOR UPDATE SKIP LOCKED`, counts the
/// attempt and moves `next_attempt_at` to the end of a lease, then commits; the request is made with no row lock
/// held; a second short statement records the outcome. If the process dies mid-request, another takes the delivery
/// over when the lease ends (the lost attempt counts). A delivery is therefore made at least once, and exactly
/// once unless a process dies between the receiver's answer and the recording of it; the receiver can drop repeats
/// by `X-Vedetta-Delivery`.
pub struct Dispatcher<Q> {
    inner: Arc<Inner<Q>>,
}

struct Inner<Q> {
    pool: PgPool,
    queue: Q,
    opts: DeliveryOptions,
    client: WebhookClient,
}

impl<Q> Clone for Dispatcher<Q> {
    fn clone(&self) -> Self {
        Dispatcher { inner: Arc::clone(&self.inner) }
    }
}

impl<Q> std::fmt::Debug for Dispatcher<Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("opts", &self.inner.opts).finish_non_exhaustive()
    }
}

enum Wake {
    Cancelled,
    Finished(Option<tokio::task::JoinError>),
    Notified(std::result::Result<(), sqlx::Error>),
    Timer,
}

impl<Q: Queue> Dispatcher<Q> {
    /// A dispatcher of `queue`, listening on `pool` (errors: inconsistent options, or no TLS set-up possible).
    pub fn new(pool: PgPool, queue: Q, opts: DeliveryOptions) -> Result<Dispatcher<Q>> {
        opts.check()?;
        let client = WebhookClient::new(opts.timeout)?;
        Ok(Dispatcher { inner: Arc::new(Inner { pool, queue, opts, client }) })
    }

    /// The queue it works off.
    pub fn queue(&self) -> &Q {
        &self.inner.queue
    }

    /// Its options.
    pub fn options(&self) -> &DeliveryOptions {
        &self.inner.opts
    }

    /// Delivers until `cancel` fires; then stops claiming, lets the requests in flight finish (each within the
    /// timeout) and returns. Database errors are logged and retried at the poll interval: the dispatcher outlives
    /// a database restart.
    pub async fn run(self, cancel: CancellationToken) {
        let label = Q::LABEL;
        let opts = &self.inner.opts;
        let mut listener: Option<PgListener> = None;
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let mut last_sweep: Option<Instant> = None;
        tracing::info!(concurrency = opts.concurrency, "{label} dispatcher started.");
        while !cancel.is_cancelled() {
            if listener.is_none() {
                listener = self.listen().await;
            }
            if last_sweep.is_none_or(|at| at.elapsed() >= opts.poll_interval) {
                last_sweep = Some(Instant::now());
                if let Err(error) = self.bury_abandoned().await {
                    tracing::warn!(%error, "{label} dispatcher could not sweep abandoned deliveries.");
                }
            }
            match self.inner.queue.feed().await {
                // More waits: feed again before sleeping.
                Ok(true) => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "{label} dispatcher could not read the events."),
            }
            let free = opts.concurrency.saturating_sub(in_flight.len());
            if free > 0 {
                match self.inner.queue.claim(free, opts.max_attempts, opts.effective_lease()).await {
                    Ok(jobs) => {
                        let full = jobs.len() == free;
                        for job in jobs {
                            let this = self.clone();
                            in_flight.spawn(async move { this.deliver(job).await });
                        }
                        if full {
                            // There may be more due: claim again as soon as a slot frees.
                            if let Some(Err(error)) = in_flight.join_next().await {
                                tracing::error!(%error, "{label} delivery task failed.");
                            }
                            continue;
                        }
                    }
                    Err(error) => tracing::warn!(%error, "{label} dispatcher could not claim deliveries."),
                }
            }
            let woke = tokio::select! {
                _ = cancel.cancelled() => Wake::Cancelled,
                Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => Wake::Finished(joined.err()),
                notified = next_notification(&mut listener) => Wake::Notified(notified),
                _ = tokio::time::sleep(opts.poll_interval) => Wake::Timer,
            };
            match woke {
                Wake::Cancelled => break,
                Wake::Finished(Some(error)) => tracing::error!(%error, "{label} delivery task failed."),
                Wake::Notified(Err(error)) => {
                    tracing::warn!(%error, "{label} dispatcher lost its LISTEN connection; polling meanwhile.");
                    listener = None;
                }
                Wake::Finished(None) | Wake::Notified(Ok(())) | Wake::Timer => {}
            }
        }
        while let Some(joined) = in_flight.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "{label} delivery task failed.");
            }
        }
        tracing::info!("{label} dispatcher stopped.");
    }

    async fn listen(&self) -> Option<PgListener> {
        let attempt = async {
            let mut listener = PgListener::connect_with(&self.inner.pool).await?;
            listener.listen_all(Q::CHANNELS.iter().copied()).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match attempt.await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "{} dispatcher cannot LISTEN; polling only for now.", Q::LABEL);
                None
            }
        }
    }

    async fn bury_abandoned(&self) -> std::result::Result<(), Q::Error> {
        let buried = self.inner.queue.bury_abandoned(self.inner.opts.max_attempts).await?;
        if buried > 0 {
            tracing::warn!(buried, "{} deliveries abandoned mid-request are dead.", Q::LABEL);
            metrics::counter!(Q::DELIVERIES_METRIC, "outcome" => "dead").increment(buried);
        }
        Ok(())
    }

    /// Makes one attempt and records it; errors are logged (the lease brings the delivery back if recording fails).
    async fn deliver(&self, job: Job) {
        let started = Instant::now();
        let body = self.inner.queue.body(&job);
        let outcome = self.inner.client.post(&job.url, &job.secret, Q::EVENT, job.id, &body).await;
        metrics::histogram!(Q::REQUEST_METRIC).record(started.elapsed().as_secs_f64());
        if let Err(error) = self.record(&job, &outcome).await {
            tracing::warn!(
                delivery = job.id,
                %error,
                "{} delivery outcome not recorded; the lease will retry it.",
                Q::LABEL
            );
        }
    }

    async fn record(&self, job: &Job, outcome: &Outcome) -> std::result::Result<(), Q::Error> {
        let opts = &self.inner.opts;
        let label = Q::LABEL;
        match outcome {
            Outcome::Delivered { status } => {
                self.inner.queue.record(job, &Recorded::Delivered { status: *status }).await?;
                metrics::counter!(Q::DELIVERIES_METRIC, "outcome" => "delivered").increment(1);
                tracing::info!(delivery = job.id, attempt = job.attempt, status, "{label} delivered.");
            }
            Outcome::Failed { status, error } => {
                let dead = job.attempt >= opts.max_attempts;
                let wait = opts.backoff(job.attempt);
                let recorded = Recorded::Failed { status: *status, error, dead, retry_in: wait };
                self.inner.queue.record(job, &recorded).await?;
                if dead {
                    metrics::counter!(Q::DELIVERIES_METRIC, "outcome" => "dead").increment(1);
                    tracing::warn!(delivery = job.id, attempt = job.attempt, %error, "{label} delivery is dead.");
                } else {
                    metrics::counter!(Q::DELIVERIES_METRIC, "outcome" => "retry").increment(1);
                    tracing::info!(
                        delivery = job.id,
                        attempt = job.attempt,
                        retry_in_ms = wait.as_millis() as u64,
                        %error,
                        "{label} delivery failed; will retry."
                    );
                }
            }
        }
        Ok(())
    }
}
