//! Alerts in PostGIS: one row per (rule, subject) episode with its history, operators' acknowledgements, silences
//! and manual alerts, and the `alert.changed` events that announce every change on the live-event spine.
//!
//! Whoever changes an alert (the evaluator, an operator) does it in one transaction: the row, its history entry,
//! the webhook deliveries and the spine event commit together, so a change is announced once, and only if it
//! happened.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use crate::alert::{Alert, Category, HistoryEntry, State, SubjectKind};
use crate::ladder::Change;
use crate::{Error, Level, Result};

/// What identifies an open alert: one per rule and subject at a time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub rule: String,
    pub subject_kind: SubjectKind,
    pub subject: String,
}

/// What a new alert is opened with (ignored when the alert exists, but for `value`).
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    pub zone: Option<String>,
    pub category: Category,
    pub hazard: String,
    pub unit: Option<String>,
    pub message: Option<String>,
}

/// The longest silence an operator may set.
pub const MAX_SILENCE: chrono::Duration = chrono::Duration::hours(72);

const COLUMNS: &str = "a.id, a.version, a.rule, a.subject_kind, a.subject, a.zone, a.category, a.hazard, a.state,
    a.level, a.peak_level, a.previous_level, a.last_change, a.value, a.unit, a.message, a.started_at, a.fired_at,
    a.resolved_at, a.updated_at, a.acknowledged_at, a.acknowledged_by, a.ack_note,
    exists (select 1 from alerts.silence s
            where s.lifted_at is null and s.until > now()
              and ((s.scope_kind = 'rule' and s.scope = a.rule)
                or (s.scope_kind = 'zone' and s.scope = a.zone)
                or (s.scope_kind = a.subject_kind and s.scope = a.subject))) as silenced";

fn level(s: &str) -> Result<Level> {
    s.parse()
}

fn from_row(row: &PgRow) -> Result<Alert> {
    let subject_kind = match row.try_get::<String, _>("subject_kind")?.as_str() {
        "zone" => SubjectKind::Zone,
        _ => SubjectKind::Station,
    };
    let category = match row.try_get::<String, _>("category")?.as_str() {
        "technical" => Category::Technical,
        "manual" => Category::Manual,
        _ => Category::Hydro,
    };
    let state: String = row.try_get("state")?;
    Ok(Alert {
        id: row.try_get("id")?,
        version: row.try_get("version")?,
        rule: row.try_get("rule")?,
        subject_kind,
        subject: row.try_get("subject")?,
        zone: row.try_get("zone")?,
        category,
        hazard: row.try_get("hazard")?,
        state: State::parse(&state).unwrap_or(State::Resolved),
        level: level(&row.try_get::<String, _>("level")?)?,
        peak_level: level(&row.try_get::<String, _>("peak_level")?)?,
        previous_level: row
            .try_get::<Option<String>, _>("previous_level")?
            .as_deref()
            .map(level)
            .transpose()?,
        change: row.try_get("last_change")?,
        value: row.try_get("value")?,
        unit: row.try_get("unit")?,
        message: row.try_get("message")?,
        started_at: row.try_get("started_at")?,
        fired_at: row.try_get("fired_at")?,
        resolved_at: row.try_get("resolved_at")?,
        updated_at: row.try_get("updated_at")?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        acknowledged_by: row.try_get("acknowledged_by")?,
        ack_note: row.try_get("ack_note")?,
        silenced: row.try_get("silenced")?,
    })
}

