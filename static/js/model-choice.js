// The model chosen in the composer sticks: per conversation, in this browser, from the moment it is
// chosen (a reload before any send keeps it). A conversation with no choice of its own opens on the
// last model sent anywhere (the composer's own memory).
//
// When a reply fails with the model the composer is on, a note above the composer names that model
// and offers one button back to the last model that replied (on this branch, else anywhere in this
// browser). The choice stays the person's: nothing switches by itself, since a retry with the same
// model is sometimes what is wanted.
import { icon } from './icons.js';
import { el } from './turns.js';

const CHOSEN = (conversationId) => `workbench.model.${conversationId}`;
const LAST_REPLIED = 'workbench.model.replied';

const modelOf = (turn) => `${turn.provider}:${turn.model}`;

function read(key) {
  try {
    return localStorage.getItem(key);
  } catch (_) {
    return null;
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch (_) {
    /* private mode: remembered for this page only */
  }
}

export class ModelChoice {
  /** `notice`: the element the note goes in; `branch`: the turns on screen. */
  constructor({ select, conversationId, modelLabels, notice, branch }) {
    Object.assign(this, { select, conversationId, modelLabels, notice, branch });
    select.addEventListener('change', () => {
      if (conversationId != null) write(CHOSEN(conversationId), select.value);
      this.hideNotice();
    });
  }

  // The conversation's own choice, over what the composer loaded (the last model sent).
  restore() {
    const saved = this.conversationId == null ? null : read(CHOSEN(this.conversationId));
    if (saved && this.modelLabels.has(saved) && saved !== this.select.value) this.choose(saved, { remember: false });
  }

  choose(modelId, { remember = true } = {}) {
    this.select.value = modelId;
    // As if picked by hand: the composer shows the model's settings, the context meter its window.
    this.select.dispatchEvent(new Event('change'));
    this.select.dispatchEvent(new Event('input'));
    if (remember && this.conversationId != null) write(CHOSEN(this.conversationId), modelId);
  }

  // A reply ended: a complete one is the last that replied; a failed one may need the note.
  ended(turn) {
    if (turn.role !== 'assistant') return;
    if (turn.status === 'complete') {
      write(LAST_REPLIED, modelOf(turn));
      if (modelOf(turn) === this.select.value) this.hideNotice();
    } else if (turn.status === 'error') {
      this.failed(turn);
    }
  }

  // The model that last replied, other than `except`, that this workbench still offers.
  lastReplied(except) {
    const offered = (id) => id !== except && this.modelLabels.has(id);
    for (let i = this.branch.turns.length - 1; i >= 0; i--) {
      const turn = this.branch.turns[i];
      if (turn.role === 'assistant' && turn.status === 'complete' && offered(modelOf(turn))) return modelOf(turn);
    }
    const stored = read(LAST_REPLIED);
    return stored && offered(stored) ? stored : null;
  }

  failed(turn) {
    const failing = modelOf(turn);
    if (failing !== this.select.value) return; // the composer has already moved on
    const name = this.modelLabels.get(failing) || turn.model;
    const back = this.lastReplied(failing);
    const parts = [icon('bell'), el('span', { class: 'model-notice-text', text: back ? `${name} failed to reply.` : `${name} failed to reply: choose another model below, or try again.` })];
    if (back) {
      parts.push(el('button', {
        type: 'button',
        class: 'button compact',
        'data-action': 'switch-model',
        onclick: () => {
          this.choose(back);
          this.hideNotice();
          this.select.focus();
        },
        text: `Switch back to ${this.modelLabels.get(back)}`,
      }));
    }
    parts.push(el('button', {
      type: 'button', class: 'button ghost icon-only compact', 'aria-label': 'Dismiss', title: 'Dismiss', onclick: () => this.hideNotice(),
    }, icon('x')));
    this.notice.replaceChildren(...parts);
    this.notice.hidden = false;
  }

  hideNotice() {
    this.notice.hidden = true;
    this.notice.replaceChildren();
  }
}
