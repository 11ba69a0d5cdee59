//! The workflow: a step through the allowed statuses with its notes, its timestamps, the duplicate link, the
//! reporter's email and the event; and the history of the steps.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::query::load_existing;
use super::{Actor, Change, Report, Step, TransitionRequest, announce, check_text, non_blank};
use crate::{Error, Result, Status};

/// Longest chain of duplicates followed to the original.
pub(super) const MAX_HOPS: usize = 16;

/// Moves report `id` to `req.to` as `actor`: refused with the allowed steps when the workflow does not allow it
/// ([`Error::Transition`]); a rejection needs a `reason`, a duplicate the original in `duplicate_of`. The reporter
/// (when an email is known) gets the change by email; the email carries no link (see [`transition_with_link`]).
pub async fn transition(pool: &PgPool, id: i64, req: &TransitionRequest, actor: &Actor) -> Result<Report> {
    transition_with_link(pool, id, req, actor, "").await
}

/// [`transition`], with the public URL of the web app (`https://segnalazioni.example.org`) for the link in the
/// reporter's email.
pub async fn transition_with_link(
    pool: &PgPool,
    id: i64,
    req: &TransitionRequest,
    actor: &Actor,
    public_url: &str,
) -> Result<Report> {
    let public_note = non_blank(req.public_note.as_deref());
    let private_note = non_blank(req.private_note.as_deref());
    let reason = non_blank(req.reason.as_deref());
    for (field, text) in [("public_note", &public_note), ("private_note", &private_note), ("reason", &reason)]
    {
        if let Some(text) = text {
            check_text(field, text, false)?;
        }
    }
    check_actor(actor)?;

    let mut tx = pool.begin().await?;
    let from: Option<String> =
        sqlx::query_scalar("select status from reports.report where id = $1 for update")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let from: Status = from.ok_or(Error::NotFound { id })?.parse()?;
    let to = from.transition(req.to)?;
    let original = match to {
        Status::Rejected if reason.is_none() => {
            return Err(Error::Invalid("a rejection needs a reason".into()));
        }
        Status::Duplicate => {
            let Some(of) = req.duplicate_of else {
                return Err(Error::Invalid("a duplicate needs the original report (duplicate_of)".into()));
            };
            Some(original_of(&mut tx, id, of).await?)
        }
        _ => None,
    };
    sqlx::query(
        "update reports.report set status = $2, updated_at = now(),
             public_note = $3,
             acknowledged_at = case when $2 in ('acknowledged', 'in_progress', 'resolved')
                                    then coalesce(acknowledged_at, now()) else acknowledged_at end,
             resolved_at = case when $2 = 'resolved' then now() when $2 = 'reopened' then null
                                else resolved_at end,
             closed_at = case when $2 in ('closed', 'rejected', 'duplicate') then now()
                              when $2 = 'reopened' then null else closed_at end,
             reject_reason = case when $2 = 'rejected' then $4 else reject_reason end,
             duplicate_of = case when $2 = 'duplicate' then $5 when $2 = 'reopened' then null
                                 else duplicate_of end
         where id = $1",
    )
    .bind(id)
    .bind(to.as_str())
    .bind(&public_note)
    .bind(&reason)
    .bind(original)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into reports.transition (report_id, from_status, to_status, actor_account_id, actor_name,
             public_note, private_note)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(actor.account_id)
    .bind(&actor.name)
    .bind(&public_note)
    .bind(&private_note)
    .execute(&mut *tx)
    .await?;
    if let Some(original) = original {
        super::moderation::log(
            &mut tx,
            id,
            "mark_duplicate",
            actor,
            serde_json::json!({ "original": original, "note": private_note }),
        )
        .await?;
    }
    let report = load_existing(&mut *tx, id).await?;
    // The reporter, and the reporters of the duplicates of this report: their updates follow the original.
    let followers: Vec<(i64, String)> = sqlx::query_as(
        "select id, reporter_email from reports.report
          where duplicate_of = $1 and status = 'duplicate' and reporter_email is not null",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let reporter = report.private.reporter_email.clone().map(|email| (id, email));
    let (subject, body) = crate::mail::status_change(&report.public, public_url);
    for (report_id, email) in reporter.into_iter().chain(followers) {
        if crate::mail::check_address(&email).is_ok() {
            crate::mail::enqueue(&mut tx, report_id, &email, &subject, &body).await?;
        } else {
            tracing::warn!(
                report = report_id,
                "The reporter's email address is unusable; no email about the change."
            );
        }
    }
    announce(&mut tx, Change::Status, &report).await?;
    tx.commit().await?;
    metrics::counter!("vedetta_report_transitions_total", "to" => to.as_str()).increment(1);
    Ok(report)
}

/// The original that report `id` duplicates when marked a duplicate of `of`: `of` itself, or the original `of`
/// is a duplicate of (followed to the end).
async fn original_of(conn: &mut PgConnection, id: i64, of: i64) -> Result<i64> {
    let mut current = of;
    for _ in 0..MAX_HOPS {
        if current == id {
            return Err(Error::Invalid(format!("report {id} cannot be a duplicate of itself")));
        }
        let next: Option<Option<i64>> = sqlx::query_scalar(
            "select case when status = 'duplicate' then duplicate_of end from reports.report where id = $1",
        )
        .bind(current)
        .fetch_optional(&mut *conn)
        .await?;
        match next {
            None => {
                return Err(Error::Invalid(format!("the original report {current} does not exist")));
            }
            Some(None) => return Ok(current),
            Some(Some(next)) => current = next,
        }
    }
    Err(Error::Invalid(format!("report {of} leads through more than {MAX_HOPS} duplicates")))
}

pub(super) fn check_actor(actor: &Actor) -> Result<()> {
    let chars = actor.name.chars().count();
    if actor.name.trim().is_empty() || chars > 200 {
        return Err(Error::Invalid("the actor's name: 1 to 200 characters".into()));
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct StepRow {
    at: DateTime<Utc>,
    from_status: Option<String>,
    to_status: String,
    actor_name: Option<String>,
    public_note: Option<String>,
    private_note: Option<String>,
}

/// Every step of report `id`, oldest first, the filing included ([`Error::NotFound`] for no such report).
pub async fn history(pool: &PgPool, id: i64) -> Result<Vec<Step>> {
    let rows: Vec<StepRow> = sqlx::query_as(
        "select at, from_status, to_status, actor_name, public_note, private_note
         from reports.transition where report_id = $1 order by at, id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        super::query::load_existing(pool, id).await?;
    }
    rows.into_iter()
        .map(|r| {
            Ok(Step {
                at: r.at,
                from: r.from_status.as_deref().map(str::parse).transpose()?,
                to: r.to_status.parse()?,
                actor_name: r.actor_name,
                public_note: r.public_note,
                private_note: r.private_note,
            })
        })
        .collect()
}
