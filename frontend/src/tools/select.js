// @ts-check
/**
 * Select tool: click selects (Shift adds); drag a selected label to move it; with one polygon selected, drag a
 * vertex handle to reshape it, double-click an edge to add a vertex, Alt+click a vertex to remove it. Each edit
 * is one undo step.
 */
import { insertVertex, moveVertex, nearestVertex, removeVertex, translate } from "../geometry.js";

/** @type {{from: [number, number], to: [number, number], vertex: number}|null} */
let drag = null;
const HANDLE_PX = 7;

/** The single selected polygon, if exactly one polygon is selected. @param {import("./types.js").ToolCtx} ctx */
function soloPolygon(ctx) {
  if (ctx.selected.size !== 1) return null;
  const a = ctx.store.get([...ctx.selected][0]);
  return a && a.geometry.type === "Polygon" ? a : null;
}

/** @param {import("./types.js").Annotation} a @param {import("../geometry.js").Geometry} geometry */
function edited(a, geometry) {
  return { ...a, geometry, status: a.source === "model" ? "edited" : a.status };
}

/** @type {import("./types.js").Tool} */
export const selectTool = {
  name: "select",
  key: "v",
  label: "Select / move / reshape",
  onClick(ctx, pt, ev) {
    const solo = soloPolygon(ctx);
    if (solo && ev.double) {
      const g = insertVertex(solo.geometry, pt, ctx.tolImg(HANDLE_PX));
      if (g) ctx.store.apply({ put: [edited(solo, g)] });
      return;
    }
    if (solo && ev.alt) {
      const i = nearestVertex(solo.geometry, pt, ctx.tolImg(HANDLE_PX));
      if (i >= 0) {
        const g = removeVertex(solo.geometry, i);
        if (g) ctx.store.apply({ put: [edited(solo, g)] });
        else ctx.toast("A polygon needs at least 3 vertices", "warn");
        return;
      }
    }
    const hit = ctx.store.hitTest(pt, ctx.tolImg(8));
    ctx.select(hit ? [hit.id] : [], ev.shift);
  },
  onPress(ctx, pt) {
    const solo = soloPolygon(ctx);
    const vertex = solo ? nearestVertex(solo.geometry, pt, ctx.tolImg(HANDLE_PX)) : -1;
    if (vertex >= 0) { drag = { from: pt, to: pt, vertex }; return true; }
    const hit = ctx.store.hitTest(pt, ctx.tolImg(8));
    if (!hit || !ctx.selected.has(hit.id)) return false;
    drag = { from: pt, to: pt, vertex: -1 };
    return true;
  },
  onDrag(ctx, pt) {
    if (!drag) return;
    drag.to = pt;
    ctx.redraw();
  },
  onRelease(ctx, pt) {
    if (!drag) return;
    const { from, vertex } = drag;
    const dx = pt[0] - from[0], dy = pt[1] - from[1];
    drag = null;
    if (!dx && !dy) return;
    if (vertex >= 0) {
      const solo = soloPolygon(ctx);
      if (solo) ctx.store.apply({ put: [edited(solo, moveVertex(solo.geometry, vertex, pt))] });
      return;
    }
    const put = [];
    for (const id of ctx.selected) {
      const a = ctx.store.get(id);
      if (a) put.push(edited(a, translate(a.geometry, dx, dy)));
    }
    ctx.store.apply({ put });
  },
  preview(g, t, ctx) {
    const solo = soloPolygon(ctx);
    if (solo && (!drag || drag.vertex >= 0)) {  // vertex handles of the one selected polygon
      const geom = drag ? moveVertex(solo.geometry, drag.vertex, drag.to) : solo.geometry;
      const ring = geom.type === "Polygon" ? geom.coordinates[0] : [];
      g.strokeStyle = "#ffffff";
      g.setLineDash(drag ? [3, 3] : []);
      g.beginPath();
      ring.forEach(([x, y], i) => (i ? g.lineTo(t.ox + t.scale * x, t.oy + t.scale * y) : g.moveTo(t.ox + t.scale * x, t.oy + t.scale * y)));
      if (drag) g.stroke();
      g.setLineDash([]);
      g.fillStyle = "#ffffff";
      for (const [x, y] of ring.slice(0, -1)) g.fillRect(t.ox + t.scale * x - 3, t.oy + t.scale * y - 3, 6, 6);
      return;
    }
    if (!drag) return;
    const dx = (drag.to[0] - drag.from[0]) * t.scale, dy = (drag.to[1] - drag.from[1]) * t.scale;
    g.strokeStyle = "#ffffff";
    g.setLineDash([3, 3]);
    for (const id of ctx.selected) {
      const a = ctx.store.get(id);
      if (!a) continue;
      g.beginPath();
      if (a.geometry.type === "Point") {
        const [x, y] = a.geometry.coordinates;
        g.arc(t.ox + t.scale * x + dx, t.oy + t.scale * y + dy, 8, 0, Math.PI * 2);
      } else {
        a.geometry.coordinates[0].forEach(([x, y], i) => (i ? g.lineTo(t.ox + t.scale * x + dx, t.oy + t.scale * y + dy) : g.moveTo(t.ox + t.scale * x + dx, t.oy + t.scale * y + dy)));
      }
      g.stroke();
    }
    g.setLineDash([]);
  },
  cancel() { drag = null; },
};
