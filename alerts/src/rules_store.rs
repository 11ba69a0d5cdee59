//! Rule definitions stored in PostGIS (`alerts.rule`): those an administrator adds through the API (source `api`)
//! and, when the configuration file's rules are recorded there, those (source `config`, read-only here).
//!
//! The evaluator reloads the table on every tick (see [`crate::evaluator`]): a stored rule takes effect within a
//! tick, a rule of the configuration file with the same code wins over it, and a stored rule replaces a built-in
//! one with its code. Every change is logged in `alerts.action_log` (actions `rule_put`, `rule_delete`) in the
//! transaction that makes it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};

use crate::rule::{Problem, Rule};
use crate::{Error, Result};

/// A stored rule definition, as the table holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRule {
    pub code: String,
    /// `api` (added through the API) or `config` (recorded from the configuration file).
    pub source: String,
    /// The definition in the JSON format [`Rule::from_json`] reads.
    pub definition: serde_json::Value,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<String>,
}

impl StoredRule {
    /// The checked rule, or what is wrong with the stored definition (the evaluator skips such a rule).
    pub fn rule(&self) -> std::result::Result<Rule, Vec<Problem>> {
        Rule::from_json(&self.definition)
    }
}

const COLUMNS: &str = "code, source, definition, updated_at, updated_by";

fn from_row(row: &sqlx::postgres::PgRow) -> Result<StoredRule> {
    Ok(StoredRule {
        code: row.try_get("code")?,
        source: row.try_get("source")?,
        definition: row.try_get("definition")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

/// Every stored rule, by code.
pub async fn list(pool: &PgPool) -> Result<Vec<StoredRule>> {
    let sql = format!(r#"select {COLUMNS} from alerts.rule order by code collate "C""#);
    sqlx::query(&sql).fetch_all(pool).await?.iter().map(from_row).collect()
}

/// The stored rule with `code`, if any.
pub async fn get(pool: &PgPool, code: &str) -> Result<Option<StoredRule>> {
    let sql = format!("select {COLUMNS} from alerts.rule where code = $1");
    sqlx::query(&sql).bind(code).fetch_optional(pool).await?.as_ref().map(from_row).transpose()
}

/// Stores a checked rule with source `api` (replacing the stored one with its code), logged as `rule_put` by
/// `actor`. Returns the stored rule and whether it is new. A rule of the configuration file with that code is not
/// replaced: [`Error::Conflict`].
pub async fn put(pool: &PgPool, rule: &Rule, actor: &str) -> Result<(StoredRule, bool)> {
    let definition = rule.to_json();
    let mut tx = pool.begin().await?;
    let sql = format!(
        "insert into alerts.rule (code, definition, source, updated_by) values ($1, $2, 'api', $3)
         on conflict (code) do update
             set definition = excluded.definition, updated_at = now(), updated_by = excluded.updated_by
             where alerts.rule.source = 'api'
         returning {COLUMNS}, (xmax = 0) as created"
    );
    let row =
        sqlx::query(&sql).bind(&rule.code).bind(&definition).bind(actor).fetch_optional(&mut *tx).await?;
    let Some(row) = row else {
        return Err(from_config(&rule.code));
    };
    let stored = from_row(&row)?;
    let created: bool = row.try_get("created")?;
    log(&mut tx, actor, "rule_put", serde_json::json!({"code": rule.code, "definition": definition})).await?;
    tx.commit().await?;
    Ok((stored, created))
}

/// Deletes the stored rule with `code`, logged as `rule_delete` by `actor`; whether there was one. A rule of the
/// configuration file is not deleted: [`Error::Conflict`].
pub async fn delete(pool: &PgPool, code: &str, actor: &str) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let source: Option<String> =
        sqlx::query_scalar("delete from alerts.rule where code = $1 and source = 'api' returning source")
            .bind(code)
            .fetch_optional(&mut *tx)
            .await?;
    if source.is_none() {
        let exists: bool = sqlx::query_scalar("select exists(select 1 from alerts.rule where code = $1)")
            .bind(code)
            .fetch_one(&mut *tx)
            .await?;
        return if exists { Err(from_config(code)) } else { Ok(false) };
    }
    log(&mut tx, actor, "rule_delete", serde_json::json!({"code": code})).await?;
    tx.commit().await?;
    Ok(true)
}

fn from_config(code: &str) -> Error {
    Error::Conflict(format!(
        "rule `{code}` comes from the configuration file; change it there, not through the API"
    ))
}

async fn log(
    conn: &mut sqlx::PgConnection,
    actor: &str,
    action: &str,
    details: serde_json::Value,
) -> Result<()> {
    sqlx::query("insert into alerts.action_log (actor, action, details) values ($1, $2, $3)")
        .bind(actor)
        .bind(action)
        .bind(details)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records the configuration file's rules (source `config`), so that the API shows every rule in force: those no
/// longer configured are removed, a configured rule replaces a stored one with its code (the configuration wins,
/// as in the evaluator). Run at start by the process that reads the configuration.
pub async fn record_config(pool: &PgPool, rules: &crate::rule::RuleSet) -> Result<()> {
    let mut tx = pool.begin().await?;
    let codes: Vec<String> = rules.iter().map(|r| r.code.clone()).collect();
    sqlx::query("delete from alerts.rule where source = 'config' and not (code = any($1))")
        .bind(&codes)
        .execute(&mut *tx)
        .await?;
    for rule in rules {
        sqlx::query(
            "insert into alerts.rule (code, definition, source, updated_by) values ($1, $2, 'config', 'configuration')
             on conflict (code) do update set definition = excluded.definition, source = 'config',
                 updated_by = excluded.updated_by, updated_at = now()
             where alerts.rule.definition is distinct from excluded.definition or alerts.rule.source <> 'config'",
        )
        .bind(&rule.code)
        .bind(rule.to_json())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
