// `/segnala`: a citizen reports a problem (mobile first). The point by GPS, address search or a tap on the map;
// the comune's categories; description and photos (multipart POST /api/reports); open reports nearby offered
// before sending ("anch'io"); a confirmation with the tracking link; a draft kept on the device while offline and
// sent when back online; "le mie segnalazioni" from the tracking tokens kept on the device.
// Test hooks: #locate-gps, #search-input, #search-results, #map (a click sets the point),
// #report-location[data-lat][data-lon], #report-comune[data-code], #report-category, #report-description,
// #report-photos, #report-name, #report-email, #report-people-at-risk, #report-anonymous, #report-form,
// #nearby-section, #nearby-list [data-report-id] with [data-action="support"] (then data-supported="true"),
// #report-submit, #report-error, #report-confirmation, #tracking-link, #report-another,
// #draft-status[data-state] (none|saved|sending|sent), #my-reports [data-report-id][data-status], body[data-ready].
// localStorage: vedetta.draft (the unsent report), vedetta.tracking ([{id, token, category, at}]).

import { initPage, strings, t, api, el, searchBox, num, ago, when, onLanguage, ready, ApiFailure } from "/assets/common.js";
import { createMap, viewBbox } from "/assets/mapview.js";

strings({
  "seg.title": ["Segnala un problema", "Report a problem"],
  "seg.map": ["Mappa per scegliere il punto della segnalazione (in alternativa: posizione o ricerca dell'indirizzo)",
    "Map to choose the point of the report (or use your position or the address search)"],
  "seg.where": ["1. Dove?", "1. Where?"], "seg.gps": ["Usa la mia posizione", "Use my position"],
  "seg.tap": ["Oppure tocca la mappa nel punto del problema.", "Or tap the map where the problem is."],
  "seg.nowhere": ["Nessun punto scelto.", "No point chosen."], "seg.point": ["Punto scelto: {lat}, {lon}", "Chosen point: {lat}, {lon}"],
  "seg.gps.error": ["Posizione non disponibile: {why}", "Position unavailable: {why}"],
  "seg.comune": ["Comune: {name}", "Comune: {name}"], "seg.nocomune": ["Il punto non è in un comune servito da Vedetta.", "The point is in no comune served by Vedetta."],
  "seg.nearby": ["Segnalazioni vicine già aperte", "Open reports nearby"],
  "seg.nearby.hint": ["Se il problema è già segnalato, sostienilo invece di inviarne un'altra.", "If the problem is already reported, support it instead of sending another."],
  "seg.metres": ["a {n} m", "{n} m away"], "seg.support": ["Anch'io", "Me too"], "seg.supported": ["Sostenuta ({n})", "Supported ({n})"],
  "seg.what": ["2. Che cosa?", "2. What?"], "seg.category": ["Categoria", "Category"],
  "seg.category.choose": ["Scegli il punto, poi la categoria", "Choose the point, then the category"],
  "seg.category.pick": ["Scegli una categoria", "Choose a category"],
  "seg.description": ["Descrizione", "Description"], "seg.photos": ["Foto (fino a 5)", "Photos (up to 5)"],
  "seg.risk": ["Ci sono persone in pericolo", "People are in danger"], "seg.who": ["3. Contatti (facoltativi)", "3. Contact (optional)"],
  "seg.name": ["Nome", "Name"], "seg.email": ["Email (per ricevere gli aggiornamenti)", "Email (to receive the updates)"],
  "seg.anonymous": ["Non mostrare il mio nome", "Do not show my name"],
  "seg.privacy": ["Nome e contatti non sono mai pubblicati.", "Name and contacts are never published."],
  "seg.submit": ["Invia la segnalazione", "Send the report"], "seg.sending": ["Invio in corso…", "Sending…"],
  "seg.thanks": ["Segnalazione inviata, grazie!", "Report sent, thank you!"], "seg.follow": ["Segui lo stato qui:", "Follow its status here:"],
  "seg.keep": ["Il collegamento è salvato in questo dispositivo, tra «le mie segnalazioni».", "The link is kept on this device, under \"my reports\"."],
  "seg.another": ["Nuova segnalazione", "New report"], "seg.mine": ["Le mie segnalazioni", "My reports"],
  "seg.mine.none": ["Nessuna segnalazione inviata da questo dispositivo.", "No report sent from this device."],
  "need.point": ["Scegli il punto sulla mappa, con la posizione o con la ricerca.", "Choose the point on the map, by position or by search."],
  "need.category": ["Scegli una categoria.", "Choose a category."], "need.description": ["Descrivi il problema.", "Describe the problem."],
  "too.many": ["Al massimo 5 foto.", "At most 5 photos."],
  "draft.saved": ["Sei offline: la segnalazione è salvata su questo dispositivo e sarà inviata appena torna la connessione.",
    "You are offline: the report is kept on this device and will be sent when the connection is back."],
  "draft.sending": ["Connessione tornata: invio della segnalazione salvata…", "Back online: sending the saved report…"],
  "draft.sent": ["La segnalazione salvata è stata inviata.", "The saved report was sent."],
  "draft.nophotos": ["(le foto troppo grandi non sono state salvate)", "(photos too large were not kept)"],
});

