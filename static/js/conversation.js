// The conversation page: one branch of the tree, live over the conversation's websocket.
import { Composer } from './composer.js';
import { ContextMeter, markOmitted, showCode, showRequest } from './context.js';
import { openShareDialog, Presence } from './share.js';
import { Socket } from './socket.js';
import { applyDelta, applyFinished, withTurnDefaults } from './stream.js';
import { defaultContextReply } from './tokens.js';
import { TreePanel } from './treepanel.js';
import { el, renderBody, turnElement } from './turns.js';
import { fillUrl } from './urls.js';

const page = JSON.parse(document.getElementById('page-data').textContent);
const $ = (id) => document.getElementById(id);
const transcript = $('transcript');
const connection = $('connection');
const mainButton = $('main-line');
const els = { prompt: $('prompt') };

const state = {
  turns: page.turns, // the displayed branch, root first (a long one from near its end)
  earlier: page.earlier, // what is above the first loaded turn, summarised, or null
  mine: new Map(), // request id → {kind, replies: [...]} for requests this page sent
  renderQueued: new Set(),
  mainTurn: page.conversation.main_turn,
  conversationCost: page.conversation.cost,
  contextReply: null, // the reply whose left-out turns are marked (null: the newest that left any out)
};
const modelLabels = new Map(page.models.map((m) => [m.id, m.label]));
// What this person's role allows (the server checks every action again).
const can = { write: page.conversation.can_write, manage: page.conversation.can_manage };
const csrfToken = document.querySelector('input[name=csrfmiddlewaretoken]').value;

// Every URL comes from the server (page.urls), with named slots for ids: see urls.js.
const url = {
  turn: (id) => fillUrl(page.urls.turn, { turn_id: id }),
  branch: (id) => fillUrl(page.urls.branch, { turn_id: id }),
  earlier: (id) => fillUrl(page.urls.earlier, { turn_id: id }),
  fork: (id) => fillUrl(page.urls.fork, { turn_id: id }),
  compare: (tips) => `${page.urls.compare}?tips=${tips.join(',')}`,
  compareSiblings: (id) => `${page.urls.compare}?siblings=${id}`,
  request: (id) => fillUrl(page.urls.request, { turn_id: id }),
  code: (id) => fillUrl(page.urls.code, { turn_id: id }),
  markdown: (id) => fillUrl(page.urls.export_markdown, { turn_id: id }),
  otherConversation: (id) => fillUrl(page.urls.any_conversation, { conversation_id: id }),
  otherTurn: (conversationId, turnId) => fillUrl(page.urls.any_turn, { conversation_id: conversationId, turn_id: turnId }),
};

// ---------------------------------------------------------------------------- rendering

function turnIndex(id) {
  return state.turns.findIndex((t) => t.id === id);
}

function siblingNav(turn) {
  const siblings = turn.siblings || [turn.id];
  if (siblings.length < 2) return null;
  const index = siblings.indexOf(turn.id);
  const go = (delta) => () => showBranch(siblings[index + delta], { focus: true });
  return el(
    'nav',
    { class: 'siblings', 'aria-label': 'Other versions of this turn' },
    el('button', { type: 'button', class: 'icon', 'aria-label': 'Previous version', disabled: index <= 0, onclick: go(-1), text: '‹' }),
    el('span', { class: 'sibling-count', text: `${index + 1} / ${siblings.length}` }),
    el('button', { type: 'button', class: 'icon', 'aria-label': 'Next version', disabled: index >= siblings.length - 1, onclick: go(1), text: '›' }),
    el('a', { class: 'link-button compare-link', href: url.compareSiblings(turn.id), text: 'Compare' }),
  );
}

function action(label, onclick, extra = {}) {
  return el('button', { type: 'button', class: 'link-button', onclick, text: label, ...extra });
}

function turnActions(turn) {
  const streaming = turn.status === 'streaming';
  const actions = [];
  if (can.write && turn.role === 'user') actions.push(action('✎ Edit', () => startEdit(turn), { 'data-action': 'edit' }));
  if (can.write && turn.role === 'assistant' && !streaming) {
    actions.push(action('↻ Regenerate', () => composer.regenerate(turn), { 'data-action': 'regenerate' }));
  }
  if (can.write && !streaming) actions.push(action('↳ Reply here', () => composer.attach(turn), { 'data-action': 'attach' }));
  if (turn.content) actions.push(action('Copy', (e) => copyText(turn, e.target)));
  if (turn.role === 'assistant' && !streaming) {
    actions.push(action('What the model saw', () => showRequest(url.request(turn.id), url.code(turn.id)), { 'data-action': 'request' }));
    actions.push(action('Get code', () => showCode(url.code(turn.id)), { 'data-action': 'code' }));
  }
  if (!streaming) {
    actions.push(action('Fork', () => fork(turn), { 'data-action': 'fork' }));
    if (can.manage) actions.push(action('Delete', () => deleteTurn(turn), { class: 'link-button danger-text', 'data-action': 'delete' }));
  }
  actions.push(el('a', { class: 'link-button', href: url.turn(turn.id), text: 'Link' }));
  return actions;
}

