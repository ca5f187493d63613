// A new conversation: the composer, and no conversation until its first message. That message goes
// over the workspace's "new conversation" socket (conversations/streaming/new_conversation.py),
// which stores the conversation with it and answers with its address; the conversation's own page
// then opens, and the reply streams in there.
import { Composer } from './composer.js';
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
      composer.showError(message.error);
    }
  },
  onOpen() {
    setConnection('');
    composer.connected();
  },
  onClose(code) {
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
});
document.getElementById('prompt').focus();
socket.connect();
