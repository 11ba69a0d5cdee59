//! Filing a report: its comune by location, its category there, its address by reverse geocoding, the
//! moderation of the comune, the tracking token; all in one transaction that ends with the event.

use geodata::geocoder::Geocoder;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::query::load_existing;
use super::{Change, Created, MAX_PHOTOS, NewReport, Reporter, announce, check_point, check_text, non_blank};
use crate::category::{self, ModerationMode};
use crate::{Error, Result};

/// A civico farther than this is not the report's address.
pub const CIVICO_RADIUS_M: f64 = 100.0;

/// Farther than this from every civico, a report gets no street either.
pub const STREET_RADIUS_M: f64 = 300.0;

/// Longest `media_url`.
const MAX_URL: usize = 2000;

/// Largest attributes object, serialized, in bytes.
const MAX_ATTRIBUTES: usize = 16 * 1024;

/// Files `new`: refused outside every comune ([`Error::OutsideTerritory`]), in a category the comune does not
/// offer ([`Error::UnknownCategory`]), or with invalid fields ([`Error::Invalid`]). The photos are stored by the
/// caller beforehand; here they are recorded.
///
/// # Units
/// `new.lon`, `new.lat`: WGS84 (EPSG:4326) degrees.
pub async fn create(pool: &PgPool, geocoder: &Geocoder, new: NewReport) -> Result<Created> {
    check_point(new.lon, new.lat)?;
    check_text("description", &new.description, true)?;
    if new.photos.len() > MAX_PHOTOS {
        return Err(Error::Invalid(format!("{} photos; at most {MAX_PHOTOS}", new.photos.len())));
    }
    let reporter = reporter(&new.reporter)?;
    let media_url = non_blank(new.media_url.as_deref());
    if let Some(url) = &media_url {
        check_url(url)?;
    }
    let attributes = serde_json::Value::Object(new.attributes.clone());
    if attributes.to_string().len() > MAX_ATTRIBUTES {
        return Err(Error::Invalid(format!("the attributes are larger than {MAX_ATTRIBUTES} bytes")));
    }
    let category_code = new.category.trim();
    let jurisdiction = non_blank(new.jurisdiction.as_deref());

    // Outside the transaction: the geocoder reads through its own pool.
    let address = address(geocoder, new.lon, new.lat).await;

    let mut tx = pool.begin().await?;
    let comune: Option<String> = sqlx::query_scalar(
        "select istat from core.comune where st_intersects(geom, st_setsrid(st_makepoint($1, $2), 4326))
         order by istat limit 1",
    )
    .bind(new.lon)
    .bind(new.lat)
    .fetch_optional(&mut *tx)
    .await?;
    let comune = comune.ok_or(Error::OutsideTerritory { lon: new.lon, lat: new.lat })?;
    if let Some(named) = jurisdiction
        && named != comune
    {
        return Err(Error::Jurisdiction { named, located: comune });
    }
    match category::category(&mut *tx, &comune, category_code).await? {
        Some(c) if c.active => {}
        _ => {
            let known: Vec<String> =
                category::categories(pool, &comune).await?.into_iter().map(|c| c.code).collect();
            return Err(Error::UnknownCategory { code: category_code.to_string(), comune, known });
        }
    }
    let approved = category::moderation_mode(&mut *tx, &comune).await? == ModerationMode::Post;
    let token = new_token();
    let id: i64 = sqlx::query_scalar(
        "insert into reports.report (comune, category, description, geom, address, reporter_type, people_at_risk,
             priority, reporter_name, reporter_email, reporter_phone, reporter_account_id, anonymous,
             tracking_sha256, attributes, media_url, source, approved)
         values ($1, $2, $3, st_setsrid(st_makepoint($4, $5), 4326), $6, $7, $8, $9, $10, $11, $12, $13, $14,
             $15, $16, $17, $18, $19)
         returning id",
    )
    .bind(&comune)
    .bind(category_code)
    .bind(new.description.trim())
    .bind(new.lon)
    .bind(new.lat)
    .bind(&address)
    .bind(new.reporter_type.as_str())
    .bind(new.people_at_risk)
    .bind(if new.people_at_risk { 1_i16 } else { 3 })
    .bind(&reporter.name)
    .bind(&reporter.email)
    .bind(&reporter.phone)
    .bind(reporter.account_id)
    .bind(new.anonymous)
    .bind(token_hash(&token))
    .bind(&attributes)
    .bind(&media_url)
    .bind(new.source.as_str())
    .bind(approved)
    .fetch_one(&mut *tx)
    .await?;
    // The filing is the first step; its actor is the reporter, whose identity stays out of the history.
    sqlx::query(
        "insert into reports.transition (report_id, from_status, to_status) values ($1, null, 'new')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    for (i, photo) in new.photos.iter().enumerate() {
        sqlx::query(
            "insert into reports.photo (report_id, position, sha256, content_type, width, height, bytes, thumb_sha256)
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(i16::try_from(i + 1).unwrap_or(i16::MAX))
        .bind(&photo.sha256)
        .bind(photo.content_type)
        .bind(i32::try_from(photo.width).unwrap_or(i32::MAX))
        .bind(i32::try_from(photo.height).unwrap_or(i32::MAX))
        .bind(i32::try_from(photo.bytes.len()).unwrap_or(i32::MAX))
        .bind(&photo.thumb_sha256)
        .execute(&mut *tx)
        .await?;
    }
    let report = load_existing(&mut *tx, id).await?;
    announce(&mut tx, Change::Created, &report).await?;
    tx.commit().await?;
    metrics::counter!("vedetta_reports_created_total", "source" => new.source.as_str()).increment(1);
    tracing::info!(report = id, comune = %report.public.comune, category = %report.public.category, "Report filed.");
    Ok(Created { report, tracking_token: token })
}

