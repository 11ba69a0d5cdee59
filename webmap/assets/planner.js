// `/pianificazione`: the planner's map — DBT and zoning layers with the plan in force at a date, a click reads the
// zones in force at that point (with the NTA article), a polygon drawn by clicks gives the zones it touches and the
// overlap areas (POST /api/zoning/intersect), exported as GeoJSON or CSV in the browser; address search.
// Test hooks: #zoning-date, #layer-zoning, #layer-dbt, #layer-civici, #map (click), #zoning-result[data-state]
// (empty|loading|done|none|error) with [data-zone-code] items, #draw-toggle[aria-pressed], #draw-vertices,
// #draw-finish, #draw-clear, #draw-error, #intersect-result[data-state], #intersect-area[data-m2],
// #intersect-table tbody tr[data-zone-code][data-overlap-m2], #export-geojson, #export-csv, #search-input.

import { initPage, strings, t, api, el, searchBox, num, today, download, onLanguage, ready } from "/assets/common.js";
import { createMap, bindLayerSwitcher, viewBbox, whenLoaded } from "/assets/mapview.js";

strings({
  "pl.title": ["Pianificazione del territorio", "Land-use planning"],
  "pl.map": ["Mappa di pianificazione: zonizzazione e database topografico (le zone del punto scelto sono elencate accanto)",
    "Planning map: zoning and topographic database (the zones at the chosen point are listed beside it)"],
  "pl.date": ["Piano in vigore alla data", "Plan in force on"], "layers": ["Livelli", "Layers"],
  "layer.zoning": ["Zonizzazione", "Zoning"], "layer.dbt": ["Database topografico (DBT)", "Topographic database (DBT)"],
  "layer.civici": ["Numeri civici", "House numbers"],
  "pl.at": ["Zone nel punto scelto", "Zones at the chosen point"],
  "pl.click": ["Clicca sulla mappa per leggere le zone in vigore in quel punto.", "Click the map to read the zones in force at that point."],
  "pl.none": ["Nessuna zona in vigore in questo punto alla data scelta.", "No zone in force at this point on that date."],
  "pl.loading": ["Ricerca…", "Looking up…"],
  "pl.zone": ["Zona {code}", "Zone {code}"], "pl.nta": ["NTA: {nta}", "NTA: {nta}"],
  "pl.plan": ["{plan} ({version}, approvato il {approved})", "{plan} ({version}, approved {approved})"],
  "pl.draw": ["Area di progetto", "Project area"],
  "pl.draw.hint": ["Attiva il disegno e clicca i vertici sulla mappa, poi calcola le zone toccate.", "Turn drawing on and click the corners on the map, then compute the zones touched."],
  "pl.draw.toggle": ["Disegna un poligono", "Draw a polygon"], "pl.vertices": ["Vertici:", "Corners:"],
  "pl.draw.finish": ["Calcola le zone", "Compute the zones"], "pl.draw.clear": ["Cancella", "Clear"],
  "pl.draw.few": ["Servono almeno 3 vertici.", "At least 3 corners are needed."],
  "pl.area": ["Superficie dell'area:", "Area of the polygon:"], "pl.table": ["Zone toccate dall'area e sovrapposizioni", "Zones the area touches and overlaps"],
  "pl.col.code": ["Zona", "Zone"], "pl.col.class": ["Classe", "Class"], "pl.col.nta": ["NTA", "NTA"],
  "pl.col.overlap": ["Sovrapposizione (m²)", "Overlap (m²)"], "pl.col.share": ["Quota", "Share"],
  "pl.export.geojson": ["Esporta GeoJSON", "Export GeoJSON"], "pl.export.csv": ["Esporta CSV", "Export CSV"],
});

let map = null;
let drawing = false;
let vertices = []; // [lon, lat]
let result = null; // the last intersection answer, with its polygon
let lastPoint = null;

initPage();
boot();

function boot() {
  const date = document.getElementById("zoning-date");
  date.value = today();
  date.addEventListener("change", () => { applyDate(); if (lastPoint) zonesAt(...lastPoint); });
  createMap(document.getElementById("map"), { layers: ["comuni", "dbt", "zoning", "civici", "streets"], hash: true }).then((m) => {
    map = m;
    bindLayerSwitcher(map, ["zoning", "dbt", "civici"]);
    if (!map) return ready();
    whenLoaded(map, () => {
      map.addSource("draw", { type: "geojson", data: drawn() });
      map.addLayer({ id: "draw-fill", type: "fill", source: "draw", filter: ["==", "$type", "Polygon"], paint: { "fill-color": "#b3261e", "fill-opacity": 0.2 } });
      map.addLayer({ id: "draw-line", type: "line", source: "draw", paint: { "line-color": "#b3261e", "line-width": 2 } });
      map.addLayer({ id: "draw-points", type: "circle", source: "draw", filter: ["==", "$type", "Point"], paint: { "circle-radius": 4, "circle-color": "#b3261e" } });
      applyDate();
      ready();
    });
    map.on("click", (e) => {
      if (drawing) { vertices.push([e.lngLat.lng, e.lngLat.lat]); redraw(); }
      else zonesAt(e.lngLat.lat, e.lngLat.lng);
    });
  });
  searchBox({
    input: document.getElementById("search-input"), list: document.getElementById("search-results"),
    status: document.getElementById("search-status"), bbox: () => viewBbox(map),
    onPick: (c) => { map?.flyTo({ center: [c.lon, c.lat], zoom: 18 }); zonesAt(c.lat, c.lon); },
  });
  document.getElementById("draw-toggle").addEventListener("click", () => {
    drawing = !drawing;
    document.getElementById("draw-toggle").setAttribute("aria-pressed", String(drawing));
    if (map) map.getCanvas().style.cursor = drawing ? "crosshair" : "";
  });
  document.getElementById("draw-finish").addEventListener("click", intersect);
  document.getElementById("draw-clear").addEventListener("click", () => { vertices = []; result = null; redraw(); renderIntersection(); });
  document.getElementById("export-geojson").addEventListener("click", exportGeojson);
  document.getElementById("export-csv").addEventListener("click", exportCsv);
  onLanguage(() => { renderIntersection(); if (lastPoint) zonesAt(...lastPoint); });
  renderIntersection();
}

