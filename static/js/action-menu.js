// A menu button, as the WAI-ARIA Authoring Practices describe it: the button opens a menu of
// actions; ↓/↑ (and Home/End, or an item's first letter) move between them, Enter or Space picks
// one, Escape closes the menu and gives the focus back to the button, Tab or a click elsewhere
// closes it. Its items are made when it first opens: a 2,000-turn branch carries 2,000 of these.
import { icon } from './icons.js';
import { el } from './turns.js';

let made = 0;
let openOne = null; // the menu that is open, if any: one at a time

/**
 * `items()` gives the entries, each {label, icon, onSelect, danger, separated, action}: `separated`
 * draws a rule above it, `action` becomes its data-action. `floor()` and `ceiling()` give the y (px,
 * viewport) the menu must stay between, e.g. the top of a sticky composer and the bottom of a
 * sticky bar: it opens upwards when there is more room above, and the page scrolls as little as
 * it takes to show it whole.
 */
export function menuButton({
  label = 'More actions', menuLabel, items, floor = () => window.innerHeight, ceiling = () => 0,
}) {
  const id = `action-menu-${++made}`;
  const button = el('button', {
    type: 'button',
    class: 'button ghost icon-only compact menu-button',
    'aria-label': label,
    title: label,
    'aria-haspopup': 'menu',
    'aria-expanded': 'false',
    'aria-controls': id,
  }, icon('ellipsis'));
  const menu = el('div', { class: 'action-menu-items', role: 'menu', id, 'aria-label': menuLabel, hidden: true });
  const root = el('div', { class: 'action-menu' }, button, menu);

  const entries = () => [...menu.querySelectorAll('[role=menuitem]')];
  const focusAt = (index) => {
    const all = entries();
    // Without preventScroll, Chromium centres an item it focuses outside the view, menu and all.
    if (all.length) all[(index + all.length) % all.length].focus({ preventScroll: true });
  };

  function fill() {
    menu.replaceChildren();
    for (const item of items()) {
      if (item.separated) menu.append(el('div', { class: 'menu-separator', role: 'separator' }));
      const entry = el('button', {
        type: 'button',
        role: 'menuitem',
        tabindex: '-1',
        class: item.danger ? 'menu-item danger' : 'menu-item',
        'data-action': item.action,
      }, icon(item.icon), el('span', { text: item.label }));
      entry.addEventListener('click', () => {
        close({ focus: true });
        item.onSelect(button);
      });
      menu.append(entry);
    }
  }

  function open(focusIndex = 0) {
    if (openOne && openOne !== close) openOne({ focus: false });
    fill();
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    root.classList.remove('up');
    const at = button.getBoundingClientRect();
    const below = floor() - at.bottom;
    const above = at.top - ceiling();
    if (menu.offsetHeight > below && above > below) root.classList.add('up');
    const box = menu.getBoundingClientRect();
    if (box.top < ceiling()) window.scrollBy(0, box.top - ceiling() - 8);
    else if (box.bottom > floor()) window.scrollBy(0, Math.min(box.bottom - floor() + 8, box.top - ceiling()));
    openOne = close;
    document.addEventListener('pointerdown', outside, true);
    focusAt(focusIndex);
  }

  function close({ focus = false } = {}) {
    if (menu.hidden) return;
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    document.removeEventListener('pointerdown', outside, true);
    if (openOne === close) openOne = null;
    if (focus) button.focus();
  }

  function outside(event) {
    if (!root.contains(event.target)) close();
  }

  button.addEventListener('click', () => (menu.hidden ? open(0) : close({ focus: true })));
  button.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      event.stopPropagation();
      open(event.key === 'ArrowDown' ? 0 : -1);
    }
  });
  menu.addEventListener('keydown', (event) => {
    const all = entries();
    const at = all.indexOf(document.activeElement);
    const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: -1 };
    if (Object.hasOwn(moves, event.key)) focusAt(moves[event.key]);
    else if (event.key === 'Escape') close({ focus: true });
    else if (event.key === 'Tab') {
      close();
      return;
    } else if (event.key.length === 1 && /\S/.test(event.key) && !event.ctrlKey && !event.metaKey && !event.altKey) {
      // The next item whose label starts with the letter typed.
      const letter = event.key.toLowerCase();
      const order = [...all.slice(at + 1), ...all.slice(0, at + 1)];
      order.find((item) => item.textContent.trim().toLowerCase().startsWith(letter))?.focus();
    } else return;
    event.preventDefault();
    event.stopPropagation();
  });
  root.addEventListener('focusout', (event) => {
    if (!menu.hidden && event.relatedTarget && !root.contains(event.relatedTarget)) close();
  });
  return root;
}
