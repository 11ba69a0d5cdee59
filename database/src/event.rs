//! The live-event spine: an outbox table written in the same transaction as the data it announces, read by every
//! Vedetta process, woken by `LISTEN/NOTIFY`.
//!
//! **Order.** [`append`] takes a transaction-level advisory lock right before inserting the events, as the last
//! statement before `COMMIT`. The lock is released only once the commit is visible, so event ids become visible in
//! id order and the order of ids is the order of commits: a reader that has seen id *N* never later finds a
//! committed id below *N*. `id > last` is therefore a safe cursor (SSE `Last-Event-ID`), across restarts and
//! processes. The price is that commits which carry events are serialised on that lock for the length of the
//! commit itself, a millisecond or so; batches keep that cheap (`bench/ingest` measures it).
//!
//! **Delivery.** One [`Spine`] per process listens on [`CHANNEL`] and also polls every second (a notification lost
//! while the connection was down costs at most that), reads what is new, and broadcasts it to the process's
//! subscribers. A [`Subscription`] reads what it missed from the table, then follows the broadcast, with neither
//! gap nor duplicate; a subscriber that falls behind the broadcast catches up from the table again.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{broadcast, watch};
use tracing::{debug, info, warn};

use crate::Result;

/// The `NOTIFY` channel that wakes the listeners; the payload is the event kind.
pub const CHANNEL: &str = "vedetta_event";

/// The longest a listener waits before looking at the table anyway.
const POLL: Duration = Duration::from_secs(1);

/// Most events read from the table at once.
const PAGE: i64 = 1000;

/// An event to append.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewEvent {
    /// `area.what`, e.g. `readings.committed`, `alert.changed`.
    pub kind: String,
    /// What it is about (a station code, an alert id …), for filtering.
    pub subject: Option<String>,
    pub payload: Value,
}

impl NewEvent {
    /// An event of `kind` about `subject`.
    pub fn new(kind: &str, subject: Option<String>, payload: Value) -> Self {
        NewEvent { kind: kind.to_string(), subject, payload }
    }
}

/// An event read from the spine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub subject: Option<String>,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

/// Appends `events` inside the caller's transaction and notifies the listeners (at commit). Call it as the last
/// statement before `COMMIT`: from here to the commit, other appends wait (that wait is what keeps ids in commit
/// order). Returns the ids, in the order of `events`.
pub async fn append(conn: &mut PgConnection, events: &[NewEvent]) -> Result<Vec<i64>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query("select core.event_append_lock()").execute(&mut *conn).await?;
    let batch = serde_json::to_value(events).unwrap_or(Value::Null);
    let ids: Vec<i64> = sqlx::query_scalar(
        "with new as (
             insert into core.event (kind, subject, payload)
             select e->>'kind', e->>'subject', e->'payload'
             from jsonb_array_elements($1) with ordinality as t(e, n)
             order by n
             returning id
         ), woken as (
             select pg_notify($2, kind) from (select distinct e->>'kind' as kind from jsonb_array_elements($1) e) k
         )
         select id from new, (select count(*) from woken) w order by id",
    )
    .bind(&batch)
    .bind(CHANNEL)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids)
}

/// A row of `core.event`.
type EventRow = (i64, String, Option<String>, Value, DateTime<Utc>);

/// Events after `after`, in order, at most `limit`; only those of `kinds` unless it is empty.
pub async fn read_after(
    conn: impl sqlx::PgExecutor<'_>,
    after: i64,
    kinds: &[String],
    limit: i64,
) -> Result<Vec<Event>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "select id, kind, subject, payload, created_at from core.event
         where id > $1 and (cardinality($2::text[]) = 0 or kind = any($2))
         order by id limit $3",
    )
    .bind(after)
    .bind(kinds)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, kind, subject, payload, created_at)| Event { id, kind, subject, payload, created_at })
        .collect())
}

/// The id of the newest event (0 when there is none).
pub async fn last_id(conn: impl sqlx::PgExecutor<'_>) -> Result<i64> {
    Ok(sqlx::query_scalar("select coalesce(max(id), 0) from core.event").fetch_one(conn).await?)
}

