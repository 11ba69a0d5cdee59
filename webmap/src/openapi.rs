//! `GET /api/openapi.json`: the OpenAPI 3.1 document of every HTTP endpoint, generated from the handlers
//! (utoipa). `make test` fuzzes it with schemathesis; a snapshot test keeps it from drifting unnoticed.
//!
//! Every operation answers its errors as RFC 9457 problems: [`with_problems`] adds the `4XX` and `503` problem
//! responses to every operation, so the document says what the error contract says.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::AppState;
use crate::error::{PROBLEM_JSON, Problem};

/// The document, as generated from the annotated handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vedetta",
        description = "Territory control and sensor platform for Italian comuni: stations and readings, \
                       alerts (REST, SSE, webhooks, CAP 1.2), territory (comuni, zoning, DB Topografico through \
                       OGC API), geocoding (ANNCSU). \
                       Errors are RFC 9457 problems (`application/problem+json`).",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2"),
    ),
    paths(
        document,
        crate::health::healthz,
        crate::telemetry::metrics,
        crate::auth::whoami,
        crate::stations::list,
        crate::stations::create,
        crate::stations::get,
        crate::stations::put,
        crate::stations::delete,
        crate::stations::readings,
        crate::stations::windows,
        crate::stations::latest,
        crate::stream::readings,
        crate::dead_letters::list,
        crate::alerts::feed::list,
        crate::alerts::feed::get,
        crate::alerts::feed::stream,
        crate::alerts::workflow::acknowledge,
        crate::alerts::workflow::list_silences,
        crate::alerts::workflow::create_silence,
        crate::alerts::workflow::lift_silence,
        crate::alerts::workflow::manual,
        crate::alerts::rules::list_rules,
        crate::alerts::rules::put_rule,
        crate::alerts::rules::delete_rule,
        crate::alerts::rules::check_rules,
        crate::alerts::webhooks::list_webhooks,
        crate::alerts::webhooks::create_webhook,
        crate::alerts::webhooks::delete_webhook,
        crate::alerts::webhooks::list_deliveries,
        crate::alerts::webhooks::retry_delivery,
        crate::alerts::zones::zones,
        crate::alerts::zones::zone,
        crate::cap::feed,
        crate::cap::message,
        crate::geocode::geocode,
        crate::geocode::reverse,
        crate::territory::comuni,
        crate::territory::comune_at,
        crate::territory::zoning_at,
        crate::territory::zoning_intersect,
        crate::ogc::landing,
        crate::ogc::api,
        crate::ogc::conformance,
        crate::ogc::collections,
        crate::ogc::collection,
        crate::ogc::items,
        crate::ogc::item,
        crate::sta::landing,
        crate::sta::resource,
    ),
    components(schemas(Problem, crate::schema::Format)),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Health, metrics and this document"),
        (name = "auth", description = "Tokens and roles"),
        (name = "sensors", description = "Stations, readings, windows, live events, dead letters"),
        (name = "territory", description = "Comuni, zoning, geocoding"),
        (name = "alerts", description = "Alerts, their live stream, acknowledgements, silences, manual alerts, \
                                       rules, webhooks and alert zones"),
        (name = "cap", description = "CAP 1.2 messages of the public alerts and their Atom feed"),
        (name = "ogc", description = "OGC API – Features (DB Topografico, comuni, stations, zoning)"),
        (name = "sensorthings", description = "OGC SensorThings API v1.1 (read)"),
    )
)]
pub(crate) struct ApiDoc;

#[derive(Debug)]
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The generated document with the problem responses on every operation, as JSON.
pub(crate) fn document_json() -> Value {
    let mut api = ApiDoc::openapi();
    api.merge(crate::auth::Api::openapi());
    api.merge(crate::reports::Api::openapi());
    api.merge(crate::open311::Api::openapi());
    api.merge(crate::tiles::Api::openapi());
    let mut doc = serde_json::to_value(api).unwrap_or_else(|_| json!({}));
    with_problems(&mut doc);
    doc
}

static DOCUMENT: LazyLock<Value> = LazyLock::new(document_json);

/// Adds `4XX` and `503` (problem+json) to every operation that does not describe them itself.
fn with_problems(doc: &mut Value) {
    let problem = |description: &str| {
        json!({
            "description": description,
            "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }
        })
    };
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, operation) in item.iter_mut() {
            if !matches!(method.as_str(), "get" | "put" | "post" | "delete" | "patch" | "head") {
                continue;
            }
            let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            responses.entry("4XX").or_insert_with(|| problem("The request was wrong: the problem says how"));
            responses
                .entry("503")
                .or_insert_with(|| problem("The database is unavailable or the request took too long"));
        }
    }
}

/// `GET /api/openapi.json`: this document (OpenAPI 3.1), with the server at the configured public URL.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json",
        body = Object)))]
pub(crate) async fn document(State(state): State<AppState>) -> Response {
    let mut doc = DOCUMENT.clone();
    doc["servers"] = json!([{ "url": state.public_url() }]);
    ([(header::CONTENT_TYPE, "application/json")], axum::Json(doc)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_describes_its_problems() {
        let doc = document_json();
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                assert!(op["responses"]["4XX"].is_object(), "{method} {path} lacks 4XX");
            }
        }
    }

    /// Every route of the router is in the document (the router's source is read, so a new `.route(…)` without
    /// `#[utoipa::path]` and an entry in `paths(…)` fails here). Left out: the web app's page and assets, and the
    /// trailing-slash aliases of the OGC and SensorThings landing pages.
    #[test]
    fn every_route_is_documented() {
        const NOT_API: [&str; 6] =
            ["/", "/assets/vedetta.css", "/assets/index.js", "/ogc/", "/sta/v1.1/", ""];
        let doc = document_json();
        let documented: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
        // The router of app.rs and the routes the modules merge into it.
        let source = [
            include_str!("app.rs"),
            include_str!("auth/mod.rs"),
            include_str!("reports/mod.rs"),
            include_str!("open311/mod.rs"),
            include_str!("tiles.rs"),
        ]
        .concat();
        let routes: Vec<&str> = source
            .split(".route(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(|path| match path {
                "/sta/v1.1/{*path}" => "/sta/v1.1/{path}",
                // `{id}.xml` is one path segment: the router takes it whole and the handler reads the id.
                "/cap/alerts/{file}" => "/cap/alerts/{id}.xml",
                other => other,
            })
            .collect();
        assert!(routes.len() >= 30, "the router's routes were not found: {routes:?}");
        let missing: Vec<&&str> =
            routes.iter().filter(|r| !NOT_API.contains(r) && !documented.iter().any(|d| d == *r)).collect();
        assert!(missing.is_empty(), "routes missing from /api/openapi.json: {missing:?}");
    }

    #[test]
    fn document_is_stable() {
        insta::assert_json_snapshot!("openapi", document_json());
    }
}
