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
    /// A rule set (configuration, rules file or admin API) that does not validate; every problem is listed.
    #[error("invalid alert rules: {}", crate::rule::Problem::join(.problems))]
    InvalidRules { problems: Vec<crate::rule::Problem> },
    // --- end rules ---
    // --- cap ---
    // --- end cap ---
    // --- webhook ---
    /// A field of a webhook subscription is invalid (URL, name, secret, filters).
    #[error("webhook subscription: {field}: {reason}")]
    WebhookInvalid {
        /// The field, as named in the API (`url`, `zones`, …).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A webhook subscription with this name exists already.
    #[error("a webhook subscription named `{name}` exists already")]
    WebhookNameTaken {
        /// The name asked for.
        name: String,
    },

    /// The alert handed to the webhook queue lacks a field it needs or has it in the wrong shape.
    #[error("webhook: the alert payload {reason}")]
    WebhookPayload {
        /// What is missing or wrong.
        reason: String,
    },

    /// Only a dead (dead-lettered) delivery can be retried.
    #[error("webhook delivery {id} is {state}: only a dead delivery can be retried")]
    WebhookNotDead {
        /// The delivery.
        id: i64,
        /// Its current state.
        state: String,
    },

    /// The dispatcher's options are inconsistent, or its HTTPS client could not be set up.
    #[error("webhook dispatcher: {0}")]
    WebhookSetup(String),
    // --- end webhook ---
    // --- zone ---
    /// A zone file that cannot be read.
    #[error("cannot read {path}: {source}")]
    ZoneFile { path: std::path::PathBuf, source: std::io::Error },

    /// A zone file that is not JSON.
    #[error("{path} is not JSON: {source}")]
    ZoneJson { path: std::path::PathBuf, source: serde_json::Error },

    /// A zone import that is not a GeoJSON FeatureCollection.
    #[error("a zone file is a GeoJSON FeatureCollection of zones: {0}")]
    ZoneCollection(String),

    /// Zone features refused (each with its index, code and reason): nothing was imported.
    #[error("{} invalid zone feature(s), nothing imported: {}", .problems.len(), crate::zone::ZoneProblem::join(.problems))]
    InvalidZones { problems: Vec<crate::zone::ZoneProblem> },

    /// A point that is not a WGS84 longitude and latitude in degrees.
    #[error("({lon}, {lat}) is not a WGS84 longitude and latitude")]
    ZonePoint { lon: f64, lat: f64 },
    // --- end zone ---
    // --- evaluator ---
    // --- end evaluator ---
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
