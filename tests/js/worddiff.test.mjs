// Word diffs of replies in a comparison (static/js/worddiff.js), with the vendored jsdiff that the
// page loads (static/vendor/diff/diff.min.js), so the test diffs exactly as the browser does.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';

import { diffHtml, escapeHtml, partsToHtml } from '../../static/js/worddiff.js';

const require = createRequire(import.meta.url);
const { diffWords } = require('../../static/vendor/diff/diff.min.js');

describe('escapeHtml', () => {
  test('escapes what could open markup or end an attribute', () => {
    assert.equal(escapeHtml(`<img src=x onerror="a('b')">&`), '&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;');
    assert.equal(escapeHtml('plain'), 'plain');
    assert.equal(escapeHtml(''), '');
  });
});

describe('partsToHtml', () => {
  test('marks added and removed parts', () => {
    const html = partsToHtml([{ value: 'a ' }, { value: 'b', removed: true }, { value: 'c', added: true }]);
    assert.equal(html, 'a <del>b</del><ins>c</ins>');
  });

  test('no parts is no markup', () => {
    assert.equal(partsToHtml([]), '');
  });
});

describe('diffHtml with jsdiff', () => {
  test('identical texts have no marks', () => {
    assert.equal(diffHtml(diffWords, 'the same words', 'the same words'), 'the same words');
  });

  test('a changed word is struck out and the new one marked', () => {
    const html = diffHtml(diffWords, 'the quick fox', 'the slow fox');
    assert.equal(html, 'the <del>quick</del><ins>slow</ins> fox');
  });

  test('against an empty base everything is added; an empty reply drops everything', () => {
    assert.equal(diffHtml(diffWords, '', 'new words'), '<ins>new words</ins>');
    assert.equal(diffHtml(diffWords, 'old words', ''), '<del>old words</del>');
    assert.equal(diffHtml(diffWords, '', ''), '');
    assert.equal(diffHtml(diffWords, null, undefined), '');
  });

  test('markup in either text stays text', () => {
    const html = diffHtml(diffWords, 'say <b>hi</b>', 'say <script>alert(1)</script>');
    assert.ok(!/<(?!\/?(ins|del)>)/.test(html), html); // only <ins>/<del> tags remain
    const shown = html.replace(/<del>.*?<\/del>/g, '').replace(/<\/?ins>/g, '');
    assert.equal(shown, 'say &lt;script&gt;alert(1)&lt;/script&gt;');
  });

  test('emoji and other astral characters diff as whole words', () => {
    const html = diffHtml(diffWords, 'launch 🚀 now', 'launch 🧪 now');
    assert.equal(html, 'launch <del>🚀</del><ins>🧪</ins> now');
    assert.doesNotThrow(() => encodeURIComponent(html));
  });

  test('the marked text, read without the dropped words, is the reply', () => {
    const base = 'One two three four five six seven.';
    const text = 'One three four 5 six seven eight.';
    const html = diffHtml(diffWords, base, text);
    const kept = html.replace(/<del>.*?<\/del>/g, '').replace(/<\/?ins>/g, '');
    assert.equal(kept, text);
  });
});
