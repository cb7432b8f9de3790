// @ts-check
/**
 * ONE canvas over the viewer, redrawn on viewport changes (coalesced per animation frame). Draws the
 * task region, human labels (solid), model proposals (dashed, hollow), the selection and the active
 * tool's preview. Zoomed far out it draws polygons as dots (client-side level of detail).
 * @typedef {import("./state.js").Annotation} Annotation
 */
import { isProposal } from "./state.js";

export class DrawLayer {
  /**
   * @param {import("./viewer.js").LayeredViewer} viewer
   * @param {{rows: () => Iterable<Annotation>, get: (id: string) => Annotation|null, colorOf: (cls: number|null) => string, selected: () => Set<string>,
   *   region: () => any, preview: (ctx: CanvasRenderingContext2D, t: {scale: number, ox: number, oy: number}) => void}} src
   */
  constructor(viewer, src) {
    this.viewer = viewer;
    this.src = src;
    this.canvas = document.createElement("canvas");
    this.canvas.className = "drawlayer";
    this.canvas.dataset.testid = "drawlayer";
    viewer.osd.canvas.appendChild(this.canvas);
    this.ctx = /** @type {CanvasRenderingContext2D} */ (this.canvas.getContext("2d"));
    this.pending = false;
    this.drawn = 0;
    this.hidden = false;
    /** @type {any} level-of-detail answer of the viewport query (points or bins) when zoomed out */
    this.lod = null;
    viewer.onView(() => this.request());
    globalThis.addEventListener("resize", () => this.request());
  }

