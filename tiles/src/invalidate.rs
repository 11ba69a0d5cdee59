//! The invalidator: follows the live-event spine (whichever Vedetta process committed the change) and drops
//! exactly the cached tiles the change is under.
//!
//! | event | dropped |
//! |---|---|
//! | `readings.committed` | `stations`: the tiles showing each station, at every zoom |
//! | `station.changed` | `stations`: the tiles showing the station where it is and where it was |
//! | `report.changed` | `reports`: the tiles showing the report, at every zoom (its position never changes; the event of any change, hiding and approval included, drops them) |
//! | `alert.changed` | `alert_zones`: the tiles over the zone's extent; `stations`: the station's tiles for an alert on a station |
//! | `import.finished` | each layer it names, whole |
//!
//! Station positions and zone extents are read once and kept (an import of stations or zones forgets them). When a
//! position cannot be read, the whole layer is dropped: never a stale tile.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use database::event::{Event, Spine};
use serde_json::Value;
use sqlx::PgPool;
use tracing::{debug, warn};

use crate::{Error, Layer, Result, TileCoord, Tiles};

/// Most positions kept in memory (stations, zone extents) before they are read again.
const MAX_REMEMBERED: usize = 100_000;

/// Follows the spine and drops changed tiles from a [`Tiles`] cache.
#[derive(Debug)]
pub struct Invalidator {
    tiles: Arc<Tiles>,
    pool: PgPool,
    /// Station code → WGS84 position.
    stations: HashMap<String, (f64, f64)>,
    /// Zone code → WGS84 extent `[west, south, east, north]`.
    zones: HashMap<String, [f64; 4]>,
}

