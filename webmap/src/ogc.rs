//! OGC API – Features (Part 1 core, GeoJSON, HTML; Part 2 CRS) at `/ogc`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use geodata::features::{self, Collection, Crs, ItemsQuery};
use serde_json::{Value, json};

use crate::{ApiError, AppState};

const CONFORMANCE: [&str; 5] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
];
const DEFAULT_LIMIT: i64 = 10;
const MAX_LIMIT: i64 = 10_000;

/// `https://public.example/ogc`: from the configured public URL, never from request headers.
fn base(state: &AppState) -> String {
    format!("{}/ogc", state.public_url())
}

/// HTML when asked with `f=html`, or by a browser (an Accept header that names text/html) without `f`.
fn wants_html(headers: &HeaderMap, params: &BTreeMap<String, String>) -> Result<bool, ApiError> {
    match params.get("f").map(String::as_str) {
        Some("html") => Ok(true),
        Some("json") | Some("geojson") => Ok(false),
        Some(other) => Err(ApiError::BadRequest(format!("f={other}: the formats are json and html"))),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))),
    }
}

fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({ "href": href, "rel": rel, "type": kind, "title": title })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html><html lang=\"it\"><head><meta charset=\"utf-8\"><title>{t} – Vedetta</title>\
         <link rel=\"stylesheet\" href=\"/assets/vedetta.css\"></head><body><header><h1>Vedetta</h1>\
         <small>OGC API – Features</small></header><main><h2>{t}</h2>{body}</main></body></html>",
        t = escape(title)
    ))
    .into_response()
}

/// `GET /ogc/`: the landing page.
pub(crate) async fn landing(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let base = base(&state);
    let links = vec![
        link(format!("{base}/?f=json"), "self", "application/json", "questo documento / this document"),
        link(format!("{base}/?f=html"), "alternate", "text/html", "HTML"),
        link(format!("{base}/conformance"), "conformance", "application/json", "conformità / conformance"),
        link(format!("{base}/collections"), "data", "application/json", "collezioni / collections"),
        link(
            format!("{base}/api"),
            "service-desc",
            "application/vnd.oai.openapi+json;version=3.0",
            "OpenAPI",
        ),
    ];
    if wants_html(&headers, &params)? {
        return Ok(page(
            "Vedetta – dati territoriali",
            &format!(
                "<p><a href=\"{base}/collections?f=html\">Collezioni / collections</a> · <a href=\"{base}/conformance\">conformance</a></p>"
            ),
        ));
    }
    Ok(axum::Json(json!({
        "title": "Vedetta",
        "description": "Dati territoriali e sensori della federazione / territorial and sensor data",
        "links": links
    }))
    .into_response())
}

/// `GET /ogc/conformance`.
pub(crate) async fn conformance() -> axum::Json<Value> {
    axum::Json(json!({ "conformsTo": CONFORMANCE }))
}

/// `GET /ogc/api`: a minimal OpenAPI description of the paths.
pub(crate) async fn api(State(state): State<AppState>) -> Response {
    let base = base(&state);
    let doc = json!({
        "openapi": "3.0.3",
        "info": { "title": "Vedetta OGC API – Features", "version": env!("CARGO_PKG_VERSION") },
        "servers": [{ "url": base }],
        "paths": {
            "/": { "get": { "summary": "Landing page", "responses": { "200": { "description": "OK" } } } },
            "/conformance": { "get": { "summary": "Conformance", "responses": { "200": { "description": "OK" } } } },
            "/collections": { "get": { "summary": "Collections", "responses": { "200": { "description": "OK" } } } },
            "/collections/{collectionId}": { "get": { "summary": "A collection", "responses": { "200": { "description": "OK" } } } },
            "/collections/{collectionId}/items": { "get": { "summary": "Features", "responses": { "200": { "description": "OK" } } } },
            "/collections/{collectionId}/items/{featureId}": { "get": { "summary": "A feature", "responses": { "200": { "description": "OK" } } } }
        }
    });
    ([(header::CONTENT_TYPE, "application/vnd.oai.openapi+json;version=3.0")], doc.to_string())
        .into_response()
}

