// @ts-check
/** Tiny SVG charts (no library): horizontal bars, grouped bars and line charts with axes. */

const NS = "http://www.w3.org/2000/svg";

/** @param {string} tag @param {Record<string, any>} attrs @param {...Node} kids */
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const k of kids) el.append(k);
  return el;
}

/** Round-number ticks covering [0, max]. @param {number} max @param {number} [n] */
export function ticks(max, n = 4) {
  if (!(max > 0)) return [0, 1];
  const raw = max / n;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((v) => v >= raw) || raw;
  const out = [];
  for (let v = 0; v <= max + step * 0.999; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

/**
 * Horizontal bar chart; each row may have several stacked parts.
 * @param {{label: string, parts: {value: number, color: string, name?: string}[]}[]} rows @param {{width?: number, title?: string}} [o]
 */
export function barChart(rows, o = {}) {
  const w = o.width ?? 520, rowH = 22, left = 120, right = 40, top = o.title ? 22 : 6;
  const h = top + rows.length * rowH + 22;
  const max = Math.max(1, ...rows.map((r) => r.parts.reduce((a, p) => a + p.value, 0)));
  const tk = ticks(max);
  const scale = (w - left - right) / tk[tk.length - 1];
  const svg = s("svg", { viewBox: `0 0 ${w} ${h}`, class: "chart", role: "img", "aria-label": o.title || "bar chart" });
  if (o.title) svg.append(s("text", { x: 0, y: 14, "font-weight": 600 }, document.createTextNode(o.title)));
  for (const t of tk) {
    const x = left + t * scale;
    svg.append(s("line", { x1: x, x2: x, y1: top, y2: h - 18, stroke: "#e3e7ee" }));
    svg.append(s("text", { x, y: h - 4, "text-anchor": "middle" }, document.createTextNode(String(t))));
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH + 3;
    svg.append(s("text", { x: left - 6, y: y + 12, "text-anchor": "end" }, document.createTextNode(r.label.slice(0, 18))));
    let x = left;
    for (const p of r.parts) {
      const bw = p.value * scale;
      const rect = s("rect", { x, y, width: Math.max(0, bw), height: rowH - 8, fill: p.color, rx: 2 });
      rect.append(s("title", {}, document.createTextNode(`${p.name || r.label}: ${p.value}`)));
      svg.append(rect);
      x += bw;
    }
    const total = r.parts.reduce((a, p) => a + p.value, 0);
    svg.append(s("text", { x: x + 4, y: y + 12 }, document.createTextNode(String(Math.round(total * 100) / 100))));
  });
  return svg;
}

/**
 * Line chart of one or more series over x.
 * @param {{name: string, color: string, points: [number, number][]}[]} series
 * @param {{width?: number, height?: number, title?: string, xLabel?: string, yMax?: number}} [o]
 */
export function lineChart(series, o = {}) {
  const w = o.width ?? 520, h = o.height ?? 220, left = 44, right = 12, top = o.title ? 24 : 8, bottom = 30;
  const xs = series.flatMap((se) => se.points.map((p) => p[0]));
  const ys = series.flatMap((se) => se.points.map((p) => p[1]));
  const x0 = Math.min(0, ...xs), x1 = Math.max(1, ...xs);
  const ty = ticks(o.yMax ?? Math.max(1e-9, ...ys));
  const yMax = ty[ty.length - 1];
  const X = (/** @type {number} */ v) => left + ((v - x0) / (x1 - x0 || 1)) * (w - left - right);
  const Y = (/** @type {number} */ v) => h - bottom - (v / yMax) * (h - top - bottom);
  const svg = s("svg", { viewBox: `0 0 ${w} ${h}`, class: "chart", role: "img", "aria-label": o.title || "line chart" });
  if (o.title) svg.append(s("text", { x: 0, y: 14, "font-weight": 600 }, document.createTextNode(o.title)));
  for (const t of ty) {
    svg.append(s("line", { x1: left, x2: w - right, y1: Y(t), y2: Y(t), stroke: "#e3e7ee" }));
    svg.append(s("text", { x: left - 6, y: Y(t) + 4, "text-anchor": "end" }, document.createTextNode(String(t))));
  }
  for (const t of ticks(x1 - x0, 5)) svg.append(s("text", { x: X(x0 + t), y: h - 12, "text-anchor": "middle" }, document.createTextNode(String(x0 + t))));
  if (o.xLabel) svg.append(s("text", { x: w - right, y: h - 1, "text-anchor": "end" }, document.createTextNode(o.xLabel)));
  series.forEach((se, i) => {
    const d = se.points.map((p, j) => `${j ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
    svg.append(s("path", { d, fill: "none", stroke: se.color, "stroke-width": 2 }));
    svg.append(s("rect", { x: left + 8 + i * 110, y: top - 2, width: 10, height: 10, fill: se.color }));
    svg.append(s("text", { x: left + 22 + i * 110, y: top + 7 }, document.createTextNode(se.name)));
  });
  return svg;
}
