// A map of a whole conversation: every turn is a node of a top-down tidy tree drawn in SVG.
//
//   const map = new TreeMap(container, { onSelect: (turnId) => {} });
//   map.setData(nodes);     // replace the whole tree
//   map.setBranch(turnIds); // the branch shown on the page, root first: highlighted
//   map.upsert(node);       // add or update one node; keeps the user's pan and zoom
//   map.select(turnId);     // center the view on a node (revealing it when collapsed)
//   map.fit();              // fit the whole tree in view
//   map.destroy();
//
// A node is {id, parent, role, status, model, preview}. Several roots are allowed; siblings are
// ordered by id.
//
// Long linear runs collapse: a run of consecutive nodes that each have exactly one child keeps its
// first and last node and replaces the nodes between them with one "⋯ N turns" segment when at
// least two would be hidden. Some nodes inside a run stay visible ("pinned") and split it: the
// leaf of the highlighted branch and its last few ancestors (so the recent end of the branch reads
// as turns), streaming nodes, nodes revealed by select(), and nodes revealed by expanding.
//
// Clicking a segment (or Enter on it) expands it in place: all of it when it hides at most
// EXPAND_ALL turns, otherwise the EXPAND_STEP turns at its top, leaving the rest collapsed below
// them, so a segment of thousands of turns opens a screenful at a time. It never calls onSelect.
//
// The view: the first data shown in an empty map gets an automatic view (the whole tree when it
// stays readable, otherwise the end of the branch), redone on resize until the user pans or zooms.
// After that nothing moves the view but the user, select() and fit(); setData, setBranch and upsert
// keep the turn nearest the middle of the view where it was (usually the transform is unchanged).
// Drag pans, the wheel zooms around the cursor, the corner buttons zoom and fit. Keyboard: one
// node is in the Tab order; arrows move between nodes, Home/End go to the first turn and the branch
// leaf, Enter or Space selects, + / - / 0 zoom and fit.
//
// A tree with more than CULL_OVER visible items only gets elements for what is in or near the view.
//
// Elements the page and tests can target (all inside the container):
//   .tm-node[data-turn-id="12"]   a turn; data-role, data-status, data-model attributes,
//                                 classes tm-role-<role>, tm-status-<status>
//   [data-on-branch]              on turns (and segments) of the highlighted branch only
//   [data-branch-leaf]            the last turn of the highlighted branch
//   .tm-node.tm-segment[data-segment]  a collapsed run; data-segment="<first id>-<last id>",
//                                 data-hidden-count="N"
//   path.tm-edge[data-from][data-to]   an edge; ends are turn ids or "s<first hidden id>"
//   g.tm-viewport                 the pan/zoom transform ("translate(x,y) scale(k)")

const SVG_NS = 'http://www.w3.org/2000/svg';

const LEVEL = 38; // vertical distance between rows
const NODE_W = 16; // horizontal footprint of a turn
const SIBLING_GAP = 10; // between siblings
const COUSIN_GAP = 18; // between neighbours with different parents
const SEGMENT_H = 16;
const TAIL = 3; // ancestors of the branch leaf that never collapse
const EXPAND_ALL = 40;
const EXPAND_STEP = 20;
const CULL_OVER = 1000; // with more visible items, only those near the view get elements
const ZOOM_MAX = 3;
const FIT_MAX = 1.25; // fitting a small tree does not blow it up beyond this
const READABLE = 0.5; // below this the first view shows the branch leaf instead of everything
const PAD = 18;
const DRAG_THRESHOLD = 4;
const EMPTY = Object.freeze([]);
const ROLES = { user: 'User', assistant: 'Assistant', system: 'System' };

/** A stable hue (0–359) for a model string; the same model gets the same colour on every map. */
export function modelHue(model) {
  let h = 2166136261;
  for (let i = 0; i < model.length; i++) {
    h ^= model.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  h ^= h >>> 15;
  h = Math.imul(h, 2246822507);
  h ^= h >>> 13;
  // Hues within 20 degrees of the accent blue (about 225) are skipped: that colour marks the branch.
  const hue = (h >>> 0) % 320;
  return hue < 205 ? hue : hue + 40;
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  if (attrs) for (const k in attrs) el.setAttribute(k, attrs[k]);
  return el;
}

function html(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text) el.textContent = text;
  return el;
}

const round = (v) => Math.round(v * 100) / 100;
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

function segmentLabel(count) {
  return `⋯ ${count} turns`;
}

function segmentWidth(count) {
  return Math.round(20 + segmentLabel(count).length * 5.8);
}

// ------------------------------------------------------------------------------------ layout

