//! The Italian geocoder over ANNCSU: forward geocoding with autocomplete, and reverse geocoding.
//!
//! **Forward** ([`Geocoder::search`]) takes what a user types, one keystroke at a time, and returns ranked
//! candidates: `via garib`, `V.le Mazzini 3`, `p.zza s. domenico`, `d'azeglio`/`dazeglio`/`D’AZEGLIO`,
//! `IV Novembre` = `4 Novembre`, `garibladi` (a typo), `12`, `12A`, `12/A`, `12 bis`, `12r`, `12 rosso`, `n. 12`,
//! `civico 12`, `snc`, `km 3,5`, a comune at the end (`…, Lamezia Terme`) or as a filter (ISTAT code, Belfiore
//! code or name). House numbers are matched exactly: a number that does not exist on a street gives the street
//! (kind `street`, with a note saying so) and the civici with the same number and another exponent or colour
//! (`12/A`, `12r`), never an interpolated position. Genova's red numbers are addresses of their own: `12r` is
//! not `12`.
//!
//! **Design.** Street names live in an in-memory index ([`index`]: a sorted vocabulary of normalised words with
//! postings, prefix ranges, bounded edit distance; about 250 bytes per street), built at the first search and
//! rebuilt when an import changes `toponymy.revision` (checked at most once a second, at once after an import in
//! the same process). Civici stay in PostgreSQL: the civici with the asked number on the best candidate streets
//! come from one query on the `(street, numero)` btree. A street's point is the located civico nearest the
//! centroid of its located civici; a street none of whose civici has a position takes a point of its comune
//! (`core.comune`, with a note) or, when the comune has no boundary there, is not returned. A civico without
//! coordinates is returned at its street's point, as kind `street` with a note.
//!
//! **Comuni.** Labels name the comune (`Atrio Addolorata 12, Lamezia Terme`): ISTAT's name from the list of comuni
//! (`core.comune_registry`), else the boundary's, else — neither imported — the ISTAT code ANNCSU gives. A comune
//! written in the query, in any of its languages, at the end (`…, Lamezia Terme`, `… 12 Lamezia`, as typed:
//! `… lamez`), at the start or between commas, with its province (`Lamezia Terme (CZ)`), restricts the candidates
//! to it. The index reloads when `core.comune_revision` moves too.
//!
//! **Reverse** ([`Geocoder::reverse`]): the nearest civico with a position within a radius, distance in metres
//! on the WGS84 spheroid.
//!
//! # Coordinates
//! Longitude/latitude in degrees, WGS84 (EPSG:4326). ANNCSU's ETRF2000 (EPSG:6706) positions are taken as
//! WGS84: the two frames differ by less than a metre in Italy, below ANNCSU's accuracy.

mod index;
mod load;
pub mod normalize;
mod query;
mod reverse;
mod search;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::Result;
pub use reverse::MAX_RADIUS_M;

/// Candidates returned when the query does not say.
pub const DEFAULT_LIMIT: usize = 10;
/// Most candidates a query may ask for.
pub const MAX_LIMIT: usize = 50;
/// Characters of a query that are read (an address is far shorter; the rest is ignored).
pub const MAX_QUERY_CHARS: usize = 200;

/// Where the user is looking (the map's view), which breaks ties: between candidates of equal score, the nearer
/// first (the same street name in two comuni).
///
/// # Units
/// Longitude and latitude in degrees, WGS84 (EPSG:4326).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Near {
    /// A point.
    Point { lon: f64, lat: f64 },
    /// A bounding box (the map's view): nearness to its centre.
    View { min_lon: f64, min_lat: f64, max_lon: f64, max_lat: f64 },
}

