//! Who is calling: accounts, web sessions, bearer tokens, and the [`Caller`] every handler extracts.
//!
//! - **Accounts** ([`account`]): local users with argon2id password hashes and grants (a role on a comune, or on
//!   every comune). An account may instead come from an identity provider (`external_issuer` + `external_subject`,
//!   for OpenID Connect: SPID/CIE through a broker); the rest of Vedetta only sees its grants.
//! - **Web sessions** ([`session`]): `POST /api/auth/login` sets the `vedetta_session` cookie (HttpOnly,
//!   SameSite=Lax, Secure on https) and returns a CSRF token that the web app sends back as `X-CSRF-Token` on every
//!   unsafe request (POST, PUT, PATCH, DELETE); without it such a request is refused (403).
//! - **Bearer tokens** ([`token`]): random strings (`vdt_` + 64 hex digits) handed out once; `core.api_token` keeps
//!   only their SHA-256. A token of an account has the account's grants; a token without one has its own role, on
//!   its comuni (or on every comune when it names none). The first start of a new installation creates an admin
//!   token (or registers `auth.admin_token` from the configuration) so that operators' APIs can be used from day one.
//!
//! What a caller may do on reports is decided by [`Access`] (`reports::access`) alone; [`Caller::require`] keeps the
//! coarse role checks of the other APIs (stations, alerts, webhooks).

pub mod account;
pub mod session;
pub mod token;
mod users;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

pub use ::reports::{Access, Grant, Role};
pub use token::{ensure_admin_token, lookup, new_token};

use crate::{ApiError, AppState};

/// The roles, as the OpenAPI document shows them (`reports::Role` serializes the same way).
#[derive(Debug, Clone, Copy, utoipa::ToSchema)]
#[schema(as = Role, rename_all = "snake_case")]
#[allow(dead_code)] // documentation only
pub(crate) enum RoleSchema {
    Admin,
    CivilProtection,
    Operator,
    Planner,
    Councillor,
    Citizen,
}

/// One role, on one comune or on every comune (the OpenAPI view of `reports::Grant`).
#[derive(Debug, Clone, utoipa::ToSchema)]
#[schema(as = Grant)]
#[allow(dead_code)] // documentation only
pub(crate) struct GrantSchema {
    role: RoleSchema,
    /// ISTAT code of the comune (6 digits); absent or null: every comune (never for operators and councillors).
    #[schema(example = "010025", pattern = "^[0-9]{6}$")]
    comune: Option<String>,
}

/// An authenticated caller: by a bearer token or by a web session.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account's display name, or the token's name for a token without an account (recorded as the actor).
    pub name: String,
    /// The most powerful role held ([`Access::highest`]; citizen for an account without grants).
    pub role: Role,
    /// Every grant: what the caller may do on which comune.
    pub access: Access,
    /// The account, for sessions and tokens of an account.
    pub account_id: Option<i64>,
    /// The token, when the caller came with one.
    pub token_id: Option<i64>,
    /// The session's CSRF token, when the caller came with the session cookie.
    pub(crate) csrf_token: Option<String>,
}

impl Caller {
    /// Refuses the request unless the caller has at least `role` (admin > civil_protection > operator > planner >
    /// councillor > citizen).
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role <= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {role} role; the caller has the {} role",
                self.role
            )))
        }
    }

    /// A caller with `grants` (the role is the highest of them).
    pub(crate) fn with_grants(name: String, grants: Vec<Grant>) -> Caller {
        let access = Access::new(grants);
        Caller {
            name,
            role: access.highest().unwrap_or(Role::Citizen),
            access,
            account_id: None,
            token_id: None,
            csrf_token: None,
        }
    }
}

/// The caller of a request: `Authorization: Bearer <token>` first, else the session cookie. `Ok(None)` when the
/// request presents neither; an error when it presents invalid credentials (401) or a cookie session's unsafe
/// request lacks its CSRF token (403).
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
            })?;
        return match token::resolve(state.pool(), token).await? {
            token::Resolved::Valid(caller) => Ok(Some(caller)),
            token::Resolved::Unknown => Err(ApiError::Unauthorized("the token is unknown or revoked".into())),
            token::Resolved::Disabled => {
                Err(ApiError::Unauthorized("the account of this token is disabled".into()))
            }
        };
    }
    let Some(secret) = session::cookie(&parts.headers) else {
        return Ok(None);
    };
    let caller = session::lookup(state.pool(), &secret).await?.ok_or_else(|| {
        ApiError::Unauthorized("the session has expired or was closed; sign in again".into())
    })?;
    check_csrf(&parts.headers, &parts.method, &caller)?;
    Ok(Some(caller))
}

