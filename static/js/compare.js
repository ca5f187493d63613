// A comparison: the path the branches share, folded into one line, then one column per branch,
// turns at the same depth on the same row. One column is the base: replies in a row get a
// word-level diff against the base column's, their text and, when a Thinking block is opened,
// their reasoning alike. The reader picks the base; it is kept in the address (?base=<tip>).
//
// Desktop shows every column side by side (a CSS subgrid keeps the rows aligned); below 1024 px
// the columns scroll sideways, snapping, two at a time on a tablet and one on a phone, with a
// bar of their names above them to jump between them.
import { fileUrl } from './attachments.js';
import { attachmentsBlock, givenBlock } from './attachments-view.js';
import { guardFileDrops } from './file-drops.js';
import { icon } from './icons.js';
import { latency, preview, settingsText } from './format.js';
import { startCompareReview } from './review-compare.js';
import { Socket } from './socket.js';
import { applyDelta, applyFinished, applyReasoning, resumeFrame } from './stream.js';
import { el, renderReasoningMarkdown, renderStreaming, turnElement } from './turns.js';
import { fillUrl } from './urls.js';
import { diffHtml } from './worddiff.js';

const page = JSON.parse(document.getElementById('page-data').textContent);
const modelLabels = new Map(page.models.map((m) => [m.id, m.label]));
const $ = (id) => document.getElementById(id);
const shared = $('shared');
const sharedSummary = $('shared-summary');
const sharedTurns = $('shared-turns');
const tabsBox = $('column-tabs');
const columnsBox = $('columns');
const diffToggle = $('diff-toggle');
const connection = $('connection');

const byId = new Map();
for (const turn of page.shared) byId.set(turn.id, turn);
for (const column of page.columns) for (const turn of column.turns) byId.set(turn.id, turn);
const rows = Math.max(...page.columns.map((c) => c.turns.length));
let baseIndex = Math.max(0, page.columns.findIndex((c) => c.tip === page.base));
// Each prompt's files, so one sees what each branch was given.
const attachments = (turn) => attachmentsBlock(turn, (index, options) => fileUrl(page.urls.turn_file, turn.id, index, options));

function columnModels(column) {
  const replies = column.turns.filter((t) => t.role === 'assistant');
  return [...new Set(replies.map((t) => modelLabels.get(`${t.provider}:${t.model}`) || t.model))];
}

function columnName(column, index) {
  return columnModels(column).join(', ') || `Branch ${index + 1}`;
}

function columnHead(column, index) {
  const replies = column.turns.filter((t) => t.role === 'assistant');
  const input = replies.reduce((sum, t) => sum + (t.input_tokens || 0), 0);
  const output = replies.reduce((sum, t) => sum + (t.output_tokens || 0), 0);
  const first = replies[0];
  const isBase = index === baseIndex;
  const count = column.turns.length;
  const facts = [
    `${count} ${count === 1 ? 'turn' : 'turns'}`, ...settingsText(first?.settings), `${input} in · ${output} out`,
    ...(first ? latency(first) : []),
  ];
  const title = el('h2', { class: 'column-title' }, el('span', { class: 'column-number', text: `${index + 1}` }), columnName(column, index));
  const choose = isBase
    ? el('span', { class: 'badge base-badge', title: 'The other branches are compared with this one', text: 'Base' })
    : el('button', { type: 'button', class: 'button ghost compact', 'data-action': 'make-base', onclick: () => setBase(index), text: 'Use as base' });
  const open = el('a', { class: 'link-button open-branch', href: fillUrl(page.urls.turn, { turn_id: column.tip }), title: 'Open this branch in the conversation' },
    icon('external-link'), el('span', { text: 'Open' }));
  // A branch that starts with a reply answers the shared start's last prompt: its files show here.
  const prompt = column.turns[0]?.role === 'assistant' ? page.shared[page.shared.length - 1] : null;
  const given = prompt?.role === 'user' && prompt.attachments?.length
    ? givenBlock(prompt, (n, options) => fileUrl(page.urls.turn_file, prompt.id, n, options)) : null;
  return el('header', { class: 'column-head', tabindex: '-1' },
    el('div', { class: 'column-title-row' }, title, el('span', { class: 'spacer' }), choose),
    el('div', { class: 'column-facts' }, el('span', { class: 'muted small', text: facts.join(' · ') }), open),
    given);
}

