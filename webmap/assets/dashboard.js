// `/protezione-civile`: the civil-protection dashboard (sign-in with a session cookie; the CSRF token from the
// sign-in answer or /api/auth/whoami goes back as X-CSRF-Token). Stations, alerts and reports live through SSE.
// Test hooks: #login-form, #login-username, #login-password, #login-submit, #login-error, #dashboard, #whoami,
// #logout-button, #live-status[data-state] (connecting|live|offline),
// #alerts-list [data-alert-id][data-level][data-state][data-acknowledged] with [data-action="acknowledge"] and
// [data-action="silence"], #stations-list [data-station-code][data-level][data-state][data-value] with
// [data-action="select-station"], #station-panel[data-station-code], #station-chart (svg, data-quantity, data-points),
// line[data-threshold="gialla|arancione|rossa"], #reports-comune, #reports-error,
// #reports-queue [data-report-id][data-status] with [data-transition="acknowledged|in_progress|resolved|closed|
// rejected|reopened|duplicate"], input[data-field="note"] and details.duplicate (input[data-field="duplicate-of"], its
// datalist of nearby reports), [data-action="show-on-map"] in station and report items, the popups (popup.js) with
// [data-action="chart"] for a station, #quality-panel, #silent-count, #silent-list [data-station-code],
// #dead-letters-count, #qc-flags-count, #map, body[data-ready].

import { initPage, strings, t, api, el, setCsrf, follow, levelBadge, levelOfValue, maxLevel, levelName, num, ago, when,
  onLanguage, ready, ApiFailure } from "/assets/common.js";
import { createMap, refreshAt, refreshBbox, bboxOf, onReconnect } from "/assets/mapview.js";
import { bindPopups, showStation, showReport, livePopupData, redraw as redrawPopup } from "/assets/popup.js";
import { levelChart, rainChart } from "/assets/chart.js";

strings({
  "pc.title": ["Protezione civile", "Civil protection"],
  "pc.map": ["Mappa operativa: stazioni, zone di allerta e segnalazioni (gli elenchi accanto ne sono l'alternativa testuale)",
    "Operations map: stations, alert zones and reports (the lists beside it are its text alternative)"],
  "login.title": ["Accesso operatori", "Operators' sign-in"], "login.username": ["Nome utente", "Username"],
  "login.password": ["Password", "Password"], "login.submit": ["Accedi", "Sign in"],
  "login.failed": ["Accesso negato: {why}", "Sign-in refused: {why}"],
  "pc.signed": ["Operatore:", "Operator:"], "pc.logout": ["Esci", "Sign out"], "pc.close": ["Chiudi", "Close"],
  "pc.alerts": ["Allerte", "Alerts"], "pc.stations": ["Stazioni", "Stations"], "pc.reports": ["Segnalazioni da gestire", "Reports to handle"],
  "pc.comune": ["Comune", "Comune"], "pc.all": ["Tutti", "All"], "pc.quality": ["Qualità dei dati", "Data quality"],
  "pc.silent": ["Stazioni silenti", "Silent stations"], "pc.dead": ["Messaggi scartati (dead letter)", "Dead letters"],
  "pc.qc": ["Ultime letture con segnalazioni di qualità", "Latest readings with quality flags"],
  "live.connecting": ["connessione…", "connecting…"], "live.live": ["in diretta", "live"], "live.offline": ["non in linea", "offline"],
  "alerts.none": ["Nessuna allerta", "No alert"], "ack": ["Presa visione", "Acknowledge"], "silence": ["Silenzia 1 h", "Silence 1 h"],
  "acked": ["vista da {who}", "acknowledged by {who}"], "silenced": ["silenziata", "silenced"],
  "chart": ["Grafico", "Chart"], "station.latest": ["Ultima lettura {v} {unit} ({at})", "Latest reading {v} {unit} ({at})"],
  "reports.none": ["Nessuna segnalazione da gestire", "No report to handle"], "note": ["Nota pubblica o motivo", "Public note or reason"],
  "reason.needed": ["Per respingere serve il motivo (nel campo nota)", "Rejecting needs a reason (in the note field)"],
  "to.acknowledged": ["Prendi in carico", "Acknowledge"], "to.in_progress": ["In lavorazione", "In progress"],
  "to.resolved": ["Risolta", "Resolved"], "to.closed": ["Chiudi", "Close"], "to.rejected": ["Respingi", "Reject"],
  "to.reopened": ["Riapri", "Reopen"], "people": ["persone a rischio", "people at risk"],
  "show": ["Mappa", "Map"], "show.station": ["Mappa: stazione {name}", "Map: station {name}"],
  "show.report": ["Mappa: segnalazione n. {id}", "Map: report no. {id}"],
  "dup.summary": ["Duplicata di…", "Duplicate of…"], "dup.label": ["Numero della segnalazione originale", "Number of the original report"],
  "dup.mark": ["Segna come duplicata", "Mark as duplicate"],
  "dup.needed": ["Per segnare un duplicato serve il numero della segnalazione originale", "Marking a duplicate needs the number of the original report"],
  "dup.near": ["n. {id} {category}, a {m} m", "no. {id} {category}, {m} m away"],
});

