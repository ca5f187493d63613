// A new conversation: the composer, and no conversation until its first message. That message goes
// over the workspace's "new conversation" socket (conversations/streaming/new_conversation.py),
// which stores the conversation with it and answers with its address; the conversation's own page
// then opens, and the reply streams in there.
import { Composer } from './composer.js';
import { ContextMeter, uploadIds } from './context.js';
import { Socket } from './socket.js';

const page = JSON.parse(document.getElementById('page-data').textContent);
const connection = document.getElementById('connection');
let composer = null;
let sending = false; // one first message: a second Enter must not start a second conversation

function setConnection(message, final = false) {
  connection.hidden = !message;
  connection.textContent = message;
  connection.classList.toggle('final', final);
}

const socket = new Socket(page.urls.socket, {
  onMessage(message) {
    if (message.type === 'conversation.created') {
      location.replace(message.url); // "back" returns to where the new conversation was started from
    } else if (message.type === 'error') {
      sending = false;
      composer.showError(message.error, message);
    }
  },
  onOpen() {
    setConnection('');
    composer.connected();
  },
  onClose(code) {
    // A message the server never answered may be sent again once the socket is back (its text is
    // still in the composer).
    sending = false;
    if (code === 4401) setConnection('You are signed out. Sign in again to start a conversation.', true);
    else if (code === 4404) setConnection('You cannot start conversations in this workspace any more.', true);
    else setConnection('Connection lost. Reconnecting…');
  },
});

const firstMessage = {
  send(frame) {
    if (sending) return true;
    sending = socket.send(frame);
    return sending;
  },
};

composer = new Composer({
  page,
  socket: firstMessage,
  modelLabels: new Map(page.models.map((m) => [m.id, m.label])),
  lastTurn: () => null,
  track: () => {},
  streamingTurn: () => null,
  csrfToken: document.querySelector('input[name=csrfmiddlewaretoken]').value,
  onChange: () => updateMeter(),
});
// The meter measures what the first request will hold: the draft, its files and the system prompt.
const $ = (id) => document.getElementById(id);
const meter = new ContextMeter({
  root: $('context-meter'),
  models: page.models,
  tokensUrl: page.urls.tokens,
  csrfToken: document.querySelector('input[name=csrfmiddlewaretoken]').value,
});
function updateMeter() {
  const modelId = $('model').value;
  meter.update({ turns: [], modelId, conversationCost: null });
  meter.countPending({ modelId, system: $('system-prompt').value, draft: $('prompt').value, uploads: uploadIds(composer.tray) });
}
for (const id of ['model', 'system-prompt', 'prompt', 'max-tokens']) $(id).addEventListener('input', updateMeter);
updateMeter();

$('prompt').focus();
socket.connect();