/// Deletes the events created before `cutoff`; returns how many.
pub async fn purge_before(pool: &PgPool, cutoff: DateTime<Utc>) -> Result<u64> {
    let done = sqlx::query("delete from core.event where created_at < $1").bind(cutoff).execute(pool).await?;
    Ok(done.rows_affected())
}

/// The process's listener: follows the table and broadcasts what is new to the subscribers.
#[derive(Debug)]
pub struct Spine {
    pool: PgPool,
    tx: broadcast::Sender<Arc<Event>>,
    /// The id of the newest event broadcast.
    head: watch::Receiver<i64>,
}

impl Spine {
    /// Starts following the spine from its current end (in a task of the current Tokio runtime); the task ends
    /// when the returned spine and every subscription are dropped. `retention` (when set) is applied every hour by
    /// this process.
    pub fn start(pool: PgPool, retention: Option<Duration>) -> Arc<Spine> {
        let (tx, _) = broadcast::channel(4096);
        let (head_tx, head) = watch::channel(-1);
        let spine = Arc::new(Spine { pool: pool.clone(), tx: tx.clone(), head });
        tokio::spawn(follow(pool.clone(), tx, head_tx));
        if let Some(retention) = retention {
            tokio::spawn(retain(pool, retention, Arc::downgrade(&spine)));
        }
        spine
    }

    /// The id of the newest event this process has broadcast or is broadcasting (-1 until it has read where the
    /// spine ends).
    pub fn head(&self) -> i64 {
        *self.head.borrow()
    }

    /// Waits until the spine has broadcast `id` (or a later one), for at most `timeout`; whether it has.
    pub async fn caught_up(&self, id: i64, timeout: Duration) -> bool {
        let mut head = self.head.clone();
        tokio::time::timeout(timeout, head.wait_for(|h| *h >= id)).await.is_ok_and(|r| r.is_ok())
    }

    /// Events after `after` (from now when `None`) of `kinds` (all when empty): first what the table holds, then
    /// the live ones.
    pub fn subscribe(&self, after: Option<i64>, kinds: &[&str]) -> Subscription {
        let rx = self.tx.subscribe();
        // A fresh subscriber takes what is broadcast from now on.
        let (last, catching_up) = match after {
            Some(id) => (id, true),
            None => (0, false),
        };
        Subscription {
            pool: self.pool.clone(),
            rx,
            last,
            catching_up,
            head_at_subscribe: self.head(),
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            buffer: VecDeque::new(),
        }
    }
}

/// One subscriber's view of the spine.
#[derive(Debug)]
pub struct Subscription {
    pool: PgPool,
    rx: broadcast::Receiver<Arc<Event>>,
    last: i64,
    catching_up: bool,
    /// The spine's head when the subscription began (-1: not known yet): every later event reaches `rx`.
    head_at_subscribe: i64,
    kinds: Vec<String>,
    buffer: VecDeque<Arc<Event>>,
}

impl Subscription {
    /// The next event; `Err` when the table cannot be read (the caller may retry: nothing is skipped), `Ok(None)`
    /// when the spine has stopped.
    pub async fn next(&mut self) -> Result<Option<Arc<Event>>> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Ok(Some(event));
            }
            if self.catching_up {
                let events = read_after(&self.pool, self.last, &self.kinds, PAGE).await?;
                if events.is_empty() {
                    // An id beyond the newest event (a client's id from a database since recreated) would filter
                    // out every live event until ids caught up with it: resume from the newest as of the
                    // subscription instead, reading once more what came after it (an event committed since then
                    // is not lost between this read and the broadcast).
                    let newest = last_id(&self.pool).await?;
                    if self.last > newest {
                        self.last = match self.head_at_subscribe {
                            head if (0..=newest).contains(&head) => head,
                            _ => newest,
                        };
                        continue;
                    }
                    self.catching_up = false;
                    continue;
                }
                self.last = events.last().map_or(self.last, |e| e.id);
                self.buffer.extend(events.into_iter().map(Arc::new));
                continue;
            }
            match self.rx.recv().await {
                Ok(event) if event.id <= self.last => {}
                Ok(event) => {
                    self.last = event.id;
                    if self.kinds.is_empty() || self.kinds.contains(&event.kind) {
                        return Ok(Some(event));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    debug!(missed, "A subscriber fell behind the broadcast; catching up from the table.");
                    self.catching_up = true;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(None),
            }
        }
    }

    /// The id of the last event this subscription has passed (delivered or filtered out).
    pub fn position(&self) -> i64 {
        self.last
    }

    /// As a stream; a failure to read the table is retried after a second.
    pub fn into_stream(self) -> impl futures::Stream<Item = Arc<Event>> + Send + 'static {
        futures::stream::unfold(self, |mut sub| async move {
            loop {
                match sub.next().await {
                    Ok(Some(event)) => return Some((event, sub)),
                    Ok(None) => return None,
                    Err(e) => {
                        warn!(error = %e, "Cannot read the event spine; retrying.");
                        tokio::time::sleep(POLL).await;
                    }
                }
            }
        })
    }
}

