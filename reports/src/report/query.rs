//! Reading reports: one, by tracking token, and pages of them with filters.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder};

use super::{MAX_LIMIT, PhotoRef, Private, PublicReport, Report, ReportQuery};
use crate::{Error, Result, Status};

/// The columns of a [`Report`], from `reports.report r` joined by [`FROM`].
pub(super) const COLUMNS: &str = "r.id, r.comune, coalesce(reg.name_it, k.name, r.comune) as comune_name,
    r.category, coalesce(cat.name_it, r.category) as category_name, r.description,
    st_x(r.geom) as lon, st_y(r.geom) as lat, r.address, r.status, r.reporter_type, r.people_at_risk, r.priority,
    r.supporters, r.duplicate_of, r.public_note, r.media_url,
    coalesce((select jsonb_agg(jsonb_build_object('position', p.position, 'sha256', p.sha256,
                  'thumb_sha256', p.thumb_sha256, 'content_type', p.content_type, 'width', p.width,
                  'height', p.height) order by p.position)
              from reports.photo p where p.report_id = r.id and p.removed_at is null), '[]') as photos,
    r.created_at, r.updated_at, r.acknowledged_at, r.resolved_at, r.closed_at,
    r.reporter_name, r.reporter_email, r.reporter_phone, r.reporter_account_id, r.anonymous, r.approved, r.hidden,
    r.reject_reason, r.attributes, r.source, r.anonymized_at";

/// `reports.report r` with the names of its comune and category.
pub(super) const FROM: &str = "reports.report r
    left join core.comune k on k.istat = r.comune
    left join core.comune_registry reg on reg.istat = r.comune
    left join lateral (
        select c.name_it from reports.category c
        where c.code = r.category and (c.comune = r.comune or c.comune is null)
        order by c.comune nulls last limit 1) cat on true";

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    id: i64,
    comune: String,
    comune_name: String,
    category: String,
    category_name: String,
    description: String,
    lon: f64,
    lat: f64,
    address: Option<String>,
    status: String,
    reporter_type: String,
    people_at_risk: bool,
    priority: i16,
    supporters: i32,
    duplicate_of: Option<i64>,
    public_note: Option<String>,
    media_url: Option<String>,
    photos: Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    reporter_name: Option<String>,
    reporter_email: Option<String>,
    reporter_phone: Option<String>,
    reporter_account_id: Option<i64>,
    anonymous: bool,
    approved: bool,
    hidden: bool,
    reject_reason: Option<String>,
    attributes: Value,
    source: String,
    anonymized_at: Option<DateTime<Utc>>,
}

impl TryFrom<Row> for Report {
    type Error = Error;

    fn try_from(r: Row) -> Result<Report> {
        let status: Status = r.status.parse()?;
        let photos: Vec<PhotoRef> = serde_json::from_value(r.photos)
            .map_err(|e| Error::Invalid(format!("photos of report {} are unreadable: {e}", r.id)))?;
        Ok(Report {
            public: PublicReport {
                id: r.id,
                comune: r.comune,
                comune_name: r.comune_name,
                category: r.category,
                category_name: r.category_name,
                description: r.description,
                lon: r.lon,
                lat: r.lat,
                address: r.address,
                status,
                status_label: status.label_it().to_string(),
                reporter_type: r.reporter_type.parse()?,
                people_at_risk: r.people_at_risk,
                priority: r.priority,
                supporters: r.supporters,
                duplicate_of: r.duplicate_of,
                public_note: r.public_note,
                media_url: r.media_url,
                photos,
                created_at: r.created_at,
                updated_at: r.updated_at,
                acknowledged_at: r.acknowledged_at,
                resolved_at: r.resolved_at,
                closed_at: r.closed_at,
            },
            private: Private {
                reporter_name: r.reporter_name,
                reporter_email: r.reporter_email,
                reporter_phone: r.reporter_phone,
                reporter_account_id: r.reporter_account_id,
                anonymous: r.anonymous,
                approved: r.approved,
                hidden: r.hidden,
                reject_reason: r.reject_reason,
                attributes: r.attributes,
                source: r.source.parse()?,
                anonymized_at: r.anonymized_at,
            },
        })
    }
}