/// The open (pending or firing) alert of `key`, locked for the transaction.
async fn open_alert(conn: &mut PgConnection, key: &Key) -> Result<Option<Alert>> {
    let sql = format!(
        "select {COLUMNS} from alerts.alert a
         where a.rule = $1 and a.subject_kind = $2 and a.subject = $3 and a.state <> 'resolved' for update"
    );
    let row = sqlx::query(&sql)
        .bind(&key.rule)
        .bind(key.subject_kind.as_str())
        .bind(&key.subject)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Applies a change decided by a rule (or an operator) at observation time `at`; returns the alert after it, or
/// `None` when there was nothing to change (a resolution of an alert that is not open).
pub async fn apply(
    conn: &mut PgConnection,
    key: &Key,
    ctx: &Context,
    change: Change,
    at: DateTime<Utc>,
    value: Option<f64>,
    actor: Option<&str>,
) -> Result<Option<Alert>> {
    let open = open_alert(conn, key).await?;
    let id = match (open, change.level()) {
        (None, None) => return Ok(None),
        (None, Some(to)) => {
            let state = if matches!(change, Change::Opened { .. }) { State::Pending } else { State::Firing };
            let id: i64 = sqlx::query_scalar(
                "insert into alerts.alert (rule, subject_kind, subject, zone, category, hazard, state, level,
                     peak_level, last_change, value, unit, message, started_at, fired_at, created_by)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $13,
                         case when $7 = 'firing' then $13 end, $14)
                 returning id",
            )
            .bind(&key.rule)
            .bind(key.subject_kind.as_str())
            .bind(&key.subject)
            .bind(&ctx.zone)
            .bind(ctx.category.as_str())
            .bind(&ctx.hazard)
            .bind(state.as_str())
            .bind(to.as_str())
            .bind(change.name())
            .bind(value)
            .bind(&ctx.unit)
            .bind(&ctx.message)
            .bind(at)
            .bind(actor)
            .fetch_one(&mut *conn)
            .await?;
            id
        }
        (Some(alert), to) => {
            let (state, level) = match to {
                Some(level) if matches!(change, Change::Opened { .. }) && alert.state == State::Pending => {
                    (State::Pending, level)
                }
                Some(level) => (State::Firing, level),
                None => (State::Resolved, alert.level),
            };
            sqlx::query(
                "update alerts.alert set
                     version = version + 1, state = $2, previous_level = level, level = $3,
                     peak_level = case when array_position(array['gialla','arancione','rossa'], $3)
                                         > array_position(array['gialla','arancione','rossa'], peak_level)
                                       then $3 else peak_level end,
                     last_change = $4, value = coalesce($5, value),
                     message = coalesce($6, message),
                     fired_at = case when $2 = 'firing' then coalesce(fired_at, $7) else fired_at end,
                     resolved_at = case when $2 = 'resolved' then $7 end,
                     updated_at = now()
                 where id = $1",
            )
            .bind(alert.id)
            .bind(state.as_str())
            .bind(level.as_str())
            .bind(change.name())
            .bind(value)
            .bind(&ctx.message)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            alert.id
        }
    };
    let alert = get_in(conn, id).await?.ok_or(Error::AlertNotFound(id))?;
    record(conn, &alert, change.name(), actor).await?;
    Ok(Some(alert))
}

/// Appends the history entry of the alert's current version.
async fn record(conn: &mut PgConnection, alert: &Alert, reason: &str, actor: Option<&str>) -> Result<()> {
    sqlx::query(
        "insert into alerts.alert_history (alert_id, version, at, state, level, value, reason, actor)
         values ($1, $2, now(), $3, $4, $5, $6, $7)",
    )
    .bind(alert.id)
    .bind(alert.version)
    .bind(alert.state.as_str())
    .bind(alert.level.as_str())
    .bind(alert.value)
    .bind(reason)
    .bind(actor)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Announces changed alerts: webhook deliveries for those that notify (fired alerts, not silenced) and one
/// `alert.changed` event each. Call it last before the commit (it appends to the spine).
pub async fn announce(conn: &mut PgConnection, alerts: &[Alert]) -> Result<Vec<i64>> {
    let mut events = Vec::with_capacity(alerts.len());
    for alert in alerts {
        let payload = serde_json::to_value(alert).map_err(|e| Error::Encoding(e.to_string()))?;
        if notifies(alert) {
            // Webhooks go to other systems: not the operators' names and notes.
            let public =
                serde_json::to_value(alert.clone().redacted()).map_err(|e| Error::Encoding(e.to_string()))?;
            crate::webhook::enqueue(conn, &public, None).await?;
        }
        events.push(database::event::NewEvent::new(Alert::EVENT, Some(alert.id.to_string()), payload));
    }
    database::event::append(conn, &events).await.map_err(|e| Error::Spine(e.to_string()))
}

/// Whether a change goes out to webhooks: changes of alerts that fired (a pending one is not news yet, a withdrawn
/// one never was), unless silenced.
pub fn notifies(alert: &Alert) -> bool {
    alert.fired_at.is_some() && !alert.silenced && alert.change != "withdrawn"
}

async fn get_in(conn: &mut PgConnection, id: i64) -> Result<Option<Alert>> {
    let sql = format!("select {COLUMNS} from alerts.alert a where a.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// One alert.
pub async fn get(pool: &PgPool, id: i64) -> Result<Option<Alert>> {
    let mut conn = pool.acquire().await?;
    get_in(&mut conn, id).await
}

/// An alert's history, oldest first.
pub async fn history(pool: &PgPool, id: i64) -> Result<Vec<HistoryEntry>> {
    recent_history(pool, id, i64::MAX).await
}

/// The newest `limit` entries of an alert's history, oldest first.
pub async fn recent_history(pool: &PgPool, id: i64, limit: i64) -> Result<Vec<HistoryEntry>> {
    type Row = (i32, DateTime<Utc>, String, String, Option<f64>, String, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "select * from (select version, at, state, level, value, reason, actor from alerts.alert_history
                        where alert_id = $1 order by version desc limit $2) h order by version",
    )
    .bind(id)
    .bind(limit.max(0))
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(version, at, state, lvl, value, reason, actor)| {
            Ok(HistoryEntry {
                version,
                at,
                state: State::parse(&state).unwrap_or(State::Resolved),
                level: level(&lvl)?,
                value,
                reason,
                actor,
            })
        })
        .collect()
}

/// Which alerts to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub state: Option<State>,
    pub zone: Option<String>,
    pub category: Option<Category>,
    /// Changed at or after.
    pub since: Option<DateTime<Utc>>,
    /// At most this many, newest change first.
    pub limit: i64,
    pub offset: i64,
    /// Only what the public sees: hydrological and manual alerts that fired ([`Alert::is_public`]).
    pub public_only: bool,
}

