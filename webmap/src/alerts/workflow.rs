//! The operators' workflow: acknowledging alerts, silencing stations, zones or rules for a bounded time, and
//! issuing manual alerts for a zone. Every action is logged (`alerts.action_log`) by the store.

use alerts::Level;
use alerts::store;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{plausible_code, text_field};
use crate::{ApiError, AppState, Caller, Role};

/// An acknowledgement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AckBody {
    /// What the operator says (at most 2000 characters).
    #[schema(example = "Squadra inviata sul posto", max_length = 2000)]
    note: Option<String>,
}

/// `POST /api/alerts/{id}/acknowledge` (operator): records who acknowledged the open alert, when, and their note
/// (the body is optional). An alert already acknowledged keeps its first acknowledgement (the new one is logged);
/// a resolved alert cannot be acknowledged (409).
#[utoipa::path(post, path = "/api/alerts/{id}/acknowledge", operation_id = "acknowledge_alert", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Alert id", minimum = 1)),
    request_body(content = Option<AckBody>, content_type = "application/json"),
    responses((status = 200, description = "The acknowledged alert", body = super::schema::Alert)))]
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Option<Json<AckBody>>,
) -> Result<Json<alerts::Alert>, ApiError> {
    caller.require(Role::Operator)?;
    let note = text_field("note", body.and_then(|Json(b)| b.note))?;
    Ok(Json(store::acknowledge(state.pool(), id, &caller.name, note.as_deref()).await?))
}

/// What a silence covers.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ScopeKind {
    Station,
    Zone,
    Rule,
}

impl ScopeKind {
    fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Station => "station",
            ScopeKind::Zone => "zone",
            ScopeKind::Rule => "rule",
        }
    }
}

/// A silence to set: no webhook goes out for alerts of the station, zone or rule until `until` (the alerts still
/// change, and their state still reaches the API, the streams, MQTT and CAP, marked `silenced`)
/// or for `minutes` (one of the two), at most 72 hours.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SilenceBody {
    scope_kind: ScopeKind,
    /// The station code, zone code or rule code.
    #[schema(example = "GE-BISAGNO-01", min_length = 1, max_length = 64)]
    scope: String,
    /// End of the silence (RFC 3339), in the future and at most 72 hours ahead.
    #[schema(format = DateTime)]
    until: Option<String>,
    /// Length of the silence in minutes (1..4320), instead of `until`.
    #[schema(minimum = 1, maximum = 4320)]
    minutes: Option<i64>,
    /// Why (at most 2000 characters).
    #[schema(max_length = 2000)]
    note: Option<String>,
}

/// `GET /api/alerts/silences` (operator): the silences in force, soonest end first.
#[utoipa::path(get, path = "/api/alerts/silences", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, description = "Silences in force (at most 1000)", body = super::schema::SilenceList)))]
pub(crate) async fn list_silences(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator)?;
    let silences = store::silences(state.pool()).await?;
    Ok(Json(json!({ "silences": silences })))
}

/// `POST /api/alerts/silences` (operator): sets a silence; a station or zone must exist. 422 when `until` is not
/// in the future or lies more than 72 hours ahead.
#[utoipa::path(post, path = "/api/alerts/silences", tag = "alerts", security(("bearer" = [])),
    request_body(content = SilenceBody, content_type = "application/json"),
    responses((status = 201, description = "The silence", body = super::schema::Silence)))]
