// Review on a turn: its comment count (which opens its threads below it), 👍/👎 on a reply with
// who marked it, "Prefer this branch", and the threads themselves with their replies, edits,
// deletions and resolutions. `createReview` makes the mount function a page calls per turn:
//
//   const review = createReview({ store, api });
//   review.mount(articleElement, turn)   // turn: { id, role }
//
// Everything shown follows the store (static/js/review-store.js), which the socket's frames keep.
import { icon } from './icons.js';
import { renderMarkdown } from './markdown.js';
import { commentComposer } from './review-composer.js';
import { names } from './review-store.js';
import { el } from './turns.js';

const TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function when(iso) {
  return iso ? TIME.format(new Date(iso)) : '';
}

// A comment's Markdown, through the one sanitised renderer, with members' @names marked.
function renderComment(body, members) {
  const node = el('div', { class: 'comment-body markdown' });
  node.innerHTML = renderMarkdown(body);
  const known = new Set(members);
  const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) if (!walker.currentNode.parentElement.closest('code, pre, a')) texts.push(walker.currentNode);
  for (const text of texts) {
    const parts = text.data.split(/((?<![\w.@+-])@[\w.@+-]+)/);
    if (parts.length < 2) continue;
    const frag = document.createDocumentFragment();
    for (const part of parts) {
      const name = part.startsWith('@') ? part.slice(1).replace(/[.]+$/, '') : null;
      if (name && known.has(name)) {
        frag.append(el('span', { class: 'mention', text: `@${name}` }), part.slice(name.length + 1));
      } else frag.append(part);
    }
    text.replaceWith(frag);
  }
  return node;
}

function iconButton(name, label, attrs = {}, ...rest) {
  return el('button', { type: 'button', class: 'button ghost compact review-button', 'aria-label': label, ...attrs }, icon(name), ...rest);
}

