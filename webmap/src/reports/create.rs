//! `POST /api/reports`: filing a report, as JSON or as `multipart/form-data` with photos; rate limited per client
//! address and per account, with a honeypot field for form robots.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reports::photo::{PhotoStore, Processed};
use reports::report::{NewReport, Reporter, ReporterType, Source};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::multipart::{self, Part};
use super::view::{Created, ReportView, ReporterTypeName};
use super::{Viewer, base_url, is_category_code, is_istat, text};
use crate::{ApiError, AppState, Caller, Problem};

/// A report to file. As JSON, or as the part `report` of a `multipart/form-data` body whose `photo` parts (at most
/// 5, each at most 10 MB, JPEG, PNG or WebP) are its photos.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewReportBody {
    /// WGS84 longitude, degrees.
    #[schema(example = 8.934, minimum = -180, maximum = 180)]
    lon: f64,
    /// WGS84 latitude, degrees.
    #[schema(example = 44.4073, minimum = -90, maximum = 90)]
    lat: f64,
    /// A category code active in the comune (`GET /api/reports/categories?comune=`).
    #[schema(example = "buca_stradale", pattern = "^[a-z0-9_]{1,50}$")]
    category: String,
    /// What is wrong, in plain text (no HTML), at most 4000 characters.
    #[schema(example = "Buca profonda davanti al civico 3", min_length = 1, max_length = 4000)]
    description: String,
    /// Who files it (default `citizen`). `councillor` needs a councillor's grant, `municipal_police` and `office`
    /// a caller who handles reports (403 otherwise).
    reporter_type: Option<ReporterTypeName>,
    /// People are at risk: the report comes first.
    #[serde(default)]
    people_at_risk: bool,
    /// The reporter's name (private).
    #[schema(max_length = 200)]
    name: Option<String>,
    /// Where status changes are sent (private).
    #[schema(max_length = 254)]
    email: Option<String>,
    /// A phone number to call back (private).
    #[schema(max_length = 40)]
    phone: Option<String>,
    /// Hide the reporter's name even from councillors.
    #[serde(default)]
    anonymous: bool,
    /// Answers to the category's extra questions (`{code: value}`).
    #[schema(value_type = Option<Object>)]
    attributes: Option<Map<String, Value>>,
    /// The ISTAT code of the comune the reporter means; it must be the comune of the point.
    #[schema(example = "010025")]
    comune: Option<String>,
    /// Leave empty: a form robot fills it in, and its report is refused.
    website: Option<String>,
}

/// The client's address: the TCP peer, or (behind a trusted reverse proxy) the rightmost `X-Forwarded-For` address
/// that is not a trusted proxy. `None` when the server does not know its peers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub(crate) Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(ClientIp(peer.map(|peer| client(peer, &parts.headers, &state.reports().trusted_proxies))))
    }
}

/// The client behind `peer`.
fn client(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded.iter().rev().find(|a| !trusted.contains(a)).or(forwarded.first()).copied().unwrap_or(peer)
}

