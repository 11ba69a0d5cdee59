//! `/api/alerts`: the alerts, their live stream, the operators' workflow (acknowledge, silence, manual alerts),
//! rule definitions, webhook subscriptions and alert zones.
//!
//! # Who sees and does what
//!
//! | endpoint | anyone (no token, citizen, councillor) | operator | admin |
//! |---|---|---|---|
//! | `GET /api/alerts`, `/api/alerts/{id}`, `/api/alerts/stream` | public alerts, redacted | all | all |
//! | `GET /api/alerts/zones[/{code}]` | yes | yes | yes |
//! | `POST /api/alerts/{id}/acknowledge`, silences, `POST /api/alerts/manual` | – | yes | yes |
//! | `POST /api/alerts/rules/check` | – | yes | yes |
//! | `GET /api/alerts/rules`, `PUT`/`DELETE /api/alerts/rules/{code}` | – | – | yes |
//! | `/api/alerts/webhooks…` | – | – | yes |
//!
//! A public alert is a hydrological or manual alert that fired ([`alerts::Alert::is_public`]): technical alerts
//! (silent stations) and pending crossings are for the operators. The public never sees who acknowledged an alert
//! nor the note (`acknowledged_by`, `ack_note`, the actors of the history). A request without a token is public; a
//! request with a token that is unknown is refused (401), as everywhere.

pub(crate) mod feed;
pub(crate) mod rules;
mod schema;
pub(crate) mod webhooks;
pub(crate) mod workflow;
pub(crate) mod zones;

use alerts::alert::HistoryEntry;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::{ApiError, AppState, Caller, Role};

pub(crate) use feed::{get, list, stream};
pub(crate) use rules::{check_rules, delete_rule, list_rules, put_rule};
pub(crate) use webhooks::{create_webhook, delete_webhook, list_deliveries, list_webhooks, retry_delivery};
pub(crate) use workflow::{acknowledge, create_silence, lift_silence, list_silences, manual};
pub(crate) use zones::{zone, zones};

/// Who is looking: a caller with a token or a session, or the public (nothing presented).
#[derive(Debug, Clone)]
pub(crate) struct Viewer(Option<Caller>);

impl Viewer {
    /// Whether the viewer sees every alert unredacted (operators and admins).
    pub(crate) fn is_operator(&self) -> bool {
        self.0.as_ref().is_some_and(|c| c.role.includes(Role::Operator))
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        <Caller as axum::extract::OptionalFromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(Viewer)
    }
}

/// A history entry as the public sees it: no actor, no operator's note.
fn redacted_entry(mut entry: HistoryEntry) -> HistoryEntry {
    entry.actor = None;
    if let Some((change, _note)) = entry.reason.split_once(':') {
        entry.reason = change.trim().to_string();
    }
    entry
}

/// Longest free text (notes, messages) an operator may write, in characters.
pub(crate) const MAX_TEXT_CHARS: usize = 2000;

/// An optional free-text field of a body: trimmed, empty as absent, at most [`MAX_TEXT_CHARS`], no control
/// characters but line breaks and tabs.
pub(crate) fn text_field(name: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::Unprocessable(format!("`{name}` is longer than {MAX_TEXT_CHARS} characters")));
    }
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ApiError::Unprocessable(format!("`{name}` contains control characters")));
    }
    Ok(Some(value.to_string()))
}

/// Whether `code` can be a code of a zone, station or rule (1–64 printable characters, no spaces): anything else
/// names nothing, and is refused before it reaches the database.
pub(crate) fn plausible_code(code: &str) -> bool {
    (1..=64).contains(&code.chars().count()) && !code.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Checks a `limit` (default `default`, 1..=`max`) and an `offset` (0..=[`MAX_OFFSET`]) of a query.
pub(crate) fn page(
    limit: Option<i64>,
    offset: Option<i64>,
    default: i64,
    max: i64,
) -> Result<(i64, i64), ApiError> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::BadRequest(format!("`limit` must be between 1 and {max}")));
    }
    let offset = offset.unwrap_or(0);
    if !(0..=MAX_OFFSET).contains(&offset) {
        return Err(ApiError::BadRequest(format!("`offset` must be between 0 and {MAX_OFFSET}")));
    }
    Ok((limit, offset))
}

/// The deepest `offset` of a listing; narrow it with filters (`since`, `state`, `zone`) instead.
pub(crate) const MAX_OFFSET: i64 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_sees_no_operator_names_nor_notes() {
        let entry = HistoryEntry {
            version: 3,
            at: chrono::Utc::now(),
            state: alerts::alert::State::Firing,
            level: alerts::Level::Gialla,
            value: None,
            reason: "acknowledged: squadra in arrivo".into(),
            actor: Some("sala operativa".into()),
        };
        let public = redacted_entry(entry);
        assert_eq!((public.reason.as_str(), public.actor), ("acknowledged", None));
    }

    #[test]
    fn free_text_is_trimmed_bounded_and_printable() {
        assert_eq!(text_field("note", Some("  ok \n".into())).unwrap().as_deref(), Some("ok"));
        assert_eq!(text_field("note", Some("   ".into())).unwrap(), None);
        assert!(text_field("note", Some("a\u{0}b".into())).is_err());
        assert!(text_field("note", Some("x".repeat(MAX_TEXT_CHARS + 1))).is_err());
        assert!(plausible_code("GE-BISAGNO-01") && !plausible_code("") && !plausible_code("a b"));
        assert!(page(Some(0), None, 100, 1000).is_err() && page(None, Some(-1), 100, 1000).is_err());
        assert_eq!(page(None, None, 100, 1000).unwrap(), (100, 0));
    }
}
