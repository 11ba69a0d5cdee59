//! Reading reports: the filtered listing, one report, the tracking link, nearby open reports, and "me too".

use axum::Json;
use axum::extract::{Path, Query, State};
use reports::report::ReportQuery;
use reports::{Action, Status};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use super::create::ClientIp;
use super::view::{NearbyList, NearbyView, PublicView, ReportPage, ReportView, StepView, Supported, Tracked};
use super::{Viewer, base_url, bbox, is_category_code, is_public, istat, page, period, point, visible};
use crate::{ApiError, AppState, Caller};

/// The filters of a listing (and of the open data).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Filters {
    /// ISTAT codes of comuni, comma separated.
    #[param(example = "010025")]
    pub(crate) comune: Option<String>,
    /// A category code.
    #[param(example = "buca_stradale")]
    pub(crate) category: Option<String>,
    /// Statuses, comma separated (`new`, `acknowledged`, `in_progress`, `resolved`, `closed`, `rejected`,
    /// `duplicate`, `reopened`).
    #[param(example = "new,acknowledged")]
    pub(crate) status: Option<String>,
    /// `minlon,minlat,maxlon,maxlat` in WGS84 degrees.
    #[param(example = "8.9,44.4,9.0,44.5")]
    pub(crate) bbox: Option<String>,
    /// Filed at or after (a date, or an RFC 3339 time).
    #[param(example = "2026-11-01")]
    pub(crate) from: Option<String>,
    /// Filed before the end of (a date), or at or before (an RFC 3339 time).
    #[param(example = "2026-11-30")]
    pub(crate) to: Option<String>,
}

/// Most comuni one filter names.
const MAX_COMUNI: usize = 200;

