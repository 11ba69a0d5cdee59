use std::path::PathBuf;

/// Everything that can go wrong in `geodata`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// File-system trouble reading an import.
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },

    /// A database error.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),

    /// An import that cannot proceed (bad file, wrong format).
    #[error("{0}")]
    Import(String),

    /// A file given as ISTAT's list of comuni is not that list (a column is missing, the text is unreadable).
    #[error("{path}: not ISTAT's list of comuni: {detail}")]
    ComuniList { path: PathBuf, detail: String },

    /// A CRS is unknown to PROJ or a transformation failed.
    #[error("CRS {crs}: {detail}")]
    Crs { crs: String, detail: String },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
