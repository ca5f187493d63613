// The words a search marks on the page it opens (static/js/search-terms.js), read as the server
// reads a search (conversations/search/query.py).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { searchWords, wordMatches } from '../../static/js/search-terms.js';

describe('searchWords', () => {
  test('words of three letters or more are prefixes; shorter ones and quoted ones are whole', () => {
    assert.deepEqual(searchWords('Refact go "exact"'), [
      { word: 'refact', prefix: true },
      { word: 'go', prefix: false },
      { word: 'exact', prefix: false },
    ]);
  });

  test('punctuation joins words into a phrase of whole words; operators are words or nothing', () => {
    assert.deepEqual(searchWords('node.js AND( * -'), [
      { word: 'node', prefix: false },
      { word: 'js', prefix: false },
      { word: 'and', prefix: true },
    ]);
  });

  test('a quote left open runs to the end; letters of any script count', () => {
    assert.deepEqual(searchWords('"Straße café'), [
      { word: 'straße', prefix: false },
      { word: 'café', prefix: false },
    ]);
  });
});

describe('wordMatches', () => {
  test('finds whole words and prefixes without case, nothing inside words', () => {
    const words = searchWords('refact go');
    const text = 'Refactoring, then go; not ago or gopher.';
    assert.deepEqual(wordMatches(text, words).map(([s, e]) => text.slice(s, e)), ['Refactoring', 'go']);
  });

  test('no words, no matches', () => {
    assert.deepEqual(wordMatches('anything', []), []);
  });
});
