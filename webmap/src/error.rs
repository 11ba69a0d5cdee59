//! The one error contract of the HTTP face: RFC 9457 Problem Details (`application/problem+json`).
//!
//! Handlers return [`ApiError`]; the status of each kind is decided in [`ApiError::status`] only. Responses that do
//! not come from a handler (axum's extractor rejections, 405, the body limit's 413, the timeout's 503, a panic) are
//! rewritten into the same shape by [`problem_layer`], so a client never sees text/plain or an empty error body.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every error an HTTP handler returns. The mapping to HTTP status lives in [`ApiError::status`] only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed (bad query parameter, unparsable body).
    #[error("{0}")]
    BadRequest(String),
    /// No valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials without the needed role.
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (duplicate key, …).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// Well-formed but semantically invalid input.
    #[error("{0}")]
    Unprocessable(String),
    /// Too many requests of this kind from this caller; retry after `retry_after_s` seconds (Retry-After header).
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after_s: u64 },
    /// A dependency (database, broker) is down, or the request took too long; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: logged with its cause, answered as a bare 500.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An RFC 9457 problem: what every error response of Vedetta carries.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` when the status says it all).
    #[serde(rename = "type")]
    #[schema(example = "https://vedetta.invalid/problems/bad_request")]
    pub kind: String,
    /// A short, human-readable summary of the kind of problem.
    #[schema(example = "Bad Request")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 400)]
    pub status: u16,
    /// What was wrong with this request, in words a client can act on.
    #[schema(example = "`lat` must be within ±90 and `lon` within ±180")]
    pub detail: String,
    /// The machine-readable kind, stable across releases (`bad_request`, `not_found`, …).
    #[schema(example = "bad_request")]
    pub code: String,
}

impl Problem {
    /// The problem for `status` with `detail`.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("https://vedetta.invalid/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_string(),
        }
    }

    pub(crate) fn into_response_with(self, status: StatusCode) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"vedetta\""));
        }
        response
    }
}

impl ApiError {
    /// The HTTP status of each kind of error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The stable machine-readable code of a status.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_ACCEPTABLE => "not_acceptable",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::GATEWAY_TIMEOUT => "timeout",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}

/// What PostgreSQL says about a statement, by SQLSTATE: bad input that reached the database is the client's
/// problem (400/422), a cancelled statement is a timeout (503), the rest is Vedetta's (500).
fn from_database(e: &sqlx::Error) -> ApiError {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
            tracing::warn!(error = %e, "Database unavailable.");
            ApiError::Unavailable("the database is unavailable, retry later".into())
        }
        sqlx::Error::RowNotFound => ApiError::NotFound("not found".into()),
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // query_canceled: statement_timeout or a cancel on shutdown.
            Some("57014") => {
                tracing::warn!(error = %e, "A statement ran past its time limit.");
                ApiError::Unavailable("the request took too long and was stopped; narrow it and retry".into())
            }
            Some("23505") => ApiError::Conflict("it exists already".into()),
            Some("23503") => ApiError::Conflict("it refers to something that does not exist".into()),
            // Class 22, data exception: a value the database cannot hold or compute with (NUL in text, out of
            // range, division by zero, an invalid literal). Validation should have caught it; never a 500.
            Some(code) if code.starts_with("22") => {
                tracing::warn!(error = %e, "Input rejected by the database.");
                ApiError::BadRequest(format!("a value in the request is out of range or malformed ({code})"))
            }
            Some(code) if code.starts_with("08") || code.starts_with("57P") || code == "53300" => {
                tracing::warn!(error = %e, "Database unavailable.");
                ApiError::Unavailable("the database is unavailable, retry later".into())
            }
            _ => ApiError::Internal(e.to_string()),
        },
        _ => ApiError::Internal(e.to_string()),
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        from_database(&e)
    }
}

