"""The permission matrix: every URL and every websocket action as each persona.

The personas and their world are tests/conftest.py's: alice owns the team workspace "Team", bob is
its editor, vera its viewer, charlie an outsider (he has only his personal workspace), and an
anonymous visitor holds a share link: valid, revoked or expired.

Each table has one row per URL or action and one column per persona; each cell is the expected
outcome (a status code, "login" for a redirect to sign in, a close code, or "ok"/"forbidden" for a
socket action), and each cell also checks what was, or was not, written. The rules (permissions.py):
READ = owner/editor/viewer, WRITE = owner/editor, MANAGE = owner; outsiders get 404, never 403.
"""
from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from conversations.exchange.workbench_json import conversation_export
from conversations.models import Conversation, ConversationPin, Membership, ShareLink, Turn, Workspace
from conversations.sharing import services as sharing
from conversations.sharing.consumer import ShareConsumer
from conversations.workspaces import services as workspaces
from tests.conftest import (
    ANON,
    COST,
    EDITOR,
    OTHER_TITLE,
    OUTSIDER,
    OWNER,
    PRIVATE_TITLE,
    SIBLING_TEXT,
    SYSTEM_PROMPT,
    TEXTS,
    TITLE,
    USERNAMES,
    VIEWER,
    World,
    make_link,
)
from tests.fake_upstream import reply_text
from tests.wsclient import (
    WAIT,
    assemble,
    connect,
    created_reply,
    finished,
    frames_until,
    next_frame,
    router,
)

# --- the personas, as the columns of each table -------------------------------------------------

# On the pages behind sign-in, the anonymous visitor comes three times: having just opened a valid
# link, a revoked one, an expired one. A link opens its /s/ page and nothing else.
ANON_LINKS = {"anon-valid-link": "live", "anon-revoked-link": "revoked", "anon-expired-link": "expired"}
PERSONAS = [OWNER, EDITOR, VIEWER, OUTSIDER, *ANON_LINKS]
# On share URLs the link is the row (valid, revoked, expired, ...) and the visitor a column.
SHARE_PERSONAS = [OWNER, EDITOR, VIEWER, OUTSIDER, ANON]
MEMBERS = [OWNER, EDITOR, VIEWER]

LOGIN = "login"  # a 302 to /accounts/login/
API_KEY = "test-key"  # settings.OPENAI_API_KEY, set by the `providers` fixture
EMAILS = [f"{name}@example.com" for name in USERNAMES.values()]


def is_anonymous(persona: str) -> bool:
    return persona == ANON or persona in ANON_LINKS


def client_for(persona: str, w: World, **client_options) -> Client:
    """A signed-in client, or an anonymous one that has just opened its link (if it holds one)."""
    client = Client(**client_options)
    if persona in ANON_LINKS:
        kind = ANON_LINKS[persona]
        assert client.get(f"/s/{w.token(kind)}/").status_code == (200 if kind == "live" else 404)
    elif persona != ANON:
        client.force_login(w.users[persona])
    return client


def outcome(response) -> int | str:
    if response.status_code == 302 and response.url.startswith("/accounts/login/"):
        return LOGIN
    return response.status_code


def cells(owner, editor, viewer, outsider, anonymous=LOGIN) -> dict[str, Any]:
    """One row's expectations; every anonymous visitor gets the same."""
    return {OWNER: owner, EDITOR: editor, VIEWER: viewer, OUTSIDER: outsider,
            **{p: anonymous for p in [ANON, *ANON_LINKS]}}


def matrix(rows: list, personas=PERSONAS) -> list:
    """(row, persona) pairs with ids like `GET /c/<conv>/-viewer`, so a failure names its cell."""
    def name(row) -> str:
        return row[0] if isinstance(row, tuple) else row.id

    return [pytest.param(row, p, id=f"{name(row)}-{p}") for row in rows for p in personas]


def assert_reveals_nothing(persona: str, body: str) -> None:
    """Never an API key; for outsiders and anonymous visitors nothing of Team's conversations."""
    assert API_KEY not in body
    if persona == OUTSIDER or is_anonymous(persona):
        for secret in (TITLE, OTHER_TITLE, SYSTEM_PROMPT, *TEXTS, SIBLING_TEXT):
            assert secret not in body, secret


