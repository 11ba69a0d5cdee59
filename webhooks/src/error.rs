//! The errors of the webhook engine.

/// Why a webhook dispatcher cannot be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The delivery options are inconsistent (a zero timeout, no attempts, …); `reason` names the option.
    #[error("{reason}")]
    InvalidOptions { reason: &'static str },
    /// The HTTPS client could not be set up (no TLS configuration possible).
    #[error("TLS: {reason}")]
    Tls { reason: String },
}

/// The result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
