//! Accounts: the store behind `/api/users` and `vedetta users`.
//!
//! Usernames are lowercase (`[a-z0-9][a-z0-9._@-]{1,62}`; a login name is lowercased before it is looked up).
//! Passwords are hashed with argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes) into a PHC string; the
//! hash never leaves this module. An account without a password cannot sign in with one (tokens only, or an
//! identity provider: `external_issuer` + `external_subject`).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::types::Json;

use super::{Grant, GrantSchema, Role};
use crate::ApiError;

/// Fewest characters of a password.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Most characters of a password (bounds the hashing work an anonymous request can ask for).
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// Most grants of one account.
pub const MAX_GRANTS: usize = 500;

/// An account as the API shows it: never its password hash.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    pub id: i64,
    /// The login name (lowercase).
    #[schema(example = "anna.rossi")]
    pub username: String,
    #[schema(example = "Anna Rossi")]
    pub display_name: String,
    pub email: Option<String>,
    /// Every role and the comune it holds on (null: every comune).
    #[schema(value_type = Vec<GrantSchema>)]
    pub grants: Vec<Grant>,
    /// Whether the account can sign in with a password.
    pub has_password: bool,
    /// The identity provider the account comes from (OpenID Connect issuer), if any.
    pub external_issuer: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the account was disabled; a disabled account can neither sign in nor use its tokens.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// An account to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// The login name: 2–63 of `a-z 0-9 . _ @ -`, starting with a letter or digit (lowercased).
    #[schema(
        example = "anna.rossi",
        min_length = 2,
        max_length = 63,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._@-]{1,62}$"
    )]
    pub username: String,
    /// The name shown to others (1–200 characters).
    #[schema(example = "Anna Rossi", min_length = 1, max_length = 200)]
    pub display_name: String,
    #[schema(example = "anna.rossi@comune.genova.it", max_length = 254, pattern = "^[^@\\s]+@[^@\\s]+$")]
    pub email: Option<String>,
    /// At least 10 characters; absent: the account cannot sign in with a password (tokens only).
    #[schema(min_length = 10, max_length = 1024)]
    pub password: Option<String>,
    /// Its roles: operators and councillors on given comuni, the others usually on every comune.
    #[serde(default)]
    #[schema(value_type = Vec<GrantSchema>)]
    pub grants: Vec<Grant>,
}

/// Changes to an account; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountUpdate {
    #[schema(min_length = 1, max_length = 200)]
    pub display_name: Option<String>,
    /// The new email; an empty string removes it.
    pub email: Option<String>,
    /// A new password (at least 10 characters); the account's web sessions are closed.
    #[schema(min_length = 10, max_length = 1024)]
    pub password: Option<String>,
    /// Disables (its sessions are closed, its tokens stop working) or enables the account.
    pub disabled: Option<bool>,
    /// Replaces every grant.
    #[schema(value_type = Option<Vec<GrantSchema>>)]
    pub grants: Option<Vec<Grant>>,
}

/// What a password sign-in found.
#[derive(Debug)]
pub enum SignIn {
    /// The password is right and the account enabled.
    Valid(Account),
    /// Unknown user, no password, or a wrong one (told apart to nobody).
    Invalid,
    /// The password is right but the account is disabled.
    Disabled,
}

const SELECT: &str = "select a.id, a.username, a.display_name, a.email, a.password_hash is not null,
        a.external_issuer, a.created_at, a.disabled_at,
        coalesce((select json_agg(json_build_object('role', g.role, 'comune', g.comune) order by g.role, g.comune)
                  from core.account_grant g where g.account_id = a.id), '[]'::json)
    from core.account a";

type Row = (
    i64,
    String,
    String,
    Option<String>,
    bool,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Json<Vec<Grant>>,
);

fn from_row(row: Row) -> Account {
    let (id, username, display_name, email, has_password, external_issuer, created_at, disabled_at, grants) =
        row;
    Account {
        id,
        username,
        display_name,
        email,
        grants: grants.0,
        has_password,
        external_issuer,
        created_at,
        disabled_at,
    }
}

