//! What the reports API answers: webmap's own shapes (with their OpenAPI schemas) built from the domain's types.
//! Public outputs are built from [`reports::report::PublicReport`] only; the reporter and the private notes are
//! added only where [`reports::Access`] allows.

use chrono::{DateTime, NaiveDate, Utc};
use reports::report::{Intervention, PhotoRef, PublicReport, Report, ReporterType, Step};
use reports::{Action, Status};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Viewer;

/// Where a report stands in the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StatusName {
    New,
    Acknowledged,
    InProgress,
    Resolved,
    Closed,
    Rejected,
    Duplicate,
    Reopened,
}

impl From<Status> for StatusName {
    fn from(s: Status) -> Self {
        match s {
            Status::New => StatusName::New,
            Status::Acknowledged => StatusName::Acknowledged,
            Status::InProgress => StatusName::InProgress,
            Status::Resolved => StatusName::Resolved,
            Status::Closed => StatusName::Closed,
            Status::Rejected => StatusName::Rejected,
            Status::Duplicate => StatusName::Duplicate,
            Status::Reopened => StatusName::Reopened,
        }
    }
}

impl From<StatusName> for Status {
    fn from(s: StatusName) -> Self {
        match s {
            StatusName::New => Status::New,
            StatusName::Acknowledged => Status::Acknowledged,
            StatusName::InProgress => Status::InProgress,
            StatusName::Resolved => Status::Resolved,
            StatusName::Closed => Status::Closed,
            StatusName::Rejected => Status::Rejected,
            StatusName::Duplicate => Status::Duplicate,
            StatusName::Reopened => Status::Reopened,
        }
    }
}

/// Who filed a report, as Genova's civil protection records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReporterTypeName {
    Citizen,
    Councillor,
    Volunteer,
    MunicipalPolice,
    Office,
    Other,
}

impl From<ReporterType> for ReporterTypeName {
    fn from(t: ReporterType) -> Self {
        match t {
            ReporterType::Citizen => ReporterTypeName::Citizen,
            ReporterType::Councillor => ReporterTypeName::Councillor,
            ReporterType::Volunteer => ReporterTypeName::Volunteer,
            ReporterType::MunicipalPolice => ReporterTypeName::MunicipalPolice,
            ReporterType::Office => ReporterTypeName::Office,
            ReporterType::Other => ReporterTypeName::Other,
        }
    }
}

impl From<ReporterTypeName> for ReporterType {
    fn from(t: ReporterTypeName) -> Self {
        match t {
            ReporterTypeName::Citizen => ReporterType::Citizen,
            ReporterTypeName::Councillor => ReporterType::Councillor,
            ReporterTypeName::Volunteer => ReporterType::Volunteer,
            ReporterTypeName::MunicipalPolice => ReporterType::MunicipalPolice,
            ReporterTypeName::Office => ReporterType::Office,
            ReporterTypeName::Other => ReporterType::Other,
        }
    }
}

/// A photo of a report: re-encoded without any metadata, at most 2048 px, with a thumbnail of at most 320 px.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PhotoView {
    /// 1..5, in the order the reporter gave them.
    pub(crate) position: i16,
    /// The photo (its content hash names it: it never changes).
    #[schema(
        example = "https://vedetta.example.org/api/reports/photos/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )]
    pub(crate) url: String,
    /// The thumbnail (JPEG).
    pub(crate) thumb_url: String,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub(crate) content_type: String,
    pub(crate) width: i32,
    pub(crate) height: i32,
}

impl PhotoView {
    pub(crate) fn of(base: &str, p: &PhotoRef) -> PhotoView {
        PhotoView {
            position: p.position,
            url: format!("{base}/api/reports/photos/{}", p.sha256),
            thumb_url: format!("{base}/api/reports/photos/{}/thumb", p.sha256),
            content_type: p.content_type.clone(),
            width: p.width,
            height: p.height,
        }
    }
}

