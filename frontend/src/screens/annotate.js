// @ts-check
/**
 * Annotator workspace: layered viewer + one canvas of labels + tools + task panel. Every change goes
 * through the save queue (persisted, retried, conflicts surfaced).
 */
import { ApiError, get, getOptional, paths, post, qs, request, rows, cookie } from "../api.js";
import { createViewer } from "../viewer.js";
import { DrawLayer } from "../drawlayer.js";
import { AnnotationStore, isProposal, uuid4 } from "../state.js";
import { SaveQueue } from "../savequeue.js";
import { events } from "../socket.js";
import { regionBox, squareAround } from "../geometry.js";
import { channelsFrom, encodeRender, withRender } from "../render.js";
import { normClass, normRow, normTask, normViewer } from "../normalize.js";
import { h, fill, toast, duration } from "../ui.js";
import { pointTool } from "../tools/point.js";
import { polygonTool } from "../tools/polygon.js";
import { selectTool } from "../tools/select.js";
import { segmentTool } from "../tools/segment.js";
import { taskPanel, overlayPanel } from "./annotate_panels.js";
import { bulkItemFor, finalizeItem } from "../ops.js";
import { renderToolbar, wireInput, onKey, showHelp } from "./annotate_input.js";

const TOOLS = [pointTool, polygonTool, selectTool, segmentTool];

/** @param {HTMLElement} root */
export async function mount(root) {
  const projectId = Number(root.dataset.project);
  let taskId = Number(root.dataset.task) || null;
  root.classList.add("fullbleed");
  fill(root, h("div.loading", null, "Loading your task…"));
  let task, assignment = null;
  try {
    if (taskId) {
      task = normTask(await get(paths.task(taskId)));
      const mine = rows(await get(paths.assignments({ task: taskId })));
      const me = cookieUser();
      assignment = mine.find((a) => a.username === me && !["submitted", "skipped"].includes(a.status)) || mine.find((a) => a.username === me) || null;
    } else {
      const next = await get(paths.next(projectId));
      if (!next || !next.task) { noTasks(root, projectId); return; }
      task = normTask(next.task);
      assignment = next.assignment;
    }
  } catch (err) {
    const st = err instanceof ApiError ? err.status : 0;
    if (taskId && (st === 403 || st === 404)) {
      fill(root, h("div.card.denied", { testid: "forbidden" }, h("h1", null, "You cannot open this task"),
        h("p", null, "It does not exist or belongs to a project you are not a member of."), h("a", { href: "/" }, "Back to your projects")));
      return;
    }
    fill(root, h("div.card", null, h("h1", null, "Could not load the task"), h("p", null, String(/** @type {any} */ (err).message || err))));
    return;
  }
  if (assignment) {
    task.assignmentId = assignment.id;
    task.assignmentStatus = assignment.status;
    task.timeSpent = Number(assignment.time_spent_s || 0);
    if (assignment.status === "assigned") post(paths.assignmentAction(assignment.id, "start")).catch(() => {});
  }
  taskId = task.id;
  if (!root.dataset.task) history.replaceState(null, "", `/app/annotate/${projectId}/${taskId}/`);
  const [project, classRows, viewerRaw] = await Promise.all([
    getOptional(paths.project(projectId)),
    getOptional(paths.classes(projectId)).then(rows),
    get(paths.pairViewer(task.pair)),
  ]);
  let classes = classRows.map(normClass).sort((a, b) => a.order - b.order);
  if (task.classIds.length) classes = classes.filter((c) => task.classIds.includes(c.id));
  classes.forEach((c, i) => { if (!c.hotkey) c.hotkey = String(i + 1); });
  const vinfo = normViewer(viewerRaw);
  new Workspace(root, { projectId, task, project: project || {}, classes, vinfo }).start();
}