pub(crate) async fn create_silence(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<SilenceBody>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let max_minutes = store::MAX_SILENCE.num_minutes();
    let until = match (body.until.as_deref(), body.minutes) {
        (Some(until), None) => DateTime::parse_from_rfc3339(until)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| ApiError::Unprocessable(format!("`until` is not an RFC 3339 time: {e}")))?,
        (None, Some(minutes)) if (1..=max_minutes).contains(&minutes) => {
            Utc::now() + chrono::Duration::minutes(minutes)
        }
        (None, Some(_)) => {
            return Err(ApiError::Unprocessable(format!(
                "`minutes` must be between 1 and {max_minutes} (a silence lasts at most {} hours)",
                store::MAX_SILENCE.num_hours()
            )));
        }
        _ => {
            return Err(ApiError::Unprocessable(
                "give either `until` (RFC 3339) or `minutes`, not both".into(),
            ));
        }
    };
    let scope = body.scope.trim();
    if !plausible_code(scope) {
        return Err(ApiError::Unprocessable(
            "`scope` must be a code of 1–64 characters without spaces".into(),
        ));
    }
    match body.scope_kind {
        ScopeKind::Station => {
            sensors::store::station(state.pool(), scope).await.map_err(|e| match e {
                sensors::Error::UnknownStation(_) => {
                    ApiError::Unprocessable(format!("no station has the code `{scope}`"))
                }
                other => other.into(),
            })?;
        }
        ScopeKind::Zone => {
            if alerts::zone::get(state.pool(), scope).await?.is_none() {
                return Err(ApiError::Unprocessable(format!("no alert zone has the code `{scope}`")));
            }
        }
        // Rules come from the configuration, the database and the built-in set: any code may be silenced.
        ScopeKind::Rule => {}
    }
    let note = text_field("note", body.note)?;
    let silence =
        store::silence(state.pool(), body.scope_kind.as_str(), scope, until, &caller.name, note.as_deref())
            .await?;
    Ok((StatusCode::CREATED, Json(silence)).into_response())
}

/// `DELETE /api/alerts/silences/{id}` (operator): lifts a silence before its end.
#[utoipa::path(delete, path = "/api/alerts/silences/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Silence id", minimum = 1)),
    responses((status = 204, description = "Lifted")))]
pub(crate) async fn lift_silence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Operator)?;
    if store::lift_silence(state.pool(), id, &caller.name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no silence in force has the id {id}")))
    }
}

/// A colour, in Italian or English.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LevelName {
    Verde,
    Gialla,
    Arancione,
    Rossa,
    Green,
    Yellow,
    Orange,
    Red,
}

impl From<LevelName> for Level {
    fn from(l: LevelName) -> Self {
        match l {
            LevelName::Verde | LevelName::Green => Level::Verde,
            LevelName::Gialla | LevelName::Yellow => Level::Gialla,
            LevelName::Arancione | LevelName::Orange => Level::Arancione,
            LevelName::Rossa | LevelName::Red => Level::Rossa,
        }
    }
}

/// The hazards of manual alerts.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ManualHazard {
    Idraulico,
    Idrogeologico,
    Temporali,
}

impl ManualHazard {
    fn as_str(self) -> &'static str {
        match self {
            ManualHazard::Idraulico => "idraulico",
            ManualHazard::Idrogeologico => "idrogeologico",
            ManualHazard::Temporali => "temporali",
        }
    }
}

/// A manual alert for a zone, e.g. the colour of the regional bulletin for zone B.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ManualBody {
    /// The alert zone's code.
    #[schema(example = "B", min_length = 1, max_length = 64)]
    zone: String,
    /// The colour; `verde` ends the zone's manual alert of this hazard.
    level: LevelName,
    hazard: ManualHazard,
    /// The text of the alert (at most 2000 characters).
    #[schema(example = "Allerta arancione per la zona B dal bollettino regionale", max_length = 2000)]
    message: Option<String>,
}

/// `POST /api/alerts/manual` (operator): issues, changes or (with `verde`) ends the manual alert of a zone for a
/// hazard; its escalations and its end are changes of one alert. `alert` is the alert after the change, or null
/// when `verde` found nothing to end.
#[utoipa::path(post, path = "/api/alerts/manual", operation_id = "manual_alert", tag = "alerts", security(("bearer" = [])),
    request_body(content = ManualBody, content_type = "application/json"),
    responses((status = 200, description = "The manual alert", body = super::schema::ManualResult)))]
pub(crate) async fn manual(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<ManualBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator)?;
    let zone = body.zone.trim();
    if !plausible_code(zone) {
        return Err(ApiError::Unprocessable(
            "`zone` must be a zone code (1–64 characters, no spaces)".into(),
        ));
    }
    let message = text_field("message", body.message)?;
    let alert = store::manual(
        state.pool(),
        zone,
        body.level.into(),
        body.hazard.as_str(),
        message.as_deref(),
        &caller.name,
    )
    .await
    .map_err(|e| match e {
        // The zone is named in the body: an unknown one makes the body wrong, not the URL.
        alerts::Error::NotFound(detail) => ApiError::Unprocessable(detail),
        other => other.into(),
    })?;
    Ok(Json(json!({ "alert": alert })))
}
