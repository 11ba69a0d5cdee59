//! Bearer tokens: created once (only their SHA-256 is kept), listed without their secret, revoked.
//!
//! A token either belongs to an account (its powers are the account's grants, read at every request: a change of
//! grants or a disabled account applies at once) or stands alone with a role on its comuni (an integration of one
//! comune's maintenance system) — on every comune when it names none.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use sqlx::types::Json;

use super::account::{self, valid_comune};
use super::{Caller, Grant, Role, RoleSchema};
use crate::ApiError;

/// A token as listed: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    #[schema(example = "manutenzione strade Genova")]
    pub name: String,
    /// The role of a token without an account (for a token of an account: the account's highest role when the
    /// token was created; its powers are the account's grants).
    #[schema(value_type = RoleSchema)]
    pub role: Role,
    /// The comuni of a token without an account (empty: every comune).
    pub comuni: Vec<String>,
    /// The account the token belongs to.
    pub account_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token to create: `{name, role, comuni}` or `{name, account_id}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for (1–200 characters).
    #[schema(example = "manutenzione strade Genova", min_length = 1, max_length = 200)]
    pub name: String,
    /// The role of a token without an account.
    #[schema(value_type = Option<RoleSchema>)]
    pub role: Option<Role>,
    /// The comuni (ISTAT codes) of a token without an account: needed for operators and councillors; empty: every
    /// comune.
    #[serde(default)]
    pub comuni: Vec<String>,
    /// The account the token acts for (then neither `role` nor `comuni`).
    pub account_id: Option<i64>,
}

/// A created token: `token` is shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The secret to send as `Authorization: Bearer <token>`; only its hash is kept.
    #[schema(example = "vdt_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    pub token: String,
    #[serde(flatten)]
    pub info: TokenInfo,
}

/// Most comuni of one token.
const MAX_COMUNI: usize = 500;

/// Creates a token; returns it with its secret.
pub async fn create(pool: &PgPool, new: &NewToken) -> Result<CreatedToken, ApiError> {
    let name = new.name.trim();
    if !(1..=200).contains(&name.chars().count()) || name.chars().any(char::is_control) {
        return Err(ApiError::Unprocessable(
            "`name` must be 1–200 characters, without control characters".into(),
        ));
    }
    let (role, comuni) = match (new.account_id, new.role) {
        (Some(id), None) if new.comuni.is_empty() => {
            let account = account::get(pool, id)
                .await?
                .ok_or_else(|| ApiError::Unprocessable(format!("there is no account {id}")))?;
            if account.disabled_at.is_some() {
                return Err(ApiError::Unprocessable(format!("the account {id} is disabled")));
            }
            (account.grants.iter().map(|g| g.role).min().unwrap_or(Role::Citizen), Vec::new())
        }
        (Some(_), _) => {
            return Err(ApiError::Unprocessable(
                "a token of an account has the account's grants: give `account_id` without `role` and `comuni`"
                    .into(),
            ));
        }
        (None, Some(role)) => (role, valid_comuni(role, &new.comuni)?),
        (None, None) => {
            return Err(ApiError::Unprocessable("give either `role` (and `comuni`) or `account_id`".into()));
        }
    };
    let token = new_token();
    let id: i64 = sqlx::query_scalar(
        "insert into core.api_token (name, role, token_sha256, account_id, comuni) values ($1, $2, $3, $4, $5)
         returning id",
    )
    .bind(name)
    .bind(role.as_str())
    .bind(digest(&token))
    .bind(new.account_id)
    .bind(&comuni)
    .fetch_one(pool)
    .await?;
    let info = get(pool, id).await?.ok_or_else(|| ApiError::Internal(format!("token {id} vanished")))?;
    Ok(CreatedToken { token, info })
}

fn valid_comuni(role: Role, comuni: &[String]) -> Result<Vec<String>, ApiError> {
    if comuni.len() > MAX_COMUNI {
        return Err(ApiError::Unprocessable(format!("at most {MAX_COMUNI} comuni")));
    }
    if let Some(bad) = comuni.iter().find(|c| !valid_comune(c)) {
        return Err(ApiError::Unprocessable(format!("`comuni`: `{bad}` is not an ISTAT code (6 digits)")));
    }
    if comuni.is_empty() && role.needs_comune() {
        return Err(ApiError::Unprocessable(format!("a token of the {role} role needs its `comuni`")));
    }
    if !comuni.is_empty() && matches!(role, Role::Admin | Role::CivilProtection) {
        return Err(ApiError::Unprocessable(format!(
            "the {role} role holds on every comune: leave `comuni` out"
        )));
    }
    let mut comuni = comuni.to_vec();
    comuni.sort();
    comuni.dedup();
    Ok(comuni)
}

type Row = (
    i64,
    String,
    String,
    Vec<String>,
    Option<i64>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

const SELECT: &str =
    "select id, name, role, comuni, account_id, created_at, last_used_at, revoked_at from core.api_token";

fn from_row((id, name, role, comuni, account_id, created_at, last_used_at, revoked_at): Row) -> TokenInfo {
    TokenInfo {
        id,
        name,
        // The table's check constraint admits only the roles.
        role: role.parse().unwrap_or(Role::Citizen),
        comuni,
        account_id,
        created_at,
        last_used_at,
        revoked_at,
    }
}

/// The token `id`.
pub async fn get(pool: &PgPool, id: i64) -> Result<Option<TokenInfo>, ApiError> {
    let row: Option<Row> =
        sqlx::query_as(&format!("{SELECT} where id = $1")).bind(id).fetch_optional(pool).await?;
    Ok(row.map(from_row))
}

/// A page of tokens by id (revoked ones too), and how many there are.
pub async fn list(pool: &PgPool, limit: i64, offset: i64) -> Result<(Vec<TokenInfo>, i64), ApiError> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} order by id limit $1 offset $2"))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    let total: i64 = sqlx::query_scalar("select count(*) from core.api_token").fetch_one(pool).await?;
    Ok((rows.into_iter().map(from_row).collect(), total))
}

/// Revokes the token `id` (again is fine); `false` when there is no such token.
pub async fn revoke(pool: &PgPool, id: i64) -> Result<bool, ApiError> {
    let found: Option<i64> = sqlx::query_scalar(
        "update core.api_token set revoked_at = coalesce(revoked_at, now()) where id = $1 returning id",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(found.is_some())
}

/// What a presented token is.
#[derive(Debug)]
pub enum Resolved {
    /// A live token: its caller.
    Valid(Caller),
    /// Unknown or revoked.
    Unknown,
    /// A token of a disabled account.
    Disabled,
}

/// The caller a token belongs to: `None` when it is unknown, revoked, or of a disabled account.
pub async fn lookup(pool: &PgPool, token: &str) -> Result<Option<Caller>, sqlx::Error> {
    Ok(match resolve(pool, token).await? {
        Resolved::Valid(caller) => Some(caller),
        Resolved::Unknown | Resolved::Disabled => None,
    })
}

/// What `token` is, and whose (its use is recorded in `last_used_at`).
pub async fn resolve(pool: &PgPool, token: &str) -> Result<Resolved, sqlx::Error> {
    let row: Option<LiveToken> = sqlx::query_as(
        "update core.api_token set last_used_at = now()
         where token_sha256 = $1 and revoked_at is null
         returning id, name, role, comuni, account_id",
    )
    .bind(digest(token))
    .fetch_optional(pool)
    .await?;
    let Some(LiveToken(token_id, name, role, comuni, account_id)) = row else { return Ok(Resolved::Unknown) };
    let mut caller = match account_id {
        Some(account_id) => {
            let account: Option<(String, bool, Json<Vec<Grant>>)> = sqlx::query_as(
                "select a.display_name, a.disabled_at is not null,
                     coalesce((select json_agg(json_build_object('role', g.role, 'comune', g.comune))
                               from core.account_grant g where g.account_id = a.id), '[]'::json)
                 from core.account a where a.id = $1",
            )
            .bind(account_id)
            .fetch_optional(pool)
            .await?;
            match account {
                Some((display_name, false, grants)) => {
                    let mut caller = Caller::with_grants(display_name, grants.0);
                    caller.account_id = Some(account_id);
                    caller
                }
                _ => return Ok(Resolved::Disabled),
            }
        }
        None => {
            let Ok(role) = role.parse::<Role>() else { return Ok(Resolved::Unknown) };
            let grants = if comuni.is_empty() {
                vec![Grant::new(role, None)]
            } else {
                comuni.iter().map(|c| Grant::new(role, Some(c))).collect()
            };
            Caller::with_grants(name, grants)
        }
    };
    caller.token_id = Some(token_id);
    Ok(Resolved::Valid(caller))
}

/// A live token: id, name, role, comuni, account.
#[derive(sqlx::FromRow)]
struct LiveToken(i64, String, String, Vec<String>, Option<i64>);

/// Makes sure an admin token exists. A configured token is registered (idempotently). Without one, and when no
/// admin token without an account exists yet, a new token is created and returned so that the caller can print it
/// once.
pub async fn ensure_admin_token(
    pool: &PgPool,
    configured: Option<&str>,
) -> Result<Option<String>, sqlx::Error> {
    if let Some(token) = configured {
        sqlx::query(
            "insert into core.api_token (name, role, token_sha256) values ('admin (configured)', 'admin', $1)
             on conflict (token_sha256) do update set revoked_at = null",
        )
        .bind(digest(token))
        .execute(pool)
        .await?;
        return Ok(None);
    }
    let exists: bool = sqlx::query_scalar(
        "select exists(select 1 from core.api_token
                       where role = 'admin' and account_id is null and revoked_at is null)",
    )
    .fetch_one(pool)
    .await?;
    if exists {
        return Ok(None);
    }
    let token = new_token();
    sqlx::query(
        "insert into core.api_token (name, role, token_sha256) values ('admin (generated)', 'admin', $1)",
    )
    .bind(digest(&token))
    .execute(pool)
    .await?;
    Ok(Some(token))
}

/// A fresh random token.
pub fn new_token() -> String {
    format!("vdt_{}", hex::encode(rand::random::<[u8; 32]>()))
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comuni_of_tokens_follow_the_role() {
        let genova = vec!["010025".to_string(), "010025".to_string()];
        assert_eq!(valid_comuni(Role::Operator, &genova).unwrap(), ["010025"]);
        assert!(valid_comuni(Role::Operator, &[]).is_err());
        assert!(valid_comuni(Role::Admin, &genova).is_err());
        assert!(valid_comuni(Role::Planner, &["genova".to_string()]).is_err());
        assert!(valid_comuni(Role::Planner, &[]).unwrap().is_empty());
    }
}