const MAX_DRAFT_PHOTO_BYTES = 2_500_000;
let map = null;
let marker = null;
let point = null; // {lat, lon}
let comune = null; // {istat, name}
let nearby = [];

initPage();
boot();

async function boot() {
  createMap(document.getElementById("map"), { layers: ["comuni", "reports"] }).then((m) => {
    map = m;
    if (map) map.on("click", (e) => setPoint(e.lngLat.lat, e.lngLat.lng));
  });
  document.getElementById("locate-gps").addEventListener("click", locate);
  searchBox({
    input: document.getElementById("search-input"), list: document.getElementById("search-results"),
    status: document.getElementById("search-status"), bbox: () => viewBbox(map),
    onPick: (c) => { setPoint(c.lat, c.lon); map?.flyTo({ center: [c.lon, c.lat], zoom: 18 }); },
  });
  document.getElementById("report-category").addEventListener("change", loadNearby);
  document.getElementById("report-form").addEventListener("submit", submit);
  document.getElementById("report-another").addEventListener("click", another);
  window.addEventListener("online", sendDraft);
  onLanguage(() => { renderPoint(); renderNearby(); renderMine(); });
  showDraft();
  await renderMine();
  if (navigator.onLine) await sendDraft();
  ready();
}

function locate() {
  const out = document.getElementById("report-location");
  if (!navigator.geolocation) { out.textContent = t("seg.gps.error", { why: "—" }); return; }
  navigator.geolocation.getCurrentPosition(
    (pos) => { setPoint(pos.coords.latitude, pos.coords.longitude); map?.flyTo({ center: [pos.coords.longitude, pos.coords.latitude], zoom: 17 }); },
    (err) => { out.textContent = t("seg.gps.error", { why: err.message }); },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
}

async function setPoint(lat, lon) {
  point = { lat: Number(lat), lon: Number(lon) };
  renderPoint();
  if (map && window.vedetta.maplibregl) {
    if (!marker) marker = new window.vedetta.maplibregl.Marker({ color: "#b3261e" });
    marker.setLngLat([point.lon, point.lat]).addTo(map);
  }
  const where = document.getElementById("report-comune");
  try {
    comune = await api(`/api/comuni/at?lat=${point.lat}&lon=${point.lon}`);
    where.textContent = t("seg.comune", { name: comune.name });
    where.dataset.code = comune.istat;
  } catch (e) {
    comune = null;
    where.textContent = e instanceof ApiFailure && e.status === 404 ? t("seg.nocomune") : e.detail;
    delete where.dataset.code;
  }
  await loadCategories();
  await loadNearby();
}

function renderPoint() {
  const out = document.getElementById("report-location");
  if (!point) { out.textContent = t("seg.nowhere"); return; }
  out.textContent = t("seg.point", { lat: point.lat.toFixed(5), lon: point.lon.toFixed(5) });
  out.dataset.lat = point.lat;
  out.dataset.lon = point.lon;
}

async function loadCategories() {
  const select = document.getElementById("report-category");
  const before = select.value;
  if (!comune) { select.replaceChildren(el("option", { value: "" }, t("seg.category.choose"))); return; }
  try {
    const list = await api(`/api/reports/categories?comune=${encodeURIComponent(comune.istat)}`);
    const en = document.documentElement.lang === "en";
    select.replaceChildren(el("option", { value: "" }, t("seg.category.pick")),
      ...list.filter((c) => c.active).map((c) => el("option", { value: c.code }, en ? c.name_en : c.name_it)));
    if (before && [...select.options].some((o) => o.value === before)) select.value = before;
  } catch { /* keep the old list */ }
}

async function loadNearby() {
  if (!point) return;
  const category = document.getElementById("report-category").value;
  const params = new URLSearchParams({ lat: point.lat, lon: point.lon, radius: "250" });
  if (category) params.set("category", category);
  try {
    nearby = (await api(`/api/reports/nearby?${params}`)).reports || [];
  } catch { nearby = []; }
  renderNearby();
}

function renderNearby() {
  document.getElementById("nearby-section").hidden = nearby.length === 0;
  document.getElementById("nearby-list").replaceChildren(...nearby.map((n) => {
    const r = n.report;
    return el("li", { dataset: n.supported ? { reportId: r.id, supported: "true" } : { reportId: r.id } },
      n.thumbnail_url ? el("img", { class: "thumb", src: n.thumbnail_url, alt: r.category_name }) : null,
      el("span", { class: "grow" }, el("a", { href: `/segnalazioni/${r.id}` }, r.category_name), ` — ${r.description.slice(0, 100)}`, el("br"),
        el("span", { class: "note" }, `${t("seg.metres", { n: num(n.distance_m, 0) })} · ${ago(n.age_s)} · ${t(`status.${r.status}`)}`)),
      n.supported ? el("span", {}, t("seg.supported", { n: r.supporters }))
        : el("button", { type: "button", class: "secondary", dataset: { action: "support" }, onclick: () => support(n) }, t("seg.support")));
  }));
}

async function support(n) {
  try {
    const answer = await api(`/api/reports/${n.report.id}/support`, { method: "POST" });
    n.supported = true;
    n.report.supporters = answer.supporters;
  } catch (e) {
    document.getElementById("report-error").textContent = e.detail || e.message;
  }
  renderNearby();
}

function collect() {
  const v = (id) => document.getElementById(id).value.trim();
  return {
    lat: point?.lat, lon: point?.lon, category: v("report-category"), description: v("report-description"),
    people_at_risk: document.getElementById("report-people-at-risk").checked,
    anonymous: document.getElementById("report-anonymous").checked,
    name: v("report-name") || null, email: v("report-email") || null, reporter_type: "citizen",
  };
}

async function submit(e) {
  e.preventDefault();
  const error = document.getElementById("report-error");
  error.textContent = "";
  const report = collect();
  const files = [...document.getElementById("report-photos").files];
  const problem = !point ? "need.point" : !report.category ? "need.category" : !report.description ? "need.description"
    : files.length > 5 ? "too.many" : null;
  if (problem) { error.textContent = t(problem); return; }
  const button = document.getElementById("report-submit");
  button.disabled = true;
  button.textContent = t("seg.sending");
  try {
    if (!navigator.onLine) throw new ApiFailure(0, "offline", null);
    const created = await send(report, files);
    confirmed(created);
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 0) await saveDraft(report, files);
    else error.textContent = err.detail || err.message;
  } finally {
    button.disabled = false;
    button.textContent = t("seg.submit");
  }
}

