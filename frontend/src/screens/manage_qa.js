// @ts-check
/** Registration QA: overlay and swipe views, checkerboard, error/confidence map, landmark pairs by clicking in two viewers. */
import { get, getOptional, paths, post } from "../api.js";
import { h, fill, toast, pill, emptyState } from "../ui.js";
import { createViewer } from "../viewer.js";
import { normViewer } from "../normalize.js";

/** @param {any} ctx */
export async function qaTab(ctx) {
  const pairs = await get(paths.pairs(ctx.projectId));
  if (!pairs.length) return h("section.card", null, emptyState("No slide pairs yet", "Create a pair on the Slides & pairs tab."));
  const wanted = Number(sessionStorage.getItem("laypath.qa.pair")) || pairs[0].id;
  const sel = h("select", { testid: "qa-pair" }, ...pairs.map((/** @type {any} */ p) => h("option", { value: String(p.id), selected: p.id === wanted }, p.name)));
  const body = h("div");
  /** @type {(() => void)[]} */
  let cleanups = [];
  const load = async () => {
    cleanups.forEach((f) => f());
    cleanups = [];
    const id = Number(/** @type {HTMLSelectElement} */ (sel).value);
    sessionStorage.setItem("laypath.qa.pair", String(id));
    fill(body, h("p.muted", null, "Loading…"));
    cleanups = await pairQa(body, id, ctx);
  };
  sel.addEventListener("change", load);
  const el = h("div", { testid: "qa" }, h("div.form-row", { style: { marginBottom: "12px" } }, h("label", null, "Slide pair", sel)), body);
  load();
  return { el, cleanup: () => cleanups.forEach((f) => f()) };
}

/** @param {HTMLElement} body @param {number} pairId @param {any} ctx @returns {Promise<(() => void)[]>} */
async function pairQa(body, pairId, ctx) {
  const [viewerRaw, qa, versions] = await Promise.all([
    get(paths.pairViewer(pairId)), getOptional(paths.pairQa(pairId)), getOptional(paths.pairRegistrations(pairId)),
  ]);
  const v = normViewer(viewerRaw);
  const reg = qa?.registration;
  const mode = h("div.seg");
  const stage = h("div.qa-viewer.single", { testid: "qa-viewer" });
  const opacity = h("input", { type: "range", min: "0", max: "1", step: "0.05", value: "0.5" });
  const info = h("section.card", null, h("h2", null, "Current registration"),
    reg ? h("div", null, pill(reg.status), ` version ${reg.version} · ${reg.source}`, reg.n_landmarks ? ` · ${reg.n_landmarks} landmarks` : "",
      h("div.small.muted", null, metricText(reg.metrics)), ...(qa.warnings || []).map((/** @type {string} */ w) => h("div.small.error", null, w)))
      : emptyState("Not registered yet", v.overlayUrl ? "The overlay uses the identity transform." : "Both slides must be ready."),
    versions?.length ? h("table.data", { style: { marginTop: "8px" } }, h("tr", null, ...["version", "source", "status", ""].map((x) => h("th", null, x))),
      ...versions.map((/** @type {any} */ r) => h("tr", null, h("td", null, `v${r.version}`), h("td", null, r.source), h("td", null, pill(r.status)),
        h("td", null, r.current ? h("strong", null, "current") : h("button.small", { onclick: () => post(`/api/pairs/${pairId}/registrations/${r.version}/activate/`).then(() => { toast("Activated", "ok"); ctx.refresh(); }).catch((e) => toast(e.message, "error")) }, "Use this"))))) : null);
  const checker = h("div");
  if (qa?.checkerboard_url) checker.append(h("img.qa-img", { src: qa.checkerboard_url, alt: "checkerboard of H&E and warped IF", testid: "checkerboard" }));
  else checker.append(emptyState("No checkerboard yet"));
  const confBox = h("div", { testid: "confidence-map" });
  fill(body, h("div.grid2", null, info, h("section.card", null, h("h2", null, "Checkerboard"), checker)),
    h("section.card", null, h("div.page-head", null, h("h2", null, "Overlay"), h("div.row", null, mode, h("label.row", null, "IF opacity ", opacity))), stage),
    h("section.card", null, h("h2", null, "Error and confidence map"), confBox),
    landmarkEditor(viewerRaw, pairId, ctx));
  const cleanups = [];
  if (v.heUrl) {
    const viewer = await createViewer(stage, { heUrl: v.heUrl, overlayUrl: v.overlayUrl, mpp: v.mpp, opacity: 0.5 });
    cleanups.push(() => viewer.osd.destroy());
    const setMode = (/** @type {any} */ m) => { viewer.setMode(m); renderModes(m); };
    const renderModes = (/** @type {string} */ cur) => fill(mode, ...[["overlay", "Blend"], ["swipe", "Swipe"], ["lens", "Lens"]].map(([k, l]) => h(`button.small${cur === k ? ".on" : ""}`, { onclick: () => setMode(k) }, l)));
    renderModes("overlay");
    opacity.addEventListener("input", () => viewer.setOpacity(Number(/** @type {HTMLInputElement} */ (opacity).value)));
  }
  drawConfidence(confBox, qa?.qa, v, viewerRaw);
  return cleanups;
}

/** @param {any} m */
function metricText(m) {
  if (!m) return "";
  return Object.entries(m).filter(([, x]) => typeof x === "number").slice(0, 6).map(([k, x]) => `${k} ${Number(x).toFixed(2)}`).join(" · ");
}

