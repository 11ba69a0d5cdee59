//! Webhook subscriptions and their deliveries (admin). What a receiver gets is described in `alerts::webhook`.

use alerts::webhook::{self, DeliveryQuery, DeliveryState, NewSubscription};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::page;
use super::workflow::LevelName;
use crate::{ApiError, AppState, Caller, Role};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// Most subscriptions, 1..1000 (default 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Subscriptions to skip (by id), 0..10000.
    #[param(minimum = 0, maximum = 10000)]
    offset: Option<i64>,
}

/// `GET /api/alerts/webhooks` (admin): the subscriptions by id (their secrets are never shown again).
#[utoipa::path(get, path = "/api/alerts/webhooks", tag = "alerts", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "Subscriptions", body = super::schema::WebhookList)))]
pub(crate) async fn list_webhooks(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let (limit, offset) = page(q.limit, q.offset, 1000, 1000)?;
    // One more than the page tells whether another follows.
    let mut webhooks = webhook::list_subscriptions_page(state.pool(), limit + 1, offset).await?;
    let next = (webhooks.len() as i64 > limit).then_some(offset + limit);
    webhooks.truncate(limit as usize);
    Ok(Json(json!({ "webhooks": webhooks, "next_offset": next })))
}

/// A subscription to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookBody {
    /// A unique name (1–100 characters).
    #[schema(example = "sala operativa", min_length = 1, max_length = 100)]
    name: String,
    /// Where to POST: an absolute http(s) URL without credentials or fragment.
    #[schema(example = "https://hooks.example.org/vedetta", max_length = 2048)]
    url: String,
    /// The signing secret (16–256 characters); generated (and returned this once) when absent.
    #[schema(min_length = 16, max_length = 256)]
    secret: Option<String>,
    /// Alert zone codes to deliver; absent or empty: every zone.
    #[serde(default)]
    zones: Vec<String>,
    /// The least colour an alert must have reached (default gialla).
    min_level: Option<LevelName>,
    /// Categories to deliver (`hydro`, `technical`, `manual`); default hydro and manual.
    categories: Option<Vec<String>>,
    /// Whether deliveries are made (default true).
    active: Option<bool>,
}

/// `POST /api/alerts/webhooks` (admin): creates a subscription; the answer carries its `secret`, shown this once.
/// 422 names the invalid field; 409 when the name is taken.
#[utoipa::path(post, path = "/api/alerts/webhooks", tag = "alerts", security(("bearer" = [])),
    request_body(content = WebhookBody, content_type = "application/json"),
    responses((status = 201, description = "Created, with its secret", body = super::schema::CreatedWebhook)))]
pub(crate) async fn create_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<WebhookBody>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let mut new = NewSubscription::new(body.name, body.url);
    new.secret = body.secret;
    new.zones = body.zones;
    if let Some(level) = body.min_level {
        new.min_level = level.into();
    }
    if let Some(categories) = body.categories {
        new.categories = categories;
    }
    if let Some(active) = body.active {
        new.active = active;
    }
    let created = webhook::create_subscription(state.pool(), &new, Some(&caller.name)).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `DELETE /api/alerts/webhooks/{id}` (admin): deletes a subscription with its deliveries.
#[utoipa::path(delete, path = "/api/alerts/webhooks/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Subscription id", minimum = 1)),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    if webhook::delete_subscription(state.pool(), id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no webhook subscription has the id {id}")))
    }
}

/// A delivery state, as a query parameter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DeliveryStateParam {
    Pending,
    Delivered,
    Dead,
}

impl From<DeliveryStateParam> for DeliveryState {
    fn from(s: DeliveryStateParam) -> Self {
        match s {
            DeliveryStateParam::Pending => DeliveryState::Pending,
            DeliveryStateParam::Delivered => DeliveryState::Delivered,
            DeliveryStateParam::Dead => DeliveryState::Dead,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveriesQuery {
    /// Only deliveries in this state (`dead`: the dead-letter list).
    #[param(inline)]
    state: Option<DeliveryStateParam>,
    /// Only deliveries of this subscription.
    subscription_id: Option<i64>,
    /// Only deliveries of this alert.
    alert_id: Option<i64>,
    /// Page: ids below this one (the `next` of the previous page).
    before_id: Option<i64>,
    /// Most deliveries, 1..1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// `GET /api/alerts/webhooks/deliveries?state=&subscription_id=&alert_id=&before_id=&limit=` (admin): deliveries,
/// newest first; `next` is the `before_id` of the next page.
#[utoipa::path(get, path = "/api/alerts/webhooks/deliveries", tag = "alerts", security(("bearer" = [])),
    params(DeliveriesQuery),
    responses((status = 200, description = "Deliveries, newest first", body = super::schema::DeliveryPage)))]
pub(crate) async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let (limit, _) = page(q.limit, None, 100, 1000)?;
    let query = DeliveryQuery {
        state: q.state.map(Into::into),
        subscription_id: q.subscription_id,
        alert_id: q.alert_id,
        before_id: q.before_id,
        limit: Some(limit),
    };
    let deliveries = webhook::list_deliveries(state.pool(), &query).await?;
    let next = (deliveries.len() as i64 == limit).then(|| deliveries.last().map(|d| d.id)).flatten();
    Ok(Json(json!({ "deliveries": deliveries, "next": next })))
}

/// `POST /api/alerts/webhooks/deliveries/{id}/retry` (admin): puts a dead delivery back in the queue, due now,
/// with a fresh count of attempts; 409 when it is not dead.
#[utoipa::path(post, path = "/api/alerts/webhooks/deliveries/{id}/retry", tag = "alerts",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Delivery id", minimum = 1)),
    responses((status = 200, description = "The delivery, pending again", body = super::schema::Delivery)))]
pub(crate) async fn retry_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<webhook::Delivery>, ApiError> {
    caller.require(Role::Admin)?;
    webhook::retry_delivery(state.pool(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no webhook delivery has the id {id}")))
}
