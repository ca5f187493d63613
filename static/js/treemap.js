// A map of a whole conversation: every turn is a node of a top-down tidy tree drawn in SVG.
//
//   const map = new TreeMap(container, { onSelect: (turnId) => {}, firstView: 'auto' | 'fit' });
//   map.setData(nodes);     // replace the whole tree
//   map.setBranch(turnIds); // the branch shown on the page, root first: highlighted
//   map.upsert(node);       // add or update one node; keeps the user's pan and zoom
//   map.select(turnId);     // center the view on a node (revealing it when collapsed)
//   map.fit();              // fit the whole tree in view
//   map.destroy();
//
// A node is {id, parent, role, status, model, preview, files}. Several roots are allowed; siblings are
// ordered by id. The layout (tree-layout.js) keeps the conversation's main line straight: a parent
// sits above the child with the longest branch below it.
//
// Long linear runs collapse (tree-layout.js): a run of consecutive nodes that each have exactly one
// child keeps its first and last node and replaces the nodes between them with one "⋯ N turns"
// segment when at least two would be hidden. Some nodes inside a run stay visible ("pinned") and
// split it: the leaf of the highlighted branch and its last few ancestors (so the recent end of the
// branch reads as turns), streaming nodes, nodes revealed by select(), and nodes revealed by
// expanding.
//
// Clicking a segment (or Enter on it) expands it in place: all of it when it hides at most
// EXPAND_ALL turns, otherwise the EXPAND_STEP turns at its top, leaving the rest collapsed below
// them, so a segment of thousands of turns opens a screenful at a time. It never calls onSelect.
//
// The view (tree-view.js): the first data shown in an empty map gets an automatic view (with
// firstView 'fit' the whole tree; otherwise the whole tree when it stays readable, else the end of
// the branch), redone on resize until the user
// pans or zooms. After that nothing moves the view but the user, select() and fit(); setData,
// setBranch and upsert keep the turn nearest the middle of the view where it was (usually the
// transform is unchanged). Fitted views leave the zoom buttons' column free. Drag pans, the wheel
// zooms around the cursor, the corner buttons zoom and fit (tree-input.js). Keyboard: one node is
// in the Tab order; arrows move between nodes, Home/End go to the first turn and the branch leaf,
// Enter or Space selects, + / - / 0 zoom and fit.
//
// A tree with more than CULL_OVER visible items only gets elements for what is in or near the view.
//
// Text keeps one size on screen at every zoom (tree-view.js): a collapsed run's count always
// (inside its pill zoomed in, beside it zoomed out), a turn's short text (its model, or a prompt's
// first words) once zoomed in enough. Replies take their model's colour from a colour-blind-safe
// palette, in the order the models first answered; the legend names them.
//
// Elements the page and tests can target (all inside the container):
//   .tm-node[data-turn-id="12"]   a turn; data-role, data-status, data-model attributes,
//                                 classes tm-role-<role>, tm-status-<status>
//   [data-files="2"]              a prompt with files attached (it wears a paperclip, g.tm-clip)
//   [data-on-branch]              on turns (and segments) of the highlighted branch only
//   [data-branch-leaf]            the last turn of the highlighted branch
//   .tm-node.tm-segment[data-segment]  a collapsed run; data-segment="<first id>-<last id>",
//                                 data-hidden-count="N"
//   path.tm-edge[data-from][data-to]   an edge; ends are turn ids or "s<first hidden id>"
//   g.tm-viewport                 the pan/zoom transform ("translate(x,y) scale(k)")
import { Camera } from './tree-camera.js';
import { Drawing, drawLegend, drawSegment, drawTurn, html, modelSlots, svg } from './tree-draw.js';
import { ZOOM_STEP, bindInput } from './tree-input.js';
import { LEVEL, indexTree, insertChild, labelRoom, layoutTree, removeChild } from './tree-layout.js';
import { LABEL_ZOOM, containsRect, keepInPlace, viewRect } from './tree-view.js';

export { modelSlots } from './tree-draw.js';

const TAIL = 3; // ancestors of the branch leaf that never collapse
const EXPAND_ALL = 40;
const EXPAND_STEP = 20;
const CULL_OVER = 1000; // with more visible items, only those near the view get elements

