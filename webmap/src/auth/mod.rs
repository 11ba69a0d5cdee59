//! Bearer tokens and roles.
//!
//! Tokens are random strings (`vdt_` + 64 hex digits) handed out once; `core.api_token` keeps only their SHA-256.
//! The first start of a new installation creates an admin token (or registers `auth.admin_token` from the
//! configuration) so that operators' APIs can be used from day one.

use std::fmt;

use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::{Json, Router};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::{ApiError, AppState};

/// What a caller may do, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Operator,
    Councillor,
    Citizen,
}

impl Role {
    fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "operator" => Some(Role::Operator),
            "councillor" => Some(Role::Councillor),
            "citizen" => Some(Role::Citizen),
            _ => None,
        }
    }

    /// Whether this role includes the powers of `other`.
    pub fn includes(self, other: Role) -> bool {
        self <= other
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Councillor => "councillor",
            Role::Citizen => "citizen",
        })
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Caller {
    pub token_id: i64,
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// Refuses the request unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role.includes(role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {role} role; the token has the {} role",
                self.role
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::Unauthorized("an Authorization: Bearer token is required".into()))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
            })?;
        lookup(state.pool(), token)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("the token is unknown or revoked".into()))
    }
}

/// The caller a token belongs to, if it is valid.
pub async fn lookup(pool: &PgPool, token: &str) -> Result<Option<Caller>, sqlx::Error> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "update core.api_token set last_used_at = now()
         where token_sha256 = $1 and revoked_at is null
         returning id, name, role",
    )
    .bind(digest(token))
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(token_id, name, role)| Some(Caller { token_id, name, role: Role::parse(&role)? })))
}

/// Makes sure an admin token exists. A configured token is registered (idempotently). Without one, and when no
/// admin token exists yet, a new token is created and returned so that the caller can print it once.
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
        "select exists(select 1 from core.api_token where role = 'admin' and revoked_at is null)",
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

/// `GET /api/auth/whoami`: who the token belongs to.
#[utoipa::path(get, path = "/api/auth/whoami", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = Caller)))]
pub(crate) async fn whoami(State(_state): State<AppState>, caller: Caller) -> Json<Caller> {
    Json(caller)
}

/// The routes of this module besides `/api/auth/whoami` (merged into the router by `app::router`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

/// The operations of this module besides `whoami` (merged into `/api/openapi.json`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub(crate) struct Api;
