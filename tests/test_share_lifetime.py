"""A live link lives only as long as its maker may write where it points.

Demoting or removing the link's maker, or deleting the link with its conversation, its turn or its
maker's account, closes every socket watching it at once, the way revoking does (`share.gone`,
4404), and its page answers 404; links made by people who may still write stay open.

The world is tests/test_permissions.py's: alice owns Team, bob edits it, carol views it, charlie
is outside; the links there are alice's but for `bobs`.
"""
from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser, User
from django.test import Client

from conversations import services, workspaces
from conversations.models import ShareLink, Turn
from tests.test_permissions import (  # noqa: F401 (`world` and `fast_passwords` are fixtures)
    EDITOR,
    OPEN,
    OUTSIDER,
    OWNER,
    TEXTS,
    VIEWER,
    World,
    closed_with,
    communicator,
    fast_passwords,
    make_link,
    membership_id,
    open_or_close_code,
    send_frame,
    world,
    ws_test,
)
from tests.wsclient import assemble, connect, finished, frames_until

GONE = {"type": "share.gone", "error": "This link is no longer available."}


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
    carol_on_bobs = await watch(bobs, world.users[VIEWER])
    others = [await watch(alices), await watch(charlies)]

    await change(world)

    # Closed like a revoked link, and told why.
    for ws in (anon_on_bobs, carol_on_bobs):
        assert await closed_with(ws) == (4404, [GONE])
    # A turn made afterwards reaches the links of people who may still write, and not bob's.
    reply = await alice_sends(world)
    for ws in others:
        frames = await frames_until(ws, finished(reply))
        assert [f["turn"]["role"] for f in frames if f["type"] == "turn.created"] == ["user", "assistant"]
    for ws in (anon_on_bobs, carol_on_bobs):
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