/// The reporter's fields, trimmed (blank = none) and bounded.
fn reporter(r: &Reporter) -> Result<Reporter> {
    let name = non_blank(r.name.as_deref());
    let email = non_blank(r.email.as_deref());
    let phone = non_blank(r.phone.as_deref());
    if let Some(name) = &name {
        if name.chars().count() > 200 || has_control(name) {
            return Err(Error::Invalid("the reporter's name: at most 200 characters, one line".into()));
        }
        if super::has_markup(name) {
            return Err(Error::Invalid("the reporter's name contains HTML; plain text only".into()));
        }
    }
    if let Some(email) = &email {
        let plausible = email.len() <= 254
            && !has_control(email)
            && !email.contains(char::is_whitespace)
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if !plausible {
            return Err(Error::Invalid(format!("`{email}` is not an email address")));
        }
        // What the mailer will accept, so that a status change never fails on the address.
        crate::mail::check_address(email)?;
    }
    if let Some(phone) = &phone {
        let plausible = phone.len() <= 30
            && phone.chars().all(|c| c.is_ascii_digit() || " +-./()".contains(c))
            && phone.chars().filter(char::is_ascii_digit).count() >= 3;
        if !plausible {
            return Err(Error::Invalid(format!("`{phone}` is not a phone number")));
        }
    }
    Ok(Reporter { name, email, phone, account_id: r.account_id })
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn check_url(url: &str) -> Result<()> {
    let ok = url.len() <= MAX_URL
        && (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(|c: char| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!("media_url must be an http(s) URL of at most {MAX_URL} characters")))
    }
}

/// `Via Roma 12` for the civico within [`CIVICO_RADIUS_M`], else `Via Roma` for the street of the nearest civico
/// within [`STREET_RADIUS_M`], else none (also when no toponymy is loaded, or the geocoder fails: the report is
/// filed all the same).
pub(super) async fn address(geocoder: &Geocoder, lon: f64, lat: f64) -> Option<String> {
    let hit = match geocoder.reverse(lon, lat, STREET_RADIUS_M).await {
        Ok(hit) => hit?,
        Err(e) => {
            tracing::warn!(error = %e, lon, lat, "Reverse geocoding failed; the report has no address.");
            return None;
        }
    };
    let civico = hit.civico.as_ref();
    let street = hit.street.clone().or_else(|| civico.map(|c| c.street.clone())).filter(|s| !s.is_empty());
    match (civico.and_then(|c| c.civico.as_deref()), street) {
        (Some(number), Some(street)) if hit.distance_m <= CIVICO_RADIUS_M => {
            Some(format!("{street} {number}"))
        }
        (_, street) => street,
    }
}

/// A new tracking token: `vtr_` and 32 hex digits (128 random bits).
pub(super) fn new_token() -> String {
    format!("vtr_{}", hex::encode(rand::random::<[u8; 16]>()))
}

/// What is stored of a token: its SHA-256.
pub(super) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert!(a.starts_with("vtr_"));
        assert_eq!(token_hash(&a).len(), 32);
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn reporter_fields_are_trimmed_and_checked() {
        let r = reporter(&Reporter {
            name: Some("  Maria Rossi ".into()),
            email: Some(" maria.rossi@example.org".into()),
            phone: Some("".into()),
            account_id: None,
        })
        .unwrap();
        assert_eq!(r.name.as_deref(), Some("Maria Rossi"));
        assert_eq!(r.email.as_deref(), Some("maria.rossi@example.org"));
        assert_eq!(r.phone, None);
        for email in ["maria", "maria@", "@example.org", "ma ria@example.org", "maria@example"] {
            let bad = Reporter { email: Some(email.into()), ..Reporter::default() };
            assert!(reporter(&bad).is_err(), "{email}");
        }
        let bad = Reporter { phone: Some("call me".into()), ..Reporter::default() };
        assert!(reporter(&bad).is_err());
        assert!(reporter(&Reporter { phone: Some("+39 010 123-456".into()), ..Reporter::default() }).is_ok());
    }

    #[test]
    fn media_urls_are_http() {
        assert!(check_url("https://example.org/a.jpg").is_ok());
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url("https://example.org/a b.jpg").is_err());
    }
}
