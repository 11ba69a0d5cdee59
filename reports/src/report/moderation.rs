//! Moderation: approving pre-moderated reports, hiding, redacting, removing a photo and moving a report to another
//! comune; every act logged with its actor and announced.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use super::query::load_existing;
use super::workflow::check_actor;
use super::{Actor, Change, LogEntry, Moderation, Report, announce, check_text};
use crate::{Error, Result};

/// Does `m` to report `id` as `actor`; logs it in the moderation log and announces the change.
pub async fn moderate(pool: &PgPool, id: i64, m: &Moderation, actor: &Actor) -> Result<Report> {
    check_actor(actor)?;
    let mut tx = pool.begin().await?;
    let current: Option<(String, String)> =
        sqlx::query_as("select comune, description from reports.report where id = $1 for update")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let (comune, description) = current.ok_or(Error::NotFound { id })?;
    let (action, detail, change) = match m {
        Moderation::Approve => {
            set(&mut tx, id, "approved = true").await?;
            ("approve", json!({}), Change::Moderated)
        }
        Moderation::Hide { reason } => {
            check_text("reason", reason, true)?;
            set(&mut tx, id, "hidden = true").await?;
            ("hide", json!({ "reason": reason.trim() }), Change::Moderated)
        }
        Moderation::Unhide => {
            set(&mut tx, id, "hidden = false").await?;
            ("unhide", json!({}), Change::Moderated)
        }
        Moderation::Redact { description: text } => {
            check_text("description", text, true)?;
            sqlx::query("update reports.report set description = $2, updated_at = now() where id = $1")
                .bind(id)
                .bind(text.trim())
                .execute(&mut *tx)
                .await?;
            // The redacted text is not kept: redactions remove what must not stay (personal data, insults).
            let detail = json!({ "chars_before": description.chars().count(), "chars_after": text.trim().chars().count() });
            ("redact", detail, Change::Moderated)
        }
        Moderation::RemovePhoto { position } => {
            let sha: Option<String> = sqlx::query_scalar(
                "update reports.photo set removed_at = now()
                 where report_id = $1 and position = $2 and removed_at is null returning sha256",
            )
            .bind(id)
            .bind(position)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(sha) = sha else {
                return Err(Error::Invalid(format!("report {id} has no photo at position {position}")));
            };
            sqlx::query("update reports.report set updated_at = now() where id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            ("remove_photo", json!({ "position": position, "sha256": sha }), Change::Moderated)
        }
        Moderation::Move { comune: to, note } => {
            let to = to.trim();
            check_text("note", note, true)?;
            crate::category::ensure_comune(&mut *tx, to).await?;
            if to == comune {
                return Err(Error::Invalid(format!("report {id} is already in comune {to}")));
            }
            sqlx::query("update reports.report set comune = $2, updated_at = now() where id = $1")
                .bind(id)
                .bind(to)
                .execute(&mut *tx)
                .await?;
            ("move", json!({ "from": comune, "to": to, "note": note.trim() }), Change::Moved)
        }
    };
    log(&mut tx, id, action, actor, detail).await?;
    scrub_events(&mut tx, id, m).await?;
    let report = load_existing(&mut *tx, id).await?;
    announce(&mut tx, change, &report).await?;
    tx.commit().await?;
    Ok(report)
}

/// Rewrites the report's past `report.changed` events so that a replay of the spine (an SSE client resuming with
/// an old `Last-Event-ID`, a lagging webhook dispatcher) does not give back what moderation took away: after a
/// hide, the past events are no longer public; after a redaction, they carry the redacted text; after a photo's
/// removal, they no longer list it. The events are found from the report's filing on (`event_created_idx`).
async fn scrub_events(conn: &mut PgConnection, id: i64, m: &Moderation) -> Result<()> {
    let (assignment, value): (&str, String) = match m {
        Moderation::Hide { .. } => {
            ("payload = jsonb_set(payload, '{public}', to_jsonb($3::text::boolean))", "false".to_string())
        }
        Moderation::Redact { description } => (
            "payload = jsonb_set(payload, '{report,description}', to_jsonb($3::text))",
            description.trim().to_string(),
        ),
        Moderation::RemovePhoto { position } => (
            "payload = jsonb_set(payload, '{report,photos}', coalesce(
                 (select jsonb_agg(p) from jsonb_array_elements(payload->'report'->'photos') p
                  where (p->>'position')::smallint is distinct from $3::text::smallint), '[]'))",
            position.to_string(),
        ),
        Moderation::Approve | Moderation::Unhide | Moderation::Move { .. } => return Ok(()),
    };
    sqlx::query(&format!(
        "update core.event set {assignment}
         where kind = $2 and subject = $1::text
           and created_at >= (select created_at from reports.report where id = $1)
           and jsonb_typeof(payload->'report') = 'object'"
    ))
    .bind(id)
    .bind(super::EVENT)
    .bind(value)
    .execute(conn)
    .await?;
    Ok(())
}

/// `update reports.report set <assignment>, updated_at = now()` on report `id` (assignments are constants).
async fn set(conn: &mut PgConnection, id: i64, assignment: &'static str) -> Result<()> {
    sqlx::query(&format!("update reports.report set {assignment}, updated_at = now() where id = $1"))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A line in the moderation log.
pub(super) async fn log(
    conn: &mut PgConnection,
    id: i64,
    action: &str,
    actor: &Actor,
    detail: Value,
) -> Result<()> {
    sqlx::query(
        "insert into reports.moderation_log (report_id, action, actor_account_id, actor_name, detail)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(action)
    .bind(actor.account_id)
    .bind(&actor.name)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct LogRow {
    id: i64,
    at: DateTime<Utc>,
    action: String,
    actor_account_id: Option<i64>,
    actor_name: Option<String>,
    detail: Value,
}

/// The moderation log of report `id`, oldest first ([`Error::NotFound`] for no such report).
pub async fn moderation_log(pool: &PgPool, id: i64) -> Result<Vec<LogEntry>> {
    let rows: Vec<LogRow> = sqlx::query_as(
        "select id, at, action, actor_account_id, actor_name, detail
         from reports.moderation_log where report_id = $1 order by at, id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        load_existing(pool, id).await?;
    }
    Ok(rows
        .into_iter()
        .map(|r| LogEntry {
            id: r.id,
            at: r.at,
            action: r.action,
            actor_account_id: r.actor_account_id,
            actor_name: r.actor_name,
            detail: r.detail,
        })
        .collect())
}
