// @ts-check
/** Click-to-segment: a click asks the ML backend for the cell outline (or a fallback square) of the current class. */

/** @type {import("./types.js").Tool} */
export const segmentTool = {
  name: "segment",
  key: "s",
  label: "Click-to-segment",
  onClick(ctx, pt) {
    const cls = ctx.classId();
    if (cls === null) { ctx.toast("Pick a class first (number keys)", "warn"); return; }
    ctx.segment(pt).then(({ geometry, fallback }) => {
      const row = ctx.newRow(geometry, fallback ? { properties: { segment_fallback: true } } : {});
      ctx.store.apply({ put: [row] });
      ctx.select([row.id]);
      if (fallback) ctx.toast("Segmentation model not available yet: placed a small square outline; adjust it with the select tool", "warn");
    }).catch((err) => ctx.toast(`Segmentation failed: ${err.message || err}`, "error"));
  },
};
