//! Citizen reports over HTTP: `/api/reports…`, categories, transparency statistics, open data.
//!
//! # Who sees and does what
//!
//! Every permission is asked of [`reports::Access`] (`may(Action, comune)`, `comuni_for(Action)`), nothing else:
//!
//! | endpoint | the public (no credentials, citizens, councillors, planners) | operator of the comune, civil protection, admin |
//! |---|---|---|
//! | `POST /api/reports` | ✓ (rate limited per IP and per account) | ✓ (not rate limited) |
//! | `GET /api/reports`, `/{id}`, `/nearby`, `/track/{token}`, photos, `/stream`, open data, stats | public reports, public fields | + hidden and unapproved reports, the reporter, private notes |
//! | `GET /{id}/history` | public notes, no actor | everything |
//! | `GET /{id}/interventions`, `GET /{id}/moderation` | 404 | ✓ |
//! | `POST /{id}/transitions`, interventions | 403 on a public report, 404 on another | ✓ |
//! | `POST /{id}/moderation` | 403 on a public report, 404 on another | ✓ |
//! | categories and settings (`PUT`) | – | admin |
//!
//! A report the caller may not see (hidden, awaiting approval, of a comune whose private data the caller may not
//! see) is "not found" on every endpoint: its existence is not revealed. A public report whose handling the caller
//! may not do answers 403. Public outputs serialize only [`reports::report::PublicReport`]'s fields; the reporter's
//! name is added for who may `SeeReporterName` on a report that is not anonymous, the `private` block for who may
//! `SeePrivate`.

mod catalogue;
mod create;
mod moderation;
mod multipart;
mod opendata;
mod photos;
mod query;
mod stats;
mod stream;
mod view;
mod webhooks;
mod workflow;

use std::net::IpAddr;
use std::path::PathBuf;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post, put};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use reports::report::Report;
use reports::{Access, Action};
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::OpenApi;

use crate::{ApiError, AppState, Caller, MAX_BODY_BYTES};

pub(crate) use create::rate_limit;