/** Heatmap of the QA grid (confidence 0..1 green..red; error in µm in the tooltip) over the H&E thumbnail. @param {HTMLElement} box @param {any} qa @param {any} v @param {any} raw */
function drawConfidence(box, qa, v, raw) {
  const conf = qa?.confidence, err = qa?.error_um;
  if (!conf || !conf.length) { fill(box, emptyState("No QA map for this registration")); return; }
  const rowsN = conf.length, cols = conf[0].length;
  const W = 520, H = Math.round((W * (v.height || rowsN)) / (v.width || cols));
  const canvas = /** @type {HTMLCanvasElement} */ (h("canvas", { width: W, height: H, style: { width: `${W}px`, maxWidth: "100%", borderRadius: "8px" } }));
  const g = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  const paint = () => {
    const step = qa.step_px || (v.width / cols);
    const sx = W / (v.width || cols * step), sy = H / (v.height || rowsN * step);
    for (let i = 0; i < rowsN; i++) for (let j = 0; j < cols; j++) {
      const c = conf[i][j];
      if (c === null || c === undefined) continue;
      g.fillStyle = `hsla(${Math.round(120 * c)}, 80%, 45%, 0.55)`;
      g.fillRect(j * step * sx, i * step * sy, Math.ceil(step * sx), Math.ceil(step * sy));
    }
  };
  const thumb = raw.anatomical?.thumbnail_url;
  if (thumb) {
    const img = new Image();
    img.onload = () => { g.drawImage(img, 0, 0, W, H); paint(); };
    img.onerror = paint;
    img.src = thumb;
  } else paint();
  const flat = (err || []).flat().filter((/** @type {any} */ x) => typeof x === "number");
  const mean = flat.length ? flat.reduce((a, b) => a + b, 0) / flat.length : null;
  const low = conf.flat().filter((/** @type {any} */ x) => typeof x === "number" && x < 0.5).length;
  fill(box, canvas, h("p.small.muted", null, "green = confident, red = doubtful",
    mean !== null ? ` · mean estimated error ${mean.toFixed(1)} µm` : "", ` · ${low} doubtful cells of ${rowsN * cols}`));
}

/** Two viewers side by side; click H&E then IF to add a landmark pair; save computes a corrected registration. @param {any} raw @param {number} pairId @param {any} ctx */
function landmarkEditor(raw, pairId, ctx) {
  const heEl = h("div.qa-viewer", { testid: "lm-he" }), ifEl = h("div.qa-viewer", { testid: "lm-if" });
  const list = h("ol.small", { testid: "landmarks" });
  /** @type {[number, number][][]} */
  const pairsLm = [];
  /** @type {[number, number]|null} */
  let pendingHe = null;
  const status = h("span.small.muted", null, "Click a landmark in the H&E, then the same spot in the IF.");
  const render = () => fill(list, ...pairsLm.map(([a, b], i) => h("li", null, `H&E (${a.map(Math.round).join(", ")}) ↔ IF (${b.map(Math.round).join(", ")}) `,
    h("button.small.link", { onclick: () => { pairsLm.splice(i, 1); render(); } }, "remove"))));
  const save = h("button.primary", { testid: "lm-save", onclick: async () => {
    if (pairsLm.length < 3) { toast("Add at least 3 landmark pairs", "warn"); return; }
    try { await post(paths.pairLandmarks(pairId), { landmarks: pairsLm }); toast("Registration corrected from landmarks", "ok"); ctx.refresh(); }
    catch (err) { toast(`Could not apply landmarks: ${/** @type {any} */ (err).message}`, "error"); }
  } }, "Correct registration");
  const section = h("section.card", null, h("h2", null, "Landmarks"), status, h("div.qa-viewers", null, heEl, ifEl), list, save);
  const heUrl = raw.anatomical?.dzi_url, ifUrl = raw.molecular?.dzi_url;
  if (!heUrl || !ifUrl) { fill(section, h("h2", null, "Landmarks"), emptyState("Both slides must be ready to place landmarks")); return section; }
  Promise.all([createViewer(heEl, { heUrl, navigator: false }), createViewer(ifEl, { heUrl: ifUrl, navigator: false })]).then(([hv, iv]) => {
    const mark = (/** @type {any} */ viewer, /** @type {any} */ pt, /** @type {string} */ color) => {
      const d = document.createElement("div");
      d.style.cssText = `width:12px;height:12px;border-radius:50%;border:2px solid #fff;background:${color};margin:-6px 0 0 -6px`;
      viewer.osd.addOverlay({ element: d, location: viewer.he.imageToViewportCoordinates(pt[0], pt[1]) });
    };
    hv.osd.addHandler("canvas-click", (/** @type {any} */ e) => { if (!e.quick) return; e.preventDefaultAction = true; pendingHe = hv.toImage(e.position); mark(hv, pendingHe, "#ff5fa2"); status.textContent = "Now click the same spot in the IF."; });
    iv.osd.addHandler("canvas-click", (/** @type {any} */ e) => {
      if (!e.quick) return;
      e.preventDefaultAction = true;
      if (!pendingHe) { toast("Click the H&E first", "warn"); return; }
      const p = iv.toImage(e.position);
      mark(iv, p, "#ff5fa2");
      pairsLm.push([pendingHe, p]);
      pendingHe = null;
      status.textContent = `${pairsLm.length} pair(s). Click the next landmark in the H&E.`;
      render();
    });
  }).catch((err) => toast(`Viewer failed: ${err.message}`, "error"));
  return section;
}
