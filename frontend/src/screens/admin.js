// @ts-check
/** Admin console: system health, model versions (metrics, training curves, retrain, promote, roll back) and live jobs. */
import { get, getOptional, paths, post, rows, ApiError } from "../api.js";
import { h, fill, toast, pill, emptyState } from "../ui.js";
import { lineChart } from "../charts.js";
import { events } from "../socket.js";

const COLORS = ["#2f6fdf", "#e0533d", "#1e9e5a", "#7b5cd6", "#e0a800", "#14a3b8"];

/** @param {HTMLElement} root */
export async function mount(root) {
  const health = h("section.card", { testid: "health" });
  const models = h("section.card", { testid: "models" });
  const jobsBox = h("section.card", { testid: "admin-jobs" });
  fill(root, h("div.page", null, h("div.page-head", null, h("h1", null, "Models, jobs and health")), health, models, jobsBox));
  const live = events();
  await Promise.all([renderHealth(health), renderModels(models, live), renderJobs(jobsBox, live)]);
  setInterval(() => renderHealth(health), 15000);
  root.dataset.ready = "1";
}

/** @param {HTMLElement} box */
async function renderHealth(box) {
  let report, ok = false;
  try {
    const res = await fetch(paths.health, { credentials: "same-origin" });
    report = await res.json();
    ok = res.ok;
  } catch (err) {
    fill(box, h("h2", null, "System health"), h("p.error", null, `Server unreachable: ${/** @type {any} */ (err).message}`));
    return;
  }
  const parts = Object.entries(report).filter(([k]) => k !== "status");
  fill(box, h("h2", null, h("span", { class: `health-dot ${ok ? "ok" : "bad"}` }), "System health ", pill(report.status)),
    h("table.data", null, ...parts.map(([k, v]) => h("tr", null, h("td", null,
      typeof v === "object" && v && "ok" in v ? h("span", { class: `health-dot ${v.ok ? "ok" : "bad"}` }) : null, h("strong", null, k)),
      h("td", null, typeof v === "object" ? summarize(v) : String(v))))));
}

/** @param {any} v */
function summarize(v) {
  if (Array.isArray(v)) return v.length ? v.map((x) => (typeof x === "object" ? Object.values(x).slice(0, 3).join(" · ") : String(x))).join("; ") : "none";
  return Object.entries(v).map(([k, x]) => `${k}: ${typeof x === "object" ? JSON.stringify(x) : x}`).join(" · ");
}

/** @param {HTMLElement} box @param {import("../socket.js").EventSocket} live */
async function renderModels(box, live) {
  const projects = rows(await get(paths.projects));
  if (!projects.length) { fill(box, h("h2", null, "Model versions"), emptyState("No projects yet")); return; }
  const sel = h("select", { testid: "ml-project" }, ...projects.map((p) => h("option", { value: String(p.id) }, p.name)));
  const body = h("div");
  const load = async () => {
    const pid = Number(/** @type {HTMLSelectElement} */ (sel).value);
    let data;
    try { data = await getOptional(paths.mlVersionsOf(pid)); } catch (err) { fill(body, h("p.error", null, String(/** @type {any} */ (err).message))); return; }
    if (data === null) { fill(body, emptyState("The ML API is not available yet", "GET /api/ml/versions/ answered 404.")); return; }
    const versions = rows(data);
    const curve = h("div", { testid: "curves" });
    const act = (/** @type {string} */ url, /** @type {string} */ done, body = {}) => post(url, body).then(() => { toast(done, "ok"); load(); })
      .catch((/** @type {any} */ e) => toast(e instanceof ApiError && e.code ? `${e.code}: ${e.message}` : e.message, "error"));
    fill(body,
      h("div.row", null,
        h("button.primary", { testid: "retrain", onclick: () => act(paths.mlRetrain(pid), "Training queued") }, "Retrain now"),
        h("button", { testid: "rollback", onclick: () => act(paths.mlRollback(pid), "Rolled back to the previous version") }, "Roll back"),
        h("button", { onclick: () => act(paths.mlPreannotate(pid), "Pre-annotation queued") }, "Pre-annotate open tasks")),
      versions.length ? h("table.data", { testid: "versions" }, h("tr", null, ...["version", "status", "labels", "key metrics", "created", ""].map((x) => h("th", null, x))),
        ...versions.map((v) => h("tr", null, h("td", null, h("a", { href: "#", onclick: (/** @type {Event} */ e) => { e.preventDefault(); drawCurves(curve, v); } }, `v${v.number}`), " ", h("span.small.muted", null, v.architecture)),
          h("td", null, pill(v.status), v.status_reason ? h("div.small.error", null, v.status_reason.slice(0, 120)) : null),
          h("td", null, String(v.labels_at_training ?? "")), h("td.small", null, metricsText(v.metrics)),
          h("td.small", null, (v.created_at || "").slice(0, 16).replace("T", " ")),
          h("td", null, v.status === "ready" ? h("button.small", { onclick: () => act(paths.mlPromote(v.id), `v${v.number} promoted`) }, "Promote") : null,
            v.status === "ready" ? h("button.small.link", { onclick: () => act(paths.mlPromote(v.id), `v${v.number} promoted (forced)`, { force: true }) }, "force") : null))))
        : emptyState("No model versions yet", "Train the first one with “Retrain now” once annotators have labelled some cells."),
      curve);
    if (versions.length) drawCurves(curve, versions[0]);
  };
  sel.addEventListener("change", load);
  live.on("model.updated", load);
  live.on("model.promoted", load);
  fill(box, h("div.page-head", null, h("h2", null, "Model versions"), h("label", null, "Project ", sel)), body);
  await load();
}

