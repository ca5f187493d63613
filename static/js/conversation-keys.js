// The conversation page's keys, outside a text box: j/k move along the branch, ←/→ (or h/l) switch
// the focused turn's versions, e edits it, Shift+R regenerates it, t opens the tree map, / goes to
// the composer, ? lists them all. keyCommand() is the pure part (tested with node --test);
// bindKeys() wires it, bindShortcutHelp() the list and its switch.
//
// Regenerating spends money, so it takes Shift+R: a stray r does nothing. Single-key shortcuts can
// be turned off in the list (remembered in this browser), as WCAG 2.1.4 asks: then only the arrow
// keys on a focused turn still act, like any widget's arrows.
import { siblingOf } from './conversation-branch.js';

const VERSION_KEYS = { ArrowLeft: -1, h: -1, ArrowRight: 1, l: 1 };
const STORAGE_KEY = 'workbench.shortcuts';

/**
 * What `key` does on a branch of `turns` with `current` focused (falsy: no turn is): null when the
 * key is not the page's, so the browser keeps it; else {do: 'focus', turn}, {do: 'version', id}
 * (the sibling's branch opens), {do: 'edit', turn}, {do: 'regenerate', turn}, {do: 'tree'},
 * {do: 'write'}, {do: 'help'}, or {do: 'nothing'}: the page's key, with nowhere to go. `shift`:
 * whether Shift was held; `singleKeys`: whether character keys are on.
 */
export function keyCommand(key, turns, current, { shift = false, singleKeys = true } = {}) {
  if (!singleKeys && key.length === 1) return null;
  if (key === 'j' || key === 'k') {
    const index = current ? turns.findIndex((t) => t.id === current.id) : turns.length;
    const next = turns[Math.max(0, Math.min(turns.length - 1, index + (key === 'j' ? 1 : -1)))];
    return next ? { do: 'focus', turn: next } : { do: 'nothing' };
  }
  if (Object.hasOwn(VERSION_KEYS, key) && current) {
    const id = siblingOf(current, VERSION_KEYS[key]);
    return id ? { do: 'version', id } : { do: 'nothing' };
  }
  if (key === 'e' && current?.role === 'user') return { do: 'edit', turn: current };
  if (key === 'R' && shift && current?.role === 'assistant' && current.status !== 'streaming') return { do: 'regenerate', turn: current };
  if (key === 't') return { do: 'tree' };
  if (key === '/') return { do: 'write' };
  if (key === '?') return { do: 'help' };
  return null;
}

export function shortcutsOn() {
  try {
    return localStorage.getItem(STORAGE_KEY) !== 'off';
  } catch (_) {
    return true;
  }
}

function setShortcutsOn(on) {
  try {
    localStorage.setItem(STORAGE_KEY, on ? 'on' : 'off');
  } catch (_) {
    /* private mode: on for this page only */
  }
}

// `on` has a handler per command ({focus, version, edit, regenerate, tree, write, help}), given the command.
export function bindKeys({ branch, focusedTurn, on }) {
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (event.target.closest('textarea, input, select, [contenteditable], [role=menu], dialog')) return;
    const command = keyCommand(event.key, branch.turns, focusedTurn(), { shift: event.shiftKey, singleKeys: shortcutsOn() });
    if (!command) return;
    if (command.do !== 'nothing') on[command.do](command);
    event.preventDefault();
  });
}

/**
 * The list of shortcuts: a modal <dialog> (the page behind it inert, Escape closes it, the focus
 * goes back where it was), opened by `button` or `?`, with the switch that turns the single keys
 * off. Returns the function that opens it.
 */
export function bindShortcutHelp({ dialog, button }) {
  const toggle = dialog.querySelector('#shortcuts-enabled');
  const state = dialog.querySelector('#shortcuts-state');
  let opener = null;
  const show = () => {
    toggle.checked = shortcutsOn();
    state.textContent = toggle.checked ? 'On' : 'Off';
    dialog.classList.toggle('keys-off', !toggle.checked);
  };
  toggle.addEventListener('change', () => {
    setShortcutsOn(toggle.checked);
    show();
  });
  for (const close of dialog.querySelectorAll('[data-close]')) close.addEventListener('click', () => dialog.close());
  // A click on the backdrop (outside the dialog's box) closes it too.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close();
  });
  // Tab and Shift+Tab go round the dialog's controls: without this, Tab past the last one leaves
  // the (inert) page for the browser's own bar.
  dialog.addEventListener('keydown', (event) => {
    if (event.key !== 'Tab') return;
    const controls = [...dialog.querySelectorAll('button, input, [href], [tabindex]:not([tabindex="-1"])')]
      .filter((control) => !control.disabled && control.offsetParent !== null);
    const first = controls[0];
    const last = controls[controls.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
  dialog.addEventListener('close', () => {
    if (opener?.isConnected) opener.focus();
    opener = null;
  });
  const open = () => {
    if (dialog.open) return;
    opener = document.activeElement;
    show();
    dialog.showModal();
    toggle.focus();
  };
  button.addEventListener('click', open);
  return open;
}
