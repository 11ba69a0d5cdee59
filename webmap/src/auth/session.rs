//! Web sessions: sign in with a username and password, the `vedetta_session` cookie, CSRF tokens, sign out.
//!
//! The cookie carries a random secret (64 hex digits); `core.session` keeps its SHA-256, the account, the CSRF
//! token and the expiry ([`TTL`] after sign-in). The cookie is HttpOnly (scripts cannot read it), SameSite=Lax
//! (other sites' forms and scripts do not send it), Secure when Vedetta is served over https. Unsafe requests with
//! the cookie must carry the CSRF token in `X-CSRF-Token` (checked where the caller is extracted).
//!
//! Sign-in attempts are rate-limited per client address and per username through `database::rate`, shared by
//! every Vedetta process; a successful sign-in forgets the username's failed attempts.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use database::rate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use sqlx::types::Json as SqlJson;

use super::account::{self, Account, SignIn};
use super::{Caller, ClientIp, Grant};
use crate::{ApiError, AppState};

/// The name of the session cookie.
pub const COOKIE: &str = "vedetta_session";
/// The header that carries the session's CSRF token on unsafe requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts after sign-in.
pub const TTL: Duration = Duration::from_secs(12 * 3600);

/// Sign-in attempts per username in [`LOGIN_WINDOW`].
pub const LOGIN_PER_USER: u32 = 10;
/// Sign-in attempts per client address in [`LOGIN_WINDOW`] (an office behind one address signs in together).
pub const LOGIN_PER_IP: u32 = 100;
/// The window of the sign-in limits.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The rate-limit action of sign-in attempts.
const LOGIN_ACTION: &str = "login";

/// The same answer for an unknown user and a wrong password.
const WRONG: &str = "wrong username or password";

/// A username and a password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[schema(example = "anna.rossi", max_length = 63)]
    pub username: String,
    #[schema(max_length = 1024)]
    pub password: String,
}

/// A new session: the cookie is set; the CSRF token goes into `X-CSRF-Token` of every unsafe request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoggedIn {
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    pub account: Account,
}

/// `POST /api/auth/login`: signs in with a username and a password, sets the session cookie and returns the CSRF
/// token. 401 for an unknown user or a wrong password alike (and for a disabled account); 429 with Retry-After
/// after too many attempts for the username or from the address.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth",
    request_body(content = Credentials, content_type = "application/json"),
    responses(
        (status = 200, description = "Signed in; `Set-Cookie: vedetta_session=…`", body = LoggedIn,
            headers(("set-cookie" = String, description = "The HttpOnly session cookie"))),
        (status = 401, description = "Wrong username or password, or a disabled account", body = crate::Problem,
            content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts; retry after the Retry-After seconds", body = crate::Problem,
            content_type = "application/problem+json"),
    ))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<Credentials>,
) -> Result<Response, ApiError> {
    let pool = state.pool();
    if let Some(ip) = ip {
        limit(pool, &format!("ip:{ip}"), LOGIN_PER_IP).await?;
    }
    let user_key =
        format!("user:{}", body.username.trim().to_lowercase().chars().take(100).collect::<String>());
    limit(pool, &user_key, LOGIN_PER_USER).await?;
    let account = match account::sign_in(pool, &body.username, &body.password).await? {
        SignIn::Valid(account) => account,
        SignIn::Invalid => return Err(ApiError::Unauthorized(WRONG.into())),
        SignIn::Disabled => return Err(ApiError::Unauthorized("this account is disabled".into())),
    };
    rate::forget(pool, LOGIN_ACTION, &user_key).await?;
    let (secret, csrf_token, expires_at) = open(pool, account.id).await?;
    tracing::info!(account = account.id, username = %account.username, "Signed in.");
    let cookie = set_cookie(&secret, secure(&state))?;
    Ok(([(header::SET_COOKIE, cookie)], Json(LoggedIn { csrf_token, expires_at, account })).into_response())
}

/// `POST /api/auth/logout`: ends the session of the cookie and clears the cookie. With a valid session the
/// `X-CSRF-Token` header is needed (403 otherwise); an expired or unknown cookie is just cleared.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out; the cookie is cleared",
        headers(("set-cookie" = String, description = "The cleared session cookie")))))]
pub(crate) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(secret) = cookie(&headers)
        && let Some(caller) = lookup(state.pool(), &secret).await?
    {
        super::check_csrf(&headers, &axum::http::Method::POST, &caller)?;
        sqlx::query("delete from core.session where id_sha256 = $1")
            .bind(digest(&secret))
            .execute(state.pool())
            .await?;
        tracing::info!(account = caller.account_id, "Signed out.");
    }
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear_cookie(secure(&state)))]).into_response())
}

