// @ts-check
/**
 * OpenSeadragon wrapper: the H&E as the base tiled image and the registered IF overlay (same DZI
 * geometry) as a second tiled image on top, with opacity, flick (F), swipe and lens modes, a
 * navigator and a scale bar in micrometres.
 */
import { niceScale } from "./geometry.js";

const STATIC = new URL("./", import.meta.url).pathname;

/** @returns {Promise<any>} the OpenSeadragon global, loaded once from our static files. */
export function loadOSD() {
  const g = /** @type {any} */ (globalThis);
  if (g.OpenSeadragon) return Promise.resolve(g.OpenSeadragon);
  if (g.__osdLoading) return g.__osdLoading;
  g.__osdLoading = new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = `${STATIC}vendor/openseadragon/openseadragon.min.js`;
    s.onload = () => resolve(g.OpenSeadragon);
    s.onerror = () => reject(new Error("could not load OpenSeadragon"));
    document.head.appendChild(s);
  });
  return g.__osdLoading;
}

export class LayeredViewer {
  /**
   * @param {any} OSD @param {HTMLElement} el
   * @param {{heUrl: string, overlayUrl?: string|null, mpp?: number|null, opacity?: number, navigator?: boolean}} opts
   */
  constructor(OSD, el, opts) {
    this.OSD = OSD;
    this.el = el;
    this.mpp = opts.mpp || null;
    this.opacity = opts.opacity ?? 0.5;
    this.flicked = false;
    /** @type {"overlay"|"swipe"|"lens"} */
    this.mode = "overlay";
    this.swipeFrac = 0.5;
    this.lensPx = 110;
    /** @type {{x: number, y: number}|null} */
    this.mouse = null;
    this.overlayUrl = opts.overlayUrl || null;
    this.he = null;
    this.ifItem = null;
    /** @type {Set<() => void>} */
    this.viewListeners = new Set();
    this.osd = OSD({
      element: el,
      prefixUrl: `${STATIC}vendor/openseadragon/images/`,
      tileSources: opts.heUrl,
      showNavigator: opts.navigator ?? true,
      navigatorPosition: "BOTTOM_RIGHT",
      navigatorSizeRatio: 0.16,
      showRotationControl: false,
      showFullPageControl: false,
      zoomPerScroll: 1.4,
      animationTime: 0.35,
      maxZoomPixelRatio: 4,
      gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: false },
      gestureSettingsTouch: { clickToZoom: false },
      crossOriginPolicy: false,
    });
    this.ready = new Promise((resolve) => {
      this.osd.addOnceHandler("open", () => {
        this.he = this.osd.world.getItemAt(0);
        if (this.overlayUrl) this._addOverlay(this.overlayUrl).then(() => resolve(this));
        else resolve(this);
      });
    });
    this.scaleEl = document.createElement("div");
    this.scaleEl.className = "scalebar";
    this.scaleEl.dataset.testid = "scalebar";
    el.appendChild(this.scaleEl);
    this.swipeEl = document.createElement("div");
    this.swipeEl.className = "swipe-handle";
    this.swipeEl.hidden = true;
    el.appendChild(this.swipeEl);
    this.osd.addHandler("update-viewport", () => this._onView());
    this.osd.addHandler("canvas-exit", () => { this.mouse = null; this._applyClip(); });
    new OSD.MouseTracker({
      element: el,
      moveHandler: (/** @type {any} */ e) => { this.mouse = { x: e.position.x, y: e.position.y }; if (this.mode === "lens") this._applyClip(); },
    });
    this._dragSwipe();
  }

  /** @param {string} url */
  _addOverlay(url) {
    return new Promise((resolve) => {
      this.osd.addTiledImage({
        tileSource: url,
        index: 1,
        opacity: this.flicked ? 1 : this.opacity,
        success: (/** @type {any} */ ev) => {
          const old = this.ifItem;
          this.ifItem = ev.item;
          if (old) this.osd.world.removeItem(old);
          this._applyClip();
          resolve(ev.item);
        },
        error: () => resolve(null),
      });
    });
  }

  /** Swap the overlay's tile URL (new render settings); the old layer stays until the new one opens. @param {string} url */
  setOverlayUrl(url) {
    if (url === this.overlayUrl) return Promise.resolve(this.ifItem);
    this.overlayUrl = url;
    return this._addOverlay(url);
  }

  /** @param {number} v 0..1 */
  setOpacity(v) {
    this.opacity = v;
    this.flicked = false;
    this.ifItem?.setOpacity(v);
  }

  /** Flick between H&E and full IF (key F); returns true while IF is showing. */
  flick() {
    this.flicked = !this.flicked;
    this.ifItem?.setOpacity(this.flicked ? 1 : this.opacity);
    return this.flicked;
  }

  /** @param {"overlay"|"swipe"|"lens"} mode */
  setMode(mode) {
    this.mode = mode;
    this.swipeEl.hidden = mode !== "swipe";
    if (mode !== "overlay" && this.ifItem && this.ifItem.getOpacity() < 0.99) this.ifItem.setOpacity(1);
    if (mode === "overlay") this.ifItem?.setOpacity(this.flicked ? 1 : this.opacity);
    this._applyClip();
  }

  _applyClip() {
    const item = this.ifItem;
    if (!item) return;
    const OSD = this.OSD;
    if (this.mode === "overlay") { item.setClip(null); return; }
    const w = this.el.clientWidth;
    if (this.mode === "swipe") {
      const sx = this.swipeFrac * w;
      this.swipeEl.style.left = `${sx}px`;
      const a = item.viewerElementToImageCoordinates(new OSD.Point(sx, 0));
      const size = item.getContentSize();
      item.setClip(new OSD.Rect(a.x, -size.y, size.x * 2, size.y * 3));
      return;
    }
    if (!this.mouse) { item.setClip(new OSD.Rect(0, 0, 0, 0)); return; }
    const r = this.lensPx;
    const a = item.viewerElementToImageCoordinates(new OSD.Point(this.mouse.x - r, this.mouse.y - r));
    const b = item.viewerElementToImageCoordinates(new OSD.Point(this.mouse.x + r, this.mouse.y + r));
    item.setClip(new OSD.Rect(a.x, a.y, b.x - a.x, b.y - a.y));
  }

  _dragSwipe() {
    let dragging = false;
    this.swipeEl.addEventListener("pointerdown", (e) => { dragging = true; this.swipeEl.setPointerCapture(e.pointerId); e.stopPropagation(); });
    this.swipeEl.addEventListener("pointermove", (e) => {
      if (!dragging) return;
      const rect = this.el.getBoundingClientRect();
      this.swipeFrac = Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width));
      this._applyClip();
    });
    this.swipeEl.addEventListener("pointerup", () => { dragging = false; });
  }

  _onView() {
    if (this.mode !== "overlay") this._applyClip();
    this._updateScale();
    for (const fn of this.viewListeners) fn();
  }

  /** @param {() => void} fn called on every viewport update (animation frames included) */
  onView(fn) {
    this.viewListeners.add(fn);
  }

  /** Screen px per level-0 image px at the current zoom. */
  imageZoom() {
    if (!this.he) return 1;
    return this.he.viewportToImageZoom(this.osd.viewport.getZoom(true));
  }

  /** Affine image->element mapping (no rotation): screen = offset + scale * image. */
  transform() {
    const P = this.OSD.Point;
    if (!this.he) return { scale: 1, ox: 0, oy: 0 };
    const a = this.he.imageToViewerElementCoordinates(new P(0, 0));
    const b = this.he.imageToViewerElementCoordinates(new P(10000, 0));
    return { scale: (b.x - a.x) / 10000, ox: a.x, oy: a.y };
  }

  /** Visible image box in level-0 px. */
  visibleBox() {
    if (!this.he) return { minX: 0, minY: 0, maxX: 0, maxY: 0 };
    const r = this.he.viewportToImageRectangle(this.osd.viewport.getBounds(true));
    return { minX: r.x, minY: r.y, maxX: r.x + r.width, maxY: r.y + r.height };
  }

  /** @param {{x: number, y: number}} elPt @returns {[number, number]} */
  toImage(elPt) {
    const p = this.he.viewerElementToImageCoordinates(new this.OSD.Point(elPt.x, elPt.y));
    return [p.x, p.y];
  }

  /** Fit a level-0 box in view. @param {{minX: number, minY: number, maxX: number, maxY: number}} b @param {boolean} [immediate] */
  zoomTo(b, immediate = false) {
    if (!this.he) return;
    const pad = 0.05 * Math.max(b.maxX - b.minX, b.maxY - b.minY);
    const rect = this.he.imageToViewportRectangle(b.minX - pad, b.minY - pad, b.maxX - b.minX + 2 * pad, b.maxY - b.minY + 2 * pad);
    this.osd.viewport.fitBounds(rect, immediate);
  }

  _updateScale() {
    if (!this.mpp) { this.scaleEl.hidden = true; return; }
    const z = this.imageZoom();
    const s = niceScale(this.mpp / z, 140);
    this.scaleEl.hidden = false;
    this.scaleEl.innerHTML = `<span class="bar" style="width:${Math.round(s.px)}px"></span><span class="lbl">${s.label}</span>`;
  }
}

/** Create a layered viewer once OpenSeadragon has loaded. @param {HTMLElement} el @param {ConstructorParameters<typeof LayeredViewer>[2]} opts */
export async function createViewer(el, opts) {
  const OSD = await loadOSD();
  const v = new LayeredViewer(OSD, el, opts);
  await v.ready;
  return v;
}
