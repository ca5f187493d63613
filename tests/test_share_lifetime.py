"""A live link lives only as long as its maker may write where it points, and a reader cannot break
its socket.

Demoting or removing the link's maker, or deleting the link with its conversation, its turn or its
maker's account, closes every socket watching it at once, the way revoking does (`share.gone`,
4404), and its page answers 404; links made by people who may still write stay open. Every frame a
reader sends is answered: a turn that is unknown, outside the link or in another conversation is
an error frame, and the socket stays open.

The world is tests/conftest.py's: alice owns Team, bob edits it, vera views it, charlie is outside;
the links there are alice's but for `bobs`.
"""
from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser, User
from django.test import Client

from conversations import services
from conversations.models import ShareLink, Turn
from conversations.workspaces import services as workspaces
from tests.conftest import EDITOR, OUTSIDER, OWNER, TEXTS, VIEWER, World, make_link
from tests.test_permissions import (
    OPEN,
    closed_with,
    communicator,
    membership_id,
    open_or_close_code,
    send_frame,
    state,
    ws_test,
)
from tests.wsclient import WAIT, assemble, connect, finished, frames_until

GONE = {"type": "share.gone", "error": "This link is no longer available: it was turned off or has expired. "
                                        "Ask the person who shared it for a new link."}


async def watch(link: ShareLink, user=None):
    """A reader's socket on `link`, open."""
    ws = communicator(f"/ws/share/{link.token}/", user or AnonymousUser())
    assert await open_or_close_code(ws) == OPEN
    return ws


async def assert_answers(ws, turn: Turn, text: str) -> None:
    """The socket is open and answers: resume sends the turn's text."""
    await ws.send_json_to({"action": "resume", "turn": turn.id, "offset": 0})
    frames = await frames_until(ws, finished(turn.id))
    assert assemble(frames, turn.id) == text


def page_status(link: ShareLink) -> int:
    return Client().get(f"/s/{link.token}/").status_code


@database_sync_to_async
def charlies_link(w: World) -> ShareLink:
    """charlie joins Team as an editor and shares the conversation live."""
    workspaces.member_invite(workspace=w.team, who="charlie", role="editor")
    return make_link(w.conv, w.users[OUTSIDER])


async def alice_sends(w: World) -> int:
    """alice adds a prompt and a reply below A2; the id of the reply once it has finished."""
    alice = await connect(w.users[OWNER], w.conv.id)
    await alice.send_json_to(send_frame("After the change", parent=w.turns["a2"].id))
    frames = await frames_until(alice, finished())
    await alice.disconnect()
    return frames[-1]["turn"]["id"]


# --- the maker's access ends: the link ends ----------------------------------------------------


async def demote_bob(w: World) -> None:
    await database_sync_to_async(workspaces.member_set_role)(
        workspace=w.team, membership_id=await membership_id(w, EDITOR), role="viewer"
    )


async def remove_bob(w: World) -> None:
    await database_sync_to_async(workspaces.member_remove)(
        workspace=w.team, membership_id=await membership_id(w, EDITOR)
    )


@ws_test
@pytest.mark.parametrize("change", [demote_bob, remove_bob], ids=["demoted-to-viewer", "removed"])
async def test_the_makers_access_ending_closes_their_links_sockets(world, providers, change):
    bobs, alices = world.links["bobs"], world.links["live"]
    charlies = await charlies_link(world)
    anon_on_bobs = await watch(bobs)
    vera_on_bobs = await watch(bobs, world.users[VIEWER])
    others = [await watch(alices), await watch(charlies)]

    await change(world)

    # Closed like a revoked link, and told why.
    for ws in (anon_on_bobs, vera_on_bobs):
        assert await closed_with(ws) == (4404, [GONE])
    # A turn made afterwards reaches the links of people who may still write, and not bob's.
    reply = await alice_sends(world)
    for ws in others:
        frames = await frames_until(ws, finished(reply))
        assert [f["turn"]["role"] for f in frames if f["type"] == "turn.created"] == ["user", "assistant"]
    for ws in (anon_on_bobs, vera_on_bobs):
        assert await ws.receive_nothing(timeout=0.2)
    # The page and a new socket agree.
    assert await database_sync_to_async(page_status)(bobs) == 404
    assert await database_sync_to_async(page_status)(alices) == 200
    assert await open_or_close_code(communicator(f"/ws/share/{bobs.token}/", AnonymousUser())) == 4404
    for ws in others:
        await assert_answers(ws, world.turns["a1"], TEXTS[1])
        await ws.disconnect()


