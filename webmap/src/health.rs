//! `GET /healthz`: is every part of Vedetta working?

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sqlx::PgPool;

use crate::AppState;

/// A part of the platform that `/healthz` reports on.
#[derive(Clone)]
pub enum Check {
    /// The database answers `select 1` within two seconds.
    Database(PgPool),
    /// A component that knows its own state (the MQTT ingest loop, say).
    Component { name: &'static str, state: Arc<dyn Fn() -> Result<(), String> + Send + Sync> },
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Database(_) => f.write_str("Check::Database"),
            Check::Component { name, .. } => write!(f, "Check::Component({name})"),
        }
    }
}

impl Check {
    /// A component check from a closure returning the component's state.
    pub fn component(
        name: &'static str,
        state: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        Check::Component { name, state: Arc::new(state) }
    }

    fn name(&self) -> &'static str {
        match self {
            Check::Database(_) => "database",
            Check::Component { name, .. } => name,
        }
    }

    /// What `/healthz` says publicly when this part is down: short and fixed. The detail (a driver error, an
    /// address) goes to the log only.
    fn public_reason(&self, detail: &str) -> &'static str {
        match self {
            Check::Database(_) if detail.starts_with("no answer") => "the database does not answer in time",
            Check::Database(_) => "the database cannot be reached",
            Check::Component { name: "mqtt", .. } => "not connected to the MQTT broker",
            Check::Component { name: "ingest", .. } => "readings cannot be stored",
            Check::Component { .. } => "this part is not working",
        }
    }

    async fn run(&self) -> Result<(), String> {
        match self {
            Check::Database(pool) => database::ping(pool, Duration::from_secs(2)).await,
            Check::Component { state, .. } => state(),
        }
    }
}

/// The answer of `/healthz`: `"ok"` or `"down"` per part, a short public reason for each part that is down
/// (the details are logged, never published).
#[derive(Debug, Serialize)]
pub struct HealthReport {
    pub status: &'static str,
    #[serde(flatten)]
    pub parts: BTreeMap<&'static str, &'static str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<&'static str, String>,
    pub version: &'static str,
}

impl HealthReport {
    /// Runs every check concurrently.
    pub async fn collect(checks: &[Check]) -> Self {
        let results =
            futures::future::join_all(checks.iter().map(|c| async move { (c, c.run().await) })).await;
        let mut parts = BTreeMap::new();
        let mut errors = BTreeMap::new();
        for (check, result) in results {
            let name = check.name();
            match result {
                Ok(()) => {
                    parts.insert(name, "ok");
                }
                Err(detail) => {
                    tracing::warn!(part = name, detail = %detail, "Health check failed.");
                    parts.insert(name, "down");
                    errors.insert(name, check.public_reason(&detail).to_string());
                }
            }
        }
        let status = if errors.is_empty() { "ok" } else { "degraded" };
        HealthReport { status, parts, errors, version: env!("CARGO_PKG_VERSION") }
    }
}

/// `GET /healthz`: every part of Vedetta and whether it works.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses(
        (status = 200, description = "Every part works", body = HealthSchema),
        (status = 503, description = "A part is down; `errors` says which and why, in short", body = HealthSchema),
    ))]
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    let report = HealthReport::collect(state.checks()).await;
    let code = if report.errors.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(report)).into_response()
}

/// The shape of `/healthz` (for the OpenAPI document).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct HealthSchema {
    /// `ok` or `degraded`.
    status: String,
    /// Vedetta's version.
    version: String,
    /// `ok` or `down`.
    database: String,
    /// `ok` or `down` (only where ingest runs).
    mqtt: Option<String>,
    /// `ok` or `down` (only where ingest runs).
    ingest: Option<String>,
    /// A short reason per part that is down.
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    errors: Option<BTreeMap<String, String>>,
}
