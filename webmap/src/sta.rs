//! OGC SensorThings API v1.1 (read) at `/sta/v1.1`: URLs, query options, links and JSON of the standard, over
//! `sensors::sta::model`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use sensors::sta::model::{self, Entity, EntitySet, Expanded, Expansion, Next, Scope};
use sensors::sta::query::QueryOptions;
use serde_json::{Map, Value, json};

use crate::{ApiError, AppState};

/// `https://public.example/sta/v1.1` from the configured public URL (links must be absolute for STA clients; they
/// are never built from request headers).
fn base_url(state: &AppState) -> String {
    format!("{}/sta/v1.1", state.public_url())
}

/// `GET /sta/v1.1`: the entity sets and the conformance classes.
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
pub(crate) async fn resource(
    State(state): State<AppState>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
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

    let body = if single {
        let entity = model::read_one(conn, set, &scope, &opts)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("nothing at /sta/v1.1/{path}")))?;
        render(&base, &entity, &opts.select)
    } else {
        let page = model::read(conn, set, &scope, &opts).await?;
        let mut body = Map::new();
        if let Some(count) = page.count {
            body.insert("@iot.count".into(), json!(count));
        }
        if let Some(next) = page.next {
            body.insert(
                "@iot.nextLink".into(),
                json!(page_link(&format!("{base}/{path}"), opts.link_pairs(), next)),
            );
        }
        body.insert(
            "value".into(),
            Value::Array(page.items.iter().map(|e| render(&base, e, &opts.select)).collect()),
        );
        Value::Object(body)
    };
    tx.commit().await.map_err(sensors::Error::from)?;
    Ok(Json(body))
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
fn render(base: &str, entity: &Entity, select: &[String]) -> Value {
    let self_link = format!("{base}/{}({})", entity.set.name(), entity.id);
    let mut obj = Map::new();
    obj.insert("@iot.id".into(), json!(entity.id));
    obj.insert("@iot.selfLink".into(), json!(self_link));
    obj.extend(entity.fields.clone());
    for (nav, _, _) in entity.set.navigation() {
        obj.insert(format!("{nav}@iot.navigationLink"), json!(format!("{self_link}/{nav}")));
    }
    if !select.is_empty() {
        let keep = |k: &str| {
            let name = match k {
                "@iot.id" => "id",
                "@iot.selfLink" => "selfLink",
                other => other.split('@').next().unwrap_or(other),
            };
            select.iter().any(|s| s == name)
        };
        obj.retain(|k, _| keep(k));
    }
    for Expansion { nav, options, value } in &entity.expanded {
        match value {
            Expanded::One(Some(e)) => {
                obj.insert(nav.clone(), render(base, e, &options.select));
            }
            Expanded::One(None) => {}
            Expanded::Many(page) => {
                let items = page.items.iter().map(|e| render(base, e, &options.select)).collect();
                obj.insert(nav.clone(), Value::Array(items));
                if let Some(count) = page.count {
                    obj.insert(format!("{nav}@iot.count"), json!(count));
                }
                if let Some(next) = page.next {
                    let link = page_link(&format!("{self_link}/{nav}"), options.link_pairs(), next);
                    obj.insert(format!("{nav}@iot.nextLink"), json!(link));
                }
            }
        }
    }
    Value::Object(obj)
}
