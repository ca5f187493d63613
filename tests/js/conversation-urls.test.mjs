// The conversation page's URLs (static/js/conversation-urls.js), from templates as the server
// sends them in page.urls (conversations/views.py, conversation_detail).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { conversationUrls, turnFromPath } from '../../static/js/conversation-urls.js';

const urls = {
  turn: '/c/12/t/{turn_id}/',
  branch: '/c/12/t/{turn_id}/branch.json',
  earlier: '/c/12/t/{turn_id}/earlier.json',
  compare: '/c/12/compare/',
  fork: '/c/12/t/{turn_id}/fork/',
  request: '/c/12/t/{turn_id}/request.json',
  code: '/c/12/t/{turn_id}/code.py',
  turn_file: '/c/12/t/{turn_id}/files/{index}/',
  export_markdown: '/c/12/t/{turn_id}/export.md',
  any_conversation: '/c/{conversation_id}/',
  any_turn: '/c/{conversation_id}/t/{turn_id}/',
};

describe('conversationUrls', () => {
  const url = conversationUrls(urls);

  test('fills each turn URL with the turn', () => {
    assert.equal(url.turn(34), '/c/12/t/34/');
    assert.equal(url.branch(34), '/c/12/t/34/branch.json');
    assert.equal(url.earlier(34), '/c/12/t/34/earlier.json');
    assert.equal(url.fork(34), '/c/12/t/34/fork/');
    assert.equal(url.request(34), '/c/12/t/34/request.json');
    assert.equal(url.code(34), '/c/12/t/34/code.py');
    assert.equal(url.file(34, 1), '/c/12/t/34/files/1/');
    assert.equal(url.file(34, 0, { thumb: true }), '/c/12/t/34/files/0/?thumb=1');
    assert.equal(url.markdown(34), '/c/12/t/34/export.md');
  });

  test('other conversations and their turns', () => {
    assert.equal(url.otherConversation(7), '/c/7/');
    assert.equal(url.otherTurn(7, 3), '/c/7/t/3/');
  });

  test('a comparison of tips, in their order, and of a turn’s versions', () => {
    assert.equal(url.compare([5, 3, 9]), '/c/12/compare/?tips=5,3,9');
    assert.equal(url.compareSiblings(5), '/c/12/compare/?siblings=5');
  });

  test('a URL the server did not send is an error, not a broken link', () => {
    assert.throws(() => conversationUrls({}).turn(3), TypeError);
    assert.throws(() => url.turn(undefined), /turn_id/);
  });
});

describe('turnFromPath', () => {
  test('the turn a turn URL names', () => {
    assert.equal(turnFromPath('/c/12/t/34/'), 34);
    assert.equal(turnFromPath('/c/12/t/0/'), 0);
  });

  test('null for the conversation itself, or anything else', () => {
    assert.equal(turnFromPath('/c/12/'), null);
    assert.equal(turnFromPath('/c/12/t/34/branch.json'), null);
    assert.equal(turnFromPath('/c/12/t/abc/'), null);
  });
});
