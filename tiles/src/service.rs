//! The tile service: one Martin PostgreSQL source per layer, the cache in front of them, and the requests.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{Datelike, NaiveDate, Utc};
use database::event::Spine;
use martin_core::CacheZoomRange;
use martin_core::tiles::postgres::{PostgresError, PostgresPool, PostgresSource, PostgresSqlInfo};
use martin_core::tiles::{MartinCoreError, Source, UrlQuery};
use martin_tile_utils::{Encoding as MartinEncoding, Format, TileInfo};
use tokio::sync::watch;
use tracing::debug;

use crate::cache::{Tile, TileCache, TileKey};
use crate::{Error, Layer, LayerSet, Result, TileCoord};

/// How the tile service runs.
#[derive(Debug, Clone)]
pub struct TilesOptions {
    /// Connections of the tile pool (Martin's, beside Vedetta's own pool).
    pub pool_size: usize,
    /// About how many bytes of tiles the cache keeps.
    pub cache_bytes: u64,
    /// Longest a layer's tile query may run (PostgreSQL cancels it: `statement_timeout` of the tile pool), and
    /// longest a request waits for a connection of the pool.
    pub tile_timeout: Duration,
    /// Longest a tile of a live layer is kept without an event dropping it (stations turning silent, a report's
    /// age in days): a safety net, events drop changed tiles at once.
    pub live_ttl: Duration,
    /// Longest a request for a live layer waits for the invalidator to apply the events this process has seen.
    pub freshness_wait: Duration,
}

impl Default for TilesOptions {
    fn default() -> Self {
        TilesOptions {
            pool_size: 8,
            cache_bytes: 256 * 1024 * 1024,
            tile_timeout: Duration::from_secs(10),
            live_ttl: Duration::from_secs(30),
            freshness_wait: Duration::from_millis(500),
        }
    }
}

/// A request for a tile: layers, address and (for zoning) date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRequest {
    pub layers: LayerSet,
    pub coord: TileCoord,
    /// Zoning in force on this date (default: today, UTC).
    pub date: Option<NaiveDate>,
}

impl TileRequest {
    /// Reads a request as the URL gives it: `layers` comma-separated, `z`, `x`, `file` = `{y}.mvt`, `date` =
    /// `YYYY-MM-DD`.
    pub fn parse(layers: &str, z: &str, x: &str, file: &str, date: Option<&str>) -> Result<TileRequest> {
        let layers = LayerSet::parse(layers)?;
        let coord = TileCoord::parse(z, x, file)?;
        let date = date.map(parse_date).transpose()?;
        Ok(TileRequest { layers, coord, date })
    }
}

/// A date as `YYYY-MM-DD`, years 1000–9999.
pub fn parse_date(value: &str) -> Result<NaiveDate> {
    let bad = || Error::BadDate { value: value.chars().take(40).collect() };
    if value.len() != 10 {
        return Err(bad());
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| bad())?;
    if !(1000..=9999).contains(&date.year()) {
        return Err(bad());
    }
    Ok(date)
}

/// The tile service of a Vedetta process.
#[derive(Debug)]
pub struct Tiles {
    /// One source per layer, in the order of [`Layer`]'s variants.
    sources: Vec<(Layer, PostgresSource)>,
    cache: TileCache,
    options: TilesOptions,
    /// The id of the newest spine event the invalidator has applied.
    applied: watch::Sender<i64>,
    /// The process's spine, once an invalidator follows it.
    spine: OnceLock<Arc<Spine>>,
}

impl Tiles {
    /// Opens Martin's pool on `database_url` (a `postgres://` URL or a libpq key=value string) with the tile time
    /// limit as the connections' `statement_timeout`, and prepares a source per layer. Fails when PostgreSQL or
    /// PostGIS (≥ 3.0; 3.5 recommended, see the README) cannot be reached.
    pub async fn connect(database_url: &str, options: TilesOptions) -> Result<Tiles> {
        let url = with_session_options(database_url, options.tile_timeout);
        let pool = PostgresPool::new(&url, None, None, None, options.pool_size.max(1))
            .await
            .map_err(|e| Error::Connect { detail: e.to_string() })?;
        let sources = Layer::ALL
            .into_iter()
            .map(|layer| {
                let info =
                    PostgresSqlInfo::new(layer.sql().to_string(), layer.takes_date(), layer.name().into());
                let tilejson = tilejson::tilejson! { tiles: vec![] };
                let source = PostgresSource::new(
                    layer.name().to_string(),
                    info,
                    tilejson,
                    pool.clone(),
                    TileInfo::new(Format::Mvt, MartinEncoding::Uncompressed),
                    CacheZoomRange::disabled(),
                );
                (layer, source)
            })
            .collect();
        Ok(Tiles {
            sources,
            cache: TileCache::new(options.cache_bytes, options.live_ttl),
            options,
            applied: watch::Sender::new(-1),
            spine: OnceLock::new(),
        })
    }

