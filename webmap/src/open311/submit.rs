//! `POST requests.{json,xml}`: filing a report as GeoReport v2 and FixMyStreet's Open311 client write it — a form
//! body (`application/x-www-form-urlencoded`) with `api_key` (a Vedetta token, in the body or the query string),
//! `jurisdiction_id`, `service_code`, `lat`+`long` or `address_string` (geocoded through ANNCSU, the first
//! candidate), the reporter's `email`, `first_name`, `last_name`, `phone` (private: never in a public output),
//! `description`, `media_url` (recorded, never fetched) and the service's attributes as `attribute[code]=v` or,
//! for lists of several values, `attribute[code][]=v` repeated. `address_id`, `device_id` and `account_id` are
//! read and ignored.

use axum::http::{HeaderMap, header};
use geodata::geocoder::GeocodeQuery;
use reports::report::{NewReport, Reporter, ReporterType, Source};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::error::{Open311Error, Result};
use super::format::{Format, ToXml, Xml};
use super::params::Params;
use super::requests::parse_datetime;
use super::services::{self, Attribute, Datatype, geodata_error, jurisdiction};
use crate::AppState;

/// The answer to a filed request.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Submitted {
    /// The new request's id.
    #[schema(example = "42")]
    pub service_request_id: String,
    /// What happens next.
    pub service_notice: String,
    /// Always null: Vedetta does not link Open311 clients' accounts.
    pub account_id: Option<String>,
}

impl ToXml for Submitted {
    const ELEMENT: &'static str = "request";
    fn children(&self, x: &mut Xml) {
        x.text("service_request_id", &self.service_request_id);
        x.text("service_notice", &self.service_notice);
        x.opt("account_id", self.account_id.as_deref());
    }
}

/// The form fields of a request, for the OpenAPI document (the body is read with a form parser that keeps repeated
/// `attribute[code][]` keys, which a struct cannot describe).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct NewRequestForm {
    /// A Vedetta API token (also accepted in the query string).
    api_key: String,
    /// The comune's ISTAT code; empty or absent: the comune the point lies in.
    jurisdiction_id: Option<String>,
    /// The category code (see `services.json`).
    service_code: String,
    /// WGS84 latitude, degrees (with `long`).
    lat: Option<f64>,
    /// WGS84 longitude, degrees (with `lat`).
    long: Option<f64>,
    /// An address to geocode (ANNCSU) when `lat`/`long` are not given.
    address_string: Option<String>,
    /// Ignored.
    address_id: Option<String>,
    /// The reporter's email: private.
    email: Option<String>,
    /// Ignored.
    device_id: Option<String>,
    /// Ignored.
    account_id: Option<String>,
    /// The reporter's first name: private.
    first_name: Option<String>,
    /// The reporter's last name: private.
    last_name: Option<String>,
    /// The reporter's phone: private.
    phone: Option<String>,
    /// What the problem is (plain text, at most 4,000 characters).
    description: String,
    /// A picture elsewhere: recorded, never fetched.
    media_url: Option<String>,
}