/// `POST /api/reports`: files a report. The point decides the comune (a point outside every comune of the
/// federation is refused, 422); the address comes from ANNCSU. JSON, or `multipart/form-data` with the part
/// `report` (this JSON) and up to 5 `photo` parts (JPEG, PNG or WebP, at most 10 MB each; a file that is not the
/// image it claims is refused, 422; every photo is re-encoded without metadata). Anyone may file; at most 10
/// reports per hour per address and per account (429 with Retry-After). Answers 201 with the report and, once
/// only, its tracking token and link.
#[utoipa::path(post, path = "/api/reports", operation_id = "create_report", tag = "reports",
    security((), ("bearer" = [])),
    request_body(content(
        (NewReportBody = "application/json"),
        (Object = "multipart/form-data", example = json!({"report": "{…}", "photo": "(binary)"}))
    )),
    responses((status = 201, description = "The report, its tracking token and link", body = Created,
        headers(("Location" = String, description = "The report's URL")))))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Option<Caller>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let viewer = Viewer::of(caller);
    let body = read_bounded(&headers, body, state.reports().max_upload_bytes()).await?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some((fields, photos)) = read_body(&state, content_type, &body)? else {
        let detail = "send the report as application/json, or as multipart/form-data (with its boundary) with \
                      the part `report` and `photo` parts";
        let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return Ok(Problem::new(status, "unsupported_media_type", detail).into_response_with(status));
    };
    let fields: NewReportBody = serde_json::from_value(fields)
        .map_err(|e| ApiError::Unprocessable(format!("the report is not as documented: {e}")))?;
    if fields.website.as_deref().is_some_and(|w| !w.trim().is_empty()) {
        return Err(ApiError::BadRequest(
            "the report was refused (the `website` field must stay empty)".into(),
        ));
    }
    rate_limit(&state, &viewer, ip).await?;
    let mut new = check(fields, &viewer)?;
    new.photos = process_photos(&state, photos).await?;
    let created = reports::report::create(state.pool(), state.geocoder(), new).await?;
    let base = base_url(&state);
    let id = created.report.public.id;
    let body = Created {
        report: ReportView::of(&base, &viewer, &created.report),
        tracking_url: format!("{base}/api/reports/track/{}", created.tracking_token),
        tracking_token: created.tracking_token,
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/reports/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The body, at most `limit` bytes (413 beyond: at once when `Content-Length` says so, else when it is reached).
async fn read_bounded(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::TooLarge(format!(
            "a report with its photos may have at most {limit} bytes ({} MB)",
            limit / (1024 * 1024)
        ))
    };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut cause: Option<&dyn std::error::Error> = Some(&e);
        while let Some(c) = cause {
            if c.to_string() == "length limit exceeded" {
                return too_large();
            }
            cause = c.source();
        }
        ApiError::BadRequest(format!("the body could not be read: {e}"))
    })
}

/// A photo as it came: its declared type and bytes.
type Upload = (String, Bytes);

/// The report's fields and its photos, from a JSON or a multipart body; `None` for another media type.
fn read_body(
    state: &AppState,
    content_type: &str,
    body: &Bytes,
) -> Result<Option<(Value, Vec<Upload>)>, ApiError> {
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if media == "application/json" {
        if body.len() > crate::MAX_BODY_BYTES {
            return Err(ApiError::TooLarge(format!(
                "a report without photos takes at most {} bytes",
                crate::MAX_BODY_BYTES
            )));
        }
        let fields = serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?;
        return Ok(Some((fields, Vec::new())));
    }
    let Some(boundary) = multipart::boundary(content_type) else { return Ok(None) };
    let parts = multipart::parse(body, &boundary).map_err(ApiError::BadRequest)?;
    from_parts(state, parts).map(Some)
}

/// The report and the photos of a form.
fn from_parts(state: &AppState, parts: Vec<Part>) -> Result<(Value, Vec<Upload>), ApiError> {
    let options = state.reports();
    let mut fields: Option<Value> = None;
    let mut website = None;
    let mut photos = Vec::new();
    for part in parts {
        match part.name.as_str() {
            "report" if fields.is_none() => {
                fields = Some(
                    serde_json::from_slice(&part.data)
                        .map_err(|e| ApiError::BadRequest(format!("the part `report` is not JSON: {e}")))?,
                );
            }
            "report" => return Err(ApiError::Unprocessable("the part `report` is given twice".into())),
            "website" => website = Some(String::from_utf8_lossy(&part.data).into_owned()),
            "photo" => {
                if photos.len() == options.max_photos {
                    return Err(ApiError::Unprocessable(format!(
                        "a report takes at most {} photos",
                        options.max_photos
                    )));
                }
                if part.data.len() > options.max_photo_bytes {
                    return Err(ApiError::TooLarge(format!(
                        "photo {} has {} bytes; a photo may have at most {} bytes ({} MB)",
                        photos.len() + 1,
                        part.data.len(),
                        options.max_photo_bytes,
                        options.max_photo_bytes / (1024 * 1024)
                    )));
                }
                let declared = part.content_type.unwrap_or_default();
                if !matches!(declared.as_str(), "image/jpeg" | "image/png" | "image/webp") {
                    return Err(ApiError::Unprocessable(format!(
                        "photo {} is declared as `{declared}`; a photo must be image/jpeg, image/png or image/webp \
                         (the Content-Type of its part)",
                        photos.len() + 1
                    )));
                }
                photos.push((declared, part.data));
            }
            other => {
                return Err(ApiError::Unprocessable(format!(
                    "unknown form part `{other}`: a report takes the part `report` (JSON) and up to {} `photo` parts",
                    options.max_photos
                )));
            }
        }
    }
    let mut fields = fields.ok_or_else(|| {
        ApiError::Unprocessable("the form has no part `report` (the report as JSON)".into())
    })?;
    if let (Some(w), Some(obj)) = (website, fields.as_object_mut())
        && !w.is_empty()
    {
        obj.insert("website".into(), Value::String(w));
    }
    Ok((fields, photos))
}