/// How the reports API runs (from the `[reports]` configuration); set with `AppState::with_reports`.
#[derive(Debug, Clone)]
pub struct ReportsOptions {
    /// Where photos are stored by content hash (`<data dir>/photos`).
    pub photos_dir: PathBuf,
    /// Largest photo accepted, in bytes (10 MB).
    pub max_photo_bytes: usize,
    /// Most photos one report may carry (5).
    pub max_photos: usize,
    /// Reports one client IP address may file per hour (10); 0: no limit.
    pub reports_per_hour_ip: u32,
    /// Reports one account may file per hour (10); 0: no limit. Operators, civil protection and admins (whoever
    /// may handle reports) are not limited: offices file the reports they take on the phone.
    pub reports_per_hour_account: u32,
    /// The URL links (tracking, photos) are built on, without a trailing slash; `None`: `http.public_url`.
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed: the client is the rightmost address of that header
    /// that is not one of them. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for ReportsOptions {
    fn default() -> Self {
        ReportsOptions {
            photos_dir: std::env::temp_dir().join("vedetta-photos"),
            max_photo_bytes: 10 * 1024 * 1024,
            max_photos: 5,
            reports_per_hour_ip: 10,
            reports_per_hour_account: 10,
            public_url: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl ReportsOptions {
    /// The most bytes a report with its photos may have: every photo at its largest plus 1 MB for the rest.
    pub fn max_upload_bytes(&self) -> usize {
        self.max_photos.saturating_mul(self.max_photo_bytes).saturating_add(MAX_BODY_BYTES)
    }
}

/// The routes of this module (merged into the router by `app::router`). `POST /api/reports` takes photos: it reads
/// its body itself, up to [`ReportsOptions::max_upload_bytes`] (5 × 10 MB + 1 MB by default, following the
/// configuration); every other route keeps the 1 MB of the rest of the API.
pub(crate) fn routes() -> Router<AppState> {
    let filing = Router::new()
        .route("/api/reports", get(query::list).post(create::create))
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .route("/api/reports/nearby", get(query::nearby))
        .route("/api/reports/track/{token}", get(query::track))
        .route("/api/reports/stream", get(stream::stream))
        .route("/api/reports/categories", get(catalogue::categories))
        .route("/api/reports/categories/{comune}/{code}", put(catalogue::put_category))
        .route("/api/reports/settings/{comune}", get(catalogue::settings).put(catalogue::put_settings))
        .route("/api/reports/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/api/reports/webhooks/{id}", axum::routing::delete(webhooks::delete))
        .route("/api/reports/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/api/reports/opendata.geojson", get(opendata::geojson))
        .route("/api/reports/opendata.csv", get(opendata::csv))
        .route("/api/reports/photos/{sha256}", get(photos::photo))
        .route("/api/reports/photos/{sha256}/thumb", get(photos::thumb))
        .route("/api/reports/{id}", get(query::get))
        .route("/api/reports/{id}/support", post(query::support))
        .route("/api/reports/{id}/transitions", post(workflow::transition))
        .route("/api/reports/{id}/history", get(workflow::history))
        .route(
            "/api/reports/{id}/interventions",
            get(workflow::interventions).post(workflow::add_intervention),
        )
        .route("/api/reports/{id}/interventions/{iid}", patch(workflow::update_intervention))
        .route("/api/reports/{id}/moderation", get(moderation::log).post(moderation::moderate))
        .route("/api/stats/reports", get(stats::stats))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .merge(filing)
}

/// The operations of this module (merged into `/api/openapi.json`).
#[derive(OpenApi)]
#[openapi(
    paths(
        create::create,
        query::list,
        query::get,
        query::track,
        query::nearby,
        query::support,
        workflow::transition,
        workflow::history,
        workflow::interventions,
        workflow::add_intervention,
        workflow::update_intervention,
        moderation::moderate,
        moderation::log,
        photos::photo,
        photos::thumb,
        stream::stream,
        catalogue::categories,
        catalogue::put_category,
        catalogue::settings,
        catalogue::put_settings,
        webhooks::list,
        webhooks::create,
        webhooks::delete,
        webhooks::deliveries,
        stats::stats,
        opendata::geojson,
        opendata::csv,
    ),
    components(schemas(
        view::ReportView,
        view::PublicView,
        view::PrivateView,
        view::PhotoView,
        view::StatusName,
        view::ReporterTypeName,
        view::ReportPage,
        view::Created,
        view::Tracked,
        view::StepView,
        view::InterventionView,
        view::NearbyView,
        view::NearbyList,
        view::Supported,
        create::NewReportBody,
        webhooks::WebhookView,
        webhooks::WebhookBody,
        webhooks::CreatedView,
        webhooks::DeliveryView,
    )),
    tags((name = "reports", description = "Citizen reports (segnalazioni): filing with photos, the workflow, \
        interventions, moderation, categories, the live stream, transparency statistics and open data"))
)]
pub(crate) struct Api;

/// Who is asking: the powers of the credentials presented, none for the public.
#[derive(Debug, Clone, Default)]
pub(crate) struct Viewer {
    pub(crate) access: Access,
    pub(crate) account_id: Option<i64>,
    /// The display name of the caller, for the workflow's records.
    pub(crate) name: Option<String>,
}

impl Viewer {
    pub(crate) fn of(caller: Option<Caller>) -> Viewer {
        match caller {
            Some(c) => Viewer { access: c.access, account_id: c.account_id, name: Some(c.name) },
            None => Viewer::default(),
        }
    }

    pub(crate) fn may(&self, action: Action, comune: &str) -> bool {
        self.access.may(action, comune)
    }

    /// Whether the viewer may see this report at all (public, or its private side).
    fn sees(&self, report: &Report) -> bool {
        is_public(report) || self.may(Action::SeePrivate, &report.public.comune)
    }

    /// Whether the viewer may handle reports somewhere (staff: not rate limited).
    pub(crate) fn is_staff(&self) -> bool {
        self.access.comuni_for(Action::Handle).is_none_or(|c| !c.is_empty())
    }

    /// The actor the domain records for this viewer's actions.
    pub(crate) fn actor(&self) -> reports::report::Actor {
        reports::report::Actor {
            account_id: self.account_id,
            name: self.name.clone().unwrap_or_else(|| "anonymous".into()),
        }
    }
}

/// Whether the public may see a report: approved and not hidden.
pub(crate) fn is_public(report: &Report) -> bool {
    report.is_public()
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("no report has the id {id}"))
}

/// The report `id` if the viewer may see it; 404 otherwise (its existence is not revealed).
pub(crate) async fn visible(state: &AppState, viewer: &Viewer, id: i64) -> Result<Report, ApiError> {
    match reports::report::get(state.pool(), id).await? {
        Some(report) if viewer.sees(&report) => Ok(report),
        _ => Err(not_found(id)),
    }
}

