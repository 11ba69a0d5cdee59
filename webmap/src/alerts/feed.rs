//! Reading alerts: the listing, one alert with its history, and the live stream of changes.

use std::convert::Infallible;

use alerts::Alert;
use alerts::alert::{Category, State as AlertState};
use alerts::store::{self, Filter};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use chrono::{DateTime, Utc};
use database::event::Event as SpineEvent;
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

use super::{MAX_OFFSET, Viewer, page, plausible_code, redacted_entry};
use crate::{ApiError, AppState};

/// An alert state, as a query parameter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StateParam {
    Pending,
    Firing,
    Resolved,
}

impl From<StateParam> for AlertState {
    fn from(s: StateParam) -> Self {
        match s {
            StateParam::Pending => AlertState::Pending,
            StateParam::Firing => AlertState::Firing,
            StateParam::Resolved => AlertState::Resolved,
        }
    }
}

/// An alert category, as a query parameter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CategoryParam {
    Hydro,
    Technical,
    Manual,
}

impl From<CategoryParam> for Category {
    fn from(c: CategoryParam) -> Self {
        match c {
            CategoryParam::Hydro => Category::Hydro,
            CategoryParam::Technical => Category::Technical,
            CategoryParam::Manual => Category::Manual,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only alerts in this state.
    #[param(inline)]
    state: Option<StateParam>,
    /// Only alerts of this alert zone (its code).
    #[param(example = "B")]
    zone: Option<String>,
    /// Only alerts of this category (the public sees hydro and manual alerts only).
    #[param(inline)]
    category: Option<CategoryParam>,
    /// Only alerts changed at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    since: Option<String>,
    /// Most alerts, 1..1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Alerts to skip, 0..10000 (the `next_offset` of the previous page).
    #[param(minimum = 0, maximum = 10000)]
    offset: Option<i64>,
}

/// Most alerts one page holds.
const MAX_PAGE: i64 = 1000;

/// `GET /api/alerts?state=&zone=&category=&since=&limit=&offset=`: alerts, most recently changed first. Operators
/// see every alert; the public sees the hydrological and manual alerts that fired, without who acknowledged them.
#[utoipa::path(get, path = "/api/alerts", operation_id = "list_alerts", tag = "alerts", params(ListQuery),
    security((), ("bearer" = [])),
    responses((status = 200, description = "A page of alerts, newest change first", body = super::schema::AlertPage)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = page(q.limit, q.offset, 100, MAX_PAGE)?;
    let since = q
        .since
        .as_deref()
        .map(|s| {
            DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|e| {
                ApiError::BadRequest(format!(
                    "`since` must be an RFC 3339 time such as 2026-11-22T10:00:00Z (a `+` written %2B): {e}"
                ))
            })
        })
        .transpose()?;
    if let Some(zone) = q.zone.as_deref()
        && !plausible_code(zone)
    {
        return Err(ApiError::BadRequest("`zone` must be a zone code (1–64 characters, no spaces)".into()));
    }
    let filter = Filter {
        state: q.state.map(Into::into),
        zone: q.zone,
        category: q.category.map(Into::into),
        since,
        limit,
        offset,
        public_only: false,
    };
    let alerts = if viewer.is_operator() {
        store::list(state.pool(), &filter).await?
    } else {
        public_page(state.pool(), &filter).await?.into_iter().map(Alert::redacted).collect()
    };
    let next = (alerts.len() as i64 == limit && offset + limit <= MAX_OFFSET).then_some(offset + limit);
    Ok(Json(json!({ "alerts": alerts, "limit": limit, "offset": offset, "next_offset": next })))
}

/// The page of the public alerts matching `filter`: hydrological and manual alerts that fired.
pub(crate) async fn public_page(pool: &PgPool, filter: &Filter) -> Result<Vec<Alert>, ApiError> {
    Ok(store::list(pool, &Filter { public_only: true, ..filter.clone() }).await?)
}

/// The alert `id` as `viewer` may see it: operators any, the public only public ones (others are "not found").
pub(crate) async fn visible(pool: &PgPool, viewer_is_operator: bool, id: i64) -> Result<Alert, ApiError> {
    match store::get(pool, id).await? {
        Some(alert) if viewer_is_operator => Ok(alert),
        Some(alert) if alert.is_public() => Ok(alert.redacted()),
        _ => Err(alerts::Error::AlertNotFound(id).into()),
    }
}

/// Most history entries `GET /api/alerts/{id}` returns (the newest; an alert's `version` says how many there are).
const MAX_HISTORY: i64 = 500;

/// `GET /api/alerts/{id}`: one alert with its `history` (its changes, oldest first; the newest 500 of an alert
/// changed more often than that, whose `version` then exceeds the entries given).
#[utoipa::path(get, path = "/api/alerts/{id}", operation_id = "get_alert", tag = "alerts", security((), ("bearer" = [])),
    params(("id" = i64, Path, description = "Alert id", minimum = 1)),
    responses((status = 200, description = "The alert and its history", body = super::schema::AlertWithHistory)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let operator = viewer.is_operator();
    let alert = visible(state.pool(), operator, id).await?;
    let mut history = store::recent_history(state.pool(), id, MAX_HISTORY).await?;
    if !operator {
        history = history.into_iter().map(redacted_entry).collect();
    }
    let mut body = serde_json::to_value(&alert).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["history"] = json!(history);
    Ok(Json(body))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamQuery {
    /// Only alerts of this alert zone (its code).
    #[param(example = "B")]
    zone: Option<String>,
}

/// `GET /api/alerts/stream[?zone=]`: every change of an alert as a server-sent event `event: alert`,
/// `id: <event id>`, `data: <the alert>`, in commit order. With `Last-Event-ID` the stream resumes after that
/// event, also after a restart of Vedetta (events are kept `events.retention_days`). The public gets the changes
/// of public alerts, redacted.
#[utoipa::path(get, path = "/api/alerts/stream", operation_id = "alert_stream", tag = "alerts", security((), ("bearer" = [])),
    params(StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id")),
    responses((status = 200, description = "Server-sent events, one `alert` event per change",
        content_type = "text/event-stream", body = String)))]
pub(crate) async fn stream(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let operator = viewer.is_operator();
    let zone = q.zone;
    crate::stream::events(&state, &headers, Alert::EVENT, move |e| {
        sse_event(e, operator, zone.as_deref()).into_iter().collect()
    })
}

/// The SSE event of one `alert.changed` for a viewer, if it may see it and it matches the zone.
fn sse_event(e: &SpineEvent, operator: bool, zone: Option<&str>) -> Option<Event> {
    let event = Event::default().event("alert");
    let alert = match serde_json::from_value::<Alert>(e.payload.clone()) {
        Ok(alert) => alert,
        // An alert of another version of Vedetta: operators get it as it is, the public nothing.
        Err(_) if operator && zone.is_none() => return event.json_data(&e.payload).ok(),
        Err(_) => return None,
    };
    if zone.is_some_and(|z| alert.zone.as_deref() != Some(z)) {
        return None;
    }
    if operator {
        return event.json_data(&alert).ok();
    }
    if !alert.is_public() {
        return None;
    }
    event.json_data(alert.redacted()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(category: &str, fired: bool) -> Value {
        json!({"id": 7, "version": 2, "rule": "level", "subject_kind": "station", "subject": "GE-1", "zone": "B",
               "category": category, "hazard": "idraulico", "state": "firing", "level": "gialla",
               "peak_level": "gialla", "previous_level": null, "change": "acknowledged", "value": 2.6, "unit": "m",
               "message": null, "started_at": "2026-11-22T10:00:00Z",
               "fired_at": if fired { json!("2026-11-22T10:00:00Z") } else { Value::Null },
               "resolved_at": null, "updated_at": "2026-11-22T10:05:00Z", "acknowledged_at": "2026-11-22T10:05:00Z",
               "acknowledged_by": "sala", "ack_note": "in arrivo", "silenced": false})
    }

    fn spine(payload: Value) -> SpineEvent {
        SpineEvent {
            id: 42,
            kind: Alert::EVENT.into(),
            subject: Some("7".into()),
            payload,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn the_public_stream_carries_public_alerts_redacted() {
        assert!(sse_event(&spine(alert("hydro", true)), false, None).is_some());
        assert!(sse_event(&spine(alert("technical", true)), false, None).is_none());
        assert!(sse_event(&spine(alert("hydro", false)), false, None).is_none());
        assert!(sse_event(&spine(alert("technical", true)), true, None).is_some());
        assert!(sse_event(&spine(alert("hydro", true)), true, Some("C")).is_none());
        let public: Alert = serde_json::from_value(alert("hydro", true)).unwrap();
        let public = public.redacted();
        assert_eq!((public.acknowledged_by, public.ack_note), (None, None));
        assert!(public.acknowledged_at.is_some());
    }
}
