//! `/cap`: the public alerts as OASIS CAP 1.2 messages and their Atom feed (`alerts::cap` writes them; this module
//! builds each message's input from the alert, its history and its zone).
//!
//! Every published change of a public alert is one message, identified as `{identifier_prefix}.{alert id}.{version}`:
//! the first (`fired`, or an operator's manual alert) is an `Alert`, escalations and de-escalations are `Update`s,
//! the end is a `Cancel`, each with `references` to all the earlier messages of the alert. A pending crossing, an
//! acknowledgement, or a pending alert withdrawn before it fired are not messages. Technical alerts are not
//! published.
//!
//! - `GET /cap/alerts.atom`: the Atom feed of the current public alerts (firing, and ended in the last 24 hours so
//!   that readers see their `Cancel`), each entry the latest message of its alert.
//! - `GET /cap/alerts/{id}.xml[?version=N]`: the latest message of an alert, or the one of version `N`.
//!
//! The publisher (sender, identifier prefix, signing key) is the one set with [`crate::AppState::with_cap`]; without
//! it, messages are unsigned, from `vedetta@<public host>` with the prefix `<reversed public host>.vedetta`.

use std::collections::HashMap;
use std::sync::Arc;

use alerts::Alert;
use alerts::alert::{Category, State as AlertState, SubjectKind};
use alerts::cap::{
    Cap, CapChange, CapConfig, CapInput, CapStatus, CapZone, Hazard, Measurement, Origin, PreviousMessage,
    Subject,
};
use alerts::store::{self, Filter};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use sqlx::PgPool;
use utoipa::IntoParams;

use crate::{ApiError, AppState};

/// The media type of a CAP message (RFC 7303 `+xml`; the Atom feed links messages with it).
pub const CAP_XML: &str = "application/cap+xml";
/// The media type of the Atom feed.
pub const ATOM_XML: &str = "application/atom+xml";

/// Most entries of the feed.
const MAX_FEED: i64 = 500;

/// How long an ended alert stays in the feed, so that readers see its `Cancel`.
const ENDED_IN_FEED: chrono::Duration = chrono::Duration::hours(24);

/// The configured publisher, or the default one built on the public URL.
fn publisher(state: &AppState) -> Result<Arc<Cap>, ApiError> {
    if let Some(cap) = state.cap() {
        return Ok(cap.clone());
    }
    let public = state.public_url();
    let host = url::Url::parse(public)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let reversed: Vec<&str> = host.trim_matches(['[', ']']).split(['.', ':']).rev().collect();
    let config = CapConfig {
        sender: format!("vedetta@{host}"),
        sender_name: "Vedetta".into(),
        identifier_prefix: format!("{}.vedetta", reversed.join(".")),
        base_url: public.to_string(),
        web_url: None,
        status: CapStatus::Actual,
        signing: None,
    };
    Cap::new(config).map(Arc::new).map_err(ApiError::from)
}

/// Builds the CAP inputs of alerts, reading each zone and station name once per request.
struct Inputs<'a> {
    pool: &'a PgPool,
    cap: &'a Cap,
    zones: HashMap<String, Option<CapZone>>,
    stations: HashMap<String, Option<String>>,
}

impl<'a> Inputs<'a> {
    fn new(pool: &'a PgPool, cap: &'a Cap) -> Self {
        Inputs { pool, cap, zones: HashMap::new(), stations: HashMap::new() }
    }

    async fn zone(&mut self, code: &str) -> Result<Option<CapZone>, ApiError> {
        if let Some(zone) = self.zones.get(code) {
            return Ok(zone.clone());
        }
        let zone = match alerts::zone::get(self.pool, code).await? {
            Some(z) => Some(CapZone {
                rings: alerts::cap::rings_from_geojson(&z.geometry)?,
                code: z.code,
                name: z.name,
                comuni: z.comuni,
            }),
            None => None,
        };
        self.zones.insert(code.to_string(), zone.clone());
        Ok(zone)
    }

    async fn station_name(&mut self, code: &str) -> Option<String> {
        if let Some(name) = self.stations.get(code) {
            return name.clone();
        }
        let name = sensors::store::station(self.pool, code).await.ok().map(|s| s.name.clone());
        self.stations.insert(code.to_string(), name.clone());
        name
    }