/// The report `id` for an endpoint that shows its private side: 404 unless the viewer may see it.
pub(crate) async fn private(state: &AppState, viewer: &Viewer, id: i64) -> Result<Report, ApiError> {
    match reports::report::get(state.pool(), id).await? {
        Some(report) if viewer.may(Action::SeePrivate, &report.public.comune) => Ok(report),
        _ => Err(not_found(id)),
    }
}

/// The report `id` for an action: 404 unless the viewer may see it, 403 unless it may do `action` there.
pub(crate) async fn actionable(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    action: Action,
) -> Result<Report, ApiError> {
    let report = visible(state, viewer, id).await?;
    if viewer.may(action, &report.public.comune) {
        Ok(report)
    } else {
        let what = match action {
            Action::Moderate => "moderate",
            _ => "handle",
        };
        Err(ApiError::Forbidden(format!(
            "you may not {what} the reports of comune {} ({})",
            report.public.comune, report.public.comune_name
        )))
    }
}

/// The URL links are built on.
pub(crate) fn base_url(state: &AppState) -> String {
    state.reports().public_url.as_deref().unwrap_or(state.public_url()).trim_end_matches('/').to_string()
}

// ---- validation of what clients send -------------------------------------------------------------------------

/// Most bytes of free text (notes, reasons) in a workflow body, in characters.
pub(crate) const MAX_NOTE_CHARS: usize = 4000;

