// How the tree map names a prompt's attached files (static/js/tree-draw.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { filesLabel } from '../../static/js/tree-draw.js';

test('a node says how many files its prompt carries, and nothing when none', () => {
  assert.equal(filesLabel(2), '2 files attached');
  assert.equal(filesLabel(1), '1 file attached');
  assert.equal(filesLabel(10), '10 files attached');
  assert.equal(filesLabel(0), '');
  assert.equal(filesLabel(undefined), '');
  assert.equal(filesLabel(-1), '');
});
