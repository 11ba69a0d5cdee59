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

    /// A station with this code exists already (a create that must not replace it).
    #[error("a station with the code `{code}` exists; PUT it to change it")]
    DuplicateStation { code: String },

    /// No station has this code.
    #[error("no station has the code `{}`", .0.escape_debug())]
    UnknownStation(String),

    /// A query parameter or option that makes no sense.
    #[error("{0}")]
    InvalidQuery(String),

    /// A database error.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The live-event spine refused an event.
    #[error("event spine: {0}")]
    Spine(String),
}

impl Error {
    /// Whether a row referred to something that no longer exists (a deleted station).
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(self, Error::Database(sqlx::Error::Database(db)) if db.code().as_deref() == Some("23503"))
    }

    /// Whether a reading fell in a month whose partition does not exist (dropped by retention, or its creation
    /// rolled back): PostgreSQL's "no partition of relation … found for row". It is a check violation (23514)
    /// without a constraint name (every real CHECK violation names its constraint); the message is not read, as
    /// it changes with the server's `lc_messages`.
    pub fn is_missing_partition(&self) -> bool {
        matches!(self, Error::Database(sqlx::Error::Database(db))
            if db.code().as_deref() == Some("23514") && db.constraint().is_none())
    }

    /// Whether retrying the same operation later may succeed: the database is down, restarting or overloaded
    /// (connection errors, class 08; operator intervention, 57P; too many connections, 53300; out of memory or
    /// disk, 53xxx), or the transaction lost a race (serialization failure and deadlock, class 40). Everything
    /// else (bad data, a bug) fails the same way every time and must not be retried.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Database(e) => {
                matches!(
                    e,
                    sqlx::Error::Io(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::Tls(_)
                        | sqlx::Error::WorkerCrashed
                ) || matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| {
                    c.starts_with("08") || c.starts_with("57P") || c.starts_with("53") || c.starts_with("40")
                }))
            }
            _ => false,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
