// The sidebar (templates/conversations/_sidebar.html). Below 1024 px it is a drawer that the top
// bar's menu button opens over the page (see openDrawer). The conversation list in it: its pages load as
// it scrolls (its "Load more" link is a real link, which works without this script), and each
// row's menu pins, renames and deletes in place. The server groups the list by date in the
// browser's time zone, which this script tells it in a cookie (workbench/timezones.py).
const list = document.getElementById('conversation-list');
const TZ_COOKIE = 'workbench_tz';

function cookie(name) {
  const found = document.cookie.split('; ').find((part) => part.startsWith(`${name}=`));
  return found ? found.slice(name.length + 1) : null;
}

function csrfToken() {
  return list.querySelector('input[name=csrfmiddlewaretoken]')?.value || '';
}

// A page of the list, as the server renders it (conversations/_conversation_groups.html).
async function fetchPage(url) {
  const response = await fetch(url, { headers: { Accept: 'text/html' } });
  if (!response.ok) throw new Error((await response.text()) || `The list could not load (${response.status}).`);
  const template = document.createElement('template');
  template.innerHTML = await response.text();
  return template.content;
}

async function post(url, fields) {
  const body = new FormData();
  body.append('csrfmiddlewaretoken', csrfToken());
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  const response = await fetch(url, { method: 'POST', body, headers: { Accept: 'application/json' } });
  if (!response.ok) {
    const reason = response.status === 404 ? 'That conversation is gone, or no longer yours to change.' : await response.text();
    throw new Error(reason || `That did not work (${response.status}).`);
  }
  return response.json();
}

// Says what went wrong under a row (or atop the list), until the next action.
function showError(message, row = null) {
  list.querySelector('.conv-error')?.remove();
  if (!message) return;
  const note = document.createElement('p');
  note.className = 'conv-error';
  note.setAttribute('role', 'alert');
  note.textContent = message;
  if (row) row.after(note);
  else list.prepend(note);
}

// What the markup leaves to the script: rename (which needs it), and the row of the open conversation.
function enhance(root) {
  for (const button of root.querySelectorAll('[data-action=rename][hidden]')) button.hidden = false;
  const current = list.dataset.current;
  if (!current) return;
  const link = root.querySelector(`.conv-row[data-conversation="${current}"] .conv-link`);
  if (link) {
    link.classList.add('active');
    link.setAttribute('aria-current', 'page');
  }
}

// ------------------------------------------------------------------------------------ pages

// Appends a page; a date group that goes on from the previous page is joined to it.
function appendPage(content) {
  const groups = list.querySelectorAll(':scope > .conv-group');
  const last = groups[groups.length - 1];
  const first = content.querySelector('.conv-group');
  if (last && first && first.dataset.group === last.dataset.group) {
    last.querySelector('.conv-rows').append(...first.querySelector('.conv-rows').children);
    first.remove();
  }
  list.append(content);
  enhance(list);
}

let loading = null;

function loadMore(link, { focus = false } = {}) {
  loading ??= (async () => {
    link.textContent = 'Loading…';
    link.setAttribute('aria-disabled', 'true');
    try {
      const content = await fetchPage(link.dataset.fragment);
      const firstNew = content.querySelector('.conv-link');
      link.remove();
      appendPage(content);
      if (focus) firstNew?.focus();
      watchMore();
    } catch (error) {
      link.textContent = 'Load more';
      link.removeAttribute('aria-disabled');
      showError(error.message);
    } finally {
      loading = null;
    }
  })();
  return loading;
}

// The next page loads when the end of the list scrolls into view.
const nearEnd = 'IntersectionObserver' in window
  ? new IntersectionObserver((entries) => {
    for (const entry of entries) if (entry.isIntersecting) loadMore(entry.target);
  }, { rootMargin: '240px' })
  : null;

function watchMore() {
  if (!nearEnd) return;
  nearEnd.disconnect();
  const more = list.querySelector('.load-more');
  if (more) nearEnd.observe(more);
}