/// The account `id`.
pub async fn get(pool: &PgPool, id: i64) -> Result<Option<Account>, ApiError> {
    let row: Option<Row> =
        sqlx::query_as(&format!("{SELECT} where a.id = $1")).bind(id).fetch_optional(pool).await?;
    Ok(row.map(from_row))
}

/// The account called `username` (case-insensitively).
pub async fn by_username(pool: &PgPool, username: &str) -> Result<Option<Account>, ApiError> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} where a.username = $1"))
        .bind(username.trim().to_lowercase())
        .fetch_optional(pool)
        .await?;
    Ok(row.map(from_row))
}

/// The account of an identity provider's user (OpenID Connect: the `iss` and `sub` claims of a verified ID
/// token). The seam for a provider's sign-in: find (or create and [`link_external`]) the account, then open a
/// web session with `session::open`.
pub async fn by_external(pool: &PgPool, issuer: &str, subject: &str) -> Result<Option<Account>, ApiError> {
    let row: Option<Row> =
        sqlx::query_as(&format!("{SELECT} where a.external_issuer = $1 and a.external_subject = $2"))
            .bind(issuer)
            .bind(subject)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(from_row))
}

/// Links the account `id` to an identity provider's user; 409 when that user is linked to another account.
pub async fn link_external(pool: &PgPool, id: i64, issuer: &str, subject: &str) -> Result<bool, ApiError> {
    if issuer.trim().is_empty() || subject.trim().is_empty() {
        return Err(ApiError::Unprocessable("an external identity needs an issuer and a subject".into()));
    }
    let done =
        sqlx::query("update core.account set external_issuer = $2, external_subject = $3 where id = $1")
            .bind(id)
            .bind(issuer)
            .bind(subject)
            .execute(pool)
            .await
            .map_err(|e| match ApiError::from(e) {
                ApiError::Conflict(_) => ApiError::Conflict(format!(
                    "the identity {subject} of {issuer} belongs to another account"
                )),
                other => other,
            })?;
    Ok(done.rows_affected() == 1)
}

/// A page of accounts by id, and how many there are.
pub async fn list(pool: &PgPool, limit: i64, offset: i64) -> Result<(Vec<Account>, i64), ApiError> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} order by a.id limit $1 offset $2"))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    let total: i64 = sqlx::query_scalar("select count(*) from core.account").fetch_one(pool).await?;
    Ok((rows.into_iter().map(from_row).collect(), total))
}

/// Creates an account (409 when the username is taken).
pub async fn create(pool: &PgPool, new: &NewAccount) -> Result<Account, ApiError> {
    let username = valid_username(&new.username)?;
    let display_name = valid_display_name(&new.display_name)?;
    let email = valid_email(new.email.as_deref())?;
    let grants = valid_grants(&new.grants)?;
    let hash = match &new.password {
        Some(password) => Some(hash_password(password).await?),
        None => None,
    };
    let mut tx = pool.begin().await?;
    let id: Option<i64> = sqlx::query_scalar(
        "insert into core.account (username, display_name, email, password_hash) values ($1, $2, $3, $4)
         on conflict (username) do nothing returning id",
    )
    .bind(&username)
    .bind(&display_name)
    .bind(&email)
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let id = id.ok_or_else(|| ApiError::Conflict(format!("the username `{username}` is taken")))?;
    set_grants(&mut tx, id, &grants).await?;
    tx.commit().await?;
    get(pool, id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("account {id} vanished after its creation")))
}