/** @param {HTMLElement} root @param {number} projectId */
function noTasks(root, projectId) {
  fill(root, h("div.card.done", { testid: "no-tasks" }, h("h1", null, "No tasks waiting for you"),
    h("p", null, "You have finished everything assigned to you in this project. New tasks appear here when your manager distributes them."),
    h("a.button", { href: `/app/annotate/${projectId}/` }, "Check again"), " ", h("a", { href: "/" }, "Back to projects")));
}

class Workspace {
  /**
   * @param {HTMLElement} root
   * @param {{projectId: number, task: ReturnType<typeof normTask>, project: any, classes: ReturnType<typeof normClass>[], vinfo: ReturnType<typeof normViewer>}} o
   */
  constructor(root, o) {
    Object.assign(this, o);
    this.root = root;
    this.projectId = o.projectId;
    this.task = o.task;
    this.project = o.project;
    this.classes = o.classes;
    this.vinfo = o.vinfo;
    this.tools = TOOLS;
    this.store = new AnnotationStore();
    /** @type {Set<string>} */
    this.selected = new Set();
    this.tool = pointTool;
    /** @type {number|null} */
    this.classId = this.classes[0]?.id ?? null;
    this.channels = channelsFrom(this.vinfo.channels, this.vinfo.defaultRender);
    this.overlayOn = Boolean(this.vinfo.overlayUrl);
    this.timeSpent = Number(sessionStorage.getItem(this.timeKey()) || this.task.timeSpent || 0);
    this.lastActivity = Date.now();
    this.submitted = ["submitted", "skipped"].includes(this.task.assignmentStatus);
    this.queue = new SaveQueue({
      send: (items) => this.sendBulk(items),
      storage: globalThis.localStorage,
      key: `laypath.savequeue.${cookieUser()}.${this.task.id}`,
      onState: () => this.panels?.renderSave(),
      onSaved: (id, v) => this.store.setVersion(id, v),
    });
  }

  timeKey() { return `laypath.time.${this.task.id}`; }

  async start() {
    const viewerEl = h("div.viewer", { testid: "viewer" });
    this.toolbar = h("nav.toolbar", { "aria-label": "Tools" });
    this.side = h("aside.sidepanel", { testid: "task-panel" });
    this.banner = h("div.banner-area");
    fill(this.root, h("div.workspace", null, this.toolbar, h("div.stage", null, viewerEl, this.banner), this.side));
    this.renderToolbar();
    const opacity = Number(localStorage.getItem("laypath.opacity") ?? 0.5);
    this.viewer = await createViewer(viewerEl, {
      heUrl: this.vinfo.heUrl,
      overlayUrl: this.overlayOn ? this.overlayUrlNow() : null,
      mpp: this.vinfo.mpp,
      opacity,
    });
    this.layer = new DrawLayer(this.viewer, {
      rows: () => this.store.rows.values(),
      get: (id) => this.store.get(id),
      colorOf: (c) => this.colorOf(c),
      selected: () => this.selected,
      region: () => this.task.region,
      preview: (g, t) => this.tool.preview?.(g, t, this.toolCtx()),
    });
    this.panels = { task: taskPanel(this), overlay: overlayPanel(this) };
    this.panels.renderSave = () => this.panels.task.renderSave();
    fill(this.side, this.panels.task.el, this.panels.overlay.el);
    this.panels.task.renderSave();
    this.wireInput();
    this.wireStore();
    this.restoreLocal();
    this.zoomToTask(true);
    this.viewer.osd.addHandler("animation-finish", () => this.loadSoon());
    this.loadSoon(0);
    this.wireLive();
    setInterval(() => this.tick(), 1000);
    globalThis.addEventListener("online", () => this.queue.retryNow());
    globalThis.addEventListener("beforeunload", (e) => {
      sessionStorage.setItem(this.timeKey(), String(this.timeSpent));
      if (this.queue.state().pending) e.preventDefault();
    });
    if (this.queue.state().pending) this.queue.retryNow();
    this.flushOtherTasks();
    // read-only hooks for browser tests and debugging (where things are on screen)
    /** @type {any} */ (globalThis).__laypath = {
      proposals: () => this.store.all().filter(isProposal).map((a) => a.id),
      screenOf: (/** @type {string} */ id) => {
        const a = this.store.get(id);
        if (!a) return null;
        const [x, y] = a.geometry.type === "Point" ? a.geometry.coordinates : a.geometry.coordinates[0][0];
        const t = this.viewer.transform();
        const r = this.viewer.el.getBoundingClientRect();
        return { x: r.left + t.ox + t.scale * x, y: r.top + t.oy + t.scale * y };
      },
      drawn: () => this.layer.drawn,
    };
    this.root.dataset.ready = "1";
  }

