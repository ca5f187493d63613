// The tree map's view: a pan and a zoom ({x, y, k}: content point p shows at p·k + (x, y)).
// Pure functions, no DOM: treemap.js measures the map and applies what they return, and
// `node --test` (tests/js/tree-view.test.mjs) checks them.

export const ZOOM_MAX = 3;
export const FIT_MAX = 1.25; // fitting a small tree does not blow it up beyond this
export const READABLE = 0.5; // below this the first view shows the branch leaf instead of everything
export const PAD = 18;
// Text on the map keeps one size on screen (11 px) whatever the zoom; which text shows depends on
// it: from LABEL_ZOOM up, each turn's short text (rows are far enough apart for a line of it);
// from NEAR_ZOOM up, a collapsed run's count inside its pill, below it beside the pill; below
// FAR_ZOOM, no counts (the rows are too close for them).
export const LABEL_ZOOM = 0.6;
export const NEAR_ZOOM = 1;
export const FAR_ZOOM = 0.12;
export const TEXT_PX = 11;

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/**
 * The part of a map of `size` that a fitted tree may fill: inside the padding, above the legend
 * (`bottom`) and left of the zoom buttons' column (`right`), so nothing is drawn under them.
 */
export function contentArea(size, { right = 0, bottom = 0 } = {}) {
  return { x: PAD, y: PAD, w: Math.max(1, size.w - 2 * PAD - right), h: Math.max(1, size.h - 2 * PAD - bottom) };
}

export function fitScale(box, area) {
  const bw = Math.max(1, box.x1 - box.x0);
  const bh = Math.max(1, box.y1 - box.y0);
  return Math.min(area.w / bw, area.h / bh, FIT_MAX);
}

/** How far out the user may zoom: a little beyond the whole tree, never below 1 %. */
export function minScale(box, area) {
  return clamp(fitScale(box, area) * 0.8, 0.01, 0.25);
}

/** The whole tree, centred across the area and near its top. */
export function fitView(box, area) {
  const k = Math.max(0.01, fitScale(box, area));
  const bw = (box.x1 - box.x0) * k;
  const bh = (box.y1 - box.y0) * k;
  return {
    k,
    x: area.x + (area.w - bw) / 2 - box.x0 * k,
    y: area.y + Math.max(0, (area.h - bh) / 2) * 0.25 - box.y0 * k,
  };
}

/**
 * The first view: the whole tree when it stays readable; otherwise, at a readable scale, the
 * `leaf` (the end of the branch shown) centred across, with the top of the tree when it fits in
 * height and the leaf near the bottom when it does not.
 */
export function initialView(box, area, leaf) {
  const fit = fitView(box, area);
  if (fit.k >= READABLE || !leaf) return fit;
  const k = READABLE;
  const bh = (box.y1 - box.y0) * k;
  const y = bh <= area.h ? area.y - box.y0 * k : area.y + area.h - 40 - leaf.y * k;
  return { k, x: area.x + area.w / 2 - leaf.x * k, y };
}

/**
 * `view` moved left just enough that none of `points` (content coordinates) shows inside `rect`
 * (screen coordinates, grown by `margin`); points beyond its right edge are off the map anyway.
 */
export function clearOf(view, points, rect, margin = 12) {
  let shift = 0;
  for (const p of points) {
    const sx = p.x * view.k + view.x;
    const sy = p.y * view.k + view.y;
    if (sy < rect.y0 - margin || sy > rect.y1 + margin) continue;
    if (sx < rect.x0 - margin || sx > rect.x1 + margin) continue;
    shift = Math.max(shift, sx - (rect.x0 - margin));
  }
  return shift ? { ...view, x: view.x - shift } : view;
}

/** Zoomed by `factor` around the screen point (cx, cy), within [lo, hi]. */
export function zoomAround(view, factor, cx, cy, lo, hi = ZOOM_MAX) {
  const k = clamp(view.k * factor, lo, hi);
  return { k, x: cx - ((cx - view.x) * k) / view.k, y: cy - ((cy - view.y) * k) / view.k };
}

/** The content point `p` in the middle of a map of `size`, at a readable scale at least. */
export function centreOn(view, size, p) {
  const k = Math.max(view.k, READABLE);
  return { k, x: size.w / 2 - p.x * k, y: size.h / 2 - p.y * k };
}

/** Whether the content point shows within `margin` pixels of the map's edges. */
export function inView(view, size, p, margin = 12) {
  const sx = p.x * view.k + view.x;
  const sy = p.y * view.k + view.y;
  return sx >= margin && sy >= margin && sx <= size.w - margin && sy <= size.h - margin;
}

/** The content the map of `size` shows, grown by `margin` (a fraction of its size) on each side. */
export function viewRect(view, size, margin = 0) {
  const w = size.w / view.k;
  const h = size.h / view.k;
  const x0 = -view.x / view.k;
  const y0 = -view.y / view.k;
  return { x0: x0 - w * margin, y0: y0 - h * margin, x1: x0 + w * (1 + margin), y1: y0 + h * (1 + margin) };
}

export function containsRect(outer, inner) {
  return inner.x0 >= outer.x0 && inner.y0 >= outer.y0 && inner.x1 <= outer.x1 && inner.y1 <= outer.y1;
}

/** The view that keeps a content point that moved from `was` to `now` at the same screen place. */
export function keepInPlace(view, was, now) {
  if (was.x === now.x && was.y === now.y) return view;
  return { k: view.k, x: view.x + (was.x - now.x) * view.k, y: view.y + (was.y - now.y) * view.k };
}

/** A step of an animation from one view to another, eased out; `t` from 0 to 1. */
export function between(from, to, t) {
  const e = 1 - (1 - t) ** 3;
  return { x: from.x + (to.x - from.x) * e, y: from.y + (to.y - from.y) * e, k: from.k + (to.k - from.k) * e };
}

/** A wheel event's zoom factor: lines and pages as pixels, a pinch (ctrl) faster, bounded. */
export function wheelFactor(deltaY, deltaMode, ctrlKey, pageHeight) {
  const unit = deltaMode === 1 ? 16 : deltaMode === 2 ? pageHeight : 1;
  const dy = clamp(deltaY * unit, -300, 300);
  return Math.exp(-dy * (ctrlKey ? 0.01 : 0.0022));
}
