// @ts-check
/**
 * Tolerant readers for API payloads, so the screens depend on one place for field spellings.
 */

/** @param {any} v */
const idOf = (v) => (v && typeof v === "object" ? v.id : v) ?? null;

/**
 * The task as the workspace needs it.
 * @param {any} t
 */
export function normTask(t) {
  const a = t.assignment;
  return {
    id: Number(t.id),
    name: t.name || `Task ${t.id}`,
    project: Number(idOf(t.project)),
    pair: Number(idOf(t.pair) ?? t.pair_id),
    region: t.region || null,
    labelMode: t.label_mode || "sparse",
    kind: t.kind || "annotate",
    classIds: (t.classes || []).map(idOf).filter((x) => x !== null).map(Number),
    classObjs: (t.classes || []).filter((c) => c && typeof c === "object"),
    assignmentId: idOf(a) ?? t.assignment_id ?? null,
    assignmentStatus: (a && a.status) || t.assignment_status || "",
    timeSpent: Number((a && a.time_spent_s) ?? t.time_spent_s ?? 0),
    instructions: t.instructions || "",
  };
}

/** @param {any} c */
export function normClass(c) {
  return {
    id: Number(c.id),
    name: c.name,
    color: c.color || "#ff0000",
    hotkey: c.hotkey || "",
    hint: c.marker_hint || "",
    channel: c.marker_channel || "",
    order: c.order ?? 0,
  };
}

/**
 * The viewer endpoint's answer as {heUrl, overlayUrl, channels, defaultRender, mpp, width, height, registration}.
 * @param {any} v
 */
export function normViewer(v) {
  const he = v.he || v.anatomical || v.brightfield || {};
  const ov = v.overlay || v.if_overlay || {};
  const fl = v.if || v.molecular || v.fluorescence || {};
  const url = (/** @type {any} */ o) => (typeof o === "string" ? o : o && (o.dzi || o.dzi_url || o.url)) || null;
  let render = ov.render || ov.default_render || v.default_render || fl.default_render || fl.display?.render || null;
  if (render && typeof render === "object") render = render.encoded || render.r || null;
  const overlayUrl = url(ov) || v.overlay_dzi || null;
  if (!render && overlayUrl) {
    const q = overlayUrl.split("?")[1] || "";
    render = new URLSearchParams(q).get("r");
  }
  return {
    heUrl: url(he) || v.he_dzi || v.dzi,
    overlayUrl,
    channels: ov.channels || fl.channels || v.channels || [],
    defaultRender: render || "",
    mpp: Number(he.mpp_x ?? he.mpp ?? v.mpp_x ?? v.mpp ?? 0) || null,
    width: Number(he.width ?? v.width ?? 0),
    height: Number(he.height ?? v.height ?? 0),
    registration: v.registration || v.pair?.registration || null,
    identity: Boolean(ov.identity),
  };
}

/**
 * An annotation row from the API (plain row or GeoJSON Feature).
 * @param {any} r @returns {import("./state.js").Annotation}
 */
export function normRow(r) {
  const p = r.type === "Feature" ? { ...(r.properties || {}), id: r.id ?? r.properties?.id, geometry: r.geometry } : r;
  return {
    id: String(p.id),
    geometry: p.geometry,
    label_class: idOf(p.label_class ?? p.class_id ?? null),
    source: p.source || "human",
    status: p.status || "none",
    version: Number(p.version ?? 0),
    confidence: p.confidence ?? null,
    task: idOf(p.task),
    is_deleted: Boolean(p.is_deleted),
  };
}
