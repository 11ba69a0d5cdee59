//! Interventions: the team, the planned date, when it was done and the outcome of the work on the ground.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};

use super::query::load_existing;
use super::workflow::check_actor;
use super::{Actor, Change, Intervention, InterventionInput, announce, check_text, non_blank};
use crate::{Error, Result};

/// Longest team name, in characters.
const MAX_TEAM: usize = 200;

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    report_id: i64,
    team: String,
    scheduled_for: Option<NaiveDate>,
    done_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Intervention {
    fn from(r: Row) -> Intervention {
        Intervention {
            id: r.id,
            report_id: r.report_id,
            team: r.team,
            scheduled_for: r.scheduled_for,
            done_at: r.done_at,
            outcome: r.outcome,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "id, report_id, team, scheduled_for, done_at, outcome, created_at, updated_at";

/// Attaches an intervention to report `report_id` (a team is required; the outcome is plain text of at most
/// 4,000 characters).
pub async fn add_intervention(
    pool: &PgPool,
    report_id: i64,
    input: &InterventionInput,
    actor: &Actor,
) -> Result<Intervention> {
    check_actor(actor)?;
    let (team, outcome) = checked(input)?;
    let Some(team) = team else {
        return Err(Error::Invalid("an intervention needs a team".into()));
    };
    let mut tx = pool.begin().await?;
    lock_report(&mut tx, report_id).await?;
    let row: Row = sqlx::query_as(&format!(
        "insert into reports.intervention (report_id, team, scheduled_for, done_at, outcome, created_by)
         values ($1, $2, $3, $4, $5, $6) returning {COLUMNS}"
    ))
    .bind(report_id)
    .bind(&team)
    .bind(input.scheduled_for)
    .bind(input.done_at)
    .bind(&outcome)
    .bind(actor.account_id)
    .fetch_one(&mut *tx)
    .await?;
    touch_and_announce(&mut tx, report_id).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// Changes intervention `id` of report `report_id`: the fields given replace the stored ones, the others stay.
pub async fn update_intervention(
    pool: &PgPool,
    report_id: i64,
    id: i64,
    input: &InterventionInput,
    actor: &Actor,
) -> Result<Intervention> {
    check_actor(actor)?;
    let (team, outcome) = checked(input)?;
    if input.team.is_some() && team.is_none() {
        return Err(Error::Invalid("an intervention needs a team".into()));
    }
    let mut tx = pool.begin().await?;
    lock_report(&mut tx, report_id).await?;
    let row: Option<Row> = sqlx::query_as(&format!(
        "update reports.intervention set team = coalesce($3, team),
             scheduled_for = coalesce($4, scheduled_for), done_at = coalesce($5, done_at),
             outcome = coalesce($6, outcome), updated_at = now()
         where report_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(report_id)
    .bind(id)
    .bind(&team)
    .bind(input.scheduled_for)
    .bind(input.done_at)
    .bind(&outcome)
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.ok_or(Error::InterventionNotFound { report_id, id })?;
    touch_and_announce(&mut tx, report_id).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// The interventions of report `report_id`, oldest first ([`Error::NotFound`] for no such report).
pub async fn interventions(pool: &PgPool, report_id: i64) -> Result<Vec<Intervention>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "select {COLUMNS} from reports.intervention where report_id = $1 order by created_at, id"
    ))
    .bind(report_id)
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        load_existing(pool, report_id).await?;
    }
    Ok(rows.into_iter().map(Intervention::from).collect())
}

/// The trimmed team and outcome of `input`, checked.
fn checked(input: &InterventionInput) -> Result<(Option<String>, Option<String>)> {
    let team = non_blank(input.team.as_deref());
    if let Some(team) = &team {
        if team.chars().count() > MAX_TEAM || team.contains(char::is_control) {
            return Err(Error::Invalid(format!("the team: one line of at most {MAX_TEAM} characters")));
        }
        check_text("team", team, true)?;
    }
    let outcome = non_blank(input.outcome.as_deref());
    if let Some(outcome) = &outcome {
        check_text("outcome", outcome, false)?;
    }
    Ok((team, outcome))
}

async fn lock_report(conn: &mut PgConnection, report_id: i64) -> Result<()> {
    let found: Option<i64> = sqlx::query_scalar("select id from reports.report where id = $1 for update")
        .bind(report_id)
        .fetch_optional(conn)
        .await?;
    found.map(|_| ()).ok_or(Error::NotFound { id: report_id })
}

async fn touch_and_announce(conn: &mut PgConnection, report_id: i64) -> Result<()> {
    sqlx::query("update reports.report set updated_at = now() where id = $1")
        .bind(report_id)
        .execute(&mut *conn)
        .await?;
    let report = load_existing(&mut *conn, report_id).await?;
    announce(conn, Change::Intervention, &report).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teams_are_one_line_and_outcomes_plain_text() {
        let ok = InterventionInput { team: Some(" Squadra strade ".into()), ..Default::default() };
        assert_eq!(checked(&ok).unwrap().0.as_deref(), Some("Squadra strade"));
        let multiline = InterventionInput { team: Some("a\nb".into()), ..Default::default() };
        assert!(checked(&multiline).is_err());
        let long = InterventionInput { outcome: Some("x".repeat(4001)), ..Default::default() };
        assert!(checked(&long).is_err());
        let html = InterventionInput { outcome: Some("<b>fatto</b>".into()), ..Default::default() };
        assert!(checked(&html).is_err());
    }
}
