//! `GET services.{json,xml}` and `GET services/{code}.{json,xml}`: the categories of reports of a jurisdiction
//! (a comune, by ISTAT code) as Open311 services, and a service's definition (its attributes).
//!
//! Without `jurisdiction_id` (or with an empty one) the answer is the default catalogue, which every comune offers
//! unless it withdrew a category.

use reports::category::Category;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{Open311Error, Result};
use super::format::{Format, ToXml, Xml};
use super::params::Params;
use crate::AppState;

/// A service of the list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Service {
    /// The category code (`buca_stradale`).
    #[schema(example = "buca_stradale")]
    pub service_code: String,
    /// Its Italian name.
    #[schema(example = "Buca stradale")]
    pub service_name: String,
    pub description: String,
    /// Whether the service has attributes (read them at `services/{code}.json`).
    pub metadata: bool,
    /// `realtime`: a request gets its id at once.
    #[serde(rename = "type")]
    #[schema(example = "realtime")]
    pub kind: &'static str,
    /// Comma-separated.
    #[schema(example = "buca, asfalto, strada")]
    pub keywords: String,
    #[schema(example = "strade")]
    pub group: String,
}

impl ToXml for Service {
    const ELEMENT: &'static str = "service";
    fn children(&self, x: &mut Xml) {
        x.text("service_code", &self.service_code);
        x.text("service_name", &self.service_name);
        x.text("description", &self.description);
        x.flag("metadata", self.metadata);
        x.text("type", self.kind);
        x.text("keywords", &self.keywords);
        x.text("group", &self.group);
    }
}

/// A service's definition: what a request for it must or may say besides the standard fields.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServiceDefinition {
    pub service_code: String,
    pub attributes: Vec<Attribute>,
}

impl ToXml for ServiceDefinition {
    const ELEMENT: &'static str = "service_definition";
    fn children(&self, x: &mut Xml) {
        x.text("service_code", &self.service_code);
        x.open("attributes");
        for a in &self.attributes {
            x.open("attribute");
            x.flag("variable", a.variable);
            x.text("code", &a.code);
            x.text("datatype", a.datatype.as_str());
            x.flag("required", a.required);
            x.opt("datatype_description", a.datatype_description.as_deref());
            x.text("order", &a.order.to_string());
            x.text("description", &a.description);
            x.open("values");
            for v in &a.values {
                x.open("value");
                x.text("key", &v.key);
                x.text("name", &v.name);
                x.close("value");
            }
            x.close("values");
            x.close("attribute");
        }
        x.close("attributes");
    }
}

/// An attribute of a service (an extra question).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Attribute {
    /// `true`: the client asks the user; `false`: information only.
    pub variable: bool,
    /// The key of `attribute[code]` in a request.
    pub code: String,
    pub datatype: Datatype,
    pub required: bool,
    pub datatype_description: Option<String>,
    /// Where to show it among the others (from 1).
    pub order: i64,
    /// The question.
    pub description: String,
    /// The choices of a `singlevaluelist` or `multivaluelist`.
    pub values: Vec<AttributeValue>,
}

/// A choice of a list attribute.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct AttributeValue {
    pub key: String,
    pub name: String,
}

/// The kind of an attribute's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Datatype {
    String,
    Number,
    Datetime,
    Text,
    Singlevaluelist,
    Multivaluelist,
}

impl Datatype {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Datatype::String => "string",
            Datatype::Number => "number",
            Datatype::Datetime => "datetime",
            Datatype::Text => "text",
            Datatype::Singlevaluelist => "singlevaluelist",
            Datatype::Multivaluelist => "multivaluelist",
        }
    }
}

/// An attribute as the catalogue stores it (`reports.category.attributes`): lenient, with defaults.
#[derive(Debug, Deserialize)]
struct Stored {
    code: String,
    #[serde(default = "string_type")]
    datatype: Datatype,
    #[serde(default)]
    required: bool,
    #[serde(default = "yes")]
    variable: bool,
    #[serde(default)]
    datatype_description: Option<String>,
    #[serde(default)]
    order: Option<i64>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    values: Vec<StoredValue>,
}

/// A list choice as stored: keys may be written as numbers.
#[derive(Debug, Deserialize)]
struct StoredValue {
    key: Value,
    #[serde(default)]
    name: String,
}

fn string_type() -> Datatype {
    Datatype::String
}

fn yes() -> bool {
    true
}

/// The attributes of a category, in their order. An entry the catalogue holds that is not an Open311 attribute
/// (an administrator's typo) is left out and logged, not served half-read.
pub(crate) fn attributes(category: &Category) -> Vec<Attribute> {
    let Value::Array(items) = &category.attributes else { return Vec::new() };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match serde_json::from_value::<Stored>(item.clone()) {
            Ok(s) if !s.code.trim().is_empty() => out.push(Attribute {
                variable: s.variable,
                code: s.code,
                datatype: s.datatype,
                required: s.required,
                datatype_description: s.datatype_description.filter(|d| !d.is_empty()),
                order: s.order.unwrap_or(i as i64 + 1),
                description: s.description,
                values: s
                    .values
                    .into_iter()
                    .map(|v| AttributeValue {
                        key: match v.key {
                            Value::String(s) => s,
                            other => other.to_string(),
                        },
                        name: v.name,
                    })
                    .collect(),
            }),
            Ok(_) | Err(_) => {
                tracing::warn!(category = %category.code, index = i, "A stored Open311 attribute is unreadable; it is not served.");
            }
        }
    }
    out.sort_by_key(|a| a.order);
    out
}

