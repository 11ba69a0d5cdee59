// Vedetta web app: the map of every page, on MapLibre GL JS (vendored, served by Vedetta) and Vedetta's vector
// tiles (`/tiles/style.json`). Test hooks: #map[data-loaded] ("true" | "unavailable"), #map[data-center="lat,lon"],
// #map[data-zoom], window.vedetta.map (the maplibregl.Map).

import { t, onLanguage } from "/assets/common.js";

/** Source layers that change live: the pages refresh exactly their changed tiles on the SSE events. */
const LIVE = new Set(["stations", "reports", "alert_zones"]);
/** The URL scheme of live tiles (see liveTiles). */
const LIVE_PROTOCOL = "vedetta-live";

/** An empty style: the map still works (and shows nothing) until the tiles' style answers. */
const EMPTY_STYLE = { version: 8, sources: {}, layers: [{ id: "background", type: "background", paint: { "background-color": "#dfe5ea" } }] };

window.vedetta = window.vedetta || {};

/**
 * Makes the map in `container`, showing the tiles' style layers of `layers` (source-layer names). Options: `center`
 * [lon, lat], `zoom`, `hash` (keep `#z/lat/lon` in the URL). Answers the maplibregl.Map, or null when MapLibre is
 * not available (the page keeps working from its lists).
 */
