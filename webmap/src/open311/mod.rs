//! Open311 GeoReport v2 at `/open311/v2/` (http://wiki.open311.org/GeoReport_v2), on top of the reports API:
//! the categories of a comune are its services, its public reports are service requests.
//!
//! - `discovery.{json,xml}`: where the endpoint is and what it speaks ([`discovery`]);
//! - `services.{json,xml}` and `services/{code}.{json,xml}` (also `service/{code}.…`, which real clients use):
//!   the catalogue of a jurisdiction (`jurisdiction_id` = the comune's ISTAT code) and a service's attributes
//!   ([`services`]);
//! - `requests.{json,xml}` GET (public reports, filtered), `requests/{id}.{json,xml}`, `tokens/{id}.{json,xml}`
//!   ([`requests`]) and POST (a form with `api_key`, [`submit`]).
//!
//! Both formats come from one value ([`format`]); XML is always served. Errors are the spec's
//! (`<errors><error><code/><description/></error></errors>` or the JSON array) with status 400, 403 or 404
//! ([`error`]); nothing an Open311 client can send answers 500.
//!
//! The router (matchit) cannot match `{code}.json` inside a segment, so the fixed resources are routed once per
//! format (`services.json`, `services.xml`) and the others by their whole last segment (`services/{file}`, where
//! `file` is `buca_stradale.json`), documented as routed.

mod discovery;
mod error;
mod format;
mod params;
mod requests;
mod services;
mod submit;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::{IntoParams, OpenApi};

use crate::AppState;
use error::{ErrorEntry, Open311Error};
use format::Format;
use params::Params;

/// The routes of this module (merged into the router by `app::router`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/discovery.json", get(discovery_json))
        .route("/open311/v2/discovery.xml", get(discovery_xml))
        .route("/open311/v2/services.json", get(services_json))
        .route("/open311/v2/services.xml", get(services_xml))
        .route("/open311/v2/services/{file}", get(service_definition))
        .route("/open311/v2/service/{file}", get(service_definition_alias))
        .route("/open311/v2/requests.json", get(requests_json).post(submit_json))
        .route("/open311/v2/requests.xml", get(requests_xml).post(submit_xml))
        .route("/open311/v2/requests/{file}", get(request))
        .route("/open311/v2/tokens/{file}", get(token))
}

/// The operations of this module (merged into `/api/openapi.json`).
#[derive(OpenApi)]
#[openapi(
    paths(
        discovery_json,
        discovery_xml,
        services_json,
        services_xml,
        service_definition,
        service_definition_alias,
        requests_json,
        requests_xml,
        submit_json,
        submit_xml,
        request,
        token,
    ),
    components(schemas(
        discovery::Discovery,
        discovery::Endpoint,
        services::Service,
        services::ServiceDefinition,
        services::Attribute,
        services::AttributeValue,
        services::Datatype,
        requests::ServiceRequest,
        requests::TokenAnswer,
        submit::Submitted,
        submit::NewRequestForm,
        ErrorEntry,
    )),
    tags((name = "open311", description = "Open311 GeoReport v2: the categories of a comune as services, its public \
        reports as service requests; XML always, JSON too. Errors are the spec's `<errors>` (or JSON array), \
        status 400/403/404"))
)]
pub(crate) struct Api;

/// The answer of a handler: the document, or the spec's error body.
fn respond<T>(
    format: Format,
    result: error::Result<T>,
    write: impl FnOnce(Format, T) -> Response,
) -> Response {
    match result {
        Ok(doc) => write(format, doc),
        Err(e) => e.into_response(),
    }
}

/// The format of a `{file}` segment, or the 404 for a file that is neither `.json` nor `.xml`.
fn split(file: &str) -> error::Result<(&str, Format)> {
    Format::split(file).ok_or_else(|| {
        Open311Error::not_found(
            Format::of_segment(file),
            format!("`{}` is not a resource here: the name ends in .json or .xml", file.escape_debug()),
        )
    })
}

