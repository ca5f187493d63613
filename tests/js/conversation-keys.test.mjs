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

describe('e, r, t and /', () => {
  test('e edits a focused prompt, and nothing else', () => {
    assert.deepEqual(keyCommand('e', turns, third), { do: 'edit', turn: third });
    assert.equal(keyCommand('e', turns, second), null);
    assert.equal(keyCommand('e', turns, null), null);
  });

  test('r regenerates a focused reply that is not streaming', () => {
    assert.deepEqual(keyCommand('r', turns, second), { do: 'regenerate', turn: second });
    assert.equal(keyCommand('r', turns, last), null);
    assert.equal(keyCommand('r', turns, first), null);
    assert.equal(keyCommand('r', turns, null), null);
  });

  test('t opens the tree map and / the composer, focused turn or not', () => {
    assert.deepEqual(keyCommand('t', turns, null), { do: 'tree' });
    assert.deepEqual(keyCommand('/', turns, second), { do: 'write' });
  });

  test('any other key is the browser’s', () => {
    for (const key of ['a', 'J', 'Enter', 'ArrowUp', ' ', 'toString', 'constructor']) {
      assert.equal(keyCommand(key, turns, second), null, key);
    }
  });
});
