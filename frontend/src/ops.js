// @ts-check
/**
 * Turn one local change of the annotation store into the bulk-API item that reproduces it on the server.
 * @typedef {import("./state.js").Change} Change
 */

/**
 * The bulk item for a change: upsert (new or edited geometry/class), delete, accept, reject, or restore
 * (undoing a delete, or undoing an accept/reject with `to_version: "previous"`).
 * @param {Change} c @param {number} known server version of the row (0 = never saved) @param {{pair: number, task: number}} where
 */
export function bulkItemFor(c, known, where) {
  const a = c.after, b = c.before;
  if (!a) return { id: c.id, op: "delete" };
  if (!b && known > 0) return { id: c.id, op: "restore" };
  if (b && a.status !== b.status && a.label_class === b.label_class) {
    if (a.status === "accepted") return { id: c.id, op: "accept" };
    if (a.status === "rejected") return { id: c.id, op: "reject" };
    if (["accepted", "rejected"].includes(b.status)) return { id: c.id, op: "restore", to_version: "previous" };
  }
  return {
    id: a.id, op: "upsert", pair: where.pair, task: where.task,
    label_class: a.label_class, geometry: a.geometry, properties: /** @type {any} */ (a).properties || {},
  };
}

/** Resolve `to_version: "previous"` against the version the item is sent with. @param {any} item */
export function finalizeItem(item) {
  return item.op === "restore" && item.to_version === "previous" ? { ...item, to_version: Math.max(1, item.version - 1) } : item;
}
