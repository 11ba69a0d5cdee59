/// Everything that can go wrong in `sensors`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A quantity name that Vedetta does not measure.
    #[error("unknown quantity `{0}` (expected `rain` or `level`)")]
    UnknownQuantity(String),

    /// A station definition that cannot be accepted.
    #[error("station {code}: {reason}")]
    InvalidStation { code: String, reason: String },

    /// No station has this code.
    #[error("no station has the code `{0}`")]
    UnknownStation(String),

    /// A query parameter or option that makes no sense.
    #[error("{0}")]
    InvalidQuery(String),

    /// A database error.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl Error {
    /// Whether a row referred to something that no longer exists (a deleted station).
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(self, Error::Database(sqlx::Error::Database(db)) if db.code().as_deref() == Some("23503"))
    }

    /// Whether retrying the same operation later may succeed (the database is down or overloaded).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Database(e) => {
                matches!(
                    e,
                    sqlx::Error::Io(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::Tls(_)
                ) || matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300"))
            }
            _ => false,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