# --- HTTP GET -----------------------------------------------------------------------------------

READ, WRITE, ANY = cells(200, 200, 200, 404), cells(200, 200, 404, 404), cells(200, 200, 200, 200)
CHARLIES = cells(404, 404, 404, 200)

GET_ROWS = [
    ("/", ANY),
    ("/?w={team}", READ),
    ("/?w={charlie_personal}", CHARLIES),
    ("/c/{conv}/", READ),
    ("/c/{conv}/t/{a2}/", READ),
    ("/c/{conv}/t/{a2}/branch.json", READ),
    ("/c/{conv}/tree.json", READ),
    ("/c/{conv}/compare/?tips={a2},{a2b}", READ),
    ("/c/{conv}/t/{a2}/request.json", READ),
    ("/c/{conv}/t/{a2}/code.py", READ),
    ("/c/{conv}/export.json", READ),
    ("/c/{conv}/t/{a2}/export.md", READ),
    ("/c/{conv}/shares.json", WRITE),
    ("/c/{private}/", CHARLIES),
    ("/c/new/", ANY),
    ("/c/new/?w={team}", WRITE),
    ("/c/new/?w={charlie_personal}", CHARLIES),
    ("/c/list/?w={team}", READ),
    ("/c/list/?w={charlie_personal}", CHARLIES),
    ("/c/{conv}/t/{private_turn}/", cells(404, 404, 404, 404)),
    ("/w/{team}/", READ),
    ("/w/{charlie_personal}/", CHARLIES),
    ("/workspaces/", ANY),
    ("/shared/", ANY),
    ("/import/", ANY),
    # Everyone may search; what each finds is tests/test_search.py's (outsiders find nothing of Team).
    ("/search/?q=text", ANY),
]


@pytest.mark.django_db
@pytest.mark.parametrize("row,persona", matrix(GET_ROWS))
def test_get(world, row, persona):
    path, expected = row
    response = client_for(persona, world).get(path.format(**world.ids))
    assert outcome(response) == expected[persona]
    assert_reveals_nothing(persona, response.content.decode())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "persona,can_write,can_manage", [(OWNER, True, True), (EDITOR, True, False), (VIEWER, False, False)]
)
def test_pages_tell_each_member_their_role(world, persona, can_write, can_manage):
    data = client_for(persona, world).get(f"/c/{world.conv.id}/t/{world.turns['a2'].id}/branch.json").json()
    conversation = data["conversation"]
    assert (conversation["role"], conversation["can_write"], conversation["can_manage"]) == (
        persona, can_write, can_manage,
    )


# --- HTTP POST ----------------------------------------------------------------------------------


@dataclass
class Post:
    id: str
    path: str
    expected: dict[str, Any]
    # What the action writes, read before and after: it changes exactly when the cell is allowed.
    probe: Callable[[World], Any] | None
    form: Callable[[World], dict] = lambda w: {}
    # More checks on an allowed cell: (world, user, response).
    verify: Callable[[World, User, Any], None] | None = None


def newest(queryset):
    return queryset.order_by("-pk").first()


def _verify_pin(w, user, response):
    # Their own pin, no one else's: only their list changes.
    assert list(ConversationPin.objects.values_list("user", "conversation")) == [(user.id, w.conv.id)]


def _verify_fork(w, user, response):
    fork = newest(Conversation.objects.filter(forked_from=w.turns["a2"]))
    assert fork.owner == user and fork.workspace == workspaces.personal_workspace(user)
    assert Conversation.objects.filter(workspace=w.team).count() == 3
    assert [t.content for t in fork.turns.order_by("id")] == TEXTS


def _verify_share(w, user, response):
    link = newest(ShareLink.objects.all())
    assert link.created_by == user and link.conversation == w.conv and response.json()["mode"] == "live"


def _verify_import(w, user, response):
    copy = newest(Conversation.objects.all())
    assert copy.owner == user and copy.workspace == workspaces.personal_workspace(user)


def _verify_tokens(w, user, response):
    assert response.json()["counts"] and response.json()["model"] == "openai:fake-model"


def _export_file(w: World) -> dict:
    data = json.dumps(conversation_export(conversation=w.conv)).encode()
    return {"file": SimpleUploadedFile("export.json", data, "application/json")}


