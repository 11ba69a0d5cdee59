//! Reading queries: raw readings with their QC flags, and time buckets.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::qc::Flags;
use crate::{Error, Quantity, Result};

/// How readings of a bucket are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Max,
    Min,
    Avg,
}

impl FromStr for Aggregate {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sum" => Ok(Aggregate::Sum),
            "max" => Ok(Aggregate::Max),
            "min" => Ok(Aggregate::Min),
            "avg" => Ok(Aggregate::Avg),
            other => Err(Error::InvalidQuery(format!("agg `{other}` is not one of sum, max, min, avg"))),
        }
    }
}

impl Aggregate {
    fn sql(self) -> &'static str {
        match self {
            Aggregate::Sum => "sum(value)",
            Aggregate::Max => "max(value)",
            Aggregate::Min => "min(value)",
            Aggregate::Avg => "avg(value)",
        }
    }
}

/// The longest bucket: a leap year.
pub const MAX_INTERVAL_S: i64 = 366 * 86_400;

/// Parses an ISO 8601 duration of weeks, or of days, hours, minutes and seconds (`PT5M`, `PT1H`, `P1D`, `P1DT12H`,
/// `P2W`) into seconds, strictly: each designator at most once and in order (`PT1H1H` and `PT1M1H` are refused),
/// whole numbers only, weeks alone, a `T` followed by at least one time part, and a total from 1 second to
/// [`MAX_INTERVAL_S`] (366 days).
pub fn parse_duration(s: &str) -> Result<i64> {
    let bad = |why: &str| {
        Error::InvalidQuery(format!(
            "interval `{}` is not an ISO 8601 duration such as PT15M, PT1H or P1D: {why}",
            s.chars().take(40).collect::<String>().escape_debug()
        ))
    };
    let rest = s.strip_prefix('P').ok_or_else(|| bad("it must start with P"))?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    if time == Some("") {
        return Err(bad("a T must be followed by hours, minutes or seconds"));
    }
    let mut total: i64 = 0;
    let mut parts = 0;
    let mut take = |part: &str, units: &[(char, i64)]| -> Result<()> {
        // Designators must come in the order of `units`, each at most once.
        let mut next_unit = 0;
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let position = units[next_unit..].iter().position(|(u, _)| *u == c).ok_or_else(|| match units
                .iter()
                .any(|(u, _)| *u == c)
            {
                true => bad(&format!("`{c}` is repeated or out of order")),
                false => bad(&format!("`{}` is not a designator here", c.escape_debug())),
            })?;
            let factor = units[next_unit + position].1;
            next_unit += position + 1;
            if number.is_empty() {
                return Err(bad(&format!("`{c}` has no number before it")));
            }
            let n: i64 = number.parse().map_err(|_| bad("a number is too large"))?;
            total = n
                .checked_mul(factor)
                .and_then(|v| total.checked_add(v))
                .filter(|t| *t <= MAX_INTERVAL_S)
                .ok_or_else(|| bad("it exceeds 366 days"))?;
            parts += 1;
            number.clear();
        }
        if number.is_empty() { Ok(()) } else { Err(bad("a number has no designator after it")) }
    };
    if date.contains('W') {
        if time.is_some() || !date.ends_with('W') || date.contains('D') {
            return Err(bad("weeks (W) stand alone"));
        }
        take(date, &[('W', 604_800)])?;
    } else {
        take(date, &[('D', 86_400)])?;
    }
    if let Some(time) = time {
        take(time, &[('H', 3600), ('M', 60), ('S', 1)])?;
    }
    if parts == 0 {
        return Err(bad("it has no part"));
    }
    if total <= 0 {
        return Err(bad("it must be at least one second"));
    }
    Ok(total)
}

/// The latest time a query may name: no reading lies beyond it (ingest refuses times more than a day ahead).
pub const LATEST_QUERY_TIME: DateTime<Utc> = DateTime::from_timestamp_nanos(7_258_118_400_000_000_000);

/// Checks a time given to a query (`from`, `to`, `at`): between 1900-01-01 ([`crate::payload::EARLIEST`], before
/// which no reading is stored) and 2200-01-01 ([`LATEST_QUERY_TIME`]).
pub fn check_query_time(name: &str, t: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if t < crate::payload::EARLIEST || t > LATEST_QUERY_TIME {
        return Err(Error::InvalidQuery(format!(
            "`{name}` {} must lie between 1900-01-01T00:00:00Z and 2200-01-01T00:00:00Z",
            t.to_rfc3339()
        )));
    }
    Ok(t)
}