// The workflow (reports::Status::allowed), without `duplicate`: it needs the original, its own control (DUPLICABLE).
const ALLOWED = {
  new: ["acknowledged", "in_progress", "resolved", "rejected"], acknowledged: ["in_progress", "resolved", "rejected"],
  in_progress: ["resolved", "rejected"], resolved: ["closed", "reopened"], closed: ["reopened"], rejected: ["reopened"],
  duplicate: ["reopened"], reopened: ["acknowledged", "in_progress", "resolved", "rejected"],
};
const QUEUE = ["new", "acknowledged", "in_progress", "reopened", "resolved"];
const DUPLICABLE = ["new", "acknowledged", "in_progress", "reopened"];

const stations = new Map();
const alerts = new Map();
const reports = new Map();
const { stationLevel, stationData, reportData } = livePopupData({ stations, alerts, reports });
let zoneBoxes = new Map();
let map = null;
let selected = null;
let deadLetters = null;
let loaded = false;
const streams = {};

initPage();
boot();

async function boot() {
  document.getElementById("login-form").addEventListener("submit", login);
  document.getElementById("logout-button").addEventListener("click", logout);
  try {
    const me = await api("/api/auth/whoami");
    setCsrf(me.csrf_token);
    start(me);
  } catch (e) {
    showLogin();
  }
}

function showLogin() {
  document.getElementById("login-form").hidden = false;
  document.getElementById("dashboard").hidden = true;
  ready();
}

async function login(e) {
  e.preventDefault();
  const error = document.getElementById("login-error");
  error.textContent = "";
  const username = document.getElementById("login-username").value.trim();
  const password = document.getElementById("login-password").value;
  try {
    const answer = await api("/api/auth/login", { json: { username, password } });
    setCsrf(answer.csrf_token);
    const me = await api("/api/auth/whoami");
    if (me.csrf_token) setCsrf(me.csrf_token);
    start(me);
  } catch (err) {
    error.textContent = t("login.failed", { why: err.detail || err.message });
    document.getElementById("login-password").focus();
  }
}

async function logout() {
  try { await api("/api/auth/logout", { method: "POST" }); } catch { /* signed out anyway */ }
  location.reload();
}

async function start(me) {
  document.getElementById("login-form").hidden = true;
  document.getElementById("dashboard").hidden = false;
  document.getElementById("whoami").textContent = me.name;
  document.getElementById("station-close").addEventListener("click", closeStation);
  document.getElementById("reports-comune").addEventListener("change", renderQueue);
  createMap(document.getElementById("map"), { layers: ["comuni", "alert_zones", "stations", "reports"] }).then((m) => {
    map = m;
    if (map) {
      bindPopups(map, { station: stationData, stationActions: chartButton, report: reportData });
      if (loaded) renderAll(); // with the lists' map buttons
    }
  });
  live();
  await Promise.allSettled([loadStations(), loadAlerts(), loadReports(), loadComuni(), loadZones(), loadDeadLetters()]);
  loaded = true;
  renderAll();
  onLanguage(() => { renderAll(); if (selected) drawStation(selected); });
  setInterval(loadDeadLetters, 60000);
  ready();
}

