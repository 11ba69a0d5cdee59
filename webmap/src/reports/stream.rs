//! `GET /api/reports/stream`: the live changes of reports as server-sent events, from the event spine.

use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use database::event::Event as SpineEvent;
use futures::Stream;
use reports::Action;
use reports::report::PublicReport;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use super::view::PublicView;
use super::{Viewer, base_url, is_istat};
use crate::{ApiError, AppState, Caller};

/// The spine's kind of a report's change.
const KIND: &str = "report.changed";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamQuery {
    /// Only changes of reports of this comune (ISTAT code).
    #[param(example = "010025")]
    comune: Option<String>,
}

/// `GET /api/reports/stream[?comune=]`: every change of a report as a server-sent event `event: report`,
/// `id: <event id>`, `data: {"change": "created"|"status"|"moderated"|"moved"|"intervention"|"supported",
/// "comune", "public", "report": <the public report>}`, in commit order. Operators see the changes of every report
/// of their comuni (hidden and unapproved ones too); everyone else sees the changes of public reports. Never any
/// reporter data. With `Last-Event-ID` the stream resumes after that event.
#[utoipa::path(get, path = "/api/reports/stream", operation_id = "report_stream", tag = "reports",
    security((), ("bearer" = [])),
    params(StreamQuery, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id")),
    responses((status = 200, description = "Server-sent events, one `report` event per change",
        content_type = "text/event-stream", body = String)))]
pub(crate) async fn stream(
    State(state): State<AppState>,
    caller: Option<Caller>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    if let Some(c) = q.comune.as_deref()
        && !is_istat(c)
    {
        return Err(ApiError::BadRequest("`comune` must be an ISTAT comune code of six digits".into()));
    }
    let viewer = Viewer::of(caller);
    let comune = q.comune;
    let base = base_url(&state);
    Ok(crate::stream::events(&state, &headers, KIND, move |e| {
        sse_event(e, &viewer, comune.as_deref(), &base).into_iter().collect()
    }))
}

/// The SSE event of one change for `viewer`, if it may see it and it is of `comune`.
fn sse_event(e: &SpineEvent, viewer: &Viewer, comune: Option<&str>, base: &str) -> Option<Event> {
    let data = visible_data(&e.payload, viewer, comune, base)?;
    Event::default().event("report").json_data(data).ok()
}

/// What of a change `viewer` may read: the public fields only (as the API shows them), for a public report or one
/// of a comune whose private data the viewer may see.
fn visible_data(payload: &Value, viewer: &Viewer, comune: Option<&str>, base: &str) -> Option<Value> {
    let of = payload["comune"].as_str()?;
    if comune.is_some_and(|c| c != of) {
        return None;
    }
    let public = payload["public"].as_bool().unwrap_or(false);
    if !public && !viewer.may(Action::SeePrivate, of) {
        return None;
    }
    let report = PublicReport::deserialize(&payload["report"]).ok()?;
    Some(json!({
        "change": payload["change"],
        "comune": of,
        "public": public,
        "report": PublicView::of(base, &report),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reports::{Access, Grant, Role};

    #[test]
    fn operators_see_their_comuni_and_the_public_sees_public_changes() {
        let report = |id: i64| {
            json!({"id": id, "comune": "010025", "comune_name": "Genova", "category": "altro",
                   "category_name": "Altro", "description": "x", "lon": 8.93, "lat": 44.4, "address": null,
                   "status": "new", "status_label": "Nuova", "reporter_type": "citizen", "people_at_risk": false,
                   "priority": 3, "supporters": 0, "duplicate_of": null, "public_note": null, "media_url": null,
                   "photos": [], "created_at": "2026-11-29T10:00:00Z", "updated_at": "2026-11-29T10:00:00Z",
                   "acknowledged_at": null, "resolved_at": null, "closed_at": null})
        };
        let hidden = json!({"change": "created", "comune": "010025", "public": false, "report": report(1)});
        let open = json!({"change": "status", "comune": "010015", "public": true, "report": report(2),
                          "reporter_email": "never@example.org"});
        let public = Viewer::default();
        let genova = Viewer {
            access: Access::new(vec![Grant::new(Role::Operator, Some("010025"))]),
            ..Viewer::default()
        };
        assert!(visible_data(&hidden, &public, None, "").is_none());
        assert!(visible_data(&hidden, &genova, None, "").is_some());
        assert!(visible_data(&hidden, &genova, Some("010015"), "").is_none());
        let shown = visible_data(&open, &public, None, "").unwrap();
        assert_eq!(shown["report"]["id"], 2);
        assert!(!shown.to_string().contains("never@example.org"), "only the known fields pass");
    }
}
