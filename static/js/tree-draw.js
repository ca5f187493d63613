// How the tree map draws its items: turns, collapsed runs, edges and the legend of models.
// treemap.js decides what is drawn and where; these functions make and patch the SVG elements.
import { SEGMENT_H, segmentLabel } from './tree-layout.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
export const ROLES = { user: 'User', assistant: 'Assistant', system: 'System' };
const LEGEND_MODELS = 7;

export function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  if (attrs) for (const k in attrs) el.setAttribute(k, attrs[k]);
  return el;
}

export function html(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text) el.textContent = text;
  return el;
}

export function toggleAttr(el, name, on) {
  if (on) el.setAttribute(name, 'true');
  else el.removeAttribute(name);
}

export const round = (v) => Math.round(v * 100) / 100;

// Replies take their model's colour from one palette (Okabe and Ito's, told apart with the common
// kinds of colour blindness; its light and dark values are treemap.css's --tm-model-0 … -6).
export const PALETTE_SIZE = 7;

/**
 * Each reply model's colour slot, 0 to PALETTE_SIZE - 1: in the order of each model's first reply,
 * so a growing tree keeps its colours; past the palette the slots repeat.
 */
export function modelSlots(nodes) {
  const first = new Map();
  for (const n of nodes) {
    if (n.role !== 'assistant' || !n.model) continue;
    const seen = first.get(n.model);
    if (seen === undefined || n.id < seen) first.set(n.model, n.id);
  }
  const models = [...first.keys()].sort((a, b) => first.get(a) - first.get(b) || (a < b ? -1 : 1));
  return new Map(models.map((model, i) => [model, i % PALETTE_SIZE]));
}

/** A model's name without its provider: "openai:gpt-4o" → "gpt-4o". */
export function modelName(model) {
  return model.slice(model.indexOf(':') + 1) || model;
}

const CHAR_PX = 6.4; // an average character of the map's 11 px text

/**
 * A turn's short text on the map: the model of a reply, the first words of a prompt; cut to
 * what fits in `room` screen pixels ('' when not even a few characters do).
 */
