// The conversation page: one branch of the tree, live over the conversation's websocket.
import { renderMarkdown } from './markdown.js';
import { Socket } from './socket.js';

const page = JSON.parse(document.getElementById('page-data').textContent);
const $ = (id) => document.getElementById(id);
const els = {
  transcript: $('transcript'),
  composer: $('composer'),
  prompt: $('prompt'),
  model: $('model'),
  send: $('send'),
  stop: $('stop'),
  error: $('composer-error'),
  settingsToggle: $('settings-toggle'),
  settings: $('settings'),
  systemPrompt: $('system-prompt'),
  temperature: $('temperature'),
  maxTokens: $('max-tokens'),
  connection: $('connection'),
};

const state = {
  turns: page.turns, // the displayed branch, root first
  mine: new Set(), // request ids this page sent and has not seen answered
  renderQueued: new Set(),
};
const modelLabels = new Map(page.models.map((m) => [m.id, m.label]));

// ---------------------------------------------------------------------------- rendering

function turnIndex(id) {
  return state.turns.findIndex((t) => t.id === id);
}

function formatSeconds(ms) {
  return ms < 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

function metaText(turn) {
  if (turn.role !== 'assistant') return '';
  const parts = [];
  if (turn.input_tokens != null || turn.output_tokens != null) {
    parts.push(`${turn.input_tokens ?? '?'} in · ${turn.output_tokens ?? '?'} out`);
  }
  if (turn.first_token_at && turn.created_at) {
    parts.push(`first token ${formatSeconds(Date.parse(turn.first_token_at) - Date.parse(turn.created_at))}`);
  }
  if (turn.finished_at && turn.created_at) {
    parts.push(`total ${formatSeconds(Date.parse(turn.finished_at) - Date.parse(turn.created_at))}`);
  }
  const s = turn.settings || {};
  if (s.temperature != null) parts.push(`temp ${s.temperature}`);
  if (s.max_tokens != null) parts.push(`max ${s.max_tokens}`);
  return parts.join(' · ');
}

function el(tag, attrs = {}, ...children) {
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

function siblingNav(turn) {
  const siblings = turn.siblings || [turn.id];
  if (siblings.length < 2) return null;
  const index = siblings.indexOf(turn.id);
  const go = (delta) => () => showBranch(siblings[index + delta]);
  return el(
    'nav',
    { class: 'siblings', 'aria-label': 'Other versions of this turn' },
    el('button', { type: 'button', class: 'icon', 'aria-label': 'Previous version', disabled: index <= 0, onclick: go(-1), text: '‹' }),
    el('span', { class: 'sibling-count', text: `${index + 1} / ${siblings.length}` }),
    el('button', { type: 'button', class: 'icon', 'aria-label': 'Next version', disabled: index >= siblings.length - 1, onclick: go(1), text: '›' }),
  );
}

function renderBody(turn, body) {
  if (turn.role === 'assistant') {
    body.innerHTML = renderMarkdown(turn.content);
    if (turn.status === 'streaming') body.append(el('span', { class: 'caret', 'aria-hidden': 'true' }));
  } else {
    body.textContent = turn.content;
  }
}

function turnElement(turn) {
  const label =
    turn.role === 'user' ? 'You' : turn.role === 'system' ? 'System' : modelLabels.get(`${turn.provider}:${turn.model}`) || turn.model || 'Assistant';
  const status = turn.status !== 'complete' ? el('span', { class: `badge status-${turn.status}`, text: turn.status }) : null;
  const body = el('div', { class: turn.role === 'assistant' ? 'turn-body markdown' : 'turn-body plain' });
  renderBody(turn, body);
  const actions = el('div', { class: 'turn-actions' });
  if (turn.role === 'assistant' && turn.status !== 'streaming') {
    actions.append(
      el('button', { type: 'button', class: 'link-button', 'data-action': 'regenerate', onclick: () => regenerate(turn), text: '↻ Regenerate' }),
    );
  }
  if (turn.content) {
    actions.append(el('button', { type: 'button', class: 'link-button', onclick: (e) => copyText(turn, e.target), text: 'Copy' }));
  }
  actions.append(el('a', { class: 'link-button', href: turnUrl(turn.id), text: 'Link' }));
  return el(
    'article',
    { class: `turn turn-${turn.role}`, 'data-turn': turn.id, 'data-status': turn.status },
    el('header', { class: 'turn-head' },
      el('span', { class: 'role', text: label }),
      status,
      el('span', { class: 'meta', text: metaText(turn) }),
      el('span', { class: 'spacer' }),
      siblingNav(turn)),
    body,
    turn.error ? el('div', { class: 'turn-error', role: 'alert', text: turn.error }) : null,
    actions,
  );
}

function renderTranscript() {
  const atBottom = isNearBottom();
  els.transcript.replaceChildren(...state.turns.map(turnElement));
  if (!state.turns.length) {
    els.transcript.append(
      el('div', { class: 'empty-transcript' },
        el('h2', { text: 'Start the conversation' }),
        el('p', { class: 'muted', text: 'Your first message becomes the root of the tree. Any turn can be branched later.' })),
    );
  }
  updateComposer();
  if (atBottom) scrollToBottom();
}

function rerenderTurn(turn) {
  const old = els.transcript.querySelector(`[data-turn="${turn.id}"]`);
  if (old) old.replaceWith(turnElement(turn));
  updateComposer();
}

// Streaming deltas re-render the reply's Markdown at most once per animation frame.
function queueBodyRender(turn) {
  if (state.renderQueued.has(turn.id)) return;
  state.renderQueued.add(turn.id);
  requestAnimationFrame(() => {
    state.renderQueued.delete(turn.id);
    const body = els.transcript.querySelector(`[data-turn="${turn.id}"] .turn-body`);
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

function turnUrl(id) {
  return page.urls.turn.replace(/\/0\/$/, `/${id}/`);
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

// ---------------------------------------------------------------------------- branches

async function showBranch(turnId, { push = true } = {}) {
  const response = await fetch(page.urls.branch.replace(/\/0\/branch\.json$/, `/${turnId}/branch.json`), {
    headers: { Accept: 'application/json' },
  });
  if (!response.ok) {
    showError(response.status === 404 ? 'That turn no longer exists.' : `Could not load the branch (${response.status}).`);
    return;
  }
  const data = await response.json();
  state.turns = data.turns;
  renderTranscript();
  if (push) history.pushState({ turn: turnId }, '', turnUrl(turnId));
  resumeStreaming();
}

window.addEventListener('popstate', () => {
  const match = location.pathname.match(/\/t\/(\d+)\/$/);
  if (match) showBranch(Number(match[1]), { push: false });
  else location.reload();
});

// ---------------------------------------------------------------------------- socket events

const socket = new Socket(page.urls.socket, {
  onMessage: handleMessage,
  onOpen: () => {
    setConnection('');
    if (els.error.textContent.startsWith('Connecting')) showError('');
    resumeStreaming();
  },
  onClose: (code) => {
    if (code === 4401) setConnection('You are signed out. Sign in again to continue.', true);
    else if (code === 4404) setConnection('This conversation no longer exists.', true);
    else setConnection('Connection lost. Reconnecting…');
  },
});

function setConnection(message, final = false) {
  els.connection.hidden = !message;
  els.connection.textContent = message;
  els.connection.classList.toggle('final', final);
}

function resumeStreaming() {
  for (const turn of state.turns) {
    if (turn.status === 'streaming') socket.send({ action: 'resume', turn: turn.id, offset: turn.content.length });
  }
}

function handleMessage(message) {
  switch (message.type) {
    case 'turn.created':
      return onTurnCreated(message.turn, message.request_id, message.title);
    case 'delta':
      return onDelta(message);
    case 'turn.finished':
      return onFinished(message.turn);
    case 'error':
      if (message.request_id) state.mine.delete(message.request_id);
      showError(message.error);
      updateComposer();
      return;
  }
}

function onTurnCreated(turn, requestId, title) {
  if (title) setTitle(title);
  const mine = state.mine.has(requestId);
  const parentIndex = turn.parent == null ? -1 : turnIndex(turn.parent);
  if (turn.parent != null && parentIndex < 0) return; // on a branch this page does not show
  const displayedSibling = state.turns[parentIndex + 1];
  const siblings = displayedSibling ? [...displayedSibling.siblings, turn.id] : [turn.id];
  if (mine || !displayedSibling) {
    // Our own new turn, or the next turn on the branch we are looking at: show it.
    state.turns = state.turns.slice(0, parentIndex + 1);
    state.turns.push({ ...turn, siblings });
    if (turn.role === 'user' && mine) els.prompt.value = '';
    if (turn.role === 'assistant') state.mine.delete(requestId);
    renderTranscript();
    if (mine) {
      history.replaceState({ turn: turn.id }, '', turnUrl(turn.id));
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
  const have = turn.content.length;
  if (offset > have) {
    // A frame went missing: ask for everything after what we have.
    socket.send({ action: 'resume', turn: id, offset: have });
    return;
  }
  if (offset + text.length <= have) return; // already have it
  turn.content += text.slice(have - offset);
  queueBodyRender(turn);
}

function onFinished(update) {
  const turn = state.turns[turnIndex(update.id)];
  if (!turn) return;
  Object.assign(turn, update);
  if (turn.content.length < update.length) {
    turn.status = 'streaming';
    socket.send({ action: 'resume', turn: turn.id, offset: turn.content.length });
    return;
  }
  rerenderTurn(turn);
}

function setTitle(title) {
  const input = document.querySelector('.rename-form input[name=title]');
  if (input && !input.value) input.value = title;
  const link = document.querySelector('.conversation-list a.active');
  if (link) link.textContent = title;
  document.title = `${title} · Workbench`;
}

// ---------------------------------------------------------------------------- composer

const STORAGE_KEY = 'workbench.composer';

function loadComposerSettings() {
  for (const m of page.models) els.model.append(el('option', { value: m.id, text: m.label }));
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || '{}');
  } catch (_) {
    saved = {};
  }
  els.model.value = modelLabels.has(saved.model) ? saved.model : page.default_model;
  els.systemPrompt.value = saved.system_prompt || '';
  els.temperature.value = saved.temperature ?? '';
  els.maxTokens.value = saved.max_tokens ?? '';
  els.maxTokens.max = page.limits.max_output_tokens;
  if (!page.models.length) {
    showError(page.local_model_problem || 'No model is configured.');
    els.prompt.disabled = true;
  }
}

function composerSettings() {
  const settings = {};
  const system = els.systemPrompt.value.trim();
  if (system) settings.system_prompt = system;
  if (els.temperature.value !== '') settings.temperature = Number(els.temperature.value);
  if (els.maxTokens.value !== '') settings.max_tokens = Number(els.maxTokens.value);
  localStorage.setItem(STORAGE_KEY, JSON.stringify({ model: els.model.value, ...settings }));
  return settings;
}

function requestId() {
  const id = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
  state.mine.add(id);
  return id;
}

function streamingTurn() {
  return state.turns.findLast((t) => t.status === 'streaming');
}

function updateComposer() {
  const streaming = streamingTurn();
  els.stop.hidden = !streaming;
  els.send.hidden = Boolean(streaming);
}

function showError(message) {
  els.error.textContent = message || '';
}

function send() {
  const content = els.prompt.value;
  if (!content.trim() || streamingTurn()) return;
  if (content.length > page.limits.max_message_chars) {
    showError(`The message is ${content.length.toLocaleString()} characters; the limit is ${page.limits.max_message_chars.toLocaleString()}.`);
    return;
  }
  showError('');
  const last = state.turns[state.turns.length - 1];
  const ok = socket.send({
    action: 'send',
    request_id: requestId(),
    parent: last ? last.id : null,
    content,
    model: els.model.value,
    settings: composerSettings(),
  });
  if (!ok) showError('Not connected: your message is still here; send it again when the connection is back.');
  else if (document.body.dataset.socket !== 'open') showError('Connecting… your message goes out as soon as the connection is up.');
}

function regenerate(turn) {
  showError('');
  const ok = socket.send({
    action: 'regenerate',
    request_id: requestId(),
    turn: turn.id,
    model: els.model.value,
    settings: composerSettings(),
  });
  if (!ok) showError('Not connected.');
}

els.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  send();
});
els.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});
els.prompt.addEventListener('input', () => {
  els.prompt.style.height = 'auto';
  els.prompt.style.height = `${Math.min(els.prompt.scrollHeight, 320)}px`;
});
els.stop.addEventListener('click', () => {
  const turn = streamingTurn();
  if (turn) socket.send({ action: 'stop', turn: turn.id });
});
els.settingsToggle.addEventListener('click', () => {
  els.settings.hidden = !els.settings.hidden;
  els.settingsToggle.setAttribute('aria-expanded', String(!els.settings.hidden));
});

loadComposerSettings();
renderTranscript();
scrollToBottom();
els.prompt.focus();
socket.connect();
