// A reply's reasoning (static/js/stream.js, static/js/format.js): its frames merged by offset, the
// end of a reply that must have all of it, the Thinking block's label, and which reasoning setting
// each kind of model takes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  hasThinking, metaText, reasoningKind, settingsForModel, settingsText, thinkingDetail, thinkingElapsed, thinkingLabel,
  usageText,
} from '../../static/js/format.js';
import {
  applyDelta, applyFinished, applyReasoning, isWhole, resumeFrame, withTurnDefaults,
} from '../../static/js/stream.js';

const CREATED = '2025-01-01T12:00:00+00:00';
const at = (seconds) => Date.parse(CREATED) + seconds * 1000;
const thinking = (fields = {}) => withTurnDefaults({ id: 5, role: 'assistant', status: 'streaming', created_at: CREATED, ...fields });

describe('reasoning frames', () => {
  test('a turn from a frame without reasoning reads as having none', () => {
    const turn = withTurnDefaults({ id: 1 });
    assert.equal(turn.reasoning, '');
    assert.equal(turn.reasoning_length, 0);
    assert.equal(turn.reasoning_tokens, null);
    assert.equal(turn.reasoning_seconds, null);
    assert.equal(turn.reasoning_redacted, false);
    assert.equal(turn.refused, false);
    assert.equal(hasThinking(turn), false);
  });

  test('apply in order, once when resent, only their new end when they overlap', () => {
    const turn = thinking();
    assert.equal(applyReasoning(turn, 0, 'First, '), 'applied');
    assert.equal(applyReasoning(turn, 7, 'the sum'), 'applied');
    assert.equal(applyReasoning(turn, 0, 'First, '), 'duplicate');
    assert.equal(applyReasoning(turn, 10, ' sum of'), 'applied');
    assert.equal(turn.reasoning, 'First, the sum of');
    assert.equal(turn.content, '');
  });

  test('one past the end is a gap: resume asks for the reasoning from what the page has', () => {
    const turn = thinking({ reasoning: 'abc', content: '' });
    assert.equal(applyReasoning(turn, 5, 'fgh'), 'gap');
    assert.equal(turn.reasoning, 'abc');
    assert.deepEqual(resumeFrame(turn), { action: 'resume', turn: 5, offset: 0, reasoning_offset: 3 });
    assert.equal(applyReasoning(turn, 3, 'defgh'), 'applied');
    assert.equal(turn.reasoning, 'abcdefgh');
  });

  test('offsets count UTF-16 code units, as the server does', () => {
    const turn = thinking();
    applyReasoning(turn, 0, 'ok 🤔');
    assert.equal(applyReasoning(turn, 5, ' so'), 'applied');
    assert.equal(turn.reasoning, 'ok 🤔 so');
    assert.deepEqual(resumeFrame(turn).reasoning_offset, 8);
  });

  test('text and reasoning interleaved keep their own offsets', () => {
    const turn = thinking();
    const reasoning = 'Weigh both. Then answer.';
    const text = 'Both, then.';
    const frames = [['r', 0, 6], ['r', 6, 6], ['t', 0, 5], ['r', 12, 12], ['t', 5, 6], ['r', 6, 6]];
    for (const [kind, offset, length] of frames) {
      if (kind === 'r') applyReasoning(turn, offset, reasoning.slice(offset, offset + length));
      else applyDelta(turn, offset, text.slice(offset, offset + length));
    }
    assert.equal(turn.reasoning, reasoning);
    assert.equal(turn.content, text);
  });

  test('a reply has ended only once its text and its reasoning are whole', () => {
    const turn = thinking({ reasoning: 'abc', content: 'xy' });
    assert.equal(isWhole(turn, { length: 2, reasoning_length: 3 }), true);
    assert.equal(isWhole(turn, { length: 2, reasoning_length: 4 }), false);
    assert.equal(isWhole(turn, { length: 3, reasoning_length: 3 }), false);
    // A share link without reasoning counts none in its frames.
    assert.equal(isWhole(turn, { length: 2 }), true);
    assert.equal(applyFinished(turn, { status: 'complete', length: 2, reasoning_length: 6, reasoning_seconds: 3 }), false);
    assert.equal(turn.status, 'streaming');
    applyReasoning(turn, 3, 'def');
    assert.equal(applyFinished(turn, { status: 'complete', length: 2, reasoning_length: 6, reasoning_seconds: 3 }), true);
    assert.equal(turn.status, 'complete');
  });

  test('a delta that says refused marks the reply, and one that does not leaves the mark', () => {
    const turn = thinking();
    applyDelta(turn, 0, "I can't help", { refused: true });
    applyDelta(turn, 12, ' with that.');
    assert.equal(turn.refused, true);
    assert.equal(turn.content, "I can't help with that.");
  });

  test('when the text begins, the page notes how long the thinking took', () => {
    const turn = thinking();
    applyReasoning(turn, 0, 'Hmm.');
    applyDelta(turn, 0, 'Yes', { now: at(7.5) });
    assert.equal(turn.thought_seconds, 7.5);
    applyDelta(turn, 3, '.', { now: at(9) });
    assert.equal(turn.thought_seconds, 7.5);
    // A reply that did not think has nothing to measure.
    const plain = thinking();
    applyDelta(plain, 0, 'Yes', { now: at(2) });
    assert.equal(plain.thought_seconds, undefined);
  });
});

