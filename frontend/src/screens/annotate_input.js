// @ts-check
/** Workspace input: toolbar, mouse events on the viewer, keyboard shortcuts and the help overlay. */
import { h, fill, modal } from "../ui.js";
import { polygonTool } from "../tools/polygon.js";
import { selectTool } from "../tools/select.js";

export const SHORTCUTS = [
  ["1–9", "Pick class (with a selection: reclassify it)"],
  ["P / G / V / S", "Point, polygon, select/move, click-to-segment"],
  ["V: drag a handle · double-click edge · Alt+click", "Reshape the selected polygon: move, add, remove a vertex"],
  ["F", "Flick between H&E and IF"],
  ["O", "Overlay on/off"],
  ["W / L", "Swipe view / lens view (again: back to overlay)"],
  ["A", "Accept proposal (selected or under the cursor)"],
  ["R or X", "Reject proposal"],
  ["Shift+A", "Accept all proposals in view"],
  ["Delete / Backspace", "Delete selection"],
  ["Ctrl+Z / Ctrl+Shift+Z (Ctrl+Y)", "Undo / redo"],
  ["Enter / Esc", "Close polygon / cancel"],
  ["Z / 0", "Zoom to task region / whole slide"],
  ["H", "Hide / show labels"],
  ["N", "Next task (after submit)"],
  ["?", "This help"],
];


const svg = (/** @type {string} */ d) => {
  const el = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  el.setAttribute("viewBox", "0 0 24 24");
  el.setAttribute("width", "20");
  el.setAttribute("height", "20");
  el.innerHTML = d;
  return el;
};
const STROKE = 'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"';
/** @type {Record<string, string>} */
const ICON_PATHS = {
  point: '<circle cx="12" cy="12" r="4.5" fill="currentColor"/>',
  polygon: `<path ${STROKE} d="M12 3l8 6-3 10H7L4 9z"/>`,
  select: '<path fill="currentColor" d="M5 3l13 8-6 1.5L9 19z"/>',
  segment: `<path ${STROKE} d="M12 4c4 0 7 3 7 7s-3 8-7 8-7-4-7-8 3-7 7-7z" stroke-dasharray="3 2"/><circle cx="12" cy="12" r="2" fill="currentColor"/>`,
  undo: `<path ${STROKE} d="M9 7L4 12l5 5M4 12h11a5 5 0 0 1 0 10h-3"/>`,
  redo: `<path ${STROKE} d="M15 7l5 5-5 5M20 12H9a5 5 0 0 0 0 10h3"/>`,
  target: `<circle ${STROKE} cx="12" cy="12" r="7"/><path ${STROKE} d="M12 2v5M12 17v5M2 12h5M17 12h5"/>`,
  help: `<circle ${STROKE} cx="12" cy="12" r="9"/><path ${STROKE} d="M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.7.3-1 .9-1 1.7M12 17h.01"/>`,
};
/** @type {Record<string, () => SVGElement>} */
const ICONS = Object.fromEntries(Object.entries(ICON_PATHS).map(([k, d]) => [k, () => svg(d)]));

/** Tool buttons, undo/redo, zoom to task and help. */
export function renderToolbar(/** @type {any} */ ws, /** @type {any[]} */ TOOLS) {
  fill(ws.toolbar, ...TOOLS.map((t) => h(`button.tool${ws.tool === t ? ".on" : ""}`, {
    title: `${t.label} (${t.key.toUpperCase()})`, testid: `tool-${t.name}`, "aria-pressed": String(ws.tool === t),
    onclick: () => ws.setTool(t),
  }, h("span.ico", null, ICONS[t.name]()), h("span.k", null, t.key.toUpperCase()))),
  h("hr"),
  h("button.tool", { title: "Undo (Ctrl+Z)", testid: "undo", onclick: () => ws.store.undo() }, h("span.ico", null, ICONS.undo())),
  h("button.tool", { title: "Redo (Ctrl+Shift+Z)", testid: "redo", onclick: () => ws.store.redo() }, h("span.ico", null, ICONS.redo())),
  h("button.tool", { title: "Zoom to task (Z)", testid: "zoom-task", onclick: () => ws.zoomToTask() }, h("span.ico", null, ICONS.target())),
  h("button.tool", { title: "Shortcuts (?)", testid: "help", onclick: () => ws.help() }, h("span.ico", null, ICONS.help())));
}

