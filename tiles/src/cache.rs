//! The cache of finished tiles (raw MVT, compressed forms made once on demand), keyed by layer set, address and
//! date, from which one tile can be dropped.
//!
//! Martin's own cache can only drop a whole source. Here every cached key is also indexed by its address, so that a
//! change under one point drops exactly the tiles showing it, whatever layer sets they were asked with. Requests for
//! a tile being made wait for it (one query per tile, however many clients ask at once), and a tile whose data
//! changed while it was being made is handed to those waiting but never stored.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::{Encoding, Layer, LayerSet, Result, TileCoord};

/// A tile as asked for: its layers, address and (for zoning) date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileKey {
    pub layers: LayerSet,
    pub coord: TileCoord,
    /// The date zoning is shown in force on; `None` when no layer of the set reads it.
    pub date: Option<NaiveDate>,
}

/// A finished tile: the MVT bytes, its entity tag and its compressed forms (made on first use, then kept).
#[derive(Debug)]
pub struct Tile {
    raw: Bytes,
    etag: String,
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
}

impl Tile {
    /// A tile of `raw` MVT bytes (possibly empty: no feature there).
    pub fn new(raw: Vec<u8>) -> Tile {
        let digest = Sha256::digest(&raw);
        // Weak: the same tile in any content encoding has the same tag.
        let etag = format!("W/\"{}\"", hex16(&digest[..12]));
        Tile { raw: Bytes::from(raw), etag, gzip: OnceLock::new(), brotli: OnceLock::new() }
    }

    /// The MVT bytes.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The entity tag (`W/"…"`): the same for the same bytes, in every process.
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// Whether the tile has no feature.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The tile in `encoding`, compressed on the first call and kept.
    pub fn encoded(&self, encoding: Encoding) -> Bytes {
        match encoding {
            Encoding::Identity => self.raw.clone(),
            Encoding::Gzip => self.gzip.get_or_init(|| Bytes::from(encoding.compress(&self.raw))).clone(),
            Encoding::Brotli => self.brotli.get_or_init(|| Bytes::from(encoding.compress(&self.raw))).clone(),
        }
    }

    /// Whether `encoding` is already made (no compression left to do).
    pub fn has_encoded(&self, encoding: Encoding) -> bool {
        match encoding {
            Encoding::Identity => true,
            Encoding::Gzip => self.gzip.get().is_some(),
            Encoding::Brotli => self.brotli.get().is_some(),
        }
    }

    /// Bytes this tile may hold once compressed both ways (what the cache weighs it at).
    fn weight(&self) -> u32 {
        u32::try_from(self.raw.len().saturating_mul(2).saturating_add(256)).unwrap_or(u32::MAX)
    }
}