  request() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  draw() {
    const c = this.canvas, dpr = globalThis.devicePixelRatio || 1;
    const w = this.viewer.el.clientWidth, h = this.viewer.el.clientHeight;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      c.style.width = `${w}px`;
      c.style.height = `${h}px`;
    }
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const t = this.viewer.transform();
    this._region(ctx, t, w, h);
    if (this.hidden) { this.src.preview(ctx, t); return; }
    const vis = this.viewer.visibleBox();
    const sel = this.src.selected();
    if (this.lod) { this._lod(ctx, t); this.src.preview(ctx, t); return; }
    const coarse = t.scale < 0.08;
    const r = Math.max(2.5, Math.min(7, 9 * t.scale + 2));
    let n = 0;
    /** @type {Map<string, Path2D>} solid fills by colour, batched */
    const solid = new Map();
    const dashed = new Map();
    /** @type {Annotation[]} */
    const polys = [];
    for (const a of this.src.rows()) {
      const g = a.geometry;
      let x, y;
      if (g.type === "Point") { [x, y] = g.coordinates; }
      else {
        const ring = g.coordinates[0];
        if (!coarse) { polys.push(a); n++; continue; }
        x = ring[0][0]; y = ring[0][1];
      }
      if (x < vis.minX - 50 || x > vis.maxX + 50 || y < vis.minY - 50 || y > vis.maxY + 50) continue;
      const sx = t.ox + t.scale * x, sy = t.oy + t.scale * y;
      const color = this.src.colorOf(a.label_class);
      const bucket = isProposal(a) ? dashed : solid;
      let p = bucket.get(color);
      if (!p) bucket.set(color, (p = new Path2D()));
      p.moveTo(sx + r, sy);
      p.arc(sx, sy, r, 0, Math.PI * 2);
      n++;
    }
    for (const a of polys) this._polygon(ctx, t, a);
    ctx.lineWidth = 1.5;
    for (const [color, p] of solid) {
      ctx.fillStyle = color;
      ctx.fill(p);
      ctx.strokeStyle = "rgba(255,255,255,0.9)";
      ctx.stroke(p);
    }
    ctx.setLineDash([3, 2]);
    ctx.lineWidth = 2;
    for (const [color, p] of dashed) {
      ctx.strokeStyle = color;
      ctx.stroke(p);
    }
    ctx.setLineDash([]);
    for (const id of sel) this._selection(ctx, t, id, r);
    this.drawn = n;
    this.src.preview(ctx, t);
  }

  /** @param {CanvasRenderingContext2D} ctx @param {{scale: number, ox: number, oy: number}} t @param {Annotation} a */
  _polygon(ctx, t, a) {
    const ring = /** @type {[number, number][][]} */ (a.geometry.coordinates)[0];
    ctx.beginPath();
    ring.forEach(([x, y], i) => (i ? ctx.lineTo(t.ox + t.scale * x, t.oy + t.scale * y) : ctx.moveTo(t.ox + t.scale * x, t.oy + t.scale * y)));
    ctx.closePath();
    const color = this.src.colorOf(a.label_class);
    if (isProposal(a)) {
      ctx.setLineDash([5, 3]);
      ctx.lineWidth = 2;
      ctx.strokeStyle = color;
      ctx.stroke();
      ctx.setLineDash([]);
    } else {
      ctx.globalAlpha = 0.22;
      ctx.fillStyle = color;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.lineWidth = 2;
      ctx.strokeStyle = color;
      ctx.stroke();
    }
  }

  /** @param {CanvasRenderingContext2D} ctx @param {{scale: number, ox: number, oy: number}} t @param {string} id @param {number} r */
  _selection(ctx, t, id, r) {
    const a = this.src.get(id);
    if (!a) return;
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 3;
    ctx.shadowColor = "rgba(0,0,0,0.8)";
    ctx.shadowBlur = 4;
    ctx.beginPath();
    if (a.geometry.type === "Point") {
      const [x, y] = a.geometry.coordinates;
      ctx.arc(t.ox + t.scale * x, t.oy + t.scale * y, r + 4, 0, Math.PI * 2);
    } else {
      a.geometry.coordinates[0].forEach(([x, y], i) => (i ? ctx.lineTo(t.ox + t.scale * x, t.oy + t.scale * y) : ctx.moveTo(t.ox + t.scale * x, t.oy + t.scale * y)));
      ctx.closePath();
    }
    ctx.stroke();
    ctx.shadowBlur = 0;
  }

  /** Zoomed-out summary from the server: centroids (points mode) or counts per bin (bins mode). */
  _lod(ctx, t) {
    const d = this.lod;
    if (d.mode === "points") {
      /** @type {Map<string, Path2D>} */
      const byColor = new Map();
      for (const [, cx, cy, cls] of d.points || []) {
        const color = this.src.colorOf(cls);
        let p = byColor.get(color);
        if (!p) byColor.set(color, (p = new Path2D()));
        const sx = t.ox + t.scale * cx, sy = t.oy + t.scale * cy;
        p.rect(sx - 1.5, sy - 1.5, 3, 3);
      }
      for (const [color, p] of byColor) { ctx.fillStyle = color; ctx.fill(p); }
      this.drawn = (d.points || []).length;
      return;
    }
    if (d.mode === "bins") {
      const max = Math.max(1, ...(d.cells || []).map((/** @type {number[]} */ c) => c[2]));
      for (const [i, j, n] of d.cells || []) {
        ctx.fillStyle = `rgba(255, 196, 0, ${0.15 + 0.6 * (n / max)})`;
        ctx.fillRect(t.ox + t.scale * (d.x0 + i * d.cell_w), t.oy + t.scale * (d.y0 + j * d.cell_h), t.scale * d.cell_w, t.scale * d.cell_h);
      }
      this.drawn = (d.cells || []).length;
    }
  }

  /** Dim everything outside the task region. */
  _region(ctx, t, w, h) {
    const reg = this.src.region();
    if (!reg || !reg.coordinates) return;
    const ring = reg.coordinates[0];
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, 0, w, h);
    ring.forEach(([x, y], i) => (i ? ctx.lineTo(t.ox + t.scale * x, t.oy + t.scale * y) : ctx.moveTo(t.ox + t.scale * x, t.oy + t.scale * y)));
    ctx.closePath();
    ctx.fillStyle = "rgba(10,14,20,0.45)";
    ctx.fill("evenodd");
    ctx.setLineDash([8, 6]);
    ctx.strokeStyle = "rgba(255,255,255,0.85)";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ring.forEach(([x, y], i) => (i ? ctx.lineTo(t.ox + t.scale * x, t.oy + t.scale * y) : ctx.moveTo(t.ox + t.scale * x, t.oy + t.scale * y)));
    ctx.closePath();
    ctx.stroke();
    ctx.restore();
  }
}
