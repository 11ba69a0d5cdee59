//! Transparency figures: how many reports, of which category and status, and how quickly each comune takes them in
//! charge and fixes them (median and 90th percentile, in hours), per comune and per comune and category.
//!
//! Only public reports count (approved and not hidden): the figures describe what anybody can see on the map. A
//! report counts in the period of its filing (`created_at` within `[from, to)`); its time to acknowledge is
//! `acknowledged_at − created_at`, its time to resolve `resolved_at − created_at`; reports not yet acknowledged or
//! resolved are counted but add no time.
//!
//! **Ranking.** A figure resting on few reports says little: one pothole fixed in an hour must not make a comune
//! "the most responsive". A row is `ranked` when it counts at least [`StatsQuery::min_count`] reports, and the
//! [`Stats::ranking`] of comuni by median time to resolve takes only ranked comuni with at least `min_count`
//! resolved reports. Unranked figures are still given (they are true), flagged.
//!
//! One statement reads the period's public reports from a partial covering index (`report_public_stats_idx`:
//! comune and filing time, with category, status and the two timestamps) and returns their durations grouped by
//! comune, category and status; the medians and 90th percentiles are computed here, as `percentile_cont` does
//! (linear interpolation between the nearest ranks), sorting each group once. `bench/reports` measures it on a
//! million reports.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};

use crate::{Error, Result, Status};

/// The default minimum count below which a figure is not ranked.
pub const DEFAULT_MIN_COUNT: i64 = 5;
/// The period when `from` is not given: the year before `to`.
const DEFAULT_SPAN_DAYS: i64 = 365;

/// What [`stats`] computes over.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatsQuery {
    /// One comune (ISTAT code), or every comune.
    pub comune: Option<String>,
    /// Start of the period (reports filed at or after); default: a year before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End of the period (reports filed before); default: now.
    pub to: Option<DateTime<Utc>>,
    /// Fewest reports for a figure to be ranked (1–100,000; default 5).
    pub min_count: i64,
}

impl Default for StatsQuery {
    fn default() -> Self {
        StatsQuery { comune: None, from: None, to: None, min_count: DEFAULT_MIN_COUNT }
    }
}

/// Reports of one category or one status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    /// The category code or the status.
    pub key: String,
    /// The category's Italian name, or the status's Italian label.
    pub name: String,
    pub count: i64,
}

/// Median and 90th percentile of a duration, in hours; `None` when no report has it yet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hours {
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// The figures of one comune, or of one category in one comune.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    /// ISTAT code.
    pub comune: String,
    pub comune_name: String,
    /// The category code (per-category rows only).
    pub category: Option<String>,
    /// The category's Italian name (per-category rows only).
    pub category_name: Option<String>,
    /// Public reports filed in the period.
    pub reports: i64,
    /// Of them, taken in charge.
    pub acknowledged: i64,
    /// Of them, resolved.
    pub resolved: i64,
    /// Filing → taken in charge.
    pub hours_to_acknowledge: Hours,
    /// Filing → resolved.
    pub hours_to_resolve: Hours,
    /// Whether `reports` ≥ the minimum count: only then may the figures be compared with others'.
    pub ranked: bool,
}

/// A comune's place in the ranking by median time to resolve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rank {
    /// 1 = the fastest.
    pub rank: i64,
    pub comune: String,
    pub comune_name: String,
    pub reports: i64,
    pub resolved: i64,
    pub median_hours_to_resolve: f64,
}

/// Every figure of a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// The comune asked for, if one.
    pub comune: Option<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub min_count: i64,
    /// Public reports filed in the period.
    pub total: i64,
    /// Counts by category, largest first.
    pub by_category: Vec<Count>,
    /// Counts by status, in workflow order.
    pub by_status: Vec<Count>,
    /// Per comune, by ISTAT code.
    pub comuni: Vec<Timing>,
    /// Per comune and category, by ISTAT code and category.
    pub categories: Vec<Timing>,
    /// Ranked comuni with at least `min_count` resolved reports, fastest median time to resolve first.
    pub ranking: Vec<Rank>,
}

