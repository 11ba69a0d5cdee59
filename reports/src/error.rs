use crate::Status;

/// Everything that can go wrong in `reports`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A workflow step that the current status does not allow.
    #[error("a report that is {from:?} cannot become {to:?}")]
    Transition { from: Status, to: Status },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
