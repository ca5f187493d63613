"""Review, live, on the real Channels stack: a comment, an edit, a resolution, a verdict and a
preferred branch reach every socket open on the conversation (alice's and bob's) at once; a share
link's socket hears none of it; the person's own socket (/ws/me/) counts their unread notifications."""
from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from conversations import services
from conversations.models import Turn
from tests.conftest import chain, make_link, signed_in
from tests.wsclient import WAIT, connect, next_frame, router

pytestmark = [pytest.mark.django_db(transaction=True)]


def post(user, path: str, data: dict):
    response = signed_in(user).post(path, json.dumps(data), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


async def apost(user, path: str, data: dict):
    return await database_sync_to_async(post)(user, path, data)


async def me_socket(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(router, "/ws/me/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected
    return communicator


async def review_frame(communicator) -> dict:
    while True:
        frame = await next_frame(communicator)
        if frame["type"].startswith("review."):
            return frame


@pytest.fixture
def branches(personas):
    conversation = services.conversation_create(owner=personas.alice, workspace=personas.team, title="Live")
    q1, a1 = chain(conversation, ["Which cache?", "Use Redis."])
    a1b = Turn.objects.append(conversation=conversation, parent=q1, role="assistant", content="Use memcached.")
    return conversation, a1, a1b


async def test_every_action_reaches_both_members_at_once(personas, branches):
    alice, bob = personas.alice, personas.bob
    conversation, a1, a1b = branches
    alice_ws, bob_ws = await connect(alice, conversation.id), await connect(bob, conversation.id)
    bob_me = await me_socket(bob)
    assert await bob_me.receive_json_from(timeout=WAIT) == {"type": "inbox.count", "unread": 0}
    link = await database_sync_to_async(make_link)(conversation, alice)
    reader = WebsocketCommunicator(router, f"/ws/share/{link.token}/")
    reader.scope["user"] = AnonymousUser()
    assert (await reader.connect(timeout=WAIT))[0]

    made = await apost(alice, f"/c/{conversation.id}/t/{a1b.id}/comments/", {"body": "@bob why memcached?"})
    for ws in (alice_ws, bob_ws):
        frame = await review_frame(ws)
        assert frame["type"] == "review.comment"
        assert frame["comment"]["id"] == made["comment"]["id"] and frame["comment"]["author"] == "alice"
        assert frame["turn"] == {"id": a1b.id, "comments": 1, "open": 1}
    # bob is told on his own socket, on no page of the conversation.
    assert await bob_me.receive_json_from(timeout=WAIT) == {"type": "inbox.count", "unread": 1}

    answer = await apost(bob, f"/c/{conversation.id}/t/{a1b.id}/comments/",
                         {"body": "It was cheaper.", "thread": made["comment"]["id"]})
    for ws in (alice_ws, bob_ws):
        frame = await review_frame(ws)
        assert frame["comment"]["thread"] == made["comment"]["id"] and frame["turn"]["comments"] == 2
    await apost(bob, f"/c/{conversation.id}/comments/{answer['comment']['id']}/edit/", {"body": "Cheaper to run."})
    for ws in (alice_ws, bob_ws):
        frame = await review_frame(ws)
        assert frame["comment"]["body"] == "Cheaper to run." and frame["comment"]["edited_at"]

    await apost(bob, f"/c/{conversation.id}/t/{a1.id}/verdict/", {"value": 1})
    for ws in (alice_ws, bob_ws):
        assert await review_frame(ws) == {
            "type": "review.verdicts", "turn": a1.id, "verdicts": {"up": ["bob"], "down": []}}

    await apost(bob, f"/c/{conversation.id}/preference/", {"turn": a1.id})
    for ws in (alice_ws, bob_ws):
        frame = await review_frame(ws)
        assert (frame["type"], frame["user"], frame["turn"]) == ("review.preference", "bob", a1.id) and frame["at"]

    await apost(alice, f"/c/{conversation.id}/comments/{made['comment']['id']}/resolve/", {"resolved": True})
    for ws in (alice_ws, bob_ws):
        frame = await review_frame(ws)
        assert frame["comment"]["resolved_by"] == "alice" and frame["turn"]["open"] == 0

    await apost(bob, f"/c/{conversation.id}/comments/{answer['comment']['id']}/delete/", {})
    for ws in (alice_ws, bob_ws):
        frame = await review_frame(ws)
        assert frame["comment"]["deleted"] and frame["comment"]["body"] == ""

    # bob opens his notification: his badge says so.
    notice = await database_sync_to_async(lambda: bob.notifications.get().id)()
    response = await database_sync_to_async(lambda: signed_in(bob).get(f"/inbox/{notice}/"))()
    assert response.status_code == 302 and response.url.endswith(f"/t/{a1b.id}/#comment-{made['comment']['id']}")
    assert await bob_me.receive_json_from(timeout=WAIT) == {"type": "inbox.count", "unread": 0}

    # The share link's reader heard none of it (it is not theirs to see live).
    assert await reader.receive_nothing(timeout=0.2)
    for ws in (alice_ws, bob_ws, bob_me, reader):
        await ws.disconnect()


async def test_a_refused_action_sends_nothing(personas, branches):
    alice, vera = personas.alice, personas.vera
    conversation, a1, _ = branches
    await database_sync_to_async(lambda: type(personas.team).objects.filter(pk=personas.team.pk).update(
        viewers_may_review=False))()
    alice_ws = await connect(alice, conversation.id)
    response = await database_sync_to_async(lambda: signed_in(vera).post(
        f"/c/{conversation.id}/t/{a1.id}/comments/", json.dumps({"body": "hi"}), content_type="application/json"))()
    assert response.status_code == 403
    assert await alice_ws.receive_nothing(timeout=0.2)
    await alice_ws.disconnect()


async def test_the_own_socket_needs_a_signed_in_person():
    communicator = WebsocketCommunicator(router, "/ws/me/")
    communicator.scope["user"] = AnonymousUser()
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected
    assert (await communicator.receive_output(timeout=WAIT))["code"] == 4401
