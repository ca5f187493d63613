// The conversation page, live: what the conversation's websocket says (new turns, deltas of text
// and of reasoning by offset, the ends of replies, deletions, the main line, the title, who else
// is here), applied to the branch and shown. socket.js reconnects; on every open, the replies
// still streaming resume from the text and reasoning the page has, and a delta past either (a
// gap) asks for the rest the same way.
import { resumeFrame } from './conversation-branch.js';
import { scrollToBottom } from './conversation-transcript.js';
import { withTurnDefaults } from './stream.js';

export class LiveConversation {
  /**
   * `showBranch(id, options)` opens the branch through a turn; `onChange()` runs when what the
   * page shows around the transcript changed (the main line), `onCost()` when only the
   * conversation's cost did. `onReplyStarted(turn)` and `onReplyEnded(turn)` run once for each
   * reply on the branch shown that starts or ends while the page is open.
   */
  constructor({
    socket, branch, connection, presence, composer, transcript, treePanel, url, conversationUrl, showBranch, onChange, onCost,
    onReplyStarted = () => {}, onReplyEnded = () => {},
  }) {
    Object.assign(this, {
      socket, branch, connection, presence, composer, transcript, treePanel, url, conversationUrl, showBranch, onChange, onCost,
      onReplyStarted, onReplyEnded,
    });
    this.told = new Set(); // "<turn id> started|ended": a resumed or repeated frame says nothing twice
  }

  tell(turn, what, callback) {
    const key = `${turn.id} ${what}`;
    if (this.told.has(key)) return;
    this.told.add(key);
    callback(turn);
  }

  opened() {
    this.presence.reset();
    this.setConnection('');
    this.composer.connected();
    this.resume();
  }

  closed(code, reason) {
    if (code === 4401) this.setConnection('You are signed out. Sign in again to continue.', true);
    else if (code === 4404) this.setConnection('This conversation no longer exists, or you no longer have access to it.', true);
    else this.setConnection('Connection lost. Reconnecting…');
    // 1009 (Message Too Big): the server refused a frame beyond its ceiling and closed the socket.
    // Said in the composer, which keeps it after the socket reconnects.
    if (code === 1009) {
      this.composer.showError(
        `The server refused a message that large and closed the connection${reason ? ` (${reason})` : ''}. `
        + 'It was not sent: shorten it, then send it again.',
      );
    }
  }

  setConnection(message, final = false) {
    this.connection.hidden = !message;
    this.connection.textContent = message;
    this.connection.classList.toggle('final', final);
  }

  // Asks for the rest of every reply on the branch that is still streaming.
  resume() {
    for (const frame of this.branch.resumeFrames()) this.socket.send(frame);
  }

  handle(message) {
    if (this.presence.handle(message)) return;
    switch (message.type) {
      case 'turn.created': {
        const turn = withTurnDefaults(message.turn);
        this.treePanel.upsert(turn);
        return this.turnCreated(turn, message.request_id, message.title);
      }
      case 'delta':
        return this.delta(message);
      case 'reasoning':
        return this.reasoning(message);
      case 'turn.finished':
        this.treePanel.upsert(message.turn);
        return this.finished(message.turn);
      case 'turn.deleted':
        this.treePanel.reload();
        return this.deleted(message);
      case 'conversation.updated':
        // The main line, or the title (the model's, once the first reply is done).
        if ('main_turn' in message) this.branch.mainTurn = message.main_turn;
        if (message.title) setTitle(message.title, { replace: true });
        return this.onChange();
      case 'error':
        if (message.request_id) this.branch.forget(message.request_id);
        this.composer.showError(message.error, message);
        this.composer.update(this.branch.streamingTurn());
    }
  }

  turnCreated(turn, requestId, title) {
    if (title) setTitle(title);
    const placed = this.branch.created(turn, requestId);
    if (placed.compare) {
      location.href = this.url.compare(placed.compare);
    } else if (placed.elsewhere) {
      if (placed.open) this.showBranch(placed.open);
      if (placed.sent) this.composer.sent(placed.sent);
    } else if (placed.shown) {
      if (placed.sent) this.composer.sent(placed.sent);
      this.transcript.render();
      if (placed.own) {
        history.replaceState({ turn: turn.id }, '', this.url.turn(turn.id));
        scrollToBottom();
      }
    } else {
      this.transcript.rerender(placed.sibling);
    }
    if (turn.role === 'assistant' && turn.status === 'streaming' && (placed.shown || placed.open)) {
      this.tell(turn, 'started', this.onReplyStarted);
    }
  }

  delta(message) {
    const { turn, result } = this.branch.delta(message);
    if (result === 'gap') this.socket.send(resumeFrame(turn));
    else if (result === 'applied') this.transcript.queueBody(turn);
  }

  reasoning(message) {
    const { turn, result } = this.branch.reasoning(message);
    if (result === 'gap') this.socket.send(resumeFrame(turn));
    else if (result === 'applied') this.transcript.queueBody(turn);
  }

  finished(update) {
    const { turn, result } = this.branch.finished(update);
    if (result === 'absent') this.onCost();
    else if (result === 'finished') {
      this.transcript.rerender(turn);
      this.tell(turn, 'ended', this.onReplyEnded);
    } else this.socket.send(resumeFrame(turn));
  }

  deleted(message) {
    const gone = this.branch.deleted(message);
    if (gone.shown) {
      if (gone.parent != null) this.showBranch(gone.parent, { push: false, replace: true });
      else location.assign(this.conversationUrl);
      return;
    }
    for (const turn of gone.changed) this.transcript.rerender(turn);
  }
}

// The conversation's title, once the first prompt names it (or the model's title `replace`s
// that): in the rename box (unless typed into), the sidebar and the window's title.
function setTitle(title, { replace = false } = {}) {
  const input = document.querySelector('.rename-form input[name=title]');
  if (input && document.activeElement !== input && (replace || !input.value)) input.value = title;
  const link = document.querySelector('.conversation-list a.active');
  if (link) {
    link.textContent = title;
    link.title = title;
  }
  document.title = `${title} · Workbench`;
}
