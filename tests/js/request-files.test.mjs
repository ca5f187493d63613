// "What the model saw": what it says of a request's files (static/js/request-files.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { filesFacts } from '../../static/js/request-files.js';

test('no files: nothing to say', () => {
  assert.deepEqual(filesFacts(), []);
  assert.deepEqual(filesFacts([], { omitted: [] }), []);
});

test('images and text files are counted apart', () => {
  const files = [{ kind: 'image' }, { kind: 'text' }, { kind: 'image' }];
  assert.deepEqual(filesFacts(files, {}), [
    '2 images sent: each shown below as a placeholder with its name, type, size in pixels and bytes',
    '1 text file sent in full, as documents before the prompt’s text',
  ]);
});

test('images left out for a model that cannot see them', () => {
  assert.deepEqual(filesFacts([{ kind: 'text' }], { images_left_out: 1 }).at(-1),
    '1 image was left out: this model cannot see images');
  assert.deepEqual(filesFacts([], { images_left_out: 3 }), ['3 images were left out: this model cannot see images']);
});
