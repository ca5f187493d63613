// A search result opened: the conversation page of the turn that matched, its URL carrying the
// search (/c/<id>/t/<turn>/?q=…). The page opens on the branch through that turn, whichever branch
// it is and however deep; once it has drawn it, this scrolls the turn to the middle, focuses it,
// marks it, and highlights the searched words inside it (CSS Custom Highlight API). The page's own
// modules are untouched: the marks are put back whenever the page redraws the turn (Markdown
// rendered as it comes into view, a reconnect), and the turn is kept in view while the turns
// around it settle, until the reader scrolls.
import { turnFromPath } from './conversation-urls.js';
import { searchWords, wordMatches } from './search-terms.js';

const SETTLE_MS = 3000;

function textNodes(root) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  return nodes;
}

function highlightWords(article, words) {
  if (!window.CSS?.highlights || typeof Highlight !== 'function') return;
  const ranges = [];
  for (const body of article.querySelectorAll('.turn-body')) {
    for (const node of textNodes(body)) {
      for (const [start, end] of wordMatches(node.data, words)) {
        const range = document.createRange();
        range.setStart(node, start);
        range.setEnd(node, end);
        ranges.push(range);
      }
    }
  }
  CSS.highlights.set('search-found', new Highlight(...ranges));
}

function land(transcript, turnId, words) {
  const find = () => transcript.querySelector(`article.turn[data-turn="${turnId}"]`);
  const first = find();
  if (!first) return;
  let settled = false;
  const mark = () => {
    const article = find();
    if (!article) return;
    if (!article.hasAttribute('data-search-found')) article.setAttribute('data-search-found', '');
    highlightWords(article, words);
  };
  const center = () => find()?.scrollIntoView({ block: 'center' });
  mark();
  center();
  first.focus({ preventScroll: true });

  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      mark();
    });
  }).observe(transcript, { childList: true, subtree: true });

  // Turns above it render their Markdown as they come near, and grow: keep it in the middle
  // until the reader moves, or for a few seconds.
  const resize = new ResizeObserver(() => {
    if (!settled) center();
  });
  resize.observe(transcript);
  const settle = () => {
    settled = true;
    resize.disconnect();
  };
  for (const type of ['wheel', 'touchstart', 'mousedown', 'keydown']) {
    window.addEventListener(type, settle, { once: true, passive: true });
  }
  setTimeout(settle, SETTLE_MS);
}

const turnId = turnFromPath(location.pathname);
const searched = new URLSearchParams(location.search).get('q');
if (turnId != null && searched) {
  // After the page's own modules have drawn the branch (they run before this event).
  document.addEventListener('DOMContentLoaded', () => {
    const transcript = document.getElementById('transcript');
    if (transcript) land(transcript, turnId, searchWords(searched));
  });
}
