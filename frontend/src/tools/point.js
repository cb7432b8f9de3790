// @ts-check
/** Point tool: one click places a point of the current class (a click on an existing point selects it). */

/** @type {import("./types.js").Tool} */
export const pointTool = {
  name: "point",
  key: "p",
  label: "Point",
  onClick(ctx, pt) {
    const near = ctx.store.hitTest(pt, ctx.tolImg(6), (a) => a.geometry.type === "Point");
    if (near) { ctx.select([near.id]); return; }
    const cls = ctx.classId();
    if (cls === null) { ctx.toast("Pick a class first (number keys)", "warn"); return; }
    const row = ctx.newRow({ type: "Point", coordinates: [pt[0], pt[1]] });
    ctx.store.apply({ put: [row] });
    ctx.select([row.id]);
  },
};