function live() {
  const state = { readings: "connecting", alerts: "connecting", reports: "connecting" };
  const show = (name) => onReconnect(() => map, (s) => {
    state[name] = s;
    const all = Object.values(state);
    const overall = all.every((x) => x === "live") ? "live" : all.includes("offline") ? "offline" : "connecting";
    const badge = document.getElementById("live-status");
    badge.dataset.state = overall;
    badge.textContent = t(`live.${overall}`);
  });
  streams.readings = follow("/api/readings/stream", { readings: onReadings }, show("readings"));
  streams.alerts = follow("/api/alerts/stream", { alert: onAlert }, show("alerts"));
  streams.reports = follow("/api/reports/stream", { report: onReport }, show("reports"));
}

async function loadStations() {
  const fc = await api("/api/stations");
  for (const f of fc.features || []) stations.set(f.properties.code, f);
}
async function loadAlerts() {
  const page = await api("/api/alerts?limit=200");
  for (const a of page.alerts || []) alerts.set(a.id, a);
}
async function loadReports() {
  const page = await api(`/api/reports?status=${QUEUE.join(",")}&limit=500`);
  for (const r of page.reports || []) reports.set(r.id, r);
}
async function loadComuni() {
  const answer = await api("/api/comuni");
  const select = document.getElementById("reports-comune");
  for (const c of answer.comuni || []) select.append(el("option", { value: c.istat }, c.name));
}
async function loadZones() {
  const fc = await api("/api/alerts/zones");
  zoneBoxes = new Map((fc.features || []).filter((f) => f.geometry).map((f) => [f.properties.code, bboxOf(f.geometry.coordinates)]));
}
async function loadDeadLetters() {
  try {
    const page = await api("/api/ingest/dead-letters?limit=1000");
    deadLetters = `${(page.dead_letters || []).length}${page.next ? "+" : ""}`;
  } catch (e) {
    deadLetters = e instanceof ApiFailure && e.status === 403 ? "–" : "?";
  }
  renderQuality();
}

/** The station popup's button to the station panel (its 24 h chart). */
function chartButton(code) {
  return stations.has(code) ? [el("button", { type: "button", dataset: { action: "chart" }, onclick: () => openStation(code) }, t("chart"))] : [];
}

/** The "map" button of a list item: shows the feature's popup (the keyboard's way to the map's popups). */
function showButton(label, lngLat, open) {
  if (!map) return null;
  return el("button", { type: "button", class: "secondary", dataset: { action: "show-on-map" }, "aria-label": label,
    onclick: (e) => {
      map.jumpTo({ center: lngLat, zoom: Math.max(map.getZoom(), 14) });
      open(e.currentTarget);
    } }, t("show"));
}

function renderAll() { renderAlerts(); renderStations(); renderQueue(); renderQuality(); }

// Alerts: firing first, then pending, then the resolved ones; newest change first.
function renderAlerts() {
  const order = { firing: 0, pending: 1, resolved: 2 };
  const items = [...alerts.values()]
    .sort((a, b) => (order[a.state] ?? 3) - (order[b.state] ?? 3) || b.updated_at.localeCompare(a.updated_at))
    .slice(0, 60).map(alertItem);
  document.getElementById("alerts-list").replaceChildren(...(items.length ? items : [el("li", {}, t("alerts.none"))]));
}

function alertItem(a) {
  const acked = !!a.acknowledged_at;
  const value = a.value !== null && a.value !== undefined ? ` ${num(a.value)} ${a.unit || ""}` : "";
  return el("li", { dataset: { alertId: a.id, level: levelName(a.level), state: a.state, acknowledged: String(acked) } },
    levelBadge(a.level),
    el("span", { class: "grow" }, el("strong", {}, a.subject), ` ${a.zone && a.zone !== a.subject ? `(${a.zone}) ` : ""}${a.hazard}${value}`,
      el("br"), el("span", { class: "note" }, `${t(`alert.${a.state}`)} · ${ago((Date.now() - Date.parse(a.updated_at)) / 1000)}`,
        acked ? ` · ${t("acked", { who: a.acknowledged_by || "?" })}` : "", a.silenced ? ` · ${t("silenced")}` : "")),
    !acked && a.state !== "resolved" ? el("button", { type: "button", dataset: { action: "acknowledge" }, onclick: () => acknowledge(a) }, t("ack")) : null,
    a.state !== "resolved" && !a.silenced && (a.subject_kind === "station" || a.subject_kind === "zone")
      ? el("button", { type: "button", class: "secondary", dataset: { action: "silence" }, onclick: () => silence(a) }, t("silence")) : null);
}

