//! An alert as the rest of Vedetta sees it: the payload of `alert.changed` on the live-event spine, the REST
//! representation, the webhook body and the input of CAP messages.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Level;

pub use crate::rule::SubjectKind;

/// Hydrological alerts, technical ones (a silent station) and those operators issue by hand are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Hydro,
    Technical,
    Manual,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Hydro => "hydro",
            Category::Technical => "technical",
            Category::Manual => "manual",
        }
    }
}

/// The life of an alert: `pending` (a crossing waiting for its minimum duration), `firing`, `resolved`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Firing,
    Resolved,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Firing => "firing",
            State::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        match s {
            "pending" => Some(State::Pending),
            "firing" => Some(State::Firing),
            "resolved" => Some(State::Resolved),
            _ => None,
        }
    }
}

/// One alert, at one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: i64,
    /// Counts the changes of the alert, from 1.
    pub version: i32,
    pub rule: String,
    pub subject_kind: SubjectKind,
    /// A station code or a zone code.
    pub subject: String,
    /// The alert zone the subject lies in.
    pub zone: Option<String>,
    pub category: Category,
    /// idraulico, idrogeologico, temporali, tecnico.
    pub hazard: String,
    pub state: State,
    pub level: Level,
    pub peak_level: Level,
    /// The colour before the last change (`None` for the first).
    pub previous_level: Option<Level>,
    /// The last change: opened, fired, escalated, deescalated, resolved, withdrawn, acknowledged, issued, updated.
    pub change: String,
    pub value: Option<f64>,
    pub unit: Option<String>,
    pub message: Option<String>,
    pub started_at: DateTime<Utc>,
    pub fired_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub ack_note: Option<String>,
    /// A silence covers the alert: no notification goes out for it.
    pub silenced: bool,
}

impl Alert {
    /// Its kind on the live-event spine.
    pub const EVENT: &'static str = "alert.changed";

    /// Whether the public sees it (CAP feed, public map): firing or resolved hydrological and manual alerts.
    pub fn is_public(&self) -> bool {
        self.category != Category::Technical && self.fired_at.is_some()
    }

    /// The alert as it may leave the operators' room (public API, MQTT, webhooks): who acknowledged it and their
    /// note removed; that and when it was acknowledged stay.
    pub fn redacted(mut self) -> Alert {
        self.acknowledged_by = None;
        self.ack_note = None;
        self
    }
}

/// One entry of an alert's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub version: i32,
    pub at: DateTime<Utc>,
    pub state: State,
    pub level: Level,
    pub value: Option<f64>,
    /// The change (`fired`, `escalated` …) and, for operators' actions, their note.
    pub reason: String,
    pub actor: Option<String>,
}