/// Counts one sign-in attempt for `key`; 429 past the limit.
async fn limit(pool: &PgPool, key: &str, limit: u32) -> Result<(), ApiError> {
    let decision = rate::hit(pool, LOGIN_ACTION, key, limit, LOGIN_WINDOW).await?;
    if decision.allowed {
        return Ok(());
    }
    tracing::warn!(key, "Too many sign-in attempts.");
    Err(ApiError::TooManyRequests {
        detail: format!("too many sign-in attempts; retry in {} seconds", decision.retry_after_s),
        retry_after_s: decision.retry_after_s,
    })
}

/// Opens a session for `account_id`: its secret (for the cookie), CSRF token and expiry. Expired sessions of
/// everybody are deleted on the way.
pub async fn open(pool: &PgPool, account_id: i64) -> Result<(String, String, DateTime<Utc>), ApiError> {
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let csrf = hex::encode(rand::random::<[u8; 32]>());
    let mut tx = pool.begin().await?;
    sqlx::query("delete from core.session where expires_at < now()").execute(&mut *tx).await?;
    let expires_at: DateTime<Utc> = sqlx::query_scalar(
        "insert into core.session (id_sha256, account_id, csrf_token, expires_at)
         values ($1, $2, $3, now() + make_interval(secs => $4)) returning expires_at",
    )
    .bind(digest(&secret))
    .bind(account_id)
    .bind(&csrf)
    .bind(TTL.as_secs_f64())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((secret, csrf, expires_at))
}

/// The caller of a live session of an enabled account.
pub(crate) async fn lookup(pool: &PgPool, secret: &str) -> Result<Option<Caller>, ApiError> {
    let row: Option<SessionRow> = sqlx::query_as(
        "with touched as (
             update core.session set last_seen_at = now()
             where id_sha256 = $1 and expires_at > now() and last_seen_at < now() - interval '1 minute')
         select s.account_id, s.csrf_token, a.display_name, a.disabled_at is not null,
             coalesce((select json_agg(json_build_object('role', g.role, 'comune', g.comune))
                       from core.account_grant g where g.account_id = a.id), '[]'::json)
         from core.session s join core.account a on a.id = s.account_id
         where s.id_sha256 = $1 and s.expires_at > now()",
    )
    .bind(digest(secret))
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        Some(SessionRow(account_id, csrf, name, false, grants)) => {
            let mut caller = Caller::with_grants(name, grants.0);
            caller.account_id = Some(account_id);
            caller.csrf_token = Some(csrf);
            Some(caller)
        }
        _ => None,
    })
}

/// A live session: account, CSRF token, display name, whether disabled, grants.
#[derive(sqlx::FromRow)]
struct SessionRow(i64, String, String, bool, SqlJson<Vec<Grant>>);

/// The session secret of the request's `Cookie` header(s), if any.
pub(crate) fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && !value.trim().is_empty())
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
}

fn secure(state: &AppState) -> bool {
    state.public_url().starts_with("https://")
}

fn set_cookie(secret: &str, secure: bool) -> Result<HeaderValue, ApiError> {
    let value = format!(
        "{COOKIE}={secret}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{}",
        TTL.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).map_err(|e| ApiError::Internal(format!("session cookie: {e}")))
}

fn clear_cookie(secure: bool) -> HeaderValue {
    HeaderValue::from_static(if secure {
        "vedetta_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure"
    } else {
        "vedetta_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"
    })
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark; vedetta_session=abc123"));
        assert_eq!(cookie(&headers).as_deref(), Some("abc123"));
        let mut empty = HeaderMap::new();
        empty.append(header::COOKIE, HeaderValue::from_static("vedetta_session=; other=1"));
        assert_eq!(cookie(&empty), None);
        empty.append(header::COOKIE, HeaderValue::from_static("vedetta_session=z"));
        assert_eq!(cookie(&empty).as_deref(), Some("z"));
    }

    #[test]
    fn cookies_are_http_only_and_lax() {
        let set = set_cookie("s", true).unwrap();
        let set = set.to_str().unwrap();
        for part in ["vedetta_session=s", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200", "Secure"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set_cookie("s", false).unwrap().to_str().unwrap().contains("Secure"));
        assert!(clear_cookie(false).to_str().unwrap().contains("Max-Age=0"));
    }
}