  /** Unsent changes of other tasks (left by an earlier visit) are delivered in the background too. */
  flushOtherTasks() {
    const prefix = `laypath.savequeue.${cookieUser()}.`;
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key || !key.startsWith(prefix) || key === this.queue.key) continue;
      let told = false;
      const other = new SaveQueue({
        send: (items) => this.sendBulk(items), storage: localStorage, key,
        onState: (st) => {
          if (told || st.pending || st.inFlight || st.conflicts.length) return;
          told = true;
          toast("Delivered changes kept from another task", "ok");
        },
      });
      if (other.state().pending) other.retryNow(); else told = true;
    }
  }

  overlayUrlNow() {
    const base = /** @type {string} */ (this.vinfo.overlayUrl);
    return this.channels.length ? withRender(base, encodeRender(this.channels)) : base;
  }

  /** @param {number|null} c */
  colorOf(c) {
    return this.classes.find((k) => k.id === c)?.color || "#9aa4b2";
  }

  /** @returns {import("../tools/types.js").ToolCtx} */
  toolCtx() {
    return {
      store: this.store,
      classId: () => this.classId,
      newRow: (geometry, extra = {}) => ({
        id: uuid4(), geometry, label_class: this.classId, source: "human", status: "none", task: this.task.id, version: 0, ...extra,
      }),
      select: (ids, add = false) => { if (!add) this.selected.clear(); ids.forEach((i) => this.selected.add(i)); this.layer.request(); },
      selected: this.selected,
      tolImg: (px) => px / Math.max(1e-6, this.viewer.imageZoom()),
      toast,
      redraw: () => this.layer.request(),
      segment: (pt) => this.segment(pt),
      hover: () => (this.viewer.mouse ? this.viewer.toImage(this.viewer.mouse) : null),
    };
  }

  /** @param {[number, number]} pt */
  async segment(pt) {
    try {
      const res = await post(paths.mlSegmentClick, { pair: this.task.pair, task: this.task.id, x: pt[0], y: pt[1], label_class: this.classId });
      const g = res && (res.geometry || res.polygon || (res.outline && { type: "Polygon", coordinates: [res.outline] }));
      if (g) return { geometry: g, fallback: false };
    } catch (err) {
      if (!(err instanceof ApiError) || ![404, 405, 501, 503].includes(err.status)) throw err;
    }
    const sidePx = this.vinfo.mpp ? 10 / this.vinfo.mpp : 24;
    return { geometry: squareAround(pt, sidePx), fallback: true };
  }

  /** @param {any[]} items */
  async sendBulk(items) {
    const res = await fetch(paths.annotationsBulk, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": cookie("csrftoken") },
      body: JSON.stringify({
        items: items.map(finalizeItem),
      }),
    });
    let body = null;
    try { body = await res.json(); } catch { body = null; }
    return { status: res.status, body };
  }

  /** @param {import("../state.js").Change} c */
  payload(c) {
    return bulkItemFor(c, this.queue.known.get(c.id) ?? 0, { pair: this.task.pair, task: this.task.id });
  }

  wireStore() {
    this.store.onChange((changes, origin) => {
      if (origin !== "remote") {
        for (const c of changes) {
          const p = this.payload(c);
          // undoing a decision that never reached the server: just forget the decision
          if (p.op === "restore" && p.to_version === "previous" && this.queue.drop(c.id)) continue;
          this.queue.enqueue(p);
          if (!c.after) this.selected.delete(c.id);
        }
        this.lastActivity = Date.now();
      }
      this.layer.request();
      this.panels.task.renderCounts();
    });
  }

  /** Put rows this browser still holds (unsent edits from before a reload) back on screen. */
  restoreLocal() {
    const local = this.queue.localRows().filter((p) => p.op === "upsert").map((p) => normRow({ ...p, version: 0 }));
    if (local.length) this.store.merge(local);
    for (const p of this.queue.localRows()) if (p.op === "delete") this.store.merge([{ ...normRow({ id: p.id, geometry: { type: "Point", coordinates: [0, 0] } }), is_deleted: true }]);
  }

  /** @param {number} [ms] */
  loadSoon(ms = 200) {
    clearTimeout(this.loadTimer);
    this.loadTimer = setTimeout(() => this.loadViewport(), ms);
  }

  async loadViewport() {
    const b = this.viewer.visibleBox();
    const padX = (b.maxX - b.minX) * 0.25, padY = (b.maxY - b.minY) * 0.25;
    const bboxStr = [b.minX - padX, b.minY - padY, b.maxX + padX, b.maxY + padY].map((v) => Math.round(v)).join(",");
    const q = { pair: this.task.pair, task: this.task.id, bbox: bboxStr, zoom: (1 / Math.max(1e-6, this.viewer.imageZoom())).toFixed(4) };
    let data;
    try {
      data = await get(paths.annotations + qs(q));
    } catch (err) {
      this.panels.task.setLoadError(String(/** @type {any} */ (err).message || err));
      return;
    }
    this.panels.task.setLoadError("");
    const mode = (data && data.mode) || "features";
    this.layer.lod = mode === "features" ? null : data;
    if (mode === "features") {
      const parsed = rows(data.features ?? data).filter((r) => r && (r.id ?? r.properties?.id) && r.geometry).map(normRow);
      for (const r of parsed) this.queue.noteVersion(r.id, r.version ?? 0);
      this.store.merge(parsed, (id) => this.queue.isPending(id));
    }
    this.layer.request();
    this.panels.task.renderLod(mode, data);
  }

  wireLive() {
    const ev = events();
    ev.subscribe(this.projectId);
    const mine = (/** @type {any} */ d) => !d || (d.pair ?? d.pair_id) === undefined || Number(d.pair ?? d.pair_id) === this.task.pair || Number(d.task) === this.task.id;
    ev.on("annotations.changed", (d) => { if (mine(d)) this.loadSoon(300); });
    ev.on("preannotations.ready", (d) => { if (mine(d)) { toast("New model proposals arrived", "info"); this.loadSoon(0); } });
    ev.on("assignment.changed", (d) => { if (Number(d?.task) === this.task.id) toast(`This assignment changed: ${d.status || "updated"}`, "warn"); });
    ev.on("status", (s) => this.panels.task.setLive(s.status));
  }

  tick() {
    const active = document.visibilityState === "visible" && Date.now() - this.lastActivity < 90_000;
    if (active && !this.submitted) this.timeSpent += 1;
    if (this.timeSpent % 10 === 0) sessionStorage.setItem(this.timeKey(), String(this.timeSpent));
    this.panels.task.renderTime(duration(this.timeSpent), active);
    this.panels.task.renderSave();
  }

  /** Select a row and pan to it. @param {string} id */
  showRow(id) {
    const a = this.store.get(id);
    if (!a) return;
    this.selected.clear();
    this.selected.add(id);
    const [x, y] = a.geometry.type === "Point" ? a.geometry.coordinates : a.geometry.coordinates[0][0];
    this.viewer.osd.viewport.panTo(this.viewer.he.imageToViewportCoordinates(x, y));
    this.layer.request();
  }

  zoomToTask(immediate = false) {
    const b = regionBox(this.task.region);
    if (b) this.viewer.zoomTo(b, immediate);
    else this.viewer.osd.viewport.goHome(immediate);
  }

  renderToolbar() { renderToolbar(this, TOOLS); }

  wireInput() { wireInput(this); }

  /** @param {KeyboardEvent} e */
  onKey(e) { onKey(this, e, TOOLS); }

  help() { showHelp(); }

  /** @param {import("../tools/types.js").Tool} t */
  setTool(t) {
    this.tool.cancel?.();
    this.tool = t;
    this.renderToolbar();
    this.viewer.el.dataset.tool = t.name;
    this.layer.request();
  }

  /** @param {number} id */
  setClass(id) {
    const sel = [...this.selected].map((s) => this.store.get(s)).filter(Boolean);
    if (sel.length) {
      this.store.apply({ put: sel.map((a) => ({ ...a, label_class: id, status: a.source === "model" ? "edited" : a.status })) });
      toast(`Reclassified ${sel.length} as ${this.classes.find((c) => c.id === id)?.name}`, "ok");
    }
    this.classId = id;
    this.panels.task.renderCounts();
  }

  /** Proposals the A/R keys act on: the selected ones, else the one under the cursor. */
  proposalTargets() {
    const sel = [...this.selected].map((id) => this.store.get(id)).filter((a) => a && isProposal(a));
    if (sel.length) return sel;
    const hov = this.toolCtx().hover();
    const a = hov && this.store.hitTest(hov, this.toolCtx().tolImg(12), isProposal);
    return a ? [a] : [];
  }

  /** @param {"accepted"|"rejected"} status @param {any[]} [targets] */
  decide(status, targets = this.proposalTargets()) {
    if (!targets.length) { toast("Point at a proposal (dashed outline) or select one first", "warn"); return; }
    this.store.apply({ put: targets.map((a) => ({ ...a, status })) });
    toast(`${status === "accepted" ? "Accepted" : "Rejected"} ${targets.length} proposal${targets.length > 1 ? "s" : ""}`, "ok");
  }

  acceptAllInView() {
    const inView = this.store.inBox(this.viewer.visibleBox()).filter(isProposal);
    this.decide("accepted", inView);
  }

  deleteSelection() {
    const ids = [...this.selected].filter((id) => this.store.get(id));
    if (!ids.length) return;
    const human = ids.filter((id) => !isProposal(/** @type {any} */ (this.store.get(id))));
    const props = ids.filter((id) => isProposal(/** @type {any} */ (this.store.get(id))));
    if (props.length) this.decide("rejected", props.map((id) => this.store.get(id)));
    if (human.length) this.store.apply({ remove: human });
    this.selected.clear();
  }

  /** @param {"submit"|"skip"} act */
  async finish(act) {
    await this.queue.retryNow();
    const st = this.queue.state();
    if (st.pending || st.conflicts.length) {
      toast(`${st.pending + st.conflicts.length} change(s) not saved yet — they must be saved before you ${act}`, "error");
      return;
    }
    const body = { time_spent_s: this.timeSpent };
    try {
      if (this.task.assignmentId) await request("POST", paths.assignmentAction(Number(this.task.assignmentId), act), body);
      else await request("POST", `${paths.task(this.task.id)}${act}/`, body);
    } catch (err) {
      toast(`Could not ${act}: ${/** @type {any} */ (err).message || err}`, "error");
      return;
    }
    this.submitted = true;
    sessionStorage.removeItem(this.timeKey());
    toast(act === "submit" ? "Submitted — thank you!" : "Skipped", "ok");
    this.panels.task.renderDone(act);
  }
}

function cookieUser() {
  return document.querySelector("[data-testid=username]")?.textContent?.split(" ")[0] || "me";
}

