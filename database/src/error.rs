use std::path::PathBuf;

/// Everything that can go wrong with Vedetta's PostgreSQL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The data dir is held by another Vedetta process.
    #[error(
        "the data dir {dir} is in use by another Vedetta process ({holder}); stop it first or choose another --data-dir"
    )]
    DataDirBusy { dir: PathBuf, holder: String },

    /// No PostgreSQL server binaries with PostGIS were found.
    #[error(
        "no PostgreSQL server with PostGIS found (looked in {looked_in}); install postgresql-15 and postgresql-15-postgis-3 (`make deps`) or set database.url"
    )]
    NoPostgres { looked_in: String },

    /// A system user needed to run the cluster does not exist.
    #[error(
        "PostgreSQL refuses to run as root and the system user `{user}` does not exist; install postgresql or set database.cluster_user"
    )]
    NoClusterUser { user: String },

    /// A PostgreSQL tool (initdb, pg_ctl) failed.
    #[error("{tool} failed for the private cluster in {dir}: {detail}")]
    ClusterCommand { tool: &'static str, dir: PathBuf, detail: String },

    /// File-system trouble around the data dir.
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },

    /// The cluster state file could not be read.
    #[error("the cluster state file {path} is unreadable: {detail}")]
    State { path: PathBuf, detail: String },

    /// A database error.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),

    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
