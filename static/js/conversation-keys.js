// The conversation page's keys, outside a text box: j/k move along the branch, ←/→ (or h/l) switch
// the focused turn's versions, e edits it, r regenerates it, t opens the tree map, / goes to the
// composer. keyCommand() is the pure part (tested with node --test); bindKeys() wires it.
import { siblingOf } from './conversation-branch.js';

const VERSION_KEYS = { ArrowLeft: -1, h: -1, ArrowRight: 1, l: 1 };

/**
 * What `key` does on a branch of `turns` with `current` focused (falsy: no turn is): null when the
 * key is not the page's, so the browser keeps it; else {do: 'focus', turn}, {do: 'version', id}
 * (the sibling's branch opens), {do: 'edit', turn}, {do: 'regenerate', turn}, {do: 'tree'},
 * {do: 'write'}, or {do: 'nothing'}: the page's key, with nowhere to go.
 */
export function keyCommand(key, turns, current) {
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
  if (key === 'r' && current?.role === 'assistant' && current.status !== 'streaming') return { do: 'regenerate', turn: current };
  if (key === 't') return { do: 'tree' };
  if (key === '/') return { do: 'write' };
  return null;
}

// `on` has a handler per command ({focus, version, edit, regenerate, tree, write}), given the command.
export function bindKeys({ branch, focusedTurn, on }) {
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest('textarea, input, select, [contenteditable]')) return;
    const command = keyCommand(event.key, branch.turns, focusedTurn());
    if (!command) return;
    if (command.do !== 'nothing') on[command.do](command);
    event.preventDefault();
  });
}