/// Applies `update` to the account `id`; `None` when there is no such account.
pub async fn update(pool: &PgPool, id: i64, update: &AccountUpdate) -> Result<Option<Account>, ApiError> {
    let display_name = update.display_name.as_deref().map(valid_display_name).transpose()?;
    let email = match update.email.as_deref() {
        None => None,
        Some(e) if e.trim().is_empty() => Some(None),
        Some(e) => Some(valid_email(Some(e))?),
    };
    let grants = update.grants.as_deref().map(valid_grants).transpose()?;
    let hash = match &update.password {
        Some(password) => Some(hash_password(password).await?),
        None => None,
    };
    let mut tx = pool.begin().await?;
    let found: Option<i64> = sqlx::query_scalar(
        "update core.account set
             display_name = coalesce($2::text, display_name),
             email = case when $3 then $4::text else email end,
             password_hash = coalesce($5::text, password_hash),
             disabled_at = case when $6::boolean is null then disabled_at
                                when $6::boolean then coalesce(disabled_at, now())
                                else null end
         where id = $1 returning id",
    )
    .bind(id)
    .bind(&display_name)
    .bind(email.is_some())
    .bind(email.clone().flatten())
    .bind(&hash)
    .bind(update.disabled)
    .fetch_optional(&mut *tx)
    .await?;
    if found.is_none() {
        return Ok(None);
    }
    if let Some(grants) = &grants {
        sqlx::query("delete from core.account_grant where account_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        set_grants(&mut tx, id, grants).await?;
    }
    // A new password or a disabled account ends every web session of it.
    if hash.is_some() || update.disabled == Some(true) {
        sqlx::query("delete from core.session where account_id = $1").bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    get(pool, id).await
}

/// Checks `password` for `username` in a time that does not tell whether the user exists.
pub async fn sign_in(pool: &PgPool, username: &str, password: &str) -> Result<SignIn, ApiError> {
    let row: Option<(i64, Option<String>, bool)> = sqlx::query_as(
        "select id, password_hash, disabled_at is not null from core.account where username = $1",
    )
    .bind(username.trim().to_lowercase())
    .fetch_optional(pool)
    .await?;
    let (id, hash, disabled) = match row {
        Some((id, Some(hash), disabled)) => (Some(id), hash, disabled),
        // The same work as for a real account: the answer's timing must not reveal the username.
        _ => (None, dummy_hash().to_string(), false),
    };
    let valid = verify_password(hash, password.to_string()).await?;
    match id {
        Some(_) if !valid => Ok(SignIn::Invalid),
        Some(_) if disabled => Ok(SignIn::Disabled),
        Some(id) => Ok(get(pool, id).await?.map_or(SignIn::Invalid, SignIn::Valid)),
        None => Ok(SignIn::Invalid),
    }
}

async fn set_grants(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: i64,
    grants: &[Grant],
) -> Result<(), ApiError> {
    let roles: Vec<&str> = grants.iter().map(|g| g.role.as_str()).collect();
    let comuni: Vec<Option<&str>> = grants.iter().map(|g| g.comune.as_deref()).collect();
    sqlx::query(
        "insert into core.account_grant (account_id, role, comune)
         select $1, r, c from unnest($2::text[], $3::text[]) as g (r, c)
         on conflict do nothing",
    )
    .bind(id)
    .bind(&roles)
    .bind(&comuni)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The username, lowercased, if valid.
pub fn valid_username(username: &str) -> Result<String, ApiError> {
    let u = username.trim().to_lowercase();
    let ok = (2..=63).contains(&u.len())
        && u.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && u.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._@-".contains(c));
    if ok {
        Ok(u)
    } else {
        Err(ApiError::Unprocessable(
            "`username` must be 2–63 of a-z, 0-9, `.`, `_`, `@`, `-`, starting with a letter or a digit"
                .into(),
        ))
    }
}

fn valid_display_name(name: &str) -> Result<String, ApiError> {
    let n = name.trim();
    if (1..=200).contains(&n.chars().count()) && !n.chars().any(char::is_control) {
        Ok(n.to_string())
    } else {
        Err(ApiError::Unprocessable(
            "`display_name` must be 1–200 characters, without control characters".into(),
        ))
    }
}

fn valid_email(email: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(e) = email.map(str::trim) else { return Ok(None) };
    let valid = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(Some(e.to_string()))
    } else {
        Err(ApiError::Unprocessable(format!("`email` `{e}` is not an email address")))
    }
}

/// The password, if long enough and not too long.
pub fn valid_password(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        Err(ApiError::Unprocessable(format!("`password` must have at least {MIN_PASSWORD_CHARS} characters")))
    } else if n > MAX_PASSWORD_CHARS {
        Err(ApiError::Unprocessable(format!("`password` must have at most {MAX_PASSWORD_CHARS} characters")))
    } else {
        Ok(())
    }
}

/// Whether `comune` is an ISTAT code (6 digits).
pub fn valid_comune(comune: &str) -> bool {
    comune.len() == 6 && comune.bytes().all(|b| b.is_ascii_digit())
}

/// Checks every grant: operators and councillors name their comune, admins and civil protection never do (they
/// act on every comune), every comune is an ISTAT code. Duplicates are dropped.
pub fn valid_grants(grants: &[Grant]) -> Result<Vec<Grant>, ApiError> {
    if grants.len() > MAX_GRANTS {
        return Err(ApiError::Unprocessable(format!("at most {MAX_GRANTS} grants")));
    }
    let mut out: Vec<Grant> = Vec::with_capacity(grants.len());
    for g in grants {
        match g.comune.as_deref() {
            None if g.role.needs_comune() => {
                return Err(ApiError::Unprocessable(format!(
                    "a grant of the {} role needs its `comune` (ISTAT code)",
                    g.role
                )));
            }
            Some(_) if matches!(g.role, Role::Admin | Role::CivilProtection) => {
                return Err(ApiError::Unprocessable(format!(
                    "the {} role holds on every comune: leave `comune` out",
                    g.role
                )));
            }
            Some(c) if !valid_comune(c) => {
                return Err(ApiError::Unprocessable(format!(
                    "`comune` `{c}` is not an ISTAT code (6 digits)"
                )));
            }
            _ => {}
        }
        if !out.contains(g) {
            out.push(g.clone());
        }
    }
    Ok(out)
}

/// The argon2id PHC string of `password` (hashed on a blocking thread: it takes tens of milliseconds).
pub async fn hash_password(password: &str) -> Result<String, ApiError> {
    valid_password(password)?;
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the hashing task failed: {e}")))?
}

/// Whether `password` matches the PHC string `hash` (a malformed hash matches nothing).
async fn verify_password(hash: String, password: String) -> Result<bool, ApiError> {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Ok(false);
    }
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the verifying task failed: {e}")))
}