/// A `reports` error as the spec's error: the client's mistakes are 400 (404 for what does not exist).
pub(crate) fn reports_error(format: Format, e: ::reports::Error) -> Open311Error {
    use ::reports::Error as E;
    match e {
        E::NotFound { id } => Open311Error::not_found(format, format!("there is no service request {id}")),
        E::UnknownComune { comune } => Open311Error::not_found(
            format,
            format!(
                "jurisdiction_id `{}` is not the ISTAT code of a comune served here",
                comune.escape_debug()
            ),
        ),
        E::UnknownCategory { code, comune, known } => Open311Error::bad(
            format,
            format!(
                "service_code `{}` is not a service of comune {comune}; one of {}",
                code.escape_debug(),
                known.join(", ")
            ),
        ),
        E::Invalid(_) | E::Transition { .. } | E::OutsideTerritory { .. } | E::Jurisdiction { .. } => {
            Open311Error::bad(format, e.to_string())
        }
        E::Database(db) => Open311Error::database(format, &db),
        other => Open311Error::internal(format, &other),
    }
}

/// The query string of `services`, `services/{code}` and `requests/{id}`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct JurisdictionQuery {
    /// The comune's ISTAT code (`010025`); empty or absent: the default catalogue.
    #[param(example = "010025")]
    jurisdiction_id: Option<String>,
}

/// The query string of `GET requests`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct RequestsQuery {
    /// Only this comune (ISTAT code).
    jurisdiction_id: Option<String>,
    /// Request ids, comma-separated (at most 1,000): overrides every other filter.
    #[param(example = "12,13")]
    service_request_id: Option<String>,
    /// Service codes, comma-separated (at most 20).
    #[param(example = "buca_stradale,allagamento")]
    service_code: Option<String>,
    /// Filed at or after (ISO 8601 with offset, or a date); default: 90 days before `end_date`.
    #[param(example = "2026-01-01T00:00:00Z")]
    start_date: Option<String>,
    /// Filed before (ISO 8601 with offset, or a date); default: now or 90 days after `start_date`. The window
    /// spans at most 90 days.
    end_date: Option<String>,
    /// `open`, `closed` or both, comma-separated.
    #[param(example = "open")]
    status: Option<String>,
}

/// The query string of `POST requests`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct KeyQuery {
    /// The API key (a Vedetta token), when not in the body.
    api_key: Option<String>,
}

async fn discovery_of(format: Format, state: AppState) -> Response {
    discovery::answer(format, &state)
}

/// `GET /open311/v2/discovery.json`: the Service Discovery document.
#[utoipa::path(get, path = "/open311/v2/discovery.json", tag = "open311", operation_id = "open311_discovery_json",
    responses((status = 200, description = "Where the GeoReport v2 endpoint is and what it speaks",
        content_type = "application/json", body = discovery::Discovery)))]
async fn discovery_json(State(state): State<AppState>) -> Response {
    discovery_of(Format::Json, state).await
}

/// `GET /open311/v2/discovery.xml`: the Service Discovery document in XML.
#[utoipa::path(get, path = "/open311/v2/discovery.xml", tag = "open311", operation_id = "open311_discovery_xml",
    responses((status = 200, description = "`<discovery>`", content_type = "text/xml", body = String)))]
async fn discovery_xml(State(state): State<AppState>) -> Response {
    discovery_of(Format::Xml, state).await
}

async fn services_of(format: Format, state: AppState, query: Option<String>) -> Response {
    let result = async {
        let params = Params::parse(format, query.as_deref(), None)?;
        services::list(&state, format, &params).await
    }
    .await;
    respond(format, result, |f, services| format::list(StatusCode::OK, f, "services", &services))
}

/// `GET /open311/v2/services.json`: the services (categories of reports) of a jurisdiction.
#[utoipa::path(get, path = "/open311/v2/services.json", tag = "open311", operation_id = "open311_services_json",
    params(JurisdictionQuery),
    responses(
        (status = 200, description = "The services", content_type = "application/json", body = Vec<services::Service>),
        (status = 400, description = "A malformed parameter", content_type = "application/json", body = Vec<ErrorEntry>),
        (status = 404, description = "No comune has that ISTAT code", content_type = "application/json", body = Vec<ErrorEntry>)))]
async fn services_json(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    services_of(Format::Json, state, query).await
}

/// `GET /open311/v2/services.xml`: the services of a jurisdiction in XML.
#[utoipa::path(get, path = "/open311/v2/services.xml", tag = "open311", operation_id = "open311_services_xml",
    params(JurisdictionQuery),
    responses(
        (status = 200, description = "`<services>`", content_type = "text/xml", body = String),
        (status = 400, description = "A malformed parameter (`<errors>`)", content_type = "text/xml", body = String),
        (status = 404, description = "No comune has that ISTAT code (`<errors>`)", content_type = "text/xml", body = String)))]