// The first page again (after a pin, or in the browser's time zone); `focusOn` is a conversation
// whose menu button takes the focus, if it is still listed.
async function refresh({ focusOn = null } = {}) {
  const content = await fetchPage(list.dataset.refresh);
  list.replaceChildren(content);
  enhance(list);
  watchMore();
  if (focusOn != null) {
    const row = list.querySelector(`.conv-row[data-conversation="${focusOn}"]`);
    (row?.querySelector('summary') || list.querySelector('.conv-link'))?.focus();
  }
}

// ------------------------------------------------------------------------------------ row menus

const menuItems = (menu) => [...menu.querySelectorAll('[role=menuitem]:not([hidden])')];

function closeMenus(except = null) {
  for (const menu of list.querySelectorAll('details.row-menu[open]')) if (menu !== except) menu.open = false;
}

function bindMenus() {
  // `toggle` does not bubble: caught on its way down.
  list.addEventListener('toggle', (event) => {
    const menu = event.target;
    if (!(menu instanceof HTMLDetailsElement) || !menu.open) return;
    closeMenus(menu);
    menuItems(menu)[0]?.focus();
  }, true);
  list.addEventListener('keydown', (event) => {
    const menu = event.target.closest?.('details.row-menu');
    if (!menu) return;
    const items = menuItems(menu);
    const at = items.indexOf(event.target);
    const move = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 }[event.key];
    if (event.key === 'Escape' && menu.open) {
      event.preventDefault();
      menu.open = false;
      menu.querySelector('summary').focus();
    } else if (event.key === 'ArrowDown' && event.target.tagName === 'SUMMARY') {
      event.preventDefault();
      menu.open = true;
    } else if (move !== undefined && at >= 0) {
      event.preventDefault();
      items[(move + items.length) % items.length].focus();
    } else if (event.key === 'Tab' && at >= 0) {
      menu.open = false;
    }
  });
  document.addEventListener('click', (event) => {
    if (!event.target.closest?.('details.row-menu')) closeMenus();
  });
  list.addEventListener('click', (event) => {
    const button = event.target.closest?.('[data-action=rename]');
    if (button) rename(button.closest('.conv-row'), button.dataset.url);
  });
  // On the document, after behaviours.js has asked "Delete …?": a refused confirm is prevented.
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (event.defaultPrevented || !(form instanceof HTMLFormElement) || !list.contains(form)) return;
    const row = form.closest('.conv-row');
    if (!row) return;
    event.preventDefault();
    if (form.id.startsWith('pin-')) pin(row, form);
    else if (form.id.startsWith('delete-')) remove(row, form);
  });
}

async function pin(row, form) {
  showError('');
  try {
    await post(form.action, { pinned: form.elements.pinned.value });
    await refresh({ focusOn: row.dataset.conversation });
  } catch (error) {
    showError(error.message, row);
  }
}

async function remove(row, form) {
  showError('');
  try {
    await post(form.action, {});
  } catch (error) {
    showError(error.message, row);
    return;
  }
  if (row.dataset.conversation === list.dataset.current) {
    location.assign(list.dataset.home); // the conversation on screen is gone
    return;
  }
  const rows = [...list.querySelectorAll('.conv-row')];
  const next = rows[rows.indexOf(row) + 1] || rows[rows.indexOf(row) - 1];
  const group = row.closest('.conv-group');
  row.remove();
  if (group && !group.querySelector('.conv-row')) group.remove();
  (next?.querySelector('.conv-link') || list.querySelector('.load-more'))?.focus();
}

// Renames in place: Enter or leaving the field saves, Escape keeps the title as it was.
function rename(row, url) {
  const menu = row.querySelector('details.row-menu');
  menu.open = false;
  const link = row.querySelector('.conv-link');
  if (row.querySelector('.conv-rename')) return;
  const input = document.createElement('input');
  input.className = 'conv-rename';
  input.value = link.textContent;
  input.setAttribute('aria-label', 'New title');
  link.hidden = true;
  link.before(input);
  input.focus();
  input.select();
  let done = false;
  const finish = () => {
    done = true;
    input.remove();
    link.hidden = false;
    link.focus();
  };
  const save = async () => {
    if (done) return;
    if (input.value === link.textContent) return finish();
    done = true; // one save at a time; an error gives the field back
    try {
      const { title } = await post(url, { title: input.value });
      showError('');
      showTitle(link, title);
      finish();
    } catch (error) {
      done = false;
      showError(error.message, row);
      input.focus();
    }
  };
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      save();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      showError('');
      finish();
    }
  });
  input.addEventListener('blur', () => {
    if (!done) save();
  });
}

