/// Everything that can go wrong in `alerts`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An alert level name that is not on the scale.
    #[error("unknown alert level `{0}` (expected verde, gialla, arancione or rossa)")]
    UnknownLevel(String),

    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    // --- rules (rule.rs, ladder.rs) ---
    // --- end rules ---
    // --- cap ---
    // --- end cap ---
    // --- webhook ---
    // --- end webhook ---
    // --- zone ---
    // --- end zone ---
    // --- evaluator ---
    // --- end evaluator ---
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
