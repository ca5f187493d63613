// How numbers, times, settings and usage read on a turn (static/js/format.js).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  formatCost, formatSeconds, formatTokens, latency, metaText, preview, roleLabel, settingsText, turnName, turnTime,
  replyNews, usageText,
} from '../../static/js/format.js';

describe('numbers and times', () => {
  test('tokens are grouped by thousands', () => {
    assert.equal(formatTokens(0), '0');
    assert.equal(formatTokens(1234567), '1,234,567');
  });

  test('costs keep two significant digits under a cent', () => {
    assert.equal(formatCost(null), '');
    assert.equal(formatCost(undefined), '');
    assert.equal(formatCost(0), '$0');
    assert.equal(formatCost(0.000123), '$0.00012');
    assert.equal(formatCost(0.5), '$0.500');
    assert.equal(formatCost(12.345), '$12.35');
  });

  test('seconds get a decimal under ten', () => {
    assert.equal(formatSeconds(0), '0.0 s');
    assert.equal(formatSeconds(1234), '1.2 s');
    assert.equal(formatSeconds(9999), '10.0 s');
    assert.equal(formatSeconds(10000), '10 s');
    assert.equal(formatSeconds(61400), '61 s');
  });

  test('latency needs the times it measures between', () => {
    const created = '2025-01-01T00:00:00Z';
    assert.deepEqual(latency({}), []);
    assert.deepEqual(latency({ created_at: created, first_token_at: '2025-01-01T00:00:00.250Z' }), ['first token 0.3 s']);
    assert.deepEqual(
      latency({ created_at: created, first_token_at: '2025-01-01T00:00:01Z', finished_at: '2025-01-01T00:00:12Z' }),
      ['first token 1.0 s', 'total 12 s'],
    );
    assert.deepEqual(latency({ finished_at: created }), []);
  });
});

describe('settings and usage', () => {
  test('settings name what was set, zero included', () => {
    assert.deepEqual(settingsText(), []);
    assert.deepEqual(settingsText({ temperature: 0, max_tokens: 100, top_p: 0.5, system_prompt: 'Be brief.' }),
      ['temp 0', 'max 100', 'top_p 0.5', 'system prompt']);
    assert.deepEqual(settingsText({ system_prompt: '' }), []);
  });

  test('usage is left out while streaming and when nothing was counted', () => {
    assert.deepEqual(usageText({ status: 'streaming', input_tokens: 5, output_tokens: 5 }), []);
    assert.deepEqual(usageText({ status: 'complete', input_tokens: null, output_tokens: null }), []);
  });

  test('usage shows tokens and cost, marked ≈ when estimated', () => {
    assert.deepEqual(usageText({ status: 'complete', input_tokens: 1234, output_tokens: 5, cost: 0.0012 }),
      ['1,234 in · 5 out', '$0.0012']);
    assert.deepEqual(usageText({ status: 'stopped', input_tokens: 10, output_tokens: null, usage_estimated: true, cost: 0 }),
      ['≈ 10 in · 0 out', '≈ $0']);
  });

  test('a prompt shows its own token count, a reply its usage, timing and settings', () => {
    assert.equal(metaText({ role: 'user', token_counts: { o200k_base: 1 } }), '1 token');
    assert.equal(metaText({ role: 'user', token_counts: { o200k_base: 1500 } }), '1,500 tokens');
    assert.equal(metaText({ role: 'user', token_counts: {} }), '');
    assert.equal(metaText({ role: 'system' }), '');
    assert.equal(
      metaText({ role: 'assistant', status: 'complete', input_tokens: 3, output_tokens: 4, settings: { temperature: 1 } }),
      '3 in · 4 out · temp 1',
    );
  });

  test('role labels: the model catalogue label, then the model, then a generic name', () => {
    const labels = new Map([['openai:gpt-4o', 'GPT-4o']]);
    assert.equal(roleLabel({ role: 'user' }, labels), 'You');
    assert.equal(roleLabel({ role: 'system' }, labels), 'System');
    assert.equal(roleLabel({ role: 'assistant', provider: 'openai', model: 'gpt-4o' }, labels), 'GPT-4o');
    assert.equal(roleLabel({ role: 'assistant', provider: 'ollama', model: 'llama3.2' }, labels), 'llama3.2');
    assert.equal(roleLabel({ role: 'assistant', provider: '', model: '' }, labels), 'Assistant');
  });
});

