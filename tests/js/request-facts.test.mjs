// "What the model saw": what it says of the earlier replies' reasoning (static/js/format.js, shown by static/js/context.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { reasoningFact } from '../../static/js/format.js';

test('no earlier reasoning: nothing to say', () => {
  assert.equal(reasoningFact(undefined), null);
  assert.equal(reasoningFact({ earlier_replies: 0, sent_back: 0 }), null);
});

test('reasoning sent back, all or some', () => {
  assert.equal(reasoningFact({ earlier_replies: 1, sent_back: 1 }),
    'the reasoning of 1 earlier reply went back as signed thinking blocks');
  assert.equal(reasoningFact({ earlier_replies: 3, sent_back: 2 }),
    'the reasoning of 2 of 3 earlier replies went back as signed thinking blocks; the rest was not sent');
});

test('reasoning kept back', () => {
  assert.equal(reasoningFact({ earlier_replies: 2, sent_back: 0 }),
    'the reasoning of 2 earlier replies was not sent: only the provider that made it gets it back, with thinking on');
});
