// The tree map's camera: its pan and zoom, the automatic first view, fitting, centring, animation
// and resizing. The arithmetic is tree-view.js's; this applies it to a TreeMap's viewport.
import { round } from './tree-draw.js';
import { NODE_W } from './tree-layout.js';
import {
  FAR_ZOOM, LABEL_ZOOM, NEAR_ZOOM, PAD, between, centreOn, clearOf, contentArea, fitView, initialView, inView,
  minScale, zoomAround,
} from './tree-view.js';

const BUTTON_GAP = 6; // between a fitted tree and the zoom buttons

export class Camera {
  constructor(map) {
    this.map = map;
    this.view = { x: 0, y: 0, k: 1 };
    this.size = { w: 0, h: 0 };
    this.auto = 'initial'; // 'initial' | 'fit' | null once the user moved the view
    this.animation = 0;
  }

  /** Shows `view`; `sync` draws what comes into view of a culled tree. */
  set(view, sync = true) {
    this.view = { x: view.x, y: view.y, k: view.k };
    const k = Math.round(view.k * 10000) / 10000;
    this.map.viewport.setAttribute('transform', `translate(${round(view.x)},${round(view.y)}) scale(${k})`);
    // What text shows, and at what size, follows the zoom (treemap.css).
    const root = this.map.root;
    root.style.setProperty('--tm-k', String(k));
    root.classList.toggle('tm-zoom-labels', k >= LABEL_ZOOM);
    root.classList.toggle('tm-zoom-near', k >= NEAR_ZOOM);
    root.classList.toggle('tm-zoom-far', k < FAR_ZOOM);
    if (sync) this.map._syncIfNeeded();
  }

  /** The user moved the view: no automatic view any more, no animation under their hand. */
  userMoved() {
    this.auto = null;
    cancelAnimationFrame(this.animation);
  }

  zoomBy(factor, cx = this.size.w / 2, cy = this.size.h / 2, animate = true) {
    const view = zoomAround(this.view, factor, cx, cy, minScale(this.map.box, this.area()));
    this.auto = null;
    if (animate) this.animateTo(view, 160);
    else {
      cancelAnimationFrame(this.animation);
      this.set(view);
    }
  }

  fit() {
    this.auto = 'fit';
    this.animateTo(this.fitView());
  }

  centreOn(item, animate) {
    this.auto = null;
    const view = centreOn(this.view, this.size, item);
    if (animate) this.animateTo(view);
    else this.set(view);
  }

  ensureVisible(item) {
    if (!inView(this.view, this.size, item)) this.centreOn(item, true);
  }

  /** Where a fitted tree may go: clear of the padding, the legend and the zoom buttons' column. */
  area() {
    const { legend, controls } = this.map;
    const bottom = legend.hidden ? 0 : legend.offsetHeight + 6;
    const right = controls.offsetWidth ? Math.max(0, this.size.w - controls.offsetLeft + BUTTON_GAP - PAD) : 0;
    return contentArea(this.size, { right, bottom });
  }

  /** A view with no root under the zoom buttons (a root is where a reader starts). */
  clearOfButtons(view) {
    const c = this.map.controls;
    if (!c.offsetWidth) return view;
    const rect = { x0: c.offsetLeft, y0: c.offsetTop, x1: c.offsetLeft + c.offsetWidth, y1: c.offsetTop + c.offsetHeight };
    return clearOf(view, this.map.items.filter((item) => item.depth === 0), rect, NODE_W);
  }

  fitView() {
    return this.clearOfButtons(fitView(this.map.box, this.area()));
  }

  initialView() {
    const { items, itemsByKey, leafKey } = this.map;
    let leaf = itemsByKey.get(leafKey);
    if (!leaf) {
      // No branch yet: the most recent turn.
      for (const item of items) if (item.kind === 'turn' && (!leaf || item.id > leaf.id)) leaf = item;
    }
    return this.clearOfButtons(initialView(this.map.box, this.area(), leaf));
  }

  /** The automatic view (first view or fit), while the user has not moved the view. */
  applyAuto() {
    const root = this.map.root;
    this.size = { w: root.clientWidth, h: root.clientHeight };
    if (!this.size.w || !this.size.h) return; // laid out when the container gets a size
    cancelAnimationFrame(this.animation);
    this.set(this.auto === 'fit' ? this.fitView() : this.initialView(), false);
    if (this.map.drawnRect !== null) this.map._sync();
  }

  onResize() {
    const root = this.map.root;
    const w = root.clientWidth;
    const h = root.clientHeight;
    if (w === this.size.w && h === this.size.h) return;
    const old = this.size;
    this.size = { w, h };
    if (!w || !h) return;
    if (this.auto) {
      this.applyAuto();
    } else if (old.w && old.h) {
      // Keep what was in the middle in the middle.
      this.set({ x: this.view.x + (w - old.w) / 2, y: this.view.y + (h - old.h) / 2, k: this.view.k });
    }
  }

  animateTo(target, ms = 220) {
    cancelAnimationFrame(this.animation);
    const reduce = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    if (reduce || !this.size.w) {
      this.set(target);
      return;
    }
    const from = { ...this.view };
    const start = performance.now();
    const step = (now) => {
      if (this.map._destroyed) return;
      const t = Math.min(1, (now - start) / ms);
      this.set(between(from, target, t));
      if (t < 1) this.animation = requestAnimationFrame(step);
    };
    this.animation = requestAnimationFrame(step);
  }

  stop() {
    cancelAnimationFrame(this.animation);
  }
}