    /// The tile of `request`: from the cache, or made (each layer's query at once, on the tile pool) and cached.
    /// A request for a live layer first lets the invalidator apply the events this process has already received,
    /// so that a change announced before the request is in its answer.
    pub async fn tile(&self, request: &TileRequest) -> Result<Arc<Tile>> {
        let key = TileKey {
            layers: request.layers,
            coord: request.coord,
            date: request
                .layers
                .takes_date()
                .then(|| request.date.unwrap_or_else(|| Utc::now().date_naive())),
        };
        if request.layers.is_live() {
            self.caught_up().await;
        }
        if let Some(tile) = self.cache.get(&key) {
            metrics::counter!("vedetta_tiles_served_total", "cache" => "hit").increment(1);
            return Ok(tile);
        }
        metrics::counter!("vedetta_tiles_served_total", "cache" => "miss").increment(1);
        self.cache.get_or_make(key, || self.make(key)).await
    }

    /// Waits (at most `freshness_wait`) until the invalidator has applied what the spine has broadcast.
    async fn caught_up(&self) {
        let Some(spine) = self.spine.get() else { return };
        let head = spine.head();
        if *self.applied.borrow() >= head {
            return;
        }
        let mut applied = self.applied.subscribe();
        let _ = tokio::time::timeout(self.options.freshness_wait, applied.wait_for(|a| *a >= head)).await;
    }

    /// Runs the queries of the key's layers and joins their MVT layers into one tile.
    async fn make(&self, key: TileKey) -> Result<Vec<u8>> {
        let TileCoord { z, x, y } = key.coord;
        let xyz = martin_tile_utils::TileCoord { z, x, y };
        let query: Option<UrlQuery> = key.date.map(|d| UrlQuery::from([("date".to_string(), d.to_string())]));
        let parts = key.layers.iter().filter(|l| z >= l.zooms().0).filter_map(|layer| {
            let source = self.sources.iter().find(|(l, _)| *l == layer).map(|(_, s)| s)?;
            let query = if layer.takes_date() { query.as_ref() } else { None };
            let limit = self.options.tile_timeout + Duration::from_secs(1);
            Some(async move {
                let started = std::time::Instant::now();
                let made = tokio::time::timeout(limit, source.get_tile(xyz, query)).await;
                debug!(layer = %layer, z, x, y, ms = started.elapsed().as_millis() as u64, "Tile layer made.");
                match made {
                    Ok(Ok(bytes)) => Ok(bytes),
                    Ok(Err(e)) => Err(match postgres_state(&e) {
                        Failure::Cancelled => {
                            Error::Timeout { layer: layer.name(), z, x, y, limit: self.options.tile_timeout }
                        }
                        Failure::Unavailable => Error::Unavailable { detail: database::outbox::error_chain(&e) },
                        Failure::Other => Error::Query { layer: layer.name(), z, x, y, detail: database::outbox::error_chain(&e) },
                    }),
                    Err(_) => Err(Error::Timeout { layer: layer.name(), z, x, y, limit }),
                }
            })
        });
        let layers = futures::future::try_join_all(parts).await?;
        Ok(layers.concat())
    }

    /// The cache (the invalidator drops from it).
    pub fn cache(&self) -> &TileCache {
        &self.cache
    }

    pub(crate) fn follow(&self, spine: Arc<Spine>, from: i64) {
        let _ = self.spine.set(spine);
        self.applied.send_replace(from);
    }

    /// The id of the newest spine event the invalidator has applied (−1 before it starts).
    pub fn applied(&self) -> i64 {
        *self.applied.borrow()
    }