/// Alerts, newest change first.
pub async fn list(pool: &PgPool, filter: &Filter) -> Result<Vec<Alert>> {
    let sql = format!(
        "select {COLUMNS} from alerts.alert a
         where ($1::text is null or a.state = $1) and ($2::text is null or a.zone = $2)
           and ($3::text is null or a.category = $3) and ($4::timestamptz is null or a.updated_at >= $4)
           and (not $7 or (a.category <> 'technical' and a.fired_at is not null))
         order by a.updated_at desc, a.id desc limit $5 offset $6"
    );
    let rows = sqlx::query(&sql)
        .bind(filter.state.map(State::as_str))
        .bind(&filter.zone)
        .bind(filter.category.map(Category::as_str))
        .bind(filter.since)
        .bind(filter.limit.clamp(0, 1000))
        .bind(filter.offset.max(0))
        .bind(filter.public_only)
        .fetch_all(pool)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Logs an operator's action.
async fn log(
    conn: &mut PgConnection,
    actor: &str,
    action: &str,
    alert: Option<i64>,
    details: serde_json::Value,
) -> Result<()> {
    sqlx::query("insert into alerts.action_log (actor, action, alert_id, details) values ($1, $2, $3, $4)")
        .bind(actor)
        .bind(action)
        .bind(alert)
        .bind(details)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// An operator acknowledges an open alert (who, when, note); an alert already acknowledged keeps the first
/// acknowledgement and the new one is only logged.
pub async fn acknowledge(pool: &PgPool, id: i64, actor: &str, note: Option<&str>) -> Result<Alert> {
    let mut tx = pool.begin().await?;
    let state: Option<String> = sqlx::query_scalar("select state from alerts.alert where id = $1 for update")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    match state.as_deref() {
        None => return Err(Error::AlertNotFound(id)),
        Some("resolved") => {
            return Err(Error::Conflict(format!("alert {id} is resolved; there is nothing to acknowledge")));
        }
        Some(_) => {}
    }
    let updated = sqlx::query(
        "update alerts.alert set version = version + 1, acknowledged_at = now(), acknowledged_by = $2,
             ack_note = $3, last_change = 'acknowledged', previous_level = level, updated_at = now()
         where id = $1 and acknowledged_at is null",
    )
    .bind(id)
    .bind(actor)
    .bind(note)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    log(&mut tx, actor, "acknowledge", Some(id), serde_json::json!({ "note": note })).await?;
    let alert = get_in(&mut tx, id).await?.ok_or(Error::AlertNotFound(id))?;
    if updated > 0 {
        record(
            &mut tx,
            &alert,
            &format!("acknowledged{}", note.map(|n| format!(": {n}")).unwrap_or_default()),
            Some(actor),
        )
        .await?;
        announce_only_event(&mut tx, &alert).await?;
    }
    tx.commit().await?;
    Ok(alert)
}

/// An `alert.changed` event without webhook deliveries (acknowledgements concern the operators' screens only).
async fn announce_only_event(conn: &mut PgConnection, alert: &Alert) -> Result<()> {
    let payload = serde_json::to_value(alert).map_err(|e| Error::Encoding(e.to_string()))?;
    let event = database::event::NewEvent::new(Alert::EVENT, Some(alert.id.to_string()), payload);
    database::event::append(conn, &[event]).await.map_err(|e| Error::Spine(e.to_string()))?;
    Ok(())
}

/// A silence: what it covers, until when, who set it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: i64,
    /// `station`, `zone` or `rule`.
    pub scope_kind: String,
    pub scope: String,
    pub until: DateTime<Utc>,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub lifted_at: Option<DateTime<Utc>>,
}

/// Sets a silence on a station, zone or rule until `until` (in the future, at most [`MAX_SILENCE`] ahead).
pub async fn silence(
    pool: &PgPool,
    scope_kind: &str,
    scope: &str,
    until: DateTime<Utc>,
    actor: &str,
    note: Option<&str>,
) -> Result<Silence> {
    if !matches!(scope_kind, "station" | "zone" | "rule") {
        return Err(Error::InvalidInput(format!(
            "a silence covers a station, a zone or a rule, not `{scope_kind}`"
        )));
    }
    if scope.is_empty() || scope.len() > 64 {
        return Err(Error::InvalidInput("the silenced scope must be 1 to 64 characters".into()));
    }
    let now = Utc::now();
    if until <= now {
        return Err(Error::InvalidInput(format!("`until` ({until}) is not in the future")));
    }
    if until > now + MAX_SILENCE {
        return Err(Error::InvalidInput(format!(
            "a silence lasts at most {} hours; `until` is {until}",
            MAX_SILENCE.num_hours()
        )));
    }
    let mut tx = pool.begin().await?;
    let (id, created_at): (i64, DateTime<Utc>) = sqlx::query_as(
        "insert into alerts.silence (scope_kind, scope, until, note, created_by) values ($1, $2, $3, $4, $5)
         returning id, created_at",
    )
    .bind(scope_kind)
    .bind(scope)
    .bind(until)
    .bind(note)
    .bind(actor)
    .fetch_one(&mut *tx)
    .await?;
    log(
        &mut tx,
        actor,
        "silence",
        None,
        serde_json::json!({"scope_kind": scope_kind, "scope": scope, "until": until, "note": note}),
    )
    .await?;
    tx.commit().await?;
    Ok(Silence {
        id,
        scope_kind: scope_kind.into(),
        scope: scope.into(),
        until,
        note: note.map(str::to_string),
        created_by: actor.into(),
        created_at,
        lifted_at: None,
    })
}

/// Silences still in force.
pub async fn silences(pool: &PgPool) -> Result<Vec<Silence>> {
    type Row =
        (i64, String, String, DateTime<Utc>, Option<String>, String, DateTime<Utc>, Option<DateTime<Utc>>);
    let rows: Vec<Row> = sqlx::query_as(
        "select id, scope_kind, scope, until, note, created_by, created_at, lifted_at from alerts.silence
             where lifted_at is null and until > now() order by until limit 1000",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, scope_kind, scope, until, note, created_by, created_at, lifted_at)| Silence {
            id,
            scope_kind,
            scope,
            until,
            note,
            created_by,
            created_at,
            lifted_at,
        })
        .collect())
}

