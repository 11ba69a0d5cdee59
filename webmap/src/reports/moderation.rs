//! Moderation of a report by the comune: approve, hide, unhide, redact the text, remove a photo, move to another
//! comune. Every act is logged, and the log is for the comune's operators only.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use reports::Action;
use reports::report::Moderation;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::view::ReportView;
use super::{MAX_NOTE_CHARS, Viewer, actionable, base_url, istat, private, text};
use crate::{ApiError, AppState, Caller};

/// What a moderator does.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ModerationAction {
    /// A pre-moderated report becomes public.
    Approve,
    /// Out of every public output (`reason` required).
    Hide,
    Unhide,
    /// Replaces the public description (`description` required): personal data, insults.
    Redact,
    /// Removes one photo (`position` required) from every output.
    RemovePhoto,
    /// Sends the report to another comune or body (`comune` and `note` required).
    Move,
}

/// A moderation act.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModerationBody {
    action: ModerationAction,
    /// Why it is hidden (`hide`).
    #[schema(max_length = 4000)]
    reason: Option<String>,
    /// The new description (`redact`).
    #[schema(max_length = 4000)]
    description: Option<String>,
    /// The photo to remove, 1..5 (`remove_photo`).
    #[schema(minimum = 1, maximum = 5)]
    position: Option<i16>,
    /// The ISTAT code of the comune the report goes to (`move`).
    #[schema(example = "010015")]
    comune: Option<String>,
    /// Why it moves (`move`).
    #[schema(max_length = 4000)]
    note: Option<String>,
}

impl ModerationBody {
    fn moderation(self) -> Result<Moderation, ApiError> {
        let needs = |field: &str| ApiError::Unprocessable(format!("this moderation needs `{field}`"));
        Ok(match self.action {
            ModerationAction::Approve => Moderation::Approve,
            ModerationAction::Unhide => Moderation::Unhide,
            ModerationAction::Hide => Moderation::Hide {
                reason: text("reason", self.reason, MAX_NOTE_CHARS)?.ok_or_else(|| needs("reason"))?,
            },
            ModerationAction::Redact => Moderation::Redact {
                description: text("description", self.description, MAX_NOTE_CHARS)?
                    .ok_or_else(|| needs("description"))?,
            },
            ModerationAction::RemovePhoto => match self.position {
                Some(position) if (1..=5).contains(&position) => Moderation::RemovePhoto { position },
                Some(_) => return Err(ApiError::Unprocessable("`position` must be between 1 and 5".into())),
                None => return Err(needs("position")),
            },
            ModerationAction::Move => {
                let comune = self.comune.ok_or_else(|| needs("comune"))?;
                let comune = istat("comune", &comune).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
                let note = text("note", self.note, MAX_NOTE_CHARS)?.ok_or_else(|| needs("note"))?;
                Moderation::Move { comune, note }
            }
        })
    }
}

/// `POST /api/reports/{id}/moderation` (operators of the comune, civil protection, admins): approves, hides,
/// unhides, redacts, removes a photo or moves the report to another comune; logged.
#[utoipa::path(post, path = "/api/reports/{id}/moderation", operation_id = "moderate_report", tag = "reports",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Report id", minimum = 1)),
    request_body(content = ModerationBody, content_type = "application/json"),
    responses((status = 200, description = "The report after moderation", body = ReportView)))]
pub(crate) async fn moderate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<ModerationBody>,
) -> Result<Json<ReportView>, ApiError> {
    let viewer = Viewer::of(Some(caller));
    actionable(&state, &viewer, id, Action::Moderate).await?;
    let moderation = body.moderation()?;
    let report = reports::report::moderate(state.pool(), id, &moderation, &viewer.actor()).await?;
    Ok(Json(ReportView::of(&base_url(&state), &viewer, &report)))
}

/// One logged moderation act.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LogView {
    pub(crate) at: DateTime<Utc>,
    /// `approve`, `hide`, `unhide`, `redact`, `remove_photo`, `move` or `mark_duplicate`.
    pub(crate) action: String,
    pub(crate) actor_name: Option<String>,
    /// What was done (the reason, the old text, the photo, the comuni).
    #[schema(value_type = Object)]
    pub(crate) detail: Value,
}

/// `GET /api/reports/{id}/moderation` (operators of the comune, civil protection, admins; 404 for others): the
/// moderation log, oldest first.
#[utoipa::path(get, path = "/api/reports/{id}/moderation", operation_id = "moderation_log", tag = "reports",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Report id", minimum = 1)),
    responses((status = 200, description = "The moderation log, oldest first", body = Vec<LogView>)))]
pub(crate) async fn log(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<LogView>>, ApiError> {
    let viewer = Viewer::of(Some(caller));
    private(&state, &viewer, id).await?;
    let entries = reports::report::moderation_log(state.pool(), id).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| LogView { at: e.at, action: e.action, actor_name: e.actor_name, detail: e.detail })
            .collect(),
    ))
}
