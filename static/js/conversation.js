// The conversation page: one branch of the tree, live over the conversation's websocket. This
// module wires the page's parts together and moves between branches; the parts live beside it:
// conversation-branch.js (the branch as data), conversation-transcript.js (showing it),
// conversation-actions.js (what a person can do), conversation-keys.js (the keyboard),
// conversation-live.js (the websocket's frames), conversation-urls.js (the page's URLs),
// model-choice.js (the composer's model, kept per conversation).
import { PageActions, TurnActions } from './conversation-actions.js';
import { Branch } from './conversation-branch.js';
import { bindKeys, bindShortcutHelp } from './conversation-keys.js';
import { LiveConversation } from './conversation-live.js';
import { scrollToBottom, Transcript } from './conversation-transcript.js';
import { conversationUrls, turnFromPath } from './conversation-urls.js';
import { Composer } from './composer.js';
import { ContextMeter, uploadIds } from './context.js';
import { announcer } from './announcer.js';
import { hasImages } from './attachments.js';
import { replyNews } from './format.js';
import { ModelChoice } from './model-choice.js';
import { startReview } from './review-page.js';
import { Presence } from './share.js';
import { Socket } from './socket.js';
import { TreePanel } from './treepanel.js';

const page = JSON.parse(document.getElementById('page-data').textContent);
const $ = (id) => document.getElementById(id);
const promptBox = $('prompt');

const branch = new Branch({
  turns: page.turns,
  earlier: page.earlier,
  mainTurn: page.conversation.main_turn,
  cost: page.conversation.cost,
});
const modelLabels = new Map(page.models.map((m) => [m.id, m.label]));
// What this person's role allows (the server checks every action again).
const can = { write: page.conversation.can_write, manage: page.conversation.can_manage };
const csrfToken = document.querySelector('input[name=csrfmiddlewaretoken]').value;
const url = conversationUrls(page.urls);

// ---------------------------------------------------------------------------- moving between branches

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
  branch.replace(data);
  if (composer.attached && branch.indexOf(composer.attached.id) < 0) composer.attach(null);
  transcript.render();
  if (replace) history.replaceState({ turn: turnId }, '', url.turn(turnId));
  else if (push) history.pushState({ turn: turnId }, '', url.turn(turnId));
  live.resume();
  if (focus) transcript.focus(turnId);
}

window.addEventListener('popstate', () => {
  const turnId = turnFromPath(location.pathname);
  if (turnId != null) showBranch(turnId, { push: false });
  else location.reload();
});

// A long branch opens on its end; earlier turns load a window at a time, keeping the view still.
async function showEarlier() {
  const first = branch.turns[0];
  const response = await fetch(url.earlier(first.id), { headers: { Accept: 'application/json' } });
  if (!response.ok) {
    composer.showError(`Could not load earlier turns (${response.status}).`);
    return;
  }
  const data = await response.json();
  if (branch.turns[0] !== first) return; // the branch changed meanwhile
  const root = document.scrollingElement;
  const fromBottom = root.scrollHeight - root.scrollTop;
  branch.prepend(data);
  transcript.render();
  root.scrollTop = root.scrollHeight - fromBottom;
}

// After any change to what is shown: everything around the transcript follows the branch.
function afterChange() {
  composer.update(branch.streamingTurn());
  transcript.markContext();
  updateMeter();
  pageActions.update();
  treePanel.setBranch(branch.turns.map((t) => t.id));
}

function updateMeter() {
  const modelId = $('model').value;
  // The meter measures the branch the next message continues: up to the attached turn, if any.
  const turns = branch.turnsUpTo(composer.attached?.id);
  meter.update({ turns, modelId, conversationCost: branch.conversationCost, earlier: branch.earlier });
  meter.countPending({ modelId, system: $('system-prompt').value, draft: promptBox.value, uploads: uploadIds(composer.tray) });
}

// ---------------------------------------------------------------------------- wiring

// The socket's frames go to `live`, made below once everything it updates exists.
const socket = new Socket(page.urls.socket, {
  onMessage: (message) => review.handle(message) || live.handle(message),
  onOpen: () => { live.opened(); review.opened(); },
  onClose: (code, reason) => live.closed(code, reason),
});

