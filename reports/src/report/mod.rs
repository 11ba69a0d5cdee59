//! Citizen reports: filing, reading, the workflow, interventions, moderation, support and privacy.
//!
//! A report is stored whole in `reports.report`; [`Report`] carries it as a [`PublicReport`] (the only type a
//! public output may serialize: it has no reporter field at all) and its [`Private`] part (reporter, moderation
//! state), which the HTTP layer shows only to whoever [`crate::Access`] allows.
//!
//! Every change appends a `report.changed` event to the spine as the last statement of its transaction, with the
//! public report only ([`EVENT`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;

use crate::{Error, Result, Status};

mod anonymize;
mod create;
mod intervention;
mod moderation;
mod nearby;
mod query;
mod workflow;

pub use anonymize::anonymize;
pub use create::create;
pub use intervention::{add_intervention, interventions, update_intervention};
pub use moderation::{moderate, moderation_log};
pub use nearby::{nearby, support};
pub use query::{by_tracking, get, list};
pub use workflow::{history, transition, transition_with_link};

/// The kind of the spine event every change of a report appends.
pub const EVENT: &str = "report.changed";

/// Longest description, public note or outcome, in characters.
pub const MAX_TEXT: usize = 4000;

/// Most photos per report.
pub const MAX_PHOTOS: usize = 5;

/// Largest radius of [`nearby`], metres.
pub const MAX_NEARBY_M: f64 = 250.0;

/// Most reports [`list`] returns at once.
pub const MAX_LIMIT: i64 = 1000;

/// Who filed the report, as Genova's civil protection records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReporterType {
    #[default]
    Citizen,
    Councillor,
    Volunteer,
    MunicipalPolice,
    Office,
    Other,
}

impl ReporterType {
    pub const ALL: [ReporterType; 6] = [
        ReporterType::Citizen,
        ReporterType::Councillor,
        ReporterType::Volunteer,
        ReporterType::MunicipalPolice,
        ReporterType::Office,
        ReporterType::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReporterType::Citizen => "citizen",
            ReporterType::Councillor => "councillor",
            ReporterType::Volunteer => "volunteer",
            ReporterType::MunicipalPolice => "municipal_police",
            ReporterType::Office => "office",
            ReporterType::Other => "other",
        }
    }
}

impl fmt::Display for ReporterType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReporterType {
    type Err = Error;

    fn from_str(s: &str) -> Result<ReporterType> {
        ReporterType::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| {
            Error::Invalid(format!(
                "`{s}` is not a reporter type; one of {}",
                ReporterType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

/// Through which door the report came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    #[default]
    Api,
    Web,
    Open311,
    Import,
}

impl Source {
    pub const ALL: [Source; 4] = [Source::Api, Source::Web, Source::Open311, Source::Import];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Web => "web",
            Source::Open311 => "open311",
            Source::Import => "import",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = Error;

    fn from_str(s: &str) -> Result<Source> {
        Source::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| {
            Error::Invalid(format!("`{s}` is not a report source; one of api, web, open311, import"))
        })
    }
}

/// The reporter's identity and contact: private, never in a public output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporter {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub account_id: Option<i64>,
}

/// A report to file.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// WGS84 (EPSG:4326) longitude, degrees.
    pub lon: f64,
    /// WGS84 (EPSG:4326) latitude, degrees.
    pub lat: f64,
    /// The category's code (Open311 `service_code`).
    pub category: String,
    /// Plain text, at most [`MAX_TEXT`] characters.
    pub description: String,
    pub reporter_type: ReporterType,
    /// People at risk: the report gets the highest priority.
    pub people_at_risk: bool,
    pub reporter: Reporter,
    /// The reporter's name is hidden even from councillors.
    pub anonymous: bool,
    /// Answers to the category's attributes (Open311 `attribute[code]`).
    pub attributes: serde_json::Map<String, Value>,
    /// A picture elsewhere (Open311 `media_url`): recorded, never fetched.
    pub media_url: Option<String>,
    pub source: Source,
    /// Processed (and stored) by the caller, at most [`MAX_PHOTOS`].
    pub photos: Vec<crate::photo::Processed>,
    /// The ISTAT code the client named (Open311 `jurisdiction_id`); must be the comune of the point.
    pub jurisdiction: Option<String>,
}

/// A filed report, with its tracking token (shown once: only its SHA-256 is kept).
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub report: Report,
    /// `vtr_` and 32 hex digits: the follow-up link without an account.
    pub tracking_token: String,
}

