//! Server-sent events from the live-event spine (`database::event`), resumable with `Last-Event-ID` across restarts
//! of Vedetta and whichever process committed the event.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use database::event::Event as SpineEvent;
use futures::{Stream, StreamExt, stream};
use sensors::event::ReadingsCommitted;
use serde::Deserialize;

use crate::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamQuery {
    /// Only events of this station (its code).
    station: Option<String>,
}

/// Each event is `event: readings`, `data: {"station":…,"quantity":…,"from":…,"to":…,"count":…,"latest_at":…,
/// "latest_value":…,"latest_qc":[…]}`: the readings of one station that one ingest batch committed, in commit
/// order; the last event of each batch carries `id: <event id>`. With `Last-Event-ID` the stream resumes after that event (events are kept for
/// `events.retention_days`), also after a restart of Vedetta.
#[utoipa::path(get, path = "/api/readings/stream", tag = "sensors",
    params(StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id")),
    responses((status = 200, description = "Server-sent events, one `readings` event per committed batch",
        content_type = "text/event-stream", body = String)))]
pub(crate) async fn readings(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let station = q.station;
    events(&state, &headers, ReadingsCommitted::KIND, move |e| {
        // One spine event per ingest batch, one SSE event per station and quantity in it. The elements are sent as
        // they are (no copy into a struct and back for every client of every batch).
        let elements = match &e.payload {
            serde_json::Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        elements
            .into_iter()
            .filter(|r| station.as_deref().is_none_or(|s| r["station"].as_str() == Some(s)))
            .filter_map(|r| Event::default().event("readings").json_data(r).ok())
            .collect()
    })
}

/// The events of `kind` after the request's `Last-Event-ID`, each as the SSE events `to_sse` makes of it (none: not
/// for this client). The last SSE event of a spine event carries its id, so that a client resuming with it does not
/// miss the others (a client cut off in the middle of them gets them all again).
pub(crate) fn events<F>(
    state: &AppState,
    headers: &HeaderMap,
    kind: &str,
    to_sse: F,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<F>>
where
    F: Fn(&SpineEvent) -> Vec<Event> + Send + 'static,
{
    let after = last_event_id(headers);
    let subscription = state.spine().subscribe(after, &[kind]);
    let events = subscription.into_stream().flat_map(move |e: Arc<SpineEvent>| {
        let mut sse = to_sse(&e);
        if let Some(last) = sse.pop() {
            sse.push(last.id(e.id.to_string()));
        }
        stream::iter(sse.into_iter().map(Ok))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// The `Last-Event-ID` header as an event id; anything else (absent, or an id of an older Vedetta) starts from now.
fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers.get("last-event-id")?.to_str().ok()?.trim().parse::<i64>().ok().filter(|id| *id >= 0)
}
