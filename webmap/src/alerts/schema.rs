//! The shapes of the alert endpoints' JSON answers, for the OpenAPI document (the handlers serialise the
//! `alerts` crate's types; these say what that JSON holds, and the schemathesis gate checks answers against them).

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// An alert: one (rule, station or zone) episode at its current version. The public sees neither
/// `acknowledged_by` nor `ack_note` (always null for it).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Alert {
    id: i64,
    /// Counts the changes of the alert, from 1.
    version: i32,
    /// The rule's code (`manual:<hazard>` for manual alerts).
    #[schema(example = "level")]
    rule: String,
    /// `station` or `zone`.
    subject_kind: String,
    /// The station code or zone code.
    #[schema(example = "GE-BISAGNO-01")]
    subject: String,
    /// The alert zone the subject lies in.
    zone: Option<String>,
    /// `hydro`, `technical` or `manual`.
    category: String,
    /// `idraulico`, `idrogeologico`, `temporali` or `tecnico`.
    hazard: String,
    /// `pending`, `firing` or `resolved`.
    state: String,
    /// `gialla`, `arancione` or `rossa`.
    level: String,
    /// The most severe colour the alert reached.
    peak_level: String,
    /// The colour before the last change.
    previous_level: Option<String>,
    /// The last change: `opened`, `fired`, `escalated`, `deescalated`, `resolved`, `withdrawn`, `acknowledged`, …
    change: String,
    /// The value that raised or last changed the alert.
    value: Option<f64>,
    /// Its unit (`m`, `mm`, `m/h`).
    unit: Option<String>,
    message: Option<String>,
    started_at: DateTime<Utc>,
    fired_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
    /// Who acknowledged it (operators only).
    acknowledged_by: Option<String>,
    /// Their note (operators only).
    ack_note: Option<String>,
    /// A silence covers it: no notification goes out for it.
    silenced: bool,
}

/// One change of an alert.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryEntry {
    version: i32,
    at: DateTime<Utc>,
    state: String,
    level: String,
    value: Option<f64>,
    /// The change (`fired`, `escalated` …) and, for operators, the note of an acknowledgement.
    reason: String,
    /// The operator who made the change (operators only).
    actor: Option<String>,
}

/// An alert with its history, oldest change first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AlertWithHistory {
    #[serde(flatten)]
    alert: Alert,
    history: Vec<HistoryEntry>,
}

/// A page of alerts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AlertPage {
    alerts: Vec<Alert>,
    limit: i64,
    offset: i64,
    /// The `offset` of the next page; null on the last.
    next_offset: Option<i64>,
}

/// A silence.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Silence {
    id: i64,
    /// `station`, `zone` or `rule`.
    scope_kind: String,
    scope: String,
    until: DateTime<Utc>,
    note: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    lifted_at: Option<DateTime<Utc>>,
}

/// The silences in force.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SilenceList {
    silences: Vec<Silence>,
}

/// The manual alert after the change; null when `verde` found none to end.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ManualResult {
    alert: Option<Alert>,
}

/// A rule definition (JSON format of `[[rules]]`): `code`, `name`, `kind` (`level`, `rate_of_rise`, `rain`,
/// `zone_count`, `zone_mean_rain`, `silent`), a selector (`stations`, `station_kind`, `zones`), `thresholds` or
/// the kind's fields, `for`, `qc_may_raise`, `hazard`. Unknown fields are errors.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"code": "bisagno-livello", "name": "Bisagno a Sant'Agata", "kind": "level",
    "stations": ["GE-BISAGNO-01"], "thresholds": {"yellow": 2.5, "orange": 3.2, "red": 4.0, "clear": {"yellow": 2.3}},
    "for": "10m"}))]
pub(crate) struct RuleDefinition {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    definition: Value,
}

/// A rule set to check: an object with a `rules` array (a bare array of rules is read too).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RuleSetDefinition {
    rules: Vec<RuleDefinition>,
}

/// What is wrong in a rule set, and where.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RuleProblem {
    /// Position of the rule, from 1.
    rule: Option<i64>,
    /// The rule's code, when readable.
    code: Option<String>,
    /// Path of the field (`thresholds.orange`).
    field: Option<String>,
    message: String,
    /// The whole problem in words.
    text: String,
}

/// A stored rule definition.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StoredRule {
    code: String,
    /// `api` or `config`.
    source: String,
    updated_at: DateTime<Utc>,
    updated_by: Option<String>,
    /// False when the evaluator skips the rule (see `problems`).
    valid: bool,
    problems: Vec<RuleProblem>,
    #[schema(value_type = Object)]
    definition: Value,
}

/// A built-in rule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BuiltinRule {
    code: String,
    /// Whether a stored rule of the same code replaces it.
    replaced: bool,
    #[schema(value_type = Object)]
    definition: Value,
}

/// The stored and the built-in rules.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RuleList {
    rules: Vec<StoredRule>,
    builtin: Vec<BuiltinRule>,
}

/// The verdict on a rule set.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RuleCheck {
    valid: bool,
    /// `3 rules: 1 level, 2 rain` (valid sets).
    summary: Option<String>,
    total: Option<i64>,
    /// Rules per kind (valid sets).
    #[schema(value_type = Option<Object>)]
    per_kind: Option<Value>,
    problems: Vec<RuleProblem>,
}

/// A webhook subscription.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Webhook {
    id: i64,
    name: String,
    url: String,
    /// Zone filter (empty: every zone).
    zones: Vec<String>,
    /// The least peak colour delivered.
    min_level: String,
    categories: Vec<String>,
    active: bool,
    created_at: DateTime<Utc>,
    created_by: Option<String>,
}

/// A created subscription with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedWebhook {
    #[serde(flatten)]
    webhook: Webhook,
    secret: String,
}

/// Webhook subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookList {
    webhooks: Vec<Webhook>,
    next_offset: Option<i64>,
}

/// One delivery of one alert change to one subscription.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Delivery {
    id: i64,
    subscription_id: i64,
    alert_id: i64,
    alert_version: i32,
    event_id: Option<i64>,
    /// `pending`, `delivered` or `dead`.
    state: String,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    last_status: Option<i32>,
    delivered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    /// The alert as it was at that change.
    #[schema(value_type = Object)]
    alert: Value,
}

/// A page of deliveries; `next` is the `before_id` of the next page.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryPage {
    deliveries: Vec<Delivery>,
    next: Option<i64>,
}

/// What an alert zone is, and its colour now.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ZoneProperties {
    #[schema(example = "B")]
    code: String,
    name: String,
    /// ISTAT codes of its comuni.
    comuni: Vec<String>,
    /// `geojson`, `comuni` or `demo`.
    source: String,
    updated_at: DateTime<Utc>,
    /// `verde`, `gialla`, `arancione` or `rossa`: the most severe firing public alert of the zone.
    level: String,
}

/// An alert zone as a GeoJSON Feature (`id` is its code; a MultiPolygon in WGS84 degrees).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ZoneFeature {
    /// `Feature`.
    #[serde(rename = "type")]
    kind: String,
    id: String,
    #[schema(value_type = Object)]
    geometry: Value,
    properties: ZoneProperties,
}

/// The alert zones.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ZoneCollection {
    /// `FeatureCollection`.
    #[serde(rename = "type")]
    kind: String,
    features: Vec<ZoneFeature>,
    next_offset: Option<i64>,
}
