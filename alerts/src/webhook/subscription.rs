//! Webhook subscriptions: where to POST, with which secret, and which alert changes (zones, minimum colour,
//! categories).

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::{Error, Level, Result};

/// The alert categories a subscription can ask for.
pub const CATEGORIES: [&str; 3] = ["hydro", "technical", "manual"];

/// The categories of a subscription that names none: the hydrological and the manual alerts (the technical ones,
/// such as a silent station, are for the operators, not for the public channels).
pub const DEFAULT_CATEGORIES: [&str; 2] = ["hydro", "manual"];

const MAX_URL_LEN: usize = 2048;
const MIN_SECRET_LEN: usize = 16;
const MAX_SECRET_LEN: usize = 256;
const MAX_NAME_CHARS: usize = 100;

/// A subscription to create (the body of the admin API's create call).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// A unique, human name (1–100 characters).
    pub name: String,
    /// Where to POST: an absolute `http` or `https` URL, without user information or fragment.
    pub url: String,
    /// The signing secret (16–256 characters, no control characters); when absent one is generated (64 hex digits)
    /// and returned once by [`create_subscription`].
    #[serde(default)]
    pub secret: Option<String>,
    /// Alert zone codes to deliver; empty delivers every zone (and alerts without a zone).
    #[serde(default)]
    pub zones: Vec<String>,
    /// The least severe colour an alert must have reached (its peak level) to be delivered: gialla, arancione or
    /// rossa. Once an alert has reached it, every later change of that alert is delivered too, down to its
    /// resolution, so the receiver learns how it ended.
    #[serde(default = "default_min_level")]
    pub min_level: Level,
    /// Alert categories to deliver ([`CATEGORIES`]); absent means [`DEFAULT_CATEGORIES`].
    #[serde(default = "default_categories")]
    pub categories: Vec<String>,
    /// Whether deliveries are made (an inactive subscription gets no new deliveries and its pending ones wait).
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn default_min_level() -> Level {
    Level::Gialla
}

fn default_categories() -> Vec<String> {
    DEFAULT_CATEGORIES.iter().map(|c| c.to_string()).collect()
}

fn active_by_default() -> bool {
    true
}

impl NewSubscription {
    /// A subscription to every zone, from gialla up, hydrological and manual alerts, with a generated secret.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> NewSubscription {
        NewSubscription {
            name: name.into(),
            url: url.into(),
            secret: None,
            zones: Vec::new(),
            min_level: default_min_level(),
            categories: default_categories(),
            active: true,
        }
    }
}

/// A subscription as stored (the secret is never shown after creation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subscription {
    /// Its id.
    pub id: i64,
    /// Its unique name.
    pub name: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Zone filter (empty: every zone).
    pub zones: Vec<String>,
    /// Minimum peak colour.
    pub min_level: Level,
    /// Category filter.
    pub categories: Vec<String>,
    /// Whether deliveries are made.
    pub active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: Option<String>,
}

/// What [`create_subscription`] gives back: the subscription and its secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatedSubscription {
    /// The stored subscription.
    #[serde(flatten)]
    pub subscription: Subscription,
    /// The signing secret (the given one, or the generated one).
    pub secret: String,
}

const COLUMNS: &str = "id, name, url, zones, min_level, categories, active, created_at, created_by";

fn from_row(row: &PgRow) -> Result<Subscription> {
    let min_level: String = row.try_get("min_level")?;
    Ok(Subscription {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        zones: row.try_get("zones")?,
        min_level: min_level.parse()?,
        categories: row.try_get("categories")?,
        active: row.try_get("active")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
    })
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::WebhookInvalid { field, reason: reason.into() }
}

