//! OGC SensorThings API v1.1 (read) at `/sta/v1.1`: URLs, query options, links and JSON of the standard, over
//! `sensors::sta::model`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sensors::sta::model::{self, Entity, EntitySet, Expanded, Expansion, Next, Scope};
use sensors::sta::query::QueryOptions;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// `https://public.example/sta/v1.1` from the configured public URL (links must be absolute for STA clients; they
/// are never built from request headers).
fn base_url(state: &AppState) -> String {
    format!("{}/sta/v1.1", state.public_url())
}

/// `GET /sta/v1.1`: the entity sets and the conformance classes.
#[utoipa::path(get, path = "/sta/v1.1", tag = "sensorthings",
    responses((status = 200, description = "Entity sets and conformance", body = crate::schema::Document)))]
pub(crate) async fn landing(State(state): State<AppState>) -> Json<Value> {
    let base = base_url(&state);
    let value: Vec<Value> = EntitySet::ALL
        .iter()
        .map(|s| json!({ "name": s.name(), "url": format!("{base}/{}", s.name()) }))
        .collect();
    Json(json!({
        "value": value,
        "serverSettings": {
            "conformance": [
                "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation"
            ]
        }
    }))
}

/// The most segments a resource path may have (`Observations(1)/Datastream/Thing/Locations` has four).
const MAX_PATH_SEGMENTS: usize = 8;

/// A path segment: `Things` or `Things(5)` (or `Things('5')`).
fn segment(s: &str) -> Result<(&str, Option<i64>), ApiError> {
    match s.split_once('(') {
        None => Ok((s, None)),
        Some((name, rest)) => {
            let id = rest
                .strip_suffix(')')
                .map(|i| i.trim_matches('\''))
                .and_then(|i| i.parse::<i64>().ok())
                .ok_or_else(|| ApiError::NotFound(format!("`{s}`: ids are integers, as in {name}(1)")))?;
            Ok((name, Some(id)))
        }
    }
}

/// `GET /sta/v1.1/{path}`: an entity set, an entity, or a navigation from one.
///
/// One read-only transaction with a statement timeout serves the whole request (see `sensors::sta::read`).
#[utoipa::path(get, path = "/sta/v1.1/{path}", tag = "sensorthings",
    params(("path" = String, Path, description = "An entity set, entity or navigation: `Things`, `Things(1)/Datastreams`", example = "Things"),
           ("$top" = Option<i64>, Query, description = "Page size", minimum = 0, maximum = 1000),
           ("$skip" = Option<i64>, Query, description = "Page start", minimum = 0),
           ("$count" = Option<bool>, Query, description = "Include @iot.count"),
           ("$filter" = Option<String>, Query, description = "OData filter"),
           ("$orderby" = Option<String>, Query, description = "OData order"),
           ("$select" = Option<String>, Query, description = "Properties"),
           ("$expand" = Option<String>, Query, description = "Related entities")),
    responses((status = 200, description = "Entities or an entity", body = crate::schema::Document)))]
pub(crate) async fn resource(
    State(state): State<AppState>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let base = base_url(&state);
    let raw = raw.unwrap_or_default();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect();
    let opts = QueryOptions::parse_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let path = path.trim_end_matches('/');
    if path.split('/').count() > MAX_PATH_SEGMENTS {
        return Err(ApiError::BadRequest(format!(
            "a resource path has at most {MAX_PATH_SEGMENTS} segments"
        )));
    }
    let mut tx = model::begin(state.pool()).await?;
    let conn = &mut *tx;

    let mut segments = path.split('/');
    let (name, id) = segment(segments.next().unwrap_or_default())?;
    let mut set =
        EntitySet::parse(name).ok_or_else(|| ApiError::NotFound(format!("no entity set `{name}`")))?;
    let mut scope = id.map_or(Scope::All, Scope::Id);
    let mut single = id.is_some();
    let mut current_id = id;
    for seg in segments {
        let (nav, id) = segment(seg)?;
        let (target, many) = set.navigate(nav).ok_or_else(|| {
            ApiError::NotFound(format!("{} has no navigation property `{nav}`", set.name()))
        })?;
        let parent_id = match current_id {
            // Only an id that exists leads on (`Things(1)/Datastreams(12)` checks both).
            Some(id) if matches!(scope, Scope::Id(_) | Scope::RelatedId { .. }) => {
                model::read_one(conn, set, &scope, &QueryOptions::default())
                    .await?
                    .map(|e| e.id)
                    .ok_or_else(|| ApiError::NotFound(format!("no {}({id})", set.name())))?
            }
            Some(id) => id,
            // A single-valued hop without an id in the URL (Datastreams(1)/Thing/Locations): look it up.
            None if single => model::read_one(conn, set, &scope, &QueryOptions::default())
                .await?
                .map(|e| e.id)
                .ok_or_else(|| ApiError::NotFound(format!("no {} at {path}", set.name())))?,
            None => {
                return Err(ApiError::BadRequest(format!(
                    "`{nav}` needs one entity before it, as in {}(1)/{nav}",
                    set.name()
                )));
            }
        };
        scope = match id {
            Some(id) => Scope::RelatedId { parent: set, nav: nav.to_string(), parent_id, id },
            None => Scope::Related { parent: set, nav: nav.to_string(), parent_id },
        };
        single = id.is_some() || !many;
        current_id = id;
        set = target;
    }

    let mut out = String::with_capacity(16 * 1024);
    if single {
        let entity = model::read_one(conn, set, &scope, &opts)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("nothing at /sta/v1.1/{path}")))?;
        write_entity(&mut out, &base, &entity, &opts.select);
    } else {
        let page = model::read(conn, set, &scope, &opts).await?;
        let first = &mut true;
        out.push('{');
        if let Some(count) = page.count {
            key(&mut out, first, "@iot.count");
            out.push_str(&count.to_string());
        }
        if let Some(next) = page.next {
            key(&mut out, first, "@iot.nextLink");
            string(&mut out, &page_link(&format!("{base}/{path}"), opts.link_pairs(), next));
        }
        key(&mut out, first, "value");
        write_entities(&mut out, &base, &page.items, &opts.select);
        out.push('}');
    }
    tx.commit().await.map_err(sensors::Error::from)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
}

