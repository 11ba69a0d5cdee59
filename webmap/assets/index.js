// `/`: the public map — stations with their live status, alert zones coloured by the current alerts, citizen
// reports, address search biased to the view, layer switcher, legend, permalink `#z/lat/lon`, and the operations
// status of the platform in a small panel.
// Test hooks: #map, #search-input, #search-results, [data-testid="search-result"], #layer-switcher,
// #layer-reports, #layer-stations, #layer-alert_zones, #layer-comuni, #legend, #status-panel, #status[data-state],
// #parts, #version, #stations-list [data-station-code][data-level][data-state][data-value],
// #alerts-list [data-alert-id][data-level][data-state], #reports-list [data-report-id][data-status], body[data-ready];
// [data-action="show-on-map"] in the station and report items, and the popups (see popup.js).

import { initPage, strings, t, api, el, searchBox, follow, levelBadge, levelOfValue, maxLevel, levelName, num, ago,
  onLanguage, ready } from "/assets/common.js";
import { createMap, bindLayerSwitcher, refreshAt, refreshBbox, bboxOf, viewBbox, onReconnect } from "/assets/mapview.js";
import { bindPopups, showStation, showReport, livePopupData, redraw as redrawPopup } from "/assets/popup.js";

strings({
  "index.title": ["Mappa del territorio", "Map of the territory"],
  "index.map": ["Mappa del territorio: stazioni, zone di allerta e segnalazioni (gli elenchi accanto ne sono l'alternativa testuale)",
    "Map of the territory: stations, alert zones and reports (the lists beside it are its text alternative)"],
  "layers": ["Livelli", "Layers"], "layer.alert_zones": ["Zone di allerta", "Alert zones"], "layer.stations": ["Stazioni", "Stations"],
  "layer.reports": ["Segnalazioni", "Reports"], "layer.comuni": ["Comuni", "Comuni (municipalities)"],
  "legend": ["Legenda", "Legend"],
  "legend.verde": ["Verde: nessuna criticità", "Green: no concern"],
  "legend.gialla": ["Gialla: soglia di attenzione", "Yellow: attention threshold"],
  "legend.arancione": ["Arancione: soglia di preallarme", "Orange: pre-alarm threshold"],
  "legend.rossa": ["Rossa: soglia di allarme", "Red: alarm threshold"],
  "legend.station": ["Stazione (colore della soglia raggiunta; grigia se silente)", "Station (colour of the threshold reached; grey when silent)"],
  "legend.report": ["Segnalazione dei cittadini", "Citizen report"], "legend.comune": ["Confine comunale", "Comune boundary"],
  "status.title": ["Stato del servizio", "Service status"], "status.parts": ["Stato dei componenti", "State of the components"],
  "status.part": ["Componente", "Component"], "status.state": ["Stato", "State"],
  "status.checking": ["Verifica dello stato in corso…", "Checking…"], "status.ok": ["Vedetta è attiva", "Vedetta is up"],
  "status.degraded": ["Vedetta è degradata", "Vedetta is degraded"], "status.unreachable": ["Vedetta non risponde", "Vedetta does not answer"],
  "part.up": ["attivo", "up"], "part.down": ["non disponibile", "unavailable"],
  "part.database": ["Database (PostGIS)", "Database (PostGIS)"], "part.mqtt": ["MQTT (sensori)", "MQTT (sensors)"],
  "part.ingest": ["Acquisizione letture", "Readings ingest"],
  "alerts.title": ["Allerte in corso", "Current alerts"], "alerts.none": ["Nessuna allerta in corso", "No current alert"],
  "stations.title": ["Stazioni", "Stations"], "stations.none": ["Nessuna stazione", "No station"],
  "reports.title": ["Segnalazioni aperte", "Open reports"], "reports.none": ["Nessuna segnalazione aperta", "No open report"],
  "supporters": ["{n} sostegni", "{n} supporters"],
  "show": ["Mappa", "Map"], "show.station": ["Mappa: stazione {name}", "Map: station {name}"],
  "show.report": ["Mappa: segnalazione n. {id}", "Map: report no. {id}"],
});

