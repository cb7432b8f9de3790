// @ts-check
/**
 * Annotation store with undo/redo. Every mutation is a list of (before, after) row pairs; undo applies
 * the befores. Listeners hear each change so the save queue and the canvas stay in step.
 * @typedef {import("./geometry.js").Geometry} Geometry
 * @typedef {{id: string, geometry: Geometry, label_class: number|null, source: string, status: string,
 *   version?: number, confidence?: number|null, task?: number|null, is_deleted?: boolean}} Annotation
 * @typedef {{id: string, before: Annotation|null, after: Annotation|null}} Change
 * @typedef {(changes: Change[], origin: "do"|"undo"|"redo"|"remote") => void} Listener
 */
import { bbox, GridIndex, hitDistance } from "./geometry.js";

/** RFC 4122 v4 UUID (crypto.randomUUID where present). */
export function uuid4() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const b = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** True for a model proposal still waiting for a decision. @param {Annotation} a */
export function isProposal(a) {
  return a.source === "model" && (a.status === "proposed" || a.status === "none");
}

/** True when the row should be drawn and counted. @param {Annotation} a */
export function isVisible(a) {
  return !a.is_deleted && a.status !== "rejected";
}

export class AnnotationStore {
  constructor(limit = 500) {
    /** @type {Map<string, Annotation>} */
    this.rows = new Map();
    this.index = new GridIndex(256);
    /** @type {Change[][]} */
    this.undoStack = [];
    /** @type {Change[][]} */
    this.redoStack = [];
    this.limit = limit;
    /** @type {Set<Listener>} */
    this.listeners = new Set();
  }

  /** @param {Listener} fn */
  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** @param {string} id */
  get(id) {
    return this.rows.get(id) || null;
  }

  /** @returns {Annotation[]} */
  all() {
    return [...this.rows.values()];
  }

  /** @param {Annotation|null} row @param {string} id */
  _put(id, row) {
    if (row && !row.is_deleted) {
      this.rows.set(id, row);
      this.index.insert(id, bbox(row.geometry));
    } else {
      this.rows.delete(id);
      this.index.remove(id);
    }
  }

  /** @param {Change[]} changes @param {"do"|"undo"|"redo"|"remote"} origin */
  _emit(changes, origin) {
    for (const fn of this.listeners) fn(changes, origin);
  }

  /**
   * Apply a user action (one undo step): rows to upsert and ids to delete.
   * @param {{put?: Annotation[], remove?: string[]}} action @returns {Change[]}
   */
  apply(action) {
    /** @type {Change[]} */
    const changes = [];
    for (const row of action.put || []) {
      const before = this.rows.get(row.id) || null;
      const after = { ...row, version: before?.version ?? row.version };
      changes.push({ id: row.id, before, after });
      this._put(row.id, after);
    }
    for (const id of action.remove || []) {
      const before = this.rows.get(id);
      if (!before) continue;
      changes.push({ id, before, after: null });
      this._put(id, null);
    }
    if (!changes.length) return changes;
    this.undoStack.push(changes);
    if (this.undoStack.length > this.limit) this.undoStack.shift();
    this.redoStack = [];
    this._emit(changes, "do");
    return changes;
  }

  /** Undo the last action; returns the changes made (empty when nothing to undo). */
  undo() {
    const step = this.undoStack.pop();
    if (!step) return [];
    const changes = step.slice().reverse().map((c) => ({ id: c.id, before: this.rows.get(c.id) || null, after: c.before }));
    for (const c of changes) this._put(c.id, c.after && { ...c.after, version: c.before?.version ?? c.after.version });
    this.redoStack.push(step);
    this._emit(changes, "undo");
    return changes;
  }

  /** Redo the last undone action. */
  redo() {
    const step = this.redoStack.pop();
    if (!step) return [];
    const changes = step.map((c) => ({ id: c.id, before: this.rows.get(c.id) || null, after: c.after }));
    for (const c of changes) this._put(c.id, c.after && { ...c.after, version: c.before?.version ?? c.after.version });
    this.undoStack.push(step);
    this._emit(changes, "redo");
    return changes;
  }

  /**
   * Merge rows from the server (viewport loads, pushes, "take theirs"): not an undo step.
   * Rows with a pending local edit (`isPending(id)`) are left alone.
   * @param {Annotation[]} rows @param {(id: string) => boolean} [isPending]
   */
  merge(rows, isPending = () => false) {
    /** @type {Change[]} */
    const changes = [];
    for (const row of rows) {
      if (isPending(row.id)) continue;
      const before = this.rows.get(row.id) || null;
      if (before && (before.version ?? 0) > (row.version ?? 0)) continue;
      changes.push({ id: row.id, before, after: row.is_deleted ? null : row });
      this._put(row.id, row.is_deleted ? null : row);
    }
    if (changes.length) this._emit(changes, "remote");
    return changes;
  }

  /** Record the server version after a save (no event, no undo step). @param {string} id @param {number} version */
  setVersion(id, version) {
    const row = this.rows.get(id);
    if (row) row.version = version;
    for (const stack of [this.undoStack, this.redoStack]) {
      for (const step of stack) for (const c of step) if (c.id === id) {
        if (c.before) c.before.version = version;
        if (c.after) c.after.version = version;
      }
    }
  }

  /** Known server version of a row (0 = never saved). @param {string} id */
  versionOf(id) {
    return this.rows.get(id)?.version ?? 0;
  }

  /**
   * Nearest visible row to p within tol image px (polygons win when p is inside).
   * @param {[number, number]} p @param {number} tol @param {(a: Annotation) => boolean} [filter]
   */
  hitTest(p, tol, filter = () => true) {
    let best = null, bestD = Infinity;
    const ids = this.index.query({ minX: p[0] - tol, minY: p[1] - tol, maxX: p[0] + tol, maxY: p[1] + tol });
    for (const id of ids) {
      const a = this.rows.get(id);
      if (!a || !isVisible(a) || !filter(a)) continue;
      const d = hitDistance(a.geometry, p, tol);
      if (d < bestD) { bestD = d; best = a; }
    }
    return best;
  }

  /** Visible rows whose boxes overlap the given box. @param {import("./geometry.js").BBox} box */
  inBox(box) {
    const out = [];
    for (const id of this.index.query(box)) {
      const a = this.rows.get(id);
      if (!a || !isVisible(a)) continue;
      const b = bbox(a.geometry);
      if (b.minX <= box.maxX && box.minX <= b.maxX && b.minY <= box.maxY && box.minY <= b.maxY) out.push(a);
    }
    return out;
  }
}