MANAGE = cells(302, 404, 404, 404)
POST_ROWS = [
    Post("pin", "/c/{conv}/pin/", cells(302, 302, 302, 404),
         lambda w: sorted(ConversationPin.objects.values_list("user__username", flat=True)),
         lambda w: {"pinned": "1"}, _verify_pin),
    Post("rename", "/c/{conv}/rename/", cells(302, 302, 404, 404),
         lambda w: Conversation.objects.get(pk=w.conv.pk).title, lambda w: {"title": "Renamed"}),
    Post("delete", "/c/{doomed}/delete/", MANAGE,
         lambda w: Conversation.objects.filter(pk=w.doomed.pk).exists()),
    Post("fork", "/c/{conv}/t/{a2}/fork/", cells(302, 302, 302, 404),
         lambda w: Conversation.objects.filter(forked_from=w.turns["a2"]).count(), verify=_verify_fork),
    Post("share", "/c/{conv}/share/", cells(201, 201, 404, 404),
         lambda w: ShareLink.objects.count(),
         lambda w: {"scope": "conversation", "mode": "live", "audience": "anyone", "expires": "never"}, _verify_share),
    Post("revoke-alices-link", "/shared/{live_link}/revoke/", MANAGE,
         lambda w: ShareLink.objects.get(pk=w.links["live"].pk).revoked_at),
    Post("revoke-bobs-link", "/shared/{bobs_link}/revoke/", cells(302, 302, 404, 404),
         lambda w: ShareLink.objects.get(pk=w.links["bobs"].pk).revoked_at),
    Post("invite", "/w/{team}/members/invite/", MANAGE,
         lambda w: Membership.objects.filter(workspace=w.team, user=w.users[OUTSIDER]).exists(),
         lambda w: {"who": "charlie", "role": "viewer"}),
    Post("member-role", "/w/{team}/members/{vera_membership}/role/", MANAGE,
         lambda w: Membership.objects.get(workspace=w.team, user=w.users[VIEWER]).role, lambda w: {"role": "editor"}),
    Post("member-remove", "/w/{team}/members/{vera_membership}/remove/", MANAGE,
         lambda w: Membership.objects.filter(workspace=w.team, user=w.users[VIEWER]).exists()),
    Post("workspace-rename", "/w/{team}/rename/", MANAGE,
         lambda w: Workspace.objects.get(pk=w.team.pk).name, lambda w: {"name": "Taken over"}),
    Post("workspace-create", "/workspaces/new/", cells(302, 302, 302, 302),
         lambda w: Workspace.objects.filter(name="Made here").count(), lambda w: {"name": "Made here"}),
    Post("import", "/import/", cells(302, 302, 302, 302),
         lambda w: Conversation.objects.count(), _export_file, _verify_import),
    Post("tokens-count", "/tokens/count/", cells(200, 200, 200, 200), None,
         lambda w: {"data": json.dumps({"model": "openai:fake-model", "texts": ["hello"]}),
                    "content_type": "application/json"}, _verify_tokens),
]


def post(client: Client, row: Post, w: World):
    form = row.form(w)
    path = row.path.format(token=w.token("live"), **w.ids)
    return client.post(path, **form) if "content_type" in form else client.post(path, form)


@pytest.mark.django_db
@pytest.mark.parametrize("row,persona", matrix(POST_ROWS))
def test_post(world, row, persona):
    before = row.probe(world) if row.probe else None
    response = post(client_for(persona, world), row, world)
    assert outcome(response) == row.expected[persona]
    allowed = row.expected[persona] not in (404, LOGIN)
    if row.probe:
        after = row.probe(world)
        assert (after != before) == allowed, f"before {before!r}, after {after!r}"
    if allowed and row.verify:
        row.verify(world, world.users[persona], response)
    assert_reveals_nothing(persona, response.content.decode(errors="replace"))


@pytest.mark.django_db
def test_every_post_needs_the_csrf_token(world):
    client = client_for(OWNER, world, enforce_csrf_checks=True)
    for row in POST_ROWS + [SHARED_FORK]:
        before = row.probe(world) if row.probe else None
        assert post(client, row, world).status_code == 403, row.id
        if row.probe:
            assert row.probe(world) == before, row.id