async function acknowledge(a) {
  try {
    const updated = await api(`/api/alerts/${a.id}/acknowledge`, { json: { note: null } });
    if (updated && updated.id) alerts.set(updated.id, updated);
    renderAlerts();
  } catch (e) { document.getElementById("reports-error").textContent = e.detail || e.message; }
}

async function silence(a) {
  try {
    await api("/api/alerts/silences", { json: { scope_kind: a.subject_kind, scope: a.subject, minutes: 60, note: null } });
    alerts.set(a.id, { ...a, silenced: true });
    renderAlerts();
  } catch (e) { document.getElementById("reports-error").textContent = e.detail || e.message; }
}

function renderStations() {
  const items = [...stations.values()].sort((a, b) => a.properties.code.localeCompare(b.properties.code)).map(stationItem);
  document.getElementById("stations-list").replaceChildren(...items);
}

function stationItem(f) {
  const p = f.properties;
  const level = stationLevel(f);
  const value = p.latest?.v;
  return el("li", { dataset: { stationCode: p.code, level, state: p.state || "silent", value: value ?? "" } },
    el("span", { class: "grow" }, el("strong", {}, p.name), ` (${p.code})`),
    el("span", {}, value === undefined || value === null ? "–" : `${num(value)} ${p.unit || ""}`),
    levelBadge(level), el("span", { class: "badge status" }, t(`state.${p.state || "silent"}`)),
    el("button", { type: "button", class: "secondary", dataset: { action: "select-station" }, "aria-label": `${t("chart")} ${p.name}`,
      onclick: () => openStation(p.code) }, t("chart")),
    showButton(t("show.station", { name: p.name }), f.geometry.coordinates,
      (opener) => showStation(map, f.geometry.coordinates, () => stationData({ code: p.code }), chartButton(p.code), opener)));
}

function replaceStation(code) {
  const f = stations.get(code);
  const old = document.querySelector(`#stations-list [data-station-code="${CSS.escape(code)}"]`);
  if (f && old) old.replaceWith(stationItem(f));
}

async function openStation(code) {
  selected = code;
  const panel = document.getElementById("station-panel");
  panel.hidden = false;
  panel.dataset.stationCode = code;
  await drawStation(code);
  document.getElementById("station-title").focus?.();
}

function closeStation() {
  selected = null;
  document.getElementById("station-panel").hidden = true;
}

async function drawStation(code) {
  const f = stations.get(code);
  if (!f) return;
  const p = f.properties;
  const to = Date.now(), from = to - 24 * 3600 * 1000;
  const range = `from=${encodeURIComponent(new Date(from).toISOString())}&to=${encodeURIComponent(new Date(to).toISOString())}`;
  document.getElementById("station-title").textContent = `${p.name} (${p.code})`;
  document.getElementById("station-summary").textContent = p.latest
    ? t("station.latest", { v: num(p.latest.v), unit: p.unit || "", at: when(p.latest.t) }) : "";
  let chart;
  try {
    if (p.quantity === "rain" || p.kind === "rain_gauge") {
      const page = await api(`/api/stations/${encodeURIComponent(code)}/readings?${range}&interval=PT1H&agg=sum`);
      chart = rainChart(page.buckets || [], page.unit || "mm", from, to, 3600 * 1000);
      chart.dataset.quantity = "rain";
    } else {
      const page = await api(`/api/stations/${encodeURIComponent(code)}/readings?${range}&limit=5000`);
      chart = levelChart(page.readings || [], p.thresholds, page.unit || "m", from, to);
      chart.dataset.quantity = "level";
    }
  } catch (e) {
    chart = el("p", { class: "error" }, e.detail || e.message);
  }
  if (selected !== code) return;
  chart.id = "station-chart";
  document.getElementById("station-chart-box").replaceChildren(chart);
}

let redraw = null;
function onReadings(r) {
  const f = stations.get(r.station);
  if (!f) return;
  f.properties.latest = { t: r.latest_at, v: r.latest_value, qc: r.latest_qc };
  f.properties.state = "reporting";
  replaceStation(r.station);
  refreshAt(map, "stations", ...f.geometry.coordinates);
  renderQuality();
  redrawPopup();
  if (selected === r.station && !redraw) redraw = setTimeout(() => { redraw = null; if (selected) drawStation(selected); }, 1000);
}

