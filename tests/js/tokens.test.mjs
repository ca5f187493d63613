// The context meter's sums (static/js/tokens.js), the same as conversations/context.py's.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { branchCost, branchTokens, defaultContextReply, filesTokens, turnTokens } from '../../static/js/tokens.js';

const model = { id: 'openai:gpt-4o', encoding: 'o200k_base' };
const user = (id, tokens, extra = {}) => ({ id, role: 'user', content: 'x', token_counts: { o200k_base: tokens }, ...extra });
const reply = (id, tokens, extra = {}) => ({
  id, role: 'assistant', provider: 'openai', model: 'gpt-4o', content: 'y', token_counts: { o200k_base: tokens }, ...extra,
});

describe('turnTokens', () => {
  test('a reply the model made itself counts as the provider reported', () => {
    assert.equal(turnTokens(reply(1, 10, { output_tokens: 12 }), model), 12);
  });

  test('an estimated usage, or another model, falls back to the stored count', () => {
    assert.equal(turnTokens(reply(1, 10, { output_tokens: 12, usage_estimated: true }), model), 10);
    assert.equal(turnTokens(reply(1, 10, { output_tokens: 12, model: 'gpt-4.1' }), model), 10);
    assert.equal(turnTokens(user(1, 7), model), 7);
  });

  test('a turn without a stored count in the encoding is guessed at 4 characters a token', () => {
    assert.equal(turnTokens({ role: 'assistant', content: 'abcdefghi', token_counts: {} }, model), 3);
    assert.equal(turnTokens({ role: 'assistant', content: '', token_counts: {} }, model), 0);
    assert.equal(turnTokens({ role: 'user' }, model), 0);
  });
});

describe('branchTokens', () => {
  test('an empty branch costs the reply priming only', () => {
    assert.equal(branchTokens([], model), 3);
  });

  test('each message adds its tokens, 3 for the chat format and 1 for its role', () => {
    assert.equal(branchTokens([user(1, 10), reply(2, 20)], model), 3 + 14 + 24);
  });

  test('an empty reply (still streaming, nothing yet) is not sent', () => {
    assert.equal(branchTokens([user(1, 10), reply(2, 0, { content: '' })], model), 3 + 14);
  });

  test('system turns and the system prompt count once as one message', () => {
    const system = { id: 0, role: 'system', content: 's', token_counts: { o200k_base: 5 } };
    assert.equal(branchTokens([system, user(1, 10)], model), 3 + 14 + 5 + 4);
    assert.equal(branchTokens([user(1, 10)], model, { system: 8 }), 3 + 14 + 8 + 4);
    assert.equal(branchTokens([system, user(1, 10)], model, { system: 8 }), 3 + 14 + 13 + 4);
  });

  test('the draft counts as one more message', () => {
    assert.equal(branchTokens([user(1, 10)], model, { draft: 6 }), 3 + 14 + 10);
    assert.equal(branchTokens([], model, { draft: 0 }), 3);
  });

  test('turns not loaded count through their summary', () => {
    const earlier = {
      tokens: { o200k_base: 100 }, messages: 4, system_tokens: { o200k_base: 7 }, system_messages: 1,
      reported: { 'openai:gpt-4o': { output_tokens: 30, o200k_base: 25 } }, cost: 0.5,
    };
    // 100 tokens in 4 messages, 5 more where the model reported its own replies, one system message.
    assert.equal(branchTokens([user(9, 10)], model, { earlier }), 3 + 100 + 16 + 5 + 14 + 7 + 4);
    const other = { id: 'anthropic:claude', encoding: 'claude' };
    assert.equal(branchTokens([], other, { earlier }), 3 + 0 + 16 + 0 + 4);
  });
});

describe('files', () => {
  const tiles = { ...model, vision: true, image_tokens: { rule: 'tiles', base: 85, tile: 170 } };
  const area = { id: 'anthropic:claude', encoding: 'o200k_base', vision: true, image_tokens: { rule: 'area' } };
  const blind = { id: 'openai:gpt-4', encoding: 'cl100k_base', vision: false, image_tokens: { rule: 'none' } };
  const image = (width, height) => ({ kind: 'image', name: 'a.png', width, height });
  const text = { kind: 'text', name: 'a.md', token_counts: { o200k_base: 5, cl100k_base: 6 } };
  const prompt = user(1, 10, {
    attachments: [image(1024, 1024), text, image(200, 200)], files_tokens: { o200k_base: 40, cl100k_base: 41 },
  });

  test('a prompt adds its text files in the model\'s encoding and its images by the model\'s rule', () => {
    assert.equal(filesTokens(prompt, tiles), 40 + 765 + 255);
    assert.equal(filesTokens(prompt, area), 40 + 1399 + 54);
    assert.equal(turnTokens(prompt, tiles), 10 + 40 + 765 + 255);
  });

  test('a model without vision counts the text files only', () => {
    assert.equal(filesTokens(prompt, blind), 41);
    assert.equal(filesTokens(prompt, { ...tiles, vision: false }), 40);
  });

  test('a prompt without files adds nothing; images alone need no files_tokens', () => {
    assert.equal(filesTokens(user(1, 10), tiles), 0);
    assert.equal(filesTokens(user(1, 10, { attachments: [image(1024, 1024)] }), tiles), 765);
  });

  test('the turns above a window count their images by each model\'s rule', () => {
    const earlier = {
      tokens: { o200k_base: 100 }, messages: 1, system_tokens: {}, system_messages: 0, reported: {},
      images: [[1024, 1024], [2048, 4096]],
    };
    assert.equal(branchTokens([], tiles, { earlier }), 3 + 100 + 4 + 765 + 1105);
    assert.equal(branchTokens([], blind, { earlier }), 3 + 0 + 4);
  });

  test('the draft\'s files count with its text as one message, even with no text', () => {
    assert.equal(branchTokens([], tiles, { draft: 6, draftFiles: 765 }), 3 + 6 + 765 + 4);
    assert.equal(branchTokens([], tiles, { draftFiles: 765 }), 3 + 765 + 4);
  });
});

describe('branchCost', () => {
  test('sums what has a cost; nothing priced is null, not zero', () => {
    assert.equal(branchCost([]), null);
    assert.equal(branchCost([user(1, 1), reply(2, 2)]), null);
    assert.equal(branchCost([reply(1, 1, { cost: 0 })]), 0);
    assert.equal(branchCost([reply(1, 1, { cost: 0.25 }), reply(2, 1, { cost: 0.5 })]), 0.75);
    assert.equal(branchCost([reply(1, 1, { cost: 0.25 })], { cost: 1 }), 1.25);
    assert.equal(branchCost([], { cost: null }), null);
  });
});

describe('defaultContextReply', () => {
  test('the newest reply that left turns out', () => {
    const turns = [
      reply(1, 1, { context: { omitted: [0] } }), user(2, 1), reply(3, 1, { context: { omitted: [0, 1] } }),
      user(4, 1), reply(5, 1, { context: {} }),
    ];
    assert.equal(defaultContextReply(turns), 3);
    assert.equal(defaultContextReply([user(1, 1), reply(2, 1)]), null);
    assert.equal(defaultContextReply([]), null);
  });
});