export async function createMap(container, { layers = [], center, zoom, hash = false } = {}) {
  let maplibregl;
  try {
    maplibregl = await import("/assets/vendor/maplibre-gl.mjs");
  } catch (e) {
    maplibregl = {};
  }
  if (!maplibregl.Map) {
    container.dataset.loaded = "unavailable";
    container.dataset.message = t("map.unavailable");
    onLanguage(() => { container.dataset.message = t("map.unavailable"); });
    return null;
  }
  let style = EMPTY_STYLE;
  try {
    const res = await fetch("/tiles/style.json", { credentials: "same-origin" });
    if (res.ok) style = await res.json();
  } catch { /* the empty style */ }
  style = { ...style, layers: (style.layers || []).filter((l) => !l["source-layer"] || layers.includes(l["source-layer"])) };
  style = liveTiles(maplibregl, style);
  const fromHash = hash ? readHash() : null;
  // The first view: the URL's permalink, else the page's own, else the territory, else the style's, else Italy.
  const territory = fromHash || center ? null : await territoryBbox();
  const map = new maplibregl.Map({
    container,
    style,
    center: fromHash ? fromHash.center : center || style.center || [12.5, 42.0],
    zoom: fromHash ? fromHash.zoom : zoom ?? style.zoom ?? 5,
    bounds: territory ? [[territory[0], territory[1]], [territory[2], territory[3]]] : undefined,
    fitBoundsOptions: { padding: 40, maxZoom: 13 },
    attributionControl: { compact: true },
    locale: { "Map.Title": t("map.label") },
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  window.vedetta.map = map;
  window.vedetta.maplibregl = maplibregl;
  const record = () => {
    const c = map.getCenter();
    container.dataset.center = `${c.lat.toFixed(6)},${c.lng.toFixed(6)}`;
    container.dataset.zoom = map.getZoom().toFixed(2);
    if (hash) history.replaceState(null, "", `#${map.getZoom().toFixed(2)}/${c.lat.toFixed(5)}/${c.lng.toFixed(5)}`);
  };
  map.on("moveend", record);
  map.on("load", () => { record(); container.dataset.loaded = "true"; });
  if (hash) {
    window.addEventListener("hashchange", () => {
      const h = readHash();
      if (h) map.jumpTo({ center: h.center, zoom: h.zoom });
    });
  }
  return map;
}

/**
 * Live layers' tiles go through the `vedetta-live://` protocol. Their answers say `Cache-Control: no-cache`;
 * with a max-age MapLibre would reload every tile whose expiry passes, changed or not. Through the protocol a tile carries no expiry:
 * it is loaded again only when the page asks (refreshTiles on the SSE events: exactly the changed tiles), and then
 * always from the server (`no-cache`: revalidated by its ETag, never a copy older than the event).
 */
function liveTiles(maplibregl, style) {
  if (typeof maplibregl.addProtocol !== "function") return style;
  if (!liveTiles.registered) {
    liveTiles.registered = true;
    maplibregl.addProtocol(LIVE_PROTOCOL, async (params, abort) => {
      const url = params.url.slice(LIVE_PROTOCOL.length + 3);
      const res = await fetch(url, { signal: abort.signal, cache: "no-cache", credentials: "same-origin" });
      if (!res.ok) throw new Error(`${res.status} ${res.statusText}: ${url}`);
      return { data: await res.arrayBuffer() };
    });
  }
  const live = new Set((style.layers || []).filter((l) => LIVE.has(l["source-layer"])).map((l) => l.source));
  const sources = {};
  for (const [id, source] of Object.entries(style.sources || {})) {
    sources[id] = live.has(id) && Array.isArray(source.tiles)
      ? { ...source, tiles: source.tiles.map((u) => `${LIVE_PROTOCOL}://${/^https?:\/\//.test(u) ? u : location.origin + u}`) } : source;
  }
  return { ...style, sources };
}

/**
 * Reloads every tile of the live layers (after the live streams were interrupted: the events of the gap may be
 * gone).
 */
export function refreshLive(map) {
  if (!map || !map.isStyleLoaded()) return;
  const sources = new Set((map.getStyle()?.layers || []).filter((l) => LIVE.has(l["source-layer"])).map((l) => l.source));
  for (const id of sources) {
    try { if (map.getSource(id)) map.refreshTiles(id); } catch (e) { console.warn(e); }
  }
}

/**
 * An `onState` for common.js `follow`: when a stream is live again after an interruption, the live layers are
 * reloaded (`map()` gives the map, or null).
 */
export function onReconnect(map, then = () => {}) {
  let wasLive = false;
  let lost = false;
  return (state) => {
    if (state === "live") {
      if (lost) refreshLive(map());
      wasLive = true;
      lost = false;
    } else if (wasLive) {
      lost = true;
    }
    then(state);
  };
}

/**
 * The territory Vedetta watches: the extent of the federated comuni (OGC API collection), else of the stations,
 * or null.
 */
async function territoryBbox() {
  const json = async (url) => {
    const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    return res.ok ? res.json() : null;
  };
  try {
    const b = (await json("/ogc/collections/comuni"))?.extent?.spatial?.bbox?.[0];
    if (Array.isArray(b) && b.length === 4 && b[2] > b[0] && b[3] > b[1] && b[2] - b[0] < 20) return b;
  } catch { /* the stations' extent */ }
  try {
    const points = ((await json("/api/stations?limit=10000"))?.features || []).map((f) => f.geometry?.coordinates).filter(Boolean);
    if (!points.length) return null;
    const b = bboxOf(points);
    return [b[0] - 0.01, b[1] - 0.01, b[2] + 0.01, b[3] + 0.01];
  } catch {
    return null;
  }
}

/** `#z/lat/lon` of the URL, if valid. */
function readHash() {
  const parts = location.hash.replace(/^#/, "").split("/").map(Number);
  if (parts.length < 3 || parts.some((n) => !Number.isFinite(n))) return null;
  const [zoom, lat, lon] = parts;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180 || zoom < 0 || zoom > 24) return null;
  return { zoom, center: [lon, lat] };
}

/** The style layers drawing `sourceLayer`. */
function styleLayers(map, sourceLayer) {
  return (map.getStyle()?.layers || []).filter((l) => l["source-layer"] === sourceLayer);
}

/** Whether the style has layers of `sourceLayer`. */
export function hasLayer(map, sourceLayer) { return !!map && styleLayers(map, sourceLayer).length > 0; }

/** Shows or hides every style layer of `sourceLayer`. */
export function setVisible(map, sourceLayer, visible) {
  if (!map) return;
  for (const l of styleLayers(map, sourceLayer)) map.setLayoutProperty(l.id, "visibility", visible ? "visible" : "none");
}

/**
 * Binds the checkboxes `#layer-<name>` to the style layers of each source-layer `name`: the map shows what the
 * boxes say from the start (the style may hide a layer by default) and follows them.
 */
export function bindLayerSwitcher(map, names) {
  for (const name of names) {
    const box = document.getElementById(`layer-${name}`);
    if (!box) continue;
    box.addEventListener("change", () => setVisible(map, name, box.checked));
    whenLoaded(map, () => setVisible(map, name, box.checked));
  }
}

/** Calls `fn(map)` once the style is loaded (at once if it is). */
export function whenLoaded(map, fn) {
  if (!map) return;
  if (map.loaded() || map.isStyleLoaded()) fn(map);
  else map.once("load", () => fn(map));
}

/**
 * Reloads exactly the tiles of `sourceLayer` that cover `bbox` [minlon, minlat, maxlon, maxlat] at the zooms the
 * map is showing (MapLibre's refreshTiles: the other tiles and layers stay as they are). Too many tiles: the source.
 */
export function refreshBbox(map, sourceLayer, bbox) {
  if (!map || !map.isStyleLoaded()) return;
  const sources = new Set(styleLayers(map, sourceLayer).map((l) => l.source));
  for (const id of sources) {
    const source = map.getSource(id);
    if (!source) continue;
    const maxzoom = Math.min(source.maxzoom ?? 22, 22);
    const minzoom = source.minzoom ?? 0;
    const base = Math.floor(map.getZoom());
    const tiles = [];
    for (let z = Math.max(minzoom, base - 1); z <= Math.min(maxzoom, base + 1); z++) {
      const [x0, y1] = tileOf(bbox[0], bbox[1], z);
      const [x1, y0] = tileOf(bbox[2], bbox[3], z);
      for (let x = x0; x <= x1; x++) for (let y = y0; y <= y1; y++) tiles.push({ z, x, y });
    }
    try {
      if (tiles.length > 256) map.refreshTiles(id);
      else if (tiles.length) map.refreshTiles(id, tiles);
    } catch (e) { console.warn(e); }
  }
}

/** Reloads the tiles of `sourceLayer` holding the point. */
export function refreshAt(map, sourceLayer, lon, lat) { refreshBbox(map, sourceLayer, [lon, lat, lon, lat]); }

/** The tile (x, y) holding a WGS84 point at zoom z (Web Mercator). */
export function tileOf(lon, lat, z) {
  const n = 2 ** z;
  const clamped = Math.max(-85.05112878, Math.min(85.05112878, lat));
  const x = Math.floor(((lon + 180) / 360) * n);
  const r = (clamped * Math.PI) / 180;
  const y = Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
  return [Math.min(n - 1, Math.max(0, x)), Math.min(n - 1, Math.max(0, y))];
}

/** The bounding box of GeoJSON coordinates (any nesting). */
export function bboxOf(coordinates) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === "number") { b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]); b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]); }
    else for (const x of c) walk(x);
  };
  walk(coordinates);
  return b;
}

/** The map's view as [minlon, minlat, maxlon, maxlat], or null. */
export function viewBbox(map) {
  if (!map) return null;
  const b = map.getBounds();
  return [Math.max(-180, b.getWest()), Math.max(-90, b.getSouth()), Math.min(180, b.getEast()), Math.min(90, b.getNorth())];
}
