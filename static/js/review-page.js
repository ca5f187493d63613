// Review on the conversation page: loads the conversation's review summary, mounts review on every
// turn the transcript shows (as it draws them: the transcript need not know), applies the socket's
// `review.*` frames, lists open threads in a panel, and opens a thread named by the URL
// (#comment-<id>, as the inbox links).
//
//   const review = startReview({ summaryUrl, transcriptRoot, showBranch, currentTurn });
//   socket frames → review.handle(frame); socket (re)opened → review.opened()
import { ReviewApi } from './review-api.js';
import { ReviewStore } from './review-store.js';
import { markTree } from './review-tree.js';
import { createReview } from './review.js';
import { el } from './turns.js';

const ARTICLE = 'article.turn[data-turn]';

function turnOf(article) {
  const role = ['assistant', 'user', 'system'].find((r) => article.classList.contains(`turn-${r}`)) || 'user';
  return { id: Number(article.dataset.turn), role };
}

export function startReview({ summaryUrl, transcriptRoot, showBranch, currentTurn = () => null }) {
  const api = new ReviewApi(summaryUrl);
  let store = null;
  let review = null;
  let queued = [];
  let opens = 0;
  let pending = pendingFromUrl(currentTurn);
  const listeners = new Set();

  function mount(article) {
    const turn = turnOf(article);
    review.mount(article, turn);
    if (pending && pending.turn === turn.id) {
      const { id } = pending;
      pending = null;
      review.toggle(turn.id, { force: true, focusThread: id });
    }
  }

  function mountAll(root) {
    if (root.matches?.(ARTICLE)) mount(root);
    for (const article of root.querySelectorAll?.(ARTICLE) || []) mount(article);
  }

  async function start() {
    try {
      const summary = await api.summary();
      store = new ReviewStore(summary);
      review = createReview({ store, api });
      for (const frame of queued.splice(0)) store.apply(frame);
      queued = null;
      store.onChange(() => updatePanel());
      new MutationObserver((records) => {
        for (const record of records) for (const node of record.addedNodes) if (node.nodeType === 1) mountAll(node);
      }).observe(transcriptRoot, { childList: true, subtree: true });
      mountAll(transcriptRoot);
      panel.init();
      updatePanel();
      const tree = document.getElementById('tree-panel');
      if (tree) markTree(tree, store);
      for (const listener of listeners) listener(store, api);
    } catch (exc) {
      console.warn('Review could not load:', exc);
    }
  }

  // --- the open threads panel -------------------------------------------------------------------
  const panel = {
    button: document.getElementById('review-threads-toggle'),
    root: document.getElementById('review-panel'),
    init() {
      if (!this.button || !this.root) return;
      this.button.hidden = false;
      this.button.addEventListener('click', () => this.toggle());
      this.root.addEventListener('keydown', (event) => {
        if (event.key === 'Escape') {
          this.toggle(false);
          this.button.focus();
        }
      });
    },
    toggle(force) {
      const show = force ?? this.root.hidden;
      this.root.hidden = !show;
      this.button.setAttribute('aria-expanded', show ? 'true' : 'false');
      if (show) this.root.querySelector('a, button')?.focus();
    },
  };

  function updatePanel() {
    if (!panel.root || !store) return;
    const threads = store.openThreads();
    const count = panel.button?.querySelector('.count');
    if (count) count.textContent = threads.length ? String(threads.length) : '';
    panel.button?.setAttribute('aria-label', threads.length ? `Open threads: ${threads.length}` : 'Open threads: none');
    const items = threads.map((thread) => el('li', { class: 'open-thread' },
      el('a', {
        href: `${api.turnUrl(thread.turn)}#comment-${thread.id}`,
        onclick: (event) => {
          if (event.metaKey || event.ctrlKey || event.shiftKey) return;
          event.preventDefault();
          goTo(thread);
        },
      },
      el('span', { class: 'open-thread-author', text: thread.author }),
      el('span', { class: 'open-thread-excerpt', text: thread.deleted ? 'Deleted comment' : thread.excerpt }),
      el('span', { class: 'muted small', text: thread.replies ? `${thread.replies} repl${thread.replies === 1 ? 'y' : 'ies'}` : 'no replies yet' }))));
    panel.root.querySelector('.open-threads')?.replaceChildren(...items);
    const empty = panel.root.querySelector('.open-threads-empty');
    if (empty) empty.hidden = threads.length > 0;
    // Who prefers which branch: each links to its branch.
    const preferences = [...store.preferences.values()].sort((a, b) => String(a.at).localeCompare(String(b.at)));
    panel.root.querySelector('.preferred-branches')?.replaceChildren(...preferences.map((p) => el('li', { class: 'preferred-branch' },
      el('a', {
        href: api.turnUrl(p.turn),
        onclick: (event) => {
          if (event.metaKey || event.ctrlKey || event.shiftKey) return;
          event.preventDefault();
          showBranch(p.turn, { focus: true });
        },
      }, el('strong', { text: p.user === store.me ? 'You' : p.user }), ` ${p.user === store.me ? 'prefer' : 'prefers'} the branch ending “${p.excerpt || `turn ${p.turn}`}”`),
      el('span', { class: 'muted small', text: p.at ? ` · ${new Date(p.at).toLocaleString()}` : '' }))));
    const none = panel.root.querySelector('.preferred-empty');
    if (none) none.hidden = preferences.length > 0;
    if (panel.button) panel.button.dataset.preferences = String(preferences.length);
  }

  function goTo(thread) {
    const article = transcriptRoot.querySelector(`[data-turn="${thread.turn}"]`);
    if (article) {
      review.toggle(thread.turn, { force: true, focusThread: thread.id });
      return;
    }
    // In another branch: open it; its turn's review opens the thread when it is drawn.
    pending = { turn: thread.turn, id: thread.id };
    showBranch(thread.turn, { focus: true });
  }

  // The Export menu's "This branch with comments": the Markdown link's twin, following its branch.
  const markdown = document.getElementById('export-markdown');
  if (markdown) {
    const twin = el('a', { role: 'menuitem', id: 'export-markdown-comments', href: '#', download: true, text: 'This branch with comments (Markdown)' });
    const follow = () => {
      const href = markdown.getAttribute('href');
      twin.href = href && href !== '#' ? `${href}?comments=1` : '#';
      twin.setAttribute('aria-disabled', markdown.getAttribute('aria-disabled') || 'false');
    };
    markdown.after(twin);
    follow();
    new MutationObserver(follow).observe(markdown, { attributes: true, attributeFilter: ['href', 'aria-disabled'] });
  }

  start();

  return {
    handle(frame) {
      if (!frame.type?.startsWith('review.')) return false;
      if (queued) queued.push(frame);
      else store.apply(frame);
      return true;
    },
    // The socket opened: after a reconnect, frames sent meanwhile are lost; the summary is read again.
    async opened() {
      if (opens++ === 0 || !store) return;
      try {
        store.reset(await api.summary());
      } catch (_) {
        /* the next reconnect tries again */
      }
    },
    onReady(listener) {
      if (store) listener(store, api);
      else listeners.add(listener);
    },
    goTo,
  };
}

function pendingFromUrl(currentTurn) {
  const match = /^#comment-(\d+)$/.exec(location.hash);
  const turn = currentTurn();
  return match && turn != null ? { turn, id: Number(match[1]) } : null;
}
