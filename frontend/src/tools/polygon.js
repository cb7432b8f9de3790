// @ts-check
/** Polygon tool: click vertices; click the first vertex, double-click or Enter closes; Backspace undoes a vertex; Esc cancels. */
import { polygonFrom } from "../geometry.js";

/** @type {[number, number][]} */
let verts = [];

/** @param {import("./types.js").ToolCtx} ctx */
function close(ctx) {
  if (verts.length < 3) { ctx.toast("A polygon needs at least 3 points", "warn"); return; }
  const cls = ctx.classId();
  if (cls === null) { ctx.toast("Pick a class first (number keys)", "warn"); return; }
  const row = ctx.newRow(polygonFrom(verts));
  verts = [];
  ctx.store.apply({ put: [row] });
  ctx.select([row.id]);
}

/** @type {import("./types.js").Tool} */
export const polygonTool = {
  name: "polygon",
  key: "g",
  label: "Polygon",
  onClick(ctx, pt, ev) {
    if (verts.length >= 3) {
      const [fx, fy] = verts[0];
      if (Math.hypot(fx - pt[0], fy - pt[1]) <= ctx.tolImg(9) || ev.double) { close(ctx); ctx.redraw(); return; }
    }
    verts.push([pt[0], pt[1]]);
    ctx.redraw();
  },
  onKey(ctx, e) {
    if (e.key === "Enter" && verts.length) { close(ctx); ctx.redraw(); return true; }
    if (e.key === "Escape" && verts.length) { verts = []; ctx.redraw(); return true; }
    if (e.key === "Backspace" && verts.length) { verts.pop(); ctx.redraw(); return true; }
    return false;
  },
  preview(g, t, ctx) {
    if (!verts.length) return;
    const hover = ctx.hover();
    g.beginPath();
    verts.forEach(([x, y], i) => (i ? g.lineTo(t.ox + t.scale * x, t.oy + t.scale * y) : g.moveTo(t.ox + t.scale * x, t.oy + t.scale * y)));
    if (hover) g.lineTo(t.ox + t.scale * hover[0], t.oy + t.scale * hover[1]);
    g.strokeStyle = "#ffffff";
    g.lineWidth = 2;
    g.setLineDash([4, 3]);
    g.stroke();
    g.setLineDash([]);
    g.fillStyle = "#ffffff";
    for (const [x, y] of verts) g.fillRect(t.ox + t.scale * x - 3, t.oy + t.scale * y - 3, 6, 6);
  },
  cancel() { verts = []; },
};

/** Vertices placed so far (tests and status line). */
export function polygonVertexCount() { return verts.length; }
