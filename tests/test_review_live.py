"""Review, live, on the real Channels stack: a comment, an edit, a resolution, a verdict and a
preferred branch reach every socket open on the conversation (alice's and bob's) at once; a live
share link whose maker included the comments hears the comments on what it shares, under the
link's names, and nothing else of review; the person's own socket (/ws/me/) counts their unread
notifications."""
from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from conversations import services
from conversations.models import ShareLink, Turn
from conversations.review.shared import shared_comments
from conversations.sharing import services as sharing
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


async def reader_socket(link) -> WebsocketCommunicator:
    reader = WebsocketCommunicator(router, f"/ws/share/{link.token}/")
    reader.scope["user"] = AnonymousUser()
    assert (await reader.connect(timeout=WAIT))[0]
    return reader


def commented_link(conversation, by, *, names="teammates", turn=None) -> ShareLink:
    link = make_link(conversation, by, turn=turn)
    ShareLink.objects.filter(pk=link.pk).update(include_comments=True, comment_names=names)
    link.refresh_from_db()
    return link


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

    # The share link's reader heard none of it: its maker did not include the comments.
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


async def test_a_live_link_with_comments_shows_them_live_under_its_names(personas, branches):
    alice, bob = personas.alice, personas.bob
    conversation, a1, a1b = branches
    c = f"/c/{conversation.id}"
    # bob commented before the page opened: he is Teammate 1 on it, and stays so live.
    first = await apost(bob, f"{c}/t/{a1.id}/comments/", {"body": "Redis, surely."})
    link = await database_sync_to_async(commented_link)(conversation, alice)
    page = await database_sync_to_async(lambda: shared_comments(link, [a1.id, a1b.id]))()
    assert page[a1.id][0]["author"] == "Teammate 1"
    reader = await reader_socket(link)

    made = await apost(alice, f"{c}/t/{a1b.id}/comments/", {"body": "Why memcached?"})
    frame = await review_frame(reader)
    assert frame == {"type": "review.comment", "turn": {"id": a1b.id, "comments": 1, "open": 1}, "comment": {
        "id": made["comment"]["id"], "turn": a1b.id, "thread": None, "author": "Teammate 2",
        "body": "Why memcached?", "deleted": False, "created_at": frame["comment"]["created_at"],
        "edited_at": None, "resolved_at": None, "resolved_by": None}}

    answer = await apost(bob, f"{c}/t/{a1b.id}/comments/", {"body": "Cheaper.", "thread": made["comment"]["id"]})
    frame = await review_frame(reader)
    assert (frame["comment"]["id"], frame["comment"]["author"]) == (answer["comment"]["id"], "Teammate 1")
    await apost(bob, f"{c}/comments/{answer['comment']['id']}/edit/", {"body": "Cheaper to run."})
    frame = await review_frame(reader)
    assert (frame["comment"]["body"], frame["comment"]["author"]) == ("Cheaper to run.", "Teammate 1")
    assert frame["comment"]["edited_at"]
    await apost(alice, f"{c}/comments/{made['comment']['id']}/resolve/", {"resolved": True})
    frame = await review_frame(reader)
    assert frame["comment"]["resolved_at"] and frame["comment"]["resolved_by"] is None
    assert frame["turn"]["open"] == 0
    await apost(bob, f"{c}/comments/{first['comment']['id']}/delete/", {})
    frame = await review_frame(reader)
    assert frame["comment"]["deleted"] and frame["comment"]["body"] == ""
    assert frame["comment"]["author"] == "Teammate 1"  # a deleted comment keeps its place in the numbering

    # Verdicts and preferences are members' only: nothing of them reaches the link.
    await apost(bob, f"{c}/t/{a1.id}/verdict/", {"value": 1})
    await apost(bob, f"{c}/preference/", {"turn": a1.id})
    # The next thing the reader hears is the next comment: no verdict or preference came first.
    await apost(alice, f"{c}/t/{a1.id}/comments/", {"body": "Settled."})
    frame = await review_frame(reader)
    assert frame["comment"]["body"] == "Settled." and frame["comment"]["author"] == "Teammate 2"
    assert await reader.receive_nothing(timeout=0.2)
    await reader.disconnect()


