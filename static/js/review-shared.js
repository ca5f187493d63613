// A shared page's comments, read-only: the threads on each shared turn (page.comments, as the
// server rendered them when the page was opened), behind each turn's comment count. On a live
// link, each comment made, edited, deleted or resolved since arrives over the link's socket
// (shared.js hands it on as a `share:review` event) and is merged as the members' pages merge it.
import { icon } from './icons.js';
import { renderMarkdown } from './markdown.js';
import { mergeComment } from './review-store.js';
import { el } from './turns.js';

const page = JSON.parse(document.getElementById('page-data').textContent);
const byTurn = page.comments || {};
const transcript = document.getElementById('transcript');
const opened = new Set();
const TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function comment(c) {
  const body = el('div', { class: 'comment-body markdown' });
  body.innerHTML = renderMarkdown(c.body);
  return el('div', { class: `comment${c.deleted ? ' deleted' : ''}` },
    el('div', { class: 'comment-head' },
      el('strong', { class: 'comment-author', text: c.author }),
      el('time', { class: 'muted small', datetime: c.created_at, text: TIME.format(new Date(c.created_at)) }),
      c.edited_at && !c.deleted ? el('span', { class: 'muted small', text: '(edited)' }) : null),
    c.deleted ? el('p', { class: 'muted small comment-deleted', text: 'This comment was deleted.' }) : body);
}

function mount(article) {
  const id = Number(article.dataset.turn);
  const threads = byTurn[id] || [];
  article.querySelector(':scope > .review')?.remove();
  if (!threads.length) return;
  const count = threads.reduce((n, t) => n + (t.deleted ? 0 : 1) + t.replies.length, 0);
  const area = el('div', { class: 'review-threads', role: 'region', 'aria-label': 'Comments on this turn', hidden: !opened.has(id) },
    ...threads.map((t) => el('section', { class: `thread${t.resolved_at ? ' resolved' : ''}` },
      t.resolved_at ? el('p', { class: 'muted small thread-state' }, icon('circle-check'), ' Resolved') : null,
      comment(t), ...t.replies.map(comment))));
  const button = el('button', {
    type: 'button', class: 'button ghost compact review-button comments', 'aria-expanded': opened.has(id) ? 'true' : 'false',
    'aria-label': `Comments: ${count}`,
    onclick: () => {
      if (opened.has(id)) opened.delete(id);
      else opened.add(id);
      area.hidden = !opened.has(id);
      button.setAttribute('aria-expanded', opened.has(id) ? 'true' : 'false');
    },
  }, icon('message-square'), el('span', { class: 'count', text: String(count) }));
  article.append(el('div', { class: 'review' }, el('div', { class: 'review-bar' }, button), area));
}

function mountAll(root) {
  if (root.matches?.('article.turn[data-turn]')) mount(root);
  for (const article of root.querySelectorAll?.('article.turn[data-turn]') || []) mount(article);
}

new MutationObserver((records) => {
  for (const record of records) for (const node of record.addedNodes) if (node.nodeType === 1) mountAll(node);
}).observe(transcript, { childList: true, subtree: true });
mountAll(transcript);

document.addEventListener('share:review', ({ detail: frame }) => {
  if (frame.type !== 'review.comment') return;
  const id = frame.comment.turn;
  byTurn[id] = mergeComment(byTurn[id] || [], frame.comment);
  const article = transcript.querySelector(`article.turn[data-turn="${id}"]`);
  if (article) mount(article);
});