/// A stored reading as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadingOut {
    pub t: DateTime<Utc>,
    pub v: f64,
    pub qc: Flags,
}

/// The readings of a series in `[from, to)`, oldest first, at most `limit`.
pub async fn readings(
    pool: &PgPool,
    station_id: i64,
    quantity: Quantity,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ReadingOut>> {
    let rows: Vec<(DateTime<Utc>, f64, i32)> = sqlx::query_as(
        "select observed_at, value, qc from sensors.reading
         where station_id = $1 and quantity = $2 and observed_at >= $3 and observed_at < $4
         order by observed_at limit $5",
    )
    .bind(station_id)
    .bind(quantity.code())
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(t, v, qc)| ReadingOut { t, v, qc: Flags(qc) }).collect())
}

/// One time bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// Start of the bucket.
    pub t: DateTime<Utc>,
    pub v: f64,
    /// Readings in the bucket.
    pub n: i64,
    /// Flags raised on any reading of the bucket.
    pub qc: Flags,
}

/// Readings of `[from, to)` combined per bucket of `interval_s` seconds (aligned on 2000-01-01T00:00Z).
pub async fn buckets(
    pool: &PgPool,
    station_id: i64,
    quantity: Quantity,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval_s: i64,
    agg: Aggregate,
) -> Result<Vec<Bucket>> {
    let sql = format!(
        "select date_bin(make_interval(secs => $5), observed_at, timestamptz '2000-01-01 00:00:00+00') as bucket,
                {}::float8, count(*), bit_or(qc)
         from sensors.reading
         where station_id = $1 and quantity = $2 and observed_at >= $3 and observed_at < $4
         group by 1 order by 1",
        agg.sql()
    );
    let rows: Vec<(DateTime<Utc>, f64, i64, i32)> = sqlx::query_as(&sql)
        .bind(station_id)
        .bind(quantity.code())
        .bind(from)
        .bind(to)
        .bind(interval_s as f64)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|(t, v, n, qc)| Bucket { t, v, n, qc: Flags(qc) }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations_parse() {
        assert_eq!(parse_duration("PT1H").unwrap(), 3600);
        assert_eq!(parse_duration("PT15M").unwrap(), 900);
        assert_eq!(parse_duration("P1DT12H").unwrap(), 129_600);
        assert_eq!(parse_duration("P1W").unwrap(), 604_800);
        assert_eq!(parse_duration("PT1H30M15S").unwrap(), 5415);
        assert_eq!(parse_duration("PT0H5M").unwrap(), 300);
        assert_eq!(parse_duration("P366D").unwrap(), MAX_INTERVAL_S);
        assert_eq!(parse_duration("PT90M").unwrap(), 5400, "carry-over is allowed by ISO 8601");
    }

    #[test]
    fn query_times_lie_between_1900_and_2200() {
        assert_eq!(LATEST_QUERY_TIME.to_rfc3339(), "2200-01-01T00:00:00+00:00");
        for ok in ["1900-01-01T00:00:00Z", "2026-11-22T10:00:00Z", "2200-01-01T00:00:00Z"] {
            assert!(check_query_time("from", ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for bad in
            ["1899-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "2200-01-01T00:00:01Z", "9999-12-31T23:59:59Z"]
        {
            let err = check_query_time("to", bad.parse().unwrap()).unwrap_err().to_string();
            assert!(err.contains("`to`"), "{err}");
        }
    }

    #[test]
    fn loose_or_huge_durations_are_refused() {
        for (bad, why) in [
            ("1H", "start with P"),
            ("PT", "followed by"),
            ("P", "no part"),
            ("PT1X", "not a designator"),
            ("PTH", "no number"),
            ("PT0S", "at least one second"),
            ("P1H", "not a designator"),
            ("PT1H1H1H", "repeated or out of order"),
            ("PT1M1H", "repeated or out of order"),
            ("P1D1D", "repeated or out of order"),
            ("PT1.5H", "not a designator"),
            ("PT-1H", "not a designator"),
            ("P1WT1H", "weeks (W) stand alone"),
            ("P1W1D", "weeks (W) stand alone"),
            ("PT1", "no designator after it"),
            ("P99999999999D", "exceeds 366 days"),
            ("P367D", "exceeds 366 days"),
            ("PT99999999999999999999S", "too large"),
            ("pt1h", "start with P"),
            ("PT1H\0", "not a designator"),
        ] {
            let err = parse_duration(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
