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
    /// The CAP configuration is unusable.
    #[error("CAP configuration: {field} {reason}")]
    CapConfig {
        /// The field of `CapConfig`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A PEM file of the CAP signing configuration cannot be read.
    #[error("CAP signing {what}: cannot read {path}: {source}")]
    CapPemFile {
        /// `key` or `certificate`.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// The CAP signing key or certificate is unusable.
    #[error("CAP signing {what}: {reason}")]
    CapSigningMaterial {
        /// `key` or `certificate`.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// Signing a CAP message failed.
    #[error("CAP signing failed: {0}")]
    CapSign(String),

    /// An alert version that cannot make a valid CAP message.
    #[error("CAP message of alert {alert_id} version {version}: {reason}")]
    CapInput {
        /// The alert.
        alert_id: i64,
        /// Its version.
        version: i64,
        /// What is wrong.
        reason: String,
    },

    /// A GeoJSON geometry with no usable polygon for a CAP area.
    #[error("CAP area: {reason}")]
    CapGeometry {
        /// What is wrong.
        reason: String,
    },

    /// A name that is not one of the CAP input's values.
    #[error("unknown {what} `{value}` (expected {expected})")]
    CapUnknown {
        /// `hazard` or `change`.
        what: &'static str,
        /// The value given.
        value: String,
        /// The values accepted.
        expected: &'static str,
    },
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
    #[error("zones refused, nothing imported: {}", crate::zone::ZoneProblem::join(.problems))]
    InvalidZones { problems: Vec<crate::zone::ZoneProblem> },

    /// A point that is not a WGS84 longitude and latitude in degrees.
    #[error("({lon}, {lat}) is not a WGS84 longitude and latitude")]
    ZonePoint { lon: f64, lat: f64 },
    // --- end zone ---
    // --- evaluator ---
    /// No alert has this id.
    #[error("no alert has the id {0}")]
    AlertNotFound(i64),

    /// Something named in a request does not exist.
    #[error("{0}")]
    NotFound(String),

    /// The request contradicts the alert's state.
    #[error("{0}")]
    Conflict(String),

    /// A request field is invalid.
    #[error("{0}")]
    InvalidInput(String),

    /// An alert could not be encoded as JSON.
    #[error("cannot encode an alert: {0}")]
    Encoding(String),

    /// The live-event spine refused an event.
    #[error("event spine: {0}")]
    Spine(String),
    // --- end evaluator ---
}

/// The webhook engine's set-up errors (inconsistent options, no TLS) are [`Error::WebhookSetup`].
impl From<webhooks::Error> for Error {
    fn from(error: webhooks::Error) -> Self {
        Error::WebhookSetup(error.to_string())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
