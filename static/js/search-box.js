// The search box, on every page: Ctrl-K (⌘-K on a Mac) puts the cursor in it, or, on a narrow
// screen where the box is folded into a link, opens the search page. On the results page ↓ and ↑
// move from the box through the results, each a link that Enter opens.

const mac = /Mac|iPhone|iPad/.test(navigator.userAgentData?.platform || navigator.platform || '');
for (const key of document.querySelectorAll('[data-search-key]')) key.textContent = mac ? '⌘ K' : 'Ctrl K';

function openSearch(event) {
  const box = document.getElementById('search-box');
  if (box && box.getClientRects().length) {
    event.preventDefault();
    box.focus();
    box.select();
    return;
  }
  const link = document.querySelector('.topbar-search-link');
  if (link) {
    event.preventDefault();
    location.assign(link.href);
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
  } else if (event.key === 'Escape' && event.target.id === 'search-box' && event.target.closest('.topbar')) {
    event.target.blur();
  } else if ((event.key === 'ArrowDown' || event.key === 'ArrowUp') && !event.altKey) {
    moveThroughResults(event);
  }
});