/// A hash of a random password, checked when the user is unknown.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let secret = hex::encode(rand::random::<[u8; 16]>());
        Argon2::default().hash_password(secret.as_bytes()).map(|h| h.to_string()).unwrap_or_default()
    })
}

/// A random password of 20 letters and digits (for `vedetta users add` without one).
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..20).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(valid_username(" Anna.Rossi ").unwrap(), "anna.rossi");
        for bad in ["a", "-anna", "anna rossi", "anna/rossi", &"a".repeat(64), "annà"] {
            assert!(valid_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn grants_follow_the_roles() {
        let ok = [Grant::new(Role::Operator, Some("010025")), Grant::new(Role::Operator, Some("010025"))];
        assert_eq!(valid_grants(&ok).unwrap().len(), 1, "duplicates dropped");
        assert!(valid_grants(&[Grant::new(Role::Operator, None)]).is_err());
        assert!(valid_grants(&[Grant::new(Role::Councillor, None)]).is_err());
        assert!(valid_grants(&[Grant::new(Role::Admin, Some("010025"))]).is_err());
        assert!(valid_grants(&[Grant::new(Role::Operator, Some("10025"))]).is_err());
        assert!(valid_grants(&[Grant::new(Role::Operator, Some("01002a"))]).is_err());
        assert!(
            valid_grants(&[Grant::new(Role::Planner, Some("010025")), Grant::new(Role::Admin, None)]).is_ok()
        );
    }

    #[test]
    fn emails_and_passwords() {
        assert_eq!(valid_email(Some(" a@b.it ")).unwrap().as_deref(), Some("a@b.it"));
        for bad in ["ab.it", "a@", "@b", "a b@c.it", "a@b@c"] {
            assert!(valid_email(Some(bad)).is_err(), "{bad}");
        }
        assert!(valid_password("123456789").is_err());
        assert!(valid_password("1234567890").is_ok());
        let generated = generate_password();
        assert_eq!(generated.len(), 20);
        assert!(valid_password(&generated).is_ok());
    }
}
