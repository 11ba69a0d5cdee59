//! `GET /api/geocode` and `GET /api/reverse`: addresses from ANNCSU.
//!
//! Parameters are read as text and validated here, so that every mistake answers 400 with a reason a client can
//! act on (a NUL byte, a query too long, a `limit` out of range, a point or a view that is not one).

use axum::Json;
use axum::extract::{Query, State};
use geodata::geocoder::{GeocodeQuery, MAX_LIMIT, MAX_QUERY_CHARS, Near};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use crate::{ApiError, AppState};

/// Longest `comune` filter, in characters (the longest comune name has 60).
const MAX_COMUNE_CHARS: usize = 100;

/// The query string of `GET /api/geocode`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GeocodeParams {
    /// What the user typed, possibly partial, at most 200 characters: `via garib`, `Atrio Addolorata 12,
    /// Lamezia Terme (CZ)`.
    #[param(example = "atrio addolorata 12 lamezia")]
    q: Option<String>,
    /// Only this comune: ISTAT code (`079160`), cadastral code (`M208`) or name in any of its languages.
    comune: Option<String>,
    /// Most candidates, 1 to 50 (default 10).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50)]
    limit: Option<String>,
    /// Latitude of the user's point (WGS84 degrees), with `lon`: between equal candidates, the nearer first.
    #[param(value_type = Option<f64>, minimum = -90, maximum = 90)]
    lat: Option<String>,
    /// Longitude of the user's point (WGS84 degrees), with `lat`.
    #[param(value_type = Option<f64>, minimum = -180, maximum = 180)]
    lon: Option<String>,
    /// The map's view, `minlon,minlat,maxlon,maxlat` (WGS84 degrees): between equal candidates, the nearer its
    /// centre first. Not with `lat`/`lon`.
    #[param(example = "16.1,38.8,16.5,39.1")]
    bbox: Option<String>,
}

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::BadRequest(detail.into())
}

/// A text parameter: no NUL byte, at most `max` characters.
fn text(name: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.contains('\0') {
        return Err(bad(format!("`{name}` contains a NUL byte")));
    }
    if value.chars().count() > max {
        return Err(bad(format!("`{name}` is longer than {max} characters")));
    }
    Ok(())
}

/// A finite number within `range`.
fn number(name: &str, value: &str, range: std::ops::RangeInclusive<f64>) -> Result<f64, ApiError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && range.contains(v))
        .ok_or_else(|| bad(format!("`{name}` must be a number from {} to {}", range.start(), range.end())))
}

impl GeocodeParams {
    /// The query and the view, or what is wrong with them.
    fn validate(self) -> Result<(GeocodeQuery, Option<Near>), ApiError> {
        let q = self.q.unwrap_or_default();
        text("q", &q, MAX_QUERY_CHARS)?;
        if q.trim().is_empty() {
            return Err(bad("`q` is empty: write part of an address, e.g. `via garib`"));
        }
        if let Some(comune) = &self.comune {
            text("comune", comune, MAX_COMUNE_CHARS)?;
        }
        let limit =
            match self.limit.as_deref() {
                None => None,
                Some(l) => {
                    Some(l.trim().parse::<usize>().ok().filter(|l| (1..=MAX_LIMIT).contains(l)).ok_or_else(
                        || bad(format!("`limit` must be a whole number from 1 to {MAX_LIMIT}")),
                    )?)
                }
            };
        let near = match (self.lat.as_deref(), self.lon.as_deref(), self.bbox.as_deref()) {
            (None, None, None) => None,
            (Some(lat), Some(lon), None) => Some(Near::Point {
                lon: number("lon", lon, -180.0..=180.0)?,
                lat: number("lat", lat, -90.0..=90.0)?,
            }),
            (None, None, Some(bbox)) => Some(view(bbox)?),
            (_, _, Some(_)) => return Err(bad("give either `lat` and `lon` or `bbox`, not both")),
            _ => return Err(bad("`lat` and `lon` go together: give both (WGS84 degrees) or neither")),
        };
        Ok((GeocodeQuery { q, comune: self.comune, limit }, near))
    }
}

/// `bbox=minlon,minlat,maxlon,maxlat`.
fn view(bbox: &str) -> Result<Near, ApiError> {
    let shape = "`bbox` must be four numbers `minlon,minlat,maxlon,maxlat` (WGS84 degrees)";
    let parts: Vec<&str> = bbox.split(',').collect();
    if parts.len() != 4 {
        return Err(bad(shape));
    }
    let mut v = [0.0f64; 4];
    for (slot, part) in v.iter_mut().zip(&parts) {
        *slot = part.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| bad(shape))?;
    }
    let [min_lon, min_lat, max_lon, max_lat] = v;
    let lon_ok = |x: f64| (-180.0..=180.0).contains(&x);
    let lat_ok = |y: f64| (-90.0..=90.0).contains(&y);
    if !(lon_ok(min_lon) && lon_ok(max_lon) && lat_ok(min_lat) && lat_ok(max_lat)) {
        return Err(bad("`bbox`: longitudes must be within ±180 and latitudes within ±90"));
    }
    if !(min_lon < max_lon && min_lat < max_lat) {
        return Err(bad("`bbox`: the minimum longitude and latitude must be below the maximum ones"));
    }
    Ok(Near::View { min_lon, min_lat, max_lon, max_lat })
}