@ws_test
async def test_a_promotion_or_a_new_member_leaves_links_open(world):
    bobs = await watch(world.links["bobs"])
    await database_sync_to_async(workspaces.member_set_role)(
        workspace=world.team, membership_id=await membership_id(world, EDITOR), role="owner"
    )
    await database_sync_to_async(workspaces.member_invite)(workspace=world.team, who="charlie", role="viewer")
    await assert_answers(bobs, world.turns["a2"], TEXTS[3])
    await bobs.disconnect()


# --- the link is deleted with what it points at --------------------------------------------------


async def delete_conversation(w: World) -> None:
    await database_sync_to_async(services.conversation_delete)(conversation=w.conv)


async def delete_shared_turn(w: World) -> None:
    await database_sync_to_async(services.turn_delete)(conversation=w.conv, turn_id=w.turns["a1"].id)


async def delete_makers_account(w: World) -> None:
    await database_sync_to_async(User.objects.filter(pk=w.users[EDITOR].pk).delete)()


@ws_test
@pytest.mark.parametrize(
    "kind,delete",
    [("live", delete_conversation), ("branch", delete_shared_turn), ("bobs", delete_makers_account)],
    ids=["conversation", "shared-turn", "makers-account"],
)
async def test_deleting_what_a_link_points_at_closes_its_sockets(world, kind, delete):
    link = world.links[kind]
    ws = await watch(link)
    await delete(world)
    assert await closed_with(ws) == (4404, [GONE])
    assert not await database_sync_to_async(ShareLink.objects.filter(pk=link.pk).exists)()
    assert await database_sync_to_async(page_status)(link) == 404


# --- nothing a reader sends breaks the socket ---------------------------------------------------


@ws_test
@pytest.mark.parametrize(
    "kind,turn",
    [
        ("live", lambda w: 999_999_999),  # no such turn
        ("live", lambda w: w.private.turns.get().id),  # charlie's, in another conversation
        ("live", lambda w: w.doomed.turns.get().id),  # in another conversation of Team
        ("branch", lambda w: w.turns["a2"].id),  # Q1 → A1 only
        ("branch", lambda w: 999_999_999),
    ],
    ids=["unknown", "other-workspace", "other-conversation", "outside-the-branch", "unknown-on-a-branch"],
)
async def test_resuming_a_turn_the_link_does_not_share_is_an_error(world, kind, turn):
    turn_id = await database_sync_to_async(turn)(world)
    ws = await watch(world.links[kind])
    before = await state(world)
    await ws.send_json_to({"action": "resume", "turn": turn_id, "offset": 0})
    assert await ws.receive_json_from(timeout=WAIT) == {
        "type": "error", "code": "not_found", "error": "That turn is not shared here.",
    }
    await assert_answers(ws, world.turns["a1"], TEXTS[1])
    assert await state(world) == before
    await ws.disconnect()


@ws_test
async def test_resuming_a_turn_deleted_since_the_socket_opened_is_an_error(world):
    ws = await watch(world.links["live"])
    a2b = world.turns["a2b"].id
    await database_sync_to_async(services.turn_delete)(conversation=world.conv, turn_id=a2b)
    await ws.send_json_to({"action": "resume", "turn": a2b, "offset": 0})
    assert (await ws.receive_json_from(timeout=WAIT))["code"] == "not_found"
    await assert_answers(ws, world.turns["a2"], TEXTS[3])
    await ws.disconnect()


