//! The photos of reports, by content hash: those of public reports for anyone (cached for minutes: a moderator may
//! still remove them), those of hidden or unapproved reports for whoever may see the comune's private data. Removed photos
//! are gone for everyone.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use reports::Action;
use reports::photo::PhotoStore;

use super::Viewer;
use crate::{ApiError, AppState, Caller};

/// How long a cache may keep a public photo: removals and hidings reach every client within this.
pub(crate) const PUBLIC_CACHE: &str = "public, max-age=600";

/// Which file of a photo.
#[derive(Debug, Clone, Copy)]
enum Size {
    Full,
    Thumb,
}

/// `GET /api/reports/photos/{sha256}`: a photo of a report (JPEG, PNG or WebP, without metadata).
#[utoipa::path(get, path = "/api/reports/photos/{sha256}", operation_id = "report_photo", tag = "reports",
    security((), ("bearer" = [])),
    params(("sha256" = String, Path, description = "The photo's SHA-256 (64 hexadecimal digits)",
        pattern = "^[0-9a-f]{64}$")),
    responses((status = 200, description = "The photo", content(
        ("image/jpeg"), ("image/png"), ("image/webp")))))]
pub(crate) async fn photo(
    State(state): State<AppState>,
    caller: Option<Caller>,
    Path(sha256): Path<String>,
) -> Result<Response, ApiError> {
    serve(&state, &Viewer::of(caller), &sha256, Size::Full).await
}

/// `GET /api/reports/photos/{sha256}/thumb`: the thumbnail of a photo (JPEG, at most 320 px).
#[utoipa::path(get, path = "/api/reports/photos/{sha256}/thumb", operation_id = "report_photo_thumb",
    tag = "reports", security((), ("bearer" = [])),
    params(("sha256" = String, Path, description = "The photo's SHA-256 (64 hexadecimal digits)",
        pattern = "^[0-9a-f]{64}$")),
    responses((status = 200, description = "The thumbnail", content(("image/jpeg")))))]
pub(crate) async fn thumb(
    State(state): State<AppState>,
    caller: Option<Caller>,
    Path(sha256): Path<String>,
) -> Result<Response, ApiError> {
    serve(&state, &Viewer::of(caller), &sha256, Size::Thumb).await
}

async fn serve(state: &AppState, viewer: &Viewer, sha256: &str, size: Size) -> Result<Response, ApiError> {
    let unknown = || ApiError::NotFound("no photo has this hash".into());
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(unknown());
    }
    // The reports the photo belongs to (a photo filed twice is stored once), unless it was removed there.
    let owners: Vec<(String, bool, String)> = sqlx::query_as(
        "select r.comune, r.approved and not r.hidden, p.thumb_sha256
         from reports.photo p join reports.report r on r.id = p.report_id
         where p.sha256 = $1 and p.removed_at is null",
    )
    .bind(sha256)
    .fetch_all(state.pool())
    .await?;
    let public = owners.iter().any(|(_, public, _)| *public);
    if !public && !owners.iter().any(|(comune, _, _)| viewer.may(Action::SeePrivate, comune)) {
        return Err(unknown());
    }
    let Some((_, _, thumb_sha256)) = owners.first() else { return Err(unknown()) };
    let file = match size {
        Size::Full => sha256.to_string(),
        Size::Thumb => thumb_sha256.clone(),
    };
    let etag = format!("\"{file}\"");
    let store = PhotoStore::new(state.reports().photos_dir.clone());
    let (bytes, content_type) = store.open(&file).await?.ok_or_else(unknown)?;
    // The bytes of a hash never change, but whether they may be shown does: a moderator may remove the photo or
    // hide its report (a face, a number plate). Shared caches keep it minutes, not a year.
    let cache = if public { PUBLIC_CACHE } else { "private, no-store" };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    Ok(response)
}
