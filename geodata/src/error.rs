use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong in `geodata`.
///
/// Import files fail with [`Error::Import`] (or [`Error::Io`], [`Error::Crs`]). Requests from clients (a parcel to
/// intersect, an OGC API query) fail with the structured variants: [`Error::InvalidInput`],
/// [`Error::InvalidGeometry`], [`Error::TooLarge`] and [`Error::Timeout`], so the HTTP face can answer each with
/// its own status and a reason the client can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// File-system trouble reading an import.
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },

    /// A database error.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),

    /// An import that cannot proceed (bad file, wrong format). Not for requests: see the variants below.
    #[error("{0}")]
    Import(String),

    /// A file given as ISTAT's list of comuni is not that list (a column is missing, the text is unreadable).
    #[error("{path}: not ISTAT's list of comuni: {detail}")]
    ComuniList { path: PathBuf, detail: String },

    /// A CRS is unknown to PROJ or a transformation failed.
    #[error("CRS {crs}: {detail}")]
    Crs { crs: String, detail: String },

    /// A request parameter or body member that is malformed (not a number, a NUL byte, unknown value).
    #[error("{field}: {reason}")]
    InvalidInput {
        /// The parameter or member, as the client named it (`bbox`, `plan`, `coordinates[0][3]`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A geometry from a client that is well-formed but unusable: out of range, not closed, crossing itself.
    #[error("{reason}{}", near(*at))]
    InvalidGeometry {
        /// What is wrong (`the polygon's boundary crosses itself`).
        reason: String,
        /// Where, when it is a place: longitude and latitude (WGS84 degrees).
        at: Option<(f64, f64)>,
    },

    /// A request beyond one of the limits that keep a request cheap (vertices, rings, area, page offset).
    #[error("{what}: the limit is {limit}")]
    TooLarge {
        /// What was too large, with its size (`the polygon has 20000 vertices`).
        what: String,
        /// The limit, with its unit (`10000 vertices`).
        limit: String,
    },

    /// A statement ran past the time limit of its kind of request and PostgreSQL cancelled it (SQLSTATE 57014).
    #[error("the request took longer than {} s and was stopped", after.as_secs_f64())]
    Timeout {
        /// The time limit that was reached.
        after: Duration,
    },
}

fn near(at: Option<(f64, f64)>) -> String {
    at.map(|(lon, lat)| format!(" near ({lon:.6}, {lat:.6})")).unwrap_or_default()
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }

    /// An [`Error::InvalidInput`].
    pub(crate) fn input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput { field: field.into(), reason: reason.into() }
    }

    /// A database error of a statement run under a `statement_timeout` of `after`: a cancellation (SQLSTATE
    /// 57014) becomes [`Error::Timeout`].
    pub(crate) fn timed(after: Duration) -> impl FnOnce(sqlx::Error) -> Self {
        move |e| match &e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("57014") => Error::Timeout { after },
            _ => Error::Database(e),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