export function turnLabel(n, room) {
  const role = ROLES[n.role] ? n.role : 'assistant';
  let text = role === 'assistant' ? (n.model ? modelName(n.model) : 'reply') : (n.preview || ROLES[role]);
  if (n.status === 'error') text = `${text} · error`;
  text = String(text).replace(/\s+/g, ' ').trim();
  const fits = Math.floor(room / CHAR_PX);
  if (fits < 4) return '';
  if (text.length <= fits) return text;
  const cut = text.slice(0, fits - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > fits / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** What a prompt's files add to its node's name: "2 files attached" ('' for none). */
export function filesLabel(count) {
  const n = Number(count) || 0;
  if (n <= 0) return '';
  return n === 1 ? '1 file attached' : `${n} files attached`;
}

// Lucide's paperclip (ISC licence, static/vendor/lucide/paperclip.svg), drawn in its 24-unit box.
const CLIP_PATH = 'm16 6-8.414 8.586a2 2 0 0 0 2.829 2.829l8.414-8.586a4 4 0 1 0-5.657-5.657'
  + 'l-8.379 8.551a6 6 0 1 0 8.485 8.485l8.379-8.551';

/** The paperclip a node with attached files wears at its top right, over a disc of the panel's colour. */
function paperclip() {
  const g = svg('g', { class: 'tm-clip', transform: 'translate(8.5,-8.5)', 'aria-hidden': 'true' });
  g.append(
    svg('circle', { class: 'tm-clip-disc', r: 5.5 }),
    svg('path', { class: 'tm-clip-glyph', d: CLIP_PATH, transform: 'scale(0.36) translate(-12,-12)' }),
  );
  return g;
}

/**
 * An edge's path from the bottom of the parent to the top of the child, so no line shows through
 * a node: straight down when they are in line, an S-curve otherwise.
 */
export function edgePath(from, to) {
  const x1 = round(from.x);
  const y1 = round(from.y + (from.kind === 'segment' ? SEGMENT_H / 2 : 7));
  const x2 = round(to.x);
  const y2 = round(to.y - (to.kind === 'segment' ? SEGMENT_H / 2 : 7));
  const my = round((y1 + y2) / 2);
  return x1 === x2 ? `M${x1},${y1}V${y2}` : `M${x1},${y1}C${x1},${my} ${x2},${my} ${x2},${y2}`;
}

/** Patches a turn's element `rec.el` to show node `n`; rebuilds its shapes only when they change. */
export function drawTurn(rec, item, n, isLeaf, slot, labelRoomPx) {
  const el = rec.el;
  const role = ROLES[n.role] ? n.role : 'assistant';
  const status = n.status || 'complete';
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
  if (role === 'assistant' && n.model && slot != null) el.style.setProperty('--tm-c', `var(--tm-model-${slot})`);
  else el.style.removeProperty('--tm-c');

  const files = Number(n.files) || 0;
  if (files > 0) el.setAttribute('data-files', String(files));
  else el.removeAttribute('data-files');
  const shapeKey = `${role}|${status === 'streaming'}|${files > 0}`;
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
    // The short text keeps its size on screen (treemap.css scales it by 1 / zoom).
    const at = svg('g', { class: 'tm-label-at', transform: `translate(${item.w / 2 + 1},0)` });
    rec.label = svg('text', { class: 'tm-fixed tm-node-label', x: 4, dy: '0.35em' });
    at.append(rec.label);
    el.append(shape, at, rec.title);
    if (files > 0) el.insertBefore(paperclip(), at);
  }
  const head = [ROLES[role], n.model, status].filter(Boolean).join(' · ');
  rec.title.textContent = [head, filesLabel(files), n.preview].filter(Boolean).join('\n');
  rec.label.textContent = turnLabel(n, labelRoomPx);
}

/** Patches a segment's element: a pill saying how many turns it folds. */
export function drawSegment(rec, item) {
  const el = rec.el;
  const count = item.hidden.length;
  const first = item.hidden[0];
  const last = item.hidden[count - 1];
  rec.shapeRole = '';
  el.setAttribute('class', 'tm-node tm-segment' + (item.onBranch ? ' is-on-branch' : ''));
  el.setAttribute('data-segment', `${first}-${last}`);
  el.setAttribute('data-hidden-count', String(count));
  toggleAttr(el, 'data-on-branch', item.onBranch);
  el.setAttribute('aria-expanded', 'false');
  // The count shows inside the pill when zoomed in, beside it (at a fixed size on screen) when
  // zoomed out; treemap.css shows one of them.
  const label = svg('text', { class: 'tm-pill-label', 'text-anchor': 'middle', dy: '0.35em' });
  label.textContent = segmentLabel(count);
  const beside = svg('g', { class: 'tm-label-at', transform: `translate(${-item.w / 2},0)` });
  const side = svg('text', { class: 'tm-fixed tm-pill-side', x: -5, 'text-anchor': 'end', dy: '0.35em' });
  side.textContent = segmentLabel(count);
  beside.append(side);
  const title = svg('title');
  title.textContent = `${count} turns in a row with no other branch. Click to show them.`;
  el.replaceChildren(
    svg('rect', { class: 'tm-pill', x: -item.w / 2, y: -SEGMENT_H / 2, width: item.w, height: SEGMENT_H, rx: SEGMENT_H / 2 }),
    label,
    beside,
    title,
  );
}

/** The legend: each reply model with its colour, in the order of their slots. */
export function drawLegend(legend, slots, labels = new Map()) {
  legend.replaceChildren();
  const models = [...slots.keys()];
  const shown = models.slice(0, LEGEND_MODELS);
  for (const model of shown) {
    const entry = html('span', 'tm-legend-item');
    entry.setAttribute('data-model', model);
    const swatch = html('span', 'tm-swatch');
    swatch.style.setProperty('--tm-c', `var(--tm-model-${slots.get(model)})`);
    entry.append(swatch, document.createTextNode(labels.get(model) || modelName(model)));
    entry.title = model;
    legend.append(entry);
  }
  if (models.length > shown.length) legend.append(html('span', 'tm-legend-item', `+${models.length - shown.length}`));
  legend.hidden = models.length === 0;
}

/**
 * The SVG elements of a map's items and edges, kept by item key and reused across renders: a
 * render patches what changed and removes what is gone.
 */
export class Drawing {
  constructor(nodeLayer, edgeLayer) {
    Object.assign(this, { nodeLayer, edgeLayer });
    this.elements = new Map(); // item key -> {el, sig, x, y, gen, shapeRole, title}
    this.edges = new Map(); // "from>to" -> {el, d, on, gen}
    this.keyOf = new WeakMap(); // node element -> item key
    this.generation = 0;
    this.tabStop = '';
  }

  /**
   * Draws `items` (those `inside` the drawn area, and those in `keep`) and their edges to their
   * parents (those `edgeInside`); `look(item)` is what the item shows: {sig, draw(rec)}.
   */
  sync(items, { inside, edgeInside, keep, look }) {
    const gen = ++this.generation;
    for (const item of items) {
      if (inside(item) || keep.includes(item)) {
        let rec = this.elements.get(item.key);
        if (!rec) {
          const el = svg('g', { tabindex: '-1', role: 'button' });
          rec = { el, sig: '', x: NaN, y: NaN, gen, shapeRole: '' };
          this.elements.set(item.key, rec);
          this.keyOf.set(el, item.key);
          this.nodeLayer.append(el);
        }
        rec.gen = gen;
        this.patch(item, look(item), rec);
      }
      const parent = item.parent;
      if (parent.kind !== 'top' && edgeInside(parent, item)) this._patchEdge(parent, item, gen);
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
  }

  /** Moves an item's element and redraws it when what it shows changed. */
  patch(item, look, rec = this.elements.get(item.key)) {
    if (!rec) return;
    if (rec.x !== item.x || rec.y !== item.y) {
      rec.el.setAttribute('transform', `translate(${round(item.x)},${round(item.y)})`);
      rec.x = item.x;
      rec.y = item.y;
    }
    if (look.sig === rec.sig) return;
    rec.sig = look.sig;
    look.draw(rec);
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
    const d = edgePath(from, to);
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

  /** One node is reachable with Tab (roving tabindex): the one of `key`. */
  setTabStop(key) {
    if (this.tabStop === key && this.elements.get(key)?.el.getAttribute('tabindex') === '0') return;
    const old = this.elements.get(this.tabStop);
    if (old) old.el.setAttribute('tabindex', '-1');
    const rec = this.elements.get(key);
    if (rec) rec.el.setAttribute('tabindex', '0');
    this.tabStop = key;
  }

  element(key) {
    return this.elements.get(key)?.el || null;
  }

  clear() {
    this.elements.clear();
    this.edges.clear();
  }
}
