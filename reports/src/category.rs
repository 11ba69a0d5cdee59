//! Categories of reports per comune and each comune's moderation mode.
//!
//! The catalogue has default rows (`comune` null) that every comune offers; a comune's own row with the same code
//! overrides the default there (names, attributes, or `active = false` to withdraw it), and a comune may add codes
//! of its own. The code is the Open311 `service_code`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};

use crate::{Error, Result};

/// A category as one comune offers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    /// The Open311 `service_code`: `[a-z0-9_]{1,50}`.
    pub code: String,
    pub name_it: String,
    pub name_en: String,
    pub description: String,
    /// The Open311 `group`.
    pub group: String,
    pub keywords: Vec<String>,
    /// Open311 attributes: `[{"code","datatype","required","description","order","values":[{"key","name"}]}]`.
    pub attributes: Value,
    pub active: bool,
    /// Whether the comune has its own row for this code (else it is the default catalogue's).
    pub own: bool,
}

/// A comune's own version of a category (created or replaced whole by [`upsert`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryInput {
    /// `[a-z0-9_]{1,50}`; the HTTP layer takes it from the path.
    #[serde(default)]
    pub code: String,
    pub name_it: String,
    pub name_en: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// A JSON array (Open311 attributes); `[]` when absent.
    #[serde(default = "empty_array")]
    pub attributes: Value,
    #[serde(default = "yes")]
    pub active: bool,
}

fn empty_array() -> Value {
    Value::Array(Vec::new())
}

fn yes() -> bool {
    true
}

/// Whether new reports of a comune wait for an operator's approval before they are public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModerationMode {
    /// New reports are hidden until approved.
    Pre,
    /// New reports are public at once; an operator may hide them afterwards.
    Post,
}

impl ModerationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ModerationMode::Pre => "pre",
            ModerationMode::Post => "post",
        }
    }
}

impl fmt::Display for ModerationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModerationMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<ModerationMode> {
        match s {
            "pre" => Ok(ModerationMode::Pre),
            "post" => Ok(ModerationMode::Post),
            other => Err(Error::Invalid(format!("`{other}` is not a moderation mode; one of pre, post"))),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    code: String,
    name_it: String,
    name_en: String,
    description: String,
    grp: String,
    keywords: Vec<String>,
    attributes: Value,
    active: bool,
    own: bool,
}

impl From<Row> for Category {
    fn from(r: Row) -> Category {
        Category {
            code: r.code,
            name_it: r.name_it,
            name_en: r.name_en,
            description: r.description,
            group: r.grp,
            keywords: r.keywords,
            attributes: r.attributes,
            active: r.active,
            own: r.own,
        }
    }
}

/// The comune's catalogue: its own rows, else the defaults, one per code.
const EFFECTIVE: &str =
    "select distinct on (code) code, name_it, name_en, description, grp, keywords, attributes,
            active, comune is not null as own
     from reports.category
     where comune = $1 or comune is null
     order by code, comune nulls last";

/// The categories `comune` (ISTAT code) offers: defaults overridden by its own rows, active ones only, by group
/// and Italian name.
pub async fn categories(pool: &PgPool, comune: &str) -> Result<Vec<Category>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "select * from ({EFFECTIVE}) c where active order by grp = 'altro', grp, name_it"
    ))
    .bind(comune)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Category::from).collect())
}

/// The category `code` as `comune` offers it, active or not; `None` when the comune has no such code.
pub async fn category(conn: impl PgExecutor<'_>, comune: &str, code: &str) -> Result<Option<Category>> {
    let row: Option<Row> = sqlx::query_as(&format!("select * from ({EFFECTIVE}) c where code = $2"))
        .bind(comune)
        .bind(code)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(Category::from))
}

/// Every code of the catalogue (defaults and every comune's own), sorted, once each.
pub async fn all_codes(pool: &PgPool) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("select distinct code from reports.category order by code").fetch_all(pool).await?)
}

/// Creates or replaces `comune`'s own version of the category `input.code` (overriding the default of the same
/// code there, or adding a code of its own). Returns the category as the comune now offers it.
pub async fn upsert(pool: &PgPool, comune: &str, input: &CategoryInput) -> Result<Category> {
    check_code(&input.code)?;
    let problems = input_problems(input);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems.join("; ")));
    }
    let mut tx = pool.begin().await?;
    ensure_comune(&mut *tx, comune).await?;
    let keywords: Vec<String> =
        input.keywords.iter().map(|k| k.trim().to_lowercase()).filter(|k| !k.is_empty()).collect();
    sqlx::query(
        "insert into reports.category (comune, code, name_it, name_en, description, grp, keywords, attributes, active)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (coalesce(comune, ''), code) do update set
             name_it = excluded.name_it, name_en = excluded.name_en, description = excluded.description,
             grp = excluded.grp, keywords = excluded.keywords, attributes = excluded.attributes,
             active = excluded.active",
    )
    .bind(comune)
    .bind(&input.code)
    .bind(input.name_it.trim())
    .bind(input.name_en.trim())
    .bind(input.description.trim())
    .bind(input.group.trim())
    .bind(&keywords)
    .bind(&input.attributes)
    .bind(input.active)
    .execute(&mut *tx)
    .await?;
    let category = category(&mut *tx, comune, &input.code).await?;
    tx.commit().await?;
    category.ok_or_else(|| Error::Invalid(format!("category `{}` vanished while it was saved", input.code)))
}