impl Invalidator {
    /// Starts following `spine` (from its current end) in a task of the current runtime; the task ends when the
    /// spine stops. Requests for live layers then wait, briefly, for the events this process has received to be
    /// applied ([`crate::TilesOptions::freshness_wait`]).
    pub async fn start(
        tiles: Arc<Tiles>,
        spine: Arc<Spine>,
        pool: PgPool,
    ) -> Result<tokio::task::JoinHandle<()>> {
        let from = database::event::last_id(&pool).await.map_err(|e| match e {
            database::Error::Database(source) => Error::Lookup { what: "where the event spine ends", source },
            other => Error::Connect { detail: other.to_string() },
        })?;
        // Every event after `from` passes through the subscription (all kinds: each one moves the position).
        let mut subscription = spine.subscribe(Some(from), &[]);
        tiles.follow(spine, from);
        let mut invalidator = Invalidator { tiles, pool, stations: HashMap::new(), zones: HashMap::new() };
        Ok(tokio::spawn(async move {
            loop {
                match subscription.next().await {
                    Ok(Some(event)) => {
                        invalidator.apply(&event).await;
                        invalidator.tiles.set_applied(event.id);
                    }
                    Ok(None) => return,
                    Err(e) => {
                        warn!(error = %e, "The tile invalidator cannot read the event spine; retrying.");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }))
    }

    /// Drops what `event` changed.
    pub async fn apply(&mut self, event: &Event) {
        let payload = &event.payload;
        match event.kind.as_str() {
            "readings.committed" => {
                let items: Vec<&Value> = match payload {
                    Value::Array(items) => items.iter().collect(),
                    one => vec![one],
                };
                let codes: Vec<&str> = items.iter().filter_map(|r| r["station"].as_str()).collect();
                self.drop_stations(&codes).await;
            }
            "station.changed" => {
                let code = payload["code"].as_str().unwrap_or_default();
                let mut points: Vec<(f64, f64)> = ["position", "previous"]
                    .iter()
                    .filter_map(|k| Some((payload[k]["lon"].as_f64()?, payload[k]["lat"].as_f64()?)))
                    .collect();
                if let Some(p) = self.stations.remove(code) {
                    points.push(p);
                }
                if let Some(p) = points.first().filter(|_| payload["position"].is_object()) {
                    self.stations.insert(code.to_string(), *p);
                }
                if points.is_empty() {
                    self.drop_layer(Layer::Stations);
                } else {
                    self.drop_points(Layer::Stations, &points);
                }
            }
            "report.changed" => {
                let report = &payload["report"];
                match (report["lon"].as_f64(), report["lat"].as_f64()) {
                    (Some(lon), Some(lat)) => self.drop_points(Layer::Reports, &[(lon, lat)]),
                    _ => self.drop_layer(Layer::Reports),
                }
            }
            "alert.changed" => {
                if let Some(zone) = payload["zone"].as_str() {
                    self.drop_zone(zone).await;
                } else if payload["subject_kind"] == "zone"
                    && let Some(zone) = payload["subject"].as_str()
                {
                    self.drop_zone(zone).await;
                }
                if payload["subject_kind"] == "station"
                    && let Some(code) = payload["subject"].as_str()
                {
                    self.drop_stations(&[code]).await;
                }
            }
            "import.finished" => {
                let layers = payload["layers"].as_array().map(Vec::as_slice).unwrap_or_default();
                for name in layers.iter().filter_map(Value::as_str) {
                    match Layer::from_name(name) {
                        Some(layer) => self.drop_layer(layer),
                        None => debug!(layer = name, "An import changed a layer tiles do not show."),
                    }
                    match name {
                        "stations" => self.stations.clear(),
                        "alert_zones" => self.zones.clear(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// Drops the `stations` tiles showing each of `codes`.
    async fn drop_stations(&mut self, codes: &[&str]) {
        let missing: Vec<String> =
            codes.iter().filter(|c| !self.stations.contains_key(**c)).map(|c| c.to_string()).collect();
        if !missing.is_empty() {
            if self.stations.len() + missing.len() > MAX_REMEMBERED {
                self.stations.clear();
            }
            let found: std::result::Result<Vec<(String, f64, f64)>, sqlx::Error> = sqlx::query_as(
                "select code, st_x(geom), st_y(geom) from sensors.station where code = any($1)",
            )
            .bind(&missing)
            .fetch_all(&self.pool)
            .await;
            match found {
                Ok(rows) => self.stations.extend(rows.into_iter().map(|(code, lon, lat)| (code, (lon, lat)))),
                Err(source) => {
                    let e = Error::Lookup { what: "station positions", source };
                    warn!(error = %e, "Dropping every stations tile instead.");
                    self.drop_layer(Layer::Stations);
                    return;
                }
            }
        }
        let points: Vec<(f64, f64)> = codes.iter().filter_map(|c| self.stations.get(*c).copied()).collect();
        self.drop_points(Layer::Stations, &points);
    }

    /// Drops the `alert_zones` tiles over the extent of zone `code` (the whole layer when it is unknown).
    async fn drop_zone(&mut self, code: &str) {
        if !self.zones.contains_key(code) {
            if self.zones.len() >= MAX_REMEMBERED {
                self.zones.clear();
            }
            let found: std::result::Result<Option<(f64, f64, f64, f64)>, sqlx::Error> = sqlx::query_as(
                "select st_xmin(b), st_ymin(b), st_xmax(b), st_ymax(b)
                 from (select st_extent(geom) as b from alerts.zone where code = $1) e where b is not null",
            )
            .bind(code)
            .fetch_optional(&self.pool)
            .await;
            match found {
                Ok(Some((w, s, e, n))) => {
                    self.zones.insert(code.to_string(), [w, s, e, n]);
                }
                Ok(None) => return self.drop_layer(Layer::AlertZones),
                Err(source) => {
                    let e = Error::Lookup { what: "alert zone extents", source };
                    warn!(error = %e, "Dropping every alert zone tile instead.");
                    return self.drop_layer(Layer::AlertZones);
                }
            }
        }
        let Some(&[w, s, e, n]) = self.zones.get(code) else { return };
        let dropped = self.tiles.cache().drop_where(Layer::AlertZones, |coord| {
            let [tw, ts, te, tn] = coord.bounds(crate::coord::BUFFER);
            tw <= e && te >= w && ts <= n && tn >= s
        });
        count(Layer::AlertZones, dropped);
    }

    /// Drops the tiles of `layer` showing any of `points`, at every zoom.
    fn drop_points(&self, layer: Layer, points: &[(f64, f64)]) {
        let mut coords = Vec::with_capacity(points.len() * (usize::from(TileCoord::MAX_ZOOM) + 1));
        for &(lon, lat) in points {
            for z in 0..=TileCoord::MAX_ZOOM {
                coords.extend(TileCoord::showing(lon, lat, z));
            }
        }
        coords.sort_unstable();
        coords.dedup();
        count(layer, self.tiles.cache().drop_at(layer, &coords));
    }

    fn drop_layer(&self, layer: Layer) {
        count(layer, self.tiles.cache().drop_layer(layer));
    }
}

fn count(layer: Layer, dropped: usize) {
    if dropped > 0 {
        metrics::counter!("vedetta_tiles_dropped_total", "layer" => layer.name()).increment(dropped as u64);
    }
}
