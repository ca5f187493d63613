// The tree map's input: drag to pan, wheel to zoom around the cursor, click or Enter to select,
// arrows to move between nodes, + / - / 0 to zoom and fit. bindInput() wires a TreeMap's svg;
// nextItem() is the keyboard's pure part (tested with node --test).
import { wheelFactor } from './tree-view.js';

const DRAG_THRESHOLD = 4; // pixels a press moves before it is a drag, not a click
export const ZOOM_STEP = 1.35;

/**
 * The item an arrow key, Home or End moves to from `item` (null: nowhere). Up goes to the parent,
 * Down to the child on the highlighted branch (or the first), Left/Right to the nearest item of the
 * same row, Home to the first turn, End to the branch leaf.
 */
export function nextItem(items, item, key, leaf) {
  switch (key) {
    case 'ArrowUp':
      return item.parent && item.parent.kind !== 'top' ? item.parent : null;
    case 'ArrowDown':
      return item.children.find((c) => c.onBranch) || item.children[0] || null;
    case 'ArrowLeft':
    case 'ArrowRight': {
      const dir = key === 'ArrowLeft' ? -1 : 1;
      let best = Infinity;
      let next = null;
      for (const other of items) {
        const d = (other.x - item.x) * dir;
        if (other.depth === item.depth && d > 0 && d < best) {
          best = d;
          next = other;
        }
      }
      return next;
    }
    case 'Home':
      return items[0] || null;
    case 'End':
      return leaf || null;
    default:
      return undefined; // not a moving key
  }
}

/** Listens on the map's svg: the map's camera moves the view, the map acts on items. */
export function bindInput(map) {
  const svgEl = map.svgEl;
  let pointer = null; // the press being followed: {id, x, y, view}
  let dragged = false; // the last press became a drag: its click is not a selection

  const itemFromEvent = (e) => {
    const el = e.target.closest && e.target.closest('.tm-node');
    if (!el || !map.nodeLayer.contains(el)) return null;
    return map.itemsByKey.get(map.drawing.keyOf.get(el)) || null;
  };

  const zoomKey = (key) => {
    if (key === '+' || key === '=') map.camera.zoomBy(ZOOM_STEP);
    else if (key === '-') map.camera.zoomBy(1 / ZOOM_STEP);
    else if (key === '0') map.fit();
    else return false;
    return true;
  };

  svgEl.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    pointer = { id: e.pointerId, x: e.clientX, y: e.clientY, view: { ...map.camera.view } };
    dragged = false;
  });

  svgEl.addEventListener('pointermove', (e) => {
    if (!pointer || pointer.id !== e.pointerId) return;
    const dx = e.clientX - pointer.x;
    const dy = e.clientY - pointer.y;
    if (!dragged) {
      if (Math.hypot(dx, dy) < DRAG_THRESHOLD) return;
      dragged = true;
      map.camera.userMoved();
      map.root.classList.add('is-dragging');
      try {
        svgEl.setPointerCapture(e.pointerId);
      } catch {
        // The pointer may already be gone.
      }
    }
    map.camera.set({ x: pointer.view.x + dx, y: pointer.view.y + dy, k: pointer.view.k });
  });

  const release = (e) => {
    if (!pointer || pointer.id !== e.pointerId) return;
    pointer = null;
    map.root.classList.remove('is-dragging');
  };
  svgEl.addEventListener('pointerup', release);
  svgEl.addEventListener('pointercancel', release);

  svgEl.addEventListener('click', (e) => {
    if (dragged) {
      dragged = false;
      return;
    }
    const item = itemFromEvent(e);
    if (item) map.activate(item);
  });

  svgEl.addEventListener('focusin', (e) => {
    const item = itemFromEvent(e);
    if (!item) return;
    map.setFocus(item.key);
    // Keyboard focus brings the node into view; a click must not move the map under the pointer.
    if (e.target.matches(':focus-visible')) map.camera.ensureVisible(item);
  });

  svgEl.addEventListener('keydown', (e) => {
    const item = itemFromEvent(e);
    if (!item) {
      if (zoomKey(e.key)) e.preventDefault();
      return;
    }
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      map.activate(item);
      return;
    }
    const next = nextItem(map.items, item, e.key, map.itemsByKey.get(map.leafKey));
    if (next === undefined && !zoomKey(e.key)) return;
    e.preventDefault();
    if (next) map.focusItem(next);
  });

  svgEl.addEventListener('wheel', (e) => {
    e.preventDefault();
    const rect = svgEl.getBoundingClientRect();
    const factor = wheelFactor(e.deltaY, e.deltaMode, e.ctrlKey, map.camera.size.h);
    map.camera.zoomBy(factor, e.clientX - rect.left, e.clientY - rect.top, false);
  }, { passive: false });
}