function makeItem(kind, parent) {
  const item = {
    kind, key: '', id: 0, hidden: null, parent, children: [], depth: parent.depth + 1,
    w: NODE_W, x: 0, y: 0, onBranch: false,
    // tidy-tree working fields
    i: 0, A: null, a: null, z: 0, m: 0, c: 0, s: 0, t: null,
  };
  item.a = item;
  item.i = parent.children.length;
  parent.children.push(item);
  return item;
}

/**
 * The visible tree: turns, with long single-child runs replaced by segments. Returns the virtual
 * top item (depth -1) whose children are the visible roots, and every visible item in pre-order.
 */
function buildVisible(kids, rootIds, isPinned) {
  const top = { kind: 'top', key: '', parent: null, children: [], depth: -1, w: 0, x: 0, y: 0,
    i: 0, A: null, a: null, z: 0, m: 0, c: 0, s: 0, t: null };
  top.a = top;
  const items = [];
  const turn = (id, parent) => {
    const item = makeItem('turn', parent);
    item.id = id;
    item.key = String(id);
    items.push(item);
    return item;
  };
  const kidsOf = (id) => kids.get(id) || EMPTY;
  const stack = [];
  for (let i = rootIds.length - 1; i >= 0; i--) stack.push(top, rootIds[i]);
  while (stack.length) {
    const id = stack.pop();
    let parent = stack.pop();
    let c = kidsOf(id);
    let end = id;
    if (c.length === 1) {
      // A run: this node and its successors while each has exactly one child.
      const run = [id];
      let x = c[0];
      while ((c = kidsOf(x)).length === 1) {
        run.push(x);
        x = c[0];
      }
      let last = -1;
      for (let i = 0; i < run.length; i++) {
        if (i !== 0 && i !== run.length - 1 && !isPinned(run[i])) continue;
        const gap = i - last - 1;
        if (gap >= 2) {
          const seg = makeItem('segment', parent);
          seg.hidden = run.slice(last + 1, i);
          seg.id = seg.hidden[0];
          seg.key = 's' + seg.id;
          seg.w = segmentWidth(gap);
          items.push(seg);
          parent = seg;
        } else if (gap === 1) {
          parent = turn(run[i - 1], parent);
        }
        parent = turn(run[i], parent);
        last = i;
      }
      end = x;
      c = kidsOf(x);
    }
    const item = turn(end, parent);
    for (let i = c.length - 1; i >= 0; i--) stack.push(item, c[i]);
  }
  return { top, items };
}

// Buchheim, Jünger and Leipert's linear-time version of Walker's tidy tree, iterative so deep
// trees cannot overflow the stack. Widths vary (segments are wider than turns).
function separation(a, b) {
  return (a.w + b.w) / 2 + (a.parent === b.parent && a.parent.kind !== 'top' ? SIBLING_GAP : COUSIN_GAP);
}

function nextLeft(v) {
  return v.children.length ? v.children[0] : v.t;
}

function nextRight(v) {
  return v.children.length ? v.children[v.children.length - 1] : v.t;
}

function moveSubtree(wm, wp, shift) {
  const change = shift / (wp.i - wm.i);
  wp.c -= change;
  wp.s += shift;
  wm.c += change;
  wp.z += shift;
  wp.m += shift;
}

function executeShifts(v) {
  let shift = 0;
  let change = 0;
  const children = v.children;
  for (let i = children.length - 1; i >= 0; i--) {
    const w = children[i];
    w.z += shift;
    w.m += shift;
    change += w.c;
    shift += w.s + change;
  }
}

function apportion(v, w, ancestor) {
  if (!w) return ancestor;
  let vip = v;
  let vop = v;
  let vim = w;
  let vom = vip.parent.children[0];
  let sip = vip.m;
  let sop = vop.m;
  let sim = vim.m;
  let som = vom.m;
  while ((vim = nextRight(vim)), (vip = nextLeft(vip)), vim && vip) {
    vom = nextLeft(vom);
    vop = nextRight(vop);
    vop.a = v;
    const shift = vim.z + sim - vip.z - sip + separation(vim, vip);
    if (shift > 0) {
      moveSubtree(vim.a.parent === v.parent ? vim.a : ancestor, v, shift);
      sip += shift;
      sop += shift;
    }
    sim += vim.m;
    sip += vip.m;
    som += vom.m;
    sop += vop.m;
  }
  if (vim && !nextRight(vop)) {
    vop.t = vim;
    vop.m += sim - sop;
  }
  if (vip && !nextLeft(vom)) {
    vom.t = vip;
    vom.m += sip - som;
    ancestor = v;
  }
  return ancestor;
}

