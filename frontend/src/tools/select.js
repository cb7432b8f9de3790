// @ts-check
/** Select tool: click selects (Shift adds), drag a selected label to move it (one undo step). */
import { translate } from "../geometry.js";

/** @type {{from: [number, number], to: [number, number]}|null} */
let drag = null;

/** @type {import("./types.js").Tool} */
export const selectTool = {
  name: "select",
  key: "v",
  label: "Select / move",
  onClick(ctx, pt, ev) {
    const hit = ctx.store.hitTest(pt, ctx.tolImg(8));
    ctx.select(hit ? [hit.id] : [], ev.shift);
  },
  onPress(ctx, pt) {
    const hit = ctx.store.hitTest(pt, ctx.tolImg(8));
    if (!hit || !ctx.selected.has(hit.id)) return false;
    drag = { from: pt, to: pt };
    return true;
  },
  onDrag(ctx, pt) {
    if (!drag) return;
    drag.to = pt;
    ctx.redraw();
  },
  onRelease(ctx, pt) {
    if (!drag) return;
    const dx = pt[0] - drag.from[0], dy = pt[1] - drag.from[1];
    drag = null;
    if (!dx && !dy) return;
    const put = [];
    for (const id of ctx.selected) {
      const a = ctx.store.get(id);
      if (a) put.push({ ...a, geometry: translate(a.geometry, dx, dy), status: a.source === "model" ? "edited" : a.status });
    }
    ctx.store.apply({ put });
  },
  preview(g, t, ctx) {
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
