// Review on the compare page: every cell gets its turn's review (comments, 👍/👎), and each
// column's head says what the team thinks of that branch (👍/👎 and comments over its replies,
// who prefers it) with a button to prefer it. compare.js passes the socket's frames to `handle`.
//
//   const review = startCompareReview({ page });   // page: the compare page's data
import { icon } from './icons.js';
import { startReview } from './review-page.js';
import { names } from './review-store.js';
import { el } from './turns.js';

export function startCompareReview({ page }) {
  const root = document.querySelector('main.compare');
  const columnsBox = document.getElementById('columns');
  const review = startReview({
    summaryUrl: page.urls.review,
    transcriptRoot: root,
    // A thread on a turn of another branch opens on the conversation page.
    showBranch: (turnId) => location.assign(page.urls.turn.replace('{turn_id}', String(turnId))),
  });

  review.onReady((store, api) => {
    function head(column) {
      const ids = column.turns.map((t) => t.id);
      let up = 0;
      let down = 0;
      let comments = 0;
      for (const id of ids) {
        const v = store.verdictsOf(id);
        up += v.up.length;
        down += v.down.length;
        comments += store.counts(id).comments;
      }
      const by = store.preferredBy(column.tip);
      const mine = store.myPreference() === column.tip;
      const button = el('button', {
        type: 'button',
        class: `button compact ${mine ? 'primary' : 'ghost'} review-prefer-column`,
        'aria-pressed': mine ? 'true' : 'false',
        disabled: !store.canReview,
        onclick: async () => {
          try {
            await api.prefer(mine ? null : column.tip);
          } catch (exc) {
            error.textContent = exc.message;
            error.hidden = false;
          }
        },
      }, icon('star'), el('span', { text: mine ? 'Your preferred branch' : 'Prefer this branch' }));
      const error = el('span', { class: 'review-error', role: 'alert', hidden: true });
      return el('div', { class: 'review-column', 'data-review-tip': column.tip },
        el('div', { class: 'review-column-head' },
          button,
          el('span', { class: 'muted small review-column-counts' },
            el('span', { 'aria-label': `${up} marked good` }, icon('thumbs-up'), ` ${up}`), ' · ',
            el('span', { 'aria-label': `${down} marked bad` }, icon('thumbs-down'), ` ${down}`), ' · ',
            el('span', { 'aria-label': `${comments} comments` }, icon('message-square'), ` ${comments}`))),
        el('div', { class: `small review-column-preferred${by.length ? '' : ' muted'}`,
          text: by.length ? `Preferred by ${names(by.map((n) => (n === store.me ? 'you' : n)), 6)}` : 'No one prefers this branch yet.' }),
        error);
    }

    function decorate() {
      const heads = columnsBox.querySelectorAll('header.column-head');
      heads.forEach((node, order) => {
        const index = Number(node.closest('[data-column]')?.dataset.column ?? order);
        const column = page.columns[index];
        if (!column) return;
        const fresh = head(column);
        const old = node.querySelector(':scope > .review-column');
        // A focused button keeps the focus through a redraw.
        const focused = old?.contains(document.activeElement);
        if (old) old.replaceWith(fresh);
        else node.append(fresh);
        if (focused) fresh.querySelector('button')?.focus();
      });
    }

    let queued = false;
    const queue = () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; decorate(); });
    };
    store.onChange(queue);
    new MutationObserver((records) => {
      const heads = (n) => n.nodeType === 1 && (n.matches('header.column-head') || n.querySelector('header.column-head'));
      if (records.some((r) => [...r.addedNodes].some(heads))) queue();
    }).observe(columnsBox, { childList: true });
    decorate();
  });

  return review;
}
