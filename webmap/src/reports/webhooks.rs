//! The comuni's webhooks (maintenance systems): every public change of a comune's reports, signed. Admin only.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use reports::Action;
use reports::webhook::{self, NewWebhook, Webhook};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{Viewer, istat};
use crate::{ApiError, AppState, Caller};

/// A receiver of a comune's report changes (the secret is never shown again after creation).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookView {
    id: i64,
    /// ISTAT code of the comune whose reports it receives.
    #[schema(example = "010025")]
    comune: String,
    #[schema(example = "https://manutenzione.comune.genova.invalid/vedetta")]
    url: String,
    active: bool,
    created_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        WebhookView { id: w.id, comune: w.comune, url: w.url, active: w.active, created_at: w.created_at }
    }
}

/// A new webhook: where, for which comune, and optionally its secret (generated when absent).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookBody {
    #[schema(example = "010025")]
    comune: String,
    #[schema(example = "https://manutenzione.comune.genova.invalid/vedetta", max_length = 2048)]
    url: String,
    /// 16–200 characters; 64 hex digits are generated when absent.
    #[schema(min_length = 16, max_length = 200)]
    secret: Option<String>,
}

/// The webhook and its secret, shown this once (deliveries are signed with it: `X-Vedetta-Signature`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedView {
    webhook: WebhookView,
    secret: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WebhooksQuery {
    /// Only the webhooks of this comune (ISTAT code).
    #[param(example = "010025")]
    comune: Option<String>,
}

fn admin(caller: Caller) -> Result<(), ApiError> {
    // Configure is granted on every comune or none: any comune code asks the same question.
    if Viewer::of(Some(caller)).may(Action::Configure, "000000") {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only an admin may manage the comuni's webhooks".into()))
    }
}

/// `GET /api/reports/webhooks` (admin): the comuni's webhooks.
#[utoipa::path(get, path = "/api/reports/webhooks", operation_id = "list_report_webhooks", tag = "reports",
    security(("bearer" = [])), params(WebhooksQuery),
    responses((status = 200, description = "The webhooks", body = Vec<WebhookView>)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<WebhooksQuery>,
) -> Result<Json<Vec<WebhookView>>, ApiError> {
    admin(caller)?;
    let comune = q.comune.as_deref().map(|c| istat("comune", c)).transpose()?;
    let list = webhook::list(state.pool(), comune.as_deref()).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

/// `POST /api/reports/webhooks` (admin): a new webhook; its secret is in the answer and never again.
#[utoipa::path(post, path = "/api/reports/webhooks", operation_id = "create_report_webhook", tag = "reports",
    security(("bearer" = [])), request_body(content = WebhookBody, content_type = "application/json"),
    responses((status = 201, description = "The webhook with its secret", body = CreatedView)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<WebhookBody>,
) -> Result<(StatusCode, Json<CreatedView>), ApiError> {
    admin(caller)?;
    let comune = istat("comune", &body.comune)?;
    let new = NewWebhook { comune, url: body.url, secret: body.secret };
    let created = webhook::create(state.pool(), &new).await?;
    Ok((StatusCode::CREATED, Json(CreatedView { webhook: created.webhook.into(), secret: created.secret })))
}

/// `DELETE /api/reports/webhooks/{id}` (admin).
#[utoipa::path(delete, path = "/api/reports/webhooks/{id}", operation_id = "delete_report_webhook",
    tag = "reports", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Webhook id", minimum = 1)),
    responses((status = 204, description = "Deleted, with its deliveries")))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    admin(caller)?;
    webhook::delete(state.pool(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One delivery of a change to a webhook.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    id: i64,
    event_id: i64,
    /// `pending`, `delivered` or `dead`.
    #[schema(example = "delivered")]
    state: String,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    last_status: Option<i32>,
    last_error: Option<String>,
    delivered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    /// What was delivered: `{change, comune, report, public}` (public fields only).
    #[schema(value_type = Object)]
    payload: Value,
}

/// `GET /api/reports/webhooks/{id}/deliveries` (admin): the newest 100 deliveries of a webhook.
#[utoipa::path(get, path = "/api/reports/webhooks/{id}/deliveries", operation_id = "report_webhook_deliveries",
    tag = "reports", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Webhook id", minimum = 1)),
    responses((status = 200, description = "Deliveries, newest first", body = Vec<DeliveryView>)))]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    admin(caller)?;
    if webhook::get(state.pool(), id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no webhook has the id {id}")));
    }
    let list = webhook::deliveries(state.pool(), id, 100).await?;
    Ok(Json(
        list.into_iter()
            .map(|d| DeliveryView {
                id: d.id,
                event_id: d.event_id,
                state: d.state,
                attempts: d.attempts,
                next_attempt_at: d.next_attempt_at,
                last_status: d.last_status,
                last_error: d.last_error,
                delivered_at: d.delivered_at,
                created_at: d.created_at,
                payload: d.payload,
            })
            .collect(),
    ))
}