fn check_code(code: &str) -> Result<()> {
    let ok = (1..=50).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "`{code}` is not a category code: 1 to 50 lowercase letters, digits or `_`"
        )))
    }
}

fn input_problems(input: &CategoryInput) -> Vec<String> {
    let mut problems = Vec::new();
    for (field, value, max) in [
        ("name_it", &input.name_it, 200),
        ("name_en", &input.name_en, 200),
        ("description", &input.description, 4000),
        ("group", &input.group, 100),
    ] {
        let required = field.starts_with("name_");
        if required && value.trim().is_empty() {
            problems.push(format!("{field} is required"));
        }
        if value.chars().count() > max {
            problems.push(format!("{field} is longer than {max} characters"));
        }
        if crate::report::has_markup(value) {
            problems.push(format!("{field} contains HTML; plain text only"));
        }
    }
    if input.keywords.len() > 50 || input.keywords.iter().any(|k| k.chars().count() > 100) {
        problems.push("keywords: at most 50, of at most 100 characters each".into());
    }
    match &input.attributes {
        Value::Array(items) if items.iter().all(Value::is_object) => {}
        _ => problems.push("attributes must be a JSON array of objects (Open311 attributes)".into()),
    }
    problems
}

/// The moderation mode of `comune` (`post` unless set otherwise).
pub async fn settings(pool: &PgPool, comune: &str) -> Result<ModerationMode> {
    moderation_mode(pool, comune).await
}

pub(crate) async fn moderation_mode(conn: impl PgExecutor<'_>, comune: &str) -> Result<ModerationMode> {
    let mode: Option<String> =
        sqlx::query_scalar("select moderation from reports.comune_settings where comune = $1")
            .bind(comune)
            .fetch_optional(conn)
            .await?;
    mode.as_deref().unwrap_or("post").parse()
}

/// Sets `comune`'s moderation: `pre` (new reports wait for approval) when `pre`, else `post`.
pub async fn set_moderation(pool: &PgPool, comune: &str, pre: bool) -> Result<ModerationMode> {
    let mode = if pre { ModerationMode::Pre } else { ModerationMode::Post };
    let mut tx = pool.begin().await?;
    ensure_comune(&mut *tx, comune).await?;
    sqlx::query(
        "insert into reports.comune_settings (comune, moderation) values ($1, $2)
         on conflict (comune) do update set moderation = excluded.moderation, updated_at = now()",
    )
    .bind(comune)
    .bind(mode.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(mode)
}

/// Refuses an ISTAT code that names no comune with a boundary.
pub(crate) async fn ensure_comune(conn: impl PgExecutor<'_>, comune: &str) -> Result<()> {
    let exists: bool = sqlx::query_scalar("select exists (select 1 from core.comune where istat = $1)")
        .bind(comune)
        .fetch_one(conn)
        .await?;
    if exists { Ok(()) } else { Err(Error::UnknownComune { comune: comune.to_string() }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(code: &str) -> CategoryInput {
        CategoryInput {
            code: code.into(),
            name_it: "Buca".into(),
            name_en: "Pothole".into(),
            description: String::new(),
            group: "strade".into(),
            keywords: vec![],
            attributes: empty_array(),
            active: true,
        }
    }

    #[test]
    fn codes_are_open311_service_codes() {
        assert!(check_code("buca_stradale").is_ok());
        assert!(check_code("").is_err());
        assert!(check_code("Buca").is_err());
        assert!(check_code("buca-stradale").is_err());
        assert!(check_code(&"a".repeat(51)).is_err());
    }

    #[test]
    fn inputs_are_plain_text_with_array_attributes() {
        assert!(input_problems(&input("buca")).is_empty());
        let mut bad = input("buca");
        bad.name_it = "<b>Buca</b>".into();
        bad.name_en = " ".into();
        bad.attributes = serde_json::json!({"code": "x"});
        let problems = input_problems(&bad);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn moderation_modes_read_back() {
        assert_eq!("pre".parse::<ModerationMode>().unwrap(), ModerationMode::Pre);
        assert_eq!("post".parse::<ModerationMode>().unwrap(), ModerationMode::Post);
        assert!("later".parse::<ModerationMode>().is_err());
    }
}