/// Refuses an unsafe request of a session caller without the session's CSRF token in `X-CSRF-Token` (403).
fn check_csrf(headers: &axum::http::HeaderMap, method: &Method, caller: &Caller) -> Result<(), ApiError> {
    let Some(expected) = caller.csrf_token.as_deref() else { return Ok(()) };
    if is_safe(method) {
        return Ok(());
    }
    let sent = headers.get(session::CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if sent.is_empty() || !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::Forbidden(format!(
            "a {method} with the session cookie needs the session's CSRF token in the X-CSRF-Token header \
             (POST /api/auth/login and GET /api/auth/whoami return it)"
        )));
    }
    Ok(())
}

/// Methods that change nothing, sent without a CSRF token.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// Compares two secrets in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(parts, state).await?.ok_or_else(|| {
            ApiError::Unauthorized(
                "sign in (POST /api/auth/login) or send an Authorization: Bearer token".into(),
            )
        })
    }
}

/// `Option<Caller>`: `None` when the request presents no credentials at all; invalid ones are still refused (401).
impl OptionalFromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        authenticate(parts, state).await
    }
}

/// The address of the client (the peer of the connection; `None` when the server does not record it, as in tests
/// driving the router directly).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub(crate) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

/// Who the caller is, as `GET /api/auth/whoami` tells.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Me {
    /// The account's display name, or the token's name.
    #[schema(example = "Anna Rossi")]
    name: String,
    /// The most powerful role held.
    #[schema(value_type = RoleSchema)]
    role: Role,
    /// The account, if the caller has one.
    account_id: Option<i64>,
    /// Every role and the comune it holds on (null: every comune).
    #[schema(value_type = Vec<GrantSchema>)]
    grants: Vec<Grant>,
    /// The token the caller came with, if any.
    token_id: Option<i64>,
    /// The session's CSRF token (session callers only): send it as `X-CSRF-Token` on unsafe requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
}

/// `GET /api/auth/whoami`: who the caller is (a token or a session).
#[utoipa::path(get, path = "/api/auth/whoami", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = Me)))]
pub(crate) async fn whoami(State(_state): State<AppState>, caller: Caller) -> Json<Me> {
    Json(Me {
        name: caller.name,
        role: caller.role,
        account_id: caller.account_id,
        grants: caller.access.grants,
        token_id: caller.token_id,
        csrf_token: caller.csrf_token,
    })
}

/// The routes of this module besides `/api/auth/whoami` (merged into the router by `app::router`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(session::login))
        .route("/api/auth/logout", post(session::logout))
        .route("/api/users", get(users::list_users).post(users::create_user))
        .route("/api/users/{id}", get(users::get_user).patch(users::update_user))
        .route("/api/tokens", get(users::list_tokens).post(users::create_token))
        .route("/api/tokens/{id}", axum::routing::delete(users::revoke_token))
}

/// The operations of this module besides `whoami` (merged into `/api/openapi.json`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        session::login,
        session::logout,
        users::list_users,
        users::create_user,
        users::get_user,
        users::update_user,
        users::list_tokens,
        users::create_token,
        users::revoke_token,
    ),
    components(schemas(
        RoleSchema,
        GrantSchema,
        Me,
        account::Account,
        account::NewAccount,
        account::AccountUpdate,
        session::Credentials,
        session::LoggedIn,
        token::TokenInfo,
        token::NewToken,
        token::CreatedToken,
        users::AccountList,
        users::TokenList,
    ))
)]
pub(crate) struct Api;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_roles_are_the_roles() {
        let documented = serde_json::to_value(<RoleSchema as utoipa::PartialSchema>::schema()).unwrap();
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(documented["enum"], serde_json::json!(names));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
