// Vedetta web app: the popups of the map's stations and reports (public map and dashboard). A click on a station
// or a report of the map opens its popup; the pages' lists have a "map" button per item that opens the same popup
// from the keyboard (the map itself cannot be browsed feature by feature). The popup takes the focus, Escape or
// its close button closes it, and the focus goes back to where it was.
// Test hooks: .vedetta-popup [data-popup="station"][data-code][data-level][data-silent] or
// [data-popup="report"][data-report-id][data-status], [data-field="kind|value|level|state|category|status|age|
// supporters"], a[data-action="open-report"], button[data-action="close-popup"].

import { strings, t, api, el, levelBadge, levelName, num, when, ago, onLanguage, levelOfValue, maxLevel } from "/assets/common.js";

strings({
  "popup.close": ["Chiudi", "Close"],
  "popup.kind": ["Tipo", "Kind"], "popup.latest": ["Ultima lettura", "Latest reading"],
  "popup.level": ["Livello", "Level"], "popup.state": ["Stato", "State"],
  "popup.none": ["nessuna lettura", "no reading"],
  "popup.category": ["Categoria", "Category"], "popup.status": ["Stato", "Status"],
  "popup.age": ["Inviata", "Filed"], "popup.supporters": ["Sostegni", "Supporters"],
  "popup.today": ["oggi", "today"], "popup.days": ["{n} giorni fa", "{n} days ago"],
  "popup.open": ["Apri la segnalazione n. {id}", "Open report no. {id}"],
  "popup.report": ["Segnalazione n. {id}", "Report no. {id}"],
});

/**
 * What a page's popups show, from the page's live state (its Maps kept current by the SSE streams):
 * - `stationLevel(feature)`: the station's colour, its latest level against its thresholds raised by a firing
 *   hydrological alert on it (the rule of the stations tiles; technical alerts such as silence do not colour it);
 * - `stationData(props)`: a station's popup data, from the page's feature, else from the tile's attributes;
 * - `reportData(props, id)`: the page's report, else the API's public one.
 */
export function livePopupData({ stations, alerts, reports }) {
  function stationLevel(f) {
    const p = f.properties;
    let level = p.kind === "hydrometer" ? levelOfValue(p.thresholds, p.latest?.v) : "none";
    for (const a of alerts.values()) {
      if (a.subject === p.code && a.state === "firing" && a.category === "hydro") level = maxLevel(level, a.level);
    }
    return level;
  }
  function stationData(props) {
    const f = stations.get(props.code);
    if (!f) return { code: props.code, kind: props.kind, value: props.value, at: props.observed_at, level: props.level, silent: props.silent };
    const p = f.properties;
    return { code: p.code, name: p.name, kind: p.kind, unit: p.unit, value: p.latest?.v, at: p.latest?.t, level: stationLevel(f),
      silent: (p.state || "silent") === "silent" };
  }
  async function reportData(props, id) {
    return reports.get(Number(id)) || api(`/api/reports/${encodeURIComponent(id)}`);
  }
  return { stationLevel, stationData, reportData };
}

/** The open popup: { popup, render, opener }. */
let current = null;

onLanguage(() => redraw());

/**
 * A station's popup content. `s`: { code, name?, kind, value?, unit?, at? (ISO or seconds since 1970), level
 * (verde|gialla|arancione|rossa|none), silent }; `actions`: extra nodes (buttons) for the page.
 */
export function stationContent(s, actions = []) {
  const level = levelName(s.level);
  const at = typeof s.at === "number" ? new Date(s.at * 1000).toISOString() : s.at;
  const value = typeof s.value === "number"
    ? `${num(s.value)} ${s.unit || (s.kind === "rain_gauge" ? "mm" : "m")}${at ? ` (${when(at)})` : ""}` : t("popup.none");
  return card({ popup: "station", code: s.code, level, silent: String(!!s.silent) },
    s.name ? `${s.name} (${s.code})` : s.code,
    [["kind", t("popup.kind"), t(`kind.${s.kind}`)], ["value", t("popup.latest"), value],
      ["level", t("popup.level"), levelBadge(level)], ["state", t("popup.state"), t(s.silent ? "state.silent" : "state.reporting")]],
    actions);
}

/**
 * A report's popup content. `r`: { id, category (code), category_name? (the page's or the API's), status,
 * supporters, created_at? (ISO) or age_days }.
 */
export function reportContent(r) {
  const category = r.category_name || r.category;
  const age = r.created_at ? ago((Date.now() - Date.parse(r.created_at)) / 1000)
    : r.age_days > 0 ? t("popup.days", { n: r.age_days }) : t("popup.today");
  return card({ popup: "report", reportId: String(r.id), status: r.status }, `${category} — ${t("popup.report", { id: r.id })}`,
    [["category", t("popup.category"), category], ["status", t("popup.status"), t(`status.${r.status}`)],
      ["age", t("popup.age"), age], ["supporters", t("popup.supporters"), num(r.supporters ?? 0, 0)]],
    [el("a", { href: `/segnalazioni/${r.id}`, dataset: { action: "open-report" } }, t("popup.open", { id: r.id }))]);
}