/// Checks a subscription URL: absolute, `http` or `https`, with a host, no user information, no fragment, at most
/// 2048 bytes. Returns it normalised (as the `url` crate writes it).
pub fn validate_url(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.len() > MAX_URL_LEN {
        return Err(invalid("url", format!("is longer than {MAX_URL_LEN} bytes")));
    }
    let url =
        url::Url::parse(raw).map_err(|e| invalid("url", format!("`{raw}` is not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("url", format!("scheme `{}` is not http or https", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("url", "has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("url", "must not carry user information (credentials in a URL are not sent)"));
    }
    if url.fragment().is_some() {
        return Err(invalid("url", "must not have a fragment (#…)"));
    }
    Ok(url.into())
}

fn validate_zone(code: &str) -> Result<()> {
    let ok = (1..=32).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(invalid("zones", format!("`{code}` is not a zone code (1–32 of A-Z a-z 0-9 _ . -)")))
    }
}

fn dedup(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        if !out.contains(value) {
            out.push(value.clone());
        }
    }
    out
}

fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

struct Checked {
    name: String,
    url: String,
    secret: String,
    zones: Vec<String>,
    categories: Vec<String>,
}

fn check(new: &NewSubscription) -> Result<Checked> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid("name", format!("must be 1–{MAX_NAME_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("name", "must not contain control characters"));
    }
    let url = validate_url(&new.url)?;
    let secret = match &new.secret {
        Some(secret) => {
            if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len()) {
                return Err(invalid(
                    "secret",
                    format!("must be {MIN_SECRET_LEN}–{MAX_SECRET_LEN} bytes long"),
                ));
            }
            if secret.chars().any(char::is_control) {
                return Err(invalid("secret", "must not contain control characters"));
            }
            secret.clone()
        }
        None => generate_secret(),
    };
    for zone in &new.zones {
        validate_zone(zone)?;
    }
    if new.min_level == Level::Verde {
        return Err(invalid("min_level", "must be gialla, arancione or rossa (alerts are never verde)"));
    }
    if new.categories.is_empty() {
        return Err(invalid("categories", format!("must name at least one of {}", CATEGORIES.join(", "))));
    }
    if let Some(unknown) = new.categories.iter().find(|c| !CATEGORIES.contains(&c.as_str())) {
        return Err(invalid(
            "categories",
            format!("`{unknown}` is not a category (expected {})", CATEGORIES.join(", ")),
        ));
    }
    Ok(Checked {
        name: name.to_string(),
        url,
        secret,
        zones: dedup(&new.zones),
        categories: dedup(&new.categories),
    })
}

/// Validates and stores a subscription. Errors: [`Error::WebhookInvalid`] naming the field,
/// [`Error::WebhookNameTaken`].
pub async fn create_subscription(
    pool: &PgPool,
    new: &NewSubscription,
    created_by: Option<&str>,
) -> Result<CreatedSubscription> {
    let checked = check(new)?;
    let sql = format!(
        "insert into alerts.webhook_subscription (name, url, secret, zones, min_level, categories, active, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         returning {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(&checked.name)
        .bind(&checked.url)
        .bind(&checked.secret)
        .bind(&checked.zones)
        .bind(level_name(new.min_level))
        .bind(&checked.categories)
        .bind(new.active)
        .bind(created_by)
        .fetch_one(pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.constraint() == Some("webhook_subscription_name_key") => {
                Error::WebhookNameTaken { name: checked.name.clone() }
            }
            other => Error::Database(other),
        })?;
    Ok(CreatedSubscription { subscription: from_row(&row)?, secret: checked.secret })
}

pub(crate) fn level_name(level: Level) -> &'static str {
    match level {
        Level::Verde => "verde",
        Level::Gialla => "gialla",
        Level::Arancione => "arancione",
        Level::Rossa => "rossa",
    }
}

/// Every subscription, by id.
pub async fn list_subscriptions(pool: &PgPool) -> Result<Vec<Subscription>> {
    list_subscriptions_page(pool, i64::MAX, 0).await
}

