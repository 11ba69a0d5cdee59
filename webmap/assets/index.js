const names = { database: "Database (PostGIS)", mqtt: "MQTT (sensori)" };
async function refresh() {
  const status = document.getElementById("status");
  try {
    const res = await fetch("/healthz", { cache: "no-store" });
    const body = await res.json();
    const ok = res.ok;
    status.textContent = ok ? "Vedetta è attiva — Vedetta is up" : "Vedetta è degradata — Vedetta is degraded";
    status.className = ok ? "status" : "status down";
    status.dataset.state = ok ? "ok" : "degraded";
    document.getElementById("version").textContent = body.version || "";
    const rows = Object.keys(names).filter(k => k in body).map(k => {
      const state = body[k] === "ok" ? "ok" : "down";
      const label = state === "ok" ? "attivo" : "non disponibile";
      const why = (body.errors && body.errors[k]) ? ` — ${body.errors[k]}` : "";
      return `<tr><td>${names[k]}</td><td class="${state}">${label}${why.replace(/</g, "&lt;")}</td></tr>`;
    });
    document.getElementById("parts").innerHTML = rows.join("");
  } catch (e) {
    status.textContent = "Vedetta non risponde — Vedetta does not answer";
    status.className = "status down";
    status.dataset.state = "unreachable";
  }
}
refresh();
setInterval(refresh, 5000);