impl From<geodata::Error> for ApiError {
    fn from(e: geodata::Error) -> Self {
        match e {
            geodata::Error::InvalidInput { .. } => ApiError::BadRequest(e.to_string()),
            geodata::Error::Import(_)
            | geodata::Error::Crs { .. }
            | geodata::Error::InvalidGeometry { .. }
            | geodata::Error::TooLarge { .. } => ApiError::Unprocessable(e.to_string()),
            geodata::Error::Timeout { .. } => {
                tracing::warn!(error = %e, "A territorial query ran past its time limit.");
                ApiError::Unavailable(format!("{e}; simplify or narrow it, or retry later"))
            }
            geodata::Error::Database(db) => db.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<sensors::Error> for ApiError {
    fn from(e: sensors::Error) -> Self {
        match e {
            sensors::Error::InvalidStation { .. } => ApiError::Unprocessable(e.to_string()),
            sensors::Error::UnknownStation(_) => ApiError::NotFound(e.to_string()),
            sensors::Error::DuplicateStation { .. } => ApiError::Conflict(e.to_string()),
            sensors::Error::UnknownQuantity(_) | sensors::Error::InvalidQuery(_) => {
                ApiError::BadRequest(e.to_string())
            }
            sensors::Error::Database(db) => db.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<alerts::Error> for ApiError {
    fn from(e: alerts::Error) -> Self {
        use alerts::Error as E;
        match e {
            E::AlertNotFound(_) | E::NotFound(_) => ApiError::NotFound(e.to_string()),
            E::Conflict(_) | E::WebhookNameTaken { .. } | E::WebhookNotDead { .. } => {
                ApiError::Conflict(e.to_string())
            }
            // Fields of request bodies (silences, manual alerts, rules, subscriptions): well-formed, invalid.
            E::InvalidInput(_)
            | E::InvalidRules { .. }
            | E::WebhookInvalid { .. }
            | E::UnknownLevel(_)
            | E::InvalidZones { .. }
            | E::ZoneCollection(_) => ApiError::Unprocessable(e.to_string()),
            E::ZonePoint { .. } => ApiError::BadRequest(e.to_string()),
            E::Database(db) => db.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(cause = %cause, "Request failed.");
                "internal error; the cause is in Vedetta's log".to_string()
            }
            other => other.to_string(),
        };
        let mut response = Problem::new(status, code_of(status), detail).into_response_with(status);
        response.extensions_mut().insert(IsProblem);
        if let ApiError::TooManyRequests { retry_after_s, .. } = &self
            && let Ok(value) = HeaderValue::from_str(&retry_after_s.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Marks an error response whose body a standard defines (Open311's `<errors>`): [`problem_layer`] leaves it as
/// it is instead of rewriting it into a problem.
pub(crate) fn keep_error_body(response: &mut Response) {
    response.extensions_mut().insert(IsProblem);
}

impl From<::reports::Error> for ApiError {
    fn from(e: ::reports::Error) -> Self {
        use ::reports::Error as E;
        match e {
            E::Transition { .. } => ApiError::Conflict(e.to_string()),
            E::Invalid(_) => ApiError::Unprocessable(e.to_string()),
            // ---- section: reports-domain ----
            E::NotFound { .. } | E::InterventionNotFound { .. } => ApiError::NotFound(e.to_string()),
            E::OutsideTerritory { .. }
            | E::UnknownCategory { .. }
            | E::UnknownComune { .. }
            | E::Jurisdiction { .. } => ApiError::Unprocessable(e.to_string()),
            E::Database(db) => db.into(),
            // ---- end section: reports-domain ----
            // ---- section: reports-media ----
            E::PhotoTooLarge { .. } => ApiError::TooLarge(e.to_string()),
            E::PhotoType { .. }
            | E::PhotoNotImage { .. }
            | E::PhotoMismatch { .. }
            | E::PhotoDecode { .. }
            | E::PhotoDimensions { .. }
            | E::MailAddress { .. }
            | E::WebhookInvalid { .. } => ApiError::Unprocessable(e.to_string()),
            E::PhotoId { .. } => ApiError::BadRequest(e.to_string()),
            E::WebhookNotFound { .. } => ApiError::NotFound(e.to_string()),
            // PhotoEncode, PhotoStore, MailSetup, WebhookSetup: Vedetta's own failures (500, cause logged).
            // ---- end section: reports-media ----
            #[allow(unreachable_patterns)]
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Marks a response that already carries a problem body.
#[derive(Debug, Clone, Copy)]
struct IsProblem;

/// The largest non-problem error body that is kept as the problem's detail.
const MAX_DETAIL: usize = 2048;

/// Rewrites every error response without a JSON body (extractor rejections, 405, 413, the timeout's 503, empty
/// bodies) into a problem, keeping the text of the original body as the detail.
pub(crate) async fn problem_layer(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<IsProblem>().is_some()
    {
        return response;
    }
    // A JSON body is the handler's own answer (a problem, or a document such as /healthz's 503): kept as it is.
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.contains("+json"));
    if is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_DETAIL * 8).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let detail = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        // Never pass internal text along.
        "internal error; the cause is in Vedetta's log".to_string()
    } else if !text.is_empty() && !text.starts_with('{') {
        text.chars().take(MAX_DETAIL).collect()
    } else {
        default_detail(status, &method).to_string()
    };
    let mut rewritten = Problem::new(status, code_of(status), detail).into_response_with(status);
    // Keep the headers that matter to the client (Allow on 405, Retry-After, CORS, …).
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}

fn default_detail(status: StatusCode, method: &axum::http::Method) -> String {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("{method} is not allowed on this resource (see the Allow header)")
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            "the request took too long or a dependency is down; retry later".into()
        }
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is larger than this resource accepts".into(),
        StatusCode::NOT_FOUND => "no resource here".into(),
        other => other.canonical_reason().unwrap_or("error").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_status() {
        assert_eq!(code_of(StatusCode::METHOD_NOT_ALLOWED), "method_not_allowed");
        assert_eq!(code_of(StatusCode::BAD_GATEWAY), "internal");
        let p = Problem::new(StatusCode::BAD_REQUEST, "bad_request", "x");
        assert_eq!(p.title, "Bad Request");
        assert_eq!(p.status, 400);
    }
}