/// Public fields only: the ONLY type public outputs may serialize. No reporter field exists in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicReport {
    pub id: i64,
    /// ISTAT code.
    pub comune: String,
    pub comune_name: String,
    /// Category code (Open311 `service_code`).
    pub category: String,
    pub category_name: String,
    pub description: String,
    /// WGS84 longitude, degrees.
    pub lon: f64,
    /// WGS84 latitude, degrees.
    pub lat: f64,
    /// `Via Roma 12` (the civico within 100 m), `Via Roma` (the street of the nearest civico within 300 m) or none.
    pub address: Option<String>,
    pub status: Status,
    pub status_label: String,
    pub reporter_type: ReporterType,
    pub people_at_risk: bool,
    /// 1 (highest) … 4.
    pub priority: i16,
    pub supporters: i32,
    pub duplicate_of: Option<i64>,
    /// The last public note of the comune (Open311 `status_notes`).
    pub public_note: Option<String>,
    /// The client's `media_url` (Open311), never fetched.
    pub media_url: Option<String>,
    /// Photos not removed by moderation, by position.
    pub photos: Vec<PhotoRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// A photo of a report: the files are found by hash (`crate::photo::PhotoStore`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoRef {
    /// 1 … 5.
    pub position: i16,
    pub sha256: String,
    pub thumb_sha256: String,
    pub content_type: String,
    pub width: i32,
    pub height: i32,
}

/// What only the comune's operators (and, for the name, its councillors) see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Private {
    pub reporter_name: Option<String>,
    pub reporter_email: Option<String>,
    pub reporter_phone: Option<String>,
    pub reporter_account_id: Option<i64>,
    /// The name is hidden even from councillors.
    pub anonymous: bool,
    /// False while a pre-moderated report waits for approval.
    pub approved: bool,
    pub hidden: bool,
    pub reject_reason: Option<String>,
    /// The answers to the category's attributes.
    pub attributes: Value,
    pub source: Source,
    /// When the reporter's data was removed ([`anonymize`]).
    pub anonymized_at: Option<DateTime<Utc>>,
}

/// A report whole: the HTTP layer picks what the caller may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub public: PublicReport,
    pub private: Private,
}

impl Report {
    /// Whether the report may appear in public outputs: approved and not hidden.
    pub fn is_public(&self) -> bool {
        self.private.approved && !self.private.hidden
    }
}

/// Who acts on a report (an operator, or the system).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub account_id: Option<i64>,
    /// Display name ("Operatore Comune di Genova").
    pub name: String,
}

/// Filters and page of [`list`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReportQuery {
    /// Only these comuni (ISTAT codes); `None` = every comune, `Some(empty)` = none.
    pub comuni: Option<Vec<String>>,
    pub category: Option<String>,
    /// Any of these statuses; empty = any.
    pub status: Vec<Status>,
    /// `[min lon, min lat, max lon, max lat]`, WGS84 degrees.
    pub bbox: Option<[f64; 4]>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    /// Only these ids; empty = any.
    pub ids: Vec<i64>,
    /// Excludes hidden and unapproved reports.
    pub public_only: bool,
    /// 0 … [`MAX_LIMIT`].
    pub limit: i64,
    pub offset: i64,
}

impl Default for ReportQuery {
    /// Every public report, the newest 100.
    fn default() -> Self {
        ReportQuery {
            comuni: None,
            category: None,
            status: Vec::new(),
            bbox: None,
            from: None,
            to: None,
            ids: Vec::new(),
            public_only: true,
            limit: 100,
            offset: 0,
        }
    }
}

/// A workflow step to take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionRequest {
    pub to: Status,
    /// Shown to everyone (Open311 `status_notes`).
    #[serde(default)]
    pub public_note: Option<String>,
    /// For the comune's operators only.
    #[serde(default)]
    pub private_note: Option<String>,
    /// Required to reject.
    #[serde(default)]
    pub reason: Option<String>,
    /// Required to mark a duplicate: the original report.
    #[serde(default)]
    pub duplicate_of: Option<i64>,
}

impl TransitionRequest {
    /// A plain step to `to` without notes.
    pub fn to(to: Status) -> Self {
        TransitionRequest { to, public_note: None, private_note: None, reason: None, duplicate_of: None }
    }
}

/// One step of a report's history; the first (`from` = `None`) is the filing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub from: Option<Status>,
    pub to: Status,
    /// The operator's display name; `None` for the filing.
    pub actor_name: Option<String>,
    pub public_note: Option<String>,
    pub private_note: Option<String>,
}

/// Work done (or planned) on the ground for a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intervention {
    pub id: i64,
    pub report_id: i64,
    pub team: String,
    pub scheduled_for: Option<NaiveDate>,
    pub done_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An intervention to add, or the fields of one to change (`None` keeps the stored value on update).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterventionInput {
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub scheduled_for: Option<NaiveDate>,
    #[serde(default)]
    pub done_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub outcome: Option<String>,
}

/// A moderation act. As JSON: `{"action": "hide", "reason": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Moderation {
    /// Publishes a pre-moderated report.
    Approve,
    /// Takes the report out of every public output.
    Hide {
        reason: String,
    },
    Unhide,
    /// Replaces the description (personal data, insults …).
    Redact {
        description: String,
    },
    /// Withdraws one photo.
    RemovePhoto {
        position: i16,
    },
    /// Sends the report to another comune (ISTAT code, which must exist), with a note.
    Move {
        comune: String,
        note: String,
    },
}

