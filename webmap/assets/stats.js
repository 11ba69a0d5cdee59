// `/trasparenza`: the open-data dashboard of the reports (GET /api/stats/reports): received and closed per comune
// and category, median and p90 hours to take in charge and to resolve, as tables and SVG bars; links to open data.
// Test hooks: #stats-comune, #stats-from, #stats-to, #stats-apply, #stats-error, #stats-total[data-total],
// #stats-status [data-status], #stats-table tbody tr[data-comune], #stats-categories tbody tr[data-category],
// #stats-chart-ack svg rect[data-key], #stats-chart-resolve svg, #opendata-geojson, #opendata-csv, body[data-ready].

import { initPage, strings, t, api, el, num, onLanguage, ready } from "/assets/common.js";
import { barChart } from "/assets/chart.js";

strings({
  "st.title": ["Trasparenza: le segnalazioni in numeri", "Transparency: reports in figures"],
  "st.comune": ["Comune", "Comune"], "st.all": ["Tutti i comuni", "All comuni"], "st.from": ["Dal", "From"], "st.to": ["Al", "To"],
  "st.apply": ["Aggiorna", "Update"], "st.summary": ["Sintesi", "Summary"],
  "st.total": ["{n} segnalazioni ricevute dal {from} al {to}", "{n} reports received from {from} to {to}"],
  "st.ack": ["Ore per la presa in carico (mediana e 90° percentile)", "Hours to take in charge (median and 90th percentile)"],
  "st.resolve": ["Ore per la risoluzione (mediana e 90° percentile)", "Hours to resolve (median and 90th percentile)"],
  "st.bycomune": ["Per comune", "By comune"], "st.bycategory": ["Per categoria", "By category"],
  "st.col.comune": ["Comune", "Comune"], "st.col.category": ["Categoria", "Category"], "st.col.received": ["Ricevute", "Received"],
  "st.col.resolved": ["Risolte", "Resolved"], "st.col.ack": ["Presa in carico, mediana (h)", "Taken in charge, median (h)"],
  "st.col.ack90": ["Presa in carico, p90 (h)", "Taken in charge, p90 (h)"], "st.col.res": ["Risoluzione, mediana (h)", "Resolution, median (h)"],
  "st.col.res90": ["Risoluzione, p90 (h)", "Resolution, p90 (h)"],
  "st.median": ["mediana", "median"], "st.p90": ["p90", "p90"],
  "st.chart.ack": ["Ore per la presa in carico per {by}", "Hours to take in charge by {by}"],
  "st.chart.resolve": ["Ore per la risoluzione per {by}", "Hours to resolve by {by}"],
  "st.by.comune": ["comune", "comune"], "st.by.category": ["categoria", "category"],
  "st.opendata": ["Dati aperti", "Open data"],
  "st.opendata.text": ["Le segnalazioni pubbliche, senza dati personali, sono scaricabili:", "The public reports, without personal data, can be downloaded:"],
  "st.mincount": ["Le cifre su meno di 5 segnalazioni sono mostrate ma non entrano nella classifica.", "Figures over fewer than 5 reports are shown but not ranked."],
  "st.none": ["Nessun tempo misurato nel periodo.", "No time measured in the period."],
});

let stats = null;

initPage();
boot();

async function boot() {
  const to = new Date(), from = new Date(to.getTime() - 365 * 86400000);
  document.getElementById("stats-from").value = from.toISOString().slice(0, 10);
  document.getElementById("stats-to").value = to.toISOString().slice(0, 10);
  document.getElementById("stats-filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  onLanguage(render);
  try {
    const answer = await api("/api/comuni");
    const select = document.getElementById("stats-comune");
    for (const c of answer.comuni || []) select.append(el("option", { value: c.istat }, c.name));
  } catch { /* all comuni only */ }
  await load();
  ready();
}

async function load() {
  const params = new URLSearchParams();
  const comune = document.getElementById("stats-comune").value;
  if (comune) params.set("comune", comune);
  for (const k of ["from", "to"]) { const v = document.getElementById(`stats-${k}`).value; if (v) params.set(k, v); }
  document.getElementById("stats-error").textContent = "";
  try {
    stats = await api(`/api/stats/reports?${params}`);
  } catch (e) {
    stats = null;
    document.getElementById("stats-error").textContent = e.detail || e.message;
  }
  document.getElementById("opendata-geojson").href = `/api/reports/opendata.geojson${comune ? `?comune=${comune}` : ""}`;
  document.getElementById("opendata-csv").href = `/api/reports/opendata.csv${comune ? `?comune=${comune}` : ""}`;
  render();
}

function render() {
  if (!stats) return;
  const total = document.getElementById("stats-total");
  total.textContent = t("st.total", { n: stats.total, from: stats.from.slice(0, 10), to: stats.to.slice(0, 10) });
  total.dataset.total = stats.total;
  document.getElementById("stats-status").replaceChildren(...(stats.by_status || []).map((s) =>
    el("li", { dataset: { status: s.key } }, el("span", { class: "grow" }, t(`status.${s.key}`)), el("strong", {}, String(s.count)))));
  const h = (x) => el("td", { class: "num" }, num(x, 1));
  document.querySelector("#stats-table tbody").replaceChildren(...(stats.comuni || []).map((c) =>
    el("tr", { dataset: { comune: c.comune } }, el("th", { scope: "row" }, c.comune_name), el("td", { class: "num" }, String(c.reports)),
      el("td", { class: "num" }, String(c.resolved)), h(c.hours_to_acknowledge.median), h(c.hours_to_acknowledge.p90),
      h(c.hours_to_resolve.median), h(c.hours_to_resolve.p90))));
  document.querySelector("#stats-categories tbody").replaceChildren(...(stats.categories || []).map((c) =>
    el("tr", { dataset: { category: c.category || "", comune: c.comune } }, el("th", { scope: "row" }, c.category_name || c.category || ""),
      el("td", {}, c.comune_name), el("td", { class: "num" }, String(c.reports)), el("td", { class: "num" }, String(c.resolved)),
      h(c.hours_to_acknowledge.median), h(c.hours_to_resolve.median))));
  // Charts: per comune, or per category when one comune is chosen (or only one has reports).
  const byCategory = !!stats.comune || (stats.comuni || []).length <= 1;
  const rows = byCategory ? stats.categories || [] : stats.comuni || [];
  const key = (r) => (byCategory ? r.category || "" : r.comune);
  const label = (r) => (byCategory ? r.category_name || r.category || "" : r.comune_name);
  const by = t(byCategory ? "st.by.category" : "st.by.comune");
  const series = [t("st.median"), t("st.p90")];
  const chart = (field, title) => {
    const measured = rows.filter((r) => typeof r[field].median === "number" || typeof r[field].p90 === "number");
    return measured.length
      ? barChart(measured.map((r) => ({ key: key(r), label: label(r), values: [r[field].median, r[field].p90] })), series, "h", t(title, { by }))
      : el("p", {}, t("st.none"));
  };
  document.getElementById("stats-chart-ack").replaceChildren(chart("hours_to_acknowledge", "st.chart.ack"));
  document.getElementById("stats-chart-resolve").replaceChildren(chart("hours_to_resolve", "st.chart.resolve"));
}
