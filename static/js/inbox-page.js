// The inbox page follows the header's badge: whenever the person's own socket (/ws/me/) says a
// new unread count (review-inbox.js announces it as `inbox:count`), the list is read again from
// the server, which renders it, unread first and newest on top, as it did with the page.
const unreadNote = document.getElementById('inbox-unread');
const actions = document.getElementById('inbox-actions');
const body = document.getElementById('inbox-body');
let shown = Number(document.getElementById('inbox-page')?.dataset.unread ?? Number.NaN);
let asked = 0;

async function refresh(unread) {
  const mine = ++asked;
  let response;
  try {
    response = await fetch(location.pathname, { headers: { Accept: 'text/html' }, credentials: 'same-origin' });
  } catch (_) {
    return; // offline for a moment: the next count tries again
  }
  if (!response.ok || mine !== asked) return;
  const page = new DOMParser().parseFromString(await response.text(), 'text/html');
  if (mine !== asked) return;
  const focused = document.activeElement?.closest?.('[data-notification]')?.dataset.notification;
  actions.replaceChildren(...page.getElementById('inbox-actions').childNodes);
  body.replaceChildren(...page.getElementById('inbox-body').childNodes);
  unreadNote.textContent = page.getElementById('inbox-unread').textContent;
  if (focused) body.querySelector(`[data-notification="${focused}"] a`)?.focus();
  shown = unread;
}

if (unreadNote && actions && body) {
  document.addEventListener('inbox:count', ({ detail }) => {
    if (detail.unread !== shown) refresh(detail.unread);
  });
}