impl Filters {
    /// The domain's query for these filters (public only, no paging yet).
    pub(crate) fn query(&self) -> Result<ReportQuery, ApiError> {
        let comuni = match self.comune.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(list) => {
                let codes: Vec<String> =
                    list.split(',').map(|c| istat("comune", c.trim())).collect::<Result<_, _>>()?;
                if codes.len() > MAX_COMUNI {
                    return Err(ApiError::BadRequest(format!(
                        "`comune` may name at most {MAX_COMUNI} comuni"
                    )));
                }
                Some(codes)
            }
        };
        let category = match self.category.as_deref() {
            Some(c) if !is_category_code(c) => {
                return Err(ApiError::BadRequest(format!(
                    "`category` {c:?} is not a category code (lowercase letters, digits and _)"
                )));
            }
            other => other.map(str::to_string),
        };
        let status = match self.status.as_deref().filter(|s| !s.is_empty()) {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|s| s.trim().parse::<Status>().map_err(|e| ApiError::BadRequest(e.to_string())))
                .collect::<Result<_, _>>()?,
        };
        let bbox = self.bbox.as_deref().map(bbox).transpose()?;
        let (from, to) = period(self.from.as_deref(), self.to.as_deref())?;
        Ok(ReportQuery {
            comuni,
            category,
            status,
            bbox,
            from,
            to,
            ids: Vec::new(),
            public_only: true,
            limit: 100,
            offset: 0,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// Most reports, 1..1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Reports to skip, 0..100000 (the `next_offset` of the previous page).
    #[param(minimum = 0, maximum = 100000)]
    offset: Option<i64>,
}

/// Most reports one page holds.
const MAX_PAGE: i64 = 1000;
/// The deepest `offset` of a listing; narrow it with filters instead.
const MAX_OFFSET: i64 = 100_000;

/// `GET /api/reports?comune=&category=&status=&bbox=&from=&to=&limit=&offset=`: reports, newest first. The public
/// sees the public reports (approved, not hidden) and their public fields. Whoever may see the private data of
/// every comune named in `comune` (operators of those comuni, civil protection, admins) sees their hidden and
/// unapproved reports too, with the reporter.
#[utoipa::path(get, path = "/api/reports", operation_id = "list_reports", tag = "reports",
    security((), ("bearer" = [])), params(Filters, PageQuery),
    responses((status = 200, description = "A page of reports, newest first", body = ReportPage)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Option<Caller>,
    Query(filters): Query<Filters>,
    Query(p): Query<PageQuery>,
) -> Result<Json<ReportPage>, ApiError> {
    let viewer = Viewer::of(caller);
    let (limit, offset) = page(p.limit, p.offset, 100, MAX_PAGE, MAX_OFFSET)?;
    let mut q = filters.query()?;
    q.public_only = match (viewer.access.comuni_for(Action::SeePrivate), &q.comuni) {
        (None, _) => false,
        (Some(allowed), Some(asked)) => !asked.iter().all(|c| allowed.contains(c)),
        (Some(_), None) => true,
    };
    q.limit = limit;
    q.offset = offset;
    let (found, total) = reports::report::list(state.pool(), &q).await?;
    let base = base_url(&state);
    let reports: Vec<ReportView> = found.iter().map(|r| ReportView::of(&base, &viewer, r)).collect();
    let next_offset =
        (offset + (reports.len() as i64) < total && offset + limit <= MAX_OFFSET).then_some(offset + limit);
    Ok(Json(ReportPage { reports, total, limit, offset, next_offset }))
}

/// `GET /api/reports/{id}`: one report as the caller may see it (404 for a hidden or unapproved report unless
/// the caller may see the comune's private data).
#[utoipa::path(get, path = "/api/reports/{id}", operation_id = "get_report", tag = "reports",
    security((), ("bearer" = [])),
    params(("id" = i64, Path, description = "Report id", minimum = 1)),
    responses((status = 200, description = "The report", body = ReportView)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Option<Caller>,
    Path(id): Path<i64>,
) -> Result<Json<ReportView>, ApiError> {
    let viewer = Viewer::of(caller);
    let report = visible(&state, &viewer, id).await?;
    Ok(Json(ReportView::of(&base_url(&state), &viewer, &report)))
}

/// Whether `token` has the shape of a tracking token (`vtr_` and 32 hexadecimal digits).
fn plausible_token(token: &str) -> bool {
    token
        .strip_prefix("vtr_")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `GET /api/reports/track/{token}`: the report the tracking token belongs to, with its public history — also
/// while it waits for approval. Without an account; the token is the secret.
#[utoipa::path(get, path = "/api/reports/track/{token}", operation_id = "track_report", tag = "reports",
    params(("token" = String, Path, description = "The tracking token given when the report was filed",
        example = "vtr_0123456789abcdef0123456789abcdef")),
    responses((status = 200, description = "The report and its public history", body = Tracked)))]