fn collection_json(base: &str, c: &Collection) -> Value {
    let mut extent = serde_json::Map::new();
    if let Some(bbox) = c.bbox {
        extent.insert("spatial".into(), json!({ "bbox": [bbox], "crs": features::CRS[0].0 }));
    }
    if let Some((start, end)) = &c.interval {
        extent.insert("temporal".into(), json!({ "interval": [[start, end]] }));
    }
    json!({
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "extent": extent,
        "crs": features::CRS.iter().map(|(u, _)| *u).collect::<Vec<_>>(),
        "storageCrs": features::CRS[0].0,
        "links": [
            link(format!("{base}/collections/{}", c.id), "self", "application/json", &c.title),
            link(format!("{base}/collections/{}/items?f=json", c.id), "items", "application/geo+json", "GeoJSON"),
            link(format!("{base}/collections/{}/items?f=html", c.id), "items", "text/html", "HTML"),
        ]
    })
}

/// `GET /ogc/collections`.
pub(crate) async fn collections(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let base = base(&state);
    let all = features::collections(state.pool()).await?;
    if wants_html(&headers, &params)? {
        let rows: String = all
            .iter()
            .map(|c| {
                format!(
                    "<tr><td><a href=\"{base}/collections/{id}/items?f=html\">{t}</a></td><td>{d}</td></tr>",
                    id = escape(&c.id),
                    t = escape(&c.title),
                    d = escape(&c.description)
                )
            })
            .collect();
        return Ok(page("Collezioni / Collections", &format!("<table>{rows}</table>")));
    }
    Ok(axum::Json(json!({
        "links": [link(format!("{base}/collections"), "self", "application/json", "collections")],
        "collections": all.iter().map(|c| collection_json(&base, c)).collect::<Vec<_>>()
    }))
    .into_response())
}

async fn find(state: &AppState, id: &str) -> Result<Collection, ApiError> {
    features::collection(state.pool(), id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no collection `{id}`")))
}

/// `GET /ogc/collections/{id}`.
pub(crate) async fn collection(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let c = find(&state, &id).await?;
    Ok(axum::Json(collection_json(&base(&state), &c)))
}

fn parse_crs(params: &BTreeMap<String, String>, key: &str) -> Result<Option<Crs>, ApiError> {
    params
        .get(key)
        .map(|uri| {
            features::crs(uri)
                .ok_or_else(|| ApiError::BadRequest(format!("{key} {uri} is not a supported CRS")))
        })
        .transpose()
}

/// `datetime` as an instant (RFC 3339); intervals are not supported yet and say so.
fn instant(params: &BTreeMap<String, String>) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    params
        .get("datetime")
        .map(|d| {
            chrono::DateTime::parse_from_rfc3339(d).map(|t| t.with_timezone(&chrono::Utc)).map_err(|_| {
                ApiError::BadRequest(format!(
                    "datetime={d}: give an instant such as 2026-01-01T00:00:00Z (intervals are not supported)"
                ))
            })
        })
        .transpose()
}

fn geojson(body: Value, crs: Option<&str>) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "application/geo+json")], body.to_string()).into_response();
    if let Some(uri) = crs.and_then(|u| HeaderValue::from_str(&format!("<{u}>")).ok()) {
        response.headers_mut().insert("content-crs", uri);
    }
    response
}