/// Files the request the form describes.
pub(crate) async fn submit(
    state: &AppState,
    format: Format,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Submitted> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(Open311Error::bad(format, "the body must be a form (application/x-www-form-urlencoded)"));
    }
    let params = Params::parse(format, query, Some(body))?;

    // The key first: nothing is said about the rest of the request to a client without one.
    let Some(api_key) = params.get("api_key") else {
        return Err(Open311Error::forbidden(format, "api_key is required to file a service request"));
    };
    let caller = crate::auth::lookup(state.pool(), api_key)
        .await
        .map_err(|e| Open311Error::database(format, &e))?
        .ok_or_else(|| {
            Open311Error::forbidden(format, "api_key is not a valid token (unknown or revoked)")
        })?;

    // The hourly limit of the key's account, as on `POST /api/reports`: a citizen's own token is no way around
    // it. Tokens without an account (integrations an admin created, which forward many people's reports from one
    // server) and staff are not limited.
    let viewer = crate::reports::Viewer::of(Some(caller.clone()));
    if let Err(e) = crate::reports::rate_limit(state, &viewer, None).await {
        return Err(match e {
            crate::ApiError::TooManyRequests { detail, .. } => {
                Open311Error::new(axum::http::StatusCode::TOO_MANY_REQUESTS, format, detail)
            }
            other => Open311Error::internal(format, &other),
        });
    }

    let named = jurisdiction(state, format, &params).await?;
    let Some(service_code) = params.get("service_code") else {
        return Err(Open311Error::bad(format, "service_code is required (see services.xml)"));
    };
    let (lon, lat) =
        location(state, format, &params, named.as_ref().map(|(istat, _)| istat.as_str())).await?;

    // The comune of the point decides the catalogue (and must be the jurisdiction named, if any).
    let located = geodata::comune::at(state.pool(), lon, lat).await.map_err(|e| geodata_error(format, e))?;
    let Some(comune) = located else {
        return Err(Open311Error::bad(
            format,
            format!(
                "the point lat {lat}, long {lon} is outside every comune served here (at sea or beyond the \
                 territory); place it within a comune's boundary"
            ),
        ));
    };
    if let Some((istat, name)) = &named
        && *istat != comune.istat
    {
        return Err(Open311Error::bad(
            format,
            format!(
                "the point lies in {} ({}), not in the jurisdiction {name} ({istat})",
                comune.name, comune.istat
            ),
        ));
    }
    if !caller.access.may(reports::Action::File, &comune.istat) {
        return Err(Open311Error::forbidden(
            format,
            format!("this api_key may not file reports in {}", comune.name),
        ));
    }
    let catalogue = services::catalogue(state, format, Some(&comune.istat)).await?;
    let Some(category) = catalogue.iter().find(|c| c.code == service_code) else {
        let known: Vec<&str> = catalogue.iter().map(|c| c.code.as_str()).collect();
        return Err(Open311Error::bad(
            format,
            format!(
                "service_code `{}` is not a service of {}; one of {}",
                service_code.escape_debug(),
                comune.name,
                known.join(", ")
            ),
        ));
    };
    let attributes = answers(format, &services::attributes(category), &params)?;

    let name = [params.get("first_name"), params.get("last_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let new = NewReport {
        lon,
        lat,
        category: category.code.clone(),
        description: params.get("description").unwrap_or_default().to_string(),
        reporter_type: ReporterType::Citizen,
        people_at_risk: false,
        reporter: Reporter {
            name: (!name.is_empty()).then_some(name),
            email: params.get("email").map(str::to_string),
            phone: params.get("phone").map(str::to_string),
            account_id: None,
        },
        anonymous: false,
        attributes,
        media_url: params.get("media_url").map(str::to_string),
        source: Source::Open311,
        photos: Vec::new(),
        jurisdiction: Some(comune.istat.clone()),
    };
    let created = reports::report::create(state.pool(), state.geocoder(), new)
        .await
        .map_err(|e| super::reports_error(format, e))?;
    let report = &created.report;
    tracing::info!(report = report.public.id, client = %caller.name, "Open311 service request filed.");
    let service_notice = if report.is_public() {
        format!(
            "Segnalazione {} ricevuta dal Comune di {}: sarà presa in carico. Report received; the comune will take it in charge.",
            report.public.id, report.public.comune_name
        )
    } else {
        format!(
            "Segnalazione {} ricevuta dal Comune di {}: sarà pubblicata dopo la verifica. Report received; it will be public once moderated.",
            report.public.id, report.public.comune_name
        )
    };
    Ok(Submitted { service_request_id: report.public.id.to_string(), service_notice, account_id: None })
}

/// The point of the request: `lat` and `long`, else the first candidate of `address_string` (in the jurisdiction,
/// when one is named).
async fn location(
    state: &AppState,
    format: Format,
    params: &Params,
    comune: Option<&str>,
) -> Result<(f64, f64)> {
    let coordinate = |name: &str, value: &str, max: f64| {
        value.parse::<f64>().ok().filter(|v| v.is_finite() && v.abs() <= max).ok_or_else(|| {
            Open311Error::bad(
                format,
                format!("{name} `{}` is not a number from -{max} to {max}", value.escape_debug()),
            )
        })
    };
    match (params.get("lat"), params.get("long")) {
        (Some(lat), Some(lon)) => Ok((coordinate("long", lon, 180.0)?, coordinate("lat", lat, 90.0)?)),
        (Some(_), None) | (None, Some(_)) => {
            Err(Open311Error::bad(format, "lat and long go together: give both, or address_string"))
        }
        (None, None) => {
            let Some(address) = params.get("address_string") else {
                return Err(Open311Error::bad(
                    format,
                    "a location is required: lat and long, or address_string",
                ));
            };
            if address.chars().count() > geodata::geocoder::MAX_QUERY_CHARS {
                return Err(Open311Error::bad(
                    format,
                    format!(
                        "address_string is longer than {} characters",
                        geodata::geocoder::MAX_QUERY_CHARS
                    ),
                ));
            }
            let query =
                GeocodeQuery { q: address.to_string(), comune: comune.map(str::to_string), limit: Some(1) };
            let found = state.geocoder().search(&query).await.map_err(|e| geodata_error(format, e))?;
            let first = found.first().ok_or_else(|| {
                Open311Error::bad(
                    format,
                    format!(
                        "address_string `{}` matches no address known here (ANNCSU)",
                        address.escape_debug()
                    ),
                )
            })?;
            Ok((first.lon, first.lat))
        }
    }
}