async fn services_xml(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    services_of(Format::Xml, state, query).await
}

async fn definition_of(state: AppState, file: String, query: Option<String>) -> Response {
    let (code, format) = match split(&file) {
        Ok(split) => split,
        Err(e) => return e.into_response(),
    };
    let result = async {
        let params = Params::parse(format, query.as_deref(), None)?;
        services::definition(&state, format, code, &params).await
    }
    .await;
    respond(format, result, |f, definition| format::one(f, &definition))
}

/// `GET /open311/v2/services/{file}`: a service's definition (its attributes); `file` is `{service_code}.json` or
/// `{service_code}.xml`.
#[utoipa::path(get, path = "/open311/v2/services/{file}", tag = "open311", operation_id = "open311_service_definition",
    params(("file" = String, Path, description = "`{service_code}.json` or `{service_code}.xml`",
        example = "buca_stradale.json"), JurisdictionQuery),
    responses(
        (status = 200, description = "The service definition", content(
            (services::ServiceDefinition = "application/json"), (String = "text/xml"))),
        (status = 400, description = "A malformed parameter", content(
            (Vec<ErrorEntry> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such service, jurisdiction or format", content(
            (Vec<ErrorEntry> = "application/json"), (String = "text/xml")))))]
async fn service_definition(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    definition_of(state, file, query).await
}

/// `GET /open311/v2/service/{file}`: the same as `services/{file}` (some clients write it so).
#[utoipa::path(get, path = "/open311/v2/service/{file}", tag = "open311", operation_id = "open311_service_definition_alias",
    params(("file" = String, Path, description = "`{service_code}.json` or `{service_code}.xml`",
        example = "buca_stradale.xml"), JurisdictionQuery),
    responses(
        (status = 200, description = "The service definition", content(
            (services::ServiceDefinition = "application/json"), (String = "text/xml"))),
        (status = 400, description = "A malformed parameter", content(
            (Vec<ErrorEntry> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such service, jurisdiction or format", content(
            (Vec<ErrorEntry> = "application/json"), (String = "text/xml")))))]
async fn service_definition_alias(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    definition_of(state, file, query).await
}

async fn requests_of(format: Format, state: AppState, query: Option<String>) -> Response {
    let result = async {
        let params = Params::parse(format, query.as_deref(), None)?;
        requests::list(&state, format, &params).await
    }
    .await;
    respond(format, result, |f, list| format::list(StatusCode::OK, f, "service_requests", &list))
}

/// `GET /open311/v2/requests.json`: public reports as service requests, newest first, at most 1,000.
#[utoipa::path(get, path = "/open311/v2/requests.json", tag = "open311", operation_id = "open311_requests_json",
    params(RequestsQuery),
    responses(
        (status = 200, description = "The service requests", content_type = "application/json",
            body = Vec<requests::ServiceRequest>),
        (status = 400, description = "A malformed filter", content_type = "application/json", body = Vec<ErrorEntry>),
        (status = 404, description = "No comune has that ISTAT code", content_type = "application/json", body = Vec<ErrorEntry>)))]
async fn requests_json(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    requests_of(Format::Json, state, query).await
}

/// `GET /open311/v2/requests.xml`: public reports as service requests in XML.
#[utoipa::path(get, path = "/open311/v2/requests.xml", tag = "open311", operation_id = "open311_requests_xml",
    params(RequestsQuery),
    responses(
        (status = 200, description = "`<service_requests>`", content_type = "text/xml", body = String),
        (status = 400, description = "A malformed filter (`<errors>`)", content_type = "text/xml", body = String),
        (status = 404, description = "No comune has that ISTAT code (`<errors>`)", content_type = "text/xml", body = String)))]
async fn requests_xml(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    requests_of(Format::Xml, state, query).await
}

async fn submit_of(
    format: Format,
    state: AppState,
    headers: HeaderMap,
    query: Option<String>,
    body: Bytes,
) -> Response {
    let result = submit::submit(&state, format, &headers, query.as_deref(), &body).await;
    respond(format, result, |f, submitted| format::list(StatusCode::OK, f, "service_requests", &[submitted]))
}