/// `GET /ogc/collections/{id}/items?bbox=&bbox-crs=&crs=&limit=&offset=&datetime=&<property>=<value>`.
pub(crate) async fn items(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let c = find(&state, &id).await?;
    let html = wants_html(&headers, &params)?;
    let number = |key: &str, default: i64| -> Result<i64, ApiError> {
        params.get(key).map_or(Ok(default), |v| {
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::BadRequest(format!("{key}={v} is not a whole number ≥ 0")))
        })
    };
    let limit = number("limit", DEFAULT_LIMIT)?.clamp(1, MAX_LIMIT);
    let offset = number("offset", 0)?;
    let bbox = params
        .get("bbox")
        .map(|b| {
            let v: Vec<f64> = b.split(',').filter_map(|x| x.trim().parse().ok()).collect();
            match v.as_slice() {
                [a, b, c, d] => Ok([*a, *b, *c, *d]),
                _ => Err(ApiError::BadRequest(format!("bbox={b} must be minx,miny,maxx,maxy"))),
            }
        })
        .transpose()?;
    const RESERVED: [&str; 8] = ["f", "bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "sortby"];
    let at = instant(&params)?;
    let query = ItemsQuery {
        bbox,
        bbox_crs: parse_crs(&params, "bbox-crs")?,
        crs: parse_crs(&params, "crs")?,
        properties: params
            .iter()
            .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        at,
        limit,
        offset,
    };
    let (found, matched) = features::items(state.pool(), &c, &query).await?;
    let base = base(&state);
    let page_url = |offset: i64, f: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params {
            if !matches!(k.as_str(), "f" | "limit" | "offset") {
                q.append_pair(k, v);
            }
        }
        q.append_pair("f", f)
            .append_pair("limit", &limit.to_string())
            .append_pair("offset", &offset.to_string());
        format!("{base}/collections/{id}/items?{}", q.finish())
    };
    if html {
        let rows: String = found
            .iter()
            .map(|f| {
                format!(
                    "<tr><td><a href=\"{base}/collections/{id}/items/{fid}?f=html\">{fid}</a></td><td><code>{p}</code></td></tr>",
                    fid = escape(f["id"].as_str().unwrap_or_default()),
                    p = escape(&f["properties"].to_string())
                )
            })
            .collect();
        let next = if offset + limit < matched {
            format!("<p><a href=\"{}\">successivi / next</a></p>", escape(&page_url(offset + limit, "html")))
        } else {
            String::new()
        };
        return Ok(page(
            &c.title,
            &format!("<p>{matched} elementi / features</p><table>{rows}</table>{next}"),
        ));
    }
    let mut links = vec![
        link(page_url(offset, "json"), "self", "application/geo+json", "this page"),
        link(page_url(offset, "html"), "alternate", "text/html", "HTML"),
        link(format!("{base}/collections/{id}"), "collection", "application/json", &c.title),
    ];
    if offset + limit < matched {
        links.push(link(page_url(offset + limit, "json"), "next", "application/geo+json", "next page"));
    }
    if offset > 0 {
        links.push(link(
            page_url((offset - limit).max(0), "json"),
            "prev",
            "application/geo+json",
            "previous page",
        ));
    }
    let body = json!({
        "type": "FeatureCollection",
        "features": found,
        "numberMatched": matched,
        "numberReturned": found.len(),
        "timeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "links": links
    });
    Ok(geojson(body, params.get("crs").map(String::as_str).or(Some(features::CRS[0].0))))
}

/// `GET /ogc/collections/{id}/items/{featureId}`.
pub(crate) async fn item(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, fid)): Path<(String, String)>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let c = find(&state, &id).await?;
    let crs = parse_crs(&params, "crs")?;
    let mut feature = features::item(state.pool(), &c, &fid, crs, instant(&params)?)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no feature `{fid}` in `{id}`")))?;
    if wants_html(&headers, &params)? {
        return Ok(page(
            &format!("{} – {fid}", c.title),
            &format!("<pre>{}</pre>", escape(&feature.to_string())),
        ));
    }
    let base = base(&state);
    feature["links"] = json!([
        link(format!("{base}/collections/{id}/items/{fid}"), "self", "application/geo+json", "this feature"),
        link(format!("{base}/collections/{id}"), "collection", "application/json", &c.title),
    ]);
    Ok(geojson(feature, params.get("crs").map(String::as_str).or(Some(features::CRS[0].0))))
}
