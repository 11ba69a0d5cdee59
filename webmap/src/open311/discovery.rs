//! `GET /open311/v2/discovery.{json,xml}`: the Service Discovery document (http://wiki.open311.org/Service_Discovery):
//! where the GeoReport v2 endpoint is, which formats it speaks, whom to ask for an API key.

use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::format::{self, Format, ToXml, Xml};
use crate::AppState;

/// When this endpoint's description (the spec version, the formats, the URL scheme) last changed.
const CHANGESET: &str = "2026-11-29T00:00:00+00:00";

/// The Service Discovery document.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Discovery {
    /// When the document last changed (sortable).
    changeset: &'static str,
    /// Whom to contact about the API.
    contact: String,
    /// How to get an API key (a Vedetta token).
    key_service: String,
    endpoints: Vec<Endpoint>,
}

/// One API endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Endpoint {
    /// `http://wiki.open311.org/GeoReport_v2`.
    specification: &'static str,
    /// The base URL; resources are `{url}/services.xml` and so on.
    url: String,
    changeset: &'static str,
    /// `production`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// `text/xml` and `application/json`.
    formats: Vec<&'static str>,
}

impl ToXml for Discovery {
    const ELEMENT: &'static str = "discovery";
    fn children(&self, x: &mut Xml) {
        x.text("changeset", self.changeset);
        x.text("contact", &self.contact);
        x.text("key_service", &self.key_service);
        x.open("endpoints");
        for e in &self.endpoints {
            x.open("endpoint");
            x.text("specification", e.specification);
            x.text("url", &e.url);
            x.text("changeset", e.changeset);
            x.text("type", e.kind);
            x.open("formats");
            for f in &e.formats {
                x.text("format", f);
            }
            x.close("formats");
            x.close("endpoint");
        }
        x.close("endpoints");
    }
}

/// The document for this installation.
pub(crate) fn document(state: &AppState) -> Discovery {
    let base = state.public_url();
    Discovery {
        changeset: CHANGESET,
        contact: format!("The civil protection office running Vedetta at {base}"),
        key_service:
            "api_key is a Vedetta API token: the administrator issues one with `vedetta tokens create` \
                      or POST /api/tokens"
                .into(),
        endpoints: vec![Endpoint {
            specification: "http://wiki.open311.org/GeoReport_v2",
            url: format!("{base}/open311/v2"),
            changeset: CHANGESET,
            kind: "production",
            formats: vec!["text/xml", "application/json"],
        }],
    }
}

pub(crate) fn answer(format: Format, state: &AppState) -> Response {
    format::one(format, &document(state))
}