const stations = new Map(); // code → GeoJSON feature
const alerts = new Map(); // id → alert
const reports = new Map(); // id → public report
const { stationLevel, stationData, reportData } = livePopupData({ stations, alerts, reports });
let map = null;
let zoneBoxes = new Map(); // zone code → bbox
let loaded = false;

initPage();
main();

async function main() {
  health();
  setInterval(health, 10000);
  createMap(document.getElementById("map"), { layers: ["comuni", "alert_zones", "stations", "reports"], hash: true })
    .then((m) => {
      map = m;
      bindLayerSwitcher(map, ["reports", "stations", "alert_zones", "comuni"]);
      bindPopups(map, { station: stationData, report: reportData });
      if (loaded) renderAll(); // with the lists' map buttons
    });
  searchBox({
    input: document.getElementById("search-input"), list: document.getElementById("search-results"),
    status: document.getElementById("search-status"), bbox: () => viewBbox(map),
    onPick: (c) => map && map.flyTo({ center: [c.lon, c.lat], zoom: c.kind === "civico" ? 18 : 16 }),
  });
  await Promise.allSettled([loadStations(), loadAlerts(), loadReports(), loadZones()]);
  loaded = true;
  renderAll();
  onLanguage(() => { renderAll(); health(); });
  follow("/api/readings/stream", { readings: onReadings }, onReconnect(() => map));
  follow("/api/alerts/stream", { alert: onAlert }, onReconnect(() => map));
  follow("/api/reports/stream", { report: onReport }, onReconnect(() => map));
  ready();
}

async function loadStations() {
  const fc = await api("/api/stations");
  for (const f of fc.features || []) stations.set(f.properties.code, f);
}

async function loadAlerts() {
  const page = await api("/api/alerts?state=firing&limit=200");
  for (const a of page.alerts || []) alerts.set(a.id, a);
}

async function loadReports() {
  const page = await api("/api/reports?status=new,acknowledged,in_progress,reopened&limit=200");
  for (const r of page.reports || []) reports.set(r.id, r);
}

async function loadZones() {
  const fc = await api("/api/alerts/zones");
  zoneBoxes = new Map((fc.features || []).filter((f) => f.geometry).map((f) => [f.properties.code, bboxOf(f.geometry.coordinates)]));
}

/** The "map" button of a list item: shows the feature's popup (the keyboard's way to the map's popups). */
function showButton(label, lngLat, open) {
  return el("button", { type: "button", class: "secondary", dataset: { action: "show-on-map" }, "aria-label": label,
    onclick: (e) => {
      if (!map) return;
      map.jumpTo({ center: lngLat, zoom: Math.max(map.getZoom(), 14) });
      open(e.currentTarget);
    } }, t("show"));
}

function renderAll() { renderStations(); renderAlerts(); renderReports(); }

function renderStations() {
  const list = document.getElementById("stations-list");
  const items = [...stations.values()].sort((a, b) => a.properties.code.localeCompare(b.properties.code)).map(stationItem);
  list.replaceChildren(...(items.length ? items : [el("li", {}, t("stations.none"))]));
}

function stationItem(f) {
  const p = f.properties;
  const level = stationLevel(f);
  const value = p.latest?.v;
  return el("li", { dataset: { stationCode: p.code, level, state: p.state || "silent", value: value ?? "" } },
    el("span", { class: "grow" }, el("strong", {}, p.name), ` (${p.code}, ${t(`kind.${p.kind}`)})`),
    el("span", {}, value === undefined || value === null ? "–" : `${num(value)} ${p.unit || ""}`),
    levelBadge(level), el("span", { class: "badge status" }, t(`state.${p.state || "silent"}`)),
    map ? showButton(t("show.station", { name: p.name }), f.geometry.coordinates,
      (opener) => showStation(map, f.geometry.coordinates, () => stationData({ code: p.code }), [], opener)) : null);
}