function firstWalk(v) {
  const children = v.children;
  const siblings = v.parent.children;
  const w = v.i ? siblings[v.i - 1] : null;
  if (children.length) {
    executeShifts(v);
    const midpoint = (children[0].z + children[children.length - 1].z) / 2;
    if (w) {
      v.z = w.z + separation(v, w);
      v.m = v.z - midpoint;
    } else {
      v.z = midpoint;
    }
  } else if (w) {
    v.z = w.z + separation(v, w);
  }
  v.parent.A = apportion(v, w, v.parent.A || siblings[0]);
}

/** Positions every item (x, y) with the top item at x = 0; returns the bounding box. */
function tidyLayout(top) {
  const wrap = { kind: 'wrap', parent: null, children: [top], m: 0, A: null };
  top.parent = wrap;
  top.i = 0;
  // Pre-order visiting the right-most child first; reversed, it is a left-to-right post-order.
  const order = [];
  const stack = [top];
  while (stack.length) {
    const v = stack.pop();
    order.push(v);
    const children = v.children;
    for (let i = 0; i < children.length; i++) stack.push(children[i]);
  }
  for (let j = order.length - 1; j >= 0; j--) firstWalk(order[j]);
  wrap.m = -top.z;
  const box = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  for (let j = 0; j < order.length; j++) {
    const v = order[j];
    v.x = v.z + v.parent.m;
    v.m += v.parent.m;
    if (v === top) continue;
    v.y = v.depth * LEVEL;
    const half = v.w / 2;
    if (v.x - half < box.x0) box.x0 = v.x - half;
    if (v.x + half > box.x1) box.x1 = v.x + half;
    if (v.y < box.y0) box.y0 = v.y;
    if (v.y > box.y1) box.y1 = v.y;
  }
  top.parent = null;
  if (box.x0 === Infinity) return { x0: 0, y0: 0, x1: 0, y1: 0 };
  box.y0 -= NODE_W / 2;
  box.y1 += NODE_W / 2;
  return box;
}

// ------------------------------------------------------------------------------------ the map

export class TreeMap {
  constructor(container, { onSelect } = {}) {
    this.container = container;
    this.onSelect = typeof onSelect === 'function' ? onSelect : () => {};
    this.nodes = new Map(); // id -> node
    this.kids = new Map(); // parent id -> child ids, ascending
    this.streaming = new Set();
    this.revealed = new Set(); // ids kept visible inside collapsed runs
    this.branch = [];
    this.branchSet = new Set();
    this.view = { x: 0, y: 0, k: 1 };
    this.autoView = 'initial'; // 'initial' | 'fit' | null once the user moved the view
    this.box = { x0: 0, y0: 0, x1: 0, y1: 0 };
    this.items = [];
    this.itemsByKey = new Map();
    this.elements = new Map(); // item key -> {el, sig, x, y}
    this.drawnRect = null; // the content area drawn when culling
    this.keyOf = new WeakMap(); // node element -> item key
    this.edges = new Map(); // "from>to" -> {el, d, on}
    this.generation = 0;
    this.focusKey = '';
    this.legendSig = null;
    this.lastLayoutMs = 0;
    this.size = { w: 0, h: 0 };
    this._animation = 0;
    this._pointer = null;
    this._dragged = false;
    this._destroyed = false;
    this._build();
  }

  // ---------------------------------------------------------------------------- public API

  setData(nodes) {
    if (this._destroyed) return;
    const wasEmpty = this.nodes.size === 0;
    this.nodes.clear();
    this.kids.clear();
    this.streaming.clear();
    for (const n of nodes || []) this.nodes.set(n.id, { ...n }); // a repeated id: the last one wins
    const list = [...this.nodes.values()].sort((a, b) => a.id - b.id);
    for (const node of list) {
      if (node.status === 'streaming') this.streaming.add(node.id);
      if (node.parent != null) {
        const siblings = this.kids.get(node.parent);
        if (siblings) siblings.push(node.id);
        else this.kids.set(node.parent, [node.id]);
      }
    }
    if (wasEmpty) this._firstRender();
    else this._render(this._anchor());
  }

  /** Into an empty map: render, then choose the first view. */
  _firstRender() {
    this._render();
    // The first view is chosen once a setBranch() in the caller's same task has landed too.
    this.autoView = 'initial';
    queueMicrotask(() => {
      if (!this._destroyed && this.autoView === 'initial') this._applyAutoView();
    });
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
      if (old && old.parent != null) {
        const siblings = this.kids.get(old.parent);
        const at = siblings ? siblings.indexOf(node.id) : -1;
        if (at >= 0) siblings.splice(at, 1);
      }
      if (next.parent != null) this._insertChild(next.parent, next.id);
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
    if (item) this._patchNode(item);
  }

  select(turnId) {
    if (this._destroyed || !this.nodes.has(turnId)) return;
    if (!this.itemsByKey.has(String(turnId))) {
      this.revealed.add(turnId);
      this._render(this._anchor());
    }
    const item = this.itemsByKey.get(String(turnId));
    if (!item) return;
    this.focusKey = item.key;
    this._updateTabStops();
    this._centerOn(item, true);
  }

