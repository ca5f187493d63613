// Deltas applied by offset (static/js/stream.js): in order, resent, out of order, with gaps, and
// with characters outside the Basic Multilingual Plane, whose two UTF-16 code units each count.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { applyDelta, applyFinished, withTurnDefaults } from '../../static/js/stream.js';

const streaming = (content = '') => ({ id: 7, status: 'streaming', content });

// Feeds frames to a turn the way the page does: a gap asks to resume from what the turn has, and
// the server answers with the rest of the text from there.
function play(full, frames) {
  const turn = streaming();
  const results = [];
  for (const [offset, length] of frames) {
    const result = applyDelta(turn, offset, full.slice(offset, offset + length));
    results.push(result);
    if (result === 'gap') {
      results.push(applyDelta(turn, turn.content.length, full.slice(turn.content.length)));
    }
  }
  return { turn, results };
}

describe('applyDelta', () => {
  test('appends deltas that arrive in order', () => {
    const turn = streaming();
    assert.equal(applyDelta(turn, 0, 'Hello'), 'applied');
    assert.equal(applyDelta(turn, 5, ', '), 'applied');
    assert.equal(applyDelta(turn, 7, 'world'), 'applied');
    assert.equal(turn.content, 'Hello, world');
  });

  test('an empty delta at the end changes nothing and is a duplicate', () => {
    const turn = streaming('abc');
    assert.equal(applyDelta(turn, 3, ''), 'duplicate');
    assert.equal(turn.content, 'abc');
  });

  test('a delta received twice is applied once', () => {
    const turn = streaming();
    applyDelta(turn, 0, 'abc');
    assert.equal(applyDelta(turn, 0, 'abc'), 'duplicate');
    assert.equal(turn.content, 'abc');
  });

  test('a delta that overlaps the end adds only what is new', () => {
    const turn = streaming('abcde');
    assert.equal(applyDelta(turn, 3, 'defgh'), 'applied');
    assert.equal(turn.content, 'abcdefgh');
  });

  test('a delta wholly inside the text is a duplicate, wherever it starts', () => {
    const turn = streaming('abcdef');
    for (let offset = 0; offset <= 6; offset++) {
      assert.equal(applyDelta(turn, offset, 'abcdef'.slice(offset)), 'duplicate', `offset ${offset}`);
    }
    assert.equal(turn.content, 'abcdef');
  });

  test('a delta past the end is a gap and leaves the text as it was', () => {
    const turn = streaming('abc');
    assert.equal(applyDelta(turn, 4, 'efg'), 'gap');
    assert.equal(turn.content, 'abc');
  });

  test('out of order: the later delta waits for a resume, the earlier one still lands', () => {
    const full = 'one two three four';
    const turn = streaming();
    assert.equal(applyDelta(turn, 0, full.slice(0, 4)), 'applied');
    assert.equal(applyDelta(turn, 8, full.slice(8, 14)), 'gap');
    assert.equal(applyDelta(turn, 4, full.slice(4, 8)), 'applied');
    assert.equal(applyDelta(turn, 8, full.slice(8, 14)), 'applied');
    assert.equal(applyDelta(turn, 14, full.slice(14)), 'applied');
    assert.equal(turn.content, full);
  });

  test('any order, duplicates and gaps end with the whole text, each character once', () => {
    const full = 'The quick brown fox jumps over the lazy dog. '.repeat(4);
    // Frames cut the text at 7-unit steps, then arrive shuffled, some twice.
    const frames = [];
    for (let offset = 0; offset < full.length; offset += 7) frames.push([offset, 7]);
    let seed = 42;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let round = 0; round < 50; round++) {
      const shuffled = [...frames, ...frames.filter(() => random() < 0.3)];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      const { turn } = play(full, shuffled);
      assert.equal(turn.content, full, `round ${round}`);
    }
  });

  test('surrogate pairs: offsets count UTF-16 code units, as the server sends them', () => {
    const full = 'a😀b🧪c';
    assert.equal(full.length, 7); // two code units per emoji
    const turn = streaming();
    assert.equal(applyDelta(turn, 0, 'a😀'), 'applied'); // ends after a pair: offset 3
    assert.equal(applyDelta(turn, 3, 'b'), 'applied');
    assert.equal(applyDelta(turn, 4, '🧪c'), 'applied');
    assert.equal(turn.content, full);
    assert.equal(applyDelta(turn, 1, '😀b'), 'duplicate');
  });

  test('a resent delta that starts before an emoji keeps the pair whole', () => {
    const turn = streaming('x😀');
    assert.equal(applyDelta(turn, 1, '😀y🧪'), 'applied');
    assert.equal(turn.content, 'x😀y🧪');
    assert.equal([...turn.content].length, 4); // four characters, no lone surrogate
    assert.doesNotThrow(() => encodeURIComponent(turn.content)); // throws on a lone surrogate
  });

  test('emoji-only text in two-unit frames, shuffled, arrives whole', () => {
    const full = '👋🏽🌍🚀✨🧪'.repeat(3);
    const frames = [];
    for (let offset = 0; offset < full.length;) {
      const step = full.codePointAt(offset) > 0xffff ? 2 : 1;
      frames.push([offset, step]);
      offset += step;
    }
    const { turn } = play(full, [...frames].reverse());
    assert.equal(turn.content, full);
    assert.doesNotThrow(() => encodeURIComponent(turn.content));
  });
});

