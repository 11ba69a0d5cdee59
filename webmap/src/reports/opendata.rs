//! The public reports as open data: GeoJSON and CSV, public fields only (approved, not hidden), at most 10,000
//! rows per request, paged with `offset` (the `Link: rel="next"` header and the GeoJSON `links` say where).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use reports::report::Report;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::query::Filters;
use super::view::PublicView;
use super::{base_url, page};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DumpPage {
    /// Most reports, 1..10000 (default 10000).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<i64>,
    /// Reports to skip (the `offset` of the next page), 0..10000000.
    #[param(minimum = 0, maximum = 10000000)]
    offset: Option<i64>,
}

/// Most rows one request gives.
const MAX_ROWS: i64 = 10_000;
/// Most rows the domain reads at once.
const CHUNK: i64 = 1000;
const MAX_OFFSET: i64 = 10_000_000;

/// A page of public reports, newest first, and how many match.
async fn rows(
    state: &AppState,
    filters: &Filters,
    p: &DumpPage,
) -> Result<(Vec<Report>, i64, i64, i64), ApiError> {
    let (limit, offset) = page(p.limit, p.offset, MAX_ROWS, MAX_ROWS, MAX_OFFSET)?;
    let mut q = filters.query()?;
    q.public_only = true;
    let mut rows = Vec::new();
    let total = loop {
        q.limit = CHUNK.min(limit - rows.len() as i64);
        q.offset = offset + rows.len() as i64;
        let (chunk, matched) = reports::report::list(state.pool(), &q).await?;
        let n = chunk.len() as i64;
        rows.extend(chunk);
        if n < q.limit || rows.len() as i64 >= limit {
            break matched;
        }
    };
    Ok((rows, total, limit, offset))
}

/// The query string of the next page, if there is one.
fn next_page(filters: &Filters, total: i64, limit: i64, offset: i64, returned: usize) -> Option<String> {
    let next = offset + returned as i64;
    if returned == 0 || next >= total || next > MAX_OFFSET {
        return None;
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in [
        ("comune", &filters.comune),
        ("category", &filters.category),
        ("status", &filters.status),
        ("bbox", &filters.bbox),
        ("from", &filters.from),
        ("to", &filters.to),
    ] {
        if let Some(v) = value {
            query.append_pair(key, v);
        }
    }
    query.append_pair("limit", &limit.to_string()).append_pair("offset", &next.to_string());
    Some(query.finish())
}

fn with_link(mut response: Response, url: Option<String>) -> Response {
    if let Some(url) = url
        && let Ok(value) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\""))
    {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

/// `GET /api/reports/opendata.geojson`: the public reports as a GeoJSON FeatureCollection (WGS84), newest first,
/// public fields only; filters as the listing's; at most 10,000 features, the next page in `links` and `Link`.
#[utoipa::path(get, path = "/api/reports/opendata.geojson", operation_id = "reports_geojson", tag = "reports",
    params(Filters, DumpPage),
    responses((status = 200, description = "A GeoJSON FeatureCollection", content_type = "application/geo+json",
        body = Object)))]
pub(crate) async fn geojson(
    State(state): State<AppState>,
    Query(filters): Query<Filters>,
    Query(p): Query<DumpPage>,
) -> Result<Response, ApiError> {
    let (rows, total, limit, offset) = rows(&state, &filters, &p).await?;
    let base = base_url(&state);
    let features: Vec<_> = rows
        .iter()
        .map(|r| {
            let view = PublicView::of(&base, &r.public);
            json!({
                "type": "Feature",
                "id": view.id,
                "geometry": { "type": "Point", "coordinates": [view.lon, view.lat] },
                "properties": view,
            })
        })
        .collect();
    let next = next_page(&filters, total, limit, offset, rows.len())
        .map(|q| format!("{base}/api/reports/opendata.geojson?{q}"));
    let links: Vec<_> = next
        .iter()
        .map(|href| json!({"rel": "next", "type": "application/geo+json", "href": href}))
        .collect();
    let body = json!({
        "type": "FeatureCollection",
        "numberMatched": total,
        "numberReturned": features.len(),
        "features": features,
        "links": links,
    });
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"));
    Ok(with_link(response, next))
}