/// The listening loop: wakes on a notification or every [`POLL`], broadcasts what the table has after the head.
async fn follow(pool: PgPool, tx: broadcast::Sender<Arc<Event>>, head: watch::Sender<i64>) {
    let mut listener: Option<PgListener> = None;
    // Listen first, then read where the spine ends: nothing committed in between is missed.
    listener = listen(&pool).await.or(listener);
    loop {
        match last_id(&pool).await {
            Ok(id) => {
                head.send_replace(id);
                break;
            }
            Err(e) => {
                warn!(error = %e, "Cannot read where the event spine ends; retrying.");
                tokio::time::sleep(POLL).await;
            }
        }
    }
    loop {
        if tx.receiver_count() == 0 && head.is_closed() {
            // Nobody holds the spine any more.
            return;
        }
        if listener.is_none() {
            listener = listen(&pool).await;
        }
        if let Some(l) = listener.as_mut() {
            match tokio::time::timeout(POLL, l.try_recv()).await {
                Ok(Ok(Some(_))) | Err(_) => {}
                Ok(Ok(None)) | Ok(Err(_)) => {
                    // The connection was lost: read the table now (what was notified meanwhile) and listen again.
                    listener = None;
                }
            }
        } else {
            tokio::time::sleep(POLL).await;
        }
        if tx.receiver_count() == 0 {
            // Nobody listens in this process (an ingest worker): follow where the spine ends without reading the
            // events, so that a subscriber arriving later gets only what comes after it.
            match last_id(&pool).await {
                Ok(id) => {
                    head.send_replace(id);
                }
                Err(e) => warn!(error = %e, "Cannot read where the event spine ends; retrying."),
            }
            continue;
        }
        loop {
            let after = *head.borrow();
            match read_after(&pool, after, &[], PAGE).await {
                Ok(events) if events.is_empty() => break,
                Ok(events) => {
                    let newest = events.last().map_or(after, |e| e.id);
                    // The head moves before the events go out: whoever learns of an event from a subscriber (an
                    // SSE client asking for a tile next) finds the head at it or beyond, so a consumer that waits for
                    // the head (the tile cache's invalidator) is never skipped.
                    head.send_replace(newest);
                    for event in events {
                        let _ = tx.send(Arc::new(event));
                    }
                }
                Err(e) => {
                    warn!(error = %e, "Cannot read the event spine; retrying.");
                    break;
                }
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(l) => l,
        Err(e) => {
            warn!(error = %e, "Cannot listen on the event spine; polling.");
            return None;
        }
    };
    match listener.listen(CHANNEL).await {
        Ok(()) => Some(listener),
        Err(e) => {
            warn!(error = %e, "Cannot listen on the event spine; polling.");
            None
        }
    }
}

/// Deletes events past `retention` every hour while the spine lives.
async fn retain(pool: PgPool, retention: Duration, spine: std::sync::Weak<Spine>) {
    loop {
        if spine.upgrade().is_none() {
            return;
        }
        let cutoff = Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(7));
        match purge_before(&pool, cutoff).await {
            Ok(0) => {}
            Ok(n) => info!(deleted = n, "Events past the retention deleted."),
            Err(e) => warn!(error = %e, "Cannot apply the event retention."),
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
