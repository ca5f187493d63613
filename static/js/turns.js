// How a turn looks, on the conversation page and in a comparison alike.
import { metaText, roleLabel } from './format.js';
import { renderMarkdown } from './markdown.js';

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

// Markdown for a reply is rendered when it comes near the viewport: a 2,000-turn branch opens at
// once, showing plain text for a moment where the eye is not.
const pending = new WeakMap();
const markdownObserver = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      markdownObserver.unobserve(entry.target);
      const turn = pending.get(entry.target);
      if (turn) renderBody(turn, entry.target);
    }
  },
  { rootMargin: '1200px 0px' },
);

export function renderBody(turn, body, { lazy = false } = {}) {
  if (turn.role !== 'assistant') {
    body.textContent = turn.content;
    return;
  }
  if (lazy && turn.status !== 'streaming') {
    body.textContent = turn.content;
    body.classList.add('markdown-pending');
    pending.set(body, turn);
    markdownObserver.observe(body);
    return;
  }
  pending.delete(body);
  body.classList.remove('markdown-pending');
  body.innerHTML = renderMarkdown(turn.content);
  if (turn.status === 'streaming') body.append(el('span', { class: 'caret', 'aria-hidden': 'true' }));
}

// A turn's article: header (label, status, meta, extra header parts), body, error, actions.
export function turnElement(turn, { modelLabels, head = [], actions = [], lazy = true }) {
  const status = turn.status !== 'complete' ? el('span', { class: `badge status-${turn.status}`, text: turn.status }) : null;
  const body = el('div', { class: turn.role === 'assistant' ? 'turn-body markdown' : 'turn-body plain' });
  renderBody(turn, body, { lazy });
  return el(
    'article',
    { class: `turn turn-${turn.role}`, 'data-turn': turn.id, 'data-status': turn.status, tabindex: '-1' },
    el('header', { class: 'turn-head' },
      el('span', { class: 'role', text: roleLabel(turn, modelLabels) }),
      status,
      el('span', { class: 'meta', text: metaText(turn) }),
      el('span', { class: 'spacer' }),
      ...head),
    body,
    turn.error ? el('div', { class: 'turn-error', role: 'alert', text: turn.error }) : null,
    actions.length ? el('div', { class: 'turn-actions' }, ...actions) : null,
  );
}
