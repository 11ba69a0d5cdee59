// Vedetta web app: what every page shares — the Italian/English strings, the API client (problem+json errors, the
// CSRF token of a session), small DOM helpers, the address search box and the alert levels.
// Test hooks common to every page: #lang-toggle, #skip-link, html[lang], body[data-ready], #search-input,
// #search-results, [data-testid="search-result"] (data-lat, data-lon, data-kind), #search-status.

const STRINGS = {
  "skip": ["Vai al contenuto", "Skip to content"],
  "nav": ["Sezioni", "Sections"],
  "nav.map": ["Mappa", "Map"],
  "nav.segnala": ["Segnala", "Report a problem"],
  "nav.pc": ["Protezione civile", "Civil protection"],
  "nav.planner": ["Pianificazione", "Planning"],
  "nav.stats": ["Trasparenza", "Transparency"],
  "lang.other": ["English", "Italiano"],
  "footer": ["Vedetta — piattaforma aperta di protezione civile e controllo del territorio.",
    "Vedetta — an open platform for civil protection and territory watch."],
  "search.label": ["Cerca un indirizzo", "Search an address"],
  "search.placeholder": ["Via, numero civico, comune", "Street, number, comune"],
  "search.none": ["Nessun indirizzo trovato", "No address found"],
  "search.count": ["{n} indirizzi trovati: frecce su e giù per scegliere", "{n} addresses found: up and down arrows to choose"],
  "search.error": ["Ricerca non disponibile", "Search unavailable"],
  "map.label": ["Mappa", "Map"],
  "map.unavailable": ["La mappa non è disponibile: eseguire make deps (MapLibre non incluso).",
    "The map is unavailable: run make deps (MapLibre not bundled)."],
  "level.verde": ["verde", "green"], "level.gialla": ["gialla", "yellow"], "level.arancione": ["arancione", "orange"],
  "level.rossa": ["rossa", "red"], "level.none": ["nessuna soglia", "no threshold"],
  "state.reporting": ["attiva", "reporting"], "state.silent": ["silente", "silent"],
  "alert.firing": ["in corso", "firing"], "alert.pending": ["in attesa", "pending"], "alert.resolved": ["rientrata", "resolved"],
  "status.new": ["Nuova", "New"], "status.acknowledged": ["Presa in carico", "Acknowledged"],
  "status.in_progress": ["In lavorazione", "In progress"], "status.resolved": ["Risolta", "Resolved"],
  "status.closed": ["Chiusa", "Closed"], "status.rejected": ["Respinta", "Rejected"],
  "status.duplicate": ["Duplicata", "Duplicate"], "status.reopened": ["Riaperta", "Reopened"],
  "kind.hydrometer": ["idrometro", "hydrometer"], "kind.rain_gauge": ["pluviometro", "rain gauge"],
  "ago.s": ["{n} s fa", "{n} s ago"], "ago.m": ["{n} min fa", "{n} min ago"], "ago.h": ["{n} h fa", "{n} h ago"],
  "ago.d": ["{n} giorni fa", "{n} days ago"],
  "error.network": ["Vedetta non risponde", "Vedetta does not answer"],
};

let current = localStorage.getItem("vedetta.lang") === "en" ? "en" : "it";
const listeners = [];

/** Adds a page's strings: `{key: [italian, english]}`. */
export function strings(more) { Object.assign(STRINGS, more); }

/** The current language, `it` or `en`. */
export function lang() { return current; }

