// A comparison: the path the branches share, once, then one column per branch, turns at the same
// depth on the same row; replies in a row get a word-level diff against the first column.
import { Socket } from './socket.js';
import { latency, settingsText } from './format.js';
import { applyDelta, applyFinished } from './stream.js';
import { el, renderBody, turnElement } from './turns.js';
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

function cell(turn, rowIndex, columnIndex) {
  if (!turn) return el('div', { class: 'cell empty', 'aria-hidden': 'true' });
  const node = turnElement(turn, { modelLabels, lazy: false });
  node.classList.add('cell');
  const body = node.querySelector('.turn-body');
  const base = page.columns[0].turns[rowIndex];
  if (turn.status === 'streaming') {
    node.append(el('button', { type: 'button', class: 'link-button', onclick: () => socket.send({ action: 'stop', turn: turn.id }), text: '■ Stop' }));
  } else if (diffToggle.checked && columnIndex > 0 && base && base.role === turn.role) {
    body.classList.add('diff');
    body.innerHTML = diffHtml(window.Diff.diffWords, base.content, turn.content);
  }
  return node;
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

diffToggle.addEventListener('change', render);

const socket = new Socket(page.urls.socket, {
  onOpen: () => {
    connection.hidden = true;
    for (const turn of byId.values()) {
      if (turn.status === 'streaming') socket.send({ action: 'resume', turn: turn.id, offset: turn.content.length });
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
    if (message.type === 'delta') {
      const turn = byId.get(message.turn);
      if (!turn) return;
      const result = applyDelta(turn, message.offset, message.text);
      if (result === 'gap') socket.send({ action: 'resume', turn: turn.id, offset: turn.content.length });
      else if (result === 'applied') {
        const body = columnsBox.querySelector(`[data-turn="${turn.id}"] .turn-body`);
        if (body) renderBody(turn, body);
      }
    } else if (message.type === 'turn.finished') {
      const turn = byId.get(message.turn.id);
      if (!turn) return;
      if (applyFinished(turn, message.turn)) queueRender();
      else socket.send({ action: 'resume', turn: turn.id, offset: turn.content.length });
    }
  },
});

render();
socket.connect();
