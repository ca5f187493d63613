// The tree map's layout: which turns are visible (long linear runs fold into segments) and where
// each visible item sits. Pure functions, no DOM: treemap.js draws what they return, and
// `node --test` (tests/js/tree-layout.test.mjs) checks it.
//
// Rows are depths, LEVEL apart. Across, a tidy tree (Buchheim, Jünger and Leipert's linear-time
// version of Walker's algorithm, iterative so deep trees cannot overflow the stack) packs subtrees
// as close as their contours allow, with widths that vary (segments are wider than turns).
//
// Unlike the textbook tidy tree, a parent does not sit at the midpoint of its children but right
// above its *main* child: the one with the longest branch below it (the first by id on a tie, the
// child that continues its parent's chain). So the conversation's main line is one vertical line
// however many side branches leave it, instead of stepping sideways at each one, and the other
// children keep their order by id, to the left and right of it.

export const LEVEL = 38; // vertical distance between rows
export const NODE_W = 16; // horizontal footprint of a turn
export const SEGMENT_H = 16;
const SIBLING_GAP = 10; // between siblings
const COUSIN_GAP = 18; // between neighbours with different parents
const EMPTY = Object.freeze([]);

export function segmentLabel(count) {
  return `⋯ ${count} turns`;
}

// Wide enough for its label at 11 px (the label's size from zoom 1 up).
export function segmentWidth(count) {
  return Math.round(22 + segmentLabel(count).length * 6.4);
}

export const LABEL_ROOM_MAX = 320; // a turn's short text never needs more than this

/**
 * The room right of each item for its short text, in content units: up to the next item of its
 * row (less a gap), LABEL_ROOM_MAX when nothing follows. Sets `item.room`.
 */
export function labelRoom(items) {
  const rows = new Map();
  for (const item of items) {
    const row = rows.get(item.depth);
    if (row) row.push(item);
    else rows.set(item.depth, [item]);
  }
  for (const row of rows.values()) {
    row.sort((a, b) => a.x - b.x);
    for (let i = 0; i < row.length; i++) {
      const item = row[i];
      const next = row[i + 1];
      item.room = next
        ? Math.max(0, Math.min(LABEL_ROOM_MAX, next.x - next.w / 2 - (item.x + item.w / 2) - 6))
        : LABEL_ROOM_MAX;
    }
  }
}

/**
 * Who is whose child, from nodes {id, parent}: `kids` maps a parent id to its child ids in
 * ascending order, `roots` lists the ids without a parent among the nodes (an unknown parent makes a
 * root), ascending. A repeated id: the last one wins.
 */
export function indexTree(nodes) {
  const byId = new Map();
  for (const node of nodes || EMPTY) byId.set(node.id, node);
  const ids = [...byId.keys()].sort((a, b) => a - b);
  const kids = new Map();
  const roots = [];
  for (const id of ids) {
    const parent = byId.get(id).parent;
    if (parent == null || !byId.has(parent)) roots.push(id);
    if (parent != null) {
      const siblings = kids.get(parent);
      if (siblings) siblings.push(id);
      else kids.set(parent, [id]);
    }
  }
  return { byId, kids, roots };
}

/** Adds `id` to its parent's children, keeping them in ascending order. */
export function insertChild(kids, parentId, id) {
  let siblings = kids.get(parentId);
  if (!siblings) kids.set(parentId, (siblings = []));
  if (siblings.includes(id)) return;
  let at = siblings.length;
  while (at > 0 && siblings[at - 1] > id) at--;
  siblings.splice(at, 0, id);
}

/** Takes `id` out of its parent's children. */
export function removeChild(kids, parentId, id) {
  const siblings = kids.get(parentId);
  const at = siblings ? siblings.indexOf(id) : -1;
  if (at >= 0) siblings.splice(at, 1);
}

function makeItem(kind, parent) {
  const item = {
    kind, key: '', id: 0, hidden: null, parent, children: [], depth: parent.depth + 1,
    w: NODE_W, x: 0, y: 0, onBranch: false, room: 0,
    // tidy-tree working fields
    i: 0, A: null, a: null, z: 0, m: 0, c: 0, s: 0, t: null, main: 0, reach: 0,
  };
  item.a = item;
  item.i = parent.children.length;
  parent.children.push(item);
  return item;
}

/**
 * The visible tree: turns, with long single-child runs replaced by segments. A run of consecutive
 * nodes that each have exactly one child keeps its first and last node and puts one segment for
 * the nodes between them when at least two would be hidden; a pinned node inside a run stays
 * visible and splits it. Returns the virtual top item (depth -1) whose children are the visible
 * roots, and every visible item in pre-order.
 */
export function buildVisible(kids, rootIds, isPinned) {
  const top = { kind: 'top', key: '', parent: null, children: [], depth: -1, w: 0, x: 0, y: 0,
    i: 0, A: null, a: null, z: 0, m: 0, c: 0, s: 0, t: null, main: 0, reach: 0 };
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

// ------------------------------------------------------------------------------ the tidy tree

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

/** The longest branch below each item, in turns (a segment counts the turns it hides). */
function measureReach(v) {
  const own = v.kind === 'segment' ? v.hidden.length : v.kind === 'turn' ? 1 : 0;
  let best = 0;
  let main = 0;
  const children = v.children;
  for (let i = 0; i < children.length; i++) {
    if (children[i].reach > best) {
      best = children[i].reach;
      main = i;
    }
  }
  v.reach = own + best;
  v.main = main;
}

function firstWalk(v) {
  const children = v.children;
  const siblings = v.parent.children;
  const w = v.i ? siblings[v.i - 1] : null;
  if (children.length) {
    executeShifts(v);
    // Where the parent goes over its children: above its main child (see the top of this file).
    // The virtual top item has no line of its own: it centres, which does not show.
    const over = v.kind === 'top'
      ? (children[0].z + children[children.length - 1].z) / 2
      : children[v.main].z;
    if (w) {
      v.z = w.z + separation(v, w);
      v.m = v.z - over;
    } else {
      v.z = over;
    }
  } else if (w) {
    v.z = w.z + separation(v, w);
  }
  v.parent.A = apportion(v, w, v.parent.A || siblings[0]);
}

/** Positions every item (x, y) with the top item at x = 0; returns the bounding box. */
export function tidyLayout(top) {
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
  for (let j = order.length - 1; j >= 0; j--) {
    measureReach(order[j]);
    firstWalk(order[j]);
  }
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

/** The visible tree of `kids`/`roots`, laid out: {top, items (pre-order), box}. */
export function layoutTree(kids, roots, isPinned = () => false) {
  const { top, items } = buildVisible(kids, roots, isPinned);
  const box = tidyLayout(top);
  return { top, items, box };
}