/** Viewer clicks and drags go to the active tool; keys to onKey. */
export function wireInput(/** @type {any} */ ws) {
  const osd = ws.viewer.osd;
  let dragging = false;
  const pt = (/** @type {any} */ e) => ws.viewer.toImage(e.position);
  osd.addHandler("canvas-click", (/** @type {any} */ e) => {
    e.preventDefaultAction = true;
    if (!e.quick || dragging) return;
    ws.lastActivity = Date.now();
    ws.tool.onClick?.(ws.toolCtx(), pt(e), { shift: Boolean(e.originalEvent?.shiftKey), alt: Boolean(e.originalEvent?.altKey) });
  });
  osd.addHandler("canvas-double-click", (/** @type {any} */ e) => {
    e.preventDefaultAction = true;
    if (ws.tool === polygonTool || ws.tool === selectTool) ws.tool.onClick?.(ws.toolCtx(), pt(e), { shift: false, double: true });
  });
  osd.addHandler("canvas-press", (/** @type {any} */ e) => { dragging = Boolean(ws.tool.onPress?.(ws.toolCtx(), pt(e))); });
  osd.addHandler("canvas-drag", (/** @type {any} */ e) => { if (dragging) { e.preventDefaultAction = true; ws.tool.onDrag?.(ws.toolCtx(), pt(e)); } });
  osd.addHandler("canvas-release", (/** @type {any} */ e) => { if (dragging) { ws.tool.onRelease?.(ws.toolCtx(), pt(e)); setTimeout(() => { dragging = false; }); } });
  new ws.viewer.OSD.MouseTracker({ element: ws.viewer.el, moveHandler: () => { if (ws.tool.preview) ws.layer.request(); } });
  document.addEventListener("keydown", (e) => onKey(ws, e, ws.tools));
}

/** @param {any} ws @param {KeyboardEvent} e @param {any[]} TOOLS */
export function onKey(ws, e, TOOLS) {
  const tgt = /** @type {HTMLElement} */ (e.target);
  if (tgt && (["INPUT", "TEXTAREA", "SELECT"].includes(tgt.tagName) && /** @type {any} */ (tgt).type !== "range" && /** @type {any} */ (tgt).type !== "checkbox")) return;
  if (document.querySelector(".modal-back") && e.key !== "Escape") return;
  ws.lastActivity = Date.now();
  const ctrl = e.ctrlKey || e.metaKey;
  const k = e.key.toLowerCase();
  if (ctrl && k === "z") { e.preventDefault(); if (e.shiftKey) ws.store.redo(); else ws.store.undo(); return; }
  if (ctrl && k === "y") { e.preventDefault(); ws.store.redo(); return; }
  if (ctrl || e.altKey) return;
  if (ws.tool.onKey?.(ws.toolCtx(), e)) { e.preventDefault(); return; }
  const cls = ws.classes.find((c) => c.hotkey === e.key);
  if (cls) { ws.setClass(cls.id); return; }
  const tool = TOOLS.find((t) => t.key === k);
  if (tool && !e.shiftKey) { ws.setTool(tool); return; }
  switch (k) {
    case "f": ws.panels.overlay.flick(); break;
    case "o": ws.panels.overlay.toggle(); break;
    case "w": ws.panels.overlay.mode(ws.viewer.mode === "swipe" ? "overlay" : "swipe"); break;
    case "l": ws.panels.overlay.mode(ws.viewer.mode === "lens" ? "overlay" : "lens"); break;
    case "a": if (e.shiftKey) ws.acceptAllInView(); else ws.decide("accepted"); break;
    case "r": case "x": ws.decide("rejected"); break;
    case "delete": case "backspace": e.preventDefault(); ws.deleteSelection(); break;
    case "escape": ws.tool.cancel?.(); ws.selected.clear(); ws.layer.request(); document.querySelector(".modal-back")?.remove(); break;
    case "z": ws.zoomToTask(); break;
    case "0": ws.viewer.osd.viewport.goHome(); break;
    case "h": ws.layer.hidden = !ws.layer.hidden; ws.layer.request(); break;
    case "n": if (ws.submitted) location.href = `/app/annotate/${ws.projectId}/`; break;
    case "?": ws.help(); break;
    default: return;
  }
}

export function showHelp() {
  modal("Keyboard shortcuts", h("table.keys", { testid: "help-overlay" }, ...SHORTCUTS.map(([k, v]) => h("tr", null, h("td", null, h("kbd", null, k)), h("td", null, v)))),
    h("p.muted", null, "Dashed outlines are model proposals: accept (A), reject (R) or pick a class to reclassify."));
}