# --- the shared page: /s/<token>/ ---------------------------------------------------------------

ALL_200 = cells(200, 200, 200, 200, 200)
ALL_404 = cells(404, 404, 404, 404, 404)
LINK_KINDS = {  # link → who may read it
    "live": ALL_200,
    "snapshot": ALL_200,
    "members": cells(200, 200, 200, 404, 404),
    "revoked": ALL_404,
    "expired": ALL_404,
    "garbage": ALL_404,
    "branch": ALL_200,
}
SHARE_GET_ROWS = [(f"/s/<{kind}>/", "/s/{token}/", kind, expected) for kind, expected in LINK_KINDS.items()] + [
    (f"/s/<{kind}>/t/<a2>/branch.json", "/s/{token}/t/{a2}/branch.json", kind,
     ALL_404 if kind == "branch" else expected)  # A2 is outside the branch link's scope
    for kind, expected in LINK_KINDS.items()
]


@pytest.mark.django_db
@pytest.mark.parametrize("row,persona", matrix(SHARE_GET_ROWS, SHARE_PERSONAS))
def test_get_shared(world, row, persona):
    _, path, kind, expected = row
    response = client_for(persona, world).get(path.format(token=world.token(kind), **world.ids))
    assert outcome(response) == expected[persona]
    body = response.content.decode()
    assert API_KEY not in body
    if response.status_code == 404:
        assert TITLE not in body and TEXTS[0] not in body


def _shared_fork_probe(w: World) -> int:
    return Conversation.objects.count()


def _verify_shared_fork(w, user, response):
    fork = newest(Conversation.objects.all())
    assert fork.owner == user and fork.workspace == workspaces.personal_workspace(user)
    assert [t.content for t in fork.turns.order_by("id")] == TEXTS


SHARED_FORK = Post("/s/<live>/fork/", "/s/{token}/fork/", cells(302, 302, 302, 302), _shared_fork_probe,
                   lambda w: {"turn": w.turns["a2"].id}, _verify_shared_fork)
SHARE_FORK_ROWS = [
    ("live", cells(302, 302, 302, 302)),
    ("snapshot", cells(302, 302, 302, 302)),
    ("members", cells(302, 302, 302, 404)),
    ("revoked", cells(404, 404, 404, 404)),
    ("expired", cells(404, 404, 404, 404)),
    ("garbage", cells(404, 404, 404, 404)),
    ("branch", cells(404, 404, 404, 404)),  # A2 is not part of what it shares
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "row,persona", matrix([(f"POST /s/<{k}>/fork/", k, e) for k, e in SHARE_FORK_ROWS], SHARE_PERSONAS)
)
def test_post_shared_fork(world, row, persona):
    _, kind, expected = row
    before = _shared_fork_probe(world)
    response = client_for(persona, world).post(f"/s/{world.token(kind)}/fork/", {"turn": world.turns["a2"].id})
    assert outcome(response) == expected[persona]
    allowed = expected[persona] == 302
    assert (_shared_fork_probe(world) != before) == allowed
    if allowed:
        _verify_shared_fork(world, world.users[persona], response)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["live", "snapshot"])
@pytest.mark.parametrize("url", ["/s/{token}/", "/s/{token}/t/{a2}/branch.json"])
def test_a_shared_page_shows_the_turns_and_nothing_else(world, kind, url):
    body = Client().get(url.format(token=world.token(kind), **world.ids)).content.decode()
    for text in TEXTS if "branch.json" in url else (TITLE, *TEXTS):
        assert text in body
    leaks = [OTHER_TITLE, PRIVATE_TITLE, "Doomed-conversation", SYSTEM_PROMPT, str(COST), "48611", "39127",
             API_KEY, *EMAILS]
    assert [leak for leak in leaks if leak in body] == []


# --- websockets: the conversation socket --------------------------------------------------------

def ws_test(test):
    """A socket test: a real database shared with the consumer's threads, no reply left running."""
    return pytest.mark.django_db(transaction=True)(pytest.mark.usefixtures("no_leftover_generations")(test))


OPEN = "open"


def communicator(path: str, user) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(router, path)
    ws.scope["user"] = user
    return ws