// A new title, everywhere the page shows it.
function showTitle(link, title) {
  const shown = title || 'Untitled conversation';
  link.textContent = shown;
  link.title = shown;
  if (!link.classList.contains('active')) return;
  const input = document.querySelector('.rename-form input[name=title]');
  if (input && document.activeElement !== input) input.value = title;
  document.title = `${shown} · Workbench`;
}

// ------------------------------------------------------------------------------------ drawer

// Below 1024 px the sidebar is a drawer over the page, with a scrim behind it. While it is open
// the rest of the page is inert (focus stays in the drawer); Escape, the scrim, its close button
// or choosing a link in it close it, and the focus goes back to the menu button.
const sidebar = document.getElementById('sidebar');
const navToggle = document.getElementById('nav-toggle');
const narrow = window.matchMedia('(max-width: 1023.98px)');

function outsideDrawer() {
  const outside = [document.querySelector('.topbar')];
  for (const sibling of sidebar.parentElement.children) {
    if (sibling !== sidebar && !sibling.classList.contains('drawer-scrim')) outside.push(sibling);
  }
  return outside.filter(Boolean);
}

function openDrawer() {
  sidebar.classList.add('open');
  document.body.classList.add('drawer-open');
  navToggle.setAttribute('aria-expanded', 'true');
  for (const element of outsideDrawer()) element.inert = true;
  const current = sidebar.querySelector('.conv-link.active');
  (current || sidebar.querySelector('#drawer-close')).focus();
}

function closeDrawer({ focusToggle = true } = {}) {
  if (!sidebar.classList.contains('open')) return;
  sidebar.classList.remove('open');
  document.body.classList.remove('drawer-open');
  navToggle.setAttribute('aria-expanded', 'false');
  for (const element of outsideDrawer()) element.inert = false;
  if (focusToggle) navToggle.focus();
}

if (sidebar && navToggle) {
  const scrim = document.createElement('div');
  scrim.className = 'drawer-scrim';
  scrim.setAttribute('aria-hidden', 'true');
  sidebar.after(scrim);
  navToggle.addEventListener('click', () => openDrawer());
  scrim.addEventListener('click', () => closeDrawer());
  document.getElementById('drawer-close')?.addEventListener('click', () => closeDrawer());
  sidebar.addEventListener('keydown', (event) => {
    // A row's open menu or a rename in progress takes its Escape first.
    if (event.key !== 'Escape' || event.defaultPrevented || !sidebar.classList.contains('open')) return;
    event.preventDefault();
    closeDrawer();
  });
  // A link chosen in the drawer leaves the page; the drawer is closed if the page comes back
  // from the browser's cache.
  sidebar.addEventListener('click', (event) => {
    const link = event.target.closest?.('a[href]');
    if (link && !link.classList.contains('load-more') && sidebar.classList.contains('open')) {
      closeDrawer({ focusToggle: false });
    }
  });
  narrow.addEventListener('change', (query) => {
    if (!query.matches) closeDrawer({ focusToggle: false });
  });
  window.addEventListener('pageshow', () => closeDrawer({ focusToggle: false }));
}

// ------------------------------------------------------------------------------------ start

if (list) {
  enhance(list);
  bindMenus();
  list.addEventListener('click', (event) => {
    const more = event.target.closest?.('.load-more');
    if (!more || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    loadMore(more, { focus: event.detail === 0 }); // from the keyboard: focus follows
  });
  watchMore();
  // The time zone the dates are grouped in: the browser's. Told once; the list is grouped again if
  // the page was made before the server knew it.
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && cookie(TZ_COOKIE) !== zone) {
    document.cookie = `${TZ_COOKIE}=${zone}; path=/; max-age=31536000; samesite=lax`;
    if (list.dataset.tz !== zone && !list.querySelector('.list-newest')) {
      refresh().then(() => { list.dataset.tz = zone; }, (error) => showError(error.message));
    }
  }
}
