// The tree map, marked by review: turns with open threads get a dot, the preferred branches (root
// → the turn a member prefers) are traced. It follows the map as the map draws itself (it need not
// know): a turn's node is `g[data-turn-id]`, an edge `path.tm-edge[data-from][data-to]`.
const SVG = 'http://www.w3.org/2000/svg';

function setFlag(node, name, on) {
  if (on && !node.hasAttribute(name)) node.setAttribute(name, '');
  else if (!on && node.hasAttribute(name)) node.removeAttribute(name);
}

export function markTree(root, store) {
  let queued = false;

  function apply() {
    queued = false;
    const open = store.turnsWithOpenThreads();
    const tips = store.preferredTips();
    // The parents the map has drawn: enough to trace what is on screen.
    const parent = new Map();
    for (const edge of root.querySelectorAll('path.tm-edge[data-from][data-to]')) parent.set(edge.dataset.to, edge.dataset.from);
    const onPath = new Set();
    for (const tip of tips) {
      let key = String(tip);
      for (let guard = 0; key != null && guard < 100000 && !onPath.has(key); guard++) {
        onPath.add(key);
        key = parent.get(key);
      }
    }
    for (const node of root.querySelectorAll('g[data-turn-id]')) {
      const key = node.getAttribute('data-turn-id');
      const id = Number(key);
      setFlag(node, 'data-review-open', open.has(id));
      setFlag(node, 'data-preferred', tips.has(id));
      setFlag(node, 'data-preferred-path', onPath.has(key));
      let mark = node.querySelector(':scope > .review-mark');
      if (open.has(id) && !mark) {
        mark = document.createElementNS(SVG, 'circle');
        mark.setAttribute('class', 'review-mark');
        mark.setAttribute('r', '3.5');
        mark.setAttribute('cx', '8');
        mark.setAttribute('cy', '-8');
        node.append(mark);
      } else if (!open.has(id) && mark) mark.remove();
    }
    for (const edge of root.querySelectorAll('path.tm-edge[data-from][data-to]')) {
      setFlag(edge, 'data-preferred-path', onPath.has(edge.dataset.to) && onPath.has(edge.dataset.from));
    }
  }

  function queue() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(apply);
  }

  new MutationObserver(queue).observe(root, { childList: true, subtree: true, attributes: true, attributeFilter: ['class', 'data-turn-id'] });
  store.onChange(queue);
  queue();
}
