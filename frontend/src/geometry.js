// @ts-check
/**
 * Pure geometry on level-0 H&E pixel coordinates (GeoJSON-shaped), no DOM.
 * @typedef {[number, number]} Pt
 * @typedef {{type: "Point", coordinates: Pt} | {type: "Polygon", coordinates: Pt[][]}} Geometry
 * @typedef {{minX: number, minY: number, maxX: number, maxY: number}} BBox
 */

/** Bounding box of a geometry. @param {Geometry} g @returns {BBox} */
export function bbox(g) {
  if (g.type === "Point") {
    const [x, y] = g.coordinates;
    return { minX: x, minY: y, maxX: x, maxY: y };
  }
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const [x, y] of g.coordinates[0]) {
    if (x < minX) minX = x;
    if (y < minY) minY = y;
    if (x > maxX) maxX = x;
    if (y > maxY) maxY = y;
  }
  return { minX, minY, maxX, maxY };
}

/** True when two boxes overlap (touching counts). @param {BBox} a @param {BBox} b */
export function bboxIntersects(a, b) {
  return a.minX <= b.maxX && b.minX <= a.maxX && a.minY <= b.maxY && b.minY <= a.maxY;
}

/** Ray-casting point-in-polygon test on a ring. @param {Pt} p @param {Pt[]} ring */
export function pointInRing(p, ring) {
  const [x, y] = p;
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Squared distance from p to segment ab. @param {Pt} p @param {Pt} a @param {Pt} b */
export function segmentDist2(p, a, b) {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  let t = len2 ? ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2 : 0;
  t = Math.max(0, Math.min(1, t));
  const qx = a[0] + t * dx - p[0], qy = a[1] + t * dy - p[1];
  return qx * qx + qy * qy;
}

/** Signed area of a ring (shoelace; positive = counter-clockwise in y-up). @param {Pt[]} ring */
export function ringArea(ring) {
  let s = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) s += ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
  return s / 2;
}

/** Centroid of a geometry (area centroid for polygons, falls back to vertex mean). @param {Geometry} g @returns {Pt} */
export function centroid(g) {
  if (g.type === "Point") return [g.coordinates[0], g.coordinates[1]];
  const ring = g.coordinates[0];
  const a = ringArea(ring);
  if (Math.abs(a) < 1e-9) {
    const n = ring.length || 1;
    return [ring.reduce((s, p) => s + p[0], 0) / n, ring.reduce((s, p) => s + p[1], 0) / n];
  }
  let cx = 0, cy = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const f = ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
    cx += (ring[j][0] + ring[i][0]) * f;
    cy += (ring[j][1] + ring[i][1]) * f;
  }
  return [cx / (6 * a), cy / (6 * a)];
}

/** Closed polygon geometry from an open or closed list of vertices. @param {Pt[]} pts @returns {Geometry} */
export function polygonFrom(pts) {
  const ring = pts.map((p) => /** @type {Pt} */ ([p[0], p[1]]));
  const first = ring[0], last = ring[ring.length - 1];
  if (ring.length && (first[0] !== last[0] || first[1] !== last[1])) ring.push([first[0], first[1]]);
  return { type: "Polygon", coordinates: [ring] };
}

/** Axis-aligned square polygon of side `size` centred on p (the click-to-segment fallback). @param {Pt} p @param {number} size */
export function squareAround(p, size) {
  const h = size / 2;
  return polygonFrom([[p[0] - h, p[1] - h], [p[0] + h, p[1] - h], [p[0] + h, p[1] + h], [p[0] - h, p[1] + h]]);
}

/** Geometry moved by (dx, dy). @param {Geometry} g @param {number} dx @param {number} dy @returns {Geometry} */
export function translate(g, dx, dy) {
  if (g.type === "Point") return { type: "Point", coordinates: [g.coordinates[0] + dx, g.coordinates[1] + dy] };
  return { type: "Polygon", coordinates: g.coordinates.map((r) => r.map(([x, y]) => /** @type {Pt} */ ([x + dx, y + dy]))) };
}

/**
 * Distance-like hit score of p against g in image px (0 inside a polygon), or Infinity beyond tol.
 * @param {Geometry} g @param {Pt} p @param {number} tol
 */
export function hitDistance(g, p, tol) {
  if (g.type === "Point") {
    const d = Math.hypot(g.coordinates[0] - p[0], g.coordinates[1] - p[1]);
    return d <= tol ? d : Infinity;
  }
  const ring = g.coordinates[0];
  if (pointInRing(p, ring)) return 0;
  let best = Infinity;
  for (let i = 1; i < ring.length; i++) best = Math.min(best, segmentDist2(p, ring[i - 1], ring[i]));
  const d = Math.sqrt(best);
  return d <= tol ? d : Infinity;
}

/** Region polygon's box, or null. @param {any} region */
export function regionBox(region) {
  if (!region || !region.coordinates) return null;
  return bbox(/** @type {Geometry} */ (region));
}

