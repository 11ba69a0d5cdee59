// `/segnalazioni/{id}`: a report's public page and status history; with `?token=vtr_…` (the link given to the
// reporter) the tracking view, which also shows a report not yet public. Updates live from /api/reports/stream.
// Test hooks: #report-detail[data-report-id], #report-status[data-status], #report-detail-category,
// #report-detail-description, #report-detail-address, #report-detail-photos img, #report-history [data-status],
// #report-error, body[data-ready].

import { initPage, strings, t, api, el, when, follow, onLanguage, ready } from "/assets/common.js";

strings({
  "rep.title": ["Segnalazione", "Report"], "rep.status": ["Stato:", "Status:"], "rep.where": ["Dove", "Where"],
  "rep.filed": ["Inviata", "Filed"], "rep.supporters": ["Sostegni", "Supporters"],
  "rep.history": ["Storia della segnalazione", "History of the report"], "rep.new": ["Segnala un altro problema", "Report another problem"],
  "rep.photo": ["Foto {n} della segnalazione", "Photo {n} of the report"], "rep.notfound": ["Segnalazione non trovata.", "Report not found."],
  "rep.created": ["Ricevuta", "Received"],
});

const id = Number(location.pathname.split("/").pop());
const token = new URLSearchParams(location.search).get("token");
let shown = null;

initPage();
load().then(() => {
  onLanguage(render);
  follow("/api/reports/stream", { report: (change) => { if (change.report.id === id) load(); } });
  ready();
});

async function load() {
  try {
    if (token) {
      const tracked = await api(`/api/reports/track/${encodeURIComponent(token)}`);
      shown = { report: tracked.report, history: tracked.history || [] };
    } else {
      const [report, history] = await Promise.all([api(`/api/reports/${id}`), api(`/api/reports/${id}/history`)]);
      shown = { report, history: history || [] };
    }
    document.getElementById("report-error").textContent = "";
  } catch (e) {
    document.getElementById("report-error").textContent = e.status === 404 ? t("rep.notfound") : e.detail || e.message;
  }
  render();
}

function render() {
  if (!shown) return;
  const { report: r, history } = shown;
  const box = document.getElementById("report-detail");
  box.hidden = false;
  box.dataset.reportId = r.id;
  document.title = `${t("rep.title")} ${r.id} — Vedetta`;
  document.getElementById("report-detail-category").textContent = r.category_name;
  document.getElementById("report-number").textContent = `#${r.id}`;
  const status = document.getElementById("report-status");
  status.textContent = t(`status.${r.status}`);
  status.dataset.status = r.status;
  document.getElementById("report-detail-address").textContent = [r.address, r.comune_name].filter(Boolean).join(", ");
  document.getElementById("report-detail-created").textContent = when(r.created_at);
  document.getElementById("report-detail-supporters").textContent = String(r.supporters);
  document.getElementById("report-detail-description").textContent = r.description;
  document.getElementById("report-detail-note").textContent = r.public_note || "";
  document.getElementById("report-detail-photos").replaceChildren(...(r.photos || []).map((p, i) =>
    el("a", { href: p.url }, el("img", { src: p.thumb_url, alt: t("rep.photo", { n: i + 1 }), width: p.width > p.height ? 192 : null }))));
  const steps = history.length ? history : [{ to: "new", at: r.created_at }];
  document.getElementById("report-history").replaceChildren(...steps.map((s) => el("li", { dataset: { status: s.to } },
    el("strong", {}, t(`status.${s.to}`)), ` — ${when(s.at)}`, s.public_note ? el("p", {}, s.public_note) : null)));
}
