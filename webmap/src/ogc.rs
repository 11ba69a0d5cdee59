//! OGC API – Features (Part 1 core, GeoJSON, HTML; Part 2 CRS) at `/ogc`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use geodata::features::{self, Catalog, Collection, Crs, ItemsQuery, Layer};
use serde_json::{Value, json};

use crate::{ApiError, AppState};

const CONFORMANCE: [&str; 5] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
];

/// The catalog of collections (extents cached until the data changes) of the database `state` serves.
fn catalog(state: &AppState) -> Arc<Catalog> {
    state.catalog().clone()
}

/// A path segment, percent-encoded (everything but RFC 3986's unreserved characters).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

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

/// Text made safe for HTML, in element content and in quoted attribute values alike.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
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
#[utoipa::path(get, path = "/ogc", tag = "ogc",
    params(("f" = Option<crate::schema::Format>, Query, description = "`json` or `html`")),
    responses((status = 200, description = "Landing page", content(
        (crate::schema::Document = "application/json"), (String = "text/html")))))]
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
                "<p><a href=\"{base}/collections?f=html\">Collezioni / collections</a> · <a href=\"{base}/conformance\">conformance</a></p>",
                base = escape(&base)
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
#[utoipa::path(get, path = "/ogc/conformance", tag = "ogc",
    responses((status = 200, description = "Conformance classes", body = crate::schema::Document)))]
pub(crate) async fn conformance() -> axum::Json<Value> {
    axum::Json(json!({ "conformsTo": CONFORMANCE }))
}

/// `GET /ogc/api`: a minimal OpenAPI description of the paths.
#[utoipa::path(get, path = "/ogc/api", tag = "ogc",
    responses((status = 200, description = "The OGC API's own OpenAPI description",
        content_type = "application/vnd.oai.openapi+json;version=3.0", body = crate::schema::Document)))]
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
        "id": c.layer.id,
        "title": c.layer.title,
        "description": c.description,
        "itemType": "feature",
        "extent": extent,
        "crs": features::CRS.iter().map(|(u, _)| *u).collect::<Vec<_>>(),
        "storageCrs": features::CRS[0].0,
        "links": [
            link(format!("{base}/collections/{}", segment(&c.layer.id)), "self", "application/json", &c.layer.title),
            link(format!("{base}/collections/{}/items?f=json", segment(&c.layer.id)), "items", "application/geo+json", "GeoJSON"),
            link(format!("{base}/collections/{}/items?f=html", segment(&c.layer.id)), "items", "text/html", "HTML"),
        ]
    })
}

/// `GET /ogc/collections`.
#[utoipa::path(get, path = "/ogc/collections", tag = "ogc",
    params(("f" = Option<crate::schema::Format>, Query, description = "`json` or `html`")),
    responses((status = 200, description = "The collections", content(
        (crate::schema::Document = "application/json"), (String = "text/html")))))]
pub(crate) async fn collections(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let base = base(&state);
    let html = wants_html(&headers, &params)?;
    let all = catalog(&state).collections(state.pool()).await.map_err(ApiError::from)?;
    if html {
        let rows: String = all
            .iter()
            .map(|c| {
                format!(
                    "<tr><td><a href=\"{href}\">{t}</a></td><td>{d}</td></tr>",
                    href = escape(&format!("{base}/collections/{}/items?f=html", segment(&c.layer.id))),
                    t = escape(&c.layer.title),
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

fn no_collection(id: &str) -> ApiError {
    ApiError::NotFound(format!("no collection {:?}", id.chars().take(100).collect::<String>()))
}

/// The collection `id`, for its items (no extent needed).
async fn find(state: &AppState, id: &str) -> Result<Layer, ApiError> {
    features::layer(state.pool(), id).await.map_err(ApiError::from)?.ok_or_else(|| no_collection(id))
}

/// `GET /ogc/collections/{id}`.
#[utoipa::path(get, path = "/ogc/collections/{id}", tag = "ogc",
    params(("id" = String, Path, description = "Collection id, e.g. `comuni`, `dbt-TP_IDRO`", example = "comuni")),
    responses((status = 200, description = "The collection", body = crate::schema::Document)))]
pub(crate) async fn collection(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let c = catalog(&state)
        .collection(state.pool(), &id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| no_collection(&id))?;
    Ok(axum::Json(collection_json(&base(&state), &c)))
}

fn parse_crs(params: &BTreeMap<String, String>, key: &str) -> Result<Option<Crs>, ApiError> {
    params
        .get(key)
        .map(|uri| {
            features::crs(uri).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "{key} {uri:?} is not a supported CRS (the collections list the ones served)"
                ))
            })
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
                    "datetime={d:?}: give an instant such as 2026-01-01T00:00:00Z (intervals are not supported)"
                ))
            })
        })
        .transpose()
}