A1 = "{a1}"  # replaced by A1's id
BAD_FRAMES = {
    "not-an-object": ("[]", "wrong_type"),
    "not-json": ('{"action": "resume"', "bad_json"),
    "nested-too-deeply": ("[" * 1_000, "bad_json"),
    "too-large": (json.dumps({"action": "resume", "turn": 1, "offset": 0, "pad": "x" * 2_000}), "too_large"),
    "unknown-action": ('{"action": "rm -rf"}', "unknown_action"),
    "no-turn": ('{"action": "resume", "offset": 0}', "missing_field"),
    "turn-a-string": ('{"action": "resume", "turn": "' + A1 + '", "offset": 0}', "wrong_type"),
    "turn-a-float": ('{"action": "resume", "turn": ' + A1 + '.0, "offset": 0}', "wrong_type"),
    "turn-a-boolean": ('{"action": "resume", "turn": true, "offset": 0}', "wrong_type"),
    "turn-null": ('{"action": "resume", "turn": null, "offset": 0}', "wrong_type"),
    "turn-zero": ('{"action": "resume", "turn": 0, "offset": 0}', "wrong_type"),
    "turn-negative": ('{"action": "resume", "turn": -' + A1 + ', "offset": 0}', "wrong_type"),
    "turn-huge": ('{"action": "resume", "turn": ' + str(2**64) + ', "offset": 0}', "wrong_type"),
    "offset-negative": ('{"action": "resume", "turn": ' + A1 + ', "offset": -1}', "wrong_type"),
    "offset-a-string": ('{"action": "resume", "turn": ' + A1 + ', "offset": "0"}', "wrong_type"),
    "offset-a-float": ('{"action": "resume", "turn": ' + A1 + ', "offset": 1e400}', "wrong_type"),
    "request-id-a-number": ('{"action": "resume", "turn": ' + A1 + ', "offset": 0, "request_id": 7}', "wrong_type"),
}


@ws_test
@pytest.mark.parametrize("name", BAD_FRAMES)
async def test_every_bad_frame_is_answered_and_the_socket_stays_open(world, name):
    text, code = BAD_FRAMES[name]
    ws = await watch(world.links["live"])
    before = await state(world)
    await ws.send_to(text_data=text.replace(A1, str(world.turns["a1"].id)))
    frame = await ws.receive_json_from(timeout=WAIT)
    assert (frame["type"], frame["code"]) == ("error", code) and frame["error"]
    await assert_answers(ws, world.turns["a1"], TEXTS[1])
    assert await state(world) == before
    await ws.disconnect()


@ws_test
async def test_a_binary_frame_is_answered_and_the_socket_stays_open(world):
    ws = await watch(world.links["live"])
    await ws.send_to(bytes_data=b'{"action": "resume"}')
    assert await ws.receive_json_from(timeout=WAIT) == {
        "type": "error", "code": "wrong_type", "error": "Frames must be JSON text, not binary.",
    }
    await assert_answers(ws, world.turns["a1"], TEXTS[1])
    await ws.disconnect()


@ws_test
async def test_an_offset_past_the_end_sends_no_text_only_the_finished_turn(world):
    ws = await watch(world.links["live"])
    a1 = world.turns["a1"].id
    await ws.send_json_to({"action": "resume", "turn": a1, "offset": 2**200})
    frame = await ws.receive_json_from(timeout=WAIT)
    assert (frame["type"], frame["turn"]["id"], frame["turn"]["status"]) == ("turn.finished", a1, "complete")
    await assert_answers(ws, world.turns["a1"], TEXTS[1])
    await ws.disconnect()


@ws_test
async def test_a_frame_flood_is_cut_and_answered_once_a_second(world, frame_clock):
    ws = await watch(world.links["live"])
    for _ in range(40):
        await ws.send_to(text_data="[]")
    # The clock stands still: a burst of 10 is answered, the first frame over it is refused with a
    # word, and the other 29 in silence.
    answers = [await ws.receive_json_from(timeout=WAIT) for _ in range(11)]
    assert [a["code"] for a in answers] == ["wrong_type"] * 10 + ["rate_limited"]
    assert "at most 5 a second" in answers[-1]["error"]
    assert await ws.receive_nothing(timeout=0.3)
    frame_clock.now += 1.0  # a second later the budget has refilled: the socket answers again
    await assert_answers(ws, world.turns["a1"], TEXTS[1])
    await ws.disconnect()