// How a cell's reasoning shows: against the base column's, word by word, when both have some
// and differences are highlighted; as Markdown otherwise.
function reasoningRenderer(base, columnIndex) {
  return (turn, body) => {
    const diffing = diffToggle.checked && columnIndex !== baseIndex && turn.status !== 'streaming' && base?.reasoning;
    body.classList.toggle('diff', Boolean(diffing));
    if (diffing) body.innerHTML = diffHtml(window.Diff.diffWords, base.reasoning, turn.reasoning);
    else renderReasoningMarkdown(turn, body);
  };
}

function cell(turn, rowIndex, columnIndex) {
  const base = page.columns[baseIndex].turns[rowIndex];
  const node = turnElement(turn, { modelLabels, lazy: false, renderReasoning: reasoningRenderer(base, columnIndex), attachments });
  node.classList.add('cell');
  const body = node.querySelector('.turn-body');
  if (turn.status === 'streaming') {
    node.append(el('button', { type: 'button', class: 'link-button', onclick: () => socket.send({ action: 'stop', turn: turn.id }), text: '■ Stop' }));
  } else if (diffToggle.checked && columnIndex !== baseIndex && base && base.role === turn.role) {
    body.classList.add('diff');
    body.innerHTML = diffHtml(window.Diff.diffWords, base.content, turn.content);
  }
  return node;
}

// Where a turn stands in the columns: its renderer of reasoning follows the cell's place.
function placeOf(id) {
  for (const [columnIndex, column] of page.columns.entries()) {
    const rowIndex = column.turns.findIndex((t) => t.id === id);
    if (rowIndex >= 0) return { base: page.columns[baseIndex].turns[rowIndex], columnIndex };
  }
  return { base: null, columnIndex: 0 };
}

function renderShared() {
  shared.hidden = page.shared.length === 0;
  if (!page.shared.length) return;
  const count = page.shared.length;
  const last = page.shared[count - 1];
  sharedSummary.replaceChildren(
    el('span', { class: 'shared-label', text: `Shared start: ${count} ${count === 1 ? 'message' : 'messages'}` }),
    el('span', { class: 'muted shared-preview', text: preview(last.content, 120) }),
  );
  // The shared turns are drawn the first time they are opened.
  if (shared.open && !sharedTurns.childElementCount) {
    sharedTurns.append(...page.shared.map((t) => turnElement(t, { modelLabels, attachments })));
  }
}

function renderTabs() {
  tabsBox.dataset.count = String(page.columns.length);
  tabsBox.replaceChildren(...page.columns.map((column, i) => el('button', {
    type: 'button', class: 'column-tab', 'data-column': String(i), 'aria-controls': `column-${i}`,
    'aria-pressed': 'false', onclick: () => showColumn(i, true),
  },
  el('span', { class: 'column-number', text: `${i + 1}` }),
  el('span', { class: 'column-tab-name', text: columnName(column, i) }),
  i === baseIndex ? el('span', { class: 'visually-hidden', text: ' (base)' }) : null)));
  tabsBox.children[baseIndex]?.classList.add('is-base');
  requestAnimationFrame(markInView);
}

function render() {
  renderShared();
  renderTabs();
  columnsBox.style.setProperty('--rows', String(rows));
  columnsBox.style.setProperty('--columns', String(page.columns.length));
  columnsBox.replaceChildren(...page.columns.map((column, i) => {
    const section = el('section', {
      class: i === baseIndex ? 'column is-base' : 'column', id: `column-${i}`, 'data-column': String(i),
      'aria-label': `Branch ${i + 1}: ${columnName(column, i)}${i === baseIndex ? ' (base)' : ''}`,
    }, columnHead(column, i));
    // Rows line up across columns (desktop); a shorter branch simply ends, with a quiet note.
    section.style.gridRow = `1 / span ${rows + 2}`;
    column.turns.forEach((turn, row) => {
      const node = cell(turn, row, i);
      node.style.gridRow = String(row + 2);
      section.append(node);
    });
    if (column.turns.length < rows) {
      const end = el('p', { class: 'column-end muted small', text: 'This branch ends here.' });
      end.style.gridRow = String(column.turns.length + 2);
      section.append(end);
    }
    return section;
  }));
}

