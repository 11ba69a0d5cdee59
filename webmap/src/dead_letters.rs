//! `GET /api/ingest/dead-letters` (operator): what ingest could not store, newest first.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, AppState, Caller, Role};

#[derive(Debug, Deserialize)]
pub(crate) struct DeadLetterQuery {
    kind: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// `?kind=unknown_station&before=<id>&limit=100`; the answer carries `next` (the `before` of the next page). Each
/// letter shows its topic and payload head as text (control characters and bytes that are not UTF-8 escaped as
/// `\xNN`) and the payload head exactly in `payload_base64`.
#[utoipa::path(get, path = "/api/ingest/dead-letters", tag = "sensors", security(("bearer" = [])),
    params(("kind" = Option<String>, Query, description = "Only this kind (e.g. `unknown_station`)"),
           ("before" = Option<i64>, Query, description = "Page: ids below this"),
           ("limit" = Option<i64>, Query, description = "1..1000, default 100")),
    responses((status = 200, description = "Dead letters, newest first", body = crate::schema::DeadLetterPage)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DeadLetterQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=ingest::dead_letter::MAX_LIST).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {}",
            ingest::dead_letter::MAX_LIST
        )));
    }
    if let Some(kind) = q.kind.as_deref()
        && !ingest::dead_letter::kinds().any(|k| k == kind)
    {
        let known: Vec<&str> = ingest::dead_letter::kinds().collect();
        return Err(ApiError::BadRequest(format!(
            "`kind` `{}` is not one of {}",
            kind.chars().take(64).collect::<String>().escape_debug(),
            known.join(", ")
        )));
    }
    let letters = ingest::dead_letter::list(state.pool(), q.kind.as_deref(), q.before, limit).await?;
    let next = (letters.len() as i64 == limit).then(|| letters.last().map(|l| l.id)).flatten();
    Ok(Json(json!({ "dead_letters": letters, "next": next })))
}