/// Lifts a silence before its end; whether it was in force.
pub async fn lift_silence(pool: &PgPool, id: i64, actor: &str) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "update alerts.silence set lifted_at = now(), lifted_by = $2 where id = $1 and lifted_at is null and until > now()",
    )
    .bind(id)
    .bind(actor)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done > 0 {
        log(&mut tx, actor, "lift_silence", None, serde_json::json!({"silence": id})).await?;
    }
    tx.commit().await?;
    Ok(done > 0)
}

/// The rule name of manual alerts.
pub const MANUAL_RULE: &str = "manual";

/// An operator issues, changes or (with [`Level::Verde`]) ends the manual alert of a zone, e.g. copying the
/// regional bulletin's colour. The zone must exist.
pub async fn manual(
    pool: &PgPool,
    zone: &str,
    level: Level,
    hazard: &str,
    message: Option<&str>,
    actor: &str,
) -> Result<Option<Alert>> {
    if !matches!(hazard, "idraulico" | "idrogeologico" | "temporali") {
        return Err(Error::InvalidInput(format!(
            "unknown hazard `{hazard}` (expected idraulico, idrogeologico or temporali)"
        )));
    }
    let mut tx = pool.begin().await?;
    // One operator at a time per zone and hazard: parallel requests queue instead of racing to open the alert.
    sqlx::query("select pg_advisory_xact_lock(22085, hashtext('manual:' || $1 || ':' || $2))")
        .bind(zone)
        .bind(hazard)
        .execute(&mut *tx)
        .await?;
    let exists: bool = sqlx::query_scalar("select exists(select 1 from alerts.zone where code = $1)")
        .bind(zone)
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        return Err(Error::NotFound(format!("no alert zone has the code `{zone}`")));
    }
    let key = Key {
        rule: format!("{MANUAL_RULE}:{hazard}"),
        subject_kind: SubjectKind::Zone,
        subject: zone.into(),
    };
    let ctx = Context {
        zone: Some(zone.into()),
        category: Category::Manual,
        hazard: hazard.into(),
        unit: None,
        message: message.map(str::to_string),
    };
    let open = open_alert(&mut tx, &key).await?;
    let change = match (open.as_ref().map(|a| a.level), level) {
        (None, Level::Verde) => None,
        (None, to) => Some(Change::Fired { level: to }),
        (Some(from), Level::Verde) => Some(Change::Resolved { from }),
        (Some(from), to) if to > from => Some(Change::Escalated { from, to }),
        (Some(from), to) if to < from => Some(Change::Deescalated { from, to }),
        (Some(_), _) => None,
    };
    log(
        &mut tx,
        actor,
        "manual_alert",
        open.as_ref().map(|a| a.id),
        serde_json::json!({"zone": zone, "level": level.as_str(), "hazard": hazard, "message": message}),
    )
    .await?;
    let Some(change) = change else {
        // The same colour with a new text (the bulletin was reworded): an update of the alert, announced.
        let reworded = open.as_ref().filter(|a| message.is_some() && a.message.as_deref() != message);
        let Some(alert) = reworded else {
            tx.commit().await?;
            return Ok(open);
        };
        sqlx::query(
            "update alerts.alert set version = version + 1, message = $2, last_change = 'updated',
                 previous_level = level, updated_at = now()
             where id = $1",
        )
        .bind(alert.id)
        .bind(message)
        .execute(&mut *tx)
        .await?;
        let alert = get_in(&mut tx, alert.id).await?.ok_or(Error::AlertNotFound(alert.id))?;
        record(&mut tx, &alert, "updated", Some(actor)).await?;
        announce(&mut tx, std::slice::from_ref(&alert)).await?;
        tx.commit().await?;
        return Ok(Some(alert));
    };
    let alert = apply(&mut tx, &key, &ctx, change, Utc::now(), None, Some(actor)).await?;
    if let Some(alert) = &alert {
        announce(&mut tx, std::slice::from_ref(alert)).await?;
    }
    tx.commit().await?;
    Ok(alert)
}