function renderAlerts() {
  const list = document.getElementById("alerts-list");
  const items = [...alerts.values()].filter((a) => a.state === "firing")
    .sort((a, b) => b.updated_at.localeCompare(a.updated_at))
    .map((a) => el("li", { dataset: { alertId: a.id, level: levelName(a.level), state: a.state } },
      levelBadge(a.level),
      el("span", { class: "grow" }, `${a.subject}${a.zone && a.zone !== a.subject ? ` (${a.zone})` : ""} — ${a.hazard}`,
        a.value !== null && a.value !== undefined ? `: ${num(a.value)} ${a.unit || ""}` : ""),
      el("span", { class: "note" }, ago((Date.now() - Date.parse(a.updated_at)) / 1000))));
  list.replaceChildren(...(items.length ? items : [el("li", {}, t("alerts.none"))]));
}

function renderReports() {
  const list = document.getElementById("reports-list");
  const items = [...reports.values()].sort((a, b) => b.created_at.localeCompare(a.created_at)).slice(0, 100)
    .map((r) => el("li", { dataset: { reportId: r.id, status: r.status } },
      el("a", { class: "grow", href: `/segnalazioni/${r.id}` }, `${r.category_name} — ${r.address || r.comune_name}`),
      el("span", { class: "badge status" }, t(`status.${r.status}`)),
      el("span", { class: "note" }, t("supporters", { n: r.supporters })),
      map ? showButton(t("show.report", { id: r.id }), [r.lon, r.lat],
        (opener) => showReport(map, [r.lon, r.lat], reportData, {}, r.id, opener)) : null));
  list.replaceChildren(...(items.length ? items : [el("li", {}, t("reports.none"))]));
}

function onReadings(r) {
  const f = stations.get(r.station);
  if (!f) return;
  f.properties.latest = { t: r.latest_at, v: r.latest_value, qc: r.latest_qc };
  f.properties.state = "reporting";
  const old = document.querySelector(`#stations-list [data-station-code="${CSS.escape(r.station)}"]`);
  if (old) old.replaceWith(stationItem(f));
  const [lon, lat] = f.geometry.coordinates;
  refreshAt(map, "stations", lon, lat);
  redrawPopup();
}

function onAlert(a) {
  alerts.set(a.id, a);
  renderAlerts();
  const f = stations.get(a.subject);
  if (f) {
    const old = document.querySelector(`#stations-list [data-station-code="${CSS.escape(a.subject)}"]`);
    if (old) old.replaceWith(stationItem(f));
    refreshAt(map, "stations", ...f.geometry.coordinates);
  }
  const box = a.zone && zoneBoxes.get(a.zone);
  if (box) refreshBbox(map, "alert_zones", box);
  redrawPopup();
}

function onReport(change) {
  const r = change.report;
  if (["new", "acknowledged", "in_progress", "reopened"].includes(r.status)) reports.set(r.id, r);
  else reports.delete(r.id);
  renderReports();
  refreshAt(map, "reports", r.lon, r.lat);
  redrawPopup();
}

async function health() {
  const status = document.getElementById("status");
  try {
    const res = await fetch("/healthz", { cache: "no-store" });
    const body = await res.json();
    const state = res.ok ? "ok" : "degraded";
    status.textContent = t(`status.${state}`);
    status.dataset.state = state;
    document.getElementById("version").textContent = body.version ? `v${body.version}` : "";
    const rows = ["database", "mqtt", "ingest"].filter((k) => k in body).map((k) => {
      const up = body[k] === "ok";
      const why = body.errors && body.errors[k] ? ` — ${body.errors[k]}` : "";
      return el("tr", {}, el("td", {}, t(`part.${k}`)), el("td", { class: up ? "ok" : "down" }, t(up ? "part.up" : "part.down") + why));
    });
    document.getElementById("parts").replaceChildren(...rows);
  } catch {
    status.textContent = t("status.unreachable");
    status.dataset.state = "unreachable";
  }
}
