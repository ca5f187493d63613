// The conversation page's branch as data (static/js/conversation-branch.js): where a new turn goes,
// deltas and ends of replies by offset, deletions, and what the page derives from the branch.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Branch, resumeFrame, siblingOf } from '../../static/js/conversation-branch.js';

const user = (id, parent, extra = {}) => ({ id, parent, role: 'user', status: 'complete', content: `prompt ${id}`, siblings: [id], ...extra });
const reply = (id, parent, extra = {}) => ({ id, parent, role: 'assistant', status: 'complete', content: `reply ${id}`, siblings: [id], ...extra });
// A frame's turn: withTurnDefaults() has run, and it carries no siblings.
const frame = (turn) => {
  const { siblings, ...rest } = turn;
  return rest;
};

// Root 1 → 2 → 3 → 4, loaded whole.
function fourTurns(extra = {}) {
  return new Branch({ turns: [user(1, null), reply(2, 1), user(3, 2), reply(4, 3)], ...extra });
}

const ids = (branch) => branch.turns.map((t) => t.id);

describe('reading the branch', () => {
  test('finds turns by id, and its leaf', () => {
    const branch = fourTurns();
    assert.equal(branch.indexOf(3), 2);
    assert.equal(branch.indexOf(99), -1);
    assert.equal(branch.get(4).content, 'reply 4');
    assert.equal(branch.get(99), undefined);
    assert.equal(branch.leaf.id, 4);
    assert.equal(new Branch({ turns: [] }).leaf, undefined);
  });

  test('the streaming turn is the newest one still streaming', () => {
    const branch = new Branch({ turns: [user(1, null), reply(2, 1, { status: 'streaming' }), user(3, 2), reply(4, 3, { status: 'streaming' })] });
    assert.equal(branch.streamingTurn().id, 4);
    assert.equal(fourTurns().streamingTurn(), undefined);
  });

  test('resumes every streaming reply from the text it has, counted in UTF-16 code units', () => {
    const branch = new Branch({ turns: [user(1, null), reply(2, 1, { status: 'streaming', content: 'a😀' }), user(3, 2), reply(4, 3, { status: 'streaming', content: '' })] });
    assert.deepEqual(branch.resumeFrames(), [
      { action: 'resume', turn: 2, offset: 3, reasoning_offset: 0 },
      { action: 'resume', turn: 4, offset: 0, reasoning_offset: 0 },
    ]);
    assert.deepEqual(fourTurns().resumeFrames(), []);
    assert.deepEqual(resumeFrame({ id: 7, content: 'abc' }), { action: 'resume', turn: 7, offset: 3, reasoning_offset: 0 });
    assert.deepEqual(resumeFrame({ id: 7, content: '', reasoning: 'I think 🤔' }), { action: 'resume', turn: 7, offset: 0, reasoning_offset: 10 });
  });

  test('the marked reply: the one clicked while it is on the branch, else the newest that left turns out', () => {
    const branch = new Branch({ turns: [user(1, null), reply(2, 1, { context: { omitted: [0] } }), user(3, 2), reply(4, 3, { context: { omitted: [0, 1] } })] });
    assert.equal(branch.markedReply(), 4);
    branch.contextReply = 2;
    assert.equal(branch.markedReply(), 2);
    branch.contextReply = 99; // a reply on a branch no longer shown
    assert.equal(branch.markedReply(), 4);
    assert.equal(fourTurns().markedReply(), null);
  });

  test('is on the main line when the main turn is on it', () => {
    assert.equal(fourTurns({ mainTurn: 2 }).onMainLine(), true);
    assert.equal(fourTurns({ mainTurn: 99 }).onMainLine(), false);
    assert.equal(fourTurns().onMainLine(), false);
  });

  test('what the next message continues: up to the attached turn, when it is shown', () => {
    const branch = fourTurns();
    assert.deepEqual(branch.turnsUpTo(2).map((t) => t.id), [1, 2]);
    assert.deepEqual(branch.turnsUpTo(99).map((t) => t.id), [1, 2, 3, 4]);
    assert.deepEqual(branch.turnsUpTo(undefined).map((t) => t.id), [1, 2, 3, 4]);
  });

  test('counts the loaded turns below a turn', () => {
    const branch = fourTurns();
    assert.equal(branch.turnsBelow(1), 3);
    assert.equal(branch.turnsBelow(4), 0);
  });
});

