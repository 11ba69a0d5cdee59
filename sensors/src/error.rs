/// Everything that can go wrong in `sensors`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A quantity name that Vedetta does not measure.
    #[error("unknown quantity `{0}` (expected `rain` or `level`)")]
    UnknownQuantity(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