export class TreeMap {
  constructor(container, { onSelect, firstView = 'auto', modelLabels = new Map() } = {}) {
    this.modelLabels = modelLabels;
    this.container = container;
    this.firstView = firstView; // 'auto' (see tree-view.js's initialView) or 'fit'
    this.onSelect = typeof onSelect === 'function' ? onSelect : () => {};
    this.nodes = new Map(); // id -> node
    this.kids = new Map(); // parent id -> child ids, ascending
    this.roots = []; // ids without a parent among the nodes, ascending
    this.streaming = new Set();
    this.revealed = new Set(); // ids kept visible inside collapsed runs
    this.branch = [];
    this.branchSet = new Set();
    this.box = { x0: 0, y0: 0, x1: 0, y1: 0 };
    this.items = [];
    this.itemsByKey = new Map();
    this.drawnRect = null; // the content area drawn when culling
    this.focusKey = '';
    this.leafKey = '';
    this.legendSig = null;
    this.slots = new Map(); // reply model -> colour slot
    this.lastLayoutMs = 0;
    this._destroyed = false;
    this._build();
  }

  // ---------------------------------------------------------------------------- public API

  setData(nodes) {
    if (this._destroyed) return;
    const wasEmpty = this.nodes.size === 0;
    const { byId, kids, roots } = indexTree(nodes);
    this.nodes = new Map([...byId].map(([id, n]) => [id, { ...n }]));
    this.kids = kids;
    this.roots = roots;
    this.streaming.clear();
    for (const node of this.nodes.values()) if (node.status === 'streaming') this.streaming.add(node.id);
    if (wasEmpty) this._firstRender();
    else this._render(this._anchor());
  }

  setBranch(turnIds) {
    if (this._destroyed) return;
    this.branch = Array.from(turnIds || []);
    this.branchSet = new Set(this.branch);
    this._render(this._anchor());
  }

  upsert(node) {
    if (this._destroyed || !node || node.id == null) return;
    const wasEmpty = this.nodes.size === 0;
    const old = this.nodes.get(node.id);
    const next = { ...old, ...node };
    this.nodes.set(node.id, next);
    const wasStreaming = this.streaming.has(node.id);
    if (next.status === 'streaming') this.streaming.add(node.id);
    else this.streaming.delete(node.id);
    const structural = !old || (old.parent ?? null) !== (next.parent ?? null);
    if (structural) {
      if (old && old.parent != null) removeChild(this.kids, old.parent, node.id);
      if (next.parent != null) insertChild(this.kids, next.parent, next.id);
      this._findRoots();
    }
    const pinsChanged = wasStreaming !== this.streaming.has(node.id);
    if (wasEmpty) {
      this._firstRender();
      return;
    }
    if (structural || pinsChanged || (old && old.model !== next.model)) {
      this._render(this._anchor());
      return;
    }
    // Only the node's own looks changed: patch its element if it is visible.
    const item = this.itemsByKey.get(String(node.id));
    if (item) this.drawing.patch(item, this._look(item));
  }

  select(turnId) {
    if (this._destroyed || !this.nodes.has(turnId)) return;
    if (!this.itemsByKey.has(String(turnId))) {
      this.revealed.add(turnId);
      this._render(this._anchor());
    }
    const item = this.itemsByKey.get(String(turnId));
    if (!item) return;
    this.setFocus(item.key);
    this.camera.centreOn(item, true);
  }

  fit() {
    if (this._destroyed) return;
    this.camera.fit();
  }

  destroy() {
    if (this._destroyed) return;
    this._destroyed = true;
    this.camera.stop();
    if (this._resizeObserver) this._resizeObserver.disconnect();
    this.root.remove();
    this.drawing.clear();
    this.items = [];
    this.itemsByKey.clear();
  }

  // ---------------------------------------------------------------------------- for tree-input.js

  activate(item) {
    if (item.kind === 'segment') {
      this._expand(item);
      return;
    }
    this.setFocus(item.key);
    this.onSelect(item.id);
  }

  setFocus(key) {
    this.focusKey = key;
    this._updateTabStops();
  }

  focusItem(item) {
    this.setFocus(item.key);
    this.drawing.element(item.key)?.focus({ preventScroll: true });
  }