/** Files the report: JSON, or multipart with a `report` part and `photo` parts. */
async function send(report, files) {
  if (!files.length) return api("/api/reports", { json: report });
  const form = new FormData();
  form.append("report", new Blob([JSON.stringify(report)], { type: "application/json" }), "report.json");
  for (const f of files) form.append("photo", f, f.name || "photo");
  return api("/api/reports", { form });
}

function confirmed(created) {
  const id = created.report.id;
  const link = `/segnalazioni/${id}?token=${encodeURIComponent(created.tracking_token)}`;
  const mine = JSON.parse(localStorage.getItem("vedetta.tracking") || "[]");
  mine.unshift({ id, token: created.tracking_token, category: created.report.category_name, at: created.report.created_at });
  localStorage.setItem("vedetta.tracking", JSON.stringify(mine.slice(0, 50)));
  const a = document.getElementById("tracking-link");
  a.href = link;
  a.textContent = `${location.origin}${link}`;
  document.getElementById("report-form").hidden = true;
  const box = document.getElementById("report-confirmation");
  box.hidden = false;
  box.focus();
  renderMine();
}

function another() {
  document.getElementById("report-form").reset();
  document.getElementById("report-form").hidden = false;
  document.getElementById("report-confirmation").hidden = true;
  nearby = [];
  renderNearby();
  loadNearby();
}

