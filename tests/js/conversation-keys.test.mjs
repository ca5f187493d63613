// The conversation page's keys (static/js/conversation-keys.js): what each key does to the branch.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { keyCommand } from '../../static/js/conversation-keys.js';

const turns = [
  { id: 1, role: 'user', status: 'complete', siblings: [1] },
  { id: 2, role: 'assistant', status: 'complete', siblings: [2, 5, 9] },
  { id: 3, role: 'user', status: 'complete', siblings: [3] },
  { id: 4, role: 'assistant', status: 'streaming', siblings: [4] },
];
const [first, second, third, last] = turns;

describe('j and k move along the branch', () => {
  test('one turn down or up from the focused one', () => {
    assert.deepEqual(keyCommand('j', turns, second), { do: 'focus', turn: third });
    assert.deepEqual(keyCommand('k', turns, second), { do: 'focus', turn: first });
  });

  test('and stay at either end', () => {
    assert.deepEqual(keyCommand('j', turns, last), { do: 'focus', turn: last });
    assert.deepEqual(keyCommand('k', turns, first), { do: 'focus', turn: first });
  });

  test('with no turn focused, both start at the end of the branch', () => {
    assert.deepEqual(keyCommand('j', turns, null), { do: 'focus', turn: last });
    assert.deepEqual(keyCommand('k', turns, undefined), { do: 'focus', turn: last });
  });

  test('on an empty branch they are still the page’s keys, with nowhere to go', () => {
    assert.deepEqual(keyCommand('j', [], null), { do: 'nothing' });
    assert.deepEqual(keyCommand('k', [], null), { do: 'nothing' });
  });
});

describe('arrows, h and l switch the focused turn’s versions', () => {
  test('to the previous and next version', () => {
    const middle = { ...second, id: 5 };
    for (const key of ['ArrowLeft', 'h']) assert.deepEqual(keyCommand(key, turns, middle), { do: 'version', id: 2 });
    for (const key of ['ArrowRight', 'l']) assert.deepEqual(keyCommand(key, turns, middle), { do: 'version', id: 9 });
  });

  test('not past the first or last version', () => {
    assert.deepEqual(keyCommand('ArrowLeft', turns, second), { do: 'nothing' });
    assert.deepEqual(keyCommand('l', turns, { ...second, id: 9 }), { do: 'nothing' });
    assert.deepEqual(keyCommand('h', turns, first), { do: 'nothing' });
  });

  test('with no turn focused, the browser keeps them (arrows scroll)', () => {
    for (const key of ['ArrowLeft', 'ArrowRight', 'h', 'l']) assert.equal(keyCommand(key, turns, null), null);
  });
});

describe('e, Shift+R, t, / and ?', () => {
  test('e edits a focused prompt, and nothing else', () => {
    assert.deepEqual(keyCommand('e', turns, third), { do: 'edit', turn: third });
    assert.equal(keyCommand('e', turns, second), null);
    assert.equal(keyCommand('e', turns, null), null);
  });

  test('Shift+R regenerates a focused reply that is not streaming', () => {
    assert.deepEqual(keyCommand('R', turns, second, { shift: true }), { do: 'regenerate', turn: second });
    assert.equal(keyCommand('R', turns, last, { shift: true }), null);
    assert.equal(keyCommand('R', turns, first, { shift: true }), null);
    assert.equal(keyCommand('R', turns, null, { shift: true }), null);
  });

  test('r alone, or R from Caps Lock without Shift, regenerates nothing', () => {
    assert.equal(keyCommand('r', turns, second), null);
    assert.equal(keyCommand('r', turns, second, { shift: false }), null);
    assert.equal(keyCommand('R', turns, second), null);
  });

  test('t opens the tree map, / the composer and ? the list of keys, focused turn or not', () => {
    assert.deepEqual(keyCommand('t', turns, null), { do: 'tree' });
    assert.deepEqual(keyCommand('/', turns, second), { do: 'write' });
    assert.deepEqual(keyCommand('?', turns, null, { shift: true }), { do: 'help' });
  });

  test('any other key is the browser’s', () => {
    for (const key of ['a', 'J', 'Enter', 'ArrowUp', ' ', 'toString', 'constructor']) {
      assert.equal(keyCommand(key, turns, second), null, key);
    }
  });
});

describe('single-key shortcuts turned off', () => {
  const off = { singleKeys: false };

  test('no character key does anything', () => {
    for (const key of ['j', 'k', 'h', 'l', 'e', 't', '/', '?', 'r']) {
      assert.equal(keyCommand(key, turns, third, off), null, key);
    }
    assert.equal(keyCommand('R', turns, second, { ...off, shift: true }), null);
  });

  test('the arrows still switch the focused turn’s versions', () => {
    assert.deepEqual(keyCommand('ArrowRight', turns, second, off), { do: 'version', id: 5 });
    assert.equal(keyCommand('ArrowRight', turns, null, off), null);
  });
});