/// `POST /open311/v2/requests.json`: files a report (a form with `api_key`, `service_code`, `lat`/`long` or
/// `address_string`, `description`, `attribute[code]`…).
#[utoipa::path(post, path = "/open311/v2/requests.json", tag = "open311", operation_id = "open311_submit_json",
    params(KeyQuery),
    request_body(content = submit::NewRequestForm, content_type = "application/x-www-form-urlencoded",
        description = "The request; besides these fields, the service's attributes as `attribute[code]=value` \
                       (`attribute[code][]=value` repeated for a multivaluelist)"),
    responses(
        (status = 200, description = "Filed", content_type = "application/json", body = Vec<submit::Submitted>),
        (status = 400, description = "A missing or invalid field, a point outside every comune, an unknown \
            service_code", content_type = "application/json", body = Vec<ErrorEntry>),
        (status = 403, description = "No valid api_key", content_type = "application/json", body = Vec<ErrorEntry>),
        (status = 404, description = "No comune has that ISTAT code", content_type = "application/json", body = Vec<ErrorEntry>)))]
async fn submit_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    submit_of(Format::Json, state, headers, query, body).await
}

/// `POST /open311/v2/requests.xml`: files a report; the answer in XML (`<service_requests><request>`).
#[utoipa::path(post, path = "/open311/v2/requests.xml", tag = "open311", operation_id = "open311_submit_xml",
    params(KeyQuery),
    request_body(content = submit::NewRequestForm, content_type = "application/x-www-form-urlencoded",
        description = "The request; besides these fields, the service's attributes as `attribute[code]=value` \
                       (`attribute[code][]=value` repeated for a multivaluelist)"),
    responses(
        (status = 200, description = "Filed (`<service_requests>`)", content_type = "text/xml", body = String),
        (status = 400, description = "A missing or invalid field (`<errors>`)", content_type = "text/xml", body = String),
        (status = 403, description = "No valid api_key (`<errors>`)", content_type = "text/xml", body = String),
        (status = 404, description = "No comune has that ISTAT code (`<errors>`)", content_type = "text/xml", body = String)))]
async fn submit_xml(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    submit_of(Format::Xml, state, headers, query, body).await
}

/// `GET /open311/v2/requests/{file}`: one public service request, as a list of one; `file` is `{id}.json` or
/// `{id}.xml`.
#[utoipa::path(get, path = "/open311/v2/requests/{file}", tag = "open311", operation_id = "open311_request",
    params(("file" = String, Path, description = "`{service_request_id}.json` or `{service_request_id}.xml`",
        example = "42.json"), JurisdictionQuery),
    responses(
        (status = 200, description = "The service request", content(
            (Vec<requests::ServiceRequest> = "application/json"), (String = "text/xml"))),
        (status = 400, description = "A malformed parameter", content(
            (Vec<ErrorEntry> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such public request, or format", content(
            (Vec<ErrorEntry> = "application/json"), (String = "text/xml")))))]
async fn request(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let (id, format) = match split(&file) {
        Ok(split) => split,
        Err(e) => return e.into_response(),
    };
    let result = async {
        Params::parse(format, query.as_deref(), None)?;
        requests::one(&state, format, id).await
    }
    .await;
    respond(format, result, |f, list| format::list(StatusCode::OK, f, "service_requests", &list))
}

/// `GET /open311/v2/tokens/{file}`: the request a token stands for (requests get their id at once here: the
/// token is the id); `file` is `{token}.json` or `{token}.xml`.
#[utoipa::path(get, path = "/open311/v2/tokens/{file}", tag = "open311", operation_id = "open311_token",
    params(("file" = String, Path, description = "`{token}.json` or `{token}.xml`", example = "42.xml"),
        JurisdictionQuery),
    responses(
        (status = 200, description = "The request's id", content(
            (Vec<requests::TokenAnswer> = "application/json"), (String = "text/xml"))),
        (status = 400, description = "A malformed parameter", content(
            (Vec<ErrorEntry> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such token, or format", content(
            (Vec<ErrorEntry> = "application/json"), (String = "text/xml")))))]
async fn token(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let (token, format) = match split(&file) {
        Ok(split) => split,
        Err(e) => return e.into_response(),
    };
    let result = async {
        Params::parse(format, query.as_deref(), None)?;
        requests::token(&state, format, token).await
    }
    .await;
    respond(format, result, |f, list| format::list(StatusCode::OK, f, "service_requests", &list))
}