  fit() {
    if (this._destroyed) return;
    this.autoView = 'fit';
    this._animateTo(this._fitView());
  }

  destroy() {
    if (this._destroyed) return;
    this._destroyed = true;
    cancelAnimationFrame(this._animation);
    if (this._resizeObserver) this._resizeObserver.disconnect();
    this.root.remove();
    this.elements.clear();
    this.edges.clear();
    this.items = [];
    this.itemsByKey.clear();
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
    button('Zoom in', '+', () => this._zoomBy(1.35));
    button('Zoom out', '−', () => this._zoomBy(1 / 1.35));
    button('Fit the whole tree', '⤢', () => this.fit());
    const legend = html('div', 'tm-legend');
    legend.setAttribute('aria-hidden', 'true');
    root.append(svgEl, controls, legend);
    this.container.append(root);

    Object.assign(this, { root, svgEl, viewport, edgeLayer, nodeLayer, controls, legend });

    svgEl.addEventListener('pointerdown', (e) => this._onPointerDown(e));
    svgEl.addEventListener('pointermove', (e) => this._onPointerMove(e));
    svgEl.addEventListener('pointerup', (e) => this._onPointerUp(e));
    svgEl.addEventListener('pointercancel', (e) => this._onPointerUp(e));
    svgEl.addEventListener('click', (e) => this._onClick(e));
    svgEl.addEventListener('keydown', (e) => this._onKeyDown(e));
    svgEl.addEventListener('focusin', (e) => this._onFocusIn(e));
    svgEl.addEventListener('wheel', (e) => this._onWheel(e), { passive: false });

    this.size = { w: root.clientWidth, h: root.clientHeight };
    if (typeof ResizeObserver === 'function') {
      this._resizeObserver = new ResizeObserver(() => this._onResize());
      this._resizeObserver.observe(root);
    }
    this._setView(this.view);
  }

  // ---------------------------------------------------------------------------- layout + render

  _insertChild(parentId, id) {
    let siblings = this.kids.get(parentId);
    if (!siblings) this.kids.set(parentId, (siblings = []));
    if (siblings.includes(id)) return;
    let at = siblings.length;
    while (at > 0 && siblings[at - 1] > id) at--;
    siblings.splice(at, 0, id);
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
    const roots = [];
    for (const node of this.nodes.values()) {
      if (node.parent == null || !this.nodes.has(node.parent)) roots.push(node.id);
    }
    roots.sort((a, b) => a - b);
    const pinned = this._computePins();
    const { top, items } = buildVisible(this.kids, roots, (id) => pinned.has(id));
    const box = tidyLayout(top);
    this.lastLayoutMs = performance.now() - t0;
    return { top, items, box };
  }

  /** The visible item nearest the middle of the view, to keep in place across a relayout. */
  _anchor() {
    if (!this.items.length) return null;
    const { w, h } = this.size;
    const cx = (w / 2 - this.view.x) / this.view.k;
    const cy = (h / 2 - this.view.y) / this.view.k;
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
    this._updateLegend();

    if (anchor) {
      const now = this.itemsByKey.get(anchor.key);
      if (now && (now.x !== anchor.x || now.y !== anchor.y)) {
        const { k } = this.view;
        this._setView({ x: this.view.x + (anchor.x - now.x) * k, y: this.view.y + (anchor.y - now.y) * k, k }, false);
      }
    }
    this._sync();
  }

  /** The part of the content plane in view, in content coordinates, grown by a margin on each side. */
  _viewRect(margin) {
    const { x, y, k } = this.view;
    const w = this.size.w / k;
    const h = this.size.h / k;
    const x0 = -x / k;
    const y0 = -y / k;
    return { x0: x0 - w * margin, y0: y0 - h * margin, x1: x0 + w * (1 + margin), y1: y0 + h * (1 + margin) };
  }