async def test_every_frame_a_reader_gets_names_no_one(personas, branches):
    """Whatever the reader receives, no username, id of an account or address appears in it."""
    alice, bob = personas.alice, personas.bob
    conversation, a1, a1b = branches
    link = await database_sync_to_async(commented_link)(conversation, alice)
    reader = await reader_socket(link)
    made = await apost(alice, f"/c/{conversation.id}/t/{a1b.id}/comments/", {"body": "A question."})
    await apost(bob, f"/c/{conversation.id}/t/{a1b.id}/comments/",
                {"body": "An answer.", "thread": made["comment"]["id"]})
    await apost(alice, f"/c/{conversation.id}/comments/{made['comment']['id']}/resolve/", {"resolved": True})
    received = [await review_frame(reader) for _ in range(3)]
    text = json.dumps(received)
    for person in (alice, bob):
        assert person.username not in text and (not person.email or person.email not in text)
    assert all(set(f["comment"]) >= {"author"} and "author_id" not in f["comment"] for f in received)
    await reader.disconnect()


async def test_a_link_with_usernames_shows_them(personas, branches):
    conversation, a1, _ = branches
    link = await database_sync_to_async(commented_link)(conversation, personas.alice, names="usernames")
    reader = await reader_socket(link)
    await apost(personas.bob, f"/c/{conversation.id}/t/{a1.id}/comments/", {"body": "Mine."})
    frame = await review_frame(reader)
    assert frame["comment"]["author"] == "bob" and "imported" not in frame["comment"]
    await reader.disconnect()


async def test_links_without_comments_or_off_the_turn_hear_nothing(personas, branches):
    alice = personas.alice
    conversation, a1, a1b = branches
    plain = await database_sync_to_async(make_link)(conversation, alice)
    # A branch link on Q1 → A1 shares A1 and not A1b beside it.
    branch = await database_sync_to_async(commented_link)(conversation, alice, turn=a1)
    plain_reader, branch_reader = await reader_socket(plain), await reader_socket(branch)
    await apost(alice, f"/c/{conversation.id}/t/{a1b.id}/comments/", {"body": "Off the branch."})
    await apost(alice, f"/c/{conversation.id}/t/{a1.id}/comments/", {"body": "On the branch."})
    frame = await review_frame(branch_reader)
    assert frame["comment"]["body"] == "On the branch."
    assert await plain_reader.receive_nothing(timeout=0.2)
    assert await branch_reader.receive_nothing(timeout=0.2)

    # The maker's choice is asked for each comment: taking the comments out stops them at once.
    await database_sync_to_async(lambda: ShareLink.objects.filter(pk=branch.pk).update(include_comments=False))()
    await apost(alice, f"/c/{conversation.id}/t/{a1.id}/comments/", {"body": "Now unseen."})
    assert await branch_reader.receive_nothing(timeout=0.2)
    for ws in (plain_reader, branch_reader):
        await ws.disconnect()


async def test_a_revoked_link_hears_no_more_comments(personas, branches):
    alice = personas.alice
    conversation, a1, _ = branches
    link = await database_sync_to_async(commented_link)(conversation, alice)
    reader = await reader_socket(link)
    await apost(alice, f"/c/{conversation.id}/t/{a1.id}/comments/", {"body": "Before."})
    assert (await review_frame(reader))["comment"]["body"] == "Before."
    await database_sync_to_async(lambda: sharing.share_revoke(link=link))()
    assert (await next_frame(reader))["type"] == "share.gone"
    assert (await reader.receive_output(timeout=WAIT))["code"] == 4404
    await apost(alice, f"/c/{conversation.id}/t/{a1.id}/comments/", {"body": "After."})
    assert await reader.receive_nothing(timeout=0.2)


async def test_a_link_revoked_without_its_socket_hearing_is_caught_at_the_next_comment(personas, branches):
    """Should the revocation's own message be lost, the link is asked again before a comment goes out."""
    alice = personas.alice
    conversation, a1, _ = branches
    link = await database_sync_to_async(commented_link)(conversation, alice)
    reader = await reader_socket(link)
    await database_sync_to_async(lambda: ShareLink.objects.filter(pk=link.pk).update(revoked_at=timezone.now()))()
    await apost(alice, f"/c/{conversation.id}/t/{a1.id}/comments/", {"body": "Secret."})
    frame = await next_frame(reader)
    assert frame["type"] == "share.gone"
    assert (await reader.receive_output(timeout=WAIT))["code"] == 4404
