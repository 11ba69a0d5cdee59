//! The admins' REST: accounts (`/api/users`) and tokens (`/api/tokens`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::account::{self, Account, AccountUpdate, NewAccount};
use super::token::{self, CreatedToken, NewToken, TokenInfo};
use super::{Caller, Role};
use crate::alerts::page;
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// Most items, 1..1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Items to skip (by id), 0..10000.
    #[param(minimum = 0, maximum = 10000)]
    offset: Option<i64>,
}

/// A page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AccountList {
    accounts: Vec<Account>,
    /// How many accounts there are.
    total: i64,
    /// The `offset` of the next page, if any.
    next_offset: Option<i64>,
}

/// A page of tokens (never their secrets).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenList {
    tokens: Vec<TokenInfo>,
    /// How many tokens there are (revoked ones too).
    total: i64,
    /// The `offset` of the next page, if any.
    next_offset: Option<i64>,
}

fn next_offset(offset: i64, len: usize, total: i64) -> Option<i64> {
    let next = offset + len as i64;
    (len > 0 && next < total).then_some(next)
}

/// `GET /api/users` (admin): accounts by id, with their grants (never a password hash).
#[utoipa::path(get, path = "/api/users", tag = "auth", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "Accounts", body = AccountList)))]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<AccountList>, ApiError> {
    caller.require(Role::Admin)?;
    let (limit, offset) = page(q.limit, q.offset, 100, 1000)?;
    let (accounts, total) = account::list(state.pool(), limit, offset).await?;
    let next_offset = next_offset(offset, accounts.len(), total);
    Ok(Json(AccountList { accounts, total, next_offset }))
}

/// `POST /api/users` (admin): creates an account. 422 names the invalid field; 409 when the username is taken.
#[utoipa::path(post, path = "/api/users", tag = "auth", security(("bearer" = [])),
    request_body(content = NewAccount, content_type = "application/json"),
    responses((status = 201, description = "Created", body = Account)))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewAccount>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let created = account::create(state.pool(), &body).await?;
    tracing::info!(account = created.id, username = %created.username, by = %caller.name, "Account created.");
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `GET /api/users/{id}` (admin).
#[utoipa::path(get, path = "/api/users/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The account")),
    responses((status = 200, description = "The account", body = Account)))]
pub(crate) async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Account>, ApiError> {
    caller.require(Role::Admin)?;
    account::get(state.pool(), id).await?.map(Json).ok_or_else(|| no_account(id))
}

/// `PATCH /api/users/{id}` (admin): changes the display name, email, password, grants, or disables the account
/// (its sessions end and its tokens stop working at once). 409 when an admin disables himself or changes his own
/// grants.
#[utoipa::path(patch, path = "/api/users/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The account")),
    request_body(content = AccountUpdate, content_type = "application/json"),
    responses((status = 200, description = "The account as changed", body = Account)))]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<AccountUpdate>,
) -> Result<Json<Account>, ApiError> {
    caller.require(Role::Admin)?;
    if caller.account_id == Some(id) && (body.disabled == Some(true) || body.grants.is_some()) {
        // An admin who disables himself or drops his own admin grant could leave nobody to undo it.
        return Err(ApiError::Conflict(
            "an admin cannot disable his own account or change his own grants; ask another admin".into(),
        ));
    }
    let updated = account::update(state.pool(), id, &body).await?.ok_or_else(|| no_account(id))?;
    tracing::info!(account = id, by = %caller.name, "Account changed.");
    Ok(Json(updated))
}

fn no_account(id: i64) -> ApiError {
    ApiError::NotFound(format!("there is no account {id}"))
}

/// `GET /api/tokens` (admin): tokens by id, revoked ones too; never their secrets.
#[utoipa::path(get, path = "/api/tokens", tag = "auth", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "Tokens", body = TokenList)))]
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<TokenList>, ApiError> {
    caller.require(Role::Admin)?;
    let (limit, offset) = page(q.limit, q.offset, 100, 1000)?;
    let (tokens, total) = token::list(state.pool(), limit, offset).await?;
    let next_offset = next_offset(offset, tokens.len(), total);
    Ok(Json(TokenList { tokens, total, next_offset }))
}

/// `POST /api/tokens` (admin): creates a token, `{name, role, comuni}` or `{name, account_id}`; the answer carries
/// the token, shown this once.
#[utoipa::path(post, path = "/api/tokens", tag = "auth", security(("bearer" = [])),
    request_body(content = NewToken, content_type = "application/json"),
    responses((status = 201, description = "Created, with its secret", body = CreatedToken)))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewToken>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let created = token::create(state.pool(), &body).await?;
    tracing::info!(token = created.info.id, name = %created.info.name, by = %caller.name, "Token created.");
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `DELETE /api/tokens/{id}` (admin): revokes the token (again is fine); 409 for the token of the request itself.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The token")),
    responses((status = 204, description = "Revoked")))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    if caller.token_id == Some(id) {
        return Err(ApiError::Conflict(
            "this is the token of this request: revoke it with another admin token".into(),
        ));
    }
    if token::revoke(state.pool(), id).await? {
        tracing::info!(token = id, by = %caller.name, "Token revoked.");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("there is no token {id}")))
    }
}