  /**
   * Brings the DOM in line with the laid-out items, reusing elements by key. A large tree only gets
   * elements for what is in (or near) the view; panning and zooming then sync again when the view
   * leaves the area drawn.
   */
  _sync() {
    this._syncQueued = false;
    const culling = this.items.length > CULL_OVER && this.size.w > 0;
    const rect = culling ? this._viewRect(0.5) : null;
    this.drawnRect = rect;
    this.root.toggleAttribute('data-culled', culling);
    const inside = (item) => !rect || (item.x + item.w / 2 >= rect.x0 && item.x - item.w / 2 <= rect.x1
      && item.y + LEVEL / 2 >= rect.y0 && item.y - LEVEL / 2 <= rect.y1);
    const gen = ++this.generation;
    const keep = culling ? [this.itemsByKey.get(this.focusKey), this.itemsByKey.get(this.leafKey)] : [];
    for (const item of this.items) {
      if (inside(item) || keep.includes(item)) {
        const rec = this.elements.get(item.key);
        if (rec) {
          rec.gen = gen;
          this._patchNode(item, rec);
        } else {
          this._createNode(item, gen);
        }
      }
      const parent = item.parent;
      if (parent.kind === 'top') continue;
      if (rect && (Math.max(parent.x, item.x) < rect.x0 || Math.min(parent.x, item.x) > rect.x1
        || item.y < rect.y0 || parent.y > rect.y1)) continue;
      this._patchEdge(parent, item, gen);
    }
    for (const [key, rec] of this.elements) {
      if (rec.gen !== gen) {
        rec.el.remove();
        this.elements.delete(key);
      }
    }
    for (const [key, rec] of this.edges) {
      if (rec.gen !== gen) {
        rec.el.remove();
        this.edges.delete(key);
      }
    }
    this._updateTabStops();
  }

  /** After the view changed: sync again when part of the view is no longer drawn. */
  _syncIfNeeded() {
    if (!this.drawnRect || this._syncQueued) return;
    const r = this._viewRect(0);
    const d = this.drawnRect;
    if (r.x0 >= d.x0 && r.y0 >= d.y0 && r.x1 <= d.x1 && r.y1 <= d.y1) return;
    this._syncQueued = true;
    requestAnimationFrame(() => {
      if (!this._destroyed && this._syncQueued) this._sync();
    });
  }

  _signature(item) {
    if (item.kind === 'segment') {
      return `s|${item.hidden.length}|${item.hidden[item.hidden.length - 1]}|${item.onBranch}`;
    }
    const n = this.nodes.get(item.id);
    return `t|${n.role}|${n.status}|${n.model}|${n.preview}|${item.onBranch}|${item.key === this.leafKey}`;
  }

  _createNode(item, gen) {
    const el = svg('g', { tabindex: '-1', role: 'button' });
    const rec = { el, sig: '', x: NaN, y: NaN, gen, shapeRole: '' };
    this.elements.set(item.key, rec);
    this.keyOf.set(el, item.key);
    this.nodeLayer.append(el);
    this._patchNode(item, rec);
  }

  _patchNode(item, rec = this.elements.get(item.key)) {
    if (!rec) return;
    if (rec.x !== item.x || rec.y !== item.y) {
      rec.el.setAttribute('transform', `translate(${round(item.x)},${round(item.y)})`);
      rec.x = item.x;
      rec.y = item.y;
    }
    const sig = this._signature(item);
    if (sig === rec.sig) return;
    rec.sig = sig;
    if (item.kind === 'segment') this._drawSegment(item, rec);
    else this._drawTurn(item, rec);
  }

  _drawTurn(item, rec) {
    const n = this.nodes.get(item.id);
    const el = rec.el;
    const role = ROLES[n.role] ? n.role : 'assistant';
    const status = n.status || 'complete';
    const isLeaf = item.key === this.leafKey;
    el.setAttribute('class', `tm-node tm-turn tm-role-${role} tm-status-${status}`
      + (role === 'assistant' && !n.model ? ' tm-no-model' : '')
      + (item.onBranch ? ' is-on-branch' : '') + (isLeaf ? ' is-leaf' : ''));
    el.setAttribute('data-turn-id', item.key);
    el.setAttribute('data-role', role);
    el.setAttribute('data-status', status);
    el.setAttribute('data-model', n.model || '');
    toggleAttr(el, 'data-on-branch', item.onBranch);
    toggleAttr(el, 'data-branch-leaf', isLeaf);
    if (isLeaf) el.setAttribute('aria-current', 'true');
    else el.removeAttribute('aria-current');
    if (role === 'assistant' && n.model) el.style.setProperty('--tm-hue', modelHue(n.model));
    else el.style.removeProperty('--tm-hue');

    const shapeKey = `${role}|${status === 'streaming'}`;
    if (rec.shapeRole !== shapeKey) {
      rec.shapeRole = shapeKey;
      el.replaceChildren();
      el.append(svg('circle', { class: 'tm-halo', r: 11.5 }));
      if (status === 'streaming') el.append(svg('circle', { class: 'tm-pulse', r: 7 }));
      let shape;
      if (role === 'user') shape = svg('rect', { class: 'tm-shape', x: -6, y: -6, width: 12, height: 12, rx: 3 });
      else if (role === 'system') shape = svg('path', { class: 'tm-shape', d: 'M0,-7.5L7.5,0L0,7.5L-7.5,0Z' });
      else shape = svg('circle', { class: 'tm-shape', r: 6.5 });
      rec.title = svg('title');
      el.append(shape, rec.title);
    }
    const head = [ROLES[role], n.model, status].filter(Boolean).join(' · ');
    rec.title.textContent = n.preview ? `${head}\n${n.preview}` : head;
  }

