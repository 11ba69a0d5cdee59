//! The dispatcher: claims due deliveries, POSTs them signed, records the outcome, retries with exponential backoff
//! and dead-letters a delivery after its last failed attempt. Any number of processes may run one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use database::outbox::{error_chain, next_notification};
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::delivery::NOTIFY_CHANNEL;
use super::signature::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use crate::{Error, Result};

/// The `event` of every delivery body and the `X-Vedetta-Event` header.
pub const EVENT_ALERT_CHANGED: &str = "alert.changed";

/// How much of a receiver's answer is kept in `last_error`.
const ERROR_BODY_BYTES: usize = 512;

/// How a dispatcher behaves. [`Default`] gives the production values.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatcherOptions {
    /// Longest a request may take, connection and answer included (default 10 s).
    pub timeout: Duration,
    /// Attempts before a delivery is dead (default 8).
    pub max_attempts: u32,
    /// Wait after the first failure; each later failure doubles it (default 1 s: 1, 2, 4 … s).
    pub backoff_base: Duration,
    /// The longest wait between two attempts (default 10 min).
    pub backoff_max: Duration,
    /// How long a claimed delivery is reserved for the process that claimed it before another may take it over
    /// (if that process died mid-request). Raised to `timeout + 5 s` when shorter (default 60 s).
    pub lease: Duration,
    /// How often to look for due deliveries when nothing wakes the dispatcher (default 500 ms; new deliveries
    /// also wake it through LISTEN/NOTIFY).
    pub poll_interval: Duration,
    /// Requests in flight at once in this process (default 8).
    pub concurrency: usize,
}

impl Default for DispatcherOptions {
    fn default() -> Self {
        DispatcherOptions {
            timeout: Duration::from_secs(10),
            max_attempts: 8,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            concurrency: 8,
        }
    }
}

impl DispatcherOptions {
    /// The wait after the `attempt`-th failed attempt (1-based): `backoff_base · 2^(attempt−1)`, at most
    /// `backoff_max`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        database::outbox::backoff(self.backoff_base, self.backoff_max, attempt)
    }

    fn check(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::WebhookSetup(what.to_string()));
        if self.timeout.is_zero() {
            return bad("the request timeout must be above zero");
        }
        if self.max_attempts == 0 {
            return bad("max_attempts must be at least 1");
        }
        if self.poll_interval.is_zero() {
            return bad("the poll interval must be above zero");
        }
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1");
        }
        Ok(())
    }

    fn effective_lease(&self) -> Duration {
        self.lease.max(self.timeout + Duration::from_secs(5))
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Delivers queued webhook deliveries. Build one per process with [`Dispatcher::new`] and [`run`](Dispatcher::run)
/// it until shutdown.
///
/// Claiming is safe across processes: a short statement takes due rows with `FOR UPDATE SKIP LOCKED`, counts the
/// attempt and moves `next_attempt_at` to the end of a lease, then commits; the request is made with no row lock
/// held; a second short statement records the outcome. If the process dies mid-request, another takes the delivery
/// over when the lease ends (the lost attempt counts). A delivery is therefore made at least once, and exactly
/// once unless a process dies between the receiver's answer and the recording of it; the receiver can drop repeats
/// by `X-Vedetta-Delivery`.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    opts: DispatcherOptions,
    client: HttpClient,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("opts", &self.inner.opts).finish_non_exhaustive()
    }
}

/// A claimed delivery.
struct Job {
    id: i64,
    attempt: u32,
    event_id: Option<i64>,
    payload: Value,
    url: String,
    secret: String,
}

/// What one attempt came to.
enum Outcome {
    Delivered { status: u16 },
    Failed { status: Option<u16>, error: String },
}

fn https_client() -> Result<HttpClient> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder =
        match hyper_rustls::HttpsConnectorBuilder::new().with_provider_and_native_roots(provider.clone()) {
            Ok(builder) => builder,
            Err(error) => {
                tracing::warn!(%error, "No system root certificates: webhooks to https URLs will fail.");
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| Error::WebhookSetup(format!("TLS: {e}")))?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        };
    let connector = builder.https_or_http().enable_http1().build();
    Ok(Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector))
}

impl Dispatcher {
    /// A dispatcher on `pool` (errors: inconsistent options, or no TLS set-up possible).
    pub fn new(pool: PgPool, opts: DispatcherOptions) -> Result<Dispatcher> {
        opts.check()?;
        let client = https_client()?;
        Ok(Dispatcher { inner: Arc::new(Inner { pool, opts, client }) })
    }