/// The public side of a report: what anyone may read. No field about the reporter but their type.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PublicView {
    pub(crate) id: i64,
    /// ISTAT code of the comune the report is for.
    #[schema(example = "010025")]
    pub(crate) comune: String,
    #[schema(example = "Genova")]
    pub(crate) comune_name: String,
    /// The category code (the Open311 `service_code`).
    #[schema(example = "buca_stradale")]
    pub(crate) category: String,
    #[schema(example = "Buca stradale")]
    pub(crate) category_name: String,
    /// What the reporter wrote (plain text, at most 4000 characters), or its redacted version.
    pub(crate) description: String,
    /// WGS84 longitude, degrees.
    #[schema(example = 8.934)]
    pub(crate) lon: f64,
    /// WGS84 latitude, degrees.
    #[schema(example = 44.4073)]
    pub(crate) lat: f64,
    /// The nearest address (ANNCSU), when one lies near enough.
    pub(crate) address: Option<String>,
    pub(crate) status: StatusName,
    /// The status in Italian.
    #[schema(example = "Presa in carico")]
    pub(crate) status_label: String,
    pub(crate) reporter_type: ReporterTypeName,
    /// People are at risk: the report comes first.
    pub(crate) people_at_risk: bool,
    /// 1 (highest) … 4.
    #[schema(minimum = 1, maximum = 4)]
    pub(crate) priority: i16,
    /// How many people said "me too".
    pub(crate) supporters: i32,
    /// The report this one duplicates.
    pub(crate) duplicate_of: Option<i64>,
    /// The last public note of the comune (the Open311 `status_notes`).
    pub(crate) public_note: Option<String>,
    /// A picture elsewhere, as the client gave it (Open311 `media_url`; never fetched).
    pub(crate) media_url: Option<String>,
    pub(crate) photos: Vec<PhotoView>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) acknowledged_at: Option<DateTime<Utc>>,
    pub(crate) resolved_at: Option<DateTime<Utc>>,
    pub(crate) closed_at: Option<DateTime<Utc>>,
}

impl PublicView {
    pub(crate) fn of(base: &str, r: &PublicReport) -> PublicView {
        PublicView {
            id: r.id,
            comune: r.comune.clone(),
            comune_name: r.comune_name.clone(),
            category: r.category.clone(),
            category_name: r.category_name.clone(),
            description: r.description.clone(),
            lon: r.lon,
            lat: r.lat,
            address: r.address.clone(),
            status: r.status.into(),
            status_label: r.status.label_it().to_string(),
            reporter_type: r.reporter_type.into(),
            people_at_risk: r.people_at_risk,
            priority: r.priority,
            supporters: r.supporters,
            duplicate_of: r.duplicate_of,
            public_note: r.public_note.clone(),
            media_url: r.media_url.clone(),
            photos: r.photos.iter().map(|p| PhotoView::of(base, p)).collect(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            acknowledged_at: r.acknowledged_at,
            resolved_at: r.resolved_at,
            closed_at: r.closed_at,
        }
    }
}

/// The private side of a report: for the operators of its comune, civil protection and admins only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PrivateView {
    pub(crate) reporter_name: Option<String>,
    pub(crate) reporter_email: Option<String>,
    pub(crate) reporter_phone: Option<String>,
    pub(crate) reporter_account_id: Option<i64>,
    /// The reporter's name is hidden even from councillors.
    pub(crate) anonymous: bool,
    /// False while a pre-moderated report waits for approval.
    pub(crate) approved: bool,
    /// Hidden by a moderator: out of every public output.
    pub(crate) hidden: bool,
    pub(crate) reject_reason: Option<String>,
}

/// A report as the caller may see it: the public fields, plus the reporter's name for councillors of the comune
/// (unless anonymous), plus the `private` block for whoever may see private data there.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ReportView {
    #[serde(flatten)]
    pub(crate) report: PublicView,
    /// The reporter's name (councillors of the comune; never for anonymous reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reporter_name: Option<String>,
    /// The private side (operators of the comune, civil protection, admins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) private: Option<PrivateView>,
}