    /// The published message of `version` of a public alert (the latest when `None`), with the references of every
    /// earlier one; `None` when it has no such message. Linear in the alert's history.
    async fn message_of(
        &mut self,
        alert: &Alert,
        wanted_version: Option<i64>,
    ) -> Result<Option<CapInput>, ApiError> {
        let history = store::history(self.pool, alert.id).await?;
        let zone = match alert.zone.as_deref() {
            Some(code) => self.zone(code).await?,
            None => None,
        };
        let (kind, name) = match alert.subject_kind {
            SubjectKind::Station => {
                (alerts::cap::SubjectKind::Station, self.station_name(&alert.subject).await)
            }
            SubjectKind::Zone => (alerts::cap::SubjectKind::Zone, zone.as_ref().map(|z| z.name.clone())),
        };
        let subject = Subject { kind, code: alert.subject.clone(), name };
        let hazard: Hazard = alert
            .hazard
            .parse()
            .map_err(|e: String| ApiError::Internal(format!("alert {}: {e}", alert.id)))?;
        let origin = if alert.category == Category::Manual { Origin::Manual } else { Origin::Measured };
        let config = self.cap.config();
        let mut previous: Vec<PreviousMessage> = Vec::new();
        let mut prior_level = None;
        // The wanted message: its history entry, its previous colour and how many messages came before it.
        let mut wanted = None;
        for entry in history {
            let before = prior_level.replace(entry.level);
            // Acknowledgements (`acknowledged: note`) and unknown changes are not messages.
            let Ok(change) = entry.reason.parse::<CapChange>() else { continue };
            if change == CapChange::Opened || change.msg_type(!previous.is_empty()).is_none() {
                continue;
            }
            let version = i64::from(entry.version);
            let identifier = alerts::cap::identifier(config, alert.id, version);
            let sent = entry.at;
            if wanted_version.is_none_or(|v| v == version) {
                wanted = Some((entry, before, previous.len()));
            }
            previous.push(PreviousMessage { identifier, sent });
        }
        let Some((entry, before, earlier)) = wanted else { return Ok(None) };
        previous.truncate(earlier);
        Ok(Some(CapInput {
            alert_id: alert.id,
            version: i64::from(entry.version),
            previous,
            change: entry.reason.parse::<CapChange>().map_err(|e| ApiError::Internal(e.to_string()))?,
            origin,
            level: entry.level,
            previous_level: before.filter(|l| *l != entry.level),
            hazard,
            subject,
            zone,
            measurement: entry
                .value
                .zip(alert.unit.clone())
                .filter(|(v, _)| v.is_finite())
                .map(|(value, unit)| Measurement { value, unit }),
            sent: entry.at,
            onset: alert.fired_at,
            expires: None,
            note: (origin == Origin::Manual).then(|| alert.message.clone()).flatten(),
        }))
    }
}

/// `GET /cap/alerts.atom`: the Atom feed (RFC 4287) of the current public alerts: those firing, and those ended in
/// the last 24 hours; each entry is the alert's latest CAP message, linked as `application/cap+xml`.
#[utoipa::path(get, path = "/cap/alerts.atom", operation_id = "cap_feed", tag = "cap",
    responses((status = 200, description = "The Atom feed of the current public alerts",
        content_type = "application/atom+xml", body = String)))]
pub(crate) async fn feed(State(state): State<AppState>) -> Result<Response, ApiError> {
    let cap = publisher(&state)?;
    let pool = state.pool();
    let mut current: Vec<Alert> = Vec::new();
    for category in [Category::Hydro, Category::Manual] {
        for (alert_state, since) in
            [(AlertState::Firing, None), (AlertState::Resolved, Some(Utc::now() - ENDED_IN_FEED))]
        {
            let filter = Filter {
                state: Some(alert_state),
                category: Some(category),
                since,
                limit: MAX_FEED,
                ..Filter::default()
            };
            current.extend(store::list(pool, &filter).await?.into_iter().filter(Alert::is_public));
        }
    }
    current.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
    current.truncate(MAX_FEED as usize);
    let mut inputs = Inputs::new(pool, &cap);
    let mut entries = Vec::with_capacity(current.len());
    for alert in &current {
        if let Some(latest) = inputs.message_of(alert, None).await? {
            entries.push(latest);
        }
    }
    let updated = entries.iter().map(|e| e.sent).max().unwrap_or_else(Utc::now);
    Ok(([(header::CONTENT_TYPE, ATOM_XML)], cap.atom_feed(&entries, updated)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MessageQuery {
    /// The alert version whose message to give (default: the latest message).
    #[param(minimum = 1, maximum = 2147483647)]
    version: Option<i64>,
}

/// `GET /cap/alerts/{id}.xml[?version=N]`: the CAP 1.2 message of a public alert: its latest, or the one of
/// version `N` (an earlier `Alert` or `Update`). Signed with XML-DSig when a key is configured.
#[utoipa::path(get, path = "/cap/alerts/{id}.xml", operation_id = "cap_message", tag = "cap",
    params(("id" = i64, Path, description = "Alert id", minimum = 1), MessageQuery),
    responses((status = 200, description = "The CAP 1.2 message", content_type = "application/cap+xml",
        body = String)))]
pub(crate) async fn message(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<MessageQuery>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no CAP message at /cap/alerts/{}", file.escape_debug()));
    // One URL per message: `4.xml`, not `04.xml` or `+4.xml`.
    let id: i64 = file
        .strip_suffix(".xml")
        .and_then(|id| id.parse::<i64>().ok().filter(|n| n.to_string() == id))
        .ok_or_else(not_found)?;
    if q.version.is_some_and(|v| !(1..=i64::from(i32::MAX)).contains(&v)) {
        return Err(ApiError::BadRequest(format!("`version` must be between 1 and {}", i32::MAX)));
    }
    let alert = match store::get(state.pool(), id).await? {
        Some(alert) if alert.is_public() => alert,
        _ => return Err(alerts::Error::AlertNotFound(id).into()),
    };
    let cap = publisher(&state)?;
    let input =
        Inputs::new(state.pool(), &cap).message_of(&alert, q.version).await?.ok_or_else(|| {
            match q.version {
                Some(v) => ApiError::NotFound(format!("alert {id} has no CAP message of version {v}")),
                None => ApiError::NotFound(format!("alert {id} has no CAP message yet")),
            }
        })?;
    let xml = cap.message(&input)?;
    Ok(([(header::CONTENT_TYPE, CAP_XML)], xml).into_response())
}