/// The domain's new report from the body, with its fields checked.
fn check(b: NewReportBody, viewer: &Viewer) -> Result<NewReport, ApiError> {
    let (lon, lat) = super::point(Some(b.lon), Some(b.lat)).map_err(|_| {
        ApiError::Unprocessable("`lat` must be within ±90 and `lon` within ±180 (WGS84)".into())
    })?;
    if !is_category_code(&b.category) {
        return Err(ApiError::Unprocessable(format!(
            "`category` {:?} is not a category code (see GET /api/reports/categories?comune=)",
            b.category
        )));
    }
    if b.description.trim().is_empty() {
        return Err(ApiError::Unprocessable("`description` must say what is wrong".into()));
    }
    if let Some(comune) = b.comune.as_deref()
        && !comune.is_empty()
        && !is_istat(comune)
    {
        return Err(ApiError::Unprocessable("`comune` must be an ISTAT code of six digits".into()));
    }
    let reporter_type = b.reporter_type.map(Into::into).unwrap_or(ReporterType::Citizen);
    check_reporter_type(reporter_type, viewer)?;
    let email = text("email", b.email, 254)?;
    if let Some(e) = &email
        && !plausible_email(e)
    {
        return Err(ApiError::Unprocessable(format!("`email` {e:?} is not an email address")));
    }
    let phone = text("phone", b.phone, 40)?;
    if let Some(p) = &phone
        && !p.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '/' | '(' | ')'))
    {
        return Err(ApiError::Unprocessable("`phone` may hold digits, spaces and + - . / ( ) only".into()));
    }
    Ok(NewReport {
        lon,
        lat,
        category: b.category,
        description: b.description,
        reporter_type,
        people_at_risk: b.people_at_risk,
        reporter: Reporter { name: text("name", b.name, 200)?, email, phone, account_id: viewer.account_id },
        anonymous: b.anonymous,
        attributes: b.attributes.unwrap_or_default(),
        media_url: None,
        source: Source::Api,
        photos: Vec::new(),
        jurisdiction: b.comune.filter(|c| !c.is_empty()),
    })
}

/// Whether the viewer may file as `t`: anyone as a citizen, a volunteer or "other"; as a councillor only with a
/// councillor's grant; as the municipal police or an office only staff (whoever handles reports somewhere). The
/// type is public and counted in the statistics: a stranger must not pass for the police.
fn check_reporter_type(t: ReporterType, viewer: &Viewer) -> Result<(), ApiError> {
    let allowed = match t {
        ReporterType::Citizen | ReporterType::Volunteer | ReporterType::Other => true,
        ReporterType::Councillor => viewer.is_staff() || viewer.access.has(reports::Role::Councillor),
        ReporterType::MunicipalPolice | ReporterType::Office => viewer.is_staff(),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "`reporter_type` {t} needs an account with that role; file as citizen, volunteer or other"
        )))
    }
}

/// `a@b.c` without spaces.
fn plausible_email(e: &str) -> bool {
    let Some((local, domain)) = e.rsplit_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !e.chars().any(char::is_whitespace)
}

