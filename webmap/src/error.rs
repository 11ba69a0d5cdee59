use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
    /// Well-formed but semantically invalid input.
    #[error("{0}")]
    Unprocessable(String),
    /// A dependency (database, broker) is down; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: logged with its cause, answered as a bare 500.
    #[error("internal error: {0}")]
    Internal(String),
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
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::warn!(error = %e, "Database unavailable.");
                ApiError::Unavailable("the database is unavailable, retry later".into())
            }
            sqlx::Error::RowNotFound => ApiError::NotFound("not found".into()),
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<geodata::Error> for ApiError {
    fn from(e: geodata::Error) -> Self {
        match e {
            geodata::Error::Import(_) | geodata::Error::Crs { .. } => ApiError::Unprocessable(e.to_string()),
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
            sensors::Error::UnknownQuantity(_) | sensors::Error::InvalidQuery(_) => {
                ApiError::BadRequest(e.to_string())
            }
            sensors::Error::Database(db) => db.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(cause = %cause, "Request failed.");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let body = json!({ "error": { "code": self.code(), "message": message } });
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"vedetta\""));
        }
        response
    }
}