describe('the Thinking label', () => {
  test('while thinking: a live count of whole seconds since the reply began', () => {
    const turn = thinking({ reasoning: 'Hmm' });
    assert.equal(thinkingLabel(turn, at(0)), 'Thinking… 0 s');
    assert.equal(thinkingLabel(turn, at(7.9)), 'Thinking… 7 s');
    assert.equal(thinkingElapsed(turn, at(12)), 12);
    // A clock behind the server's never counts below zero.
    assert.equal(thinkingLabel(turn, at(-3)), 'Thinking… 0 s');
  });

  test('once thought: the server\'s seconds, else the page\'s own measure', () => {
    assert.equal(thinkingLabel(thinking({ status: 'complete', reasoning: 'x', reasoning_seconds: 12.0 })), 'Thought for 12 s');
    assert.equal(thinkingLabel(thinking({ status: 'complete', reasoning: 'x', reasoning_seconds: 3.24 })), 'Thought for 3.2 s');
    assert.equal(thinkingLabel(thinking({ reasoning: 'x', content: 'Yes', thought_seconds: 7.5 }), at(30)), 'Thought for 7.5 s');
    assert.equal(thinkingElapsed(thinking({ reasoning: 'x', content: 'Yes' }), at(30)), null);
  });

  test('without a measure: just "Thinking"', () => {
    assert.equal(thinkingLabel(thinking({ status: 'complete', reasoning: 'x' })), 'Thinking');
    assert.equal(thinkingLabel(thinking({ reasoning: 'x', content: 'Yes' }), at(30)), 'Thinking');
  });

  test('reasoning tokens, when counted', () => {
    assert.equal(thinkingDetail(thinking({ reasoning_tokens: 1234 })), '1,234 reasoning tokens');
    assert.equal(thinkingDetail(thinking({ reasoning_tokens: 1 })), '1 reasoning token');
    assert.equal(thinkingDetail(thinking({ reasoning_tokens: 0 })), '0 reasoning tokens');
    assert.equal(thinkingDetail(thinking()), '');
  });

  test('a reply shows a block when it has reasoning, or when some was redacted', () => {
    assert.equal(hasThinking(thinking({ reasoning: 'x' })), true);
    assert.equal(hasThinking(thinking({ reasoning_redacted: true })), true);
    assert.equal(hasThinking(thinking({ reasoning_tokens: 300 })), false);
  });

  test('reasoning tokens of a reply without a block are in its usage', () => {
    const done = { role: 'assistant', status: 'complete', input_tokens: 10, output_tokens: 500, reasoning_tokens: 400 };
    assert.deepEqual(usageText(done), ['10 in · 500 out (400 reasoning)']);
    assert.deepEqual(usageText({ ...done, reasoning: 'Hmm' }), ['10 in · 500 out']);
    // A model that does not reason reports 0: nothing to say.
    assert.deepEqual(usageText({ ...done, reasoning_tokens: 0 }), ['10 in · 500 out']);
  });
});

describe('reasoning settings', () => {
  const models = [
    { id: 'openai:o-mini', reasoning: 'effort' },
    { id: 'anthropic:claude', reasoning: 'budget' },
    { id: 'openai:gpt', reasoning: '' },
    { id: 'local:small' },
  ];

  test('the control shown follows the chosen model\'s kind', () => {
    assert.equal(reasoningKind(models, 'openai:o-mini'), 'effort');
    assert.equal(reasoningKind(models, 'anthropic:claude'), 'budget');
    assert.equal(reasoningKind(models, 'openai:gpt'), '');
    assert.equal(reasoningKind(models, 'local:small'), '');
    assert.equal(reasoningKind(models, 'gone:model'), '');
  });

  test('each model of a fan-out gets only the reasoning setting it takes', () => {
    const settings = { temperature: 1, reasoning_effort: 'high', thinking_budget: 2048 };
    assert.deepEqual(settingsForModel(settings, 'effort'), { temperature: 1, reasoning_effort: 'high' });
    assert.deepEqual(settingsForModel(settings, 'budget'), { temperature: 1, thinking_budget: 2048 });
    assert.deepEqual(settingsForModel(settings, ''), { temperature: 1 });
    assert.deepEqual(settings, { temperature: 1, reasoning_effort: 'high', thinking_budget: 2048 });
  });

  test('a reply\'s settings read with its reasoning setting', () => {
    assert.deepEqual(settingsText({ temperature: 0.2, reasoning_effort: 'high' }), ['temp 0.2', 'effort high']);
    assert.deepEqual(settingsText({ thinking_budget: 4096, max_tokens: 8000 }), ['max 8000', 'thinking budget 4,096']);
    const reply = { role: 'assistant', status: 'complete', settings: { reasoning_effort: 'low' } };
    assert.equal(metaText(reply), 'effort low');
  });
});
