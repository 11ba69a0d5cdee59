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
    /// No report has this id.
    #[error("report {id} does not exist")]
    NotFound { id: i64 },
    /// The report has no intervention with this id.
    #[error("report {report_id} has no intervention {id}")]
    InterventionNotFound { report_id: i64, id: i64 },
    /// The point lies outside every comune Vedetta serves.
    #[error(
        "the point {lon}, {lat} (longitude, latitude) is outside every comune served here; reports are accepted only within their boundaries"
    )]
    OutsideTerritory { lon: f64, lat: f64 },
    /// The category is not (or no longer) offered in the comune.
    #[error("`{code}` is not a category of comune {comune}; one of {}", known.join(", "))]
    UnknownCategory { code: String, comune: String, known: Vec<String> },
    /// An ISTAT code that names no comune with a boundary.
    #[error("no comune has the ISTAT code `{comune}`")]
    UnknownComune { comune: String },
    /// The client named a jurisdiction (comune) other than the one the point lies in.
    #[error("the point lies in comune {located}, not in the jurisdiction {named} that was named")]
    Jurisdiction { named: String, located: String },
    /// A database error.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The live-event spine refused an event.
    #[error("event spine: {0}")]
    Spine(String),
    // ---- end section: store ----
    // ---- section: media and mail (helper "reports-media") ----
    /// A photo file larger than accepted.
    #[error("the photo is {bytes} bytes; at most {max} bytes are accepted")]
    PhotoTooLarge { bytes: usize, max: usize },
    /// A declared content type that is not an accepted photo type.
    #[error("a photo must be image/jpeg, image/png or image/webp, not `{declared}`")]
    PhotoType { declared: String },
    /// The file is not an image of any kind Vedetta reads.
    #[error("the file declared as {declared} is not an image")]
    PhotoNotImage { declared: String },
    /// The file is an image, of another kind than declared.
    #[error("the file declared as {declared} is really {actual}")]
    PhotoMismatch { declared: String, actual: String },
    /// The image cannot be decoded (corrupt, truncated, or needing more memory than allowed).
    #[error("the {format} photo cannot be decoded: {reason}")]
    PhotoDecode { format: &'static str, reason: String },
    /// The image has more pixels than accepted.
    #[error(
        "the photo is {width}×{height} pixels; at most {max_side} pixels a side and {max_megapixels} megapixels are accepted"
    )]
    PhotoDimensions { width: u32, height: u32, max_side: u32, max_megapixels: u32 },
    /// Re-encoding failed (not the sender's fault).
    #[error("the photo cannot be encoded as {format}: {reason}")]
    PhotoEncode { format: &'static str, reason: String },
    /// A photo id that is not 64 lower-case hexadecimal digits.
    #[error("`{given}` is not a photo id (64 lower-case hexadecimal digits)")]
    PhotoId { given: String },
    /// The photo store cannot read or write a file.
    #[error("the photo store cannot {action} {}: {source}", path.display())]
    PhotoStore {
        action: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An email address that cannot be written to.
    #[error("`{address}` is not a usable email address: {reason}")]
    MailAddress { address: String, reason: String },
    /// The mail settings cannot work (sender address, SMTP host).
    #[error("mail settings: {0}")]
    MailSetup(String),
    /// A webhook field that breaks a rule (the message says which).
    #[error("webhook {field}: {reason}")]
    WebhookInvalid { field: &'static str, reason: String },
    /// No report webhook has this id.
    #[error("there is no report webhook {id}")]
    WebhookNotFound { id: i64 },
    /// The webhook dispatcher cannot start (inconsistent options, no TLS set-up).
    #[error("report webhook dispatcher: {0}")]
    WebhookSetup(String),
    // ---- end section: media and mail ----
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The webhook engine's set-up errors (inconsistent options, no TLS) are [`Error::WebhookSetup`].
impl From<webhooks::Error> for Error {
    fn from(error: webhooks::Error) -> Self {
        Error::WebhookSetup(error.to_string())
    }
}