/// The columns of the CSV.
const COLUMNS: [&str; 23] = [
    "id",
    "comune",
    "comune_name",
    "category",
    "category_name",
    "status",
    "status_label",
    "reporter_type",
    "people_at_risk",
    "priority",
    "supporters",
    "duplicate_of",
    "lon",
    "lat",
    "address",
    "description",
    "public_note",
    "photo_urls",
    "created_at",
    "updated_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
];

/// One CSV field: quoted when it must be, and a leading `= + - @` neutralised (spreadsheets run formulas).
fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) && value.parse::<f64>().is_err() {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value }
}

fn csv_row(v: &PublicView) -> String {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    let status = serde_json::to_value(v.status).ok().and_then(|s| s.as_str().map(str::to_string));
    let reporter_type =
        serde_json::to_value(v.reporter_type).ok().and_then(|s| s.as_str().map(str::to_string));
    let cells = [
        v.id.to_string(),
        v.comune.clone(),
        v.comune_name.clone(),
        v.category.clone(),
        v.category_name.clone(),
        status.unwrap_or_default(),
        v.status_label.clone(),
        reporter_type.unwrap_or_default(),
        v.people_at_risk.to_string(),
        v.priority.to_string(),
        v.supporters.to_string(),
        v.duplicate_of.map(|d| d.to_string()).unwrap_or_default(),
        format!("{:.7}", v.lon),
        format!("{:.7}", v.lat),
        v.address.clone().unwrap_or_default(),
        v.description.clone(),
        v.public_note.clone().unwrap_or_default(),
        v.photos.iter().map(|p| p.url.as_str()).collect::<Vec<_>>().join(" "),
        v.created_at.to_rfc3339(),
        v.updated_at.to_rfc3339(),
        time(v.acknowledged_at),
        time(v.resolved_at),
        time(v.closed_at),
    ];
    cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(",")
}

/// `GET /api/reports/opendata.csv`: the public reports as CSV (UTF-8, comma separated, header row, WGS84
/// `lon`/`lat`), newest first, public fields only; filters as the listing's; at most 10,000 rows, the next page
/// in the `Link` header.
#[utoipa::path(get, path = "/api/reports/opendata.csv", operation_id = "reports_csv", tag = "reports",
    params(Filters, DumpPage),
    responses((status = 200, description = "CSV with a header row", content_type = "text/csv", body = String,
        headers(("Link" = String, description = "The next page (rel=\"next\"), when there is one")))))]
pub(crate) async fn csv(
    State(state): State<AppState>,
    Query(filters): Query<Filters>,
    Query(p): Query<DumpPage>,
) -> Result<Response, ApiError> {
    let (rows, total, limit, offset) = rows(&state, &filters, &p).await?;
    let base = base_url(&state);
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for r in &rows {
        out.push_str(&csv_row(&PublicView::of(&base, &r.public)));
        out.push_str("\r\n");
    }
    let next = next_page(&filters, total, limit, offset, rows.len())
        .map(|q| format!("{base}/api/reports/opendata.csv?{q}"));
    let response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, HeaderValue::from_static("inline; filename=\"segnalazioni.csv\"")),
        ],
        out,
    )
        .into_response();
    Ok(with_link(response, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(field("Via Roma 1"), "Via Roma 1");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-8.5"), "-8.5", "numbers stay numbers");
    }

    #[test]
    fn the_next_page_keeps_the_filters() {
        let f = Filters { comune: Some("010025".into()), ..Filters::default() };
        assert_eq!(next_page(&f, 25, 10, 0, 10).as_deref(), Some("comune=010025&limit=10&offset=10"));
        assert_eq!(next_page(&f, 25, 10, 20, 5), None);
    }
}
