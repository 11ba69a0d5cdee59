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
//! One statement computes every figure (`GROUPING SETS` with `percentile_cont`) over the `(comune, created_at)`
//! index; `bench/reports` measures it on a million reports.

use std::collections::HashMap;

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

/// One row of the grouping-sets statement.
struct Group {
    comune: Option<String>,
    category: Option<String>,
    status: Option<String>,
    /// `grouping(comune, category, status)`: which of them the row is grouped by (a set bit = not grouped by).
    grouping: i32,
    reports: i64,
    acknowledged: i64,
    resolved: i64,
    ack: Option<Vec<Option<f64>>>,
    res: Option<Vec<Option<f64>>>,
}

const GROUPS: &str = "
    select comune, category, status, grouping(comune, category, status) as g,
           count(*) as n, count(acknowledged_at) as n_ack, count(resolved_at) as n_res,
           percentile_cont(array[0.5, 0.9]::float8[]) within group (
               order by extract(epoch from (acknowledged_at - created_at))::float8 / 3600) as ack,
           percentile_cont(array[0.5, 0.9]::float8[]) within group (
               order by extract(epoch from (resolved_at - created_at))::float8 / 3600) as res
      from reports.report
     where approved and not hidden
       and ($1::text is null or comune = $1)
       and created_at >= $2 and created_at < $3
     group by grouping sets ((comune), (comune, category), (category), (status), ())";

/// Bits of `grouping(comune, category, status)`: comune is the high bit.
const BY_COMUNE: i32 = 0b011;
const BY_COMUNE_CATEGORY: i32 = 0b001;
const BY_CATEGORY: i32 = 0b101;
const BY_STATUS: i32 = 0b110;
const TOTAL: i32 = 0b111;

fn hours(values: &Option<Vec<Option<f64>>>) -> Hours {
    let at = |i: usize| values.as_ref().and_then(|v| v.get(i).copied().flatten());
    Hours { median: at(0), p90: at(1) }
}

/// Counts, times and the ranking of the public reports filed in the period. Errors: [`Error::Invalid`] for a
/// malformed comune, a `min_count` out of range, or `from` not before `to`.
pub async fn stats(pool: &PgPool, query: &StatsQuery) -> Result<Stats> {
    let checked = check(query)?;
    let rows =
        sqlx::query(GROUPS).bind(&checked.comune).bind(checked.from).bind(checked.to).fetch_all(pool).await?;
    let groups = rows
        .iter()
        .map(|row| {
            Ok(Group {
                comune: row.try_get("comune")?,
                category: row.try_get("category")?,
                status: row.try_get("status")?,
                grouping: row.try_get("g")?,
                reports: row.try_get("n")?,
                acknowledged: row.try_get("n_ack")?,
                resolved: row.try_get("n_res")?,
                ack: row.try_get("ack")?,
                res: row.try_get("res")?,
            })
        })
        .collect::<Result<Vec<Group>>>()?;

    let comune_codes: Vec<String> =
        groups.iter().filter(|g| g.grouping == BY_COMUNE).filter_map(|g| g.comune.clone()).collect();
    let names = Names::load(pool, &comune_codes).await?;

    let min_count = query.min_count;
    let timing = |g: &Group| {
        let comune = g.comune.clone().unwrap_or_default();
        Timing {
            comune_name: names.comune(&comune),
            category_name: g.category.as_deref().map(|c| names.category(&comune, c)),
            comune,
            category: g.category.clone(),
            reports: g.reports,
            acknowledged: g.acknowledged,
            resolved: g.resolved,
            hours_to_acknowledge: hours(&g.ack),
            hours_to_resolve: hours(&g.res),
            ranked: g.reports >= min_count,
        }
    };
    let mut comuni: Vec<Timing> = groups.iter().filter(|g| g.grouping == BY_COMUNE).map(timing).collect();
    comuni.sort_by(|a, b| a.comune.cmp(&b.comune));
    let mut categories: Vec<Timing> =
        groups.iter().filter(|g| g.grouping == BY_COMUNE_CATEGORY).map(timing).collect();
    categories.sort_by(|a, b| (&a.comune, &a.category).cmp(&(&b.comune, &b.category)));

    let total = groups.iter().find(|g| g.grouping == TOTAL).map_or(0, |g| g.reports);
    let single = checked.comune.as_deref().unwrap_or("");
    let mut by_category: Vec<Count> = groups
        .iter()
        .filter(|g| g.grouping == BY_CATEGORY)
        .filter_map(|g| {
            let code = g.category.clone()?;
            Some(Count { name: names.category(single, &code), key: code, count: g.reports })
        })
        .collect();
    by_category.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    let mut by_status: Vec<(usize, Count)> = groups
        .iter()
        .filter(|g| g.grouping == BY_STATUS)
        .filter_map(|g| {
            let key = g.status.clone()?;
            let status = key.parse::<Status>().ok();
            let order = status.and_then(|s| Status::ALL.iter().position(|x| *x == s)).unwrap_or(usize::MAX);
            let name = status.map_or_else(|| key.clone(), |s| s.label_it().to_string());
            Some((order, Count { key, name, count: g.reports }))
        })
        .collect();
    by_status.sort_by_key(|(order, _)| *order);

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
    fn grouping_bits_name_the_sets() {
        // grouping(comune, category, status): a set bit is a column the row is NOT grouped by.
        assert_eq!(BY_COMUNE, 0b011);
        assert_eq!(BY_COMUNE_CATEGORY, 0b001);
        assert_eq!(BY_CATEGORY, 0b101);
        assert_eq!(BY_STATUS, 0b110);
        assert_eq!(TOTAL, 0b111);
    }
}