/**
 * Physical length for a scale bar: the "nice" length (1, 2, 5 x 10^k micrometres) that fits in maxPx.
 * @param {number} umPerScreenPx @param {number} maxPx @returns {{um: number, px: number, label: string}}
 */
export function niceScale(umPerScreenPx, maxPx) {
  const maxUm = umPerScreenPx * maxPx;
  const k = Math.pow(10, Math.floor(Math.log10(maxUm)));
  let um = k;
  for (const m of [5, 2, 1]) if (m * k <= maxUm) { um = m * k; break; }
  const label = um >= 1000 ? `${um / 1000} mm` : `${um >= 1 ? um : um.toPrecision(1)} µm`;
  return { um, px: um / umPerScreenPx, label };
}

/**
 * Uniform grid over boxes for fast hit tests and viewport culling of thousands of items.
 */
export class GridIndex {
  /** @param {number} cell grid cell size in image px */
  constructor(cell = 256) {
    this.cell = cell;
    /** @type {Map<string, Set<string>>} */
    this.cells = new Map();
    /** @type {Map<string, string[]>} */
    this.keysOf = new Map();
  }
  /** @param {string} id @param {BBox} b */
  insert(id, b) {
    this.remove(id);
    const keys = [];
    const c = this.cell;
    for (let gx = Math.floor(b.minX / c); gx <= Math.floor(b.maxX / c); gx++) {
      for (let gy = Math.floor(b.minY / c); gy <= Math.floor(b.maxY / c); gy++) {
        const k = `${gx},${gy}`;
        let s = this.cells.get(k);
        if (!s) this.cells.set(k, (s = new Set()));
        s.add(id);
        keys.push(k);
      }
    }
    this.keysOf.set(id, keys);
  }
  /** @param {string} id */
  remove(id) {
    for (const k of this.keysOf.get(id) || []) this.cells.get(k)?.delete(id);
    this.keysOf.delete(id);
  }
  /** Ids whose cells overlap the box (a superset; callers refine). @param {BBox} b @returns {Set<string>} */
  query(b) {
    const out = new Set();
    const c = this.cell;
    const x0 = Math.floor(b.minX / c), x1 = Math.floor(b.maxX / c);
    const y0 = Math.floor(b.minY / c), y1 = Math.floor(b.maxY / c);
    if ((x1 - x0 + 1) * (y1 - y0 + 1) > this.cells.size) {
      for (const s of this.cells.values()) for (const id of s) out.add(id);
      return out;
    }
    for (let gx = x0; gx <= x1; gx++) for (let gy = y0; gy <= y1; gy++) for (const id of this.cells.get(`${gx},${gy}`) || []) out.add(id);
    return out;
  }
}

/**
 * Index of the polygon's outer-ring vertex nearest p within tol (image px), or -1. The closing vertex
 * (equal to the first) is never returned: index 0 stands for both.
 * @param {Geometry} g @param {Pt} p @param {number} tol
 */
export function nearestVertex(g, p, tol) {
  if (g.type !== "Polygon") return -1;
  const ring = g.coordinates[0];
  let best = -1, bestD = tol;
  for (let i = 0; i < ring.length - 1; i++) {
    const d = Math.hypot(ring[i][0] - p[0], ring[i][1] - p[1]);
    if (d <= bestD) { best = i; bestD = d; }
  }
  return best;
}

/** @param {Geometry} g @param {(open: Pt[]) => Pt[]} edit @returns {Geometry} */
function editRing(g, edit) {
  if (g.type !== "Polygon") return g;
  const open = g.coordinates[0].slice(0, -1).map(([x, y]) => /** @type {Pt} */ ([x, y]));
  const next = edit(open);
  return { type: "Polygon", coordinates: [[...next, next[0]], ...g.coordinates.slice(1)] };
}

/** The polygon with outer-ring vertex i moved to p (ring stays closed). @param {Geometry} g @param {number} i @param {Pt} p */
export function moveVertex(g, i, p) {
  return editRing(g, (open) => open.map((v, j) => (j === i ? /** @type {Pt} */ ([p[0], p[1]]) : v)));
}

/** The polygon without vertex i; null if fewer than 3 vertices would remain. @param {Geometry} g @param {number} i */
export function removeVertex(g, i) {
  if (g.type !== "Polygon" || g.coordinates[0].length - 1 <= 3) return null;
  return editRing(g, (open) => open.filter((_, j) => j !== i));
}

/**
 * The polygon with a vertex at p inserted into the outer-ring edge nearest p (within tol), or null.
 * @param {Geometry} g @param {Pt} p @param {number} tol
 */
export function insertVertex(g, p, tol) {
  if (g.type !== "Polygon") return null;
  const ring = g.coordinates[0];
  let best = -1, bestD = tol * tol;
  for (let i = 1; i < ring.length; i++) {
    const d = segmentDist2(p, ring[i - 1], ring[i]);
    if (d <= bestD) { best = i; bestD = d; }
  }
  if (best < 0) return null;
  return editRing(g, (open) => [...open.slice(0, best), /** @type {Pt} */ ([p[0], p[1]]), ...open.slice(best)]);
}