/// The checked period and comune.
struct Checked {
    comune: Option<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

fn check(query: &StatsQuery) -> Result<Checked> {
    if let Some(comune) = &query.comune
        && !(comune.len() == 6 && comune.bytes().all(|b| b.is_ascii_digit()))
    {
        let shown: String = comune.chars().filter(|c| !c.is_control()).take(20).collect();
        return Err(Error::Invalid(format!("`comune` must be an ISTAT code of 6 digits, not `{shown}`")));
    }
    if !(1..=100_000).contains(&query.min_count) {
        return Err(Error::Invalid(format!("`min_count` must be 1 to 100000, not {}", query.min_count)));
    }
    let to = query.to.unwrap_or_else(Utc::now);
    let from = query.from.unwrap_or(to - Duration::days(DEFAULT_SPAN_DAYS));
    if from >= to {
        return Err(Error::Invalid(format!("`from` ({from}) must be before `to` ({to})")));
    }
    Ok(Checked { comune: query.comune.clone(), from, to })
}

/// The statement (public for `bench-reports --explain`): one row per (comune, category, status) of the period's
/// public reports (`$1` ≤ filing < `$2`, of comune `$3` when `one_comune`), with its count and its durations in
/// hours, unsorted. For one comune it reads only the partial covering index `report_public_stats_idx` (an
/// index-only scan); the order statistics are computed in Rust, which sorts each group's durations once instead of
/// once per grouping set and per percentile.
#[doc(hidden)]
pub fn statement(one_comune: bool) -> String {
    format!(
        "select comune, category, status, count(*) as n,
                array_agg(date_part('epoch', acknowledged_at - created_at) / 3600)
                    filter (where acknowledged_at is not null) as ack,
                array_agg(date_part('epoch', resolved_at - created_at) / 3600)
                    filter (where resolved_at is not null) as res
           from reports.report
          where approved and not hidden and created_at >= $1 and created_at < $2{}
          group by comune, category, status",
        if one_comune { " and comune = $3" } else { "" }
    )
}

/// Runs [`statement`] with hashing forced: the planner expects as many groups as the whole table has (comuni ×
/// categories × statuses) and would sort the rows first; a comune has a few dozen groups, and hashing them takes
/// half the time (`bench/reports`).
#[doc(hidden)]
pub async fn grouped(
    pool: &PgPool,
    comune: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<sqlx::postgres::PgRow>> {
    let sql = statement(comune.is_some());
    let mut tx = pool.begin().await?;
    sqlx::query("set local enable_sort = off").execute(&mut *tx).await?;
    let mut query = sqlx::query(&sql).bind(from).bind(to);
    if let Some(comune) = comune {
        query = query.bind(comune);
    }
    let rows = query.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Durations of a group, in hours, gathered unsorted.
#[derive(Debug, Default)]
struct Sample {
    reports: i64,
    ack: Vec<f64>,
    res: Vec<f64>,
}

impl Sample {
    fn add(&mut self, reports: i64, ack: &[f64], res: &[f64]) {
        self.reports += reports;
        self.ack.extend_from_slice(ack);
        self.res.extend_from_slice(res);
    }
}

/// `percentile_cont(fraction)` of sorted `values`: linear interpolation between the two nearest ranks.
fn percentile(sorted: &[f64], fraction: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = fraction * last as f64;
    let low = rank.floor() as usize;
    let high = rank.ceil() as usize;
    let (a, b) = (*sorted.get(low)?, *sorted.get(high.min(last))?);
    Some(a + (rank - low as f64) * (b - a))
}

fn hours(mut values: Vec<f64>) -> Hours {
    values.sort_unstable_by(f64::total_cmp);
    Hours { median: percentile(&values, 0.5), p90: percentile(&values, 0.9) }
}

/// Counts, times and the ranking of the public reports filed in the period. Errors: [`Error::Invalid`] for a
/// malformed comune, a `min_count` out of range, or `from` not before `to`.
pub async fn stats(pool: &PgPool, query: &StatsQuery) -> Result<Stats> {
    let checked = check(query)?;
    let rows = grouped(pool, checked.comune.as_deref(), checked.from, checked.to).await?;

    let mut per_category: BTreeMap<(String, String), Sample> = BTreeMap::new();
    let mut per_comune: BTreeMap<String, Sample> = BTreeMap::new();
    let mut by_category: HashMap<String, i64> = HashMap::new();
    let mut by_status: HashMap<String, i64> = HashMap::new();
    let mut total = 0;
    for row in &rows {
        let comune: String = row.try_get("comune")?;
        let category: String = row.try_get("category")?;
        let status: String = row.try_get("status")?;
        let reports: i64 = row.try_get("n")?;
        let ack: Option<Vec<f64>> = row.try_get("ack")?;
        let res: Option<Vec<f64>> = row.try_get("res")?;
        let (ack, res) = (ack.unwrap_or_default(), res.unwrap_or_default());
        per_category.entry((comune.clone(), category.clone())).or_default().add(reports, &ack, &res);
        per_comune.entry(comune).or_default().add(reports, &ack, &res);
        *by_category.entry(category).or_default() += reports;
        *by_status.entry(status).or_default() += reports;
        total += reports;
    }

    let comune_codes: Vec<String> = per_comune.keys().cloned().collect();
    let names = Names::load(pool, &comune_codes).await?;
    let min_count = query.min_count;
    let timing = |comune: String, category: Option<String>, sample: Sample| Timing {
        comune_name: names.comune(&comune),
        category_name: category.as_deref().map(|c| names.category(&comune, c)),
        comune,
        category,
        reports: sample.reports,
        acknowledged: sample.ack.len() as i64,
        resolved: sample.res.len() as i64,
        hours_to_acknowledge: hours(sample.ack),
        hours_to_resolve: hours(sample.res),
        ranked: sample.reports >= min_count,
    };
    let comuni: Vec<Timing> = per_comune.into_iter().map(|(comune, s)| timing(comune, None, s)).collect();
    let categories: Vec<Timing> =
        per_category.into_iter().map(|((comune, category), s)| timing(comune, Some(category), s)).collect();

    let single = checked.comune.as_deref().unwrap_or("");
    let mut by_category: Vec<Count> = by_category
        .into_iter()
        .map(|(code, count)| Count { name: names.category(single, &code), key: code, count })
        .collect();
    by_category.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    let mut by_status: Vec<(usize, Count)> = by_status
        .into_iter()
        .map(|(key, count)| {
            let status = key.parse::<Status>().ok();
            let order = status.and_then(|s| Status::ALL.iter().position(|x| *x == s)).unwrap_or(usize::MAX);
            let name = status.map_or_else(|| key.clone(), |s| s.label_it().to_string());
            (order, Count { key, name, count })
        })
        .collect();
    by_status.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.key.cmp(&b.1.key)));

    let mut ranked: Vec<&Timing> = comuni
        .iter()
        .filter(|t| t.ranked && t.resolved >= min_count && t.hours_to_resolve.median.is_some())
        .collect();
    ranked.sort_by(|a, b| {
        let (ma, mb) =
            (a.hours_to_resolve.median.unwrap_or(f64::MAX), b.hours_to_resolve.median.unwrap_or(f64::MAX));
        ma.total_cmp(&mb).then_with(|| b.resolved.cmp(&a.resolved)).then_with(|| a.comune.cmp(&b.comune))
    });
    let ranking = ranked
        .iter()
        .enumerate()
        .map(|(i, t)| Rank {
            rank: i as i64 + 1,
            comune: t.comune.clone(),
            comune_name: t.comune_name.clone(),
            reports: t.reports,
            resolved: t.resolved,
            median_hours_to_resolve: t.hours_to_resolve.median.unwrap_or_default(),
        })
        .collect();

    Ok(Stats {
        comune: checked.comune,
        from: checked.from,
        to: checked.to,
        min_count,
        total,
        by_category,
        by_status: by_status.into_iter().map(|(_, c)| c).collect(),
        comuni,
        categories,
        ranking,
    })
}

/// Names of the comuni and categories in the figures.
struct Names {
    comuni: HashMap<String, String>,
    /// (comune or "" for the default catalogue, code) → Italian name.
    categories: HashMap<(String, String), String>,
}

impl Names {
    async fn load(pool: &PgPool, comuni: &[String]) -> Result<Names> {
        let rows = sqlx::query(
            "select code, coalesce(c.name, r.name_it, code) as name
               from unnest($1::text[]) as code
               left join core.comune c on c.istat = code
               left join core.comune_registry r on r.istat = code",
        )
        .bind(comuni)
        .fetch_all(pool)
        .await?;
        let comuni = rows
            .iter()
            .map(|row| Ok((row.try_get::<String, _>("code")?, row.try_get::<String, _>("name")?)))
            .collect::<Result<HashMap<_, _>>>()?;
        let rows = sqlx::query(
            "select coalesce(comune, '') as comune, code, name_it from reports.category
              where comune is null or comune = any($1)",
        )
        .bind(comuni.keys().cloned().collect::<Vec<String>>())
        .fetch_all(pool)
        .await?;
        let categories = rows
            .iter()
            .map(|row| {
                Ok((
                    (row.try_get::<String, _>("comune")?, row.try_get::<String, _>("code")?),
                    row.try_get::<String, _>("name_it")?,
                ))
            })
            .collect::<Result<HashMap<_, _>>>()?;
        Ok(Names { comuni, categories })
    }