pub(crate) async fn track(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<Tracked>, ApiError> {
    let unknown = || ApiError::NotFound("no report has this tracking token".into());
    if !plausible_token(&token) {
        return Err(unknown());
    }
    let report = reports::report::by_tracking(state.pool(), &token).await?.ok_or_else(unknown)?;
    let history = reports::report::history(state.pool(), report.public.id).await?;
    Ok(Json(Tracked {
        report: PublicView::of(&base_url(&state), &report.public),
        public: is_public(&report),
        history: history.into_iter().map(|s| StepView::of(s, false)).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NearbyQuery {
    /// WGS84 longitude, degrees.
    #[param(example = 8.934, minimum = -180, maximum = 180)]
    lon: Option<f64>,
    /// WGS84 latitude, degrees.
    #[param(example = 44.4073, minimum = -90, maximum = 90)]
    lat: Option<f64>,
    /// Only reports of this category (the one about to be filed).
    #[param(example = "buca_stradale")]
    category: Option<String>,
    /// Metres around the point, 1..250 (default 250).
    #[param(minimum = 1, maximum = 250)]
    radius: Option<f64>,
    /// Most reports, 1..50 (default 10).
    #[param(minimum = 1, maximum = 50)]
    limit: Option<i64>,
}

/// `GET /api/reports/nearby?lon=&lat=&category=&radius=&limit=`: open public reports near a point, nearest first,
/// each with its first photo's thumbnail, its distance and its age: before filing, a citizen sees whether the
/// problem is known already and may support it instead.
#[utoipa::path(get, path = "/api/reports/nearby", operation_id = "nearby_reports", tag = "reports",
    params(NearbyQuery),
    responses((status = 200, description = "Open reports near the point, nearest first", body = NearbyList)))]
pub(crate) async fn nearby(
    State(state): State<AppState>,
    Query(q): Query<NearbyQuery>,
) -> Result<Json<NearbyList>, ApiError> {
    let (lon, lat) = point(q.lon, q.lat)?;
    let radius = q.radius.unwrap_or(250.0);
    if !(radius.is_finite() && (1.0..=250.0).contains(&radius)) {
        return Err(ApiError::BadRequest("`radius` must be between 1 and 250 metres".into()));
    }
    let limit = q.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::BadRequest("`limit` must be between 1 and 50".into()));
    }
    if let Some(c) = q.category.as_deref()
        && !is_category_code(c)
    {
        return Err(ApiError::BadRequest(format!("`category` {c:?} is not a category code")));
    }
    let found = reports::report::nearby(state.pool(), lon, lat, q.category.as_deref(), radius, limit).await?;
    let base = base_url(&state);
    let reports = found
        .into_iter()
        .map(|n| {
            let report = PublicView::of(&base, &n.report);
            let thumbnail_url = report.photos.first().map(|p| p.thumb_url.clone());
            NearbyView { report, distance_m: n.distance_m, age_s: n.age_s, thumbnail_url }
        })
        .collect();
    Ok(Json(NearbyList { reports }))
}

/// `POST /api/reports/{id}/support`: "me too" on a public report, counted once per account (or per address and
/// day without one); on a duplicate it counts for the original.
#[utoipa::path(post, path = "/api/reports/{id}/support", operation_id = "support_report", tag = "reports",
    security((), ("bearer" = [])),
    params(("id" = i64, Path, description = "Report id", minimum = 1)),
    responses((status = 200, description = "The report counting the support, and its supporters", body = Supported)))]
pub(crate) async fn support(
    State(state): State<AppState>,
    caller: Option<Caller>,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> Result<Json<Supported>, ApiError> {
    let viewer = Viewer::of(caller);
    let report = visible(&state, &viewer, id).await?;
    let supporter = match (viewer.account_id, ip) {
        (Some(account), _) => format!("account:{account}"),
        (None, Some(ip)) => {
            let day = chrono::Utc::now().date_naive();
            format!("ip:{}", hex::encode(Sha256::digest(format!("{ip}|{day}"))))
        }
        (None, None) => "anonymous".to_string(),
    };
    let supporters = reports::report::support(state.pool(), id, &supporter).await?;
    Ok(Json(Supported { id: report.public.duplicate_of.unwrap_or(id), supporters }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked() {
        let ok = Filters {
            comune: Some("010025,010015".into()),
            status: Some("new,in_progress".into()),
            bbox: Some("8.9,44.4,9,44.5".into()),
            from: Some("2026-11-01".into()),
            ..Filters::default()
        };
        let q = ok.query().unwrap();
        assert_eq!(q.comuni.unwrap().len(), 2);
        assert_eq!(q.status, vec![Status::New, Status::InProgress]);
        for bad in [
            Filters { comune: Some("Genova".into()), ..Filters::default() },
            Filters { status: Some("done".into()), ..Filters::default() },
            Filters { category: Some("Buca!".into()), ..Filters::default() },
            Filters { from: Some("2026-12-01".into()), to: Some("2026-11-01".into()), ..Filters::default() },
        ] {
            assert!(bad.query().is_err(), "{bad:?}");
        }
        assert!(plausible_token("vtr_0123456789abcdef0123456789abcdef"));
        assert!(!plausible_token("vtr_../../etc") && !plausible_token("0123456789abcdef0123456789abcdef"));
    }
}
