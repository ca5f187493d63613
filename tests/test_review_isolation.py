"""Comments belong to the conversation, never to the model: a branch full of comments, verdicts and
preferences sends the model exactly the request the same branch without them sends, its context
is estimated the same, and "What the model saw" shows none of it."""
from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from conversations import replay, services
from conversations.context import branch_meter
from conversations.models import Turn
from conversations.permissions import Need, conversation_for
from conversations.registry import registry
from conversations.review import services as review
from tests.conftest import chain, signed_in
from tests.wsclient import connect, created_reply, finished, frames_until

SECRET = "Comment-text-never-sent-4417"


def twin_branches(alice, team) -> tuple[list[Turn], list[Turn]]:
    """Two conversations with the same branch; the second covered in review."""
    texts = ["alpha beta gamma", "delta epsilon", "zeta eta theta", "iota kappa"] * 3
    plain = services.conversation_create(owner=alice, workspace=team, title="Plain")
    reviewed = services.conversation_create(owner=alice, workspace=team, title="Reviewed")
    plain_turns, reviewed_turns = chain(plain, texts), chain(reviewed, texts)
    conversation = conversation_for(alice, reviewed.id, need=Need.REVIEW)
    for turn in reviewed_turns:
        root = review.comment_create(conversation=conversation, user=alice, turn_id=turn.id,
                                     body=f"{SECRET} on {turn.id} " + "word " * 200)
        review.comment_create(conversation=conversation, user=alice, turn_id=turn.id, body=SECRET, thread_id=root.id)
        if turn.role == "assistant":
            review.verdict_set(conversation=conversation, user=alice, turn_id=turn.id, value=-1)
    review.preference_set(conversation=conversation, user=alice, turn_id=reviewed_turns[-1].id)
    return plain_turns, reviewed_turns


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_leftover_generations")
async def test_comments_are_never_sent_upstream_nor_counted_nor_shown_as_seen(alice, team, small_window, upstream):
    plain, reviewed = await database_sync_to_async(twin_branches)(alice, team)
    bodies, contexts, replies = [], [], []
    for turns in (plain, reviewed):
        ws = await connect(alice, turns[0].conversation_id)
        await ws.send_json_to({"action": "send", "request_id": "r", "parent": turns[-1].id, "content": "And now?",
                               "model": "openai:fake-model"})
        frames = await frames_until(ws, finished())
        await ws.disconnect()
        reply = await Turn.objects.aget(pk=created_reply(frames)["id"])
        assert reply.status == "complete", reply.error
        bodies.append(upstream.requests[-1]["json"])
        contexts.append({k: v for k, v in reply.context.items() if k != "omitted"})
        replies.append(reply)
    # The same request upstream, and the same context estimate (what was left out differs only by ids).
    assert bodies[0] == bodies[1]
    assert SECRET not in json.dumps(bodies[1])
    assert contexts[0] == contexts[1]
    assert len(replies[0].context.get("omitted", [])) == len(replies[1].context.get("omitted", []))

    def seen_and_metered():
        sent = replay.sent_request(conversation_id=replies[1].conversation_id, turn_id=replies[1].id)
        assert SECRET not in json.dumps(sent.body) and SECRET not in replay.code_snippet(sent)
        page = signed_in(alice).get(f"/c/{replies[1].conversation_id}/t/{replies[1].id}/request.json")
        assert page.status_code == 200 and SECRET not in page.content.decode()
        info = registry().model_info("openai:fake-model")
        meters = [
            branch_meter(Turn.objects.path(conversation_id=r.conversation_id, turn_id=r.id), info).used
            for r in replies
        ]
        assert meters[0] == meters[1]

    await database_sync_to_async(seen_and_metered)()