describe('siblingOf', () => {
  test('steps among the versions of a turn, and off either end to nothing', () => {
    const turn = reply(5, 1, { siblings: [2, 5, 9] });
    assert.equal(siblingOf(turn, -1), 2);
    assert.equal(siblingOf(turn, 1), 9);
    assert.equal(siblingOf(reply(2, 1, { siblings: [2, 5] }), -1), undefined);
    assert.equal(siblingOf(reply(5, 1, { siblings: [2, 5] }), 1), undefined);
  });

  test('a turn without a siblings list is its only version', () => {
    assert.equal(siblingOf({ id: 3 }, 1), undefined);
    assert.equal(siblingOf({ id: 3 }, -1), undefined);
  });
});

describe('other branches and earlier turns', () => {
  test('replace takes branch.json as it is, cost included', () => {
    const branch = fourTurns({ cost: 0.5 });
    branch.replace({ turns: [user(1, null), reply(6, 1)], earlier: null, conversation: { cost: 0.75 } });
    assert.deepEqual(ids(branch), [1, 6]);
    assert.equal(branch.earlier, null);
    assert.equal(branch.conversationCost, 0.75);
  });

  test('prepend puts the earlier window above the loaded turns', () => {
    const branch = new Branch({ turns: [user(3, 2), reply(4, 3)], earlier: { count: 2 } });
    branch.prepend({ turns: [user(1, null), reply(2, 1)], earlier: null });
    assert.deepEqual(ids(branch), [1, 2, 3, 4]);
    assert.equal(branch.earlier, null);
  });
});

