// The conversation page's transcript: the branch's turns, each with its versions (‹ 2 / 3 ›), the
// turns its request left out, its actions and the conversations forked from it; redrawn whole when
// the branch changes, one turn at a time as frames arrive.
import { attachmentsBlock } from './attachments-view.js';
import { markOmitted } from './context.js';
import { el, renderStreaming, turnElement } from './turns.js';

export function isNearBottom() {
  const root = document.scrollingElement;
  return root.scrollHeight - root.scrollTop - root.clientHeight < 120;
}

export function scrollToBottom() {
  const root = document.scrollingElement;
  root.scrollTop = root.scrollHeight;
}

export class Transcript {
  /**
   * `actionsFor(turn)` gives a turn's action buttons; `onShowBranch(id, options)` opens the branch
   * through a turn, `onShowEarlier()` loads the turns above the first one, and `onChange()` runs
   * after every change to what is shown.
   */
  constructor({ root, branch, url, modelLabels, actionsFor, onShowBranch, onShowEarlier, onChange }) {
    Object.assign(this, { root, branch, url, modelLabels, actionsFor, onShowBranch, onShowEarlier, onChange });
    this.renderQueued = new Set();
  }

  siblingNav(turn) {
    const siblings = turn.siblings || [turn.id];
    if (siblings.length < 2) return null;
    const index = siblings.indexOf(turn.id);
    const go = (delta) => () => this.onShowBranch(siblings[index + delta], { focus: true });
    return el(
      'nav',
      { class: 'siblings', 'aria-label': 'Other versions of this turn' },
      el('button', { type: 'button', class: 'icon', 'aria-label': 'Previous version', disabled: index <= 0, onclick: go(-1), text: '‹' }),
      el('span', { class: 'sibling-count', text: `${index + 1} / ${siblings.length}` }),
      el('button', { type: 'button', class: 'icon', 'aria-label': 'Next version', disabled: index >= siblings.length - 1, onclick: go(1), text: '›' }),
      el('a', { class: 'link-button compare-link', href: this.url.compareSiblings(turn.id), text: 'Compare' }),
    );
  }

  contextChip(turn) {
    const omitted = turn.context?.omitted?.length;
    if (!omitted) return null;
    return el('button', {
      type: 'button',
      class: 'badge context-chip',
      title: 'The branch had outgrown the model’s window: these older turns were not sent with this reply’s request. Click to mark them.',
      onclick: () => {
        this.branch.contextReply = turn.id;
        markOmitted(this.root, this.branch.turns, turn.id);
        const first = this.root.querySelector('.turn-omitted');
        if (first) first.scrollIntoView({ block: 'center' });
      },
      text: `${omitted} turn${omitted === 1 ? '' : 's'} left out`,
    });
  }

  forkLinks(turn) {
    if (!turn.forks) return null;
    return el('div', { class: 'forks muted small' }, 'Forked into ',
      ...turn.forks.flatMap((f, i) => [i ? ', ' : null, el('a', { href: this.url.otherConversation(f.id), text: f.title || 'a new conversation' })]).filter(Boolean));
  }

  renderTurn(turn) {
    const node = turnElement(turn, {
      modelLabels: this.modelLabels,
      head: [this.contextChip(turn), this.siblingNav(turn)],
      actions: this.actionsFor(turn),
      attachments: (t) => attachmentsBlock(t, (index, options) => this.url.file(t.id, index, options)),
    });
    const forks = this.forkLinks(turn);
    if (forks) node.append(forks);
    return node;
  }

  earlierButton() {
    if (!this.branch.earlier) return null;
    const count = this.branch.earlier.count;
    return el('div', { class: 'earlier' },
      el('button', { type: 'button', class: 'button ghost compact', id: 'show-earlier', onclick: () => this.onShowEarlier(),
        text: `Show earlier turns (${new Intl.NumberFormat('en-US').format(count)} more)` }));
  }

  render() {
    const atBottom = isNearBottom();
    this.root.replaceChildren(...[this.earlierButton(), ...this.branch.turns.map((t) => this.renderTurn(t))].filter(Boolean));
    if (!this.branch.turns.length) {
      this.root.append(
        el('div', { class: 'empty-transcript' },
          el('h2', { text: 'Start the conversation' }),
          el('p', { class: 'muted', text: 'Your first message becomes the root of the tree. Any turn can be branched later.' })),
      );
    }
    this.onChange();
    if (atBottom) scrollToBottom();
  }

  rerender(turn) {
    const old = this.article(turn.id);
    if (old) old.replaceWith(this.renderTurn(turn));
    this.onChange();
  }

  // Marks the turns the marked reply's request left out (see Branch.markedReply).
  markContext() {
    markOmitted(this.root, this.branch.turns, this.branch.markedReply());
  }

  // Streaming deltas and reasoning re-render the reply's Markdown at most once per animation frame.
  queueBody(turn) {
    if (this.renderQueued.has(turn.id)) return;
    this.renderQueued.add(turn.id);
    requestAnimationFrame(() => {
      this.renderQueued.delete(turn.id);
      const article = this.article(turn.id);
      if (!article || !article.querySelector(':scope > .turn-body')) return; // gone, or being edited
      const atBottom = isNearBottom();
      renderStreaming(turn, article);
      if (atBottom) scrollToBottom();
    });
  }

  article(id) {
    return this.root.querySelector(`[data-turn="${id}"]`);
  }

  focus(id) {
    const article = this.article(id);
    if (article) {
      article.focus({ preventScroll: true });
      article.scrollIntoView({ block: 'nearest' });
    }
  }

  // The turn whose article holds the focus; falsy when none does.
  focusedTurn() {
    const article = document.activeElement?.closest?.('article.turn');
    return article ? this.branch.get(Number(article.dataset.turn)) : null;
  }

  // A fork says where it came from, above its transcript.
  showForkOrigin(source) {
    this.root.before(el('div', { class: 'fork-origin muted small' }, 'Forked from ',
      el('a', { href: this.url.otherTurn(source.conversation, source.turn), text: source.title })));
  }
}
