//! Reading service requests: `GET requests.{json,xml}` (filters, at most 1,000, the last 90 days by default),
//! `GET requests/{id}.{json,xml}` and `GET tokens/{id}.{json,xml}` (requests get their id at once, so the token
//! is the id).
//!
//! Only public reports (approved, not hidden) are served, and only their public fields: [`ServiceRequest`] is
//! built from a [`PublicReport`], which has no reporter field at all.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use reports::Status;
use reports::report::{PublicReport, ReportQuery};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{Open311Error, Result};
use super::format::{Format, ToXml, Xml, datetime};
use super::params::Params;
use super::services::jurisdiction;
use crate::AppState;

/// Most requests in one answer.
pub(crate) const MAX_REQUESTS: i64 = 1000;
/// The default window, and the widest one, of `GET requests`, in days.
pub(crate) const WINDOW_DAYS: i64 = 90;
/// Most service codes in one `service_code` filter.
const MAX_CODES: usize = 20;
/// The years a date filter may name (PostgreSQL and chrono disagree beyond: no bound may overflow either).
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// A service request (a public report) as GeoReport v2 writes it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServiceRequest {
    #[schema(example = "42")]
    pub service_request_id: String,
    /// `open` or `closed`.
    #[schema(example = "open")]
    pub status: &'static str,
    /// The comune's last public note.
    pub status_notes: Option<String>,
    /// The category's name.
    #[schema(example = "Buca stradale")]
    pub service_name: String,
    /// The category's code.
    #[schema(example = "buca_stradale")]
    pub service_code: String,
    pub description: String,
    /// The comune the report is with.
    #[schema(example = "Genova")]
    pub agency_responsible: String,
    /// Where the report is in Vedetta's finer workflow (`Presa in carico`, …).
    pub service_notice: Option<String>,
    /// When it was filed (ISO 8601 with offset).
    pub requested_datetime: String,
    /// When it last changed.
    pub updated_datetime: String,
    pub expected_datetime: Option<String>,
    /// Reverse geocoded from ANNCSU (`Via Roma 12`), when toponymy is loaded.
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub zipcode: Option<String>,
    /// WGS84 latitude, degrees.
    pub lat: f64,
    /// WGS84 longitude, degrees.
    pub long: f64,
    /// The first photo, or the client's `media_url`.
    pub media_url: Option<String>,
}

impl ServiceRequest {
    /// The public report `r`; photo links on `public_url`.
    pub(crate) fn of(r: &PublicReport, public_url: &str) -> ServiceRequest {
        let status_notes = r.public_note.clone().or_else(|| {
            r.duplicate_of
                .filter(|_| r.status == Status::Duplicate)
                .map(|n| format!("Duplicata della segnalazione {n}"))
        });
        let media_url = r
            .photos
            .first()
            .map(|p| format!("{public_url}/api/reports/photos/{}", p.sha256))
            .or_else(|| r.media_url.clone());
        ServiceRequest {
            service_request_id: r.id.to_string(),
            status: r.status.open311(),
            status_notes,
            service_name: r.category_name.clone(),
            service_code: r.category.clone(),
            description: r.description.clone(),
            agency_responsible: r.comune_name.clone(),
            service_notice: Some(r.status_label.clone()),
            requested_datetime: datetime(r.created_at),
            updated_datetime: datetime(r.updated_at),
            expected_datetime: None,
            address: r.address.clone(),
            address_id: None,
            zipcode: None,
            lat: r.lat,
            long: r.lon,
            media_url,
        }
    }
}

impl ToXml for ServiceRequest {
    const ELEMENT: &'static str = "request";
    fn children(&self, x: &mut Xml) {
        x.text("service_request_id", &self.service_request_id);
        x.text("status", self.status);
        x.opt("status_notes", self.status_notes.as_deref());
        x.text("service_name", &self.service_name);
        x.text("service_code", &self.service_code);
        x.text("description", &self.description);
        x.text("agency_responsible", &self.agency_responsible);
        x.opt("service_notice", self.service_notice.as_deref());
        x.text("requested_datetime", &self.requested_datetime);
        x.text("updated_datetime", &self.updated_datetime);
        x.opt("expected_datetime", self.expected_datetime.as_deref());
        x.opt("address", self.address.as_deref());
        x.opt("address_id", self.address_id.as_deref());
        x.opt("zipcode", self.zipcode.as_deref());
        x.number("lat", self.lat);
        x.number("long", self.long);
        x.opt("media_url", self.media_url.as_deref());
    }
}

/// The answer of `GET tokens/{token}`: the request the token stands for.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenAnswer {
    #[schema(example = "42")]
    pub service_request_id: String,
    #[schema(example = "42")]
    pub token: String,
}

impl ToXml for TokenAnswer {
    const ELEMENT: &'static str = "request";
    fn children(&self, x: &mut Xml) {
        x.text("service_request_id", &self.service_request_id);
        x.text("token", &self.token);
    }
}