describe('created: where a new turn goes', () => {
  test('the first prompt of an empty conversation starts the branch', () => {
    const branch = new Branch({ turns: [] });
    branch.track('r1', 'send', 1);
    assert.deepEqual(branch.created(frame(user(1, null)), 'r1'), { shown: true, own: true, sent: 'send' });
    assert.deepEqual(ids(branch), [1]);
    assert.deepEqual(branch.turns[0].siblings, [1]);
  });

  test('our prompt and its reply end the branch on screen', () => {
    const branch = fourTurns();
    branch.track('r1', 'send', 1);
    assert.deepEqual(branch.created(frame(user(5, 4)), 'r1'), { shown: true, own: true, sent: 'send' });
    assert.deepEqual(branch.created(frame(reply(6, 5, { status: 'streaming' })), 'r1'), { shown: true, own: true, sent: null });
    assert.deepEqual(ids(branch), [1, 2, 3, 4, 5, 6]);
    assert.equal(branch.streamingTurn().id, 6);
  });

  test('someone else continuing the branch on screen: shown, not ours', () => {
    const branch = fourTurns();
    assert.deepEqual(branch.created(frame(user(5, 4)), 'not-ours'), { shown: true, own: false, sent: null });
    assert.deepEqual(ids(branch), [1, 2, 3, 4, 5]);
  });

  test('our edit becomes a version beside the prompt, and the branch below it goes', () => {
    const branch = fourTurns();
    branch.track('r1', 'edit', 1);
    assert.deepEqual(branch.created(frame(user(5, 2)), 'r1'), { shown: true, own: true, sent: 'edit' });
    assert.deepEqual(ids(branch), [1, 2, 5]);
    assert.deepEqual(branch.get(5).siblings, [3, 5]);
  });

  test('our regenerated reply: a version beside the old one, the composer keeps its text', () => {
    const branch = fourTurns();
    branch.track('r1', 'regenerate', 1);
    assert.deepEqual(branch.created(frame(reply(5, 3)), 'r1'), { shown: true, own: true, sent: null });
    assert.deepEqual(ids(branch), [1, 2, 3, 5]);
    assert.deepEqual(branch.get(5).siblings, [4, 5]);
  });

  test('someone else branching beside a turn on screen changes only its versions', () => {
    const branch = fourTurns();
    const placed = branch.created(frame(reply(5, 3)), undefined);
    assert.equal(placed.sibling, branch.get(4));
    assert.deepEqual(branch.get(4).siblings, [4, 5]);
    assert.deepEqual(ids(branch), [1, 2, 3, 4]);
  });

  test('a fan-out streams on the branch until its last reply arrives, then compares them all', () => {
    const branch = fourTurns();
    branch.track('r1', 'send', 3);
    assert.equal(branch.created(frame(user(5, 4)), 'r1').sent, 'send');
    assert.deepEqual(branch.created(frame(reply(6, 5)), 'r1'), { shown: true, own: true, sent: null });
    assert.deepEqual(branch.created(frame(reply(7, 5)), 'r1'), { shown: true, own: true, sent: null });
    assert.deepEqual(ids(branch), [1, 2, 3, 4, 5, 7]);
    assert.deepEqual(branch.created(frame(reply(8, 5)), 'r1'), { compare: [6, 7, 8] });
  });

  test('a single reply is never a comparison', () => {
    const branch = fourTurns();
    branch.track('r1', 'send', 1);
    branch.created(frame(user(5, 4)), 'r1');
    assert.equal(branch.created(frame(reply(6, 5)), 'r1').compare, undefined);
  });

  test('on a branch not shown: ours opens at its reply, its prompt clears the composer; others wait', () => {
    const branch = fourTurns();
    branch.track('r1', 'send', 1);
    assert.deepEqual(branch.created(frame(user(20, 10)), 'r1'), { elsewhere: true, open: null, sent: 'send' });
    assert.deepEqual(branch.created(frame(reply(21, 20)), 'r1'), { elsewhere: true, open: 21, sent: null });
    assert.deepEqual(branch.created(frame(reply(22, 11)), 'someone'), { elsewhere: true, open: null, sent: null });
    assert.deepEqual(ids(branch), [1, 2, 3, 4]);
  });

  test('a new root beside a root that is not loaded is on a branch not shown', () => {
    const branch = new Branch({ turns: [user(3, 2), reply(4, 3)], earlier: { count: 2 } });
    branch.track('r1', 'send', 1);
    assert.deepEqual(branch.created(frame(user(5, null)), 'r1'), { elsewhere: true, open: null, sent: 'send' });
    assert.deepEqual(ids(branch), [3, 4]);
  });

  test('a new root beside the loaded root is its version', () => {
    const branch = fourTurns();
    branch.track('r1', 'send', 1);
    assert.deepEqual(branch.created(frame(user(5, null)), 'r1'), { shown: true, own: true, sent: 'send' });
    assert.deepEqual(ids(branch), [5]);
    assert.deepEqual(branch.get(5).siblings, [1, 5]);
  });

  test('an error forgets the request: its turns are no longer ours', () => {
    const branch = fourTurns();
    branch.track('r1', 'send', 1);
    branch.forget('r1');
    assert.equal(branch.created(frame(user(5, 2)), 'r1').sibling, branch.get(3));
  });
});