/// The answers `attribute[code]=v` and `attribute[code][]=v` of the form, checked against the service's
/// attributes: every required one answered, numbers and dates readable, list values among the keys. Answers to
/// codes the service does not have are left out.
fn answers(format: Format, definitions: &[Attribute], params: &Params) -> Result<Map<String, Value>> {
    let mut given: Vec<(String, bool, String)> = Vec::new();
    for (key, value) in params.iter() {
        let Some(rest) = key.strip_prefix("attribute[") else { continue };
        let (code, multi) = if let Some(code) = rest.strip_suffix("][]") {
            (code, true)
        } else if let Some(code) = rest.strip_suffix(']') {
            (code, false)
        } else {
            return Err(Open311Error::bad(
                format,
                format!("`{}` is not attribute[code] nor attribute[code][]", key.escape_debug()),
            ));
        };
        if code.is_empty() || code.contains(['[', ']']) {
            return Err(Open311Error::bad(
                format,
                format!("`{}` names no attribute code", key.escape_debug()),
            ));
        }
        let value = value.trim();
        if !value.is_empty() {
            given.push((code.to_string(), multi, value.to_string()));
        }
    }
    let mut out = Map::new();
    for def in definitions {
        let values: Vec<&str> =
            given.iter().filter(|(c, _, _)| *c == def.code).map(|(_, _, v)| v.as_str()).collect();
        let bad = |why: String| Open311Error::bad(format, format!("attribute[{}] {why}", def.code));
        if values.is_empty() {
            if def.required && def.variable {
                let question = if def.description.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", def.description)
                };
                return Err(bad(format!("is required{question}")));
            }
            continue;
        }
        let keys = || def.values.iter().map(|v| v.key.as_str()).collect::<Vec<_>>().join(", ");
        let in_list = |v: &str| def.values.iter().any(|k| k.key == v);
        let value = match def.datatype {
            Datatype::Multivaluelist => {
                if let Some(v) = values.iter().find(|v| !in_list(v)) {
                    return Err(bad(format!("`{}` is not one of {}", v.escape_debug(), keys())));
                }
                let mut unique: Vec<Value> = Vec::new();
                for v in values {
                    if !unique.iter().any(|u| u == v) {
                        unique.push(Value::String(v.to_string()));
                    }
                }
                Value::Array(unique)
            }
            _ if values.len() > 1 => return Err(bad("takes one value".to_string())),
            Datatype::Singlevaluelist => {
                if !in_list(values[0]) {
                    return Err(bad(format!("`{}` is not one of {}", values[0].escape_debug(), keys())));
                }
                Value::String(values[0].to_string())
            }
            Datatype::Number => {
                let n = values[0]
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .and_then(serde_json::Number::from_f64)
                    .ok_or_else(|| bad(format!("`{}` is not a number", values[0].escape_debug())))?;
                Value::Number(n)
            }
            Datatype::Datetime => {
                let t = parse_datetime(format, &format!("attribute[{}]", def.code), values[0])?;
                Value::String(super::format::datetime(t))
            }
            Datatype::String | Datatype::Text => Value::String(values[0].to_string()),
        };
        out.insert(def.code.clone(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::services::AttributeValue;
    use super::*;

    fn def(code: &str, datatype: Datatype, required: bool, values: &[&str]) -> Attribute {
        Attribute {
            variable: true,
            code: code.into(),
            datatype,
            required,
            datatype_description: None,
            order: 1,
            description: format!("the {code}"),
            values: values
                .iter()
                .map(|k| AttributeValue { key: k.to_string(), name: k.to_uppercase() })
                .collect(),
        }
    }

    fn form(body: &str) -> Params {
        Params::parse(Format::Xml, None, Some(body.as_bytes())).unwrap()
    }

    #[test]
    fn attributes_are_read_and_checked_against_the_service() {
        let defs = [
            def("depth", Datatype::Number, true, &[]),
            def("lane", Datatype::Singlevaluelist, false, &["left", "right"]),
            def("hazards", Datatype::Multivaluelist, false, &["ice", "oil", "glass"]),
            def("note", Datatype::Text, false, &[]),
        ];
        let ok = answers(
            Format::Xml,
            &defs,
            &form("attribute[depth]=12.5&attribute[lane]=left&attribute%5Bhazards%5D%5B%5D=ice&attribute[hazards][]=oil&attribute[other]=x"),
        )
        .unwrap();
        assert_eq!(
            Value::Object(ok),
            serde_json::json!({"depth": 12.5, "lane": "left", "hazards": ["ice", "oil"]})
        );
        let missing = answers(Format::Xml, &defs, &form("attribute[lane]=left")).unwrap_err();
        assert!(missing.description.contains("attribute[depth] is required"), "{}", missing.description);
        assert!(answers(Format::Xml, &defs, &form("attribute[depth]=deep")).is_err());
        assert!(answers(Format::Xml, &defs, &form("attribute[depth]=1&attribute[lane]=middle")).is_err());
        assert!(answers(Format::Xml, &defs, &form("attribute[depth]=1&attribute[hazards][]=fire")).is_err());
        assert!(answers(Format::Xml, &defs, &form("attribute[depth]=1&attribute[depth]=2")).is_err());
        assert!(answers(Format::Xml, &defs, &form("attribute[depth=1")).is_err());
    }
}
