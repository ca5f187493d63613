// Review as data (static/js/review-store.js): the summary, what each frame changes, mentions.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { mentionAt, mentionChoices, mergeComment, names, ReviewStore } from '../../static/js/review-store.js';

const summary = () => ({
  me: 'alice',
  can_review: true,
  members: ['alice', 'bob', 'vera', 'bobby'],
  turns: { 5: { comments: 2, open: 1 } },
  threads: [{ id: 1, turn: 5, author: 'alice', excerpt: 'Why?', deleted: false, replies: 1, created_at: 't' }],
  verdicts: { 6: { up: ['bob'], down: [] } },
  preferences: [{ user: 'bob', turn: 6, at: 't' }],
});

const comment = (fields) => ({
  id: 9, turn: 5, thread: null, author: 'bob', body: 'x', deleted: false, edited_at: null, resolved_at: null, ...fields,
});

describe('ReviewStore', () => {
  test('reads the summary', () => {
    const store = new ReviewStore(summary());
    assert.deepEqual(store.counts(5), { comments: 2, open: 1 });
    assert.deepEqual(store.counts(7), { comments: 0, open: 0 });
    assert.equal(store.myVerdict(6), 0);
    assert.deepEqual(store.preferredBy(6), ['bob']);
    assert.equal(store.myPreference(), null);
    assert.deepEqual([...store.turnsWithOpenThreads()], [5]);
  });

  test('a new thread opens, a resolution closes it, counts follow the frame', () => {
    const store = new ReviewStore(summary());
    const seen = [];
    store.onChange((what) => seen.push(what.kind));
    assert.equal(store.apply({ type: 'review.comment', comment: comment({ id: 9 }), turn: { id: 5, comments: 3, open: 2 } }), true);
    assert.deepEqual(store.openThreads().map((t) => t.id), [1, 9]);
    store.apply({ type: 'review.comment', comment: comment({ id: 1, resolved_at: 'now' }), turn: { id: 5, comments: 3, open: 1 } });
    assert.deepEqual(store.openThreads().map((t) => t.id), [9]);
    assert.deepEqual(store.counts(5), { comments: 3, open: 1 });
    assert.deepEqual(seen, ['comment', 'comment']);
  });

  test('a reply counts in its open thread', () => {
    const store = new ReviewStore(summary());
    store.apply({ type: 'review.comment', comment: comment({ id: 10, thread: 1 }), turn: { id: 5, comments: 3, open: 1 } });
    assert.equal(store.threads.get(1).replies, 2);
  });

  test('verdicts and preferences replace what was', () => {
    const store = new ReviewStore(summary());
    store.apply({ type: 'review.verdicts', turn: 6, verdicts: { up: [], down: ['alice'] } });
    assert.equal(store.myVerdict(6), -1);
    store.apply({ type: 'review.preference', user: 'alice', turn: 8, at: 't2' });
    store.apply({ type: 'review.preference', user: 'bob', turn: null, at: null });
    assert.equal(store.myPreference(), 8);
    assert.deepEqual([...store.preferredTips()], [8]);
  });

  test('other frames are not review’s', () => {
    assert.equal(new ReviewStore(summary()).apply({ type: 'delta' }), false);
  });
});

describe('mergeComment', () => {
  const threads = [{ ...comment({ id: 1 }), replies: [comment({ id: 2, thread: 1 })] }];

  test('adds, edits and deletes replies and threads as the server lists them', () => {
    let next = mergeComment(threads, comment({ id: 3, thread: 1, body: 'new' }));
    assert.deepEqual(next[0].replies.map((r) => r.id), [2, 3]);
    next = mergeComment(next, comment({ id: 2, thread: 1, body: 'edited', edited_at: 't' }));
    assert.equal(next[0].replies[0].body, 'edited');
    next = mergeComment(next, comment({ id: 2, thread: 1, deleted: true, body: '' }));
    assert.deepEqual(next[0].replies.map((r) => r.id), [3]);
    // A deleted first comment stays while it has replies, and goes with the last of them.
    next = mergeComment(next, comment({ id: 1, deleted: true, body: '' }));
    assert.equal(next.length, 1);
    next = mergeComment(next, comment({ id: 3, thread: 1, deleted: true, body: '' }));
    assert.deepEqual(next, []);
    assert.equal(threads[0].replies.length, 1, 'the original is not changed');
  });
});

describe('mentions', () => {
  test('an @name being typed', () => {
    assert.deepEqual(mentionAt('hi @bo', 6), { query: 'bo', start: 3 });
    assert.deepEqual(mentionAt('@', 1), { query: '', start: 0 });
    assert.equal(mentionAt('mail x@bo', 9), null);
    assert.equal(mentionAt('hi @bob there', 13), null);
  });

  test('members by what was typed, never oneself', () => {
    assert.deepEqual(mentionChoices(['alice', 'bob', 'vera', 'bobby', 'abbot'], 'bo', 'alice'), ['bob', 'bobby', 'abbot']);
    assert.deepEqual(mentionChoices(['alice', 'bob'], '', 'alice'), ['bob']);
  });

  test('names read as a list', () => {
    assert.equal(names([]), '');
    assert.equal(names(['a']), 'a');
    assert.equal(names(['a', 'b', 'c']), 'a, b and c');
    assert.equal(names(['a', 'b', 'c', 'd', 'e']), 'a, b, c and 2 others');
  });
});