  _drawSegment(item, rec) {
    const el = rec.el;
    const count = item.hidden.length;
    const first = item.hidden[0];
    const last = item.hidden[count - 1];
    el.setAttribute('class', 'tm-node tm-segment' + (item.onBranch ? ' is-on-branch' : ''));
    el.setAttribute('data-segment', `${first}-${last}`);
    el.setAttribute('data-hidden-count', String(count));
    toggleAttr(el, 'data-on-branch', item.onBranch);
    el.setAttribute('aria-expanded', 'false');
    el.replaceChildren(
      svg('rect', { class: 'tm-pill', x: -item.w / 2, y: -SEGMENT_H / 2, width: item.w, height: SEGMENT_H, rx: SEGMENT_H / 2 }),
      svg('text', { class: 'tm-pill-label', 'text-anchor': 'middle', dy: '0.35em' }),
      svg('title'),
    );
    el.children[1].textContent = segmentLabel(count);
    el.children[2].textContent = `${count} turns collapsed (#${first} … #${last}). Click to expand.`;
  }

  _patchEdge(from, to, gen) {
    const key = `${from.key}>${to.key}`;
    let rec = this.edges.get(key);
    if (!rec) {
      rec = { el: svg('path', { class: 'tm-edge', 'data-from': from.key, 'data-to': to.key }), d: '', on: null };
      this.edges.set(key, rec);
      this.edgeLayer.append(rec.el);
    }
    rec.gen = gen;
    // From the bottom of the parent to the top of the child, so no line shows through a node.
    const x1 = round(from.x);
    const y1 = round(from.y + (from.kind === 'segment' ? SEGMENT_H / 2 : 7));
    const x2 = round(to.x);
    const y2 = round(to.y - (to.kind === 'segment' ? SEGMENT_H / 2 : 7));
    const my = round((y1 + y2) / 2);
    const d = x1 === x2 ? `M${x1},${y1}V${y2}` : `M${x1},${y1}C${x1},${my} ${x2},${my} ${x2},${y2}`;
    if (d !== rec.d) {
      rec.el.setAttribute('d', d);
      rec.d = d;
    }
    const on = from.onBranch && to.onBranch;
    if (on !== rec.on) {
      rec.el.setAttribute('class', on ? 'tm-edge is-on-branch' : 'tm-edge');
      toggleAttr(rec.el, 'data-on-branch', on);
      rec.on = on;
    }
  }

  /** One node is reachable with Tab (roving tabindex); arrows move between nodes. */
  _updateTabStops() {
    const key = this.focusKey || this.leafKey || (this.items[0] && this.items[0].key) || '';
    if (this._tabStop === key && this.elements.get(key)?.el.getAttribute('tabindex') === '0') return;
    const old = this.elements.get(this._tabStop);
    if (old) old.el.setAttribute('tabindex', '-1');
    const rec = this.elements.get(key);
    if (rec) rec.el.setAttribute('tabindex', '0');
    this._tabStop = key;
  }

  _updateLegend() {
    const counts = new Map();
    for (const n of this.nodes.values()) {
      if (n.role === 'assistant' && n.model) counts.set(n.model, (counts.get(n.model) || 0) + 1);
    }
    const models = [...counts.keys()].sort((a, b) => counts.get(b) - counts.get(a) || (a < b ? -1 : 1));
    const sig = models.join('\n');
    if (sig === this.legendSig) return;
    this.legendSig = sig;
    this.legend.replaceChildren();
    const shown = models.slice(0, 6);
    for (const model of shown) {
      const entry = html('span', 'tm-legend-item');
      const swatch = html('span', 'tm-swatch');
      swatch.style.setProperty('--tm-hue', modelHue(model));
      entry.append(swatch, document.createTextNode(model.slice(model.indexOf(':') + 1) || model));
      entry.title = model;
      this.legend.append(entry);
    }
    if (models.length > shown.length) this.legend.append(html('span', 'tm-legend-item', `+${models.length - shown.length}`));
    this.legend.hidden = models.length === 0;
  }

  // ---------------------------------------------------------------------------- view

  _setView(view, sync = true) {
    this.view = { x: view.x, y: view.y, k: view.k };
    this.viewport.setAttribute('transform', `translate(${round(view.x)},${round(view.y)}) scale(${Math.round(view.k * 10000) / 10000})`);
    if (sync) this._syncIfNeeded();
  }

  _area() {
    const { w, h } = this.size;
    const bottom = this.legend.hidden ? 0 : this.legend.offsetHeight + 6;
    return { w: Math.max(1, w - 2 * PAD), h: Math.max(1, h - 2 * PAD - bottom) };
  }