/// The URI of a served CRS (CRS84 when none was asked for).
fn crs_uri(crs: Option<Crs>) -> &'static str {
    let crs = crs.unwrap_or(features::CRS[0].1);
    features::CRS.iter().find(|(_, c)| *c == crs).map_or(features::CRS[0].0, |(u, _)| u)
}

fn geojson(body: String, crs: Option<Crs>) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "application/geo+json")], body).into_response();
    if let Ok(uri) = HeaderValue::from_str(&format!("<{}>", crs_uri(crs))) {
        response.headers_mut().insert("content-crs", uri);
    }
    response
}

/// `limit`: a whole number ≥ 1; larger than the maximum is the maximum (OGC API – Features, /req/core/fc-limit).
fn limit(params: &BTreeMap<String, String>) -> Result<i64, ApiError> {
    let Some(v) = params.get("limit") else { return Ok(features::DEFAULT_LIMIT) };
    let digits = !v.is_empty() && v.len() <= 100 && v.bytes().all(|b| b.is_ascii_digit());
    match v.parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n.min(features::MAX_LIMIT)),
        Err(_) if digits => Ok(features::MAX_LIMIT),
        _ => Err(ApiError::BadRequest(format!("limit={v:?} is not a whole number ≥ 1"))),
    }
}

/// `offset`: a whole number from 0 to [`features::MAX_OFFSET`].
fn offset(params: &BTreeMap<String, String>) -> Result<i64, ApiError> {
    let Some(v) = params.get("offset") else { return Ok(0) };
    match v.parse::<i64>() {
        Ok(n) if (0..=features::MAX_OFFSET).contains(&n) => Ok(n),
        _ => Err(ApiError::BadRequest(format!(
            "offset={v:?} is not a whole number from 0 to {} (narrow the query with bbox or properties instead)",
            features::MAX_OFFSET
        ))),
    }
}

/// `bbox`: four numbers (or six, with heights, which are ignored), every one a finite number.
fn bbox(params: &BTreeMap<String, String>) -> Result<Option<[f64; 4]>, ApiError> {
    let Some(text) = params.get("bbox") else { return Ok(None) };
    let bad = || ApiError::BadRequest(format!("bbox={text:?} must be minx,miny,maxx,maxy: four numbers"));
    let values = text
        .split(',')
        .map(|x| x.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<Vec<f64>>>()
        .ok_or_else(bad)?;
    match values.as_slice() {
        [a, b, c, d] | [a, b, _, c, d, _] => Ok(Some([*a, *b, *c, *d])),
        _ => Err(bad()),
    }
}

/// `GET /ogc/collections/{id}/items?bbox=&bbox-crs=&crs=&limit=&offset=&datetime=&<property>=<value>`.
#[utoipa::path(get, path = "/ogc/collections/{id}/items", tag = "ogc",
    params(("id" = String, Path, description = "Collection id", example = "dbt-TP_IDRO"),
           ("f" = Option<crate::schema::Format>, Query, description = "`json` or `html`"),
           ("bbox" = Option<String>, Query, description = "minx,miny,maxx,maxy", example = "12.30,45.40,12.40,45.45"),
           ("bbox-crs" = Option<String>, Query, description = "CRS of bbox"),
           ("crs" = Option<String>, Query, description = "CRS of the answer"),
           ("datetime" = Option<String>, Query, description = "As of this instant (DBT)"),
           ("limit" = Option<i64>, Query, description = "Page size", minimum = 1, maximum = 10000),
           ("offset" = Option<i64>, Query, description = "Page start", minimum = 0, maximum = 1000000)),
    responses((status = 200, description = "Features", content(
        (crate::schema::Document = "application/geo+json"), (String = "text/html")))))]