    fn comune(&self, code: &str) -> String {
        self.comuni.get(code).cloned().unwrap_or_else(|| code.to_string())
    }

    /// The comune's own name of the category, else the default catalogue's, else the code.
    fn category(&self, comune: &str, code: &str) -> String {
        self.categories
            .get(&(comune.to_string(), code.to_string()))
            .or_else(|| self.categories.get(&(String::new(), code.to_string())))
            .cloned()
            .unwrap_or_else(|| code.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_checked() {
        let bad_comune = StatsQuery { comune: Some("10025".into()), ..StatsQuery::default() };
        assert!(matches!(check(&bad_comune), Err(Error::Invalid(_))));
        let bad_count = StatsQuery { min_count: 0, ..StatsQuery::default() };
        assert!(matches!(check(&bad_count), Err(Error::Invalid(_))));
        let now = Utc::now();
        let reversed = StatsQuery { from: Some(now), to: Some(now), ..StatsQuery::default() };
        assert!(matches!(check(&reversed), Err(Error::Invalid(_))));
        let default = check(&StatsQuery::default()).unwrap();
        assert_eq!((default.to - default.from).num_days(), 365);
    }

    #[test]
    fn percentiles_interpolate_like_percentile_cont() {
        let sorted: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 0.5), Some(5.5));
        assert!((percentile(&sorted, 0.9).unwrap() - 9.1).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 0.9), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
        let unsorted = hours(vec![3.0, 1.0, 2.0]);
        assert_eq!(unsorted.median, Some(2.0));
        assert!((unsorted.p90.unwrap() - 2.8).abs() < 1e-12);
    }
}