describe('applyFinished', () => {
  test('ends the reply when all its text has arrived', () => {
    const turn = streaming('done');
    assert.equal(applyFinished(turn, { status: 'complete', length: 4, output_tokens: 2 }), true);
    assert.equal(turn.status, 'complete');
    assert.equal(turn.output_tokens, 2);
  });

  test('keeps the reply streaming while text is missing, so the caller resumes', () => {
    const turn = streaming('do');
    assert.equal(applyFinished(turn, { status: 'complete', length: 4 }), false);
    assert.equal(turn.status, 'streaming');
    assert.equal(turn.content, 'do');
    // The rest arrives, and the same finish frame again ends it.
    assert.equal(applyDelta(turn, 2, 'ne'), 'applied');
    assert.equal(applyFinished(turn, { status: 'complete', length: 4 }), true);
    assert.equal(turn.status, 'complete');
  });

  test('length counts UTF-16 code units', () => {
    const turn = streaming('😀');
    assert.equal(applyFinished(turn, { status: 'stopped', length: 2 }), true);
    assert.equal(turn.status, 'stopped');
  });

  test('an error with no text ends the reply', () => {
    const turn = streaming('');
    assert.equal(applyFinished(turn, { status: 'error', error: 'rate limited', length: 0 }), true);
    assert.equal(turn.error, 'rate limited');
  });
});

describe('withTurnDefaults', () => {
  test('fills every field a frame leaves out with its empty value', () => {
    const turn = withTurnDefaults({ id: 3, role: 'assistant', status: 'streaming' });
    assert.deepEqual(turn, {
      id: 3, role: 'assistant', status: 'streaming', parent: null, provider: '', model: '',
      settings: {}, token_counts: {}, input_tokens: null, output_tokens: null,
      usage_estimated: false, cost: null, context: {}, error: '', first_token_at: null,
      finished_at: null, length: 0, content: '', reasoning: '', reasoning_length: 0,
      reasoning_tokens: null, reasoning_seconds: null, reasoning_redacted: false, refused: false,
    });
  });

  test('keeps what the frame sent, falsy values included', () => {
    const turn = withTurnDefaults({ id: 4, parent: 3, content: 'hi', cost: 0, input_tokens: 0, usage_estimated: true });
    assert.equal(turn.parent, 3);
    assert.equal(turn.content, 'hi');
    assert.equal(turn.cost, 0);
    assert.equal(turn.input_tokens, 0);
    assert.equal(turn.usage_estimated, true);
  });

  test('each turn gets its own settings object', () => {
    const a = withTurnDefaults({ id: 1 });
    const b = withTurnDefaults({ id: 2 });
    a.settings.temperature = 1;
    assert.deepEqual(b.settings, {});
  });
});