pub(crate) async fn items(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let html = wants_html(&headers, &params)?;
    let (limit, offset) = (limit(&params)?, offset(&params)?);
    const RESERVED: [&str; 8] = ["f", "bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "sortby"];
    let query = ItemsQuery {
        bbox: bbox(&params)?,
        bbox_crs: parse_crs(&params, "bbox-crs")?,
        crs: parse_crs(&params, "crs")?,
        properties: params
            .iter()
            .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        at: instant(&params)?,
        limit,
        offset,
    };
    query.check().map_err(ApiError::from)?;
    let c = find(&state, &id).await?;
    let found = features::items(state.pool(), &c, &query).await.map_err(ApiError::from)?;
    let matched = found.matched;
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
        format!("{base}/collections/{}/items?{}", segment(&id), q.finish())
    };
    if html {
        let rows: String = found
            .features
            .iter()
            .map(|f| {
                let (fid, f) = (f.id.as_str(), f.to_value());
                format!(
                    "<tr><td><a href=\"{href}\">{text}</a></td><td><code>{p}</code></td></tr>",
                    href =
                        escape(&format!("{base}/collections/{}/items/{}?f=html", segment(&id), segment(fid))),
                    text = escape(fid),
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
        link(format!("{base}/collections/{}", segment(&id)), "collection", "application/json", &c.title),
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
    // The features as PostgreSQL wrote them, then the members Vedetta adds.
    let tail = json!({
        "numberMatched": matched,
        "numberReturned": found.features.len(),
        "timeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "links": links
    })
    .to_string();
    let size: usize = found.features.iter().map(|f| f.as_json().len() + 1).sum();
    let mut body = String::with_capacity(size + tail.len() + 64);
    body.push_str("{\"type\":\"FeatureCollection\",\"features\":[");
    for (i, f) in found.features.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(f.as_json());
    }
    body.push_str("],");
    body.push_str(tail.strip_prefix('{').unwrap_or(&tail));
    Ok(geojson(body, query.crs))
}

/// `GET /ogc/collections/{id}/items/{featureId}`.
#[utoipa::path(get, path = "/ogc/collections/{id}/items/{fid}", tag = "ogc",
    params(("id" = String, Path, description = "Collection id", example = "dbt-TP_IDRO"),
           ("fid" = String, Path, description = "Feature id"),
           ("f" = Option<crate::schema::Format>, Query, description = "`json` or `html`"),
           ("crs" = Option<String>, Query, description = "CRS of the answer")),
    responses((status = 200, description = "A feature", content(
        (crate::schema::Document = "application/geo+json"), (String = "text/html")))))]
pub(crate) async fn item(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, fid)): Path<(String, String)>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let (html, crs, at) = (wants_html(&headers, &params)?, parse_crs(&params, "crs")?, instant(&params)?);
    let c = find(&state, &id).await?;
    let feature =
        features::item(state.pool(), &c, &fid, crs, at).await.map_err(ApiError::from)?.ok_or_else(|| {
            ApiError::NotFound(format!(
                "no feature {:?} in {id:?}",
                fid.chars().take(100).collect::<String>()
            ))
        })?;
    if html {
        return Ok(page(
            &format!("{} – {fid}", c.title),
            &format!("<pre>{}</pre>", escape(&feature.to_value().to_string())),
        ));
    }
    let base = base(&state);
    let links = json!([
        link(
            format!("{base}/collections/{}/items/{}", segment(&id), segment(&fid)),
            "self",
            "application/geo+json",
            "this feature"
        ),
        link(format!("{base}/collections/{}", segment(&id)), "collection", "application/json", &c.title),
    ]);
    let feature = feature.with_members(&format!("\"links\":{links}"));
    Ok(geojson(feature.as_json().to_string(), crs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn html_and_urls_are_escaped() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;"
        );
        assert_eq!(segment("TP_CAN~2.x-y"), "TP_CAN~2.x-y");
        assert_eq!(segment("a b/c?d#e\"<"), "a%20b%2Fc%3Fd%23e%22%3C");
        assert_eq!(segment("città"), "citt%C3%A0");
    }

    #[test]
    fn a_bbox_is_four_numbers_or_six() {
        let b = |v: &str| bbox(&params(&[("bbox", v)]));
        assert_eq!(b("8,44,9,45").unwrap(), Some([8.0, 44.0, 9.0, 45.0]));
        assert_eq!(b(" 8, 44 ,0, 9,45,100").unwrap(), Some([8.0, 44.0, 9.0, 45.0]));
        for bad in ["8,44,x,45", "8,44,9", "8,44,9,45,1", "8,44,9,NaN", "8,44,9,inf", "8,,9,45", ""] {
            assert!(b(bad).is_err(), "{bad:?}");
        }
        assert_eq!(bbox(&params(&[])).unwrap(), None);
    }

    #[test]
    fn limit_and_offset_are_bounded() {
        let l = |v: &str| limit(&params(&[("limit", v)]));
        assert_eq!(l("25").unwrap(), 25);
        assert_eq!(l("1000000").unwrap(), features::MAX_LIMIT);
        assert_eq!(
            l("99999999999999999999999").unwrap(),
            features::MAX_LIMIT,
            "larger than the maximum is the maximum"
        );
        for bad in ["0", "-1", "x", "1.5", ""] {
            assert!(l(bad).is_err(), "{bad:?}");
        }
        let o = |v: &str| offset(&params(&[("offset", v)]));
        assert_eq!(o("0").unwrap(), 0);
        assert_eq!(o("1000000").unwrap(), features::MAX_OFFSET);
        for bad in ["1000001", "9223372036854775807", "9223372036854775808", "-1", "x"] {
            assert!(o(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn content_crs_names_the_crs_served() {
        assert_eq!(crs_uri(None), "http://www.opengis.net/def/crs/OGC/1.3/CRS84");
        assert_eq!(crs_uri(features::crs("EPSG:7791")), "http://www.opengis.net/def/crs/EPSG/0/7791");
        assert_eq!(crs_uri(features::crs("EPSG:4326")), "http://www.opengis.net/def/crs/EPSG/0/4326");
    }
}