impl Near {
    /// The point distances are measured from; `None` when it is not a valid longitude/latitude (or box).
    fn focus(&self) -> Option<(f64, f64)> {
        let valid = |lon: f64, lat: f64| (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat);
        match *self {
            Near::Point { lon, lat } => valid(lon, lat).then_some((lon, lat)),
            Near::View { min_lon, min_lat, max_lon, max_lat } => (valid(min_lon, min_lat)
                && valid(max_lon, max_lat)
                && min_lon <= max_lon
                && min_lat <= max_lat)
                .then(|| ((min_lon + max_lon) / 2.0, (min_lat + max_lat) / 2.0)),
        }
    }
}

/// A forward geocoding query (`GET /api/geocode?q=&comune=&limit=`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GeocodeQuery {
    /// What the user typed, possibly partial (`via garib`).
    pub q: String,
    /// Restricts the search to a comune: ISTAT code (`079160`), Belfiore code (`M208`) or name in any of its
    /// languages (`Lamezia Terme`, `Bozen`). A comune that no imported street belongs to finds nothing.
    pub comune: Option<String>,
    /// Most candidates, default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`].
    pub limit: Option<usize>,
}

/// What a candidate's point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    /// The position of the civico itself.
    Civico,
    /// The representative point of the street ("street only").
    Street,
}

/// A geocoding result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// `Via Giuseppe Garibaldi 12/A, Lamezia Terme` (with the locality before the comune when the street has
    /// one).
    pub label: String,
    /// Name of the comune: ISTAT's (`core.comune_registry`), else the boundary's (`core.comune`); its ISTAT code
    /// only when neither was imported.
    pub comune: String,
    /// ISTAT code of the comune.
    pub istat: String,
    /// WGS84 longitude, degrees.
    pub lon: f64,
    /// WGS84 latitude, degrees.
    pub lat: f64,
    /// Relevance in [0, 1]; 1 is every word and the number matched exactly.
    pub score: f64,
    pub kind: MatchKind,
    /// The street's name as displayed (`Via Giuseppe Garibaldi`).
    pub street: String,
    /// The house number as written (`12`, `12/A`, `12 bis`, `12r`, `km 3,5`, `snc`), for a civico.
    pub civico: Option<String>,
    /// Why the result is not exactly what was asked (`civico 999 not found: street only`).
    pub note: Option<String>,
}

/// A reverse geocoding result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReverseHit {
    /// The nearest civico (kind `civico`, score 1).
    pub civico: Option<Candidate>,
    /// Its street's name.
    pub street: Option<String>,
    /// Distance from the asked point to the civico, metres on the WGS84 spheroid.
    pub distance_m: f64,
}

/// Figures about the loaded index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IndexStats {
    pub streets: usize,
    pub terms: usize,
    /// Heap bytes of the index, roughly.
    pub bytes: usize,
    /// `toponymy.revision` it was built from.
    pub revision: i64,
}

/// The geocoder: cheap to clone and share (an `Arc` inside).
#[derive(Debug, Clone)]
pub struct Geocoder {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    current: RwLock<Option<Snapshot>>,
    reload: tokio::sync::Mutex<()>,
    check_every: Duration,
}

#[derive(Debug, Clone)]
struct Snapshot {
    index: Arc<index::Index>,
    local_revision: u64,
    checked: Instant,
}

impl Geocoder {
    /// A geocoder on `pool`. Nothing is read until the first search (or [`Geocoder::refresh`]).
    pub fn new(pool: PgPool) -> Self {
        Geocoder::with_check_interval(pool, Duration::from_secs(1))
    }

    /// A geocoder that looks for imports made by other processes every `check_every`.
    pub fn with_check_interval(pool: PgPool, check_every: Duration) -> Self {
        Geocoder {
            inner: Arc::new(Inner {
                pool,
                current: RwLock::new(None),
                reload: tokio::sync::Mutex::new(()),
                check_every,
            }),
        }
    }

    /// Loads the street index now if it is missing or out of date (a server calls it at start, so that the first
    /// user does not wait).
    pub async fn refresh(&self) -> Result<IndexStats> {
        let index = self.index(true).await?;
        Ok(stats(&index))
    }

    /// Figures about the loaded index, `None` before the first load.
    pub fn stats(&self) -> Option<IndexStats> {
        self.snapshot().map(|s| stats(&s.index))
    }

