//! The comune's work on a report: workflow transitions, the history, interventions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use reports::Action;
use reports::report::{InterventionInput, TransitionRequest};
use serde::Deserialize;
use utoipa::ToSchema;

use super::view::{InterventionView, ReportView, StatusName, StepView};
use super::{MAX_NOTE_CHARS, Viewer, actionable, base_url, is_public, private, text, visible};
use crate::{ApiError, AppState, Caller};

/// A workflow step.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransitionBody {
    /// Where the report goes; the allowed steps are listed when a step is refused (409).
    to: StatusName,
    /// What the reporter and the public read (the Open311 `status_notes`).
    #[schema(example = "Intervento programmato per giovedì", max_length = 4000)]
    public_note: Option<String>,
    /// For the operators only.
    #[schema(max_length = 4000)]
    private_note: Option<String>,
    /// Why the report is rejected (required for `rejected`).
    #[schema(max_length = 4000)]
    reason: Option<String>,
    /// The original report (required for `duplicate`).
    #[schema(minimum = 1)]
    duplicate_of: Option<i64>,
}

/// `POST /api/reports/{id}/transitions` (operators of the comune, civil protection, admins): moves the report
/// through the workflow, recording who, when and the notes; the reporter is told by email. An illegal step is
/// refused (409) with the allowed ones listed.
#[utoipa::path(post, path = "/api/reports/{id}/transitions", operation_id = "transition_report", tag = "reports",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Report id", minimum = 1)),
    request_body(content = TransitionBody, content_type = "application/json"),
    responses((status = 200, description = "The report after the step", body = ReportView)))]
pub(crate) async fn transition(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<TransitionBody>,
) -> Result<Json<ReportView>, ApiError> {
    let viewer = Viewer::of(Some(caller));
    let report = actionable(&state, &viewer, id, Action::Handle).await?;
    let request = TransitionRequest {
        to: body.to.into(),
        public_note: text("public_note", body.public_note, MAX_NOTE_CHARS)?,
        private_note: text("private_note", body.private_note, MAX_NOTE_CHARS)?,
        reason: text("reason", body.reason, MAX_NOTE_CHARS)?,
        duplicate_of: body.duplicate_of,
    };
    if request.to == reports::Status::Rejected && request.reason.is_none() {
        return Err(ApiError::Unprocessable("a rejection needs a `reason`".into()));
    }
    if request.to == reports::Status::Duplicate {
        match request.duplicate_of {
            None => {
                return Err(ApiError::Unprocessable("a duplicate needs `duplicate_of`, the original".into()));
            }
            Some(original) if original == id => {
                return Err(ApiError::Unprocessable("a report cannot duplicate itself".into()));
            }
            // The original must be a report the operator may see.
            Some(original) => {
                let of = visible(&state, &viewer, original).await.map_err(|_| {
                    ApiError::Unprocessable(format!("`duplicate_of`: no report has the id {original}"))
                })?;
                // A public duplicate shows its original's id to everyone and sends its supporters there: the
                // original must be public too (a hidden or unapproved report's id is not for the public).
                if is_public(&report) && !is_public(&of) {
                    return Err(ApiError::Unprocessable(format!(
                        "`duplicate_of`: report {original} is not public (hidden or awaiting approval); a public \
                         report cannot point to it"
                    )));
                }
            }
        }
    }
    let base = base_url(&state);
    let report =
        reports::report::transition_with_link(state.pool(), id, &request, &viewer.actor(), &base).await?;
    Ok(Json(ReportView::of(&base, &viewer, &report)))
}

/// `GET /api/reports/{id}/history`: the workflow steps, oldest first. The public reads the public notes; the
/// operators of the comune also who made each step and the private notes.
#[utoipa::path(get, path = "/api/reports/{id}/history", operation_id = "report_history", tag = "reports",
    security((), ("bearer" = [])),
    params(("id" = i64, Path, description = "Report id", minimum = 1)),
    responses((status = 200, description = "The steps, oldest first", body = Vec<StepView>)))]