describe('preview', () => {
  test('one line: runs of white space become one space', () => {
    assert.equal(preview('a\n\n b\tc', 48), 'a b c');
    assert.equal(preview('', 10), '');
    assert.equal(preview(null, 10), '');
  });

  test('cuts at the limit and says so only when it cut', () => {
    assert.equal(preview('abcdef', 6, '…'), 'abcdef');
    assert.equal(preview('abcdefg', 6, '…'), 'abcdef…');
    assert.equal(preview('abcdefg', 6), 'abcdef');
  });

  test('never cuts a surrogate pair in half', () => {
    // The limit falls between the two code units of the emoji: the whole emoji is left out.
    const text = 'abcde😀fgh';
    assert.equal(preview(text, 6), 'abcde');
    assert.equal(preview(text, 7), 'abcde😀');
    for (let limit = 1; limit <= text.length; limit++) {
      assert.doesNotThrow(() => encodeURIComponent(preview(text, limit)), `limit ${limit}`);
    }
  });

  test('emoji everywhere: every cut is whole characters', () => {
    const text = '🧪'.repeat(40);
    for (let limit = 1; limit <= 80; limit++) {
      const cut = preview(text, limit);
      assert.ok(cut.length <= limit);
      assert.equal(cut, '🧪'.repeat(Math.floor(limit / 2)), `limit ${limit}`);
    }
  });
});

describe('a turn named in words', () => {
  const now = new Date(2026, 11, 2, 15, 0);
  const labels = new Map([['openai:gpt-4o', 'GPT-4o']]);
  const at = (date) => ({ role: 'assistant', provider: 'openai', model: 'gpt-4o', created_at: date.toISOString() });

  test('today by its time, another day with the date, another year with the year', () => {
    assert.equal(turnTime(at(new Date(2026, 11, 2, 10, 42)), now, 'en-GB'), '10:42');
    assert.equal(turnTime(at(new Date(2026, 11, 1, 9, 5)), now, 'en-GB'), '1 Dec, 09:05');
    assert.equal(turnTime(at(new Date(2025, 0, 3, 9, 5)), now, 'en-GB'), '3 Jan 2025, 09:05');
    assert.equal(turnTime({ created_at: null }, now), '');
  });

  test('a reply by its model and time, never by a number', () => {
    assert.equal(turnName(at(new Date(2026, 11, 2, 10, 42)), labels, now, 'en-GB'), 'the reply from GPT-4o at 10:42');
    assert.equal(turnName({ role: 'user', created_at: 'soon' }, labels, now), 'your prompt');
  });
});

describe('what a screen reader hears of a reply', () => {
  const labels = new Map([['openai:gpt-4o', 'GPT-4o']]);
  const reply = (status, error = '') => ({ role: 'assistant', provider: 'openai', model: 'gpt-4o', status, error });

  test('its start and its end, by model', () => {
    assert.equal(replyNews(reply('streaming'), 'started', labels), 'Reply from GPT-4o started');
    assert.equal(replyNews(reply('complete'), 'ended', labels), 'Reply from GPT-4o finished');
    assert.equal(replyNews(reply('stopped'), 'ended', labels), 'Reply from GPT-4o stopped');
    assert.equal(replyNews(reply('interrupted'), 'ended', labels), 'Reply from GPT-4o was interrupted');
    assert.equal(replyNews(reply('error', 'The model is busy.'), 'ended', labels), 'Reply from GPT-4o failed: The model is busy.');
    assert.equal(replyNews(reply('error'), 'ended', labels), 'Reply from GPT-4o failed');
  });
});