async def closed_with(ws: WebsocketCommunicator, timeout: float = WAIT) -> tuple[int, list[dict]]:
    """The close code the server sends, and the frames before it."""
    frames: list[dict] = []
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.receive_output(timeout)
            if message["type"] == "websocket.close":
                return message["code"], frames
            frames.append(json.loads(message["text"]))


async def open_or_close_code(ws: WebsocketCommunicator) -> str | int:
    connected, _ = await ws.connect(timeout=WAIT)
    assert connected
    if await ws.receive_nothing(timeout=0.3):
        return OPEN
    code, _ = await closed_with(ws)
    return code


async def assert_still_reads(ws: WebsocketCommunicator, w: World) -> list[dict]:
    """The socket is open and may read: resume sends the reply A2 again."""
    a2 = w.turns["a2"].id
    await ws.send_json_to({"action": "resume", "turn": a2, "offset": 0})
    frames = await frames_until(ws, finished(a2))
    assert assemble(frames, a2) == TEXTS[3]
    return frames


@database_sync_to_async
def state(w: World) -> dict:
    """Everything a socket action might write."""
    conv = Conversation.objects.get(pk=w.conv.pk)
    return {
        "turns": Turn.objects.filter(conversation=w.conv).count(),
        "main_turn": conv.main_turn_id,
        "a2b": Turn.objects.filter(pk=w.turns["a2b"].pk).exists(),
        "statuses": sorted(Turn.objects.filter(conversation=w.conv).values_list("status", flat=True)),
    }


@ws_test
@pytest.mark.parametrize(
    "persona,expected", [(OWNER, OPEN), (EDITOR, OPEN), (VIEWER, OPEN), (OUTSIDER, 4404), (ANON, 4401)],
    ids=SHARE_PERSONAS,
)
@pytest.mark.parametrize("target", ["Team", "charlies"])
async def test_ws_connect(world, target, persona, expected):
    if target == "charlies":  # the mirror image: only charlie may open his own conversation
        expected = {OUTSIDER: OPEN, ANON: 4401}.get(persona, 4404)
    conversation = world.conv if target == "Team" else world.private
    ws = communicator(f"/ws/conversations/{conversation.id}/", world.user(persona))
    assert await open_or_close_code(ws) == expected
    if expected == OPEN and target == "Team":
        await assert_still_reads(ws, world)
    await ws.disconnect()


@ws_test
@pytest.mark.parametrize(
    "persona,expected", [(OWNER, OPEN), (EDITOR, OPEN), (VIEWER, 4404), (OUTSIDER, 4404), (ANON, 4401)],
    ids=SHARE_PERSONAS,
)
@pytest.mark.parametrize("target", ["Team", "charlies"])
async def test_ws_new_conversation(world, providers, target, persona, expected):
    """The socket that starts a conversation: for those who may write in the workspace."""
    if target == "charlies":
        expected = {OUTSIDER: OPEN, ANON: 4401}.get(persona, 4404)
    workspace = world.team.id if target == "Team" else world.private.workspace_id
    before = await database_sync_to_async(Conversation.objects.count)()
    ws = communicator(f"/ws/workspaces/{workspace}/conversations/new/", world.user(persona))
    assert await open_or_close_code(ws) == expected
    if expected == OPEN:
        await ws.send_json_to(send_frame("Hello, new conversation", request_id="first"))
        frame = await next_frame(ws)
        created = await database_sync_to_async(Conversation.objects.get)(pk=frame["conversation"])
        assert frame == {"type": "conversation.created", "conversation": created.id,
                         "url": f"/c/{created.id}/", "request_id": "first"}
        assert (created.owner_id, created.workspace_id) == (world.user(persona).id, workspace)
    else:
        assert await database_sync_to_async(Conversation.objects.count)() == before
    await ws.disconnect()


def send_frame(content="Follow-up", parent=None, model="openai:fake-model", **extra) -> dict:
    return {"action": "send", "parent": parent, "content": content, "model": model, **extra}


def action_frame(action: str, w: World) -> dict:
    t = {name: turn.id for name, turn in w.turns.items()}
    return {
        "resume": {"action": "resume", "turn": t["a2"], "offset": 0},
        "send": send_frame(parent=t["a2"]),
        "edit": {"action": "edit", "turn": t["q2"], "content": "Question two, edited", "model": "openai:fake-model"},
        "regenerate": {"action": "regenerate", "turn": t["a2"], "model": "openai:fake-model"},
        "main": {"action": "main", "turn": t["a2b"]},
        "delete": {"action": "delete", "turn": t["a2b"]},
    }[action] | {"request_id": f"req-{action}"}


