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

/// Parses an ISO 8601 duration of days, hours, minutes and seconds (`PT5M`, `PT1H`, `P1D`, `P1DT12H`) into seconds.
pub fn parse_duration(s: &str) -> Result<i64> {
    let bad = || {
        Error::InvalidQuery(format!("interval `{s}` is not an ISO 8601 duration such as PT15M, PT1H or P1D"))
    };
    let rest = s.strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total: i64 = 0;
    let mut take = |part: &str, units: &[(char, i64)]| -> Result<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
            } else {
                let factor = units.iter().find(|(u, _)| *u == c).map(|(_, f)| *f).ok_or_else(bad)?;
                let n: i64 = number.parse().map_err(|_| bad())?;
                total = total.checked_add(n.checked_mul(factor).ok_or_else(bad)?).ok_or_else(bad)?;
                number.clear();
            }
        }
        if number.is_empty() { Ok(()) } else { Err(bad()) }
    };
    take(date, &[('W', 604_800), ('D', 86_400)])?;
    if let Some(time) = time {
        if time.is_empty() {
            return Err(bad());
        }
        take(time, &[('H', 3600), ('M', 60), ('S', 1)])?;
    }
    if total <= 0 {
        return Err(bad());
    }
    Ok(total)
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
        for bad in ["1H", "PT", "P", "PT1X", "PTH", "PT0S", "P1H"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