function onAlert(a) {
  const fresh = !alerts.has(a.id);
  alerts.set(a.id, a);
  renderAlerts();
  if (fresh) document.querySelector(`#alerts-list [data-alert-id="${a.id}"]`)?.classList.add("flash");
  const f = stations.get(a.subject);
  if (f) { replaceStation(a.subject); refreshAt(map, "stations", ...f.geometry.coordinates); }
  const box = a.zone && zoneBoxes.get(a.zone);
  if (box) refreshBbox(map, "alert_zones", box);
  redrawPopup();
}

function onReport(change) {
  const r = change.report;
  const fresh = !reports.has(r.id);
  reports.set(r.id, { ...reports.get(r.id), ...r });
  renderQueue();
  if (fresh) document.querySelector(`#reports-queue [data-report-id="${r.id}"]`)?.classList.add("flash");
  refreshAt(map, "reports", r.lon, r.lat);
  redrawPopup();
}

/**
 * Redraws the queue (at every report event): what the operator typed, the open duplicate forms and the focus are
 * kept.
 */
function renderQueue() {
  const queue = document.getElementById("reports-queue");
  const kept = new Map();
  for (const li of queue.querySelectorAll("li[data-report-id]")) {
    kept.set(li.dataset.reportId, { note: li.querySelector('[data-field="note"]')?.value || "",
      dup: li.querySelector('[data-field="duplicate-of"]')?.value || "", open: !!li.querySelector("details")?.open });
  }
  const active = queue.contains(document.activeElement) ? document.activeElement : null;
  const focus = active && {
    report: active.closest("li[data-report-id]")?.dataset.reportId,
    selector: active.id ? `#${CSS.escape(active.id)}` : active.dataset.transition ? `[data-transition="${active.dataset.transition}"]`
      : active.dataset.action ? `[data-action="${active.dataset.action}"]` : active.tagName === "SUMMARY" ? "summary" : null,
  };
  fillQueue();
  for (const [id, k] of kept) {
    const li = queue.querySelector(`li[data-report-id="${CSS.escape(id)}"]`);
    if (!li) continue;
    const note = li.querySelector('[data-field="note"]');
    if (note) note.value = k.note;
    const dup = li.querySelector('[data-field="duplicate-of"]');
    if (dup) dup.value = k.dup;
    const details = li.querySelector("details");
    if (details && k.open) details.open = true;
  }
  if (focus?.report && focus.selector) {
    queue.querySelector(`li[data-report-id="${CSS.escape(focus.report)}"] ${focus.selector}`)?.focus();
  }
}

function fillQueue() {
  const comune = document.getElementById("reports-comune").value;
  const items = [...reports.values()]
    .filter((r) => QUEUE.includes(r.status) && (!comune || r.comune === comune))
    .sort((a, b) => a.comune_name.localeCompare(b.comune_name) || a.priority - b.priority || b.created_at.localeCompare(a.created_at))
    .map(reportItem);
  document.getElementById("reports-queue").replaceChildren(...(items.length ? items : [el("li", {}, t("reports.none"))]));
}

function reportItem(r) {
  const noteId = `note-${r.id}`;
  return el("li", { dataset: { reportId: r.id, status: r.status } },
    el("span", { class: "grow" }, el("a", { href: `/segnalazioni/${r.id}` }, `#${r.id} ${r.category_name}`),
      ` — ${r.address || ""} ${r.comune_name}`, r.people_at_risk ? el("strong", {}, ` · ${t("people")}`) : "",
      el("br"), el("span", { class: "note" }, `${ago((Date.now() - Date.parse(r.created_at)) / 1000)} · ${r.description.slice(0, 140)}`)),
    el("span", { class: "badge status" }, t(`status.${r.status}`)),
    el("span", { class: "row" },
      el("label", { for: noteId, class: "visually-hidden" }, t("note")),
      el("input", { id: noteId, type: "text", dataset: { field: "note" }, placeholder: t("note") }),
      ...(ALLOWED[r.status] || []).map((to) => el("button", { type: "button", class: to === "rejected" ? "secondary" : null,
        dataset: { transition: to }, onclick: () => transition(r, to, document.getElementById(noteId).value.trim()) }, t(`to.${to}`))),
      showButton(t("show.report", { id: r.id }), [r.lon, r.lat], (opener) => showReport(map, [r.lon, r.lat], reportData, {}, r.id, opener))),
    DUPLICABLE.includes(r.status) ? duplicateForm(r, noteId) : null);
}