const date = () => document.getElementById("zoning-date").value || today();

/** Points the zoning tiles at the chosen date (`?date=` on the tiles' URLs). */
function applyDate() {
  if (!map) return;
  const ids = new Set((map.getStyle()?.layers || []).filter((l) => l["source-layer"] === "zoning").map((l) => l.source));
  for (const id of ids) {
    const source = map.getSource(id);
    if (!source || !Array.isArray(source.tiles) || typeof source.setTiles !== "function") continue;
    source.setTiles(source.tiles.map((u) => {
      const url = new URL(u, location.origin);
      url.searchParams.set("date", date());
      return decodeURI(url.href);
    }));
  }
}

async function zonesAt(lat, lon) {
  lastPoint = [lat, lon];
  const out = document.getElementById("zoning-result");
  out.dataset.state = "loading";
  out.replaceChildren(el("p", {}, t("pl.loading")));
  try {
    const answer = await api(`/api/zoning/at?lat=${lat}&lon=${lon}&date=${date()}`);
    const zones = answer.zones || [];
    out.dataset.state = zones.length ? "done" : "none";
    out.replaceChildren(zones.length ? el("ul", { class: "items" }, ...zones.map((z) => el("li", { dataset: { zoneCode: z.code } },
      el("span", { class: "grow" }, el("strong", {}, t("pl.zone", { code: z.code })), z.class ? ` — ${z.class}` : "",
        z.nta ? el("span", {}, el("br"), t("pl.nta", { nta: z.nta })) : null, el("br"),
        el("span", { class: "note" }, t("pl.plan", { plan: z.plan, version: z.version, approved: z.approved })))))) : el("p", {}, t("pl.none")));
  } catch (e) {
    out.dataset.state = "error";
    out.replaceChildren(el("p", { class: "error" }, e.detail || e.message));
  }
}

function polygon() {
  return { type: "Polygon", coordinates: [[...vertices, vertices[0]]] };
}

function drawn() {
  const features = vertices.map((v) => ({ type: "Feature", geometry: { type: "Point", coordinates: v }, properties: {} }));
  if (vertices.length >= 3) features.push({ type: "Feature", geometry: polygon(), properties: {} });
  else if (vertices.length === 2) features.push({ type: "Feature", geometry: { type: "LineString", coordinates: vertices }, properties: {} });
  return { type: "FeatureCollection", features };
}

function redraw() {
  document.getElementById("draw-vertices").textContent = String(vertices.length);
  map?.getSource("draw")?.setData(drawn());
}

async function intersect() {
  const error = document.getElementById("draw-error");
  error.textContent = "";
  if (vertices.length < 3) { error.textContent = t("pl.draw.few"); return; }
  const out = document.getElementById("intersect-result");
  out.dataset.state = "loading";
  try {
    const geometry = polygon();
    const answer = await api(`/api/zoning/intersect?date=${date()}`, { json: geometry });
    result = { ...answer, geometry };
  } catch (e) {
    result = null;
    error.textContent = e.detail || e.message;
  }
  renderIntersection();
}

function renderIntersection() {
  const out = document.getElementById("intersect-result");
  const area = document.getElementById("intersect-area");
  out.dataset.state = result ? "done" : "empty";
  area.textContent = result ? `${num(result.area_m2, 1)} m²` : "–";
  if (result) area.dataset.m2 = result.area_m2; else delete area.dataset.m2;
  document.querySelector("#intersect-table tbody").replaceChildren(...(result?.zones || []).map((z) =>
    el("tr", { dataset: { zoneCode: z.code, overlapM2: z.overlap_m2 } },
      el("td", {}, z.code), el("td", {}, z.class || ""), el("td", {}, z.nta || ""),
      el("td", { class: "num" }, num(z.overlap_m2, 1)), el("td", { class: "num" }, `${num(z.share * 100, 1)} %`))));
  for (const id of ["export-geojson", "export-csv"]) document.getElementById(id).disabled = !result;
}

function exportGeojson() {
  if (!result) return;
  const feature = { type: "Feature", geometry: result.geometry, properties: { date: result.date, area_m2: result.area_m2, zones: result.zones } };
  download("zone-area.geojson", "application/geo+json", JSON.stringify({ type: "FeatureCollection", features: [feature] }, null, 2));
}

function exportCsv() {
  if (!result) return;
  const cell = (v) => { const s = v === null || v === undefined ? "" : String(v); return /[",\n;]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s; };
  const rows = [["plan", "version", "code", "class", "nta", "overlap_m2", "share", "area_m2", "date"]]
    .concat(result.zones.map((z) => [z.plan, z.version, z.code, z.class, z.nta, z.overlap_m2, z.share, result.area_m2, result.date]));
  download("zone-area.csv", "text/csv", rows.map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n");
}