/// A request id as it appears in a path: a positive integer written canonically (`42`, not `042` or `+42`).
pub(crate) fn parse_id(id: &str) -> Option<i64> {
    id.parse::<i64>().ok().filter(|n| *n > 0 && n.to_string() == id)
}

/// `GET requests.{format}`.
pub(crate) async fn list(state: &AppState, format: Format, params: &Params) -> Result<Vec<ServiceRequest>> {
    let mut query = ReportQuery { public_only: true, limit: MAX_REQUESTS, ..ReportQuery::default() };
    // `service_request_id` overrides every other filter (the spec's words).
    if let Some(ids) = params.get("service_request_id") {
        query.ids = ids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                parse_id(s).ok_or_else(|| {
                    Open311Error::bad(
                        format,
                        format!("service_request_id `{}` is not a request id", s.escape_debug()),
                    )
                })
            })
            .collect::<Result<Vec<i64>>>()?;
        if query.ids.len() > MAX_REQUESTS as usize {
            return Err(Open311Error::bad(
                format,
                format!("at most {MAX_REQUESTS} service_request_id at once"),
            ));
        }
        return fetch(state, format, &query, &[]).await;
    }
    if let Some((istat, _)) = jurisdiction(state, format, params).await? {
        query.comuni = Some(vec![istat]);
    }
    let (from, to) = window(format, params.get("start_date"), params.get("end_date"), Utc::now())?;
    query.from = Some(from);
    query.to = Some(to);
    if let Some(status) = params.get("status") {
        query.status = statuses(format, status)?;
    }
    let codes = match params.get("service_code") {
        Some(codes) => service_codes(format, codes)?,
        None => Vec::new(),
    };
    fetch(state, format, &query, &codes).await
}

/// The reports `query` selects, in any of `codes` (all when empty), newest first, at most [`MAX_REQUESTS`].
async fn fetch(
    state: &AppState,
    format: Format,
    query: &ReportQuery,
    codes: &[String],
) -> Result<Vec<ServiceRequest>> {
    let mut found = Vec::new();
    let queries: Vec<ReportQuery> = if codes.is_empty() {
        vec![query.clone()]
    } else {
        codes.iter().map(|c| ReportQuery { category: Some(c.clone()), ..query.clone() }).collect()
    };
    for q in &queries {
        let (reports, _) =
            reports::report::list(state.pool(), q).await.map_err(|e| super::reports_error(format, e))?;
        found.extend(reports.into_iter().map(|r| r.public));
    }
    found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    found.truncate(MAX_REQUESTS as usize);
    Ok(found.iter().map(|r| ServiceRequest::of(r, state.public_url())).collect())
}

/// `GET requests/{id}.{format}`: the public report `id`, as a list of one.
pub(crate) async fn one(state: &AppState, format: Format, id: &str) -> Result<Vec<ServiceRequest>> {
    let report = public_report(state, format, id).await?;
    Ok(vec![ServiceRequest::of(&report, state.public_url())])
}

/// `GET tokens/{token}.{format}`: the token is the request id.
pub(crate) async fn token(state: &AppState, format: Format, token: &str) -> Result<Vec<TokenAnswer>> {
    let report = public_report(state, format, token).await?;
    Ok(vec![TokenAnswer { service_request_id: report.id.to_string(), token: token.to_string() }])
}

async fn public_report(state: &AppState, format: Format, id: &str) -> Result<PublicReport> {
    let not_found =
        || Open311Error::not_found(format, format!("there is no service request `{}`", id.escape_debug()));
    let n = parse_id(id).ok_or_else(not_found)?;
    match reports::report::get(state.pool(), n).await.map_err(|e| super::reports_error(format, e))? {
        Some(report) if report.is_public() => Ok(report.public),
        _ => Err(not_found()),
    }
}

/// The statuses of `status=open,closed`.
fn statuses(format: Format, value: &str) -> Result<Vec<Status>> {
    let mut out = Vec::new();
    for s in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let open = match s {
            "open" => true,
            "closed" => false,
            other => {
                return Err(Open311Error::bad(
                    format,
                    format!("status `{}` is neither open nor closed", other.escape_debug()),
                ));
            }
        };
        for st in Status::ALL {
            if st.is_open() == open && !out.contains(&st) {
                out.push(st);
            }
        }
    }
    Ok(out)
}

/// The codes of `service_code=a,b`.
fn service_codes(format: Format, value: &str) -> Result<Vec<String>> {
    let mut codes: Vec<String> = Vec::new();
    for c in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let ok =
            c.len() <= 50 && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(Open311Error::bad(
                format,
                format!("service_code `{}` is not a service code", c.escape_debug()),
            ));
        }
        if !codes.iter().any(|k| k == c) {
            codes.push(c.to_string());
        }
    }
    if codes.len() > MAX_CODES {
        return Err(Open311Error::bad(format, format!("at most {MAX_CODES} service codes at once")));
    }
    Ok(codes)
}