/// A line of the moderation log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `approve`, `hide`, `unhide`, `redact`, `remove_photo`, `move`, `mark_duplicate`.
    pub action: String,
    pub actor_account_id: Option<i64>,
    pub actor_name: Option<String>,
    /// What was done (reason, from/to comune and note, photo position, original report …).
    pub detail: Value,
}

/// An open report near a point, offered before filing a duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nearby {
    pub report: PublicReport,
    /// Metres on the WGS84 spheroid.
    pub distance_m: f64,
    /// Seconds since it was filed.
    pub age_s: i64,
}

/// Whether `text` holds something that looks like HTML markup: `<` followed by a letter, `/` or `!`.
pub fn has_markup(text: &str) -> bool {
    text.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!'))
}

/// Checks a free text field: at most [`MAX_TEXT`] characters, no HTML; `required` refuses a blank one.
pub(crate) fn check_text(field: &str, text: &str, required: bool) -> Result<()> {
    if required && text.trim().is_empty() {
        return Err(Error::Invalid(format!("{field} is required")));
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT {
        return Err(Error::Invalid(format!("{field} has {chars} characters; at most {MAX_TEXT}")));
    }
    if has_markup(text) {
        return Err(Error::Invalid(format!("{field} contains HTML; plain text only")));
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(Error::Invalid(format!("{field} contains control characters; plain text only")));
    }
    Ok(())
}

/// A trimmed optional text: blank is `None`.
pub(crate) fn non_blank(text: Option<&str>) -> Option<String> {
    text.map(str::trim).filter(|t| !t.is_empty()).map(str::to_string)
}

/// Checks a longitude/latitude pair (WGS84 degrees).
pub(crate) fn check_point(lon: f64, lat: f64) -> Result<()> {
    if lon.is_finite() && lat.is_finite() && (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)
    {
        Ok(())
    } else {
        Err(Error::Invalid(format!("{lon}, {lat} is not a WGS84 longitude, latitude in degrees")))
    }
}

pub(crate) fn spine(e: database::Error) -> Error {
    match e {
        database::Error::Database(db) => Error::Database(db),
        other => Error::Spine(other.to_string()),
    }
}

/// How a report changed, in its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Created,
    Status,
    Moderated,
    Moved,
    Intervention,
    Supported,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Status => "status",
            Change::Moderated => "moderated",
            Change::Moved => "moved",
            Change::Intervention => "intervention",
            Change::Supported => "supported",
        }
    }
}

/// The payload of a `report.changed` event: the public report only.
pub fn event_payload(change: &str, report: &Report) -> Value {
    serde_json::json!({
        "change": change,
        "comune": report.public.comune,
        "report": report.public,
        "public": report.is_public(),
    })
}

/// Appends the `report.changed` event of `report` (call it last before the commit).
pub(crate) async fn announce(conn: &mut PgConnection, change: Change, report: &Report) -> Result<()> {
    let event = database::event::NewEvent::new(
        EVENT,
        Some(report.public.id.to_string()),
        event_payload(change.as_str(), report),
    );
    database::event::append(conn, &[event]).await.map_err(spine)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_told_from_comparisons() {
        assert!(has_markup("<script>alert(1)</script>"));
        assert!(has_markup("a </b> b"));
        assert!(has_markup("<!-- x -->"));
        assert!(has_markup("<img src=x>"));
        assert!(!has_markup("acqua < 3 cm, livello <= 5, 2<3"));
        assert!(!has_markup("<"));
        assert!(!has_markup("buca profonda ~10 cm > pericolo"));
    }

    #[test]
    fn texts_are_bounded_in_characters() {
        assert!(check_text("description", &"è".repeat(MAX_TEXT), true).is_ok());
        let err = check_text("description", &"è".repeat(MAX_TEXT + 1), true).unwrap_err();
        assert!(err.to_string().contains("4001 characters"), "{err}");
        assert!(check_text("description", "  ", true).is_err());
        assert!(check_text("note", "", false).is_ok());
        assert!(check_text("note", "riga uno\nriga due\tfine", false).is_ok());
        assert!(check_text("note", "nul \0 byte", false).is_err());
    }

    #[test]
    fn points_are_wgs84_degrees() {
        assert!(check_point(8.934, 44.407).is_ok());
        assert!(check_point(f64::NAN, 44.0).is_err());
        assert!(check_point(181.0, 44.0).is_err());
        assert!(check_point(8.0, -91.0).is_err());
    }

    #[test]
    fn enums_read_back() {
        for t in ReporterType::ALL {
            assert_eq!(t.as_str().parse::<ReporterType>().unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        for s in Source::ALL {
            assert_eq!(s.as_str().parse::<Source>().unwrap(), s);
        }
        assert!("mayor".parse::<ReporterType>().is_err());
        let m: Moderation =
            serde_json::from_value(serde_json::json!({"action": "move", "comune": "010025", "note": "n"}))
                .unwrap();
        assert_eq!(m, Moderation::Move { comune: "010025".into(), note: "n".into() });
    }
}
