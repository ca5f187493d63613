// The "Shared links" page: a copy button on every working link, and a filter by conversation title
// (on the page: it holds at most 500 links, and filtering them here answers at every keystroke).
import { wireCopy } from './copy.js';

for (const button of document.querySelectorAll('button[data-copy-from]')) {
  const source = document.getElementById(button.dataset.copyFrom);
  if (source) wireCopy(button, () => source.textContent.trim(), { failed: 'Copy failed: select the link and copy it' });
}

const filter = document.getElementById('links-filter');
const cards = [...document.querySelectorAll('#links-list > .link-card')];
const count = document.getElementById('links-count');
const none = document.getElementById('links-none');

function applyFilter() {
  const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const card of cards) {
    const match = words.every((word) => card.dataset.title.includes(word));
    card.hidden = !match;
    if (match) shown += 1;
  }
  const total = Number(count.dataset.total);
  const plural = (n) => `${n} link${n === 1 ? '' : 's'}`;
  count.textContent = words.length ? `${shown} of ${plural(total)}` : plural(total);
  none.hidden = shown > 0;
  document.getElementById('links-none-query').textContent = filter.value.trim();
}

if (filter) {
  filter.addEventListener('input', applyFilter);
  filter.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && filter.value) {
      filter.value = '';
      applyFilter();
    }
  });
  if (filter.value) applyFilter(); // a value the browser restored on going back
}