function forkLinks(turn) {
  if (!turn.forks) return null;
  return el('div', { class: 'forks muted small' }, 'Forked into ',
    ...turn.forks.flatMap((f, i) => [i ? ', ' : null, el('a', { href: url.otherConversation(f.id), text: f.title || 'a new conversation' })]).filter(Boolean));
}

function contextChip(turn) {
  const omitted = turn.context?.omitted?.length;
  if (!omitted) return null;
  return el('button', {
    type: 'button',
    class: 'badge context-chip',
    title: 'The branch had outgrown the model’s window: these older turns were not sent with this reply’s request. Click to mark them.',
    onclick: () => {
      state.contextReply = turn.id;
      markOmitted(transcript, state.turns, turn.id);
      const first = transcript.querySelector('.turn-omitted');
      if (first) first.scrollIntoView({ block: 'center' });
    },
    text: `${omitted} turn${omitted === 1 ? '' : 's'} left out`,
  });
}

function renderTurn(turn) {
  const node = turnElement(turn, { modelLabels, head: [contextChip(turn), siblingNav(turn)], actions: turnActions(turn) });
  const forks = forkLinks(turn);
  if (forks) node.append(forks);
  return node;
}

function earlierButton() {
  if (!state.earlier) return null;
  const count = state.earlier.count;
  return el('div', { class: 'earlier' },
    el('button', { type: 'button', class: 'button ghost compact', id: 'show-earlier', onclick: showEarlier,
      text: `Show earlier turns (${new Intl.NumberFormat('en-US').format(count)} more)` }));
}

// A long branch opens on its end; earlier turns load a window at a time, keeping the view still.
async function showEarlier() {
  const first = state.turns[0];
  const response = await fetch(url.earlier(first.id), { headers: { Accept: 'application/json' } });
  if (!response.ok) {
    composer.showError(`Could not load earlier turns (${response.status}).`);
    return;
  }
  const data = await response.json();
  if (state.turns[0] !== first) return; // the branch changed meanwhile
  const root = document.scrollingElement;
  const fromBottom = root.scrollHeight - root.scrollTop;
  state.turns = [...data.turns, ...state.turns];
  state.earlier = data.earlier;
  renderTranscript();
  root.scrollTop = root.scrollHeight - fromBottom;
}

function renderTranscript() {
  const atBottom = isNearBottom();
  transcript.replaceChildren(...[earlierButton(), ...state.turns.map(renderTurn)].filter(Boolean));
  if (!state.turns.length) {
    transcript.append(
      el('div', { class: 'empty-transcript' },
        el('h2', { text: 'Start the conversation' }),
        el('p', { class: 'muted', text: 'Your first message becomes the root of the tree. Any turn can be branched later.' })),
    );
  }
  afterChange();
  if (atBottom) scrollToBottom();
}

function rerenderTurn(turn) {
  const old = transcript.querySelector(`[data-turn="${turn.id}"]`);
  if (old) old.replaceWith(renderTurn(turn));
  afterChange();
}

function afterChange() {
  composer.update(streamingTurn());
  const contextReply = state.turns.some((t) => t.id === state.contextReply) ? state.contextReply : defaultContextReply(state.turns);
  markOmitted(transcript, state.turns, contextReply);
  updateMeter();
  const leafTurn = state.turns[state.turns.length - 1];
  exportMarkdown.setAttribute('aria-disabled', String(!leafTurn));
  exportMarkdown.href = leafTurn ? url.markdown(leafTurn.id) : '#';
  treePanel.setBranch(state.turns.map((t) => t.id));
  const leaf = state.turns[state.turns.length - 1];
  const onMain = state.mainTurn != null && state.turns.some((t) => t.id === state.mainTurn);
  mainButton.hidden = !leaf || !can.write;
  mainButton.classList.toggle('active', onMain);
  mainButton.textContent = onMain ? '★ Main line' : '☆ Star as main line';
  mainButton.title = onMain ? 'This branch is the main line; click to unstar it' : 'Open this conversation on this branch';
}