describe('deltas and ends of replies', () => {
  const streamingBranch = () => new Branch({ turns: [user(1, null), reply(2, 1, { status: 'streaming', content: 'Hel' })], cost: null });

  test('a delta applies by offset to the turn it names', () => {
    const branch = streamingBranch();
    assert.deepEqual(branch.delta({ turn: 2, offset: 3, text: 'lo' }), { turn: branch.get(2), result: 'applied' });
    assert.equal(branch.get(2).content, 'Hello');
    assert.equal(branch.delta({ turn: 2, offset: 0, text: 'He' }).result, 'duplicate');
    assert.equal(branch.delta({ turn: 2, offset: 9, text: 'x' }).result, 'gap');
    assert.equal(branch.get(2).content, 'Hello');
  });

  test('reasoning applies by its own offsets, apart from the text', () => {
    const branch = streamingBranch();
    assert.deepEqual(branch.reasoning({ turn: 2, offset: 0, text: 'Let me' }), { turn: branch.get(2), result: 'applied' });
    assert.equal(branch.reasoning({ turn: 2, offset: 3, text: ' me think' }).result, 'applied');
    assert.equal(branch.reasoning({ turn: 2, offset: 0, text: 'Let' }).result, 'duplicate');
    assert.equal(branch.reasoning({ turn: 2, offset: 40, text: 'later' }).result, 'gap');
    assert.equal(branch.get(2).reasoning, 'Let me think');
    assert.equal(branch.get(2).content, 'Hel');
    assert.deepEqual(branch.reasoning({ turn: 99, offset: 0, text: 'x' }), { turn: null, result: 'absent' });
    assert.deepEqual(branch.resumeFrames(), [{ action: 'resume', turn: 2, offset: 3, reasoning_offset: 12 }]);
  });

  test('a delta that says refused marks the reply', () => {
    const branch = streamingBranch();
    branch.delta({ turn: 2, offset: 3, text: 'p, no.', refused: true });
    assert.equal(branch.get(2).refused, true);
  });

  test('a delta for a turn not shown is absent', () => {
    assert.deepEqual(streamingBranch().delta({ turn: 99, offset: 0, text: 'x' }), { turn: null, result: 'absent' });
  });

  test('a reply ends once all its text is there; until then the page resumes', () => {
    const branch = streamingBranch();
    assert.equal(branch.finished({ id: 2, status: 'complete', length: 5 }).result, 'gap');
    assert.equal(branch.get(2).status, 'streaming');
    branch.delta({ turn: 2, offset: 3, text: 'lo' });
    assert.equal(branch.finished({ id: 2, status: 'complete', length: 5 }).result, 'finished');
    assert.equal(branch.get(2).status, 'complete');
  });

  test('a reply ends once all its reasoning is there too', () => {
    const branch = streamingBranch();
    branch.reasoning({ turn: 2, offset: 0, text: 'Hmm' });
    assert.equal(branch.finished({ id: 2, status: 'complete', length: 3, reasoning_length: 10 }).result, 'gap');
    assert.equal(branch.get(2).status, 'streaming');
    branch.reasoning({ turn: 2, offset: 3, text: ', let me ' });
    assert.equal(branch.finished({ id: 2, status: 'complete', length: 3, reasoning_length: 10, reasoning_seconds: 4 }).result, 'finished');
    assert.equal(branch.get(2).status, 'complete');
    assert.equal(branch.get(2).reasoning_seconds, 4);
  });

  test('every reply that ends adds its cost to the conversation, shown or not', () => {
    const branch = streamingBranch();
    assert.deepEqual(branch.finished({ id: 99, status: 'complete', length: 0, cost: 0.25 }), { turn: null, result: 'absent' });
    assert.equal(branch.conversationCost, 0.25);
    branch.finished({ id: 2, status: 'complete', length: 3, cost: 0.5 });
    assert.equal(branch.conversationCost, 0.75);
    branch.finished({ id: 98, status: 'error', length: 0 });
    assert.equal(branch.conversationCost, 0.75);
  });
});

describe('deleted', () => {
  test('a turn on screen: the page goes to its parent (null for a root)', () => {
    const branch = fourTurns({ mainTurn: 4 });
    assert.deepEqual(branch.deleted({ turn: 3, parent: 2, main_turn: null }), { shown: true, parent: 2 });
    assert.equal(branch.mainTurn, null);
    assert.deepEqual(fourTurns().deleted({ turn: 1, parent: null, main_turn: null }), { shown: true, parent: null });
  });

  test('a version of a turn on screen: the turns that listed it lose it', () => {
    const branch = new Branch({ turns: [user(1, null), reply(2, 1, { siblings: [2, 7, 8] }), user(3, 2)] });
    const gone = branch.deleted({ turn: 7, parent: 1, main_turn: 3 });
    assert.deepEqual(gone, { changed: [branch.get(2)] });
    assert.deepEqual(branch.get(2).siblings, [2, 8]);
    assert.equal(branch.mainTurn, 3);
  });

  test('a turn elsewhere in the tree changes nothing on screen', () => {
    const branch = fourTurns();
    assert.deepEqual(branch.deleted({ turn: 50, parent: 40, main_turn: null }), { changed: [] });
    assert.deepEqual(ids(branch), [1, 2, 3, 4]);
  });
});