const composer = new Composer({
  page,
  socket,
  modelLabels,
  lastTurn: () => branch.leaf,
  track: (requestId, kind, expected) => branch.track(requestId, kind, expected),
  streamingTurn: () => branch.streamingTurn(),
  csrfToken,
  branchImages: () => hasImages(branch.turnsUpTo(composer.attached?.id)),
  onChange: () => updateMeter(),
});

const modelChoice = new ModelChoice({
  select: $('model'),
  conversationId: page.conversation.id,
  modelLabels,
  notice: $('model-notice'),
  branch,
});
modelChoice.restore();

const announce = announcer($('announcer'));

const presence = new Presence($('presence'), page.me);
const pageActions = new PageActions({
  branch,
  url,
  can,
  socket,
  csrfToken,
  shareUrls: { create: page.urls.share, list: page.urls.shares },
  mainButton: $('main-line'),
  shareButton: $('share-button'),
  exportMenu: $('export-menu'),
  exportMarkdown: $('export-markdown'),
});
if (!can.write) composer.readOnly('You are a viewer in this workspace: read, or fork a turn to continue it in your own workspace.');

const meter = new ContextMeter({
  root: $('context-meter'),
  models: page.models,
  tokensUrl: page.urls.tokens,
  csrfToken,
});
for (const id of ['model', 'system-prompt', 'prompt', 'max-tokens']) {
  $(id).addEventListener('input', updateMeter);
}

const treePanel = new TreePanel({
  panel: $('tree-panel'),
  toggleButton: $('tree-toggle'),
  treeUrl: page.urls.tree,
  // The legend names each model as the composer does ("OpenAI · gpt-4o"): two providers may serve
  // models of the same name.
  modelLabels: new Map(page.models.map((m) => [m.id, m.label])),
  onSelect: (id) => showBranch(id, { focus: true }),
  onCompare: (tips) => location.assign(url.compare(tips)),
});

const turnActions = new TurnActions({
  transcriptRoot: $('transcript'),
  branch,
  url,
  can,
  composer,
  socket,
  csrfToken,
  modelLabels,
  announce,
  floor: () => document.querySelector('.composer-wrap').getBoundingClientRect().top,
});
const transcript = new Transcript({
  root: $('transcript'),
  branch,
  url,
  modelLabels,
  actionsFor: (turn) => turnActions.buttons(turn),
  onShowBranch: showBranch,
  onShowEarlier: showEarlier,
  onChange: afterChange,
});

const live = new LiveConversation({
  socket,
  branch,
  connection: $('connection'),
  presence,
  composer,
  transcript,
  treePanel,
  url,
  conversationUrl: page.urls.conversation,
  showBranch,
  onChange: afterChange,
  onCost: updateMeter,
  onReplyStarted: (turn) => {
    modelChoice.hideNotice();
    announce(replyNews(turn, 'started', modelLabels));
  },
  onReplyEnded: (turn) => {
    modelChoice.ended(turn);
    announce(replyNews(turn, 'ended', modelLabels));
  },
});

const showShortcuts = bindShortcutHelp({ dialog: $('shortcuts-dialog'), button: $('shortcuts-button') });

bindKeys({
  branch,
  focusedTurn: () => transcript.focusedTurn(),
  on: {
    focus: ({ turn }) => transcript.focus(turn.id),
    version: ({ id }) => showBranch(id, { focus: true }),
    edit: ({ turn }) => turnActions.edit(turn),
    regenerate: ({ turn }) => composer.regenerate(turn),
    tree: () => treePanel.toggle(),
    write: () => promptBox.focus(),
    help: () => showShortcuts(),
  },
});

// Comments, verdicts and preferred branches (review-page.js), on every turn the transcript draws.
const review = startReview({ summaryUrl: page.urls.review, transcriptRoot: $('transcript'), showBranch, currentTurn: () => turnFromPath(location.pathname) });

if (page.conversation.forked_from) transcript.showForkOrigin(page.conversation.forked_from);

transcript.render();
// Opened on a reply that failed with the model still chosen: the note says so.
if (branch.leaf?.role === 'assistant' && branch.leaf.status === 'error') modelChoice.ended(branch.leaf);
scrollToBottom();
promptBox.focus();
socket.connect();
