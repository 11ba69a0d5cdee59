//! "Readings committed" events: one in-process log that every consumer (alert engine, live map, tile invalidation,
//! the SSE stream) subscribes to.
//!
//! Events are numbered; the log keeps the newest ones so that a subscriber that reconnects with the id of the last
//! event it saw (SSE `Last-Event-ID`) gets what it missed. Ids carry the start time of the process, so an id from an
//! earlier run is recognised as such and the whole retained log is replayed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::Quantity;
use crate::qc::Flags;

/// The readings of one station and quantity that one batch committed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadingsCommitted {
    pub station: String,
    pub station_id: i64,
    pub quantity: Quantity,
    /// Earliest and latest observation time among the new readings (late readings included).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// How many new readings (duplicates are not counted).
    pub count: u32,
    /// The newest of the new readings.
    pub latest_at: DateTime<Utc>,
    pub latest_value: f64,
    pub latest_qc: Flags,
}

/// An event with its number in the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sequenced<T> {
    pub seq: u64,
    pub event: T,
}

/// What a subscriber gets: the events it missed, then the live receiver.
pub type Subscription<T> = (Vec<Arc<Sequenced<T>>>, broadcast::Receiver<Arc<Sequenced<T>>>);

/// The log: a bounded history plus a broadcast to live subscribers.
#[derive(Debug)]
pub struct EventLog<T> {
    epoch: i64,
    capacity: usize,
    inner: Mutex<Inner<T>>,
    tx: broadcast::Sender<Arc<Sequenced<T>>>,
}

#[derive(Debug)]
struct Inner<T> {
    next: u64,
    history: VecDeque<Arc<Sequenced<T>>>,
}

impl<T: Clone + Send + Sync + 'static> EventLog<T> {
    /// A log that keeps the newest `capacity` events.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        EventLog {
            epoch: Utc::now().timestamp_millis(),
            capacity,
            inner: Mutex::new(Inner { next: 1, history: VecDeque::with_capacity(capacity) }),
            tx,
        }
    }

    /// Appends events and wakes the subscribers.
    pub fn publish(&self, events: impl IntoIterator<Item = T>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for event in events {
            let item = Arc::new(Sequenced { seq: inner.next, event });
            inner.next += 1;
            if inner.history.len() == self.capacity {
                inner.history.pop_front();
            }
            inner.history.push_back(item.clone());
            // No receiver is not an error: nobody listens right now.
            let _ = self.tx.send(item);
        }
    }

    /// Subscribes: the retained events after `last_id` (all retained ones when `None` or from another run), then
    /// the live receiver, with neither gap nor duplicate between the two.
    pub fn subscribe(&self, last_id: Option<&str>) -> Subscription<T> {
        let after = last_id.and_then(|id| self.parse_id(id));
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.tx.subscribe();
        let backlog = match (after, last_id) {
            (Some(seq), _) => inner.history.iter().filter(|e| e.seq > seq).cloned().collect(),
            // A fresh subscriber starts from now.
            (None, None) => Vec::new(),
            // An id from another run: everything retained is news.
            (None, Some(_)) => inner.history.iter().cloned().collect(),
        };
        (backlog, rx)
    }

    /// The public id of an event (`<epoch>-<seq>`).
    pub fn id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.epoch)
    }

    fn parse_id(&self, id: &str) -> Option<u64> {
        let (epoch, seq) = id.split_once('-')?;
        (epoch.parse::<i64>().ok()? == self.epoch).then_some(())?;
        seq.parse().ok()
    }
}

impl<T: Clone + Send + Sync + 'static> Default for EventLog<T> {
    /// A log that keeps the newest 10,000 events.
    fn default() -> Self {
        EventLog::new(10_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscriber_resumes_after_the_last_event_it_saw() {
        let log = EventLog::<u32>::new(100);
        log.publish([10, 20, 30]);
        let (backlog, _) = log.subscribe(None);
        assert!(backlog.is_empty(), "a fresh subscriber starts from now");
        let (backlog, mut rx) = log.subscribe(Some(&log.id(1)));
        assert_eq!(backlog.iter().map(|e| e.event).collect::<Vec<_>>(), [20, 30]);
        log.publish([40]);
        assert_eq!(rx.try_recv().unwrap().event, 40);
        let (backlog, _) = log.subscribe(Some("1-2"));
        assert_eq!(backlog.len(), 4, "an id from another run replays what is retained");
    }

    #[test]
    fn the_log_keeps_only_its_capacity() {
        let log = EventLog::<u32>::new(2);
        log.publish([1, 2, 3]);
        let (backlog, _) = log.subscribe(Some("0-0"));
        assert_eq!(backlog.iter().map(|e| e.event).collect::<Vec<_>>(), [2, 3]);
    }
}