OK, FORBIDDEN = "ok", "forbidden"
WS_ACTIONS = {  # action → (owner, editor, viewer)
    "resume": (OK, OK, OK),
    "send": (OK, OK, FORBIDDEN),
    "edit": (OK, OK, FORBIDDEN),
    "regenerate": (OK, OK, FORBIDDEN),
    "stop": (OK, OK, FORBIDDEN),
    "main": (OK, OK, FORBIDDEN),
    "delete": (OK, FORBIDDEN, FORBIDDEN),
}


async def _done(ws, w: World, action: str, before: dict) -> None:
    """What an allowed action does, on the socket and in the database."""
    if action == "resume":
        frames = await frames_until(ws, finished(w.turns["a2"].id))
        assert assemble(frames, w.turns["a2"].id) == TEXTS[3]
        assert await state(w) == before
    elif action in ("send", "edit", "regenerate"):
        frames = await frames_until(ws, finished())
        reply = created_reply(frames)
        assert frames[-1]["turn"]["status"] == "complete" and assemble(frames, reply["id"])
        assert (await state(w))["turns"] == before["turns"] + (1 if action == "regenerate" else 2)
    elif action == "main":
        assert await next_frame(ws) == {"type": "conversation.updated", "main_turn": w.turns["a2b"].id}
        assert (await state(w))["main_turn"] == w.turns["a2b"].id
    elif action == "delete":
        frame = await next_frame(ws)
        assert frame["type"] == "turn.deleted" and frame["turn"] == w.turns["a2b"].id
        assert (await state(w))["a2b"] is False


@ws_test
@pytest.mark.parametrize(
    "action,persona,expected",
    [pytest.param(a, p, e, id=f"{a}-{p}") for a, row in WS_ACTIONS.items() for p, e in zip(MEMBERS, row, strict=True)],
)
async def test_ws_action(world, providers, upstream, action, persona, expected):
    ws = await connect(world.user(persona), world.conv.id)
    if action == "stop":
        await _stop_cell(world, ws, expected)
        await assert_still_reads(ws, world)
        await ws.disconnect()
        return
    before = await state(world)
    await ws.send_json_to(action_frame(action, world))
    if expected == OK:
        await _done(ws, world, action, before)
    else:
        frame = await next_frame(ws)
        assert (frame["type"], frame["code"], frame["request_id"]) == ("error", "forbidden", f"req-{action}")
        assert await ws.receive_nothing(timeout=0.2)
        assert await state(world) == before
    await assert_still_reads(ws, world)  # the socket stays open, for reading
    await ws.disconnect()


async def _stop_cell(w: World, ws, expected: str) -> None:
    """alice starts a slow reply on her own socket; the persona's socket asks to stop it."""
    driver = await connect(w.users[OWNER], w.conv.id)
    # A stop that is obeyed must come before the reply's end, however slow the machine: 20 s of
    # streaming. A refused one leaves the reply to finish, better soon: 0.6 s.
    model = "openai:fake-slow-long" if expected == OK else "openai:fake-slow"
    await driver.send_json_to(send_frame(parent=w.turns["a2"].id, model=model))
    started = await frames_until(driver, lambda f: f["type"] == "delta")
    reply = created_reply(started)["id"]
    await ws.send_json_to({"action": "stop", "turn": reply, "request_id": "req-stop"})
    frames = await frames_until(
        ws, lambda f: f["type"] == "error" or (f["type"] == "turn.finished" and f["turn"]["id"] == reply)
    )
    if expected == FORBIDDEN:
        assert (frames[-1]["type"], frames[-1]["code"]) == ("error", "forbidden")
    else:
        assert frames[-1]["turn"]["status"] == "stopped"
    done = (await frames_until(driver, finished(reply)))[-1]["turn"]
    assert done["status"] == ("stopped" if expected == OK else "complete")
    saved = await database_sync_to_async(Turn.objects.get)(pk=reply)
    assert saved.status == done["status"]
    await driver.disconnect()


