// static/js/image-tokens.js against the cases conversations/attachments/image_tokens.py gives
// (tests/data/image_tokens_cases.json, checked on the Python side by tests/test_image_tokens_port.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import { imageTokens, patches } from '../../static/js/image-tokens.js';

const shared = JSON.parse(readFileSync(new URL('../data/image_tokens_cases.json', import.meta.url), 'utf8'));

describe('imageTokens', () => {
  test('every shared case counts as the server counts it, under every rule', () => {
    assert.ok(shared.cases.length > 100);
    for (const { width, height, tokens } of shared.cases) {
      const got = shared.rules.map((rule) => imageTokens(width, height, rule));
      assert.deepEqual(got, tokens, `${width}×${height}`);
    }
  });

  test('the vendors\' worked examples', () => {
    assert.equal(imageTokens(1024, 1024, { rule: 'tiles', base: 85, tile: 170 }), 765);
    assert.equal(imageTokens(2048, 4096, { rule: 'tiles', base: 85, tile: 170 }), 1105);
    assert.equal(patches(1800, 2400), 1452);
    assert.equal(imageTokens(1800, 2400, { rule: 'patches', multiplier: 1.62 }), 2353);
    assert.equal(imageTokens(1092, 1092, { rule: 'area' }), 1590);
  });

  test('no rule, no vision, or no size: nothing', () => {
    assert.equal(imageTokens(1024, 1024, { rule: 'none' }), 0);
    assert.equal(imageTokens(1024, 1024, undefined), 0);
    assert.equal(imageTokens(undefined, 1024, { rule: 'area' }), 0);
  });
});
