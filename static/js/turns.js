// How a turn looks, on the conversation page and in a comparison alike.
import { hasThinking, metaText, roleLabel, thinkingDetail, thinkingElapsed, thinkingLabel } from './format.js';
import { renderMarkdownInto } from './markdown.js';

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
  renderMarkdownInto(body, turn.content);
  if (turn.status === 'streaming') body.append(el('span', { class: 'caret', 'aria-hidden': 'true' }));
}

// --- the Thinking block ---------------------------------------------------------------------------
// A reply's reasoning, above its text, in a <details>: open while the reply streams, closed once it
// has ended, unless the reader opened or closed it themselves (kept per turn while the page lives,
// across redraws). Its Markdown is rendered when it is open: a branch of long replies renders none
// of the reasoning nobody reads.

const thinkingChoice = new Map(); // turn id → open, for the blocks the reader opened or closed
const thinkingTurns = new WeakMap(); // a block → its turn and how its reasoning renders
const summaryShown = new WeakMap(); // a block's summary → what it says (but the clock's seconds)
const REDACTED_NOTE = 'Part of the thinking was redacted by the provider.';

export function renderReasoningMarkdown(turn, body) {
  renderMarkdownInto(body, turn.reasoning);
}

function fillThinkingBody(details) {
  const { turn, renderReasoning } = thinkingTurns.get(details);
  const body = details.querySelector('.thinking-body');
  if (!details.open) {
    body.dataset.stale = 'true';
    return;
  }
  delete body.dataset.stale;
  if (turn.reasoning) renderReasoning(turn, body);
  else body.replaceChildren();
  body.hidden = !turn.reasoning;
}

function fillThinkingSummary(details) {
  const { turn } = thinkingTurns.get(details);
  const elapsed = thinkingElapsed(turn);
  const detail = thinkingDetail(turn);
  const summary = details.querySelector('.thinking-summary');
  // While the count runs, the summary says "Thinking…" and the clock beside it is hidden from
  // screen readers: a second's tick is not news. Each tick changes the clock alone.
  const shown = `${elapsed == null ? thinkingLabel(turn) : 'Thinking…'} · ${detail}`;
  if (summaryShown.get(summary) !== shown) {
    summaryShown.set(summary, shown);
    const label = elapsed == null
      ? el('span', { class: 'thinking-label', text: thinkingLabel(turn) })
      : el('span', { class: 'thinking-label' }, 'Thinking…', el('span', { class: 'thinking-clock', 'aria-hidden': 'true' }));
    summary.replaceChildren(label, ...(detail ? [el('span', { class: 'thinking-detail', text: ` · ${detail}` })] : []));
  }
  if (elapsed == null) delete details.dataset.live;
  else {
    summary.querySelector('.thinking-clock').textContent = ` ${elapsed} s`;
    details.dataset.live = 'true';
    startThinkingClock();
  }
  const note = details.querySelector('.thinking-redacted');
  if (turn.reasoning_redacted && !note) details.append(el('p', { class: 'thinking-redacted', text: REDACTED_NOTE }));
  else if (!turn.reasoning_redacted && note) note.remove();
}

let thinkingClock = null;
function startThinkingClock() {
  if (thinkingClock) return;
  thinkingClock = setInterval(() => {
    const live = document.querySelectorAll('details.thinking[data-live]');
    if (!live.length) {
      clearInterval(thinkingClock);
      thinkingClock = null;
    }
    for (const details of live) if (thinkingTurns.has(details)) fillThinkingSummary(details);
  }, 1000);
}

// The block for a reply with reasoning, null for one without. `renderReasoning(turn, body)` fills
// the open block (Markdown here; a comparison's word diff).
export function thinkingBlock(turn, { renderReasoning = renderReasoningMarkdown } = {}) {
  if (!hasThinking(turn)) return null;
  const open = thinkingChoice.has(turn.id) ? thinkingChoice.get(turn.id) : turn.status === 'streaming';
  const summary = el('summary', { class: 'thinking-summary' });
  const details = el('details', { class: 'thinking', open },
    summary,
    el('div', { class: 'thinking-body markdown' }));
  thinkingTurns.set(details, { turn, renderReasoning });
  // A click (or Enter or Space) on the summary is the reader's choice; it toggles after the event.
  summary.addEventListener('click', () => thinkingChoice.set(turn.id, !details.open));
  details.addEventListener('toggle', () => {
    if (details.open && details.querySelector('.thinking-body').dataset.stale) fillThinkingBody(details);
  });
  fillThinkingSummary(details);
  fillThinkingBody(details);
  return details;
}

// Brings a turn's article up to date with a frame: its Thinking block (made when the first
// reasoning arrives), the refusal marker, and its text.
export function renderStreaming(turn, article, { renderReasoning = renderReasoningMarkdown } = {}) {
  let details = article.querySelector(':scope > details.thinking');
  if (!details) {
    details = thinkingBlock(turn, { renderReasoning });
    if (details) article.querySelector(':scope > .turn-body')?.before(details);
  } else {
    thinkingTurns.set(details, { turn, renderReasoning });
    fillThinkingSummary(details);
    fillThinkingBody(details);
  }
  if (turn.refused && !article.querySelector('.turn-head .status-refused')) {
    article.querySelector('.turn-head .role')?.after(refusedBadge());
  }
  const body = article.querySelector(':scope > .turn-body');
  if (body) renderBody(turn, body);
}

function refusedBadge() {
  return el('span', { class: 'badge status-refused', text: 'refused', title: 'The model refused: the text is its refusal.' });
}

// A turn's article: header (label, status, meta, extra header parts), Thinking block, body,
// attached files, error, actions. `renderReasoning` as for thinkingBlock; `attachments(turn)` draws the
// turn's files (attachments-view.js), under its text.
export function turnElement(turn, { modelLabels, head = [], actions = [], lazy = true, renderReasoning, attachments } = {}) {
  const status = turn.status !== 'complete' ? el('span', { class: `badge status-${turn.status}`, text: turn.status }) : null;
  const body = el('div', { class: turn.role === 'assistant' ? 'turn-body markdown' : 'turn-body plain' });
  renderBody(turn, body, { lazy });
  return el(
    'article',
    { class: `turn turn-${turn.role}`, 'data-turn': turn.id, 'data-status': turn.status, tabindex: '-1', 'aria-busy': turn.status === 'streaming' ? 'true' : null },
    el('header', { class: 'turn-head' },
      el('span', { class: 'role', text: roleLabel(turn, modelLabels) }),
      turn.refused ? refusedBadge() : null,
      status,
      el('span', { class: 'meta', text: metaText(turn) }),
      el('span', { class: 'spacer' }),
      ...head),
    turn.role === 'assistant' ? thinkingBlock(turn, renderReasoning ? { renderReasoning } : {}) : null,
    body,
    attachments && turn.attachments?.length ? attachments(turn) : null,
    turn.error ? el('div', { class: 'turn-error', role: 'alert', text: turn.error }) : null,
    actions.length ? el('div', { class: 'turn-actions' }, ...actions) : null,
  );
}
