// Vedetta web app: small SVG charts drawn by hand (no chart library): a level line with threshold lines, a rain
// hyetograph with its cumulative curve, and horizontal bars. Each chart is role="img" with a <title> saying what it
// shows in words. Test hooks: svg[data-points], line[data-threshold], rect[data-key].

import { svg, num, t, strings } from "/assets/common.js";

strings({
  "chart.level": ["Livello idrometrico nelle ultime 24 ore: {n} letture, ultima {last} {unit}", "Water level over the last 24 hours: {n} readings, latest {last} {unit}"],
  "chart.rain": ["Pioggia oraria nelle ultime 24 ore, cumulata {total} {unit}", "Hourly rain over the last 24 hours, cumulative {total} {unit}"],
  "chart.cumulative": ["cumulata", "cumulative"],
  "chart.empty": ["Nessuna lettura nelle ultime 24 ore", "No reading in the last 24 hours"],
});

const W = 640, H = 250, L = 52, R = 60, T = 22, B = 28;

function frame(label, points) {
  return svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, "data-points": points },
    svg("title", {}, label));
}

function timeAxis(root, from, to) {
  const x = (ms) => L + ((ms - from) / Math.max(1, to - from)) * (W - L - R);
  root.append(svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
  for (let h = 0; h <= 24; h += 6) {
    const ms = from + (h / 24) * (to - from);
    const d = new Date(ms);
    root.append(svg("text", { x: x(ms), y: H - 8, "text-anchor": "middle" },
      `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`));
  }
  return x;
}

function valueAxis(root, min, max, side, unit) {
  const y = (v) => H - B - ((v - min) / Math.max(1e-9, max - min)) * (H - T - B);
  const xPos = side === "left" ? L : W - R;
  root.append(svg("line", { class: "axis", x1: xPos, y1: T, x2: xPos, y2: H - B }));
  for (let i = 0; i <= 4; i++) {
    const v = min + (i / 4) * (max - min);
    if (side === "left") root.append(svg("line", { class: "grid", x1: L, y1: y(v), x2: W - R, y2: y(v) }));
    root.append(svg("text", { x: side === "left" ? L - 4 : W - R + 4, y: y(v) + 4, "text-anchor": side === "left" ? "end" : "start" }, num(v, 2)));
  }
  root.append(svg("text", { x: xPos, y: T - 8, "text-anchor": side === "left" ? "end" : "start" }, unit));
  return y;
}

/** The level chart: `readings` [{t, v}], `thresholds` {yellow, orange, red}, over [from, to] (ms). */
export function levelChart(readings, thresholds, unit, from, to) {
  const points = readings.filter((r) => typeof r.v === "number");
  const last = points.length ? points[points.length - 1].v : null;
  const root = frame(points.length ? t("chart.level", { n: points.length, last: num(last), unit }) : t("chart.empty"), points.length);
  const levels = [["gialla", thresholds?.yellow], ["arancione", thresholds?.orange], ["rossa", thresholds?.red]].filter(([, v]) => typeof v === "number");
  const values = points.map((p) => p.v).concat(levels.map(([, v]) => v));
  let min = values.length ? Math.min(...values) : 0, max = values.length ? Math.max(...values) : 1;
  if (max - min < 0.1) { max += 0.05; min -= 0.05; }
  const pad = (max - min) * 0.08;
  const x = timeAxis(root, from, to);
  const y = valueAxis(root, min - pad, max + pad, "left", unit);
  for (const [name, v] of levels) {
    root.append(svg("line", { class: "threshold", "data-threshold": name, x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    root.append(svg("text", { x: W - R - 2, y: y(v) - 3, "text-anchor": "end" }, `${t(`level.${name}`)} ${num(v)}`));
  }
  if (points.length) {
    const d = points.map((p, i) => `${i ? "L" : "M"}${x(Date.parse(p.t)).toFixed(1)},${y(p.v).toFixed(1)}`).join("");
    root.append(svg("path", { class: "series", d }));
  }
  return root;
}

/** The hyetograph: `buckets` [{t, v}] (rain per interval of `bucketMs`), bars and the cumulative curve. */
export function rainChart(buckets, unit, from, to, bucketMs) {
  const bars = buckets.filter((b) => typeof b.v === "number");
  let total = 0;
  const cumulative = bars.map((b) => (total += b.v));
  const root = frame(bars.length ? t("chart.rain", { total: num(total, 1), unit }) : t("chart.empty"), bars.length);
  const x = timeAxis(root, from, to);
  const yBar = valueAxis(root, 0, Math.max(1, ...bars.map((b) => b.v)), "left", unit);
  const yCum = valueAxis(root, 0, Math.max(1, total), "right", `${unit} ${t("chart.cumulative")}`);
  const width = Math.max(1, x(from + bucketMs) - x(from) - 1);
  bars.forEach((b) => {
    const x0 = x(Date.parse(b.t));
    root.append(svg("rect", { class: "bar", x: x0.toFixed(1), y: yBar(b.v).toFixed(1), width: width.toFixed(1), height: Math.max(0, H - B - yBar(b.v)).toFixed(1) }));
  });
  if (bars.length) {
    const d = bars.map((b, i) => `${i ? "L" : "M"}${(x(Date.parse(b.t)) + width).toFixed(1)},${yCum(cumulative[i]).toFixed(1)}`).join("");
    root.append(svg("path", { class: "cumulative", d }));
  }
  return root;
}

/**
 * Horizontal bars: `rows` [{key, label, values: [number|null, …]}] with `series` names (one bar per value, the
 * second darker), in `unit`. Empty values draw no bar and say "–".
 */
export function barChart(rows, series, unit, label) {
  const rowH = 14 * series.length + 10;
  const height = T + rows.length * rowH + 24;
  const left = 180;
  const max = Math.max(1, ...rows.flatMap((r) => r.values.filter((v) => typeof v === "number")));
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": label, "data-points": rows.length },
    svg("title", {}, label));
  const x = (v) => left + (v / max) * (W - left - 70);
  rows.forEach((r, i) => {
    const y0 = T + i * rowH;
    root.append(svg("text", { x: left - 6, y: y0 + rowH / 2 + 2, "text-anchor": "end" }, r.label.length > 28 ? `${r.label.slice(0, 27)}…` : r.label));
    r.values.forEach((v, j) => {
      const y = y0 + j * 14;
      if (typeof v === "number") root.append(svg("rect", { class: j ? "bar p90" : "bar", "data-key": r.key, x: left, y, width: Math.max(1, x(v) - left).toFixed(1), height: 12 }));
      root.append(svg("text", { x: (typeof v === "number" ? x(v) : left) + 4, y: y + 10 }, `${series[j]}: ${num(v, 1)}${typeof v === "number" ? ` ${unit}` : ""}`));
    });
  });
  return root;
}