  // ---------------------------------------------------------------------------- DOM skeleton

  _build() {
    const root = html('div', 'treemap');
    // tabindex -1 keeps the svg itself out of the Tab order (Chrome would stop on it as a scroller).
    const svgEl = svg('svg', { class: 'tm-svg', role: 'group', 'aria-label': 'Conversation map', tabindex: '-1' });
    const viewport = svg('g', { class: 'tm-viewport' });
    const edgeLayer = svg('g', { class: 'tm-edges' });
    const nodeLayer = svg('g', { class: 'tm-nodes' });
    viewport.append(edgeLayer, nodeLayer);
    svgEl.append(viewport);

    const controls = html('div', 'tm-controls');
    const button = (label, text, action) => {
      const b = html('button', 'tm-button', text);
      b.type = 'button';
      b.title = label;
      b.setAttribute('aria-label', label);
      b.addEventListener('click', action);
      controls.append(b);
    };
    button('Zoom in', '+', () => this.camera.zoomBy(ZOOM_STEP));
    button('Zoom out', '−', () => this.camera.zoomBy(1 / ZOOM_STEP));
    button('Fit the whole tree', '⤢', () => this.fit());
    const legend = html('div', 'tm-legend');
    legend.setAttribute('aria-hidden', 'true');
    root.append(svgEl, controls, legend);
    this.container.append(root);

    Object.assign(this, { root, svgEl, viewport, nodeLayer, controls, legend });
    this.drawing = new Drawing(nodeLayer, edgeLayer);
    this.camera = new Camera(this);
    bindInput(this);

    this.camera.size = { w: root.clientWidth, h: root.clientHeight };
    if (typeof ResizeObserver === 'function') {
      this._resizeObserver = new ResizeObserver(() => this.camera.onResize());
      this._resizeObserver.observe(root);
    }
    this.camera.set(this.camera.view);
  }

  // ---------------------------------------------------------------------------- layout + render

  _findRoots() {
    this.roots = [];
    for (const node of this.nodes.values()) {
      if (node.parent == null || !this.nodes.has(node.parent)) this.roots.push(node.id);
    }
    this.roots.sort((a, b) => a - b);
  }

  _computePins() {
    const pinned = new Set(this.revealed);
    for (const id of this.streaming) pinned.add(id);
    // The branch leaf and its last few ancestors stay readable as turns.
    const from = Math.max(0, this.branch.length - 1 - TAIL);
    for (let i = from; i < this.branch.length; i++) pinned.add(this.branch[i]);
    return pinned;
  }

  _layout() {
    const t0 = performance.now();
    const pinned = this._computePins();
    const laid = layoutTree(this.kids, this.roots, (id) => pinned.has(id));
    this.lastLayoutMs = performance.now() - t0;
    return laid;
  }

  /** Into an empty map: render, then choose the first view. */
  _firstRender() {
    this._render();
    // The first view is chosen once a setBranch() in the caller's same task has landed too.
    const auto = this.firstView === 'fit' ? 'fit' : 'initial';
    this.camera.auto = auto;
    queueMicrotask(() => {
      if (!this._destroyed && this.camera.auto === auto) this.camera.applyAuto();
    });
  }

  /** The visible item nearest the middle of the view, to keep in place across a relayout. */
  _anchor() {
    if (!this.items.length) return null;
    const { view, size } = this.camera;
    const cx = (size.w / 2 - view.x) / view.k;
    const cy = (size.h / 2 - view.y) / view.k;
    let best = null;
    let bestD = Infinity;
    for (const item of this.items) {
      const d = (item.x - cx) ** 2 + (item.y - cy) ** 2;
      if (d < bestD) {
        bestD = d;
        best = item;
      }
    }
    return best && { key: best.key, x: best.x, y: best.y };
  }

