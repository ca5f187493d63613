// URL templates with named slots (static/js/urls.js), as converters.url_template writes them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { fillUrl, urlSlots } from '../../static/js/urls.js';

describe('fillUrl', () => {
  test('fills a named slot', () => {
    assert.equal(fillUrl('/c/12/t/{turn_id}/branch.json', { turn_id: 34 }), '/c/12/t/34/branch.json');
  });

  test('fills several slots, each by its name', () => {
    assert.equal(fillUrl('/c/{conversation_id}/t/{turn_id}/', { turn_id: 5, conversation_id: 9 }), '/c/9/t/5/');
  });

  test('ids that contain the digits of other parts of the URL are no problem', () => {
    // The old scheme replaced a "/0/" placeholder: conversation 10, turn 0-something collided.
    assert.equal(fillUrl('/c/10/t/{turn_id}/', { turn_id: 100 }), '/c/10/t/100/');
    assert.equal(fillUrl('/s/0abc0/t/{turn_id}/branch.json', { turn_id: 0 }), '/s/0abc0/t/0/branch.json');
  });

  test('a template with no slot is returned as it is', () => {
    assert.equal(fillUrl('/c/12/tree.json'), '/c/12/tree.json');
  });

  test('a missing value is an error, not a broken link', () => {
    assert.throws(() => fillUrl('/c/12/t/{turn_id}/', {}), /no value for \{turn_id\}/);
    assert.throws(() => fillUrl('/c/12/t/{turn_id}/', { turn: 3 }), /turn_id/);
    assert.throws(() => fillUrl('/c/12/t/{turn_id}/', { turn_id: null }), /turn_id/);
    assert.throws(() => fillUrl('/c/12/t/{turn_id}/', { turn_id: '' }), /turn_id/);
    assert.throws(() => fillUrl(undefined, { turn_id: 1 }), TypeError);
  });

  test('values are escaped as one path segment', () => {
    assert.equal(fillUrl('/x/{id}/', { id: 'a/b?c#d' }), '/x/a%2Fb%3Fc%23d/');
    assert.equal(fillUrl('/x/{id}/', { id: '😀' }), '/x/%F0%9F%98%80/');
  });

  test('a value that looks like a slot is not filled again', () => {
    assert.equal(fillUrl('/x/{a}/{b}/', { a: '{b}', b: 1 }), '/x/%7Bb%7D/1/');
  });
});

describe('urlSlots', () => {
  test('lists the slots in order', () => {
    assert.deepEqual(urlSlots('/c/{conversation_id}/t/{turn_id}/'), ['conversation_id', 'turn_id']);
    assert.deepEqual(urlSlots('/c/12/'), []);
  });
});
