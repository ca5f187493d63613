// The header's inbox badge: the server renders the count with the page; the person's own socket
// (/ws/me/) says each new count at once. Reconnects with backoff; signed out (4401) ends it.
const link = document.getElementById('inbox-link');
const count = document.getElementById('inbox-count');

function show(unread) {
  count.textContent = unread > 99 ? '99+' : String(unread);
  count.hidden = unread === 0;
  link.classList.toggle('has-unread', unread > 0);
  link.setAttribute('aria-label', unread ? `Inbox: ${unread} unread` : 'Inbox');
  link.dataset.unread = String(unread);
  document.dispatchEvent(new CustomEvent('inbox:count', { detail: { unread } }));
}

function connect(retry = 0) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}${link.dataset.socket}`);
  ws.addEventListener('open', () => { retry = 0; });
  ws.addEventListener('message', (event) => {
    try {
      const frame = JSON.parse(event.data);
      if (frame.type === 'inbox.count' && Number.isInteger(frame.unread)) show(frame.unread);
    } catch (_) {
      /* not a frame of ours */
    }
  });
  ws.addEventListener('close', (event) => {
    if (event.code >= 4400 && event.code < 4500) return;
    setTimeout(() => connect(retry + 1), Math.min(30000, 1000 * 2 ** retry));
  });
}

if (link && count) {
  link.dataset.unread = count.hidden ? '0' : count.textContent;
  connect();
}
