//! Rule definitions through the API: the stored rules (admin), replacing and deleting them (admin), and checking
//! a rule set without storing it (operators). Stored rules take effect at the evaluator's next reload (its tick,
//! 10 s by default).

use alerts::rule::{Problem, Rule, RuleSet};
use alerts::rules_store;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::plausible_code;
use crate::{ApiError, AppState, Caller, Role};

/// A problem as JSON: where (`rule` position from 1, its `code`, the `field`) and what.
fn problem_json(p: &Problem) -> Value {
    json!({ "rule": p.rule, "code": p.code, "field": p.field, "message": p.message, "text": p.to_string() })
}

fn stored_json(rule: &rules_store::StoredRule) -> Value {
    let problems: Vec<Value> = match rule.rule() {
        Ok(_) => Vec::new(),
        Err(problems) => problems.iter().map(problem_json).collect(),
    };
    json!({
        "code": rule.code, "source": rule.source, "updated_at": rule.updated_at, "updated_by": rule.updated_by,
        "valid": problems.is_empty(), "problems": problems, "definition": rule.definition,
    })
}

/// `GET /api/alerts/rules` (admin): the stored rules (`valid` false when the evaluator skips one, with its
/// problems) and the built-in rules, which a stored rule of the same code replaces.
#[utoipa::path(get, path = "/api/alerts/rules", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, description = "Stored and built-in rules", body = super::schema::RuleList)))]
pub(crate) async fn list_rules(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let stored = rules_store::list(state.pool()).await?;
    let builtin: Vec<Value> = RuleSet::builtin()
        .iter()
        .map(|r| json!({ "code": r.code, "replaced": stored.iter().any(|s| s.code == r.code), "definition": r.to_json() }))
        .collect();
    Ok(Json(json!({ "rules": stored.iter().map(stored_json).collect::<Vec<_>>(), "builtin": builtin })))
}

/// `PUT /api/alerts/rules/{code}` (admin): stores a rule (the body, in the JSON format of rule definitions; its
/// `code` may be left out and must otherwise be the path's). 422 lists every problem with its field; 409 when the
/// code belongs to a rule of the configuration file.
#[utoipa::path(put, path = "/api/alerts/rules/{code}", tag = "alerts", security(("bearer" = [])),
    params(("code" = String, Path, description = "Rule code, [a-z0-9_-]{1,64}", example = "bisagno-livello")),
    request_body(content = super::schema::RuleDefinition, content_type = "application/json"),
    responses((status = 200, description = "Replaced", body = super::schema::StoredRule),
              (status = 201, description = "Created", body = super::schema::StoredRule)))]
pub(crate) async fn put_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(mut body): Json<Value>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    if let Some(object) = body.as_object_mut() {
        match object.get("code") {
            None => {
                object.insert("code".into(), json!(code));
            }
            Some(Value::String(c)) if *c != code => {
                return Err(ApiError::Unprocessable(format!(
                    "code: the body's code `{}` differs from the path's `{}`",
                    c.chars().take(64).collect::<String>().escape_debug(),
                    code.chars().take(64).collect::<String>().escape_debug()
                )));
            }
            Some(_) => {}
        }
    }
    let rule = Rule::from_json(&body).map_err(|problems| alerts::Error::InvalidRules { problems })?;
    let (stored, created) = rules_store::put(state.pool(), &rule, &caller.name).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(stored_json(&stored))).into_response())
}

/// `DELETE /api/alerts/rules/{code}` (admin): deletes a stored rule (a built-in rule it replaced applies again).
#[utoipa::path(delete, path = "/api/alerts/rules/{code}", tag = "alerts", security(("bearer" = [])),
    params(("code" = String, Path, description = "Rule code", example = "bisagno-livello")),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    if plausible_code(&code) && rules_store::delete(state.pool(), &code, &caller.name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "no stored rule has the code `{}`",
            code.chars().take(64).collect::<String>().escape_debug()
        )))
    }
}

/// `POST /api/alerts/rules/check` (operator): checks a rule set (an array of rules, or an object with a `rules`
/// array) without storing it, as `vedetta alerts check` does: `valid` with a summary of the rules per kind, or
/// every problem with where it is.
#[utoipa::path(post, path = "/api/alerts/rules/check", tag = "alerts", security(("bearer" = [])),
    request_body(content = super::schema::RuleSetDefinition, content_type = "application/json"),
    responses((status = 200, description = "The verdict", body = super::schema::RuleCheck)))]
pub(crate) async fn check_rules(
    State(_state): State<AppState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator)?;
    Ok(Json(match RuleSet::from_json(&body) {
        Ok(set) => {
            let summary = set.summary();
            json!({ "valid": true, "summary": summary.to_string(), "total": summary.total(),
                    "per_kind": summary.per_kind, "problems": [] })
        }
        Err(problems) => {
            json!({ "valid": false, "problems": problems.iter().map(problem_json).collect::<Vec<_>>() })
        }
    }))
}
