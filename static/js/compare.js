// A comparison: the path the branches share, once, then one column per branch, turns at the same
// depth on the same row; replies in a row get a word-level diff against the first column, their
// text and, when a Thinking block is opened, their reasoning alike.
import { startCompareReview } from './review-compare.js';
import { Socket } from './socket.js';
import { latency, settingsText } from './format.js';
import { applyDelta, applyFinished, applyReasoning, resumeFrame } from './stream.js';
import { el, renderReasoningMarkdown, renderStreaming, turnElement } from './turns.js';
import { fillUrl } from './urls.js';
import { diffHtml } from './worddiff.js';

const page = JSON.parse(document.getElementById('page-data').textContent);
const modelLabels = new Map(page.models.map((m) => [m.id, m.label]));
const sharedBox = document.getElementById('shared');
const columnsBox = document.getElementById('columns');
const diffToggle = document.getElementById('diff-toggle');
const connection = document.getElementById('connection');
const SHARED_SHOWN = 2;

const byId = new Map();
for (const turn of page.shared) byId.set(turn.id, turn);
for (const column of page.columns) for (const turn of column.turns) byId.set(turn.id, turn);
const rows = Math.max(...page.columns.map((c) => c.turns.length));

function columnSummary(column) {
  const replies = column.turns.filter((t) => t.role === 'assistant');
  const models = [...new Set(replies.map((t) => modelLabels.get(`${t.provider}:${t.model}`) || t.model))];
  const input = replies.reduce((sum, t) => sum + (t.input_tokens || 0), 0);
  const output = replies.reduce((sum, t) => sum + (t.output_tokens || 0), 0);
  const first = replies[0];
  return el('header', { class: 'column-head' },
    el('a', { class: 'column-title', href: fillUrl(page.urls.turn, { turn_id: column.tip }), text: models.join(', ') || 'Branch' }),
    el('div', { class: 'muted small', text: [...settingsText(first?.settings), `${input} in · ${output} out`, ...(first ? latency(first) : [])].join(' · ') }));
}

// How a cell's reasoning shows: against the first column's, word by word, when both have some
// and differences are highlighted; as Markdown otherwise.
function reasoningRenderer(base, columnIndex) {
  return (turn, body) => {
    const diffing = diffToggle.checked && columnIndex > 0 && turn.status !== 'streaming' && base?.reasoning;
    body.classList.toggle('diff', Boolean(diffing));
    if (diffing) body.innerHTML = diffHtml(window.Diff.diffWords, base.reasoning, turn.reasoning);
    else renderReasoningMarkdown(turn, body);
  };
}

function cell(turn, rowIndex, columnIndex) {
  if (!turn) return el('div', { class: 'cell empty', 'aria-hidden': 'true' });
  const base = page.columns[0].turns[rowIndex];
  const node = turnElement(turn, { modelLabels, lazy: false, renderReasoning: reasoningRenderer(base, columnIndex) });
  node.classList.add('cell');
  const body = node.querySelector('.turn-body');
  if (turn.status === 'streaming') {
    node.append(el('button', { type: 'button', class: 'link-button', onclick: () => socket.send({ action: 'stop', turn: turn.id }), text: '■ Stop' }));
  } else if (diffToggle.checked && columnIndex > 0 && base && base.role === turn.role) {
    body.classList.add('diff');
    body.innerHTML = diffHtml(window.Diff.diffWords, base.content, turn.content);
  }
  return node;
}

// Where a turn stands in the columns: its renderer of reasoning follows the cell's place.
function placeOf(id) {
  for (const [columnIndex, column] of page.columns.entries()) {
    const rowIndex = column.turns.findIndex((t) => t.id === id);
    if (rowIndex >= 0) return { base: page.columns[0].turns[rowIndex], columnIndex };
  }
  return { base: null, columnIndex: 0 };
}

function render() {
  sharedBox.replaceChildren();
  const hidden = Math.max(0, page.shared.length - SHARED_SHOWN);
  if (hidden) {
    const more = el('button', { type: 'button', class: 'link-button', text: `Show ${hidden} earlier shared turn${hidden > 1 ? 's' : ''}` });
    more.addEventListener('click', () => {
      more.replaceWith(...page.shared.slice(0, hidden).map((t) => turnElement(t, { modelLabels })));
    });
    sharedBox.append(more);
  }
  for (const turn of page.shared.slice(hidden)) sharedBox.append(turnElement(turn, { modelLabels }));
  if (page.shared.length) sharedBox.append(el('div', { class: 'split-marker', text: `The branches split here · ${page.columns.length} columns` }));

  columnsBox.style.setProperty('--columns', page.columns.length);
  columnsBox.replaceChildren(
    ...page.columns.map((column, i) => {
      const head = columnSummary(column);
      head.style.gridColumn = String(i + 1);
      return head;
    }),
  );
  for (let row = 0; row < rows; row++) {
    page.columns.forEach((column, i) => {
      const node = cell(column.turns[row], row, i);
      node.style.gridRow = String(row + 2);
      node.style.gridColumn = String(i + 1);
      columnsBox.append(node);
    });
  }
}

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

render();
socket.connect();
