//! The categories of each comune (the Open311 services) and its moderation settings.

use axum::Json;
use axum::extract::{Path, Query, State};
use reports::Action;
use reports::category::{Category, CategoryInput, ModerationMode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{Viewer, is_category_code, istat, text};
use crate::{ApiError, AppState, Caller};

/// A category of reports in a comune.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CategoryView {
    /// The Open311 `service_code`.
    #[schema(example = "buca_stradale")]
    code: String,
    #[schema(example = "Buca stradale")]
    name_it: String,
    #[schema(example = "Pothole")]
    name_en: String,
    description: String,
    /// The Open311 `group`.
    #[schema(example = "strade")]
    group: String,
    keywords: Vec<String>,
    /// Extra questions (Open311 attributes): `[{"code","datatype","required","description","order","values"}]`.
    #[schema(value_type = Vec<Object>)]
    attributes: Value,
    active: bool,
}

impl From<Category> for CategoryView {
    fn from(c: Category) -> Self {
        CategoryView {
            code: c.code,
            name_it: c.name_it,
            name_en: c.name_en,
            description: c.description,
            group: c.group,
            keywords: c.keywords,
            attributes: c.attributes,
            active: c.active,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CategoriesQuery {
    /// The comune (ISTAT code).
    #[param(example = "010025")]
    comune: Option<String>,
}

/// 404 unless `comune` is a comune of the federation.
async fn known_comune(state: &AppState, comune: &str) -> Result<(), ApiError> {
    let known: bool = sqlx::query_scalar("select exists(select 1 from core.comune where istat = $1)")
        .bind(comune)
        .fetch_one(state.pool())
        .await?;
    if known {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("no comune of the federation has the code {comune}")))
    }
}

/// `GET /api/reports/categories?comune=`: the categories a report may have in a comune (the default catalogue
/// with the comune's own changes).
#[utoipa::path(get, path = "/api/reports/categories", operation_id = "report_categories", tag = "reports",
    params(CategoriesQuery),
    responses((status = 200, description = "The active categories of the comune", body = Vec<CategoryView>)))]
pub(crate) async fn categories(
    State(state): State<AppState>,
    Query(q): Query<CategoriesQuery>,
) -> Result<Json<Vec<CategoryView>>, ApiError> {
    let comune =
        q.comune.ok_or_else(|| ApiError::BadRequest("`comune` (an ISTAT code) is required".into()))?;
    let comune = istat("comune", &comune)?;
    known_comune(&state, &comune).await?;
    let list = reports::category::categories(state.pool(), &comune).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

/// A category of a comune to create or replace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CategoryBody {
    #[schema(example = "Buca stradale", min_length = 1, max_length = 200)]
    name_it: String,
    #[schema(example = "Pothole", min_length = 1, max_length = 200)]
    name_en: String,
    #[schema(max_length = 4000)]
    description: Option<String>,
    #[schema(example = "strade", max_length = 100)]
    group: Option<String>,
    keywords: Option<Vec<String>>,
    /// Open311 attributes (an array of objects).
    #[schema(value_type = Option<Vec<Object>>)]
    attributes: Option<Value>,
    /// False hides the category in this comune (default true).
    active: Option<bool>,
}

/// `PUT /api/reports/categories/{comune}/{code}` (admin): creates or replaces the comune's own version of a
/// category (an `active: false` one hides a default category there).
#[utoipa::path(put, path = "/api/reports/categories/{comune}/{code}", operation_id = "put_report_category",
    tag = "reports", security(("bearer" = [])),
    params(("comune" = String, Path, description = "ISTAT code", example = "010025"),
           ("code" = String, Path, description = "Category code", example = "buca_stradale")),
    request_body(content = CategoryBody, content_type = "application/json"),
    responses((status = 200, description = "The category", body = CategoryView)))]