function card(dataset, title, rows, actions) {
  return el("div", { class: "popup", dataset },
    el("h2", { class: "popup-title" }, title),
    el("dl", { class: "legend" }, ...rows.flatMap(([field, name, value]) => [el("dt", {}, name), el("dd", { dataset: { field } }, value)])),
    el("div", { class: "row" }, ...actions,
      el("button", { type: "button", class: "secondary", dataset: { action: "close-popup" }, onclick: () => closePopup() }, t("popup.close"))));
}

/**
 * Opens a popup on `map` at `lngLat` with the content `render()` gives (called again by `redraw()` and on a change
 * of language). `opener`: the element to give the focus back to on closing (default: the focused one).
 */
export function openPopup(map, lngLat, render, opener = document.activeElement) {
  const maplibregl = window.vedetta?.maplibregl;
  if (!map || !maplibregl) return null;
  closePopup();
  const popup = new maplibregl.Popup({ closeButton: false, closeOnClick: true, focusAfterOpen: false, maxWidth: "22rem",
    className: "vedetta-popup" });
  const entry = { popup, render, opener };
  current = entry;
  popup.setLngLat(lngLat).setDOMContent(render()).addTo(map);
  popup.on("close", () => {
    if (current === entry) current = null;
    if (entry.restore && entry.opener && document.contains(entry.opener)) entry.opener.focus();
  });
  const root = popup.getElement();
  root.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); closePopup(); } });
  // The focus goes into the popup (its first link or button), so that a keyboard user is where the content is.
  root.querySelector("a, button")?.focus();
  return popup;
}

/** Closes the open popup (the focus goes back to its opener). */
export function closePopup() {
  if (!current) return;
  const entry = current;
  entry.restore = entry.opener !== document.body;
  current = null;
  entry.popup.remove();
}

/** Redraws the open popup from its data (after a live update), keeping the focus on the same control. */
export function redraw() {
  if (!current) return;
  const root = current.popup.getElement();
  const focused = root?.contains(document.activeElement) ? document.activeElement.dataset.action : null;
  current.popup.setDOMContent(current.render());
  if (focused) current.popup.getElement()?.querySelector(`[data-action="${focused}"]`)?.focus();
}

/** What the open popup shows: `{popup: "station", code}`, `{popup: "report", reportId}` or null. */
export function openFeature() {
  return current ? { ...current.popup.getElement()?.querySelector(".popup")?.dataset } : null;
}

/**
 * Opens the popups on clicks on the map's stations and reports. `station(props)` answers the station's data
 * (see stationContent: the page's, merged with the tile's `props`) and `stationActions(code)` the page's buttons;
 * `report(props, id)` the report's (a promise is fine). A pointer over a feature shows a hand.
 */
export function bindPopups(map, { station, stationActions = () => [], report }) {
  if (!map) return;
  const layerIds = (sourceLayer) => (map.getStyle()?.layers || []).filter((l) => l["source-layer"] === sourceLayer).map((l) => l.id);
  const hit = (point) => {
    const box = [[point.x - 6, point.y - 6], [point.x + 6, point.y + 6]];
    const layers = [...layerIds("stations"), ...layerIds("reports")].filter((id) => map.getLayer(id));
    if (!layers.length) return null;
    const found = map.queryRenderedFeatures(box, { layers });
    return found.find((f) => f.sourceLayer === "stations") || found.find((f) => f.sourceLayer === "reports") || null;
  };
  map.on("click", (ev) => {
    const f = hit(ev.point);
    if (!f) return;
    if (f.sourceLayer === "stations") showStation(map, f.geometry.coordinates, () => station(f.properties), stationActions(f.properties.code), map.getCanvas());
    else showReport(map, f.geometry.coordinates, report, f.properties, f.id, map.getCanvas());
  });
  map.on("mousemove", (ev) => { map.getCanvas().style.cursor = hit(ev.point) ? "pointer" : ""; });
}

/** Opens the popup of a station at `lngLat`: `data()` gives its current data (read again at each redraw). */
export function showStation(map, lngLat, data, actions = [], opener) {
  return openPopup(map, lngLat, () => stationContent(data(), actions), opener);
}

/**
 * Opens the popup of report `id` at `lngLat` from the tile's `props` at once, then from `report(props, id)` (the
 * page's data or the API's) when it answers.
 */
export async function showReport(map, lngLat, report, props, id, opener) {
  let data = { id, ...props };
  const popup = openPopup(map, lngLat, () => reportContent(data), opener);
  try {
    const better = await report(props, id);
    if (better && current?.popup === popup) { data = { ...data, ...better }; redraw(); }
  } catch { /* the tile's data */ }
  return popup;
}