    /// Delivers until `cancel` fires; then stops claiming, lets the requests in flight finish (each within the
    /// timeout) and returns. Database errors are logged and retried at the poll interval: the dispatcher outlives
    /// a database restart.
    pub async fn run(self, cancel: CancellationToken) {
        let opts = &self.inner.opts;
        let mut listener: Option<PgListener> = None;
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let mut last_sweep: Option<Instant> = None;
        tracing::info!(concurrency = opts.concurrency, "Webhook dispatcher started.");
        while !cancel.is_cancelled() {
            if listener.is_none() {
                listener = self.listen().await;
            }
            if last_sweep.is_none_or(|at| at.elapsed() >= opts.poll_interval) {
                last_sweep = Some(Instant::now());
                if let Err(error) = self.bury_abandoned().await {
                    tracing::warn!(%error, "Webhook dispatcher could not sweep abandoned deliveries.");
                }
            }
            let free = opts.concurrency.saturating_sub(in_flight.len());
            if free > 0 {
                match self.claim(free).await {
                    Ok(jobs) => {
                        let full = jobs.len() == free;
                        for job in jobs {
                            let this = self.clone();
                            in_flight.spawn(async move { this.deliver(job).await });
                        }
                        if full {
                            // There may be more due: claim again as soon as a slot frees.
                            if let Some(Err(error)) = in_flight.join_next().await {
                                tracing::error!(%error, "Webhook delivery task failed.");
                            }
                            continue;
                        }
                    }
                    Err(error) => tracing::warn!(%error, "Webhook dispatcher could not claim deliveries."),
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
                Wake::Finished(Some(error)) => tracing::error!(%error, "Webhook delivery task failed."),
                Wake::Notified(Err(error)) => {
                    tracing::warn!(%error, "Webhook dispatcher lost its LISTEN connection; polling meanwhile.");
                    listener = None;
                }
                Wake::Finished(None) | Wake::Notified(Ok(())) | Wake::Timer => {}
            }
        }
        while let Some(joined) = in_flight.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "Webhook delivery task failed.");
            }
        }
        tracing::info!("Webhook dispatcher stopped.");
    }

    async fn listen(&self) -> Option<PgListener> {
        let attempt = async {
            let mut listener = PgListener::connect_with(&self.inner.pool).await?;
            listener.listen(NOTIFY_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match attempt.await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "Webhook dispatcher cannot LISTEN; polling only for now.");
                None
            }
        }
    }

    /// Marks dead the deliveries whose last allowed attempt was claimed but never recorded (the process died
    /// mid-request) once its lease is over.
    async fn bury_abandoned(&self) -> Result<()> {
        let buried = sqlx::query(
            "update alerts.webhook_delivery
                set state = 'dead',
                    last_error = 'attempt ' || attempts || ' never reported back (its dispatcher stopped mid-request)'
                                 || coalesce('; before it: ' || last_error, '')
              where state = 'pending' and attempts >= $1 and next_attempt_at <= now()",
        )
        .bind(i32::try_from(self.inner.opts.max_attempts).unwrap_or(i32::MAX))
        .execute(&self.inner.pool)
        .await?
        .rows_affected();
        if buried > 0 {
            tracing::warn!(buried, "Webhook deliveries abandoned mid-request are dead.");
            metrics::counter!("vedetta_webhook_deliveries_total", "outcome" => "dead").increment(buried);
        }
        Ok(())
    }

    /// Claims up to `limit` due deliveries of active subscriptions in one short statement.
    async fn claim(&self, limit: usize) -> Result<Vec<Job>> {
        let opts = &self.inner.opts;
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
        .bind(i32::try_from(opts.max_attempts).unwrap_or(i32::MAX))
        .bind(opts.effective_lease().as_secs_f64())
        .fetch_all(&self.inner.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let attempts: i32 = row.try_get("attempts")?;
                Ok(Job {
                    id: row.try_get("id")?,
                    attempt: u32::try_from(attempts).unwrap_or(1),
                    event_id: row.try_get("event_id")?,
                    payload: row.try_get("payload")?,
                    url: row.try_get("url")?,
                    secret: row.try_get("secret")?,
                })
            })
            .collect()
    }

    /// Makes one attempt and records it; errors are logged (the lease brings the delivery back if recording fails).
    async fn deliver(&self, job: Job) {
        let started = Instant::now();
        let outcome = self.post(&job).await;
        metrics::histogram!("vedetta_webhook_request_seconds").record(started.elapsed().as_secs_f64());
        if let Err(error) = self.record(&job, &outcome).await {
            tracing::warn!(delivery = job.id, %error, "Webhook delivery outcome not recorded; the lease will retry it.");
        }
    }

    async fn post(&self, job: &Job) -> Outcome {
        let body = json!({
            "event": EVENT_ALERT_CHANGED,
            "delivery_id": job.id,
            "event_id": job.event_id,
            "alert": job.payload,
        });
        let body = match serde_json::to_vec(&body) {
            Ok(body) => body,
            Err(e) => return Outcome::Failed { status: None, error: format!("cannot encode the body: {e}") },
        };
        let timestamp = Utc::now().timestamp().to_string();
        let signature = sign(&job.secret, &timestamp, &body);
        let request = hyper::Request::post(job.url.as_str())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, concat!("Vedetta-Webhook/", env!("CARGO_PKG_VERSION")))
            .header(EVENT_HEADER, EVENT_ALERT_CHANGED)
            .header(DELIVERY_HEADER, job.id.to_string())
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, signature)
            .body(Full::new(Bytes::from(body)));
        let request = match request {
            Ok(request) => request,
            Err(e) => {
                return Outcome::Failed { status: None, error: format!("cannot build the request: {e}") };
            }
        };
        let exchange = async {
            let response = self.inner.client.request(request).await.map_err(|e| error_chain(&e))?;
            let status = response.status();
            // Read (a little of) the answer: it lets the connection be reused and explains a refusal.
            let mut body = response.into_body();
            let mut head = Vec::new();
            while head.len() < ERROR_BODY_BYTES {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            head.extend_from_slice(data);
                        }
                    }
                    Some(Err(e)) if status.is_success() => {
                        tracing::debug!(delivery = job.id, error = %e, "Webhook answer body unreadable.");
                        break;
                    }
                    Some(Err(e)) => return Err(format!("HTTP {status}, then the answer broke off: {e}")),
                    None => break,
                }
            }
            Ok::<_, String>((status, head))
        };
        match tokio::time::timeout(self.inner.opts.timeout, exchange).await {
            Err(_) => Outcome::Failed {
                status: None,
                error: format!("no answer within {} ms", self.inner.opts.timeout.as_millis()),
            },
            Ok(Err(error)) => Outcome::Failed { status: None, error },
            Ok(Ok((status, _))) if status.is_success() => Outcome::Delivered { status: status.as_u16() },
            Ok(Ok((status, head))) => {
                let text = String::from_utf8_lossy(&head[..head.len().min(ERROR_BODY_BYTES)]);
                let text: String = text
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect::<String>()
                    .trim()
                    .to_string();
                let error =
                    if text.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {text}") };
                Outcome::Failed { status: Some(status.as_u16()), error }
            }
        }
    }

    async fn record(&self, job: &Job, outcome: &Outcome) -> Result<()> {
        let opts = &self.inner.opts;
        let attempt = i32::try_from(job.attempt).unwrap_or(i32::MAX);
        match outcome {
            Outcome::Delivered { status } => {
                sqlx::query(
                    "update alerts.webhook_delivery
                        set state = 'delivered', delivered_at = now(), last_status = $2, last_error = null
                      where id = $1 and state = 'pending'",
                )
                .bind(job.id)
                .bind(i32::from(*status))
                .execute(&self.inner.pool)
                .await?;
                metrics::counter!("vedetta_webhook_deliveries_total", "outcome" => "delivered").increment(1);
                tracing::info!(delivery = job.id, attempt = job.attempt, status, "Webhook delivered.");
            }
            Outcome::Failed { status, error } => {
                let dead = job.attempt >= opts.max_attempts;
                let wait = opts.backoff(job.attempt);
                sqlx::query(
                    "update alerts.webhook_delivery
                        set state = case when $3 then 'dead' else 'pending' end,
                            next_attempt_at = case when $3 then now() else now() + make_interval(secs => $4) end,
                            last_status = $5, last_error = $6
                      where id = $1 and state = 'pending' and attempts = $2",
                )
                .bind(job.id)
                .bind(attempt)
                .bind(dead)
                .bind(wait.as_secs_f64())
                .bind(status.map(i32::from))
                .bind(error)
                .execute(&self.inner.pool)
                .await?;
                if dead {
                    metrics::counter!("vedetta_webhook_deliveries_total", "outcome" => "dead").increment(1);
                    tracing::warn!(delivery = job.id, attempt = job.attempt, %error, "Webhook delivery is dead.");
                } else {
                    metrics::counter!("vedetta_webhook_deliveries_total", "outcome" => "retry").increment(1);
                    tracing::info!(
                        delivery = job.id,
                        attempt = job.attempt,
                        retry_in_ms = wait.as_millis() as u64,
                        %error,
                        "Webhook delivery failed; will retry."
                    );
                }
            }
        }
        Ok(())
    }
}

enum Wake {
    Cancelled,
    Finished(Option<tokio::task::JoinError>),
    Notified(std::result::Result<(), sqlx::Error>),
    Timer,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let opts = DispatcherOptions::default();
        let waits: Vec<u64> = (1..=12).map(|n| opts.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(opts.backoff(u32::MAX), Duration::from_secs(600));
        assert_eq!(opts.effective_lease(), Duration::from_secs(60));
        let short = DispatcherOptions { lease: Duration::from_secs(1), ..DispatcherOptions::default() };
        assert_eq!(short.effective_lease(), Duration::from_secs(15));
    }

    #[test]
    fn inconsistent_options_are_refused() {
        for opts in [
            DispatcherOptions { max_attempts: 0, ..DispatcherOptions::default() },
            DispatcherOptions { concurrency: 0, ..DispatcherOptions::default() },
            DispatcherOptions { timeout: Duration::ZERO, ..DispatcherOptions::default() },
            DispatcherOptions { poll_interval: Duration::ZERO, ..DispatcherOptions::default() },
        ] {
            assert!(matches!(opts.check(), Err(Error::WebhookSetup(_))), "{opts:?}");
        }
    }
}