/// The window of `start_date` and `end_date`: the last [`WINDOW_DAYS`] days by default; one bound alone opens a
/// window of that many days from it; both may not span more.
fn window(
    format: Format,
    start: Option<&str>,
    end: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let span = Duration::days(WINDOW_DAYS);
    let start = start.map(|s| parse_datetime(format, "start_date", s)).transpose()?;
    let end = end.map(|s| parse_datetime(format, "end_date", s)).transpose()?;
    // A bound near the ends of the calendar must not overflow when the window is opened from it.
    let beyond = || Open311Error::bad(format, "start_date and end_date must lie within years 1 to 9999");
    let (from, to) = match (start, end) {
        (None, None) => (now - span, now),
        (Some(s), None) => (s, s.checked_add_signed(span).ok_or_else(beyond)?),
        (None, Some(e)) => (e.checked_sub_signed(span).ok_or_else(beyond)?, e),
        (Some(s), Some(e)) => (s, e),
    };
    if !(YEARS.contains(&from.year()) && YEARS.contains(&to.year())) {
        return Err(beyond());
    }
    if from > to {
        return Err(Open311Error::bad(format, "start_date is after end_date"));
    }
    if to - from > span {
        return Err(Open311Error::bad(
            format,
            format!("start_date to end_date spans {} days; at most {WINDOW_DAYS}", (to - from).num_days()),
        ));
    }
    Ok((from, to))
}

/// An ISO 8601 date and time with its offset (`2026-03-01T10:00:00+01:00`, `…Z`), or a date (midnight UTC).
/// A `+` left unencoded in a query string arrives as a space: it is read back as the `+` of the offset.
pub(crate) fn parse_datetime(format: Format, name: &str, value: &str) -> Result<DateTime<Utc>> {
    let mut text = value.trim().to_string();
    if text.len() > 6 && text.as_bytes()[text.len() - 6] == b' ' && text.is_char_boundary(text.len() - 6) {
        let at = text.len() - 6;
        text.replace_range(at..at + 1, "+");
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    Err(Open311Error::bad(
        format,
        format!(
            "{name} `{}` is not an ISO 8601 date and time with offset, e.g. 2026-03-01T00:00:00Z",
            value.escape_debug()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn ids_are_canonical_positive_integers() {
        assert_eq!(parse_id("42"), Some(42));
        for bad in ["042", "+42", "0", "-1", "4 2", "x", "", "99999999999999999999"] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_window_defaults_to_the_last_90_days_and_is_bounded() {
        let now = at("2026-06-01T12:00:00Z");
        let (from, to) = window(Format::Json, None, None, now).unwrap();
        assert_eq!((to - from).num_days(), 90);
        assert_eq!(to, now);
        let (from, to) = window(Format::Json, Some("2026-01-01"), None, now).unwrap();
        assert_eq!(from, at("2026-01-01T00:00:00Z"));
        assert_eq!(to, at("2026-04-01T00:00:00Z"));
        assert!(
            window(Format::Json, Some("2026-01-01"), Some("2026-06-01"), now).is_err(),
            "more than 90 days"
        );
        assert!(window(Format::Json, Some("2026-02-01"), Some("2026-01-01"), now).is_err(), "reversed");
        assert!(window(Format::Json, Some("yesterday"), None, now).is_err());
        for (start, end) in [
            (Some("+262142-12-31"), None),
            (None, Some("-262143-01-01")),
            (Some("0000-01-01"), None),
            (Some("9999-12-31"), None),
        ] {
            assert!(window(Format::Json, start, end, now).is_err(), "{start:?} {end:?}: refused, no panic");
        }
        assert!(window(Format::Json, None, Some("9999-12-31T23:59:59Z"), now).is_ok());
    }

    #[test]
    fn datetimes_take_offsets_even_when_the_plus_was_not_encoded() {
        let t = parse_datetime(Format::Xml, "start_date", "2026-03-01T10:00:00 01:00").unwrap();
        assert_eq!(t, at("2026-03-01T09:00:00Z"));
        assert!(parse_datetime(Format::Xml, "start_date", "2026-03-01T10:00:00").is_err(), "no offset");
    }

    #[test]
    fn statuses_and_codes_are_checked() {
        let open = statuses(Format::Json, "open").unwrap();
        assert!(open.iter().all(|s| s.is_open()) && open.contains(&Status::Reopened));
        assert_eq!(statuses(Format::Json, "open,closed").unwrap().len(), Status::ALL.len());
        assert!(statuses(Format::Json, "pending").is_err());
        assert_eq!(service_codes(Format::Json, "a, b,a").unwrap(), ["a", "b"]);
        assert!(service_codes(Format::Json, "Buca").is_err());
    }
}