fn hex16(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A tile being made, and whether the data under it changed meanwhile.
#[derive(Debug, Default)]
struct Fill {
    tile: tokio::sync::OnceCell<Arc<Tile>>,
    stale: AtomicBool,
    stored: AtomicBool,
}

#[derive(Debug, Default)]
struct Index {
    /// The keys stored per address (some may have been evicted since: dropping those is harmless).
    by_coord: HashMap<TileCoord, Vec<TileKey>>,
    indexed: usize,
    /// Tiles being made.
    filling: HashMap<TileKey, Arc<Fill>>,
}

/// Expiry: tiles of live layers are dropped after `live_ttl` even when no event said so (a station turning
/// silent, a report's age in days); other tiles stay until an import or the size limit drops them.
#[derive(Debug)]
struct Expiry {
    live_ttl: Duration,
}

impl moka::Expiry<TileKey, Arc<Tile>> for Expiry {
    fn expire_after_create(&self, key: &TileKey, _: &Arc<Tile>, _: Instant) -> Option<Duration> {
        key.layers.is_live().then_some(self.live_ttl)
    }
}

/// Tiles kept compressed, droppable one by one.
#[derive(Debug)]
pub struct TileCache {
    tiles: moka::sync::Cache<TileKey, Arc<Tile>>,
    index: Mutex<Index>,
    /// False with a size of 0: every tile is made for its request (requests for one tile at once still share it).
    keeps: bool,
}

impl TileCache {
    /// A cache of at most about `max_bytes` of tiles (0: none kept); tiles with a live layer are kept at most
    /// `live_ttl`.
    pub fn new(max_bytes: u64, live_ttl: Duration) -> TileCache {
        let tiles = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_: &TileKey, tile: &Arc<Tile>| tile.weight())
            .expire_after(Expiry { live_ttl })
            .build();
        TileCache { tiles, index: Mutex::new(Index::default()), keeps: max_bytes > 0 }
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        // The index holds no invariant a panic elsewhere could break half-way.
        self.index.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The stored tile of `key`, if any.
    pub fn get(&self, key: &TileKey) -> Option<Arc<Tile>> {
        self.tiles.get(key)
    }

    /// The tile of `key`: stored, being made by another request (then waited for), or made now by `make` and
    /// stored unless its data changed meanwhile ([`TileCache::drop_at`] and the others).
    pub async fn get_or_make<F, Fut>(&self, key: TileKey, make: F) -> Result<Arc<Tile>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>>>,
    {
        if let Some(tile) = self.tiles.get(&key) {
            return Ok(tile);
        }
        let fill = self.index().filling.entry(key).or_default().clone();
        let made = fill
            .tile
            .get_or_try_init(|| async { Ok::<_, crate::Error>(Arc::new(Tile::new(make().await?))) })
            .await;
        let mut index = self.index();
        if index.filling.get(&key).is_some_and(|f| Arc::ptr_eq(f, &fill)) {
            index.filling.remove(&key);
        }
        let tile = made?.clone();
        if self.keeps && !fill.stale.load(Ordering::Acquire) && !fill.stored.swap(true, Ordering::AcqRel) {
            self.tiles.insert(key, tile.clone());
            index.by_coord.entry(key.coord).or_default().push(key);
            index.indexed += 1;
            self.prune(&mut index);
        }
        Ok(tile)
    }

    /// Forgets index entries of tiles the cache no longer holds, when they outnumber the stored ones.
    fn prune(&self, index: &mut Index) {
        let stored = usize::try_from(self.tiles.entry_count()).unwrap_or(usize::MAX);
        if index.indexed <= stored.saturating_mul(2).saturating_add(4096) {
            return;
        }
        self.tiles.run_pending_tasks();
        index.by_coord.retain(|_, keys| {
            keys.retain(|k| self.tiles.contains_key(k));
            !keys.is_empty()
        });
        index.indexed = index.by_coord.values().map(Vec::len).sum();
    }

    /// Drops the tiles at `coords` that have `layer`, stored or being made. Returns how many stored ones.
    pub fn drop_at(&self, layer: Layer, coords: &[TileCoord]) -> usize {
        let mut index = self.index();
        let mut dropped = 0;
        for coord in coords {
            if let Some(keys) = index.by_coord.get_mut(coord) {
                dropped += self.drop_keys(keys, layer);
                if keys.is_empty() {
                    index.by_coord.remove(coord);
                }
            }
        }
        let coords: HashSet<&TileCoord> = coords.iter().collect();
        Self::forget(&mut index, dropped, layer, |coord| coords.contains(&coord));
        dropped
    }

    /// Drops the tiles that have `layer` and whose address `at` accepts, stored or being made.
    pub fn drop_where(&self, layer: Layer, at: impl Fn(TileCoord) -> bool) -> usize {
        let mut index = self.index();
        let mut dropped = 0;
        index.by_coord.retain(|coord, keys| {
            if at(*coord) {
                dropped += self.drop_keys(keys, layer);
            }
            !keys.is_empty()
        });
        Self::forget(&mut index, dropped, layer, at);
        dropped
    }

    /// Drops from the cache, and from `keys`, the keys of one address that have `layer`; how many.
    fn drop_keys(&self, keys: &mut Vec<TileKey>, layer: Layer) -> usize {
        let before = keys.len();
        keys.retain(|k| {
            let hit = k.layers.contains(layer);
            if hit {
                self.tiles.invalidate(k);
            }
            !hit
        });
        before - keys.len()
    }

    /// After `dropped` stored tiles went: the index's count, and the tiles of `layer` being made where `at`
    /// accepts, which are handed out when made but not kept.
    fn forget(index: &mut Index, dropped: usize, layer: Layer, at: impl Fn(TileCoord) -> bool) {
        index.indexed -= dropped.min(index.indexed);
        index.filling.retain(|k, fill| {
            let hit = k.layers.contains(layer) && at(k.coord);
            if hit {
                fill.stale.store(true, Ordering::Release);
            }
            !hit
        });
    }

    /// Drops every tile that has `layer`.
    pub fn drop_layer(&self, layer: Layer) -> usize {
        self.drop_where(layer, |_| true)
    }

    /// Stored tiles (approximate: evictions are counted lazily).
    pub fn len(&self) -> u64 {
        self.tiles.run_pending_tasks();
        self.tiles.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn key(list: &str, z: u8, x: u32, y: u32) -> TileKey {
        TileKey { layers: LayerSet::parse(list).unwrap(), coord: TileCoord { z, x, y }, date: None }
    }

    fn bytes(b: &'static [u8]) -> impl FnOnce() -> std::future::Ready<Result<Vec<u8>>> {
        move || std::future::ready(Ok(b.to_vec()))
    }

    /// Asks `cache` for the tile of `key` three times, one after the other; how many times it was made.
    async fn made_for_three_requests(cache: &TileCache, key: TileKey) -> usize {
        let made = AtomicUsize::new(0);
        for _ in 0..3 {
            let tile = cache
                .get_or_make(key, || async {
                    made.fetch_add(1, Ordering::SeqCst);
                    Ok(b"abc".to_vec())
                })
                .await
                .unwrap();
            assert_eq!(&tile.raw()[..], b"abc");
        }
        made.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_tile_is_made_once_then_served_from_the_cache() {
        let cache = TileCache::new(1 << 20, Duration::from_secs(60));
        assert_eq!(made_for_three_requests(&cache, key("stations", 14, 1, 2)).await, 1);
    }

    #[tokio::test]
    async fn a_cache_of_size_zero_makes_every_tile_for_its_request() {
        let cache = TileCache::new(0, Duration::from_secs(60));
        assert_eq!(made_for_three_requests(&cache, key("dbt", 15, 1, 2)).await, 3);
        assert!(cache.get(&key("dbt", 15, 1, 2)).is_none());
    }

    #[tokio::test]
    async fn dropping_a_tile_drops_every_set_with_that_layer_at_that_address_only() {
        let cache = TileCache::new(1 << 20, Duration::from_secs(60));
        for k in [
            key("stations", 14, 1, 2),
            key("stations,comuni", 14, 1, 2),
            key("comuni", 14, 1, 2),
            key("stations", 14, 1, 3),
        ] {
            cache.get_or_make(k, bytes(b"x")).await.unwrap();
        }
        assert_eq!(cache.drop_at(Layer::Stations, &[TileCoord { z: 14, x: 1, y: 2 }]), 2);
        assert!(cache.get(&key("stations", 14, 1, 2)).is_none());
        assert!(cache.get(&key("comuni,stations", 14, 1, 2)).is_none());
        assert!(cache.get(&key("comuni", 14, 1, 2)).is_some());
        assert!(cache.get(&key("stations", 14, 1, 3)).is_some());
        assert_eq!(cache.drop_layer(Layer::Stations), 1);
        assert!(cache.get(&key("stations", 14, 1, 3)).is_none());
        assert!(cache.get(&key("comuni", 14, 1, 2)).is_some());
    }

    #[tokio::test]
    async fn a_tile_whose_data_changed_while_it_was_made_is_not_kept() {
        let cache = Arc::new(TileCache::new(1 << 20, Duration::from_secs(60)));
        let k = key("stations", 10, 5, 5);
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let filling = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get_or_make(k, || async move {
                        let _ = started_tx.send(());
                        let _ = go_rx.await;
                        Ok(b"old".to_vec())
                    })
                    .await
            })
        };
        started_rx.await.unwrap();
        cache.drop_at(Layer::Stations, &[k.coord]);
        go_tx.send(()).unwrap();
        assert_eq!(&filling.await.unwrap().unwrap().raw()[..], b"old");
        assert!(cache.get(&k).is_none(), "a tile made from data older than a change was stored");
        let fresh = cache.get_or_make(k, bytes(b"new")).await.unwrap();
        assert_eq!(&fresh.raw()[..], b"new");
    }

    #[test]
    fn tags_follow_the_bytes() {
        assert_eq!(Tile::new(b"a".to_vec()).etag(), Tile::new(b"a".to_vec()).etag());
        assert_ne!(Tile::new(b"a".to_vec()).etag(), Tile::new(b"b".to_vec()).etag());
        assert!(Tile::new(Vec::new()).etag().starts_with("W/\""));
    }
}
