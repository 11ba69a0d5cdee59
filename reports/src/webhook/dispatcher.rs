//! The report webhook dispatcher: fans the spine's `report.changed` events out into deliveries, then claims due
//! deliveries, POSTs them signed, records the outcome, retries with exponential backoff and gives a delivery up
//! (`dead`) after its last failed attempt. Any number of processes may run one.

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
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{DELIVERY_HEADER, EVENT, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use crate::{Error, Result};

/// The dispatcher's row in `reports.consumer_cursor`.
const CONSUMER: &str = "report_webhooks";
/// The channel the fan-out notifies when it queued deliveries (other processes' dispatchers wake on it).
const NOTIFY_CHANNEL: &str = "vedetta_report_webhook";
/// Most events fanned out in one transaction.
const FANOUT_PAGE: i64 = 1000;
/// How much of a receiver's answer is kept in `last_error`.
const ERROR_BODY_BYTES: usize = 512;

/// How a dispatcher behaves. [`Default`] gives the production values.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatcherOptions {
    /// Longest a request may take, connection and answer included (default 10 s).
    pub timeout: Duration,
    /// Attempts before a delivery is dead (default 8).
    pub max_attempts: u32,
    /// Wait after the first failure; each later failure doubles it (default 1 s).
    pub backoff_base: Duration,
    /// The longest wait between two attempts (default 10 min).
    pub backoff_max: Duration,
    /// How long a claimed delivery is reserved for its process (raised to `timeout + 5 s`; default 60 s).
    pub lease: Duration,
    /// How often to look for new events and due deliveries when nothing wakes the dispatcher (default 1 s).
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
            poll_interval: Duration::from_secs(1),
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
    event_id: i64,
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
    let builder = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider.clone())
    {
        Ok(builder) => builder,
        Err(error) => {
            tracing::warn!(%error, "No system root certificates: report webhooks to https URLs will fail.");
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
    /// A dispatcher on `pool` (errors: [`Error::WebhookSetup`] for inconsistent options or no TLS set-up).
    pub fn new(pool: PgPool, opts: DispatcherOptions) -> Result<Dispatcher> {
        opts.check()?;
        let client = https_client()?;
        Ok(Dispatcher { inner: Arc::new(Inner { pool, opts, client }) })
    }

    /// Fans out and delivers until `cancel` fires; then lets the requests in flight finish (each within the
    /// timeout) and returns. Database errors are logged and retried at the poll interval.
    pub async fn run(self, cancel: CancellationToken) {
        let opts = &self.inner.opts;
        let mut listener: Option<PgListener> = None;
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let mut last_sweep: Option<Instant> = None;
        tracing::info!(concurrency = opts.concurrency, "Report webhook dispatcher started.");
        while !cancel.is_cancelled() {
            if listener.is_none() {
                listener = self.listen().await;
            }
            if last_sweep.is_none_or(|at| at.elapsed() >= opts.poll_interval) {
                last_sweep = Some(Instant::now());
                if let Err(error) = self.bury_abandoned().await {
                    tracing::warn!(%error, "Report webhook dispatcher could not sweep abandoned deliveries.");
                }
            }
            match self.fan_out().await {
                // A full page: more events wait; fan out again before sleeping.
                Ok(n) if n >= FANOUT_PAGE => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "Report webhook dispatcher could not read the events."),
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
                            if let Some(Err(error)) = in_flight.join_next().await {
                                tracing::error!(%error, "Report webhook delivery task failed.");
                            }
                            continue;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "Report webhook dispatcher could not claim deliveries.")
                    }
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Err(error) = joined {
                        tracing::error!(%error, "Report webhook delivery task failed.");
                    }
                }
                notified = next_notification(&mut listener) => {
                    if let Err(error) = notified {
                        tracing::warn!(%error, "Report webhook dispatcher lost its LISTEN connection; polling.");
                        listener = None;
                    }
                }
                _ = tokio::time::sleep(opts.poll_interval) => {}
            }
        }
        while let Some(joined) = in_flight.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "Report webhook delivery task failed.");
            }
        }
        tracing::info!("Report webhook dispatcher stopped.");
    }

    async fn listen(&self) -> Option<PgListener> {
        let attempt = async {
            let mut listener = PgListener::connect_with(&self.inner.pool).await?;
            listener.listen_all([database::event::CHANNEL, NOTIFY_CHANNEL]).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match attempt.await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "Report webhook dispatcher cannot LISTEN; polling only for now.");
                None
            }
        }
    }

    /// Queues the deliveries of the events after the cursor (a page at most) and moves the cursor; returns how many
    /// events it read.
    pub async fn fan_out(&self) -> Result<i64> {
        let mut tx = self.inner.pool.begin().await?;
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

    async fn bury_abandoned(&self) -> Result<()> {
        let buried = sqlx::query(
            "update reports.webhook_delivery
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
            tracing::warn!(buried, "Report webhook deliveries abandoned mid-request are dead.");
            metrics::counter!("vedetta_report_webhook_deliveries_total", "outcome" => "dead")
                .increment(buried);
        }
        Ok(())
    }

    /// Claims up to `limit` due deliveries of active webhooks in one short statement.
    async fn claim(&self, limit: usize) -> Result<Vec<Job>> {
        let opts = &self.inner.opts;
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

    async fn deliver(&self, job: Job) {
        let started = Instant::now();
        let outcome = self.post(&job).await;
        metrics::histogram!("vedetta_report_webhook_request_seconds").record(started.elapsed().as_secs_f64());
        if let Err(error) = self.record(&job, &outcome).await {
            tracing::warn!(delivery = job.id, %error, "Report webhook outcome not recorded; the lease will retry it.");
        }
    }

    /// The body: `event`, `delivery_id`, `event_id`, then the event's payload (`change`, `comune`, `report`).
    fn body(job: &Job) -> Value {
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

    async fn post(&self, job: &Job) -> Outcome {
        let body = match serde_json::to_vec(&Self::body(job)) {
            Ok(body) => body,
            Err(e) => return Outcome::Failed { status: None, error: format!("cannot encode the body: {e}") },
        };
        let timestamp = Utc::now().timestamp().to_string();
        let signature = sign(&job.secret, &timestamp, &body);
        let request = hyper::Request::post(job.url.as_str())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, concat!("Vedetta-Webhook/", env!("CARGO_PKG_VERSION")))
            .header(EVENT_HEADER, EVENT)
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
                    Some(Err(_)) if status.is_success() => break,
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
                    .into();
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
                    "update reports.webhook_delivery
                        set state = 'delivered', delivered_at = now(), last_status = $2, last_error = null
                      where id = $1 and state = 'pending'",
                )
                .bind(job.id)
                .bind(i32::from(*status))
                .execute(&self.inner.pool)
                .await?;
                metrics::counter!("vedetta_report_webhook_deliveries_total", "outcome" => "delivered")
                    .increment(1);
                tracing::info!(delivery = job.id, attempt = job.attempt, status, "Report webhook delivered.");
            }
            Outcome::Failed { status, error } => {
                let dead = job.attempt >= opts.max_attempts;
                let wait = opts.backoff(job.attempt);
                sqlx::query(
                    "update reports.webhook_delivery
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
                let outcome = if dead { "dead" } else { "retry" };
                metrics::counter!("vedetta_report_webhook_deliveries_total", "outcome" => outcome)
                    .increment(1);
                if dead {
                    tracing::warn!(delivery = job.id, attempt = job.attempt, %error, "Report webhook delivery is dead.");
                } else {
                    tracing::info!(
                        delivery = job.id,
                        attempt = job.attempt,
                        retry_in_ms = wait.as_millis() as u64,
                        %error,
                        "Report webhook delivery failed; will retry."
                    );
                }
            }
        }
        Ok(())
    }
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
    }

    #[test]
    fn inconsistent_options_are_refused() {
        for opts in [
            DispatcherOptions { max_attempts: 0, ..DispatcherOptions::default() },
            DispatcherOptions { concurrency: 0, ..DispatcherOptions::default() },
            DispatcherOptions { timeout: Duration::ZERO, ..DispatcherOptions::default() },
        ] {
            assert!(matches!(opts.check(), Err(Error::WebhookSetup(_))), "{opts:?}");
        }
    }
}