impl ReportView {
    pub(crate) fn of(base: &str, viewer: &Viewer, r: &Report) -> ReportView {
        let comune = &r.public.comune;
        let private = viewer.may(Action::SeePrivate, comune).then(|| PrivateView {
            reporter_name: r.private.reporter_name.clone(),
            reporter_email: r.private.reporter_email.clone(),
            reporter_phone: r.private.reporter_phone.clone(),
            reporter_account_id: r.private.reporter_account_id,
            anonymous: r.private.anonymous,
            approved: r.private.approved,
            hidden: r.private.hidden,
            reject_reason: r.private.reject_reason.clone(),
        });
        let reporter_name =
            if private.is_none() && !r.private.anonymous && viewer.may(Action::SeeReporterName, comune) {
                r.private.reporter_name.clone()
            } else {
                None
            };
        ReportView { report: PublicView::of(base, &r.public), reporter_name, private }
    }
}

/// A page of reports.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReportPage {
    pub(crate) reports: Vec<ReportView>,
    /// How many reports match the filters.
    pub(crate) total: i64,
    pub(crate) limit: i64,
    pub(crate) offset: i64,
    /// The `offset` of the next page, when there is one.
    pub(crate) next_offset: Option<i64>,
}

/// A report just filed, with the secret that follows it without an account.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Created {
    pub(crate) report: ReportView,
    /// Shown once: whoever holds it follows the report (`GET /api/reports/track/{token}`).
    #[schema(example = "vtr_0123456789abcdef0123456789abcdef")]
    pub(crate) tracking_token: String,
    /// The link to follow the report.
    pub(crate) tracking_url: String,
}

/// A report followed by its tracking link: its public side, whether it is visible to the public yet, and its
/// public history.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Tracked {
    pub(crate) report: PublicView,
    /// False while it waits for a moderator's approval or after a moderator hid it.
    pub(crate) public: bool,
    pub(crate) history: Vec<StepView>,
}

/// One step of the workflow. The public sees neither the actor nor the private note.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StepView {
    pub(crate) at: DateTime<Utc>,
    /// Null for the filing.
    pub(crate) from: Option<StatusName>,
    pub(crate) to: StatusName,
    /// `to` in Italian.
    pub(crate) label: String,
    pub(crate) public_note: Option<String>,
    /// Who made the step (operators of the comune only).
    pub(crate) actor_name: Option<String>,
    /// The operators' note (operators of the comune only).
    pub(crate) private_note: Option<String>,
}

impl StepView {
    pub(crate) fn of(step: Step, private: bool) -> StepView {
        StepView {
            at: step.at,
            from: step.from.map(Into::into),
            to: step.to.into(),
            label: step.to.label_it().to_string(),
            public_note: step.public_note,
            actor_name: if private { step.actor_name } else { None },
            private_note: if private { step.private_note } else { None },
        }
    }
}

/// An intervention on the ground: the team, when it is planned, when it was done and how it went.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InterventionView {
    pub(crate) id: i64,
    pub(crate) report_id: i64,
    #[schema(example = "Squadra manutenzione strade 3")]
    pub(crate) team: String,
    pub(crate) scheduled_for: Option<NaiveDate>,
    pub(crate) done_at: Option<DateTime<Utc>>,
    pub(crate) outcome: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

impl From<Intervention> for InterventionView {
    fn from(i: Intervention) -> Self {
        InterventionView {
            id: i.id,
            report_id: i.report_id,
            team: i.team,
            scheduled_for: i.scheduled_for,
            done_at: i.done_at,
            outcome: i.outcome,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// An open report near a point: whether the new one is a duplicate is for the citizen to judge.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NearbyView {
    pub(crate) report: PublicView,
    /// Metres from the point asked about.
    pub(crate) distance_m: f64,
    /// Seconds since it was filed.
    pub(crate) age_s: i64,
    /// The thumbnail of its first photo, if it has one.
    pub(crate) thumbnail_url: Option<String>,
}

/// Open reports near a point, nearest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NearbyList {
    pub(crate) reports: Vec<NearbyView>,
}

/// A "me too".
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Supported {
    /// The report that counts the support (the original, for a duplicate).
    pub(crate) id: i64,
    pub(crate) supporters: i32,
}