pub(crate) async fn history(
    State(state): State<AppState>,
    caller: Option<Caller>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<StepView>>, ApiError> {
    let viewer = Viewer::of(caller);
    let report = visible(&state, &viewer, id).await?;
    let see_private = viewer.may(Action::SeePrivate, &report.public.comune);
    let steps = reports::report::history(state.pool(), id).await?;
    Ok(Json(steps.into_iter().map(|s| StepView::of(s, see_private)).collect()))
}

/// An intervention to record, or the fields of one to change (absent fields keep their value).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InterventionBody {
    /// The team sent (required for a new intervention).
    #[schema(example = "Squadra manutenzione strade 3", max_length = 200)]
    team: Option<String>,
    /// The planned day.
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-03")]
    scheduled_for: Option<String>,
    /// When the work was done (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    done_at: Option<String>,
    /// How it went.
    #[schema(example = "Buca chiusa con asfalto a freddo", max_length = 4000)]
    outcome: Option<String>,
}

impl InterventionBody {
    fn input(self) -> Result<InterventionInput, ApiError> {
        let scheduled_for = self
            .scheduled_for
            .as_deref()
            .map(|d| {
                d.parse::<NaiveDate>().ok().filter(|d| super::YEARS.contains(&d.year())).ok_or_else(|| {
                    ApiError::Unprocessable(format!("`scheduled_for` {d:?} is not a date such as 2026-12-03"))
                })
            })
            .transpose()?;
        let done_at = self
            .done_at
            .as_deref()
            .map(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| ApiError::Unprocessable(format!("`done_at` {t:?} is not an RFC 3339 time")))
            })
            .transpose()?;
        if done_at.is_some_and(|t| t > Utc::now() + chrono::Duration::minutes(5)) {
            return Err(ApiError::Unprocessable("`done_at` lies in the future".into()));
        }
        Ok(InterventionInput {
            team: text("team", self.team, 200)?,
            scheduled_for,
            done_at,
            outcome: text("outcome", self.outcome, MAX_NOTE_CHARS)?,
        })
    }
}

/// `GET /api/reports/{id}/interventions` (operators of the comune, civil protection, admins; 404 for others).
#[utoipa::path(get, path = "/api/reports/{id}/interventions", operation_id = "list_interventions", tag = "reports",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Report id", minimum = 1)),
    responses((status = 200, description = "The interventions, oldest first", body = Vec<InterventionView>)))]
pub(crate) async fn interventions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<InterventionView>>, ApiError> {
    let viewer = Viewer::of(Some(caller));
    private(&state, &viewer, id).await?;
    let list = reports::report::interventions(state.pool(), id).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

/// `POST /api/reports/{id}/interventions` (operators of the comune, civil protection, admins): records an
/// intervention (`team` required).
#[utoipa::path(post, path = "/api/reports/{id}/interventions", operation_id = "add_intervention", tag = "reports",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Report id", minimum = 1)),
    request_body(content = InterventionBody, content_type = "application/json"),
    responses((status = 201, description = "The intervention", body = InterventionView)))]
pub(crate) async fn add_intervention(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<InterventionBody>,
) -> Result<Response, ApiError> {
    let viewer = Viewer::of(Some(caller));
    actionable(&state, &viewer, id, Action::Handle).await?;
    let input = body.input()?;
    if input.team.is_none() {
        return Err(ApiError::Unprocessable("an intervention needs the `team` sent".into()));
    }
    let done = reports::report::add_intervention(state.pool(), id, &input, &viewer.actor()).await?;
    Ok((StatusCode::CREATED, Json(InterventionView::from(done))).into_response())
}

/// `PATCH /api/reports/{id}/interventions/{iid}` (operators of the comune, civil protection, admins): changes the
/// given fields of an intervention (its date, its outcome when done).
#[utoipa::path(patch, path = "/api/reports/{id}/interventions/{iid}", operation_id = "update_intervention",
    tag = "reports", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Report id", minimum = 1),
           ("iid" = i64, Path, description = "Intervention id", minimum = 1)),
    request_body(content = InterventionBody, content_type = "application/json"),
    responses((status = 200, description = "The intervention", body = InterventionView)))]
pub(crate) async fn update_intervention(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, iid)): Path<(i64, i64)>,
    Json(body): Json<InterventionBody>,
) -> Result<Json<InterventionView>, ApiError> {
    let viewer = Viewer::of(Some(caller));
    actionable(&state, &viewer, id, Action::Handle).await?;
    let input = body.input()?;
    let done = reports::report::update_intervention(state.pool(), id, iid, &input, &viewer.actor()).await?;
    Ok(Json(done.into()))
}