# --- websockets: the share socket ---------------------------------------------------------------

WS_SHARE_CONNECT = {  # link → (owner, editor, viewer, outsider, anonymous)
    "live": cells(OPEN, OPEN, OPEN, OPEN, OPEN),
    "branch": cells(OPEN, OPEN, OPEN, OPEN, OPEN),
    "members": cells(OPEN, OPEN, OPEN, 4404, 4404),
    "snapshot": cells(4404, 4404, 4404, 4404, 4404),  # nothing to stream
    "revoked": cells(4404, 4404, 4404, 4404, 4404),
    "expired": cells(4404, 4404, 4404, 4404, 4404),
    "garbage": cells(4404, 4404, 4404, 4404, 4404),
}


@ws_test
@pytest.mark.parametrize(
    "kind,persona",
    [pytest.param(k, p, id=f"/ws/share/<{k}>/-{p}") for k in WS_SHARE_CONNECT for p in SHARE_PERSONAS],
)
async def test_ws_share_connect(world, kind, persona):
    ws = communicator(f"/ws/share/{world.token(kind)}/", world.user(persona))
    expected = WS_SHARE_CONNECT[kind][persona]
    assert await open_or_close_code(ws) == expected
    if expected == OPEN:
        a1 = world.turns["a1"].id  # in the scope of every live link here
        await ws.send_json_to({"action": "resume", "turn": a1, "offset": 0})
        frames = await frames_until(ws, finished(a1))
        assert assemble(frames, a1) == TEXTS[1]
        reader_fields = {"id", "status", "error", "refused", "length", "first_token_at", "finished_at"}
        assert set(frames[-1]["turn"]) <= reader_fields
    await ws.disconnect()


@ws_test
@pytest.mark.parametrize("action", ["send", "edit", "regenerate", "stop", "main", "delete"])
@pytest.mark.parametrize("persona", [OWNER, ANON])
async def test_ws_share_is_read_only(world, providers, action, persona):
    ws = communicator(f"/ws/share/{world.token('live')}/", world.user(persona))
    assert await open_or_close_code(ws) == OPEN
    before = await state(world)
    frame = {"action": "stop", "turn": world.turns["a2"].id} if action == "stop" else action_frame(action, world)
    await ws.send_json_to(frame)
    assert await ws.receive_json_from(timeout=WAIT) == {
        "type": "error", "code": "read_only", "error": "A shared page is read-only.",
    }
    assert await ws.receive_nothing(timeout=0.2)
    assert await state(world) == before
    await ws.disconnect()


# --- access is checked on every action, not cached from connect ---------------------------------


@database_sync_to_async
def membership_id(w: World, persona: str) -> int:
    return Membership.objects.get(workspace=w.team, user=w.users[persona]).id


@ws_test
async def test_a_demoted_editor_can_no_longer_send(world, providers):
    bob = await connect(world.users[EDITOR], world.conv.id)
    await database_sync_to_async(workspaces.member_set_role)(
        workspace=world.team, membership_id=await membership_id(world, EDITOR), role="viewer"
    )
    before = await state(world)
    await bob.send_json_to(send_frame(parent=world.turns["a2"].id, request_id="after-demotion"))
    frame = await next_frame(bob)
    assert (frame["type"], frame["code"], frame["request_id"]) == ("error", "forbidden", "after-demotion")
    assert await state(world) == before
    await assert_still_reads(bob, world)
    await bob.disconnect()


@ws_test
async def test_a_removed_viewer_is_disconnected(world):
    vera = await connect(world.users[VIEWER], world.conv.id)
    await database_sync_to_async(workspaces.member_remove)(
        workspace=world.team, membership_id=await membership_id(world, VIEWER)
    )
    code, frames = await closed_with(vera)
    assert code == 4404
    assert [(f["type"], f["code"]) for f in frames if f["type"] == "error"] == [("error", "not_found")]


@ws_test
async def test_a_removed_viewer_loses_a_members_only_link(world):
    vera = communicator(f"/ws/share/{world.token('members')}/", world.users[VIEWER])
    assert await open_or_close_code(vera) == OPEN
    await database_sync_to_async(workspaces.member_remove)(
        workspace=world.team, membership_id=await membership_id(world, VIEWER)
    )
    code, frames = await closed_with(vera)
    assert code == 4404 and [f["type"] for f in frames] == ["share.gone"]


