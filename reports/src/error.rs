use crate::Status;

/// Everything that can go wrong in `reports`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A workflow step that the current status does not allow.
    #[error("a report that is {from} cannot become {to}; allowed: {}", crate::status::names(allowed))]
    Transition { from: Status, to: Status, allowed: Vec<Status> },
    /// Input that breaks a rule of the domain (the message says which, for the user).
    #[error("{0}")]
    Invalid(String),
    // ---- section: store (helper "reports-domain") ----
    // ---- end section: store ----
    // ---- section: media and mail (helper "reports-media") ----
    // ---- end section: media and mail ----
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