/// What a window of the rate limits lasts.
const RATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// Counts the filing against the client's address and account; 429 when either is over its hourly limit. Staff
/// (whoever may handle reports) is not limited.
pub(crate) async fn rate_limit(
    state: &AppState,
    viewer: &Viewer,
    ip: Option<IpAddr>,
) -> Result<(), ApiError> {
    if viewer.is_staff() {
        return Ok(());
    }
    let options = state.reports();
    let mut keys = Vec::new();
    match ip {
        Some(ip) if options.reports_per_hour_ip > 0 => {
            keys.push((format!("ip:{ip}"), options.reports_per_hour_ip, "from this address"))
        }
        Some(_) => {}
        None => tracing::debug!("The client's address is unknown: no per-address limit on reports."),
    }
    if let Some(account) = viewer.account_id
        && options.reports_per_hour_account > 0
    {
        keys.push((format!("account:{account}"), options.reports_per_hour_account, "by this account"));
    }
    for (key, limit, whose) in keys {
        let decision = database::rate::hit(state.pool(), "report.create", &key, limit, RATE_WINDOW).await?;
        if !decision.allowed {
            return Err(ApiError::TooManyRequests {
                detail: format!(
                    "at most {limit} reports per hour may be filed {whose}; retry in {} seconds",
                    decision.retry_after_s
                ),
                retry_after_s: decision.retry_after_s,
            });
        }
    }
    Ok(())
}

/// Decodes and re-encodes every photo without metadata (on the blocking pool: it is CPU work), then stores them.
async fn process_photos(state: &AppState, photos: Vec<Upload>) -> Result<Vec<Processed>, ApiError> {
    if photos.is_empty() {
        return Ok(Vec::new());
    }
    let processed = tokio::task::spawn_blocking(move || -> Result<Vec<Processed>, ApiError> {
        let mut done = Vec::with_capacity(photos.len());
        for (n, (declared, bytes)) in photos.into_iter().enumerate() {
            let photo = reports::photo::process(&bytes, &declared).map_err(|e| match ApiError::from(e) {
                ApiError::Unprocessable(detail) => {
                    ApiError::Unprocessable(format!("photo {}: {detail}", n + 1))
                }
                ApiError::TooLarge(detail) => ApiError::TooLarge(format!("photo {}: {detail}", n + 1)),
                other => other,
            })?;
            done.push(photo);
        }
        Ok(done)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("photo processing stopped: {e}")))??;
    let store = PhotoStore::new(state.reports().photos_dir.clone());
    for photo in &processed {
        store.save(photo).await?;
    }
    Ok(processed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.1"));
        let peer: IpAddr = "198.51.100.2".parse().unwrap();
        assert_eq!(client(peer, &headers, &[proxy]), peer, "an untrusted peer's header is ignored");
        assert_eq!(client(proxy, &headers, &[proxy]), "203.0.113.7".parse::<IpAddr>().unwrap());
        assert_eq!(client(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }

    #[test]
    fn only_staff_files_as_the_police_or_an_office() {
        use reports::{Access, Grant, Role};
        let public = Viewer::default();
        let councillor = Viewer {
            access: Access::new(vec![Grant::new(Role::Councillor, Some("010025"))]),
            ..Viewer::default()
        };
        let operator = Viewer {
            access: Access::new(vec![Grant::new(Role::Operator, Some("010025"))]),
            ..Viewer::default()
        };
        for t in [ReporterType::Citizen, ReporterType::Volunteer, ReporterType::Other] {
            assert!(check_reporter_type(t, &public).is_ok());
        }
        for t in [ReporterType::MunicipalPolice, ReporterType::Office, ReporterType::Councillor] {
            assert!(matches!(check_reporter_type(t, &public), Err(ApiError::Forbidden(_))), "{t}");
            assert!(check_reporter_type(t, &operator).is_ok(), "{t}");
        }
        assert!(check_reporter_type(ReporterType::Councillor, &councillor).is_ok());
        assert!(check_reporter_type(ReporterType::MunicipalPolice, &councillor).is_err());
    }

    #[test]
    fn emails_are_plausible() {
        assert!(plausible_email("mario.rossi@example.org"));
        for bad in ["mario", "@example.org", "a@b", "a b@c.it", "a@.it"] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }
}