/// The URL of another page of a collection: the same options with its `$top` and `$skip`.
fn page_link<'a>(url: &str, options: impl Iterator<Item = (&'a str, &'a str)>, next: Next) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in options {
        query.append_pair(k, v);
    }
    query.append_pair("$top", &next.top.to_string());
    query.append_pair("$skip", &next.skip.to_string());
    format!("{url}?{}", query.finish())
}

/// An entity in STA JSON: `@iot.id`, `@iot.selfLink`, its properties, navigation links and expanded relations
/// (each with its own `$select`, count and nextLink).
///
/// The JSON is written as text: the properties PostgreSQL rendered are copied, never parsed, unless `$select`
/// picks among them.
fn write_entity(out: &mut String, base: &str, entity: &Entity, select: &[String]) {
    let self_link = format!("{base}/{}({})", entity.set.name(), entity.id);
    let keep = |name: &str| select.is_empty() || select.iter().any(|s| s == name);
    let first = &mut true;
    out.push('{');
    if keep("id") {
        key(out, first, "@iot.id");
        out.push_str(&entity.id.to_string());
    }
    if keep("selfLink") {
        key(out, first, "@iot.selfLink");
        string(out, &self_link);
    }
    if select.is_empty() {
        let inner = entity.fields.trim().strip_prefix('{').and_then(|f| f.strip_suffix('}')).unwrap_or("");
        if !inner.trim().is_empty() {
            if !std::mem::take(first) {
                out.push(',');
            }
            out.push_str(inner);
        }
    } else {
        for (name, value) in entity.field_map() {
            if keep(&name) {
                key(out, first, &name);
                out.push_str(&value.to_string());
            }
        }
    }
    for (nav, _, _) in entity.set.navigation() {
        if keep(nav) {
            key(out, first, &format!("{nav}@iot.navigationLink"));
            string(out, &format!("{self_link}/{nav}"));
        }
    }
    for Expansion { nav, options, value } in &entity.expanded {
        match value {
            Expanded::One(Some(e)) => {
                key(out, first, nav);
                write_entity(out, base, e, &options.select);
            }
            Expanded::One(None) => {}
            Expanded::Many(page) => {
                if let Some(count) = page.count {
                    key(out, first, &format!("{nav}@iot.count"));
                    out.push_str(&count.to_string());
                }
                if let Some(next) = page.next {
                    key(out, first, &format!("{nav}@iot.nextLink"));
                    string(out, &page_link(&format!("{self_link}/{nav}"), options.link_pairs(), next));
                }
                key(out, first, nav);
                write_entities(out, base, &page.items, &options.select);
            }
        }
    }
    out.push('}');
}

fn write_entities(out: &mut String, base: &str, entities: &[Entity], select: &[String]) {
    out.push('[');
    for (i, entity) in entities.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_entity(out, base, entity, select);
    }
    out.push(']');
}

/// `"key":`, after a comma unless it is the object's first member.
fn key(out: &mut String, first: &mut bool, name: &str) {
    if !std::mem::take(first) {
        out.push(',');
    }
    string(out, name);
    out.push(':');
}

/// A JSON string.
fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        string(&mut out, "a\"b\\c\u{1}é");
        assert_eq!(out, r#""a\"b\\c\u0001é""#);
        assert_eq!(serde_json::from_str::<String>(&out).unwrap(), "a\"b\\c\u{1}é");
    }
}