export function createReview({ store, api }) {
  const open = new Set(); // turns whose threads are open
  const mounted = new Map(); // turn id → its review element (the latest mounted)
  // Composers live across redraws (a teammate's comment redraws the turn): what is being typed,
  // and the focus, stay. By turn (a new thread), by thread (a reply), by comment (an edit).
  const newForms = new Map();
  const replyForms = new Map();
  const editForms = new Map();
  let counter = 0;

  function tooltip(button, text) {
    const id = `review-tip-${++counter}`;
    const tip = el('span', { class: 'review-tip', role: 'tooltip', id, text, hidden: !text });
    button.setAttribute('aria-describedby', id);
    return el('span', { class: 'review-tip-anchor' }, button, tip);
  }

  function verdictButtons(turn) {
    const v = store.verdictsOf(turn.id);
    const mine = store.myVerdict(turn.id);
    const disabled = !store.canReview;
    const make = (value, name, list, word) => {
      const pressed = mine === value;
      const button = iconButton(name, `${word}${list.length ? ` (${list.length})` : ''}`, {
        class: `button ghost compact review-button verdict verdict-${value > 0 ? 'up' : 'down'}`,
        'aria-pressed': pressed ? 'true' : 'false',
        disabled,
        onclick: () => act(turn.id, () => api.verdict(turn.id, pressed ? 0 : value)),
      }, list.length ? el('span', { class: 'count', text: String(list.length) }) : null);
      return tooltip(button, list.length ? `${word} by ${names(list, 6)}` : disabled ? '' : word);
    };
    return [make(1, 'thumbs-up', v.up, 'Thumbs up'), make(-1, 'thumbs-down', v.down, 'Thumbs down')];
  }

  function preferButton(turn) {
    const by = store.preferredBy(turn.id);
    const mine = store.myPreference() === turn.id;
    // Its name is what it says (pressed: this person prefers it).
    const shown = by.map((name) => (name === store.me ? 'you' : name));
    const button = el('button', {
      type: 'button',
      class: `button ghost compact review-button prefer${by.length ? ' preferred' : ''}`,
      'aria-pressed': mine ? 'true' : 'false',
      disabled: !store.canReview,
      onclick: () => act(turn.id, () => api.prefer(mine ? null : turn.id)),
    }, icon('star'), el('span', { class: 'prefer-label', text: by.length ? `Preferred by ${names(shown)}` : 'Prefer this branch' }));
    return tooltip(button, mine ? 'Your preferred branch ends here: press again to withdraw' : 'Prefer the branch that ends here');
  }

  function commentsButton(turn) {
    const { comments, open: openCount } = store.counts(turn.id);
    const expanded = open.has(turn.id);
    const label = comments ? `Comments: ${comments}${openCount ? `, ${openCount} open thread${openCount === 1 ? '' : 's'}` : ''}` : 'Comment on this turn';
    return iconButton('message-square', label, {
      class: `button ghost compact review-button comments${openCount ? ' has-open' : ''}`,
      'aria-expanded': expanded ? 'true' : 'false',
      onclick: () => toggle(turn.id),
    }, el('span', { class: 'count', text: comments ? String(comments) : '' }));
  }

  function bar(turn) {
    return el('div', { class: 'review-bar', role: 'group', 'aria-label': 'Review' },
      commentsButton(turn),
      ...(turn.role === 'assistant' ? verdictButtons(turn) : []),
      turn.role === 'assistant' || store.preferredBy(turn.id).length ? preferButton(turn) : null);
  }

  function commentNode(comment, { root, turnId }) {
    const mine = comment.author === store.me && !comment.imported;
    const actions = [];
    if (!comment.deleted) {
      if (mine && store.canReview) {
        actions.push(el('button', { type: 'button', class: 'link-button small', text: 'Edit', onclick: (e) => editComment(e.target.closest('.comment'), comment, turnId) }));
      }
      if ((mine || store.canModerate) && store.canReview) {
        actions.push(el('button', { type: 'button', class: 'link-button small danger-text', text: 'Delete',
          onclick: () => { if (confirm('Delete this comment? Its text is gone for good.')) act(turnId, () => api.remove(comment.id)); } }));
      }
    }
    if (root && store.canReview && (comment.author === store.me || store.canResolveAny)) {
      actions.push(el('button', { type: 'button', class: 'link-button small', text: comment.resolved_at ? 'Reopen' : 'Resolve',
        onclick: () => act(turnId, () => api.resolve(comment.id, !comment.resolved_at)) }));
    }
    return el('div', { class: `comment${comment.deleted ? ' deleted' : ''}`, id: `comment-${comment.id}`, 'data-comment': comment.id },
      el('div', { class: 'comment-head' },
        el('strong', { class: 'comment-author', text: comment.author }),
        comment.imported ? el('span', { class: 'badge', text: 'imported' }) : null,
        el('time', { class: 'muted small', datetime: comment.created_at, text: when(comment.created_at) }),
        comment.edited_at && !comment.deleted ? el('span', { class: 'muted small', title: when(comment.edited_at), text: '(edited)' }) : null,
        el('span', { class: 'spacer' }),
        ...actions),
      comment.deleted ? el('p', { class: 'muted small comment-deleted', text: 'This comment was deleted.' })
        : editForms.get(comment.id)?.form || renderComment(comment.body, store.members));
  }

  function threadNode(thread, turnId) {
    const resolved = Boolean(thread.resolved_at);
    const node = el('section', { class: `thread${resolved ? ' resolved' : ''}`, 'data-thread': thread.id, 'aria-label': `Thread by ${thread.author}` },
      resolved ? el('p', { class: 'muted small thread-state' }, icon('circle-check'), ` Resolved by ${thread.resolved_by} · ${when(thread.resolved_at)}`) : null,
      commentNode(thread, { root: true, turnId }),
      ...thread.replies.map((reply) => commentNode(reply, { root: false, turnId })));
    if (store.canReview && replyForms.has(thread.id)) {
      node.append(replyForms.get(thread.id).form);
    } else if (store.canReview) {
      const replyButton = el('button', { type: 'button', class: 'link-button small reply-button' }, icon('corner-down-right'), ' Reply in thread');
      replyButton.addEventListener('click', () => {
        const done = () => { replyForms.delete(thread.id); redraw(turnId); };
        const composer = commentComposer({
          members: () => store.members, me: store.me, label: `Reply to ${thread.author}`, submitLabel: 'Reply',
          onSubmit: async (text) => { await act(turnId, () => api.comment(turnId, text, thread.id), { rethrow: true }); done(); },
          onCancel: done,
        });
        replyForms.set(thread.id, composer);
        replyButton.replaceWith(composer.form);
        composer.focus();
      });
      node.append(replyButton);
    }
    return node;
  }

  function editComment(node, comment, turnId) {
    const done = () => { editForms.delete(comment.id); redraw(turnId); };
    const composer = commentComposer({
      members: () => store.members, me: store.me, label: 'Edit your comment', submitLabel: 'Save', value: comment.body,
      onSubmit: async (text) => { await act(turnId, () => api.edit(comment.id, text), { rethrow: true }); done(); },
      onCancel: done,
    });
    editForms.set(comment.id, composer);
    node.querySelector('.comment-body')?.replaceWith(composer.form);
    composer.focus();
  }

  function threadsArea(turnId) {
    const threads = store.loadedThreads.get(turnId);
    const area = el('div', { class: 'review-threads', 'aria-label': 'Comments on this turn', role: 'region' });
    if (!threads) {
      area.append(el('p', { class: 'muted small', text: 'Loading comments…' }));
      return area;
    }
    const shown = threads.map((t) => threadNode(t, turnId));
    if (!shown.length) area.append(el('p', { class: 'muted small review-empty', text: store.canReview ? 'No comments yet: ask a teammate, or note why this turn matters.' : 'No comments yet.' }));
    area.append(...shown);
    if (store.canReview) {
      if (!newForms.has(turnId)) {
        newForms.set(turnId, commentComposer({
          members: () => store.members, me: store.me, label: 'New comment on this turn', submitLabel: 'Comment',
          onSubmit: (text) => act(turnId, () => api.comment(turnId, text), { rethrow: true }),
        }));
      }
      area.append(newForms.get(turnId).form);
    } else {
      area.append(el('p', { class: 'muted small', text: 'Your role in this workspace lets you read comments, not write them.' }));
    }
    return area;
  }

  async function act(turnId, run, { rethrow = false } = {}) {
    try {
      await run();
    } catch (exc) {
      if (rethrow) throw exc;
      const node = mounted.get(turnId);
      const error = node?.querySelector('.review-bar-error');
      if (error) {
        error.textContent = exc.message;
        error.hidden = false;
      }
    }
  }

  async function load(turnId) {
    try {
      const data = await api.threads(turnId);
      store.setThreads(turnId, data.threads);
    } catch (exc) {
      store.setThreads(turnId, []);
      act(turnId, () => Promise.reject(exc));
    }
  }

  function toggle(turnId, { force, focusThread } = {}) {
    const show = force ?? !open.has(turnId);
    if (show) open.add(turnId);
    else open.delete(turnId);
    if (show && !store.loadedThreads.has(turnId)) load(turnId).then(() => focusThread && reveal(focusThread));
    redraw(turnId);
    if (show && focusThread) reveal(focusThread);
    if (show && !focusThread) newForms.get(turnId)?.focus();
  }

  function reveal(threadId) {
    const node = document.getElementById(`comment-${threadId}`);
    if (!node) return;
    node.closest('.thread')?.classList.add('flash');
    node.scrollIntoView({ block: 'center' });
  }

  function render(turn) {
    return el('div', { class: 'review', 'data-review-turn': turn.id },
      bar(turn),
      el('div', { class: 'review-bar-error review-error', role: 'alert', hidden: true }),
      open.has(turn.id) ? threadsArea(turn.id) : null);
  }

  function redraw(turnId) {
    const node = mounted.get(turnId);
    if (!node || !node.isConnected) return;
    const focused = document.activeElement && node.contains(document.activeElement) ? document.activeElement : null;
    const selector = focused?.closest('.review-bar') ? focusKey(focused) : null;
    const fresh = render(node.turn);
    fresh.turn = node.turn;
    node.replaceWith(fresh);
    mounted.set(turnId, fresh);
    if (selector) fresh.querySelector(selector)?.focus();
    else if (focused?.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
  }

  function focusKey(button) {
    for (const name of ['comments', 'verdict-up', 'verdict-down', 'prefer']) if (button.classList.contains(name)) return `.${name}`;
    return null;
  }

  store.onChange((what) => {
    if (what.kind === 'reset') for (const id of open) load(id);
    if (what.kind === 'preference' || what.kind === 'reset') {
      for (const id of mounted.keys()) redraw(id);
    } else if (what.turn != null) redraw(what.turn);
  });

  return {
    /** Shows review on a turn's article (again after the transcript redraws it). */
    mount(article, turn) {
      article.querySelector(':scope > .review')?.remove();
      const node = render(turn);
      node.turn = { id: turn.id, role: turn.role };
      article.append(node);
      mounted.set(turn.id, node);
      return node;
    },
    toggle,
    reveal,
    isOpen: (turnId) => open.has(turnId),
  };
}