    pub(crate) fn set_applied(&self, id: i64) {
        self.applied.send_if_modified(|a| {
            let newer = id > *a;
            if newer {
                *a = id;
            }
            newer
        });
    }
}

/// The URL with the session settings of the tile pool: `statement_timeout`, an application name, and neither JIT
/// nor parallel workers. A tile is a short query among many at once: LLVM compiling its expressions took 35 ms of
/// a 117 ms z14 tile of 6,000 buildings (PostgreSQL's default `jit_above_cost` is reached by such plans), and
/// parallel workers only take the cores from the other requests' queries (bench/tiles).
fn with_session_options(url: &str, timeout: Duration) -> String {
    let ms = timeout.as_millis().max(1);
    let options =
        [format!("statement_timeout={ms}"), "jit=off".into(), "max_parallel_workers_per_gather=0".into()];
    if url.contains("://") {
        let separator = if url.contains('?') { '&' } else { '?' };
        let encoded: Vec<String> =
            options.iter().map(|o| format!("-c%20{}", o.replace('=', "%3D"))).collect();
        format!("{url}{separator}application_name=vedetta-tiles&options={}", encoded.join("%20"))
    } else {
        let plain: Vec<String> = options.iter().map(|o| format!("-c {o}")).collect();
        format!("{url} application_name=vedetta-tiles options='{}'", plain.join(" "))
    }
}

/// How a query of the tile pool failed.
enum Failure {
    /// PostgreSQL cancelled it (`statement_timeout`, SQLSTATE 57014).
    Cancelled,
    /// No connection, or it was lost (the pool's wait, SQLSTATE classes 08 and 57P).
    Unavailable,
    Other,
}

fn postgres_state(e: &MartinCoreError) -> Failure {
    if matches!(e, MartinCoreError::PostgresError(PostgresError::PostgresPoolConnError(..))) {
        return Failure::Unavailable;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(pg) = err.downcast_ref::<tokio_postgres::Error>() {
            let code = pg.code().map(|c| c.code()).unwrap_or_default();
            return if code == "57014" {
                Failure::Cancelled
            } else if pg.is_closed() || code.starts_with("08") || code.starts_with("57P") {
                Failure::Unavailable
            } else {
                Failure::Other
            };
        }
        source = err.source();
    }
    Failure::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_url_carries_the_time_limit() {
        assert_eq!(
            with_session_options("postgres://u:p@127.0.0.1:5432/v", Duration::from_secs(10)),
            "postgres://u:p@127.0.0.1:5432/v?application_name=vedetta-tiles&options=-c%20statement_timeout%3D10000\
             %20-c%20jit%3Doff%20-c%20max_parallel_workers_per_gather%3D0"
        );
        assert!(
            with_session_options("postgres://h/v?sslmode=disable", Duration::from_secs(1))
                .contains("&options=")
        );
        assert!(
            with_session_options("host=/tmp dbname=v", Duration::from_secs(1))
                .ends_with("statement_timeout=1000 -c jit=off -c max_parallel_workers_per_gather=0'")
        );
        // As the driver of Martin's pool reads them.
        for url in ["postgres://u:p@127.0.0.1:5432/v", "host=127.0.0.1 dbname=v"] {
            let config: tokio_postgres::Config =
                with_session_options(url, Duration::from_secs(10)).parse().unwrap();
            assert_eq!(
                config.get_options(),
                Some("-c statement_timeout=10000 -c jit=off -c max_parallel_workers_per_gather=0"),
                "{url}"
            );
            assert_eq!(config.get_application_name(), Some("vedetta-tiles"), "{url}");
        }
    }

    #[test]
    fn requests_are_read_strictly() {
        let r = TileRequest::parse("zoning,comuni", "14", "8598", "5931.mvt", Some("2020-02-29")).unwrap();
        assert_eq!(r.layers.to_string(), "comuni,zoning");
        assert_eq!(r.date, NaiveDate::from_ymd_opt(2020, 2, 29));
        for bad in ["2021-02-29", "2020-2-29", "0999-01-01", "20200229", "2020-02-29T00:00", "\0"] {
            assert!(matches!(parse_date(bad), Err(Error::BadDate { .. })), "{bad:?}");
        }
        assert!(matches!(
            TileRequest::parse("roads", "1", "0", "0.mvt", None),
            Err(Error::UnknownLayer { .. })
        ));
    }
}