// Streaming deltas re-render the reply's Markdown at most once per animation frame.
function queueBodyRender(turn) {
  if (state.renderQueued.has(turn.id)) return;
  state.renderQueued.add(turn.id);
  requestAnimationFrame(() => {
    state.renderQueued.delete(turn.id);
    const body = transcript.querySelector(`[data-turn="${turn.id}"] .turn-body`);
    if (!body) return;
    const atBottom = isNearBottom();
    renderBody(turn, body);
    if (atBottom) scrollToBottom();
  });
}

function isNearBottom() {
  const root = document.scrollingElement;
  return root.scrollHeight - root.scrollTop - root.clientHeight < 120;
}

function scrollToBottom() {
  const root = document.scrollingElement;
  root.scrollTop = root.scrollHeight;
}

async function copyText(turn, button) {
  try {
    await navigator.clipboard.writeText(turn.content);
    button.textContent = 'Copied';
  } catch (_) {
    button.textContent = 'Copy failed';
  }
  setTimeout(() => (button.textContent = 'Copy'), 1500);
}

// ---------------------------------------------------------------------------- branch operations

let branchRequest = 0;

async function showBranch(turnId, { push = true, replace = false, focus = false } = {}) {
  const ticket = ++branchRequest; // only the latest request shows its branch
  const response = await fetch(url.branch(turnId), { headers: { Accept: 'application/json' } });
  if (ticket !== branchRequest) return;
  if (!response.ok) {
    composer.showError(response.status === 404 ? 'That turn no longer exists.' : `Could not load the branch (${response.status}).`);
    return;
  }
  const data = await response.json();
  if (ticket !== branchRequest) return;
  state.turns = data.turns;
  state.earlier = data.earlier;
  state.conversationCost = data.conversation.cost;
  if (composer.attached && turnIndex(composer.attached.id) < 0) composer.attach(null);
  renderTranscript();
  if (replace) history.replaceState({ turn: turnId }, '', url.turn(turnId));
  else if (push) history.pushState({ turn: turnId }, '', url.turn(turnId));
  resumeStreaming();
  if (focus) focusTurn(turnId);
}

window.addEventListener('popstate', () => {
  const match = location.pathname.match(/\/t\/(\d+)\/$/);
  if (match) showBranch(Number(match[1]), { push: false });
  else location.reload();
});

function startEdit(turn) {
  const article = transcript.querySelector(`[data-turn="${turn.id}"]`);
  const body = article?.querySelector('.turn-body');
  if (!body) return; // already being edited
  const editor = el('textarea', { class: 'edit-box', 'aria-label': 'Edit the prompt', rows: Math.min(12, turn.content.split('\n').length + 1) });
  editor.value = turn.content;
  const save = () => {
    if (composer.edit(turn, editor.value)) form.replaceWith(body);
  };
  const form = el('div', { class: 'edit-form' },
    editor,
    el('div', { class: 'edit-bar' },
      el('span', { class: 'muted small', text: 'Saving makes a new version beside this one; the original stays.' }),
      el('span', { class: 'spacer' }),
      el('button', { type: 'button', class: 'button ghost compact', onclick: () => form.replaceWith(body), text: 'Cancel' }),
      el('button', { type: 'button', class: 'button primary compact', onclick: save, text: 'Save & send' })));
  editor.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      save();
    } else if (event.key === 'Escape') {
      form.replaceWith(body);
    }
  });
  body.replaceWith(form);
  editor.focus();
}

function fork(turn) {
  const form = el('form', { method: 'post', action: url.fork(turn.id), hidden: true },
    el('input', { type: 'hidden', name: 'csrfmiddlewaretoken', value: csrfToken }));
  document.body.append(form);
  form.submit();
}

function deleteTurn(turn) {
  const below = state.turns.length - turnIndex(turn.id) - 1;
  const what = below > 0 ? `this turn and everything below it (at least ${below} more on this branch)` : 'this turn';
  if (!confirm(`Delete ${what}? Other branches above it stay.`)) return;
  socket.send({ action: 'delete', turn: turn.id });
}

mainButton.addEventListener('click', () => {
  const onMain = mainButton.classList.contains('active');
  socket.send({ action: 'main', turn: onMain ? null : state.turns[state.turns.length - 1].id });
});

// ---------------------------------------------------------------------------- keyboard

function focusTurn(id) {
  const article = transcript.querySelector(`[data-turn="${id}"]`);
  if (article) {
    article.focus({ preventScroll: true });
    article.scrollIntoView({ block: 'nearest' });
  }
}

function focusedTurn() {
  const article = document.activeElement?.closest?.('article.turn');
  return article ? state.turns[turnIndex(Number(article.dataset.turn))] : null;
}

