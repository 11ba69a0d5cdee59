//! `GET /api/readings/stream`: "readings committed" events as server-sent events, resumable with `Last-Event-ID`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt, stream};
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;

use crate::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamQuery {
    /// Only events of this station (its code).
    station: Option<String>,
}

/// Each event is `event: readings`, `id: <run>-<n>`, `data: {"station":…,"quantity":…,"from":…,"to":…,
/// "count":…,"latest_at":…,"latest_value":…,"latest_qc":[…]}`. A client that falls too far behind is disconnected
/// and resumes from its `Last-Event-ID`.
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
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let log = state.events().clone();
    let (backlog, rx) = log.subscribe(last.as_deref());
    let live = BroadcastStream::new(rx)
        .take_while(|item| std::future::ready(item.is_ok()))
        .filter_map(|item| async { item.ok() });
    let station = q.station;
    let events = stream::iter(backlog).chain(live).filter_map(move |e| {
        let keep = station.as_deref().is_none_or(|s| s == e.event.station);
        let event = keep.then(|| {
            Event::default()
                .event("readings")
                .id(log.id(e.seq))
                .json_data(&e.event)
                .unwrap_or_else(|_| Event::default().comment("unserialisable event"))
        });
        async move { event.map(Ok) }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