/// At most `limit` subscriptions by id, after the first `offset`.
pub async fn list_subscriptions_page(pool: &PgPool, limit: i64, offset: i64) -> Result<Vec<Subscription>> {
    let sql = format!("select {COLUMNS} from alerts.webhook_subscription order by id limit $1 offset $2");
    sqlx::query(&sql)
        .bind(limit.max(0))
        .bind(offset.max(0))
        .fetch_all(pool)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// One subscription.
pub async fn get_subscription(pool: &PgPool, id: i64) -> Result<Option<Subscription>> {
    let sql = format!("select {COLUMNS} from alerts.webhook_subscription where id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(pool).await?.as_ref().map(from_row).transpose()
}

/// Pauses (`false`) or resumes (`true`) a subscription. Returns whether it exists.
pub async fn set_subscription_active(pool: &PgPool, id: i64, active: bool) -> Result<bool> {
    let done = sqlx::query("update alerts.webhook_subscription set active = $2 where id = $1")
        .bind(id)
        .bind(active)
        .execute(pool)
        .await?;
    if active && done.rows_affected() > 0 {
        super::delivery::wake_dispatchers(pool).await?;
    }
    Ok(done.rows_affected() > 0)
}

/// Deletes a subscription with its deliveries (pending, delivered and dead). Returns whether it existed.
pub async fn delete_subscription(pool: &PgPool, id: i64) -> Result<bool> {
    let done =
        sqlx::query("delete from alerts.webhook_subscription where id = $1").bind(id).execute(pool).await?;
    Ok(done.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: Result<impl std::fmt::Debug>) -> &'static str {
        match result {
            Err(Error::WebhookInvalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn urls_must_be_absolute_http_or_https() {
        assert_eq!(validate_url("https://example.org/hook").unwrap(), "https://example.org/hook");
        assert_eq!(validate_url(" http://127.0.0.1:8080 ").unwrap(), "http://127.0.0.1:8080/");
        for bad in [
            "ftp://example.org/",
            "/relative",
            "https://",
            "mailto:a@b.it",
            "https://u:p@example.org/",
            "http://h/#x",
        ] {
            assert_eq!(field_of(validate_url(bad)), "url", "{bad}");
        }
    }

    #[test]
    fn filters_are_checked() {
        let mut new = NewSubscription::new("prefettura", "https://example.org/hook");
        assert!(check(&new).is_ok());
        assert_eq!(check(&new).unwrap().secret.len(), 64);
        new.zones = vec!["A".into(), "B".into(), "A".into()];
        assert_eq!(check(&new).unwrap().zones, ["A", "B"]);
        new.zones = vec!["zona B".into()];
        assert_eq!(field_of(check(&new).map(|_| ())), "zones");
        new.zones.clear();
        new.min_level = Level::Verde;
        assert_eq!(field_of(check(&new).map(|_| ())), "min_level");
        new.min_level = Level::Rossa;
        new.categories = vec!["meteo".into()];
        assert_eq!(field_of(check(&new).map(|_| ())), "categories");
        new.categories.clear();
        assert_eq!(field_of(check(&new).map(|_| ())), "categories");
        new.categories = vec!["technical".into()];
        new.secret = Some("short".into());
        assert_eq!(field_of(check(&new).map(|_| ())), "secret");
        new.secret = Some("a-long-enough-secret".into());
        new.name = "  ".into();
        assert_eq!(field_of(check(&new).map(|_| ())), "name");
    }

    #[test]
    fn the_api_body_takes_defaults_and_refuses_unknown_fields() {
        let new: NewSubscription =
            serde_json::from_value(serde_json::json!({"name": "n", "url": "https://e.org/"})).unwrap();
        assert_eq!(new, NewSubscription::new("n", "https://e.org/"));
        let with_level: NewSubscription = serde_json::from_value(
            serde_json::json!({"name": "n", "url": "https://e.org/", "min_level": "arancione"}),
        )
        .unwrap();
        assert_eq!(with_level.min_level, Level::Arancione);
        assert!(
            serde_json::from_value::<NewSubscription>(
                serde_json::json!({"name": "n", "url": "u", "colour": "red"})
            )
            .is_err()
        );
    }
}