pub(crate) async fn put_category(
    State(state): State<AppState>,
    caller: Caller,
    Path((comune, code)): Path<(String, String)>,
    Json(body): Json<CategoryBody>,
) -> Result<Json<CategoryView>, ApiError> {
    let viewer = Viewer::of(Some(caller));
    let comune = istat("comune", &comune)?;
    configure(&viewer, &comune)?;
    if !is_category_code(&code) {
        return Err(ApiError::BadRequest("a category code has 1–50 lowercase letters, digits and _".into()));
    }
    known_comune(&state, &comune).await?;
    let name = |field: &str, value: String| {
        text(field, Some(value), 200)?.ok_or_else(|| ApiError::Unprocessable(format!("`{field}` is empty")))
    };
    let keywords = body.keywords.unwrap_or_default();
    if keywords.len() > 50 || keywords.iter().any(|k| k.trim().is_empty() || k.chars().count() > 50) {
        return Err(ApiError::Unprocessable("at most 50 `keywords`, each of 1–50 characters".into()));
    }
    let attributes = body.attributes.unwrap_or(Value::Array(Vec::new()));
    if !attributes.as_array().is_some_and(|a| a.iter().all(Value::is_object)) {
        return Err(ApiError::Unprocessable("`attributes` must be an array of objects".into()));
    }
    let input = CategoryInput {
        code,
        name_it: name("name_it", body.name_it)?,
        name_en: name("name_en", body.name_en)?,
        description: text("description", body.description, 4000)?.unwrap_or_default(),
        group: text("group", body.group, 100)?.unwrap_or_default(),
        keywords,
        attributes,
        active: body.active.unwrap_or(true),
    };
    let category = reports::category::upsert(state.pool(), &comune, &input).await?;
    Ok(Json(category.into()))
}

/// 403 unless the viewer may configure the comune.
fn configure(viewer: &Viewer, comune: &str) -> Result<(), ApiError> {
    if viewer.may(Action::Configure, comune) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("only an admin may configure the reports of comune {comune}")))
    }
}

/// How a comune moderates: `pre` (new reports wait for approval) or `post` (public at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    Pre,
    Post,
}

/// The reports settings of a comune.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SettingsView {
    #[schema(example = "010025")]
    comune: String,
    moderation: Mode,
}

/// Settings to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsBody {
    moderation: Mode,
}

/// `GET /api/reports/settings/{comune}`: how the comune moderates reports.
#[utoipa::path(get, path = "/api/reports/settings/{comune}", operation_id = "report_settings", tag = "reports",
    params(("comune" = String, Path, description = "ISTAT code", example = "010025")),
    responses((status = 200, description = "The settings", body = SettingsView)))]
pub(crate) async fn settings(
    State(state): State<AppState>,
    Path(comune): Path<String>,
) -> Result<Json<SettingsView>, ApiError> {
    let comune = istat("comune", &comune)?;
    known_comune(&state, &comune).await?;
    let mode = reports::category::settings(state.pool(), &comune).await?;
    Ok(Json(SettingsView { comune, moderation: mode.into() }))
}

/// `PUT /api/reports/settings/{comune}` (admin): sets how the comune moderates reports.
#[utoipa::path(put, path = "/api/reports/settings/{comune}", operation_id = "put_report_settings", tag = "reports",
    security(("bearer" = [])),
    params(("comune" = String, Path, description = "ISTAT code", example = "010025")),
    request_body(content = SettingsBody, content_type = "application/json"),
    responses((status = 200, description = "The settings", body = SettingsView)))]
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(comune): Path<String>,
    Json(body): Json<SettingsBody>,
) -> Result<Json<SettingsView>, ApiError> {
    let viewer = Viewer::of(Some(caller));
    let comune = istat("comune", &comune)?;
    configure(&viewer, &comune)?;
    known_comune(&state, &comune).await?;
    let mode = reports::category::set_moderation(state.pool(), &comune, body.moderation == Mode::Pre).await?;
    Ok(Json(SettingsView { comune, moderation: mode.into() }))
}

impl From<ModerationMode> for Mode {
    fn from(m: ModerationMode) -> Self {
        match m {
            ModerationMode::Pre => Mode::Pre,
            ModerationMode::Post => Mode::Post,
        }
    }
}