/// The report `id` through `conn` (a pool or an open transaction).
pub(super) async fn load(conn: impl PgExecutor<'_>, id: i64) -> Result<Option<Report>> {
    let row: Option<Row> = sqlx::query_as(&format!("select {COLUMNS} from {FROM} where r.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(Report::try_from).transpose()
}

/// Like [`load`], for a report that must exist.
pub(super) async fn load_existing(conn: impl PgExecutor<'_>, id: i64) -> Result<Report> {
    load(conn, id).await?.ok_or(Error::NotFound { id })
}

/// The report `id` whole (public and private parts), if it exists.
pub async fn get(pool: &PgPool, id: i64) -> Result<Option<Report>> {
    load(pool, id).await
}

/// The report a tracking token (`vtr_` and 32 hex digits) follows; `None` for an unknown or malformed token.
pub async fn by_tracking(pool: &PgPool, token: &str) -> Result<Option<Report>> {
    if !is_token(token) {
        return Ok(None);
    }
    let row: Option<Row> =
        sqlx::query_as(&format!("select {COLUMNS} from {FROM} where r.tracking_sha256 = $1"))
            .bind(super::create::token_hash(token))
            .fetch_optional(pool)
            .await?;
    row.map(Report::try_from).transpose()
}

fn is_token(token: &str) -> bool {
    token.strip_prefix("vtr_").is_some_and(|hex| {
        hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The reports `q` selects, newest first, one page of them; with the number of all those that match.
pub async fn list(pool: &PgPool, q: &ReportQuery) -> Result<(Vec<Report>, i64)> {
    check(q)?;
    if q.comuni.as_ref().is_some_and(Vec::is_empty) {
        return Ok((Vec::new(), 0));
    }
    let reports = if q.limit == 0 {
        Vec::new()
    } else {
        // The page's ids first (an index walk when the filters allow it), then the columns of those rows only.
        let mut page = QueryBuilder::<Postgres>::new(
            "with page as (select r.id, r.created_at from reports.report r where true",
        );
        filters(&mut page, q);
        page.push(" order by r.created_at desc, r.id desc limit ");
        page.push_bind(q.limit);
        page.push(" offset ");
        page.push_bind(q.offset);
        page.push(format!(
            ") select {COLUMNS} from {FROM} join page on page.id = r.id order by r.created_at desc, r.id desc"
        ));
        let rows: Vec<Row> = page.build_query_as().fetch_all(pool).await?;
        rows.into_iter().map(Report::try_from).collect::<Result<Vec<_>>>()?
    };
    // A page that is not full tells the total without counting (unless it is past the end).
    let shown = i64::try_from(reports.len()).unwrap_or(i64::MAX);
    if q.limit > 0 && shown < q.limit && (shown > 0 || q.offset == 0) {
        return Ok((reports, q.offset + shown));
    }
    let mut count = QueryBuilder::<Postgres>::new("select count(*) from reports.report r where true");
    filters(&mut count, q);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    Ok((reports, total))
}

fn check(q: &ReportQuery) -> Result<()> {
    if !(0..=MAX_LIMIT).contains(&q.limit) {
        return Err(Error::Invalid(format!("limit {} is out of range: 0 to {MAX_LIMIT}", q.limit)));
    }
    if q.offset < 0 {
        return Err(Error::Invalid(format!("offset {} is negative", q.offset)));
    }
    if let Some([w, s, e, n]) = q.bbox {
        super::check_point(w, s)?;
        super::check_point(e, n)?;
        if w > e || s > n {
            return Err(Error::Invalid(format!(
                "bbox {w},{s},{e},{n} is not min lon, min lat, max lon, max lat"
            )));
        }
    }
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from > to
    {
        return Err(Error::Invalid(format!("from {from} is after to {to}")));
    }
    Ok(())
}

/// Appends ` and …` for every filter of `q` (values bound, never spliced).
fn filters(b: &mut QueryBuilder<'_, Postgres>, q: &ReportQuery) {
    if let Some(comuni) = &q.comuni {
        b.push(" and r.comune = any(").push_bind(comuni.clone()).push(")");
    }
    if let Some(category) = &q.category {
        b.push(" and r.category = ").push_bind(category.clone());
    }
    if !q.status.is_empty() {
        let statuses: Vec<String> = q.status.iter().map(|s| s.as_str().to_string()).collect();
        b.push(" and r.status = any(").push_bind(statuses).push(")");
    }
    if let Some([w, s, e, n]) = q.bbox {
        b.push(" and r.geom && st_makeenvelope(")
            .push_bind(w)
            .push(", ")
            .push_bind(s)
            .push(", ")
            .push_bind(e)
            .push(", ")
            .push_bind(n)
            .push(", 4326)");
    }
    if let Some(from) = q.from {
        b.push(" and r.created_at >= ").push_bind(from);
    }
    if let Some(to) = q.to {
        b.push(" and r.created_at < ").push_bind(to);
    }
    if !q.ids.is_empty() {
        b.push(" and r.id = any(").push_bind(q.ids.clone()).push(")");
    }
    if q.public_only {
        b.push(" and r.approved and not r.hidden");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_before_any_lookup() {
        assert!(is_token("vtr_0123456789abcdef0123456789abcdef"));
        assert!(!is_token("vtr_0123456789ABCDEF0123456789abcdef"));
        assert!(!is_token("vtr_0123"));
        assert!(!is_token("0123456789abcdef0123456789abcdef"));
        assert!(!is_token("vtr_0123456789abcdef0123456789abcdeg"));
    }

    #[test]
    fn queries_are_bounded() {
        assert!(check(&ReportQuery::default()).is_ok());
        assert!(check(&ReportQuery { limit: 1001, ..ReportQuery::default() }).is_err());
        assert!(check(&ReportQuery { offset: -1, ..ReportQuery::default() }).is_err());
        assert!(
            check(&ReportQuery { bbox: Some([9.0, 44.0, 8.0, 45.0]), ..ReportQuery::default() }).is_err()
        );
        assert!(check(&ReportQuery { bbox: Some([8.0, 44.0, 9.0, 45.0]), ..ReportQuery::default() }).is_ok());
    }
}