document.addEventListener('keydown', (event) => {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target.closest('textarea, input, select, [contenteditable]')) return;
  const current = focusedTurn();
  const index = current ? turnIndex(current.id) : state.turns.length;
  if (event.key === 'j' || event.key === 'k') {
    const next = state.turns[Math.max(0, Math.min(state.turns.length - 1, index + (event.key === 'j' ? 1 : -1)))];
    if (next) focusTurn(next.id);
  } else if ((event.key === 'ArrowLeft' || event.key === 'ArrowRight' || event.key === 'h' || event.key === 'l') && current) {
    const siblings = current.siblings || [current.id];
    const step = event.key === 'ArrowLeft' || event.key === 'h' ? -1 : 1;
    const sibling = siblings[siblings.indexOf(current.id) + step];
    if (sibling) showBranch(sibling, { focus: true });
  } else if (event.key === 'e' && current?.role === 'user') {
    startEdit(current);
  } else if (event.key === 'r' && current?.role === 'assistant' && current.status !== 'streaming') {
    composer.regenerate(current);
  } else if (event.key === 't') {
    treePanel.toggle();
  } else if (event.key === '/') {
    els.prompt.focus();
  } else {
    return;
  }
  event.preventDefault();
});

// ---------------------------------------------------------------------------- socket events

const socket = new Socket(page.urls.socket, {
  onMessage: handleMessage,
  onOpen: () => {
    presence.reset();
    setConnection('');
    composer.connected();
    resumeStreaming();
  },
  onClose: (code, reason) => {
    if (code === 4401) setConnection('You are signed out. Sign in again to continue.', true);
    else if (code === 4404) setConnection('This conversation no longer exists, or you no longer have access to it.', true);
    else setConnection('Connection lost. Reconnecting…');
    // 1009 (Message Too Big): the server refused a frame beyond its ceiling and closed the socket.
    // Said in the composer, which keeps it after the socket reconnects.
    if (code === 1009) {
      composer.showError(
        `The server refused a message that large and closed the connection${reason ? ` (${reason})` : ''}. `
        + 'It was not sent: shorten it, then send it again.',
      );
    }
  },
});

function setConnection(message, final = false) {
  connection.hidden = !message;
  connection.textContent = message;
  connection.classList.toggle('final', final);
}

function resumeStreaming() {
  for (const turn of state.turns) {
    if (turn.status === 'streaming') socket.send({ action: 'resume', turn: turn.id, offset: turn.content.length });
  }
}

function handleMessage(message) {
  if (presence.handle(message)) return;
  switch (message.type) {
    case 'turn.created': {
      const turn = withTurnDefaults(message.turn);
      treePanel.upsert(turn);
      return onTurnCreated(turn, message.request_id, message.title);
    }
    case 'delta':
      return onDelta(message);
    case 'turn.finished':
      treePanel.upsert(message.turn);
      return onFinished(message.turn);
    case 'turn.deleted':
      treePanel.reload();
      return onDeleted(message);
    case 'conversation.updated':
      state.mainTurn = message.main_turn;
      return afterChange();
    case 'error':
      if (message.request_id) state.mine.delete(message.request_id);
      composer.showError(message.error);
      composer.update(streamingTurn());
  }
}

function onTurnCreated(turn, requestId, title) {
  if (title) setTitle(title);
  const request = state.mine.get(requestId);
  const parentIndex = turn.parent == null ? -1 : turnIndex(turn.parent);
  if (request && turn.role === 'assistant') {
    request.replies.push(turn.id);
    if (request.replies.length === request.expected && request.expected > 1) {
      // A fan-out: the replies stream on, side by side.
      location.href = url.compare(request.replies);
      return;
    }
  }
  if (turn.parent != null && parentIndex < 0) {
    // On a branch this page does not show: ours (sent from another branch), so go there.
    if (request && turn.role === 'assistant') showBranch(turn.id);
    if (request && turn.role === 'user') composer.sent(request.kind);
    return;
  }
  if (turn.parent == null && state.earlier) {
    // A new root beside a root that is not loaded: ours opens on its own branch.
    if (request && turn.role === 'assistant') showBranch(turn.id);
    if (request && turn.role === 'user') composer.sent(request.kind);
    return;
  }
  const displayedSibling = state.turns[parentIndex + 1];
  const siblings = displayedSibling ? [...displayedSibling.siblings, turn.id] : [turn.id];
  if (request || !displayedSibling) {
    // Our own new turn, or the next turn on the branch we are looking at: show it.
    state.turns = state.turns.slice(0, parentIndex + 1);
    state.turns.push({ ...turn, siblings });
    if (request && turn.role === 'user') composer.sent(request.kind);
    renderTranscript();
    if (request) {
      history.replaceState({ turn: turn.id }, '', url.turn(turn.id));
      scrollToBottom();
    }
  } else {
    // Somebody else branched here: only the sibling count changes.
    displayedSibling.siblings = siblings;
    rerenderTurn(displayedSibling);
  }
}