  _render(anchor = null) {
    const { items, box } = this._layout();
    labelRoom(items);
    this.items = items;
    this.box = box;
    this.itemsByKey = new Map();
    for (const item of items) this.itemsByKey.set(item.key, item);

    // Branch flags: a segment is on the branch when the turns it hides are.
    for (const item of items) {
      item.onBranch = item.kind === 'turn' ? this.branchSet.has(item.id) : this.branchSet.has(item.hidden[0]);
    }
    this.root.classList.toggle('has-branch', this.branch.length > 0);
    const leafId = this.branch.length ? this.branch[this.branch.length - 1] : null;
    this.leafKey = leafId != null && this.itemsByKey.has(String(leafId)) ? String(leafId) : '';
    if (!this.itemsByKey.has(this.focusKey)) this.focusKey = '';
    this.slots = modelSlots(this.nodes.values());
    const sig = [...this.slots.keys()].join('\n');
    if (sig !== this.legendSig) {
      this.legendSig = sig;
      drawLegend(this.legend, this.slots, this.modelLabels);
    }

    const now = anchor && this.itemsByKey.get(anchor.key);
    if (now) this.camera.set(keepInPlace(this.camera.view, anchor, now), false);
    this._sync();
  }

  /**
   * Brings the DOM in line with the laid-out items. A large tree only gets elements for what is in
   * (or near) the view; panning and zooming then sync again when the view leaves the area drawn.
   */
  _sync() {
    this._syncQueued = false;
    const { view, size } = this.camera;
    const culling = this.items.length > CULL_OVER && size.w > 0;
    const rect = culling ? viewRect(view, size, 0.5) : null;
    this.drawnRect = rect;
    this.root.toggleAttribute('data-culled', culling);
    this.drawing.sync(this.items, {
      inside: (item) => !rect || (item.x + item.w / 2 >= rect.x0 && item.x - item.w / 2 <= rect.x1
        && item.y + LEVEL / 2 >= rect.y0 && item.y - LEVEL / 2 <= rect.y1),
      edgeInside: (parent, item) => !rect || !(Math.max(parent.x, item.x) < rect.x0
        || Math.min(parent.x, item.x) > rect.x1 || item.y < rect.y0 || parent.y > rect.y1),
      keep: culling ? [this.itemsByKey.get(this.focusKey), this.itemsByKey.get(this.leafKey)] : [],
      look: (item) => this._look(item),
    });
    this._updateTabStops();
  }

  /** After the view changed: sync again when part of the view is no longer drawn. */
  _syncIfNeeded() {
    if (!this.drawnRect || this._syncQueued) return;
    if (containsRect(this.drawnRect, viewRect(this.camera.view, this.camera.size))) return;
    this._syncQueued = true;
    requestAnimationFrame(() => {
      if (!this._destroyed && this._syncQueued) this._sync();
    });
  }

  /** What an item shows: a signature that changes when it must be redrawn, and how to draw it. */
  _look(item) {
    if (item.kind === 'segment') {
      return {
        sig: `s|${item.hidden.length}|${item.hidden[item.hidden.length - 1]}|${item.onBranch}`,
        draw: (rec) => drawSegment(rec, item),
      };
    }
    const n = this.nodes.get(item.id);
    const isLeaf = item.key === this.leafKey;
    const slot = this.slots.get(n.model);
    // The short text must fit at the smallest zoom that shows it.
    const room = Math.round((item.room - 1) * LABEL_ZOOM - 4);
    return {
      sig: `t|${n.role}|${n.status}|${n.model}|${n.preview}|${n.files || 0}|${item.onBranch}|${isLeaf}|${slot}|${room}`,
      draw: (rec) => drawTurn(rec, item, n, isLeaf, slot, room),
    };
  }

  _updateTabStops() {
    this.drawing.setTabStop(this.focusKey || this.leafKey || (this.items[0] && this.items[0].key) || '');
  }

  /** Reveals a segment's turns: all of a short one, the top EXPAND_STEP of a long one. */
  _expand(item) {
    const hidden = item.hidden;
    const reveal = hidden.length <= EXPAND_ALL ? hidden : hidden.slice(0, EXPAND_STEP);
    for (const id of reveal) this.revealed.add(id);
    const hadFocus = this.drawing.element(item.key) === document.activeElement;
    const above = item.parent;
    const anchor = above && above.kind !== 'top' ? { key: above.key, x: above.x, y: above.y } : this._anchor();
    this._render(anchor);
    const first = this.itemsByKey.get(String(reveal[0]));
    if (hadFocus && first) this.focusItem(first);
  }
}