/** The string of `key` in the current language, with `{name}` replaced from `vars`. */
export function t(key, vars = {}) {
  const pair = STRINGS[key];
  let text = pair ? pair[current === "en" ? 1 : 0] : key;
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{${k}}`, String(v));
  return text;
}

/** Writes the strings into `[data-i18n]` (text) and `[data-i18n-attr="attr:key;…"]` (attributes) under `root`. */
export function applyStrings(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) node.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

/** Calls `fn` after every change of language (pages redraw what they wrote themselves). */
export function onLanguage(fn) { listeners.push(fn); }

function setLanguage(next) {
  current = next;
  localStorage.setItem("vedetta.lang", next);
  document.documentElement.lang = next;
  const toggle = document.getElementById("lang-toggle");
  if (toggle) {
    toggle.textContent = t("lang.other");
    toggle.lang = next === "en" ? "it" : "en";
  }
  applyStrings();
  const title = document.querySelector("meta[name='vedetta-title-en']");
  if (title) {
    if (!document.body.dataset.titleIt) document.body.dataset.titleIt = document.title;
    document.title = next === "en" ? title.content : document.body.dataset.titleIt;
  }
  for (const fn of listeners) fn(next);
}

/** Sets the page up: language toggle and strings. Call first. */
export function initPage() {
  const toggle = document.getElementById("lang-toggle");
  if (toggle) toggle.addEventListener("click", () => setLanguage(current === "en" ? "it" : "en"));
  setLanguage(current);
}

/** Marks the page ready (its first data load finished), for people reading the DOM and for tests. */
export function ready() { document.body.dataset.ready = "true"; }

let csrf = null;
/** The CSRF token of the session, sent as X-CSRF-Token with every unsafe request. */
export function setCsrf(token) { csrf = token || null; }

/** An error of the API: `status` and the problem's `detail`. */
export class ApiFailure extends Error {
  constructor(status, detail, body) { super(detail); this.status = status; this.detail = detail; this.body = body; }
}

/**
 * Calls the API: `options.json` is sent as JSON, `options.form` (FormData) as multipart. Answers the parsed JSON
 * (or null for an empty body); throws ApiFailure with the problem's detail otherwise.
 */
export async function api(path, options = {}) {
  const method = options.method || (options.json || options.form ? "POST" : "GET");
  const headers = { Accept: "application/json" };
  let body;
  if (options.json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(options.json); }
  if (options.form) body = options.form;
  if (method !== "GET" && method !== "HEAD" && csrf) headers["X-CSRF-Token"] = csrf;
  let res;
  try {
    res = await fetch(path, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  } catch (e) {
    throw new ApiFailure(0, t("error.network"), null);
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    const detail = (data && data.detail) || (data && data.title) || `HTTP ${res.status}`;
    throw new ApiFailure(res.status, detail, data);
  }
  return data;
}

/** Builds an element: `el("li", {class: "x", dataset: {id: 1}, onclick: f}, "text", child…)`. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "class") node.className = v;
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/** An SVG element with attributes. */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** A date and time in the page's language. */
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString(current === "en" ? "en-GB" : "it-IT",
    { dateStyle: "short", timeStyle: "short" });
}

/** How long ago `seconds` were, in words. */
export function ago(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t("ago.s", { n: s });
  if (s < 3600) return t("ago.m", { n: Math.round(s / 60) });
  if (s < 172800) return t("ago.h", { n: Math.round(s / 3600) });
  return t("ago.d", { n: Math.round(s / 86400) });
}

/** A number in the page's language. */
export function num(v, digits = 2) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return Number(v).toLocaleString(current === "en" ? "en-GB" : "it-IT", { maximumFractionDigits: digits });
}

// Alert colours, lowest first; English names as the API may give them.
export const LEVELS = ["verde", "gialla", "arancione", "rossa"];
const ENGLISH = { green: "verde", yellow: "gialla", orange: "arancione", red: "rossa" };

/** The Italian colour name of `level` (`red` → `rossa`), or `none`. */
export function levelName(level) {
  if (!level) return "none";
  const l = ENGLISH[level] || level;
  return LEVELS.includes(l) ? l : "none";
}

/** The higher of two colours (`none` below `verde`). */
export function maxLevel(a, b) {
  return LEVELS.indexOf(levelName(a)) >= LEVELS.indexOf(levelName(b)) ? levelName(a) : levelName(b);
}

/**
 * The colour of a hydrometer's `value` against its thresholds `{yellow, orange, red}`; `none` for a station
 * without level thresholds or without a value (rain gauges take their colour from their alerts).
 */
export function levelOfValue(thresholds, value) {
  if (!thresholds || typeof value !== "number" || typeof thresholds.yellow !== "number") return "none";
  if (typeof thresholds.red === "number" && value >= thresholds.red) return "rossa";
  if (typeof thresholds.orange === "number" && value >= thresholds.orange) return "arancione";
  if (value >= thresholds.yellow) return "gialla";
  return "verde";
}

/** A colour badge with its name in words (colour is never the only sign). */
export function levelBadge(level) {
  const l = levelName(level);
  return el("span", { class: "badge", dataset: { level: l } }, t(`level.${l}`));
}

/**
 * The address search combobox: `input` (#search-input), `list` (#search-results), `status` (#search-status, a live
 * region). `bbox()` gives the map's view `[minlon, minlat, maxlon, maxlat]` (or null) to bias the answers;
 * `onPick(candidate)` gets the chosen one.
 */
export function searchBox({ input, list, status, bbox, onPick }) {
  let candidates = [];
  let active = -1;
  let timer = null;
  let seq = 0;
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-expanded", "false");
  input.autocomplete = "off";
  list.setAttribute("role", "listbox");
  const close = () => { list.hidden = true; input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant"); };
  const pick = (i) => {
    const c = candidates[i];
    if (!c) return;
    input.value = c.label;
    close();
    onPick(c);
  };
  const highlight = (i) => {
    active = i;
    list.querySelectorAll("[role=option]").forEach((o, j) => o.setAttribute("aria-selected", String(j === i)));
    if (i >= 0) input.setAttribute("aria-activedescendant", `search-option-${i}`);
  };
  const render = () => {
    list.replaceChildren(...candidates.map((c, i) => el("li", {
      role: "option", id: `search-option-${i}`, "aria-selected": "false",
      dataset: { testid: "search-result", lat: c.lat, lon: c.lon, kind: c.kind },
      onmousedown: (e) => { e.preventDefault(); pick(i); },
    }, c.label)));
    list.hidden = candidates.length === 0;
    input.setAttribute("aria-expanded", String(candidates.length > 0));
    status.textContent = candidates.length ? t("search.count", { n: candidates.length }) : t("search.none");
    active = -1;
  };
  const query = async () => {
    const q = input.value.trim();
    if (q.length < 2) { candidates = []; close(); return; }
    const mine = ++seq;
    const params = new URLSearchParams({ q, limit: "8" });
    const b = bbox && bbox();
    if (b) params.set("bbox", b.map((x) => x.toFixed(5)).join(","));
    try {
      const answer = await api(`/api/geocode?${params}`);
      if (mine !== seq) return;
      candidates = answer.candidates || [];
      render();
    } catch {
      if (mine === seq) status.textContent = t("search.error");
    }
  };
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(query, 200); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" && candidates.length) { e.preventDefault(); list.hidden = false; highlight((active + 1) % candidates.length); }
    else if (e.key === "ArrowUp" && candidates.length) { e.preventDefault(); highlight(active <= 0 ? candidates.length - 1 : active - 1); }
    else if (e.key === "Enter") {
      e.preventDefault();
      if (active >= 0) pick(active);
      else if (candidates.length) pick(0);
      else { clearTimeout(timer); query().then(() => { if (candidates.length) pick(0); }); }
    } else if (e.key === "Escape") close();
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
}

/**
 * Follows a server-sent event stream: `handlers` maps event names to functions of the parsed data; `onState` gets
 * `live` or `offline`. EventSource reconnects by itself with Last-Event-ID.
 */
export function follow(url, handlers, onState = () => {}) {
  const source = new EventSource(url, { withCredentials: true });
  source.onopen = () => onState("live");
  source.onerror = () => onState(source.readyState === EventSource.CLOSED ? "offline" : "connecting");
  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, (e) => { try { fn(JSON.parse(e.data)); } catch (err) { console.error(err); } });
  }
  return source;
}

/** Today as YYYY-MM-DD in local time. */
export function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** Saves `text` as a file named `name` (made in the browser: nothing goes to the server). */
export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