/// `GET /api/geocode?q=&comune=&limit=&lat=&lon=&bbox=`: ranked candidates for what a person typed
/// (autocomplete). A comune named in `q` filters; a point or the map's view breaks ties between comuni.
#[utoipa::path(get, path = "/api/geocode", tag = "territory", params(GeocodeParams),
    responses(
        (status = 200, description = "Candidates, best first (none when nothing matches)",
         body = crate::schema::GeocodeAnswer),
    ))]
pub(crate) async fn geocode(
    State(state): State<AppState>,
    Query(params): Query<GeocodeParams>,
) -> Result<Json<Value>, ApiError> {
    let (q, near) = params.validate()?;
    let candidates = state.geocoder().search_near(&q, near).await?;
    Ok(Json(json!({ "query": q.q, "candidates": candidates })))
}

/// The query string of `GET /api/reverse`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReverseQuery {
    /// Latitude, WGS84 degrees.
    #[param(minimum = -90, maximum = 90)]
    lat: Option<f64>,
    /// Longitude, WGS84 degrees.
    #[param(minimum = -180, maximum = 180)]
    lon: Option<f64>,
    /// Search radius in metres, more than 0 and at most 5000 (default 100).
    radius: Option<f64>,
}

/// `GET /api/reverse?lat=&lon=&radius=`: the nearest civico and street within `radius` metres (default 100).
#[utoipa::path(get, path = "/api/reverse", tag = "territory", params(ReverseQuery),
    responses(
        (status = 200, description = "The nearest civico, its street and the distance",
         body = crate::schema::ReverseAnswer),
        (status = 404, description = "No civico within the radius", body = crate::error::Problem,
         content_type = "application/problem+json"),
    ))]
pub(crate) async fn reverse(
    State(state): State<AppState>,
    Query(q): Query<ReverseQuery>,
) -> Result<Json<Value>, ApiError> {
    let (Some(lat), Some(lon)) = (q.lat, q.lon) else {
        return Err(ApiError::BadRequest("`lat` and `lon` (WGS84 degrees) are required".into()));
    };
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(ApiError::BadRequest("`lat` must be within ±90 and `lon` within ±180".into()));
    }
    let radius = q.radius.unwrap_or(100.0);
    if !(radius > 0.0 && radius <= 5000.0) {
        return Err(ApiError::BadRequest("`radius` must be between 0 and 5000 metres".into()));
    }
    match state.geocoder().reverse(lon, lat, radius).await? {
        Some(hit) => Ok(Json(json!(hit))),
        None => Err(ApiError::NotFound(format!("no address within {radius} m of ({lat}, {lon})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Result<(GeocodeQuery, Option<Near>), String> {
        let uri: axum::http::Uri = format!("/api/geocode?{query}").parse().map_err(|e| format!("{e}"))?;
        let Query(p) = Query::<GeocodeParams>::try_from_uri(&uri).map_err(|e| e.to_string())?;
        p.validate().map_err(|e| e.to_string())
    }

    #[test]
    fn good_queries_are_read() {
        let (q, near) = params("q=via+garib&limit=5&lat=38.97&lon=16.28").unwrap();
        assert_eq!((q.q.as_str(), q.limit), ("via garib", Some(5)));
        assert_eq!(near, Some(Near::Point { lon: 16.28, lat: 38.97 }));
        let (_, near) = params("q=x&bbox=16.1,38.8,16.5,39.1").unwrap();
        assert_eq!(near, Some(Near::View { min_lon: 16.1, min_lat: 38.8, max_lon: 16.5, max_lat: 39.1 }));
        let (q, near) = params("q=x&comune=Lamezia+Terme").unwrap();
        assert_eq!((q.comune.as_deref(), q.limit, near), (Some("Lamezia Terme"), None, None));
    }

    #[test]
    fn bad_queries_say_what_is_wrong() {
        let long = format!("q={}", "a".repeat(201));
        for (query, phrase) in [
            ("q=", "`q` is empty"),
            ("limit=3", "`q` is empty"),
            ("q=via%00roma", "NUL"),
            (long.as_str(), "longer than 200"),
            ("q=x&comune=a%00b", "NUL"),
            ("q=x&limit=0", "`limit`"),
            ("q=x&limit=51", "`limit`"),
            ("q=x&limit=-1", "`limit`"),
            ("q=x&limit=ten", "`limit`"),
            ("q=x&lat=38.9", "go together"),
            ("q=x&lat=91&lon=16", "`lat`"),
            ("q=x&lat=38&lon=NaN", "`lon`"),
            ("q=x&lat=38&lon=inf", "`lon`"),
            ("q=x&lat=38&lon=16&bbox=1,2,3,4", "not both"),
            ("q=x&bbox=1,2,3", "four numbers"),
            ("q=x&bbox=1,2,3,4,5", "four numbers"),
            ("q=x&bbox=1,2,x,4", "four numbers"),
            ("q=x&bbox=1,2,NaN,4", "four numbers"),
            ("q=x&bbox=16.5,38.8,16.1,39.1", "below the maximum"),
            ("q=x&bbox=16,38,16,39", "below the maximum"),
            ("q=x&bbox=-200,38,16,39", "within"),
        ] {
            let err = params(query).unwrap_err();
            assert!(err.contains(phrase), "{query}: {err}");
        }
        // A q of exactly 200 characters (not bytes) is fine.
        assert!(params(&format!("q={}", "à".repeat(200))).is_ok());
    }
}
