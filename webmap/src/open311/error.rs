//! Errors as GeoReport v2 writes them: `<errors><error><code>400</code><description>…</description></error></errors>`
//! or `[{"code": 400, "description": "…"}]`, with the code as the HTTP status (400, 403, 404). The problem layer
//! leaves these bodies alone (clients of the standard parse them).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::format::{self, Format, ToXml, Xml};

/// One error of an Open311 error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ErrorEntry {
    /// The HTTP status (400, 403, 404, …).
    #[schema(example = 400)]
    pub code: u16,
    /// What was wrong, in words a client can act on.
    #[schema(example = "service_code `pothole` is not a service of this jurisdiction")]
    pub description: String,
}

impl ToXml for ErrorEntry {
    const ELEMENT: &'static str = "error";
    fn children(&self, x: &mut Xml) {
        x.text("code", &self.code.to_string());
        x.text("description", &self.description);
    }
}

/// An error answer of the Open311 API, in the format the client asked for.
#[derive(Debug)]
pub(crate) struct Open311Error {
    pub status: StatusCode,
    pub description: String,
    pub format: Format,
}

impl Open311Error {
    pub(crate) fn new(status: StatusCode, format: Format, description: impl Into<String>) -> Open311Error {
        Open311Error { status, description: description.into(), format }
    }

    /// 400: the request is wrong (the description says how).
    pub(crate) fn bad(format: Format, description: impl Into<String>) -> Open311Error {
        Open311Error::new(StatusCode::BAD_REQUEST, format, description)
    }

    /// 403: no valid `api_key`.
    pub(crate) fn forbidden(format: Format, description: impl Into<String>) -> Open311Error {
        Open311Error::new(StatusCode::FORBIDDEN, format, description)
    }

    /// 404: no such jurisdiction, service, request or resource.
    pub(crate) fn not_found(format: Format, description: impl Into<String>) -> Open311Error {
        Open311Error::new(StatusCode::NOT_FOUND, format, description)
    }

    /// A failure of Vedetta (the database, …): logged with its cause; the client reads only that it failed.
    pub(crate) fn internal(format: Format, cause: &dyn std::fmt::Display) -> Open311Error {
        tracing::error!(cause = %cause, "Open311 request failed.");
        Open311Error::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format,
            "internal error; the cause is in Vedetta's log",
        )
    }

    /// The database or the geocoder failed: unavailable (503) when the database is, else internal.
    pub(crate) fn database(format: Format, e: &sqlx::Error) -> Open311Error {
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => {
                tracing::warn!(error = %e, "Database unavailable.");
                Open311Error::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format,
                    "the database is unavailable, retry later",
                )
            }
            sqlx::Error::Database(db) if db.code().as_deref() == Some("57014") => {
                tracing::warn!(error = %e, "A statement ran past its time limit.");
                Open311Error::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format,
                    "the request took too long and was stopped; narrow it and retry",
                )
            }
            sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22")) => {
                tracing::warn!(error = %e, "Input rejected by the database.");
                Open311Error::bad(format, "a value in the request is out of range or malformed")
            }
            other => Open311Error::internal(format, other),
        }
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let entry = ErrorEntry { code: self.status.as_u16(), description: self.description };
        let mut response = format::list(self.status, self.format, "errors", &[entry]);
        crate::error::keep_error_body(&mut response);
        response
    }
}

/// A result of an Open311 handler.
pub(crate) type Result<T, E = Open311Error> = std::result::Result<T, E>;
