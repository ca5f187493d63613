// The branch on the conversation page, as data: the turns on screen, and what each websocket frame
// does to them. No DOM: the page's modules render what it holds and act on what its methods
// return, and `node --test` (tests/js/conversation-branch.test.mjs) checks it.
import { applyDelta, applyFinished, applyReasoning, resumeFrame } from './stream.js';
import { defaultContextReply } from './tokens.js';

export { resumeFrame };

// The version `step` places from `turn` among its siblings (-1: the previous), or undefined.
export function siblingOf(turn, step) {
  const siblings = turn.siblings || [turn.id];
  return siblings[siblings.indexOf(turn.id) + step];
}

export class Branch {
  constructor({ turns, earlier = null, mainTurn = null, cost = null }) {
    this.turns = turns; // the displayed branch, root first (a long one from near its end)
    this.earlier = earlier; // what is above the first loaded turn, summarised, or null
    this.mainTurn = mainTurn;
    this.conversationCost = cost;
    this.contextReply = null; // the reply whose left-out turns are marked (null: the newest that left any out)
    this.mine = new Map(); // request id → {kind, expected, replies: [...]} for requests this page sent
  }

  indexOf(id) {
    return this.turns.findIndex((t) => t.id === id);
  }

  get(id) {
    return this.turns[this.indexOf(id)];
  }

  get leaf() {
    return this.turns[this.turns.length - 1];
  }

  streamingTurn() {
    return this.turns.findLast((t) => t.status === 'streaming');
  }

  // One resume frame per reply still streaming: after (re)connecting, or on opening a branch.
  resumeFrames() {
    return this.turns.filter((t) => t.status === 'streaming').map(resumeFrame);
  }

  // The reply whose left-out turns are marked: the one last clicked while it is on the branch.
  markedReply() {
    return this.turns.some((t) => t.id === this.contextReply) ? this.contextReply : defaultContextReply(this.turns);
  }

  onMainLine() {
    return this.mainTurn != null && this.turns.some((t) => t.id === this.mainTurn);
  }

  // What the next message continues: the branch up to the attached turn, if it is on screen.
  turnsUpTo(attachedId) {
    const attachedAt = attachedId == null ? -1 : this.indexOf(attachedId);
    return attachedAt >= 0 ? this.turns.slice(0, attachedAt + 1) : this.turns;
  }

  // How many loaded turns follow `id` on the branch.
  turnsBelow(id) {
    return this.turns.length - this.indexOf(id) - 1;
  }

  // Another branch, as branch.json sends it.
  replace({ turns, earlier, conversation }) {
    this.turns = turns;
    this.earlier = earlier;
    this.conversationCost = conversation.cost;
  }

  // The window above the first loaded turn, as earlier.json sends it.
  prepend({ turns, earlier }) {
    this.turns = [...turns, ...this.turns];
    this.earlier = earlier;
  }

  track(requestId, kind, expected) {
    this.mine.set(requestId, { kind, expected, replies: [] });
  }

  forget(requestId) {
    this.mine.delete(requestId);
  }

  /**
   * Places a turn from a turn.created frame and says what the page does about it:
   *   {compare: [ids]}                 a fan-out this page sent has all its replies: compare them;
   *   {elsewhere: true, open, sent}    on a branch not shown: `open` names our reply's turn to go
   *                                    to, `sent` the kind of our request whose prompt went out;
   *   {shown: true, own, sent}         now the end of the branch on screen (`own`: we sent it);
   *   {sibling: turn}                  someone else branched beside `turn`: its versions changed.
   * `sent` is null unless the turn is the prompt of a request this page sent.
   */
  created(turn, requestId) {
    const request = this.mine.get(requestId);
    const parentIndex = turn.parent == null ? -1 : this.indexOf(turn.parent);
    const sent = request && turn.role === 'user' ? request.kind : null;
    if (request && turn.role === 'assistant') {
      request.replies.push(turn.id);
      if (request.replies.length === request.expected && request.expected > 1) {
        return { compare: request.replies }; // a fan-out: the replies stream on, side by side
      }
    }
    // On a branch this page does not show (ours was sent from another branch), or a new root
    // beside a root that is not loaded: ours opens on its own branch.
    if ((turn.parent != null && parentIndex < 0) || (turn.parent == null && this.earlier)) {
      return { elsewhere: true, open: request && turn.role === 'assistant' ? turn.id : null, sent };
    }
    const displayedSibling = this.turns[parentIndex + 1];
    const siblings = displayedSibling ? [...displayedSibling.siblings, turn.id] : [turn.id];
    if (request || !displayedSibling) {
      // Our own new turn, or the next turn on the branch we are looking at: show it.
      this.turns = this.turns.slice(0, parentIndex + 1);
      this.turns.push({ ...turn, siblings });
      return { shown: true, own: Boolean(request), sent };
    }
    // Somebody else branched here: only the sibling count changes.
    displayedSibling.siblings = siblings;
    return { sibling: displayedSibling };
  }

  // A delta frame: the turn it belongs to (if shown) and applyDelta's answer ('absent' if not shown).
  delta({ turn: id, offset, text, refused = false }) {
    const turn = this.get(id);
    if (!turn) return { turn: null, result: 'absent' };
    return { turn, result: applyDelta(turn, offset, text, { refused }) };
  }

  // A reasoning frame, as a delta frame is for the text.
  reasoning({ turn: id, offset, text }) {
    const turn = this.get(id);
    if (!turn) return { turn: null, result: 'absent' };
    return { turn, result: applyReasoning(turn, offset, text) };
  }

  // A turn.finished frame: 'absent' (not on this branch; its cost still counts), 'finished', or
  // 'gap' (text or reasoning still missing: resume from what the turn has).
  finished(update) {
    if (update.cost != null) this.conversationCost = (this.conversationCost ?? 0) + update.cost;
    const turn = this.get(update.id);
    if (!turn) return { turn: null, result: 'absent' };
    return { turn, result: applyFinished(turn, update) ? 'finished' : 'gap' };
  }

  /**
   * A turn.deleted frame: {shown: true, parent} when the deleted turn is on screen (the page goes
   * to its parent, or to the conversation when it was a root); otherwise {changed: [turns]}, the
   * displayed turns that lost a sibling.
   */
  deleted({ turn: id, parent, main_turn: mainTurn }) {
    this.mainTurn = mainTurn;
    if (this.indexOf(id) >= 0) return { shown: true, parent };
    const changed = [];
    for (const turn of this.turns) {
      if (turn.siblings?.includes(id)) {
        turn.siblings = turn.siblings.filter((s) => s !== id);
        changed.push(turn);
      }
    }
    return { changed };
  }
}