/**
 * The duplicate control of a queue item: the original's number (typed, or picked from the public reports near
 * this one, offered when the form opens) and the button that marks it.
 */
function duplicateForm(r, noteId) {
  const inputId = `dup-${r.id}`;
  const listId = `dup-near-${r.id}`;
  const list = el("datalist", { id: listId });
  const offer = async () => {
    if (list.childElementCount) return;
    try {
      const params = new URLSearchParams({ lon: String(r.lon), lat: String(r.lat), radius: "250", limit: "20" });
      const near = await api(`/api/reports/nearby?${params}`);
      list.replaceChildren(...(near.reports || []).filter((n) => n.report.id !== r.id).map((n) => el("option",
        { value: String(n.report.id) }, t("dup.near", { id: n.report.id, category: n.report.category_name, m: Math.round(n.distance_m) }))));
    } catch { /* typed by hand */ }
  };
  return el("details", { class: "duplicate", ontoggle: (e) => { if (e.currentTarget.open) offer(); } },
    el("summary", {}, t("dup.summary")),
    el("div", { class: "row" },
      el("label", { for: inputId }, t("dup.label")),
      el("input", { id: inputId, type: "number", min: "1", step: "1", inputmode: "numeric", list: listId, dataset: { field: "duplicate-of" } }),
      list,
      el("button", { type: "button", class: "secondary", dataset: { transition: "duplicate" },
        onclick: () => duplicate(r, document.getElementById(inputId).value.trim(), document.getElementById(noteId).value.trim()) },
      t("dup.mark"))));
}

/** Empties the note of a queue item once its step is made (the next step must not reuse it by mistake). */
function clearNote(id) {
  const note = document.getElementById(`note-${id}`);
  if (note) note.value = "";
}

async function duplicate(r, original, note) {
  const error = document.getElementById("reports-error");
  error.textContent = "";
  const of = Number(original);
  if (!/^[0-9]+$/.test(original) || !Number.isSafeInteger(of) || of < 1) {
    error.textContent = `#${r.id}: ${t("dup.needed")}`;
    document.getElementById(`dup-${r.id}`)?.focus();
    return;
  }
  try {
    const updated = await api(`/api/reports/${r.id}/transitions`, { json: { to: "duplicate", duplicate_of: of, public_note: note || null } });
    clearNote(r.id);
    reports.set(updated.id, updated);
    renderQueue();
  } catch (e) {
    error.textContent = `#${r.id}: ${e.detail || e.message}`;
  }
}

async function transition(r, to, note) {
  const error = document.getElementById("reports-error");
  error.textContent = "";
  if (to === "rejected" && !note) { error.textContent = t("reason.needed"); return; }
  try {
    const body = { to, public_note: note || null, reason: to === "rejected" ? note : null };
    const updated = await api(`/api/reports/${r.id}/transitions`, { json: body });
    clearNote(r.id);
    reports.set(updated.id, updated);
    renderQueue();
  } catch (e) {
    error.textContent = `#${r.id}: ${e.detail || e.message}`;
  }
}

function renderQuality() {
  const all = [...stations.values()].map((f) => f.properties);
  const silent = all.filter((p) => p.state === "silent");
  const flagged = all.filter((p) => Array.isArray(p.latest?.qc) && p.latest.qc.length > 0);
  document.getElementById("silent-count").textContent = String(silent.length);
  document.getElementById("qc-flags-count").textContent = String(flagged.length);
  document.getElementById("dead-letters-count").textContent = deadLetters ?? "…";
  document.getElementById("silent-list").replaceChildren(...silent.map((p) => el("li", { dataset: { stationCode: p.code } },
    el("span", { class: "grow" }, `${p.name} (${p.code})`),
    el("span", { class: "note" }, p.latest ? ago((Date.now() - Date.parse(p.latest.t)) / 1000) : "–"))));
}