@ws_test
async def test_revoking_a_link_closes_its_sockets(world):
    anon = communicator(f"/ws/share/{world.token('live')}/", AnonymousUser())
    assert await open_or_close_code(anon) == OPEN
    await database_sync_to_async(sharing.share_revoke)(link=world.links["live"])
    code, frames = await closed_with(anon)
    assert code == 4404 and [f["type"] for f in frames] == ["share.gone"]


@ws_test
async def test_a_link_that_expires_closes_its_sockets(world, monkeypatch):
    link = await database_sync_to_async(make_link)(
        world.conv, world.users[OWNER], expires_at=timezone.now() + timedelta(minutes=10)
    )
    # The socket times the link's end by its clock: a clock that reads a second before the end
    # makes it due a second after the socket opened, however long opening it took.
    moment_before = SimpleNamespace(now=lambda: link.expires_at - timedelta(seconds=1))
    monkeypatch.setattr(sys.modules[ShareConsumer.__module__], "timezone", moment_before)
    anon = communicator(f"/ws/share/{link.token}/", AnonymousUser())
    assert await open_or_close_code(anon) == OPEN
    code, frames = await closed_with(anon)
    assert (code, frames) == (4404, [{"type": "share.gone", "error": "This link has expired."}])


# --- live co-viewing ------------------------------------------------------------------------------


@ws_test
async def test_teammates_see_each_other_and_each_others_replies(world, providers):
    alice = await connect(world.users[OWNER], world.conv.id)
    bob = await connect(world.users[EDITOR], world.conv.id)
    joined = await alice.receive_json_from(timeout=WAIT)
    assert joined["type"] == "presence.join" and (joined["name"], joined["kind"]) == ("bob", "member")
    seen_by_bob = await bob.receive_json_from(timeout=WAIT)
    assert (seen_by_bob["type"], seen_by_bob["name"], seen_by_bob["kind"]) == ("presence.join", "alice", "member")

    await bob.send_json_to(send_frame("From bob", parent=world.turns["a2"].id, request_id="bob-1"))
    frames = await frames_until(alice, finished())
    created = [f for f in frames if f["type"] == "turn.created"]
    assert [(c["turn"]["role"], c["request_id"]) for c in created] == [("user", "bob-1"), ("assistant", "bob-1")]
    assert created[0]["turn"]["content"] == "From bob"
    reply = created[1]["turn"]["id"]
    assert assemble(frames, reply) == reply_text("From bob", 12)
    assert frames[-1]["turn"]["status"] == "complete"
    await frames_until(bob, finished(reply))

    await bob.disconnect()
    assert await alice.receive_json_from(timeout=WAIT) == {"type": "presence.leave", "id": joined["id"]}
    await alice.disconnect()


@ws_test
async def test_a_link_reader_appears_as_a_link_and_sees_no_one(world, providers):
    alice = await connect(world.users[OWNER], world.conv.id)
    anon = communicator(f"/ws/share/{world.token('live')}/", AnonymousUser())
    assert (await anon.connect(timeout=WAIT))[0]
    joined = await alice.receive_json_from(timeout=WAIT)
    assert (joined["type"], joined["name"], joined["kind"]) == ("presence.join", "Someone with a link", "link")
    bob = await connect(world.users[EDITOR], world.conv.id)
    await bob.send_json_to(send_frame("Watched", parent=world.turns["a2"].id))
    frames = await frames_until(anon, finished())
    assert not [f for f in frames if f["type"].startswith("presence.")]
    created = [f["turn"] for f in frames if f["type"] == "turn.created"]
    assert [t["role"] for t in created] == ["user", "assistant"]
    assert all({"settings", "author", "cost", "input_tokens"}.isdisjoint(t) for t in created)
    assert assemble(frames, created[1]["id"]) == reply_text("Watched", 12)
    await bob.disconnect()
    assert await anon.receive_nothing(timeout=0.3)  # not bob's leaving either
    await anon.disconnect()
    await frames_until(alice, lambda f: f == {"type": "presence.leave", "id": joined["id"]})
    await alice.disconnect()