function onDelta({ turn: id, offset, text }) {
  const turn = state.turns[turnIndex(id)];
  if (!turn) return;
  const result = applyDelta(turn, offset, text);
  if (result === 'gap') socket.send({ action: 'resume', turn: id, offset: turn.content.length });
  else if (result === 'applied') queueBodyRender(turn);
}

function onFinished(update) {
  if (update.cost != null) state.conversationCost = (state.conversationCost ?? 0) + update.cost;
  const turn = state.turns[turnIndex(update.id)];
  if (!turn) {
    updateMeter();
    return;
  }
  if (applyFinished(turn, update)) rerenderTurn(turn);
  else socket.send({ action: 'resume', turn: turn.id, offset: turn.content.length });
}

function onDeleted({ turn: id, parent, main_turn: mainTurn }) {
  state.mainTurn = mainTurn;
  const index = turnIndex(id);
  if (index >= 0) {
    if (parent != null) showBranch(parent, { push: false, replace: true });
    else location.assign(page.urls.conversation);
    return;
  }
  // A sibling of a displayed turn may have gone.
  for (const turn of state.turns) {
    if (turn.siblings?.includes(id)) {
      turn.siblings = turn.siblings.filter((s) => s !== id);
      rerenderTurn(turn);
    }
  }
}

function setTitle(title) {
  const input = document.querySelector('.rename-form input[name=title]');
  if (input && !input.value) input.value = title;
  const link = document.querySelector('.conversation-list a.active');
  if (link) link.textContent = title;
  document.title = `${title} · Workbench`;
}

function streamingTurn() {
  return state.turns.findLast((t) => t.status === 'streaming');
}

// ---------------------------------------------------------------------------- wiring

const composer = new Composer({
  page,
  socket,
  modelLabels,
  lastTurn: () => state.turns[state.turns.length - 1],
  track: (requestId, kind, expected) => state.mine.set(requestId, { kind, expected, replies: [] }),
  streamingTurn,
  onChange: () => updateMeter(),
});

const presence = new Presence($('presence'), page.me);
$('share-button')?.addEventListener('click', () => openShareDialog({
  createUrl: page.urls.share,
  listUrl: page.urls.shares,
  csrfToken,
  branchTip: state.turns.length ? state.turns[state.turns.length - 1].id : null,
}));
if (!can.write) composer.readOnly('You are a viewer in this workspace: read, or fork a turn to continue it in your own workspace.');

const meter = new ContextMeter({
  root: $('context-meter'),
  models: page.models,
  tokensUrl: page.urls.tokens,
  csrfToken,
});
const exportMarkdown = $('export-markdown');
const exportMenu = $('export-menu');
// The menu closes once an export is chosen, on a click elsewhere, and on Escape.
exportMenu.addEventListener('click', (event) => {
  if (event.target.closest('a')) exportMenu.open = false;
});
document.addEventListener('click', (event) => {
  if (!exportMenu.contains(event.target)) exportMenu.open = false;
});
exportMenu.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') exportMenu.open = false;
});

function updateMeter() {
  const modelId = $('model').value;
  // The meter measures the branch the next message continues: up to the attached turn, if any.
  const attachedAt = composer.attached ? turnIndex(composer.attached.id) : -1;
  const turns = attachedAt >= 0 ? state.turns.slice(0, attachedAt + 1) : state.turns;
  meter.update({ turns, modelId, conversationCost: state.conversationCost, earlier: state.earlier });
  meter.countPending({ modelId, system: $('system-prompt').value, draft: els.prompt.value });
}

for (const id of ['model', 'system-prompt', 'prompt', 'max-tokens']) {
  $(id).addEventListener('input', updateMeter);
}

const treePanel = new TreePanel({
  panel: $('tree-panel'),
  toggleButton: $('tree-toggle'),
  treeUrl: page.urls.tree,
  onSelect: (id) => showBranch(id, { focus: true }),
  onCompare: (tips) => location.assign(url.compare(tips)),
});

if (page.conversation.forked_from) {
  const source = page.conversation.forked_from;
  transcript.before(el('div', { class: 'fork-origin muted small' }, 'Forked from ',
    el('a', { href: url.otherTurn(source.conversation, source.turn), text: source.title })));
}

renderTranscript();
scrollToBottom();
els.prompt.focus();
socket.connect();