// The draft: the report and its photos (as data URLs, when small enough) in localStorage.
async function saveDraft(report, files) {
  const photos = [];
  let dropped = false;
  for (const f of files) {
    if (f.size > MAX_DRAFT_PHOTO_BYTES) { dropped = true; continue; }
    photos.push({ name: f.name, type: f.type, data: await new Promise((ok) => { const r = new FileReader(); r.onload = () => ok(r.result); r.readAsDataURL(f); }) });
  }
  try {
    localStorage.setItem("vedetta.draft", JSON.stringify({ report, photos, dropped }));
  } catch {
    localStorage.setItem("vedetta.draft", JSON.stringify({ report, photos: [], dropped: true }));
  }
  showDraft();
}

function showDraft(state) {
  const out = document.getElementById("draft-status");
  const draft = localStorage.getItem("vedetta.draft");
  const s = state || (draft ? "saved" : "none");
  out.dataset.state = s;
  out.textContent = s === "none" ? "" : t(`draft.${s}`) + (s === "saved" && JSON.parse(draft).dropped ? ` ${t("draft.nophotos")}` : "");
}

let sending = false;
async function sendDraft() {
  const text = localStorage.getItem("vedetta.draft");
  if (!text || sending) return;
  sending = true;
  showDraft("sending");
  try {
    const draft = JSON.parse(text);
    const files = (draft.photos || []).map((p) => new File([fromDataUrl(p.data)], p.name, { type: p.type }));
    const created = await send(draft.report, files);
    localStorage.removeItem("vedetta.draft");
    showDraft("sent");
    confirmed(created);
  } catch (err) {
    if (err instanceof ApiFailure && err.status !== 0) {
      // Refused for good (not a connection problem): the citizen sees why, the draft goes back in the form.
      localStorage.removeItem("vedetta.draft");
      showDraft();
      document.getElementById("report-error").textContent = err.detail;
    } else showDraft();
  } finally { sending = false; }
}

/** The bytes of a `data:…;base64,` URL (read here: the CSP's connect-src does not let fetch() read data: URLs). */
function fromDataUrl(url) {
  const binary = atob(url.slice(url.indexOf(",") + 1));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function renderMine() {
  const list = document.getElementById("my-reports");
  const mine = JSON.parse(localStorage.getItem("vedetta.tracking") || "[]");
  if (!mine.length) { list.replaceChildren(el("li", {}, t("seg.mine.none"))); return; }
  const items = await Promise.all(mine.map(async (m) => {
    let status = "";
    let last = "";
    try {
      const tracked = await api(`/api/reports/track/${encodeURIComponent(m.token)}`);
      status = tracked.report.status;
      const step = tracked.history?.[tracked.history.length - 1];
      if (step) last = when(step.at);
    } catch { /* shown without status */ }
    return el("li", { dataset: { reportId: m.id, status } },
      el("a", { class: "grow", href: `/segnalazioni/${m.id}?token=${encodeURIComponent(m.token)}` }, `#${m.id} ${m.category}`),
      status ? el("span", { class: "badge status" }, t(`status.${status}`)) : null,
      el("span", { class: "note" }, last || when(m.at)));
  }));
  list.replaceChildren(...items);
}
