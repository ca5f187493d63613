// How a turn looks, on the conversation page and in a comparison alike.
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

function formatSeconds(ms) {
  return ms < 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

export function latency(turn) {
  const parts = [];
  if (turn.first_token_at && turn.created_at) {
    parts.push(`first token ${formatSeconds(Date.parse(turn.first_token_at) - Date.parse(turn.created_at))}`);
  }
  if (turn.finished_at && turn.created_at) {
    parts.push(`total ${formatSeconds(Date.parse(turn.finished_at) - Date.parse(turn.created_at))}`);
  }
  return parts;
}

export function settingsText(settings = {}) {
  const parts = [];
  if (settings.temperature != null) parts.push(`temp ${settings.temperature}`);
  if (settings.max_tokens != null) parts.push(`max ${settings.max_tokens}`);
  if (settings.top_p != null) parts.push(`top_p ${settings.top_p}`);
  if (settings.system_prompt) parts.push('system prompt');
  return parts;
}

const integer = new Intl.NumberFormat('en-US');
export const formatTokens = (n) => integer.format(n);

export function formatCost(dollars) {
  if (dollars == null) return '';
  if (dollars === 0) return '$0';
  if (dollars < 0.01) return `$${dollars.toPrecision(2)}`;
  return `$${dollars.toFixed(dollars < 10 ? 3 : 2)}`;
}

// The usage part of a reply's meta line: "1,234 in · 567 out · $0.0012", "≈" when estimated.
export function usageText(turn) {
  if (turn.status === 'streaming' || (turn.input_tokens == null && turn.output_tokens == null)) return [];
  const approx = turn.usage_estimated ? '≈ ' : '';
  const parts = [`${approx}${formatTokens(turn.input_tokens ?? 0)} in · ${formatTokens(turn.output_tokens ?? 0)} out`];
  if (turn.cost != null) parts.push(`${approx}${formatCost(turn.cost)}`);
  return parts;
}

export function metaText(turn) {
  if (turn.role !== 'assistant') {
    const tokens = turn.token_counts?.o200k_base;
    return tokens == null ? '' : `${formatTokens(tokens)} token${tokens === 1 ? '' : 's'}`;
  }
  return [...usageText(turn), ...latency(turn), ...settingsText(turn.settings)].join(' · ');
}

export function roleLabel(turn, modelLabels) {
  if (turn.role === 'user') return 'You';
  if (turn.role === 'system') return 'System';
  return modelLabels.get(`${turn.provider}:${turn.model}`) || turn.model || 'Assistant';
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

// A turn's page: the URL template ends in /t/0/.
export function turnUrl(template, id) {
  return template.replace(/\/0\/$/, `/${id}/`);
}

// Applies the end of a reply; false while text is still missing (the caller resumes from there).
// A turn from a websocket frame: the server leaves out empty fields, which read as their empty values.
export function withTurnDefaults(turn) {
  return {
    parent: null, provider: '', model: '', settings: {}, token_counts: {}, input_tokens: null,
    output_tokens: null, usage_estimated: false, cost: null, context: {}, error: '',
    first_token_at: null, finished_at: null, length: 0, content: '', ...turn,
  };
}

export function applyFinished(turn, update) {
  Object.assign(turn, update);
  if (turn.content.length >= update.length) return true;
  turn.status = 'streaming';
  return false;
}

// Applies a delta by offset; returns 'applied', 'duplicate' or 'gap'.
export function applyDelta(turn, offset, text) {
  const have = turn.content.length;
  if (offset > have) return 'gap';
  if (offset + text.length <= have) return 'duplicate';
  turn.content += text.slice(have - offset);
  return 'applied';
}