/// An optional free-text field: trimmed, empty as absent, at most `max` characters, no control characters but
/// line breaks and tabs.
pub(crate) fn text(name: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().count() > max {
        return Err(ApiError::Unprocessable(format!("`{name}` is longer than {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ApiError::Unprocessable(format!("`{name}` contains control characters")));
    }
    Ok(Some(value.to_string()))
}

/// Whether `code` is an ISTAT comune code (six digits).
pub(crate) fn is_istat(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Checks an ISTAT code given as `name`.
pub(crate) fn istat(name: &str, code: &str) -> Result<String, ApiError> {
    if is_istat(code) {
        Ok(code.to_string())
    } else {
        Err(ApiError::BadRequest(format!(
            "`{name}` must be an ISTAT comune code of six digits, such as 010025"
        )))
    }
}

/// Whether `code` can be a category code (`[a-z0-9_]{1,50}`).
pub(crate) fn is_category_code(code: &str) -> bool {
    (1..=50).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A point in WGS84 degrees, checked.
pub(crate) fn point(lon: Option<f64>, lat: Option<f64>) -> Result<(f64, f64), ApiError> {
    match (lon, lat) {
        (Some(lon), Some(lat))
            if lon.is_finite()
                && lat.is_finite()
                && (-180.0..=180.0).contains(&lon)
                && (-90.0..=90.0).contains(&lat) =>
        {
            Ok((lon, lat))
        }
        (Some(_), Some(_)) => {
            Err(ApiError::BadRequest("`lat` must be within ±90 and `lon` within ±180".into()))
        }
        _ => Err(ApiError::BadRequest("`lon` and `lat` (WGS84 degrees) are required".into())),
    }
}

/// A `minlon,minlat,maxlon,maxlat` bounding box in WGS84 degrees, checked.
pub(crate) fn bbox(value: &str) -> Result<[f64; 4], ApiError> {
    let bad = || {
        ApiError::BadRequest(
            "`bbox` must be minlon,minlat,maxlon,maxlat in WGS84 degrees, such as 8.9,44.4,9.0,44.5".into(),
        )
    };
    let numbers: Vec<f64> =
        value.split(',').map(|n| n.trim().parse::<f64>().map_err(|_| bad())).collect::<Result<_, _>>()?;
    let [x0, y0, x1, y1] = numbers[..] else { return Err(bad()) };
    if !numbers.iter().all(|n| n.is_finite())
        || !(-180.0..=180.0).contains(&x0)
        || !(-180.0..=180.0).contains(&x1)
        || !(-90.0..=90.0).contains(&y0)
        || !(-90.0..=90.0).contains(&y1)
    {
        return Err(ApiError::BadRequest("`bbox` lies outside ±180 longitude or ±90 latitude".into()));
    }
    if x0 > x1 || y0 > y1 {
        return Err(ApiError::BadRequest(
            "`bbox` must list the minimum longitude and latitude first (minlon,minlat,maxlon,maxlat)".into(),
        ));
    }
    Ok([x0, y0, x1, y1])
}

/// The years a date in a query may name.
pub(crate) const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// A time given as RFC 3339 or as a date (`end`: the end of that day, else its start; UTC).
pub(crate) fn time(name: &str, value: &str, end: bool) -> Result<DateTime<Utc>, ApiError> {
    let parsed = if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        Some((t.year(), t.with_timezone(&Utc)))
    } else if let Ok(d) = value.parse::<NaiveDate>() {
        let day = if end { d.succ_opt().unwrap_or(d) } else { d };
        Some((d.year(), day.and_time(NaiveTime::MIN).and_utc()))
    } else {
        None
    };
    if let Some((year, t)) = parsed {
        // Far years (chrono reads ±262143) would overflow a period computed from them, or PostgreSQL.
        if !YEARS.contains(&year) || !YEARS.contains(&t.year()) && year != *YEARS.end() {
            return Err(ApiError::BadRequest(format!("`{name}` must lie within the years 1 to 9999")));
        }
        return Ok(t);
    }
    Err(ApiError::BadRequest(format!(
        "`{name}` must be a date such as 2026-11-22 or an RFC 3339 time such as 2026-11-22T10:00:00Z \
         (a `+` written %2B)"
    )))
}

/// A period: its start and its end, either open.
pub(crate) type Period = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The `from` and `to` of a query, checked and in order.
pub(crate) fn period(from: Option<&str>, to: Option<&str>) -> Result<Period, ApiError> {
    let from = from.map(|f| time("from", f, false)).transpose()?;
    let to = to.map(|t| time("to", t, true)).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(ApiError::BadRequest("`from` must be before `to`".into()));
    }
    Ok((from, to))
}

/// Checks a `limit` (default `default`, 1..=`max`) and an `offset` (0..=`max_offset`).
pub(crate) fn page(
    limit: Option<i64>,
    offset: Option<i64>,
    default: i64,
    max: i64,
    max_offset: i64,
) -> Result<(i64, i64), ApiError> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::BadRequest(format!("`limit` must be between 1 and {max}")));
    }
    let offset = offset.unwrap_or(0);
    if !(0..=max_offset).contains(&offset) {
        return Err(ApiError::BadRequest(format!(
            "`offset` must be between 0 and {max_offset}; narrow the query with filters instead"
        )));
    }
    Ok((limit, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_must_be_ordered_and_on_the_earth() {
        assert_eq!(bbox("8.9,44.4,9.0,44.5").unwrap(), [8.9, 44.4, 9.0, 44.5]);
        for bad in
            ["9.0,44.4,8.9,44.5", "8.9,44.4,9.0", "a,b,c,d", "8.9,44.4,9.0,95", "NaN,1,2,3", "1,2,3,4,5"]
        {
            assert!(bbox(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn points_dates_and_pages_are_checked() {
        assert!(point(Some(8.93), Some(44.4)).is_ok());
        assert!(point(Some(181.0), Some(44.4)).is_err() && point(Some(f64::NAN), Some(1.0)).is_err());
        assert!(point(None, Some(1.0)).is_err());
        let (from, to) = period(Some("2026-11-01"), Some("2026-11-01")).unwrap();
        assert_eq!((to.unwrap() - from.unwrap()).num_hours(), 24);
        assert!(period(Some("2026-11-02"), Some("2026-11-01")).is_err());
        assert!(period(Some("yesterday"), None).is_err());
        for far in ["+262142-12-31", "-262143-01-01", "0000-06-01", "-0001-01-01"] {
            assert!(period(Some(far), None).is_err() && period(None, Some(far)).is_err(), "{far}");
        }
        assert!(period(Some("0001-01-01"), Some("9999-12-31")).is_ok());
        assert!(page(Some(1001), None, 100, 1000, 10_000).is_err());
        assert_eq!(page(None, None, 100, 1000, 10_000).unwrap(), (100, 0));
        assert!(is_istat("010025") && !is_istat("10025") && !is_istat("01002a"));
        assert!(is_category_code("buca_stradale") && !is_category_code("Buca") && !is_category_code(""));
        assert_eq!(text("note", Some("  x ".into()), 10).unwrap().as_deref(), Some("x"));
        assert!(text("note", Some("a\u{0}".into()), 10).is_err());
    }

    #[test]
    fn the_upload_limit_holds_every_photo() {
        let o = ReportsOptions::default();
        assert_eq!(o.max_upload_bytes(), 5 * 10 * 1024 * 1024 + MAX_BODY_BYTES);
    }
}