  _fitScale() {
    const area = this._area();
    const bw = Math.max(1, this.box.x1 - this.box.x0);
    const bh = Math.max(1, this.box.y1 - this.box.y0);
    return Math.min(area.w / bw, area.h / bh, FIT_MAX);
  }

  _minScale() {
    return clamp(this._fitScale() * 0.8, 0.01, 0.25);
  }

  /** The whole tree, centered across and from the top. */
  _fitView() {
    const k = Math.max(0.01, this._fitScale());
    const area = this._area();
    const bw = (this.box.x1 - this.box.x0) * k;
    const bh = (this.box.y1 - this.box.y0) * k;
    return {
      k,
      x: PAD + (area.w - bw) / 2 - this.box.x0 * k,
      y: PAD + Math.max(0, (area.h - bh) / 2) * 0.25 - this.box.y0 * k,
    };
  }

  /** The first view: everything when it stays readable, otherwise the end of the branch. */
  _initialView() {
    const fit = this._fitView();
    if (fit.k >= READABLE || !this.items.length) return fit;
    const k = READABLE;
    let leaf = this.itemsByKey.get(this.leafKey);
    if (!leaf) {
      // No branch yet: the most recent turn.
      leaf = this.items[0];
      for (const item of this.items) if (item.kind === 'turn' && item.id > leaf.id) leaf = item;
    }
    const area = this._area();
    const bh = (this.box.y1 - this.box.y0) * k;
    const y = bh <= area.h ? PAD - this.box.y0 * k : PAD + area.h - 40 - leaf.y * k;
    return { k, x: this.size.w / 2 - leaf.x * k, y };
  }

  _applyAutoView() {
    this.size = { w: this.root.clientWidth, h: this.root.clientHeight };
    if (!this.size.w || !this.size.h) return; // laid out when the container gets a size
    cancelAnimationFrame(this._animation);
    this._setView(this.autoView === 'fit' ? this._fitView() : this._initialView(), false);
    if (this.drawnRect !== null) this._sync();
  }

  _onResize() {
    const w = this.root.clientWidth;
    const h = this.root.clientHeight;
    if (w === this.size.w && h === this.size.h) return;
    const old = this.size;
    this.size = { w, h };
    if (!w || !h) return;
    if (this.autoView) {
      this._applyAutoView();
    } else if (old.w && old.h) {
      // Keep what was in the middle in the middle.
      this._setView({ x: this.view.x + (w - old.w) / 2, y: this.view.y + (h - old.h) / 2, k: this.view.k });
    }
  }

  _zoomBy(factor, cx = this.size.w / 2, cy = this.size.h / 2, animate = true) {
    const { x, y, k } = this.view;
    const k2 = clamp(k * factor, this._minScale(), ZOOM_MAX);
    const view = { k: k2, x: cx - ((cx - x) * k2) / k, y: cy - ((cy - y) * k2) / k };
    this.autoView = null;
    if (animate) this._animateTo(view, 160);
    else {
      cancelAnimationFrame(this._animation);
      this._setView(view);
    }
  }

  _centerOn(item, animate) {
    const k = Math.max(this.view.k, READABLE);
    this.autoView = null;
    const view = { k, x: this.size.w / 2 - item.x * k, y: this.size.h / 2 - item.y * k };
    if (animate) this._animateTo(view);
    else this._setView(view);
  }

  _ensureVisible(item) {
    const { x, y, k } = this.view;
    const sx = item.x * k + x;
    const sy = item.y * k + y;
    const m = 12;
    if (sx < m || sy < m || sx > this.size.w - m || sy > this.size.h - m) this._centerOn(item, true);
  }

  _animateTo(target, ms = 220) {
    cancelAnimationFrame(this._animation);
    const reduce = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    if (reduce || !this.size.w) {
      this._setView(target);
      return;
    }
    const from = { ...this.view };
    const start = performance.now();
    const step = (now) => {
      if (this._destroyed) return;
      const t = Math.min(1, (now - start) / ms);
      const e = 1 - (1 - t) ** 3;
      this._setView({
        x: from.x + (target.x - from.x) * e,
        y: from.y + (target.y - from.y) * e,
        k: from.k + (target.k - from.k) * e,
      });
      if (t < 1) this._animation = requestAnimationFrame(step);
    };
    this._animation = requestAnimationFrame(step);
  }

  // ---------------------------------------------------------------------------- input

  _itemFromEvent(e) {
    const el = e.target.closest && e.target.closest('.tm-node');
    if (!el || !this.nodeLayer.contains(el)) return null;
    return this.itemsByKey.get(this.keyOf.get(el)) || null;
  }

