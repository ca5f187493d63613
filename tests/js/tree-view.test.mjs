// The tree map's view arithmetic (static/js/tree-view.js), its keyboard moves
// (static/js/tree-input.js) and its drawing's pure parts (static/js/tree-draw.js).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { PALETTE_SIZE, edgePath, modelName, modelSlots, turnLabel } from '../../static/js/tree-draw.js';
import { nextItem } from '../../static/js/tree-input.js';
import { indexTree, layoutTree } from '../../static/js/tree-layout.js';
import {
  FIT_MAX, PAD, READABLE, ZOOM_MAX, between, centreOn, clearOf, containsRect, contentArea, fitScale,
  fitView, initialView, inView, keepInPlace, minScale, viewRect, wheelFactor, zoomAround,
} from '../../static/js/tree-view.js';

const size = { w: 360, h: 600 };
const toScreen = (view, p) => ({ x: p.x * view.k + view.x, y: p.y * view.k + view.y });
const close = (a, b, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} ≠ ${b}`);

describe('fitting', () => {
  test('the area leaves the padding, the legend and the buttons column out', () => {
    assert.deepEqual(contentArea(size), { x: PAD, y: PAD, w: 360 - 2 * PAD, h: 600 - 2 * PAD });
    assert.deepEqual(contentArea(size, { right: 30, bottom: 20 }), { x: PAD, y: PAD, w: 360 - 2 * PAD - 30, h: 600 - 2 * PAD - 20 });
    assert.deepEqual(contentArea({ w: 0, h: 0 }), { x: PAD, y: PAD, w: 1, h: 1 });
  });

  test('a big tree fits inside the area, centred across', () => {
    const box = { x0: -500, y0: -8, x1: 1500, y1: 3000 };
    const area = contentArea(size, { right: 30 });
    const view = fitView(box, area);
    const topLeft = toScreen(view, { x: box.x0, y: box.y0 });
    const bottomRight = toScreen(view, { x: box.x1, y: box.y1 });
    assert.ok(topLeft.x >= area.x - 1e-9 && bottomRight.x <= area.x + area.w + 1e-9);
    assert.ok(topLeft.y >= area.y - 1e-9 && bottomRight.y <= area.y + area.h + 1e-9);
    close((topLeft.x + bottomRight.x) / 2, area.x + area.w / 2);
  });

  test('a small tree is not blown up beyond FIT_MAX; an empty box still gives a view', () => {
    assert.equal(fitScale({ x0: -8, y0: -8, x1: 8, y1: 8 }, contentArea(size)), FIT_MAX);
    const view = fitView({ x0: 0, y0: 0, x1: 0, y1: 0 }, contentArea(size));
    assert.ok(Number.isFinite(view.x) && Number.isFinite(view.y) && view.k > 0);
  });

  test('zooming out stops a little beyond the whole tree, and never below 1 %', () => {
    const area = contentArea(size);
    assert.equal(minScale({ x0: 0, y0: 0, x1: 10, y1: 10 }, area), 0.25);
    close(minScale({ x0: 0, y0: 0, x1: 10, y1: 2000 }, area), fitScale({ x0: 0, y0: 0, x1: 10, y1: 2000 }, area) * 0.8);
    assert.equal(minScale({ x0: 0, y0: 0, x1: 1, y1: 1e7 }, area), 0.01);
  });
});

describe('the first view', () => {
  test('the whole tree when it stays readable', () => {
    const box = { x0: -50, y0: -8, x1: 50, y1: 400 };
    const area = contentArea(size);
    assert.deepEqual(initialView(box, area, { x: 0, y: 392 }), fitView(box, area));
  });

  test('otherwise the branch leaf, readable, near the bottom of a tall tree', () => {
    const box = { x0: -50, y0: -8, x1: 50, y1: 38000 };
    const area = contentArea(size);
    const leaf = { x: 30, y: 38000 - 8 };
    const view = initialView(box, area, leaf);
    assert.equal(view.k, READABLE);
    const at = toScreen(view, leaf);
    close(at.x, area.x + area.w / 2);
    assert.ok(at.y > area.y + area.h / 2 && at.y <= area.y + area.h);
  });

  test('a wide but short tree shows its top', () => {
    const box = { x0: -5000, y0: -8, x1: 5000, y1: 200 };
    const area = contentArea(size);
    const view = initialView(box, area, { x: 4000, y: 192 });
    assert.equal(view.k, READABLE);
    close(toScreen(view, { x: 0, y: box.y0 }).y, area.y);
  });

  test('no leaf: the fit', () => {
    const box = { x0: -5000, y0: -8, x1: 5000, y1: 200 };
    assert.deepEqual(initialView(box, contentArea(size), null), fitView(box, contentArea(size)));
  });
});

describe('keeping the buttons clear', () => {
  const buttons = { x0: 324, y0: 8, x1: 352, y1: 100 };

  test('a point under the buttons moves the view left until it is clear', () => {
    const view = { x: 0, y: 0, k: 1 };
    const moved = clearOf(view, [{ x: 330, y: 40 }], buttons, 12);
    assert.equal(toScreen(moved, { x: 330, y: 40 }).x, buttons.x0 - 12);
    assert.equal(moved.y, 0);
    assert.equal(moved.k, 1);
  });

  test('points clear of the buttons leave the view as it is', () => {
    const view = { x: 5, y: 5, k: 2 };
    assert.equal(clearOf(view, [{ x: 10, y: 10 }, { x: 160, y: 200 }], buttons), view);
    assert.equal(clearOf(view, [], buttons), view);
  });

  test('the point furthest in decides', () => {
    const view = { x: 0, y: 0, k: 1 };
    const moved = clearOf(view, [{ x: 320, y: 20 }, { x: 350, y: 90 }], buttons, 0);
    assert.equal(moved.x, -(350 - 324));
  });
});

describe('moving the view', () => {
  test('zooming keeps the point under the cursor in place, within the bounds', () => {
    const view = { x: 40, y: -20, k: 0.8 };
    const cursor = { x: 100, y: 200 };
    const content = { x: (cursor.x - view.x) / view.k, y: (cursor.y - view.y) / view.k };
    const zoomed = zoomAround(view, 1.35, cursor.x, cursor.y, 0.1);
    close(toScreen(zoomed, content).x, cursor.x);
    close(toScreen(zoomed, content).y, cursor.y);
    assert.equal(zoomAround(view, 100, 0, 0, 0.1).k, ZOOM_MAX);
    assert.equal(zoomAround(view, 0.0001, 0, 0, 0.1).k, 0.1);
  });

  test('centring puts a point in the middle at a readable scale at least', () => {
    const view = centreOn({ x: 0, y: 0, k: 0.1 }, size, { x: 500, y: 9000 });
    assert.equal(view.k, READABLE);
    assert.deepEqual(toScreen(view, { x: 500, y: 9000 }), { x: 180, y: 300 });
    assert.equal(centreOn({ x: 0, y: 0, k: 2 }, size, { x: 0, y: 0 }).k, 2);
  });

  test('in view means inside the margin', () => {
    const view = { x: 0, y: 0, k: 1 };
    assert.ok(inView(view, size, { x: 100, y: 100 }));
    assert.ok(!inView(view, size, { x: 5, y: 100 }));
    assert.ok(!inView(view, size, { x: 100, y: 595 }));
  });

  test('a relayout keeps the anchor where it was on screen', () => {
    const view = { x: 10, y: 20, k: 0.5 };
    const was = { x: 100, y: 380 };
    const now = { x: 160, y: 380 };
    const kept = keepInPlace(view, was, now);
    assert.deepEqual(toScreen(kept, now), toScreen(view, was));
    assert.equal(keepInPlace(view, was, { ...was }), view);
  });

  test('the drawn area of a view, and whether it still covers another', () => {
    const view = { x: -100, y: -200, k: 2 };
    assert.deepEqual(viewRect(view, size), { x0: 50, y0: 100, x1: 230, y1: 400 });
    const drawn = viewRect(view, size, 0.5);
    assert.deepEqual(drawn, { x0: -40, y0: -50, x1: 320, y1: 550 });
    assert.ok(containsRect(drawn, viewRect(view, size)));
    assert.ok(!containsRect(drawn, viewRect({ ...view, x: view.x - 500 }, size)));
  });

  test('an animation starts where it was and ends where it goes', () => {
    const from = { x: 0, y: 0, k: 1 };
    const to = { x: 100, y: -50, k: 2 };
    assert.deepEqual(between(from, to, 0), from);
    assert.deepEqual(between(from, to, 1), to);
    const mid = between(from, to, 0.5);
    assert.ok(mid.x > 50 && mid.x < 100); // eased out: more than half way at half time
  });

  test('the wheel: down zooms out, up zooms in, a huge delta is bounded', () => {
    assert.ok(wheelFactor(100, 0, false, 600) < 1);
    assert.ok(wheelFactor(-100, 0, false, 600) > 1);
    assert.equal(wheelFactor(1e6, 0, false, 600), wheelFactor(300, 0, false, 600));
    assert.equal(wheelFactor(3, 1, false, 600), wheelFactor(48, 0, false, 600)); // lines of 16 px
    assert.ok(wheelFactor(10, 0, true, 600) < wheelFactor(10, 0, false, 600)); // a pinch is faster
  });
});

describe('keyboard moves', () => {
  // 1 → 2 → 3, and 1 → 4; 2 → 5 (on the branch).
  const { kids, roots } = indexTree([[1, null], [2, 1], [3, 2], [4, 1], [5, 2]].map(([id, parent]) => ({ id, parent })));
  const { items } = layoutTree(kids, roots);
  const byId = new Map(items.map((i) => [i.id, i]));
  for (const id of [1, 2, 5]) byId.get(id).onBranch = true;

  test('up to the parent, none above a root', () => {
    assert.equal(nextItem(items, byId.get(3), 'ArrowUp'), byId.get(2));
    assert.equal(nextItem(items, byId.get(1), 'ArrowUp'), null);
  });

  test('down along the highlighted branch first, else the first child; none below a leaf', () => {
    assert.equal(nextItem(items, byId.get(2), 'ArrowDown'), byId.get(5));
    byId.get(5).onBranch = false;
    assert.equal(nextItem(items, byId.get(2), 'ArrowDown'), byId.get(3));
    byId.get(5).onBranch = true;
    assert.equal(nextItem(items, byId.get(3), 'ArrowDown'), null);
  });

  test('left and right to the nearest item of the same row', () => {
    assert.equal(nextItem(items, byId.get(2), 'ArrowRight'), byId.get(4));
    assert.equal(nextItem(items, byId.get(4), 'ArrowLeft'), byId.get(2));
    assert.equal(nextItem(items, byId.get(3), 'ArrowLeft'), null);
  });

  test('Home to the first turn, End to the leaf; other keys are not moves', () => {
    assert.equal(nextItem(items, byId.get(5), 'Home'), byId.get(1));
    assert.equal(nextItem(items, byId.get(1), 'End', byId.get(5)), byId.get(5));
    assert.equal(nextItem(items, byId.get(1), 'End', undefined), null);
    assert.equal(nextItem(items, byId.get(1), 'x'), undefined);
  });
});

describe('drawing', () => {
  test('an edge in line goes straight down; one that turns is a curve', () => {
    assert.equal(edgePath({ kind: 'turn', x: 0, y: 0 }, { kind: 'turn', x: 0, y: 38 }), 'M0,7V31');
    assert.equal(edgePath({ kind: 'segment', x: 0, y: 0 }, { kind: 'segment', x: 0, y: 38 }), 'M0,8V30');
    assert.match(edgePath({ kind: 'turn', x: 0, y: 0 }, { kind: 'turn', x: 26, y: 38 }), /^M0,7C0,19 26,19 26,31$/);
  });

  test('models take palette slots in the order of their first reply, and keep them as the tree grows', () => {
    const nodes = [
      { id: 5, role: 'assistant', model: 'b:two' }, { id: 2, role: 'assistant', model: 'a:one' },
      { id: 9, role: 'assistant', model: 'b:two' }, { id: 1, role: 'user', model: 'z:user' },
      { id: 3, role: 'assistant', model: '' }, { id: 7, role: 'assistant', model: 'a:zero' },
    ];
    const slots = modelSlots(nodes);
    assert.deepEqual([...slots], [['a:one', 0], ['b:two', 1], ['a:zero', 2]]);
    const grown = modelSlots([...nodes, { id: 12, role: 'assistant', model: 'c:new' }]);
    assert.deepEqual([...grown], [['a:one', 0], ['b:two', 1], ['a:zero', 2], ['c:new', 3]]);
    assert.deepEqual([...modelSlots([])], []);
  });

  test('distinct models get distinct colours up to the palette size, then the slots repeat', () => {
    const nodes = Array.from({ length: PALETTE_SIZE + 2 }, (_, i) => ({ id: i + 1, role: 'assistant', model: `p:m${i}` }));
    const slots = [...modelSlots(nodes).values()];
    assert.equal(new Set(slots.slice(0, PALETTE_SIZE)).size, PALETTE_SIZE);
    assert.deepEqual(slots.slice(PALETTE_SIZE), [0, 1]);
  });

  test("a turn's short text: the model of a reply, a prompt's first words, cut to the room", () => {
    assert.equal(modelName('openai:gpt-4o'), 'gpt-4o');
    assert.equal(modelName('plain'), 'plain');
    const reply = { role: 'assistant', model: 'anthropic:claude-sonnet', preview: 'Sure' };
    assert.equal(turnLabel(reply, 300), 'claude-sonnet');
    assert.equal(turnLabel({ ...reply, status: 'error' }, 300), 'claude-sonnet · error');
    const prompt = { role: 'user', model: '', preview: 'Plan a trip to  Norway in June' };
    assert.equal(turnLabel(prompt, 400), 'Plan a trip to Norway in June');
    const cut = turnLabel(prompt, 80);
    assert.ok(cut.endsWith('…') && cut.length * 6.4 <= 80, cut);
    assert.equal(cut, 'Plan a trip…');
    assert.equal(turnLabel(prompt, 20), ''); // not even a few characters fit
    assert.equal(turnLabel({ role: 'system', preview: '' }, 300), 'System');
  });
});
