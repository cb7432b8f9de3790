// @ts-check
/** Manager screens: overview with charts, slides and pairs, registration QA, tasks, classes, members, export. */
import { get, getOptional, paths, post, rows, ApiError } from "../api.js";
import { h, fill, toast, duration, pill, emptyState } from "../ui.js";
import { barChart, lineChart } from "../charts.js";
import { events } from "../socket.js";
import { slidesTab } from "./manage_slides.js";
import { qaTab } from "./manage_qa.js";
import { classesTab, membersTab } from "./manage_people.js";

const TABS = [
  ["overview", "Progress"],
  ["slides", "Slides & pairs"],
  ["qa", "Registration QA"],
  ["tasks", "Tasks"],
  ["classes", "Classes"],
  ["members", "Members"],
  ["export", "Export"],
];

/** @param {HTMLElement} root */
export async function mount(root) {
  const projectId = Number(root.dataset.project);
  let project;
  try {
    project = await get(paths.project(projectId));
  } catch (err) {
    fill(root, h("div.card.denied", { testid: "forbidden" }, h("h1", null, "Project not found"), h("p", null, String(/** @type {any} */ (err).message))));
    return;
  }
  const body = h("div", { testid: "tab-body" });
  const tabs = h("nav.tabs", { role: "tablist" });
  const live = events();
  live.subscribe(projectId);
  const ctx = { projectId, project, live, refresh: () => show(current) };
  let current = location.hash.slice(1) || "overview";
  /** @type {(() => void)|null} */
  let cleanup = null;
  let seq = 0;
  async function show(/** @type {string} */ name) {
    const mine = ++seq;
    current = name;
    history.replaceState(null, "", `#${name}`);
    fill(tabs, ...TABS.map(([k, label]) => h(`button${k === name ? ".on" : ""}`, { role: "tab", testid: `tab-${k}`, onclick: () => show(k) }, label)));
    cleanup?.();
    cleanup = null;
    fill(body, h("p.muted", null, "Loading…"));
    try {
      const view = await VIEWS[name](ctx);
      if (mine !== seq) { view.cleanup?.(); return; } // another tab was chosen while this one loaded
      fill(body, view.el || view);
      cleanup = view.cleanup || null;
    } catch (err) {
      if (mine === seq) fill(body, h("div.card.error", null, `Could not load: ${/** @type {any} */ (err).message || err}`));
    }
  }
  fill(root, h("div.page", null,
    h("div.page-head", null, h("div", null, h("div.muted.small", null, "Manage project"), h("h1", { testid: "project-name" }, project.name)),
      h("a.button", { href: `/app/annotate/${projectId}/` }, "Open annotator view")),
    tabs, body));
  root.dataset.ready = "1";
  show(VIEWS[current] ? current : "overview");
}

/** @type {Record<string, (ctx: any) => Promise<any>>} */
const VIEWS = {
  overview: overviewTab,
  slides: slidesTab,
  qa: qaTab,
  tasks: tasksTab,
  classes: classesTab,
  members: membersTab,
  export: exportTab,
};

