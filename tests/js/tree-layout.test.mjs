// The tree map's layout (static/js/tree-layout.js): what is visible, and where it sits.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  LABEL_ROOM_MAX, LEVEL, NODE_W, buildVisible, indexTree, insertChild, labelRoom, layoutTree, removeChild,
  segmentWidth,
} from '../../static/js/tree-layout.js';

const SIBLING_GAP = 10; // the smallest gap the layout leaves between two items of a row

function lay(parents, pinned = []) {
  const nodes = [...parents].map(([id, parent]) => ({ id, parent }));
  const { kids, roots } = indexTree(nodes);
  const pins = new Set(pinned);
  return layoutTree(kids, roots, (id) => pins.has(id));
}

function chain(n, from = 1) {
  const parents = new Map();
  for (let id = from; id < from + n; id++) parents.set(id, id === from ? null : id - 1);
  return parents;
}

function randomTree(n, seed, branchiness = 0.15) {
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const parents = new Map();
  for (let id = 1; id <= n; id++) {
    const parent = id === 1 ? null : random() < branchiness ? 1 + Math.floor(random() * (id - 1)) : id - 1;
    parents.set(id, parent);
  }
  return parents;
}

// bench/tree.py's big conversation: one long branch with a side turn every `every` turns.
function trunkWithSides(trunk, every) {
  const parents = chain(trunk);
  let id = trunk;
  for (let at = every; at <= trunk; at += every) parents.set(++id, at);
  return parents;
}

/** No two items of a row closer than their half widths and the smallest gap. */
function assertNoOverlap(items) {
  const rows = new Map();
  for (const item of items) {
    if (!rows.has(item.depth)) rows.set(item.depth, []);
    rows.get(item.depth).push(item);
  }
  for (const [depth, row] of rows) {
    row.sort((a, b) => a.x - b.x);
    for (let i = 1; i < row.length; i++) {
      const a = row[i - 1];
      const b = row[i];
      const room = b.x - a.x - (a.w + b.w) / 2;
      assert.ok(room >= SIBLING_GAP - 1e-6, `row ${depth}: ${a.key} at ${a.x} and ${b.key} at ${b.x} overlap`);
    }
  }
}

/** Every item inside the box, and every row at its depth. */
function assertBoxAndRows(items, box) {
  for (const item of items) {
    assert.equal(item.y, item.depth * LEVEL);
    assert.ok(item.x - item.w / 2 >= box.x0 - 1e-6 && item.x + item.w / 2 <= box.x1 + 1e-6, item.key);
    assert.ok(item.y >= box.y0 && item.y <= box.y1, item.key);
  }
}

describe('indexTree', () => {
  test('children in ascending id order, roots too, whatever order the nodes come in', () => {
    const { kids, roots } = indexTree([{ id: 5, parent: 1 }, { id: 3, parent: 1 }, { id: 9, parent: null }, { id: 1, parent: null }]);
    assert.deepEqual(roots, [1, 9]);
    assert.deepEqual(kids.get(1), [3, 5]);
  });

  test('a parent that is not among the nodes makes a root; a repeated id: the last wins', () => {
    const { byId, roots, kids } = indexTree([{ id: 2, parent: 1 }, { id: 3, parent: 2 }, { id: 3, parent: 2, role: 'user' }]);
    assert.deepEqual(roots, [2]);
    assert.deepEqual(kids.get(2), [3]);
    assert.equal(byId.get(3).role, 'user');
  });

  test('no nodes: no roots', () => {
    assert.deepEqual(indexTree([]).roots, []);
    assert.deepEqual(indexTree(undefined).roots, []);
  });

  test('insertChild keeps order and ignores a repeat; removeChild takes one out', () => {
    const kids = new Map();
    for (const id of [4, 2, 9, 2, 7]) insertChild(kids, 1, id);
    assert.deepEqual(kids.get(1), [2, 4, 7, 9]);
    removeChild(kids, 1, 4);
    removeChild(kids, 1, 100);
    removeChild(kids, 8, 1);
    assert.deepEqual(kids.get(1), [2, 7, 9]);
  });
});