/** @param {any} m */
function metricsText(m) {
  if (!m || typeof m !== "object") return "—";
  const flat = Object.entries(m).filter(([, v]) => typeof v === "number");
  return flat.length ? flat.slice(0, 5).map(([k, v]) => `${k} ${Number(v).toFixed(3)}`).join(" · ") : "—";
}

/** Training curves: each numeric per-epoch field becomes a line. @param {HTMLElement} box @param {any} v */
function drawCurves(box, v) {
  const curves = Array.isArray(v.curves) ? v.curves : [];
  if (!curves.length) { fill(box, h("h3", null, `v${v.number} training curves`), emptyState("No training curves recorded for this version")); return; }
  const keys = [...new Set(curves.flatMap((/** @type {any} */ c) => Object.keys(c)))].filter((k) => k !== "epoch" && curves.some((/** @type {any} */ c) => typeof c[k] === "number"));
  const loss = keys.filter((k) => /loss/i.test(k)), other = keys.filter((k) => !/loss/i.test(k));
  const series = (/** @type {string[]} */ ks) => ks.map((k, i) => ({ name: k, color: COLORS[i % COLORS.length],
    points: curves.map((/** @type {any} */ c, j) => /** @type {[number, number]} */ ([c.epoch ?? j + 1, c[k]])).filter((p) => typeof p[1] === "number") }));
  fill(box, h("h3", null, `v${v.number} training curves`), h("div.grid2", null,
    loss.length ? lineChart(series(loss), { title: "loss", xLabel: "epoch" }) : null,
    other.length ? lineChart(series(other), { title: "validation", xLabel: "epoch" }) : null));
}

/** @param {HTMLElement} box @param {import("../socket.js").EventSocket} live */
async function renderJobs(box, live) {
  /** @type {Map<string, any>} */
  const jobs = new Map();
  const table = h("div");
  const draw = () => {
    const list = [...jobs.values()].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at))).slice(0, 50);
    fill(table, list.length ? h("table.data", null, h("tr", null, ...["kind", "project", "status", "progress", "message / error", "created"].map((x) => h("th", null, x))),
      ...list.map((j) => h("tr", { dataset: { job: j.id } }, h("td", null, j.kind), h("td", null, String(j.project ?? "")), h("td", null, pill(j.status)),
        h("td", null, h("div.progress", null, h("span", { style: { width: `${Math.round(100 * (j.progress || 0))}%` } }))),
        h("td.small", null, j.error ? h("span.error", { title: j.error }, j.error.slice(0, 160)) : j.message || ""),
        h("td.small", null, (j.created_at || "").slice(0, 16).replace("T", " ")))))
      : emptyState("No jobs yet"));
  };
  const load = async () => {
    const data = await get(paths.jobs).catch(() => []);
    for (const j of rows(data)) jobs.set(j.id, j);
    draw();
  };
  for (const ev of ["job.progress", "job.finished", "job.created"]) live.on(ev, (/** @type {any} */ d) => { if (d?.id) { jobs.set(d.id, { ...(jobs.get(d.id) || {}), ...d }); draw(); } });
  fill(box, h("h2", null, "Jobs ", h("span.small.muted", null, "live")), table);
  await load();
  setInterval(load, 10000);
}