/// A consumer's durable position on the spine.
pub async fn cursor(pool: &PgPool, consumer: &str) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar("select last_event_id from alerts.consumer_cursor where consumer = $1")
        .bind(consumer)
        .fetch_optional(pool)
        .await?)
}

/// Saves a consumer's position.
pub async fn save_cursor(conn: impl sqlx::PgExecutor<'_>, consumer: &str, id: i64) -> Result<()> {
    sqlx::query(
        "insert into alerts.consumer_cursor (consumer, last_event_id) values ($1, $2)
         on conflict (consumer) do update set last_event_id = excluded.last_event_id, updated_at = now()",
    )
    .bind(consumer)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The colour a subject (station or zone) stands at: the most severe of its firing hydrological and manual alerts,
/// verde when none fires.
pub async fn subject_level(pool: &PgPool, subject_kind: SubjectKind, subject: &str) -> Result<Level> {
    let level: Option<String> = sqlx::query_scalar(
        "select level from alerts.alert
         where subject_kind = $1 and subject = $2 and state = 'firing' and category <> 'technical'
         order by array_position(array['gialla', 'arancione', 'rossa'], level) desc limit 1",
    )
    .bind(subject_kind.as_str())
    .bind(subject)
    .fetch_optional(pool)
    .await?;
    level.as_deref().map_or(Ok(Level::Verde), self::level)
}