describe('layoutTree: edge cases', () => {
  test('an empty tree has no items and an empty box', () => {
    const { items, box } = lay(new Map());
    assert.deepEqual(items, []);
    assert.deepEqual(box, { x0: 0, y0: 0, x1: 0, y1: 0 });
  });

  test('one turn sits at the origin', () => {
    const { items, box } = lay(new Map([[1, null]]));
    assert.equal(items.length, 1);
    assert.equal(items[0].x, 0);
    assert.equal(items[0].y, 0);
    assert.deepEqual(box, { x0: -NODE_W / 2, y0: -NODE_W / 2, x1: NODE_W / 2, y1: NODE_W / 2 });
  });

  test('a deep chain, every turn visible, lays out without recursion: one straight line', () => {
    const n = 100000;
    const all = Array.from({ length: n }, (_, i) => i + 1);
    const { items, box } = lay(chain(n), all);
    assert.equal(items.length, n);
    assert.ok(items.every((item) => item.x === 0));
    assert.equal(items[n - 1].y, (n - 1) * LEVEL);
    assert.equal(box.y1, (n - 1) * LEVEL + NODE_W / 2);
  });

  test('a long chain folds: the ends of its run stay, one segment between them, then the leaf', () => {
    const { items } = lay(chain(2000));
    assert.deepEqual(items.map((i) => i.key), ['1', 's2', '1999', '2000']);
    assert.equal(items[1].hidden.length, 1997);
    assert.equal(items[1].w, segmentWidth(1997));
    assert.ok(items.every((item) => item.x === 0));
  });

  test('a pinned turn splits a run; one hidden turn shows as a turn, not a segment', () => {
    const { items } = lay(chain(10), [5, 8]);
    assert.deepEqual(items.map((i) => i.key), ['1', 's2', '5', 's6', '8', '9', '10']);
    assert.deepEqual(items[3].hidden, [6, 7]);
    const { items: again } = lay(chain(10), [3, 5]);
    assert.deepEqual(again.map((i) => i.key), ['1', '2', '3', '4', '5', 's6', '9', '10']);
  });

  test('many siblings: one row in id order, evenly spaced, the parent above the first', () => {
    const parents = new Map([[1, null]]);
    for (let id = 2; id <= 5001; id++) parents.set(id, 1);
    const { items } = lay(parents);
    const row = items.filter((i) => i.depth === 1);
    assert.equal(row.length, 5000);
    for (let i = 1; i < row.length; i++) {
      assert.ok(row[i].id > row[i - 1].id);
      assert.equal(row[i].x - row[i - 1].x, NODE_W + SIBLING_GAP);
    }
    assert.equal(items[0].x, row[0].x);
  });

  test('several roots stand side by side in id order', () => {
    const parents = new Map([...chain(5, 1), ...chain(5, 10), ...chain(1, 20)]);
    const { items } = lay(parents);
    const roots = items.filter((i) => i.depth === 0);
    assert.deepEqual(roots.map((r) => r.id), [1, 10, 20]);
    assert.ok(roots[0].x < roots[1].x && roots[1].x < roots[2].x);
    assertNoOverlap(items);
  });
});

