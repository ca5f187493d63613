// The top bar's menus. On a phone a page's own actions (Share, Export, Tree map…) fold behind
// "More": the same elements, so the scripts that use them by id need not know where they are.
// The account menu is a <details>. Both close on Escape (focus back on their button), on a
// click elsewhere, and once an action is chosen.

const more = document.getElementById('more-button');
const moreItems = document.getElementById('more-items');
const account = document.getElementById('account-menu');
let lastFromMore = false; // an action chosen from the folded menu, whose dialog may close later

function setMore(open, { focusButton = false } = {}) {
  if (!more) return;
  moreItems.classList.toggle('open', open);
  more.setAttribute('aria-expanded', String(open));
  if (open) moreItems.querySelector('button:not([hidden]):not(:disabled), summary')?.focus();
  else if (focusButton) more.focus();
}

if (more && moreItems) {
  more.addEventListener('click', () => setMore(!moreItems.classList.contains('open')));
  moreItems.addEventListener('click', (event) => {
    if (!moreItems.classList.contains('open')) return;
    // Opening Export's own list keeps the menu open; any other action closes it.
    if (event.target.closest('summary')) return;
    if (event.target.closest('button, a')) {
      lastFromMore = true;
      setMore(false);
    }
  });
  // The presence of others shows as a dot on "More" while the list behind it is folded.
  const presence = document.getElementById('presence');
  if (presence) {
    const mark = () => more.classList.toggle('has-presence', !presence.hidden);
    new MutationObserver(mark).observe(presence, { attributes: true, attributeFilter: ['hidden'] });
    mark();
  }
}

document.addEventListener('click', (event) => {
  if (more && moreItems.classList.contains('open') && !event.target.closest?.('.topbar-actions')) setMore(false);
  if (account?.open && !account.contains(event.target)) account.open = false;
});

document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  if (more && moreItems.classList.contains('open') && moreItems.contains(event.target)) {
    if (event.target.closest('details[open]')) return; // Export's own list closes first
    event.preventDefault();
    setMore(false, { focusButton: true });
  } else if (account?.open && account.contains(event.target)) {
    event.preventDefault();
    account.open = false;
    account.querySelector('summary').focus();
  }
}, true); // before Export's own handler closes its list, so that Escape closes one thing at a time

// A dialog opened from the folded menu gives the focus back to a hidden button, which drops it
// on the page: "More" takes it instead.
document.addEventListener('close', (event) => {
  if (!(event.target instanceof HTMLDialogElement) || !lastFromMore) return;
  lastFromMore = false;
  requestAnimationFrame(() => {
    if (document.activeElement === document.body && more?.getClientRects().length) more.focus();
  });
}, true);

// From 600 px the actions sit in the bar: a folded menu left open would be stale.
window.matchMedia('(max-width: 599.98px)').addEventListener('change', (query) => {
  if (!query.matches) setMore(false);
});