function setBase(index) {
  baseIndex = index;
  const address = new URL(location.href);
  address.searchParams.set('base', String(page.columns[index].tip));
  history.replaceState(null, '', address);
  const branchUrl = fillUrl(page.urls.turn, { turn_id: page.columns[index].tip });
  $('back-to-branch').href = branchUrl;
  $('back-to-tree').href = `${branchUrl}#tree`;
  render();
  // The button pressed is gone: focus goes to the head of the new base.
  document.querySelector(`#column-${index} .column-head`)?.focus({ preventScroll: true });
}

// Below 1024 px the columns scroll sideways: the bar shows which one is in view and moves to one.
function scroller() {
  return getComputedStyle(columnsBox).overflowX === 'auto';
}

function showColumn(index, smooth) {
  const column = $(`column-${index}`);
  if (!column || !scroller()) return;
  const reduce = matchMedia('(prefers-reduced-motion: reduce)').matches;
  const behavior = smooth && !reduce ? 'smooth' : 'auto';
  columnsBox.scrollTo({ left: column.offsetLeft - columnsBox.offsetLeft, behavior });
  // Read far down a long branch, a shorter one would show only blank: go up to its last turns.
  const bar = tabsBox.getBoundingClientRect().bottom;
  const end = column.getBoundingClientRect().bottom;
  if (end < bar + 80) window.scrollBy({ top: end - bar - Math.min(innerHeight / 2, column.offsetHeight), behavior });
}

// The bar marks the branches in view: one on a phone, two on a tablet.
function markInView() {
  const box = columnsBox.getBoundingClientRect();
  for (const tab of tabsBox.children) {
    const column = $(`column-${tab.dataset.column}`);
    const rect = column?.getBoundingClientRect();
    const centre = rect ? rect.left + rect.width / 2 : -1;
    tab.setAttribute('aria-pressed', String(centre >= box.left && centre <= box.right));
  }
}

let scrollQueued = false;
columnsBox.addEventListener('scroll', () => {
  if (scrollQueued) return;
  scrollQueued = true;
  requestAnimationFrame(() => {
    scrollQueued = false;
    markInView();
  });
}, { passive: true });

let queued = false;
function queueRender() {
  if (queued) return;
  queued = true;
  requestAnimationFrame(() => {
    queued = false;
    render();
  });
}

// A streaming cell's text and reasoning are redrawn at most once per animation frame.
const cellsQueued = new Set();
function queueCell(turn) {
  if (cellsQueued.has(turn.id)) return;
  cellsQueued.add(turn.id);
  requestAnimationFrame(() => {
    cellsQueued.delete(turn.id);
    const article = document.querySelector(`article[data-turn="${turn.id}"]`);
    const { base, columnIndex } = placeOf(turn.id);
    if (article) renderStreaming(turn, article, { renderReasoning: reasoningRenderer(base, columnIndex) });
  });
}

diffToggle.addEventListener('change', render);
shared.addEventListener('toggle', renderShared);

const socket = new Socket(page.urls.socket, {
  onOpen: () => {
    review.opened();
    connection.hidden = true;
    for (const turn of byId.values()) {
      if (turn.status === 'streaming') socket.send(resumeFrame(turn));
    }
  },
  onClose: (code) => {
    connection.hidden = false;
    connection.textContent =
      code === 4404 ? 'This conversation no longer exists.'
        : code === 4401 ? 'You are signed out. Sign in again to continue.'
          : 'Connection lost. Reconnecting…';
  },
  onMessage: (message) => {
    if (review.handle(message)) return;
    if (message.type === 'delta' || message.type === 'reasoning') {
      const turn = byId.get(message.turn);
      if (!turn) return;
      const result = message.type === 'delta'
        ? applyDelta(turn, message.offset, message.text, { refused: message.refused })
        : applyReasoning(turn, message.offset, message.text);
      if (result === 'gap') socket.send(resumeFrame(turn));
      else if (result === 'applied') queueCell(turn);
    } else if (message.type === 'turn.finished') {
      const turn = byId.get(message.turn.id);
      if (!turn) return;
      if (applyFinished(turn, message.turn)) queueRender();
      else socket.send(resumeFrame(turn));
    }
  },
});

// Each column's verdicts, comments and preferred branch (review-compare.js).
const review = startCompareReview({ page });

// Nothing is attached here: a file let go of on the page must not replace it.
guardFileDrops();
render();
socket.connect();