describe('layoutTree: shape', () => {
  test('the main line stays one straight line when side branches leave it regularly', () => {
    // 2,010 turns of a main branch with a side turn every 50: pinning nothing (runs fold) and
    // pinning everything (each turn drawn) alike.
    for (const pinAll of [false, true]) {
      const parents = trunkWithSides(2010, 50);
      const pins = pinAll ? [...parents.keys()] : [];
      const { items } = lay(parents, pins);
      const trunk = items.filter((i) => (i.kind === 'turn' ? i.id : i.hidden[0]) <= 2010);
      const xs = new Set(trunk.map((i) => i.x));
      assert.equal(xs.size, 1, `main line at ${xs.size} different x (pinned all: ${pinAll})`);
      const sides = items.filter((i) => i.kind === 'turn' && i.id > 2010);
      assert.equal(sides.length, 40);
      assert.ok(sides.every((side) => side.x > trunk[0].x));
      assertNoOverlap(items);
    }
  });

  test('the main line is the longest branch, even when it is not the first child', () => {
    // 1 → 2 (a reply kept short) and 1 → 3 → 4 → … (the regenerated reply the talk went on from).
    const parents = new Map([[1, null], [2, 1], [3, 1]]);
    for (let id = 4; id <= 30; id++) parents.set(id, id - 1);
    const all = [...parents.keys()];
    const { items } = lay(parents, all);
    const byId = new Map(items.map((i) => [i.id, i]));
    for (let id = 3; id <= 30; id++) assert.equal(byId.get(id).x, byId.get(1).x, `turn ${id}`);
    assert.ok(byId.get(2).x < byId.get(3).x); // the shorter, older version stays on the left
  });

  test('300 turns regenerated and edited along the way: the main line stays straight, versions beside it', () => {
    // Every tenth turn has an older version (a regenerated reply or an edited prompt, answered),
    // and the talk went on from the newer one: old versions leave on the left, and every fifth
    // side branch runs a few turns of its own.
    const parents = new Map([[1, null]]);
    let id = 1;
    const trunk = [1];
    let nextSide = 10_000;
    for (let depth = 1; depth < 300; depth++) {
      const parent = trunk[trunk.length - 1];
      if (depth % 10 === 0) {
        let side = ++nextSide;
        parents.set(side, parent);
        const length = depth % 50 === 0 ? 6 : 1;
        for (let k = 1; k < length; k++) {
          parents.set(++nextSide, side);
          side = nextSide;
        }
      }
      parents.set(++id, parent);
      trunk.push(id);
    }
    for (const pinAll of [false, true]) {
      const { items } = lay(parents, pinAll ? trunk : []);
      const main = items.filter((i) => (i.kind === 'turn' ? i.id : i.hidden[0]) < 10_000);
      assert.equal(new Set(main.map((i) => i.x)).size, 1, `pinned all: ${pinAll}`);
      const sides = items.filter((i) => i.kind === 'turn' && i.id > 10_000);
      assert.ok(sides.length >= 29 && sides.every((side) => side.x !== main[0].x));
      assertNoOverlap(items);
    }
  });

  test("the room for a turn's short text ends before the next item of its row", () => {
    const parents = new Map([[1, null], [2, 1], [3, 1], [4, 2], [5, 3]]);
    const { items } = lay(parents, [...parents.keys()]);
    labelRoom(items);
    const byId = new Map(items.map((i) => [i.id, i]));
    const [left, right] = [byId.get(2), byId.get(3)].sort((a, b) => a.x - b.x);
    assert.equal(left.room, right.x - right.w / 2 - (left.x + left.w / 2) - 6);
    assert.equal(right.room, LABEL_ROOM_MAX);
    assert.equal(byId.get(1).room, LABEL_ROOM_MAX);
  });

  test('every parent sits right above its main child, and children keep their id order', () => {
    const { items } = lay(randomTree(3000, 11), [...randomTree(3000, 11).keys()].filter((id) => id % 3 === 0));
    for (const item of items) {
      if (!item.children.length) continue;
      assert.equal(item.x, item.children[item.main].x, item.key);
      for (let i = 1; i < item.children.length; i++) assert.ok(item.children[i].x > item.children[i - 1].x);
    }
  });

  test('random trees: no two items of a row overlap, and the box holds them all', () => {
    for (const seed of [1, 2, 3, 5, 8, 13, 21, 34]) {
      for (const branchiness of [0.05, 0.3, 0.8]) {
        const parents = randomTree(1500, seed, branchiness);
        const pins = [...parents.keys()].filter((id) => (id * seed) % 7 === 0);
        const { items, box } = lay(parents, pins);
        assertNoOverlap(items);
        assertBoxAndRows(items, box);
      }
    }
  });

  test('every turn is drawn once or hidden in exactly one segment', () => {
    const parents = randomTree(4000, 99, 0.1);
    const { items } = lay(parents, [17, 400, 3999]);
    const seen = new Map();
    for (const item of items) {
      for (const id of item.kind === 'segment' ? item.hidden : [item.id]) seen.set(id, (seen.get(id) || 0) + 1);
    }
    assert.equal(seen.size, parents.size);
    assert.ok([...seen.values()].every((count) => count === 1));
    for (const item of items) {
      if (item.kind === 'segment') assert.ok(item.hidden.length >= 2);
      if (item.parent.kind !== 'top') assert.equal(item.depth, item.parent.depth + 1);
    }
  });

  test('buildVisible alone: a top item whose children are the roots', () => {
    const { top, items } = buildVisible(new Map([[1, [2]]]), [1, 7], () => false);
    assert.equal(top.kind, 'top');
    assert.deepEqual(top.children.map((c) => c.key), ['1', '7']);
    assert.deepEqual(items.map((i) => i.key), ['1', '2', '7']);
  });
});