/** @param {any} ctx */
async function overviewTab(ctx) {
  const [stats, classes, agreement] = await Promise.all([
    get(paths.stats(ctx.projectId)),
    getOptional(paths.classes(ctx.projectId)).then(rows),
    getOptional(paths.quality(ctx.projectId)).catch(() => null),
  ]);
  const color = new Map(classes.map((c) => [String(c.id), c.color]));
  const name = new Map(classes.map((c) => [String(c.id), c.name]));
  const t = stats.tasks || {}, a = stats.assignments || {}, ann = stats.annotations || {};
  const done = Number(t.by_status?.completed || 0);
  const el = h("div", { testid: "overview" },
    h("div.grid3", null,
      statCard("Tasks completed", `${done} / ${t.total || 0}`, t.total ? done / t.total : 0),
      statCard("Assignments submitted", `${a.by_status?.submitted || 0} / ${a.total || 0}`, a.total ? (a.by_status?.submitted || 0) / a.total : 0),
      statCard("Labels", String(ann.total || 0), null, `time on tasks ${duration(a.time_spent_s || 0)}`)),
    h("div.grid2", null,
      h("section.card", null, h("h2", null, "Progress per slide pair"),
        (stats.pairs || []).length ? barChart(stats.pairs.map((/** @type {any} */ p) => ({
          label: p.name || `pair ${p.pair}`,
          parts: [{ value: p.tasks_completed, color: "#1e9e5a", name: "completed" }, { value: p.tasks - p.tasks_completed, color: "#c9d3e3", name: "open" }],
        })), { title: "tasks completed / open" }) : emptyState("No tasks yet", "Generate tasks on the Tasks tab.")),
      h("section.card", null, h("h2", null, "Labels per class"),
        Object.keys(ann.by_class || {}).length ? barChart(Object.entries(ann.by_class).map(([k, v]) => ({
          label: name.get(k) || (k === "null" ? "no class" : `class ${k}`), parts: [{ value: Number(v), color: color.get(k) || "#8a94a6" }],
        }))) : emptyState("No labels yet"))),
    h("section.card", null, h("h2", null, "Annotators"),
      (stats.annotators || []).length ? h("div.grid2", null,
        barChart(stats.annotators.map((/** @type {any} */ r) => ({
          label: r.username, parts: [{ value: r.assignments_submitted, color: "#2f6fdf", name: "submitted" }, { value: r.assignments_skipped, color: "#e0a800", name: "skipped" },
            { value: Math.max(0, r.assignments - r.assignments_submitted - r.assignments_skipped), color: "#c9d3e3", name: "open" }],
        })), { title: "assignments submitted / skipped / open" }),
        annotatorTable(stats.annotators, agreement)) : emptyState("No assignments yet", "Distribute tasks to your annotators on the Tasks tab.")),
    h("section.card", null, h("h2", null, "Agreement"),
      agreement && (agreement.agreement || []).length ? agreementView(agreement) : emptyState("Agreement is computed by the consensus job",
        "It appears here after the first consensus rebuild (every few minutes once annotators have overlapping tasks).")));
  const off = ctx.live.on("assignment.changed", () => ctx.refresh());
  return { el, cleanup: off };
}

/** @param {string} label @param {string} value @param {number|null} frac @param {string} [sub] */
function statCard(label, value, frac, sub = "") {
  return h("section.card", null, h("div.stat-label", null, label), h("div.stat", null, value),
    frac !== null ? h("div.progress", null, h("span", { style: { width: `${Math.round(frac * 100)}%` } })) : null,
    sub ? h("div.muted.small", null, sub) : null);
}

/** @param {any[]} list @param {any} agreement */
function annotatorTable(list, agreement) {
  const ag = new Map((agreement?.annotators || []).map((/** @type {any} */ r) => [r.user ?? r.username, r]));
  return h("table.data", { testid: "annotators" }, h("tr", null, ...["annotator", "submitted", "labels", "time", "agreement", "reliability", "gold F1", "cells/min"].map((x) => h("th", null, x))),
    ...list.map((r) => {
      const q = ag.get(r.user) || ag.get(r.username);
      return h("tr", null, h("td", null, r.username), h("td", null, `${r.assignments_submitted}/${r.assignments}`), h("td", null, String(r.annotations)),
        h("td", null, duration(r.time_spent_s)), h("td", null, q && q.class_agreement != null ? `${Math.round(100 * q.class_agreement)}%` : "—"),
        h("td", null, q && q.reliability != null ? q.reliability.toFixed(2) : "—"), h("td", null, q && q.gold_f1 != null ? q.gold_f1.toFixed(2) : "—"),
        h("td", null, q && q.cells_per_minute != null ? q.cells_per_minute.toFixed(1) : "—"));
    }));
}

/** Agreement over time from the consensus rebuilds. @param {any} quality */
function agreementView(quality) {
  const snaps = quality.agreement || [];
  const pts = (/** @type {string} */ key) => snaps.map((/** @type {any} */ sn, /** @type {number} */ i) => /** @type {[number, number]} */ ([i + 1, sn[key] ?? 0]));
  return lineChart([
    { name: "annotators", color: "#7b5cd6", points: pts("pairwise") },
    { name: "model", color: "#1e9e5a", points: pts("model") },
  ], { title: "agreement per consensus rebuild", xLabel: "rebuild", yMax: 1 });
}

let lastGenerate = "";