impl Service {
    pub(crate) fn of(c: &Category) -> Service {
        Service {
            service_code: c.code.clone(),
            service_name: c.name_it.clone(),
            description: if c.description.is_empty() { c.name_en.clone() } else { c.description.clone() },
            metadata: !attributes(c).is_empty(),
            kind: "realtime",
            keywords: c.keywords.join(", "),
            group: c.group.clone(),
        }
    }
}

/// The ISTAT code and name of the jurisdiction `jurisdiction_id` names: `None` when it is absent or empty (the
/// default catalogue); 404 when no comune has that code.
pub(crate) async fn jurisdiction(
    state: &AppState,
    format: Format,
    params: &Params,
) -> Result<Option<(String, String)>> {
    let Some(id) = params.get("jurisdiction_id") else { return Ok(None) };
    let unknown = || {
        Open311Error::not_found(
            format,
            format!("jurisdiction_id `{}` is not the ISTAT code of a comune served here", id.escape_debug()),
        )
    };
    if id.len() != 6 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unknown());
    }
    let comuni = geodata::comune::list(state.pool()).await.map_err(|e| geodata_error(format, e))?;
    comuni.into_iter().find(|c| c.istat == id).map(|c| Some((c.istat, c.name))).ok_or_else(unknown)
}

/// The services of a jurisdiction (`None`: the default catalogue).
pub(crate) async fn catalogue(
    state: &AppState,
    format: Format,
    comune: Option<&str>,
) -> Result<Vec<Category>> {
    // No comune has the empty code: the effective catalogue of "" is the default one.
    reports::category::categories(state.pool(), comune.unwrap_or(""))
        .await
        .map_err(|e| super::reports_error(format, e))
}

/// `GET services.{format}`.
pub(crate) async fn list(state: &AppState, format: Format, params: &Params) -> Result<Vec<Service>> {
    let comune = jurisdiction(state, format, params).await?;
    let categories = catalogue(state, format, comune.as_ref().map(|(istat, _)| istat.as_str())).await?;
    Ok(categories.iter().map(Service::of).collect())
}

/// `GET services/{code}.{format}`.
pub(crate) async fn definition(
    state: &AppState,
    format: Format,
    code: &str,
    params: &Params,
) -> Result<ServiceDefinition> {
    let comune = jurisdiction(state, format, params).await?;
    let categories = catalogue(state, format, comune.as_ref().map(|(istat, _)| istat.as_str())).await?;
    let category = categories.iter().find(|c| c.code == code).ok_or_else(|| {
        let place = match &comune {
            Some((_, name)) => format!("in {name}"),
            None => "in the default catalogue".to_string(),
        };
        Open311Error::not_found(
            format,
            format!("service_code `{}` is not a service {place}", code.escape_debug()),
        )
    })?;
    Ok(ServiceDefinition { service_code: category.code.clone(), attributes: attributes(category) })
}

pub(crate) fn geodata_error(format: Format, e: geodata::Error) -> Open311Error {
    match e {
        geodata::Error::Database(db) => Open311Error::database(format, &db),
        other => Open311Error::internal(format, &other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn category(attributes: Value) -> Category {
        Category {
            code: "buca_stradale".into(),
            name_it: "Buca stradale".into(),
            name_en: "Pothole".into(),
            description: String::new(),
            group: "strade".into(),
            keywords: vec!["buca".into(), "asfalto".into()],
            attributes,
            active: true,
            own: false,
        }
    }

    #[test]
    fn stored_attributes_become_open311_attributes_in_order() {
        let c = category(json!([
            {"code": "depth", "datatype": "number", "required": true, "description": "Profondità (cm)", "order": 2},
            {"code": "lane", "datatype": "singlevaluelist", "description": "Corsia", "order": 1,
             "values": [{"key": 1, "name": "Destra"}, {"key": "s", "name": "Sinistra"}]},
            {"datatype": "string"},
            {"code": "x", "datatype": "colour"}
        ]));
        let a = attributes(&c);
        assert_eq!(a.len(), 2, "the entries without a code or with an unknown datatype are left out");
        assert_eq!(a[0].code, "lane");
        assert_eq!(a[0].values[0].key, "1");
        assert_eq!(a[1].datatype, Datatype::Number);
        assert!(a[1].required && a[1].variable);
        let s = Service::of(&c);
        assert!(s.metadata);
        assert_eq!(s.keywords, "buca, asfalto");
        assert_eq!(s.description, "Pothole");
        assert!(!Service::of(&category(json!([]))).metadata);
    }
}
