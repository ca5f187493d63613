// The search box, on every page: Ctrl-K (⌘-K on a Mac) puts the cursor in it. On a phone the box
// is folded into a button in the top bar, which opens it over the bar; Escape, its close button,
// or leaving it empty folds it again. On the results page ↓ and ↑ move from the box through the
// results, each a link that Enter opens.

const mac = /Mac|iPhone|iPad/.test(navigator.userAgentData?.platform || navigator.platform || '');
for (const key of document.querySelectorAll('[data-search-key]')) key.textContent = mac ? '⌘ K' : 'Ctrl K';

const toggle = document.getElementById('search-toggle');
const folded = document.getElementById('topbar-search');

function unfold() {
  folded.classList.add('open');
  toggle.setAttribute('aria-expanded', 'true');
}

function fold({ focusToggle = false } = {}) {
  if (!folded.classList.contains('open')) return;
  folded.classList.remove('open');
  toggle.setAttribute('aria-expanded', 'false');
  if (focusToggle) toggle.focus();
}

if (toggle && folded) {
  toggle.addEventListener('click', () => {
    unfold();
    document.getElementById('search-box').focus();
  });
  document.getElementById('search-close')?.addEventListener('click', () => fold({ focusToggle: true }));
  folded.addEventListener('focusout', (event) => {
    if (!folded.contains(event.relatedTarget) && !document.getElementById('search-box').value) fold();
  });
}

function openSearch(event) {
  if (toggle && folded && toggle.getClientRects().length) unfold();
  const box = document.getElementById('search-box');
  if (box && box.getClientRects().length) {
    event.preventDefault();
    box.focus();
    box.select();
  }
}

function moveThroughResults(event) {
  const hits = [...document.querySelectorAll('.search-hit')];
  if (!hits.length) return;
  const fromBox = event.target.id === 'search-box';
  const here = hits.indexOf(document.activeElement);
  if (here < 0 && !fromBox) return;
  const step = event.key === 'ArrowDown' ? 1 : -1;
  if (fromBox && step < 0) return;
  const next = fromBox ? 0 : here + step;
  if (next < 0) document.getElementById('search-box')?.focus();
  else if (next < hits.length) hits[next].focus();
  event.preventDefault();
}

document.addEventListener('keydown', (event) => {
  if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && event.key.toLowerCase() === 'k') {
    openSearch(event);
  } else if (event.key === 'Escape' && event.target.closest?.('.topbar-search')) {
    if (folded?.classList.contains('open')) fold({ focusToggle: true });
    else event.target.blur();
  } else if ((event.key === 'ArrowDown' || event.key === 'ArrowUp') && !event.altKey) {
    moveThroughResults(event);
  }
});