/** @param {any} ctx */
async function tasksTab(ctx) {
  const [pairs, tasks, classes] = await Promise.all([
    get(paths.pairs(ctx.projectId)), get(paths.tasks(ctx.projectId)).then(rows), getOptional(paths.classes(ctx.projectId)).then(rows),
  ]);
  const pairSel = h("select", { testid: "gen-pair" }, ...pairs.map((/** @type {any} */ p) => h("option", { value: String(p.id) }, p.name)));
  const field = h("input", { type: "number", value: "200", min: "10", testid: "gen-field-um", style: { width: "90px" } });
  const mode = h("select", { testid: "gen-mode" }, h("option", { value: "sparse" }, "sparse"), h("option", { value: "exhaustive" }, "exhaustive"));
  const minTissue = h("input", { type: "number", value: "0.2", step: "0.05", min: "0", max: "1", style: { width: "70px" } });
  const dist = h("input", { type: "checkbox", checked: true, testid: "gen-distribute" });
  const out = h("div", { testid: "gen-result" }, lastGenerate);
  const generate = async () => {
    try {
      const res = await post(paths.taskGenerate, {
        pair: Number(/** @type {HTMLSelectElement} */ (pairSel).value), field_um: Number(/** @type {HTMLInputElement} */ (field).value),
        label_mode: /** @type {HTMLSelectElement} */ (mode).value, classes: classes.map((c) => c.id),
        min_tissue: Number(/** @type {HTMLInputElement} */ (minTissue).value), distribute: /** @type {HTMLInputElement} */ (dist).checked,
      });
      toast(`Created ${res.created} tasks, ${res.assignments_created} assignments`, "ok");
      lastGenerate = `Created ${res.created} tasks and ${res.assignments_created} assignments.`;
      ctx.refresh();
    } catch (err) { toast(`Could not generate: ${/** @type {any} */ (err).message}`, "error"); }
  };
  const distribute = async () => {
    try {
      const res = await post(paths.taskDistribute, { project: ctx.projectId });
      toast(`${res.assignments_created} new assignments`, "ok");
      ctx.refresh();
    } catch (err) { toast(`Could not distribute: ${/** @type {any} */ (err).message}`, "error"); }
  };
  return h("div", null,
    h("section.card", null, h("h2", null, "Generate tasks"),
      pairs.length ? h("div.form-row", null,
        h("label", null, "Slide pair", pairSel), h("label", null, "Field of view (µm)", field), h("label", null, "Label mode", mode),
        h("label", null, "Min tissue", minTissue), h("label", { style: { flexDirection: "row", alignItems: "center" } }, dist, " distribute to ", String(ctx.project.redundancy_k ?? "k"), " annotators each"),
        h("button.primary", { testid: "gen-go", onclick: generate }, "Generate")) : emptyState("No slide pairs yet", "Add slides and pair them first."),
      out),
    h("section.card", null, h("div.page-head", null, h("h2", null, `Tasks (${tasks.length})`), h("button", { testid: "distribute", onclick: distribute }, "Distribute open tasks")),
      tasks.length ? h("table.data", { testid: "task-table" }, h("tr", null, ...["#", "name", "pair", "mode", "status", "priority", ""].map((x) => h("th", null, x))),
        ...tasks.slice(0, 300).map((/** @type {any} */ t) => h("tr", null, h("td", null, String(t.id)), h("td", null, t.name), h("td", null, String(t.pair)), h("td", null, t.label_mode),
          h("td", null, pill(t.status)), h("td", null, String(t.priority)), h("td", null, h("a", { href: `/app/annotate/${ctx.projectId}/${t.id}/` }, "open"))))) : emptyState("No tasks yet")));
}

/** @param {any} ctx */
async function exportTab(ctx) {
  const formats = [["geojson", "QuPath GeoJSON"], ["coco", "COCO instances"], ["csv", "Point CSV"]];
  return h("section.card", { testid: "export" }, h("h2", null, "Export labels"),
    h("p.muted", null, "Downloads of every label in this project (H&E level-0 pixel coordinates)."),
    h("ul", null, ...formats.map(([f, label]) => h("li", null, h("a", { href: paths.exportUrl(ctx.projectId, f), download: "" }, label)))),
    h("p.muted.small", null, "Per-task label masks (unknown / negative / class): /api/tasks/<id>/mask/ (PNG, or ?image=tiff)."));
}

export { ApiError };
