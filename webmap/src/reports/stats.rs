//! `GET /api/stats/reports`: transparency statistics of the public reports (Palermo's public dashboards).

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use reports::stats::{Count, Hours, Rank, Stats, StatsQuery, Timing};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{istat, period};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsParams {
    /// One comune (ISTAT code); every comune when absent.
    #[param(example = "010025")]
    comune: Option<String>,
    /// Reports filed at or after (a date, or an RFC 3339 time); default a year ago.
    #[param(example = "2026-01-01")]
    from: Option<String>,
    /// Reports filed before the end of (a date), or at or before (an RFC 3339 time); default now.
    #[param(example = "2026-12-31")]
    to: Option<String>,
    /// Fewer reports than this in a group: its times are given but not ranked (default 5, 1..1000).
    #[param(minimum = 1, maximum = 1000)]
    min_count: Option<i64>,
}

/// The longest period the statistics cover at once.
const MAX_DAYS: i64 = 3660;

/// `GET /api/stats/reports?comune=&from=&to=&min_count=`: counts by category and status; median and 90th
/// percentile hours to acknowledge and to resolve per comune and per category. A group with fewer than
/// `min_count` reports is not ranked: one fast fix does not make a comune "the most responsive".
#[utoipa::path(get, path = "/api/stats/reports", operation_id = "report_stats", tag = "reports",
    params(StatsParams),
    responses((status = 200, description = "The statistics", body = StatsView)))]
pub(crate) async fn stats(
    State(state): State<AppState>,
    Query(q): Query<StatsParams>,
) -> Result<Json<StatsView>, ApiError> {
    let comune = q.comune.as_deref().map(|c| istat("comune", c)).transpose()?;
    let (from, to) = period(q.from.as_deref(), q.to.as_deref())?;
    let to = to.unwrap_or_else(chrono::Utc::now);
    let from = from.unwrap_or(to - chrono::Duration::days(365));
    if from > to {
        return Err(ApiError::BadRequest("`from` must not be after `to`".into()));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(ApiError::BadRequest(format!("the period may last at most {MAX_DAYS} days")));
    }
    let min_count = q.min_count.unwrap_or(5);
    if !(1..=1000).contains(&min_count) {
        return Err(ApiError::BadRequest("`min_count` must be between 1 and 1000".into()));
    }
    let query = StatsQuery { comune, from: Some(from), to: Some(to), min_count };
    Ok(Json(reports::stats::stats(state.pool(), &query).await?.into()))
}

/// Reports of one category or one status.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CountView {
    /// The category code or the status.
    #[schema(example = "buca_stradale")]
    key: String,
    /// Its Italian name.
    #[schema(example = "Buca stradale")]
    name: String,
    count: i64,
}

/// Median and 90th percentile of a duration, in hours; null when no report has it yet.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HoursView {
    median: Option<f64>,
    p90: Option<f64>,
}

/// The figures of one comune, or of one category in one comune.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TimingView {
    #[schema(example = "010025")]
    comune: String,
    comune_name: String,
    /// The category (per-category rows only).
    category: Option<String>,
    category_name: Option<String>,
    /// Public reports filed in the period.
    reports: i64,
    /// Of them, taken in charge.
    acknowledged: i64,
    /// Of them, resolved.
    resolved: i64,
    /// Filing → taken in charge.
    hours_to_acknowledge: HoursView,
    /// Filing → resolved.
    hours_to_resolve: HoursView,
    /// Whether there are at least `min_count` reports: only then may the figures be compared with others'.
    ranked: bool,
}

/// A comune's place by median time to resolve.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RankView {
    /// 1 = the fastest.
    rank: i64,
    comune: String,
    comune_name: String,
    reports: i64,
    resolved: i64,
    median_hours_to_resolve: f64,
}

/// The transparency figures of a period.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatsView {
    /// The comune asked for, if one.
    comune: Option<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    min_count: i64,
    /// Public reports filed in the period.
    total: i64,
    /// Counts by category, largest first.
    by_category: Vec<CountView>,
    /// Counts by status, in workflow order.
    by_status: Vec<CountView>,
    /// Per comune.
    comuni: Vec<TimingView>,
    /// Per comune and category.
    categories: Vec<TimingView>,
    /// Comuni with at least `min_count` resolved reports, fastest median time to resolve first.
    ranking: Vec<RankView>,
}

impl From<Count> for CountView {
    fn from(c: Count) -> Self {
        CountView { key: c.key, name: c.name, count: c.count }
    }
}

impl From<Hours> for HoursView {
    fn from(h: Hours) -> Self {
        HoursView { median: h.median, p90: h.p90 }
    }
}

impl From<Timing> for TimingView {
    fn from(t: Timing) -> Self {
        TimingView {
            comune: t.comune,
            comune_name: t.comune_name,
            category: t.category,
            category_name: t.category_name,
            reports: t.reports,
            acknowledged: t.acknowledged,
            resolved: t.resolved,
            hours_to_acknowledge: t.hours_to_acknowledge.into(),
            hours_to_resolve: t.hours_to_resolve.into(),
            ranked: t.ranked,
        }
    }
}

impl From<Rank> for RankView {
    fn from(r: Rank) -> Self {
        RankView {
            rank: r.rank,
            comune: r.comune,
            comune_name: r.comune_name,
            reports: r.reports,
            resolved: r.resolved,
            median_hours_to_resolve: r.median_hours_to_resolve,
        }
    }
}

impl From<Stats> for StatsView {
    fn from(s: Stats) -> Self {
        let all = |v: Vec<Timing>| v.into_iter().map(Into::into).collect();
        StatsView {
            comune: s.comune,
            from: s.from,
            to: s.to,
            min_count: s.min_count,
            total: s.total,
            by_category: s.by_category.into_iter().map(Into::into).collect(),
            by_status: s.by_status.into_iter().map(Into::into).collect(),
            comuni: all(s.comuni),
            categories: all(s.categories),
            ranking: s.ranking.into_iter().map(Into::into).collect(),
        }
    }
}