  _onPointerDown(e) {
    if (e.button !== 0) return;
    this._pointer = { id: e.pointerId, x: e.clientX, y: e.clientY, view: { ...this.view } };
    this._dragged = false;
  }

  _onPointerMove(e) {
    const p = this._pointer;
    if (!p || p.id !== e.pointerId) return;
    const dx = e.clientX - p.x;
    const dy = e.clientY - p.y;
    if (!this._dragged) {
      if (Math.hypot(dx, dy) < DRAG_THRESHOLD) return;
      this._dragged = true;
      this.autoView = null;
      cancelAnimationFrame(this._animation);
      this.root.classList.add('is-dragging');
      try {
        this.svgEl.setPointerCapture(e.pointerId);
      } catch {
        // The pointer may already be gone.
      }
    }
    this._setView({ x: p.view.x + dx, y: p.view.y + dy, k: p.view.k });
  }

  _onPointerUp(e) {
    if (!this._pointer || this._pointer.id !== e.pointerId) return;
    this._pointer = null;
    this.root.classList.remove('is-dragging');
  }

  _onClick(e) {
    if (this._dragged) {
      this._dragged = false;
      return;
    }
    const item = this._itemFromEvent(e);
    if (item) this._activate(item);
  }

  _activate(item) {
    this.focusKey = item.kind === 'turn' ? item.key : this.focusKey;
    if (item.kind === 'segment') {
      this._expand(item);
      return;
    }
    this._updateTabStops();
    this.onSelect(item.id);
  }

  /** Reveals a segment's turns: all of a short one, the top EXPAND_STEP of a long one. */
  _expand(item) {
    const hidden = item.hidden;
    const reveal = hidden.length <= EXPAND_ALL ? hidden : hidden.slice(0, EXPAND_STEP);
    for (const id of reveal) this.revealed.add(id);
    const hadFocus = this.elements.get(item.key)?.el === document.activeElement;
    const above = item.parent;
    const anchor = above && above.kind !== 'top' ? { key: above.key, x: above.x, y: above.y } : this._anchor();
    this._render(anchor);
    const first = this.elements.get(String(reveal[0]));
    if (hadFocus && first) {
      this.focusKey = String(reveal[0]);
      this._updateTabStops();
      first.el.focus({ preventScroll: true });
    }
  }

  _onFocusIn(e) {
    const item = this._itemFromEvent(e);
    if (!item) return;
    this.focusKey = item.key;
    this._updateTabStops();
    // Keyboard focus brings the node into view; a click must not move the map under the pointer.
    if (e.target.matches(':focus-visible')) this._ensureVisible(item);
  }

  _onKeyDown(e) {
    const item = this._itemFromEvent(e);
    if (!item) {
      if (e.key === '+' || e.key === '=') this._zoomBy(1.35);
      else if (e.key === '-') this._zoomBy(1 / 1.35);
      else if (e.key === '0') this.fit();
      else return;
      e.preventDefault();
      return;
    }
    let next = null;
    switch (e.key) {
      case 'Enter':
      case ' ':
        e.preventDefault();
        this._activate(item);
        return;
      case 'ArrowUp':
        next = item.parent.kind === 'top' ? null : item.parent;
        break;
      case 'ArrowDown':
        next = item.children.find((c) => c.onBranch) || item.children[0] || null;
        break;
      case 'ArrowLeft':
      case 'ArrowRight': {
        const dir = e.key === 'ArrowLeft' ? -1 : 1;
        let best = Infinity;
        for (const other of this.items) {
          const d = (other.x - item.x) * dir;
          if (other.depth === item.depth && d > 0 && d < best) {
            best = d;
            next = other;
          }
        }
        break;
      }
      case 'Home':
        next = this.items[0] || null;
        break;
      case 'End':
        next = this.itemsByKey.get(this.leafKey) || null;
        break;
      case '+':
      case '=':
        this._zoomBy(1.35);
        break;
      case '-':
        this._zoomBy(1 / 1.35);
        break;
      case '0':
        this.fit();
        break;
      default:
        return;
    }
    e.preventDefault();
    if (next) {
      this.focusKey = next.key;
      this._updateTabStops();
      const rec = this.elements.get(next.key);
      if (rec) rec.el.focus({ preventScroll: true });
    }
  }

  _onWheel(e) {
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? this.size.h : 1;
    const dy = clamp(e.deltaY * unit, -300, 300);
    const rect = this.svgEl.getBoundingClientRect();
    const speed = e.ctrlKey ? 0.01 : 0.0022;
    this._zoomBy(Math.exp(-dy * speed), e.clientX - rect.left, e.clientY - rect.top, false);
  }
}

function toggleAttr(el, name, on) {
  if (on) el.setAttribute(name, 'true');
  else el.removeAttribute(name);
}