    fn snapshot(&self) -> Option<Snapshot> {
        self.inner.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The current index, reloaded when an import changed the toponymy.
    async fn index(&self, force_check: bool) -> Result<Arc<index::Index>> {
        let local = crate::anncsu::LOCAL_REVISION.load(std::sync::atomic::Ordering::SeqCst);
        let fresh = |s: &Snapshot| s.local_revision == local && s.checked.elapsed() < self.inner.check_every;
        let current = self.snapshot();
        if let Some(s) = &current
            && !force_check
            && fresh(s)
        {
            return Ok(s.index.clone());
        }
        // One task checks; the others keep using the current index meanwhile.
        let _guard = match (self.inner.reload.try_lock(), &current) {
            (Ok(guard), _) => guard,
            (Err(_), Some(s)) if !force_check => return Ok(s.index.clone()),
            (Err(_), _) => self.inner.reload.lock().await,
        };
        let current = self.snapshot();
        if let Some(s) = &current
            && fresh(s)
            && !force_check
        {
            return Ok(s.index.clone());
        }
        let (revision, comuni_revision): (i64, i64) = sqlx::query_as(
            "select t.revision, c.revision from toponymy.revision t cross join core.comune_revision c",
        )
        .fetch_one(&self.inner.pool)
        .await?;
        let index = match current {
            Some(s) if s.index.revision == revision && s.index.comuni_revision == comuni_revision => s.index,
            _ => {
                let started = Instant::now();
                let index = Arc::new(load::load(&self.inner.pool).await?);
                tracing::info!(
                    streets = index.len(),
                    terms = index.terms(),
                    bytes = index.approx_bytes(),
                    revision = index.revision,
                    ms = started.elapsed().as_millis() as u64,
                    "Geocoder index loaded."
                );
                index
            }
        };
        *self.inner.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Snapshot { index: index.clone(), local_revision: local, checked: Instant::now() });
        Ok(index)
    }

    /// Forward geocoding: ranked candidates for `q`, best first.
    pub async fn search(&self, q: &GeocodeQuery) -> Result<Vec<Candidate>> {
        self.search_near(q, None).await
    }

    /// Forward geocoding with the user's view: ranked candidates for `q`, best first, and among equal scores the
    /// nearer `near` first. A comune named in the text (`…, Lamezia Terme`, `Lamezia …`, `… Lamezia (CZ)`)
    /// restricts the candidates to it; words that match nothing lower the score but never empty the result.
    pub async fn search_near(&self, q: &GeocodeQuery, near: Option<Near>) -> Result<Vec<Candidate>> {
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let text: String = q.q.chars().take(MAX_QUERY_CHARS).collect();
        if text.trim().is_empty() {
            return Ok(vec![]);
        }
        let index = self.index(false).await?;
        let filter = match q.comune.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(comune) => match index.resolve_comune(comune) {
                Some(ids) => Some(ids),
                None => return Ok(vec![]),
            },
            None => None,
        };
        let near = near.and_then(|n| n.focus());
        search::search(&self.inner.pool, &index, &text, filter.as_deref(), limit, near).await
    }

    /// Reverse geocoding: the civico nearest to (`lon`, `lat`) within `radius_m` metres (at most
    /// [`MAX_RADIUS_M`]), with its street and the distance. `None` when there is none, or the point is not a
    /// longitude/latitude.
    ///
    /// # Units
    /// `lon`, `lat` in degrees, WGS84 (EPSG:4326); `radius_m` and the distance in metres.
    pub async fn reverse(&self, lon: f64, lat: f64, radius_m: f64) -> Result<Option<ReverseHit>> {
        reverse::reverse(&self.inner.pool, lon, lat, radius_m).await
    }
}

fn stats(index: &index::Index) -> IndexStats {
    IndexStats {
        streets: index.len(),
        terms: index.terms(),
        bytes: index.approx_bytes(),
        revision: index.revision,
    }
}
