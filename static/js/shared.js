// The shared page: a read-only branch of what a link shares, live over the link's socket when the
// link is live. It knows nothing beyond what the server put in it.
import { announcer } from './announcer.js';
import { fileUrl } from './attachments.js';
import { attachmentsBlock } from './attachments-view.js';
import { guardFileDrops } from './file-drops.js';
import { replyNews } from './format.js';
import { Socket } from './socket.js';
import { applyDelta, applyFinished, applyReasoning, resumeFrame, withTurnDefaults } from './stream.js';
import { el, renderStreaming, turnElement } from './turns.js';
import { fillUrl } from './urls.js';

const page = JSON.parse(document.getElementById('page-data').textContent);
const transcript = document.getElementById('transcript');
const connection = document.getElementById('connection');
const continueTurn = document.getElementById('continue-turn');
const state = { turns: page.turns, queued: new Set() };
const modelLabels = new Map();
const announce = announcer(document.getElementById('announcer'));
const GONE = 'This link is no longer available: it was turned off or has expired. Ask the person who shared it for a new link.';

const branchUrl = (id) => fillUrl(page.urls.branch, { turn_id: id });
// A shared prompt's files come through the link (/s/<token>/t/<turn>/files/<n>/).
const attachments = (turn) => attachmentsBlock(turn, (index, options) => fileUrl(page.urls.turn_file, turn.id, index, options));
const indexOf = (id) => state.turns.findIndex((t) => t.id === id);

function siblingNav(turn) {
  const siblings = turn.siblings || [turn.id];
  if (siblings.length < 2) return null;
  const index = siblings.indexOf(turn.id);
  const go = (delta) => () => showBranch(siblings[index + delta]);
  return el('nav', { class: 'siblings', 'aria-label': 'Other versions of this turn' },
    el('button', { type: 'button', class: 'icon', 'aria-label': 'Previous version', disabled: index <= 0, onclick: go(-1), text: '‹' }),
    el('span', { class: 'sibling-count', text: `${index + 1} / ${siblings.length}` }),
    el('button', { type: 'button', class: 'icon', 'aria-label': 'Next version', disabled: index >= siblings.length - 1, onclick: go(1), text: '›' }));
}

function render() {
  transcript.replaceChildren(...state.turns.map((turn) => turnElement(turn, { modelLabels, head: [siblingNav(turn)], attachments })));
  if (!state.turns.length) transcript.append(el('p', { class: 'muted empty-transcript', text: 'Nothing has been said here yet.' }));
  const last = state.turns[state.turns.length - 1];
  if (continueTurn) {
    continueTurn.value = last ? last.id : '';
    continueTurn.form.hidden = !last || last.status === 'streaming';
  }
}

function rerender(turn) {
  const old = transcript.querySelector(`[data-turn="${turn.id}"]`);
  if (old) old.replaceWith(turnElement(turn, { modelLabels, head: [siblingNav(turn)], attachments }));
  render();
}

async function showBranch(id) {
  const response = await fetch(branchUrl(id), { headers: { Accept: 'application/json' } });
  if (!response.ok) {
    gone(response.status === 404 ? GONE : 'Could not load that branch. Reload the page to try again.');
    return;
  }
  state.turns = (await response.json()).turns;
  render();
  resumeStreaming();
}

function gone(message) {
  connection.hidden = false;
  connection.classList.add('final');
  connection.textContent = message;
  document.body.dataset.shareGone = 'true';
  transcript.replaceChildren(el('p', { class: 'muted empty-transcript', text: 'What was shared here is no longer available.' }));
  if (continueTurn) continueTurn.form.hidden = true;
}

function resumeStreaming() {
  if (!socket) return;
  for (const turn of state.turns) {
    if (turn.status === 'streaming') socket.send(resumeFrame(turn));
  }
}

function queueRender(turn) {
  if (state.queued.has(turn.id)) return;
  state.queued.add(turn.id);
  requestAnimationFrame(() => {
    state.queued.delete(turn.id);
    const article = transcript.querySelector(`[data-turn="${turn.id}"]`);
    if (article) renderStreaming(turn, article);
  });
}

function onMessage(message) {
  if (message.type === 'share.gone') return gone(message.error);
  // Comments (when the link includes them) are review-shared.js's to show.
  if (message.type.startsWith('review.')) {
    document.dispatchEvent(new CustomEvent('share:review', { detail: message }));
    return;
  }
  if (message.type === 'turn.created') {
    const turn = { ...withTurnDefaults(message.turn), siblings: [message.turn.id] };
    const parentAt = turn.parent == null ? -1 : indexOf(turn.parent);
    // A turn continuing the branch on screen joins it; others wait for their branch to be opened.
    if (parentAt === state.turns.length - 1) {
      state.turns.push(turn);
      render();
      if (turn.role === 'assistant' && turn.status === 'streaming') announce(replyNews(turn, 'started', modelLabels));
    } else if (parentAt >= 0 && state.turns[parentAt + 1]) {
      const next = state.turns[parentAt + 1];
      next.siblings = [...(next.siblings || [next.id]), turn.id];
      rerender(next);
    }
    return;
  }
  const turn = state.turns[indexOf(message.turn?.id ?? message.turn)];
  if (!turn) return;
  if (message.type === 'delta' || message.type === 'reasoning') {
    const result = message.type === 'delta'
      ? applyDelta(turn, message.offset, message.text, { refused: message.refused })
      : applyReasoning(turn, message.offset, message.text);
    if (result === 'gap') socket.send(resumeFrame(turn));
    else if (result === 'applied') queueRender(turn);
  } else if (message.type === 'turn.finished') {
    if (applyFinished(turn, message.turn)) {
      rerender(turn);
      if (turn.role === 'assistant') announce(replyNews(turn, 'ended', modelLabels));
    } else {
      socket.send(resumeFrame(turn));
    }
  } else if (message.type === 'turn.deleted') {
    if (message.parent != null && indexOf(message.parent) >= 0) showBranch(message.parent);
    else gone('What was shared here was deleted.');
  }
}

const socket = page.urls.socket
  ? new Socket(page.urls.socket, {
    onMessage,
    onOpen: () => {
      connection.hidden = true;
      resumeStreaming();
    },
    onClose: (code) => {
      if (code === 4404) {
        if (document.body.dataset.shareGone !== 'true') gone(GONE);
      } else {
        connection.hidden = false;
        connection.textContent = 'Connection lost. Reconnecting…';
      }
    },
  })
  : null;

// A reader cannot attach anything: a file let go of on the page must not replace it.
guardFileDrops();
render();
if (socket) socket.connect();
