"""The conversation list: grouped by date in the reader's time zone, read page by page from a
keyset cursor, pinned, renamed and deleted from its rows; and "+ New conversation" stores nothing
until the first message is sent."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.urls import reverse

from conversations import conversation_list, services
from conversations.conversation_list import Cursor, conversation_page, date_group
from conversations.models import Conversation, ConversationPin, Turn
from conversations.workspaces.services import personal_workspace
from tests.conftest import chain, signed_in
from tests.fake_upstream import reply_text
from tests.wsclient import WAIT, assemble, connect, finished, frames_until, router

PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")
# A Friday morning in Paris.
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=PARIS)


# --- groups by date -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment,label",
    [
        (datetime(2026, 11, 20, 9, 29, tzinfo=PARIS), "Today"),
        (datetime(2026, 11, 20, 0, 0, tzinfo=PARIS), "Today"),
        (datetime(2026, 11, 22, 3, 0, tzinfo=PARIS), "Today"),  # ahead of the clock
        (datetime(2026, 11, 19, 23, 59, 59, tzinfo=PARIS), "Yesterday"),
        (datetime(2026, 11, 19, 0, 0, tzinfo=PARIS), "Yesterday"),
        (datetime(2026, 11, 18, 23, 59, 59, tzinfo=PARIS), "Previous 7 days"),
        (datetime(2026, 11, 13, 0, 0, tzinfo=PARIS), "Previous 7 days"),  # 7 days ago
        (datetime(2026, 11, 12, 23, 59, 59, tzinfo=PARIS), "Previous 30 days"),  # 8 days ago
        (datetime(2026, 10, 21, 0, 0, tzinfo=PARIS), "Previous 30 days"),  # 30 days ago
        (datetime(2026, 10, 20, 23, 59, 59, tzinfo=PARIS), "October 2026"),  # 31 days ago
        (datetime(2026, 10, 1, 0, 0, tzinfo=PARIS), "October 2026"),
        (datetime(2026, 9, 30, 23, 59, 59, tzinfo=PARIS), "September 2026"),
        (datetime(2025, 11, 20, 9, 30, tzinfo=PARIS), "November 2025"),
    ],
)
def test_date_groups_at_their_boundaries(moment, label):
    assert date_group(moment, today=NOW.date(), zone=PARIS)[1] == label


def test_days_are_the_readers_days():
    """Half past eleven at night in London is already tomorrow in Paris and Tokyo."""
    moment = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)
    for zone, label in [(UTC, "Yesterday"), (PARIS, "Today"), (ZoneInfo("Asia/Tokyo"), "Today"),
                        (ZoneInfo("America/Los_Angeles"), "Yesterday")]:
        today = NOW.astimezone(zone).date()  # 20 November everywhere at this hour, but in LA: 20th 00:30
        assert date_group(moment, today=today, zone=zone)[1] == label, zone


def found(pattern: str, text: str) -> str:
    """The first group of the first match of `pattern` in `text`, which must have one."""
    match = re.search(pattern, text, re.S)
    assert match is not None, pattern
    return match.group(1)


def _groups(html: str) -> list[tuple[str, list[int]]]:
    """The list's groups as the page shows them: (label, conversation ids), in order."""
    sections = re.findall(r'<section class="conv-group".*?</section>', html, re.S)
    return [
        (found(r"<h2[^>]*>(.*?)</h2>", s), [int(i) for i in re.findall(r'data-conversation="(\d+)"', s)])
        for s in sections
    ]


def _aged(conversation: Conversation, moment: datetime) -> Conversation:
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=moment)
    return conversation


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setattr(conversation_list, "now", lambda: NOW)


def test_the_page_groups_by_date_in_the_browsers_time_zone(alice, fixed_clock):
    def make(title, moment):
        return _aged(services.conversation_create(owner=alice, title=title), moment)

    today = make("today", datetime(2026, 11, 20, 0, 30, tzinfo=PARIS))  # 23:30 yesterday in UTC
    yesterday = make("yesterday", datetime(2026, 11, 19, 12, 0, tzinfo=PARIS))
    week = make("week", datetime(2026, 11, 14, 12, 0, tzinfo=PARIS))
    month = make("month", datetime(2026, 11, 1, 12, 0, tzinfo=PARIS))
    october = make("october", datetime(2026, 10, 2, 12, 0, tzinfo=PARIS))
    last_year = make("last year", datetime(2025, 12, 24, 12, 0, tzinfo=PARIS))
    pinned = make("pinned", datetime(2026, 1, 5, 12, 0, tzinfo=PARIS))
    services.conversation_pin(conversation=pinned, user=alice, pinned=True)
    client = signed_in(alice)
    client.cookies["workbench_tz"] = "Europe/Paris"
    html = client.get(reverse("home")).content.decode()
    assert _groups(html) == [
        ("Pinned", [pinned.id]),
        ("Today", [today.id]),
        ("Yesterday", [yesterday.id]),
        ("Previous 7 days", [week.id]),
        ("Previous 30 days", [month.id]),
        ("October 2026", [october.id]),
        ("December 2025", [last_year.id]),
    ]
    assert 'data-tz="Europe/Paris"' in html
    # In UTC (no cookie, or one naming no zone) the first is yesterday's.
    for cookie in (None, "../../etc/passwd", "Mars/Olympus_Mons", "x" * 300):
        if cookie is None:
            client.cookies.pop("workbench_tz")
        else:
            client.cookies["workbench_tz"] = cookie
        response = client.get(reverse("home"))
        assert response.status_code == 200
        groups = dict(_groups(response.content.decode()))
        assert groups["Yesterday"] == [today.id, yesterday.id], cookie


# --- pages --------------------------------------------------------------------------------------


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'class="conv-row" data-conversation="(\d+)"', html)]


def _next_page(html: str) -> str | None:
    found = re.search(r'data-fragment="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_2500_conversations_load_page_by_page(alice, django_assert_max_num_queries):
    workspace = personal_workspace(alice)
    made = Conversation.objects.bulk_create(
        Conversation(owner=alice, workspace=workspace, title=f"Conversation {n}") for n in range(2500)
    )
    base = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    for n, conversation in enumerate(made):
        # Three at a time share a moment: the id settles their order, across page ends too.
        conversation.updated_at = base - timedelta(minutes=n // 3)
    Conversation.objects.bulk_update(made, ["updated_at"], batch_size=500)
    pinned = made[::500]
    for conversation in pinned:
        services.conversation_pin(conversation=conversation, user=alice, pinned=True)
    expected = [
        c.id for c in sorted(made, key=lambda c: (c.updated_at, c.id), reverse=True) if c not in pinned
    ]

    client = signed_in(alice)
    first = client.get(reverse("home")).content.decode()
    assert dict(_groups(first))["Pinned"] == [c.id for c in reversed(pinned)]  # latest pin first
    seen = [i for i in _ids(first) if i not in {c.id for c in pinned}]
    url = _next_page(first)
    pages = 1
    while url:
        with django_assert_max_num_queries(6):  # session, user, workspaces (2), the page
            response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Pinned" not in html
        seen += _ids(html)
        url = _next_page(html)
        pages += 1
    assert seen == expected
    assert pages == 50  # 2,495 unpinned, 50 a page

    # Without scripts, "Load more" is a link to the list from there.
    more = found(r'class="load-more link-button" href="([^"]+)"', first).replace("&amp;", "&")
    page_two = client.get(more).content.decode()
    assert _ids(page_two) == expected[50:100] and "Newest conversations" in page_two


def test_a_page_is_read_through_the_list_index(alice):
    workspace = personal_workspace(alice)
    cursor = Cursor(datetime(2026, 11, 20, tzinfo=UTC), 10**6)
    rows = Conversation.objects.filter(workspace_id=workspace.id).exclude(pins__user=alice)
    rows = rows.filter(updated_at__lte=cursor.updated_at)
    plan = rows.order_by("-updated_at", "-id").explain()
    if connection.vendor == "sqlite":
        assert "conversation_list" in plan and "TEMP B-TREE" not in plan, plan
    conversation_page(user=alice, workspace_id=workspace.id, before=cursor)  # runs as written


def test_a_cursor_is_exact_to_the_microsecond():
    moment = datetime(2026, 11, 20, 9, 0, 0, 123457, tzinfo=UTC)
    assert Cursor.parse(str(Cursor(moment, 42))) == Cursor(moment, 42)


@pytest.mark.parametrize(
    "raw,message",
    [
        ("yesterday", "is not a list position"),
        ("12-", "is not a list position"),
        ("-5-3", "is not a list position"),
        ("1.5-3", "is not a list position"),
        ("1" * 19 + "-3", "is not a list position"),
        ("999999999999999999-3", "past any date"),
    ],
)
@pytest.mark.parametrize("view", ["home", "conversation_list"])
def test_a_bad_cursor_is_refused_clearly(alice, raw, message, view):
    response = signed_in(alice).get(reverse(view), {"before": raw})
    assert response.status_code == 400 and message in response.content.decode()


# --- pin, rename, delete from the list ----------------------------------------------------------


@pytest.fixture
def team_conversation(personas):
    conversation = services.conversation_create(owner=personas.alice, workspace=personas.team, title="Roadmap")
    chain(conversation, ["What next?", "Ship it."])
    _aged(conversation, datetime(2026, 11, 1, tzinfo=UTC))
    return conversation


JSON = {"Accept": "application/json"}


@pytest.mark.parametrize("persona,status", [("alice", 200), ("bob", 200), ("vera", 200), ("charlie", 404)])
def test_pin_is_each_readers_own(personas, team_conversation, persona, status):
    user = getattr(personas, persona)
    client = signed_in(user)
    url = reverse("conversation_pin", args=[team_conversation.id])
    response = client.post(url, {"pinned": "1"}, headers=JSON)
    assert response.status_code == status
    pins = list(ConversationPin.objects.values_list("user_id", flat=True))
    assert pins == ([user.id] if status == 200 else [])
    if status != 200:
        return
    assert response.json() == {"id": team_conversation.id, "pinned": True}
    assert client.post(url, {"pinned": "1"}, headers=JSON).status_code == 200  # pinning twice: still one pin
    assert ConversationPin.objects.count() == 1
    # Pinned in their list, and in nobody else's.
    mine = dict(_groups(client.get(reverse("home"), {"w": personas.team.id}).content.decode()))
    assert mine["Pinned"] == [team_conversation.id]
    other = personas.bob if persona != "bob" else personas.alice
    theirs = dict(_groups(signed_in(other).get(reverse("home"), {"w": personas.team.id}).content.decode()))
    assert "Pinned" not in theirs and team_conversation.id in sum(theirs.values(), [])
    # Unpinned: back among the dates, without a form post changing updated_at.
    before = Conversation.objects.get(pk=team_conversation.pk).updated_at
    assert client.post(url, {"pinned": "0"}, headers=JSON).json() == {"id": team_conversation.id, "pinned": False}
    assert not ConversationPin.objects.exists()
    assert Conversation.objects.get(pk=team_conversation.pk).updated_at == before


def test_pin_without_scripts_returns_to_the_page(alice, team_conversation):
    client = signed_in(alice)
    url = reverse("conversation_pin", args=[team_conversation.id])
    page = f"/c/{team_conversation.id}/"
    assert client.post(url, {"pinned": "1", "next": page})["Location"] == page
    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = client.post(url, {"pinned": "1", "next": hostile})
        assert response["Location"] == f"/?w={team_conversation.workspace_id}", hostile


@pytest.mark.parametrize("persona,status", [("alice", 200), ("bob", 200), ("vera", 404), ("charlie", 404)])
def test_rename_from_the_list(personas, team_conversation, persona, status):
    before = Conversation.objects.get(pk=team_conversation.pk)
    response = signed_in(getattr(personas, persona)).post(
        reverse("conversation_rename", args=[team_conversation.id]), {"title": "  Q4   roadmap "}, headers=JSON
    )
    assert response.status_code == status
    after = Conversation.objects.get(pk=team_conversation.pk)
    if status == 200:
        assert response.json() == {"id": team_conversation.id, "title": "Q4 roadmap"}
        assert (after.title, after.title_source) == ("Q4 roadmap", Conversation.TitleSource.USER)
        # Renaming is not activity: the row stays where it was in the list.
        assert after.updated_at == before.updated_at
    else:
        assert (after.title, after.title_source) == (before.title, before.title_source)


@pytest.mark.parametrize("persona,status", [("alice", 200), ("bob", 404), ("vera", 404), ("charlie", 404)])
def test_delete_from_the_list(personas, team_conversation, persona, status):
    response = signed_in(getattr(personas, persona)).post(
        reverse("conversation_delete", args=[team_conversation.id]), headers=JSON
    )
    assert response.status_code == status
    exists = Conversation.objects.filter(pk=team_conversation.pk).exists()
    assert exists == (status != 200)
    assert Turn.objects.filter(conversation_id=team_conversation.pk).count() == (2 if exists else 0)
    if status == 200:
        assert response.json() == {"id": team_conversation.id, "deleted": True}


@pytest.mark.parametrize(
    "persona,actions",
    [("alice", ["pin", "rename", "delete"]), ("bob", ["pin", "rename"]), ("vera", ["pin"])],
)
def test_each_row_offers_what_the_role_allows(personas, team_conversation, persona, actions):
    html = signed_in(getattr(personas, persona)).get(reverse("home"), {"w": personas.team.id}).content.decode()
    row = found(rf'(data-conversation="{team_conversation.id}".*?</li>)', html)
    assert re.findall(r'role="menuitem"[^>]*data-action="(\w+)"', row) == actions


def test_bad_inputs_are_refused_and_nothing_is_written(alice, team_conversation):
    client = signed_in(alice)
    pin = reverse("conversation_pin", args=[team_conversation.id])
    for form in ({}, {"pinned": "yes"}, {"pinned": "true"}, {"pinned": "2"}):
        response = client.post(pin, form, headers=JSON)
        assert response.status_code == 400, form
        assert response.content.decode() == "Say pinned=1 to pin the conversation, or pinned=0 to unpin it."
    assert client.get(pin).status_code == 405
    assert client.post(reverse("conversation_pin", args=[10**9]), {"pinned": "1"}).status_code == 404
    assert not ConversationPin.objects.exists()

    rename = reverse("conversation_rename", args=[team_conversation.id])
    response = client.post(rename, {"title": "x" * 201}, headers=JSON)
    assert response.status_code == 400
    assert response.content.decode() == "The title is 201 characters; the limit is 200."
    after = Conversation.objects.get(pk=team_conversation.pk)
    assert (after.title, after.title_source) == ("Roadmap", "")

    assert client.get(reverse("conversation_delete", args=[team_conversation.id])).status_code == 405
    assert Conversation.objects.filter(pk=team_conversation.pk).exists()


def test_deleting_a_streaming_conversation_is_refused_with_a_reason(alice, team_conversation):
    Turn.objects.append(conversation=team_conversation, parent=team_conversation.turns.order_by("id").last(),
                        role="assistant", status="streaming")
    response = signed_in(alice).post(reverse("conversation_delete", args=[team_conversation.id]), headers=JSON)
    assert response.status_code == 400 and "still streaming" in response.content.decode()
    assert Conversation.objects.filter(pk=team_conversation.pk).exists()


# --- no conversation before its first message ---------------------------------------------------


def test_new_conversation_stores_nothing(personas, providers):
    alice = personas.alice
    client = signed_in(alice)
    for query in ({}, {"w": personas.team.id}):
        response = client.get(reverse("conversation_new"), query)
        assert response.status_code == 200
        workspace = query.get("w") or personal_workspace(alice).id
        assert f"/ws/workspaces/{workspace}/conversations/new/" in response.content.decode()
    assert not Conversation.objects.exists()
    # A viewer cannot start one in the team; an outsider does not see it.
    assert signed_in(personas.vera).get(reverse("conversation_new"), {"w": personas.team.id}).status_code == 404
    assert signed_in(personas.charlie).get(reverse("conversation_new"), {"w": personas.team.id}).status_code == 404
    assert signed_in(personas.vera).get(reverse("conversation_new")).status_code == 200  # their own
    assert not Conversation.objects.exists()


@database_sync_to_async
def _count() -> int:
    return Conversation.objects.count()


async def _new_socket(user, workspace_id: int):
    from channels.testing import WebsocketCommunicator

    ws = WebsocketCommunicator(router, f"/ws/workspaces/{workspace_id}/conversations/new/")
    ws.scope["user"] = user
    connected, _ = await ws.connect(timeout=WAIT)
    assert connected
    return ws


def _send(content="Draft a launch plan", **extra) -> dict:
    return {"action": "send", "parent": None, "content": content, "model": "openai:fake-model", **extra}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_leftover_generations")
async def test_the_first_send_creates_the_conversation_and_its_reply_streams(alice, providers):
    workspace = await database_sync_to_async(personal_workspace)(alice)
    ws = await _new_socket(alice, workspace.id)
    await ws.send_json_to(_send(request_id="r1"))
    created = await ws.receive_json_from(timeout=WAIT)
    conversation = await database_sync_to_async(Conversation.objects.get)()
    assert created == {"type": "conversation.created", "conversation": conversation.id,
                       "url": f"/c/{conversation.id}/", "request_id": "r1"}
    assert (conversation.title, conversation.owner_id) == ("Draft a launch plan", alice.id)
    # The conversation's page catches up with the reply by offset, as after a reload.
    reply = await database_sync_to_async(Turn.objects.get)(conversation=conversation, role="assistant")
    page = await connect(alice, conversation.id)
    await page.send_json_to({"action": "resume", "turn": reply.id, "offset": 0})
    frames = await frames_until(page, finished(reply.id))
    assert assemble(frames, reply.id) == reply_text("Draft a launch plan", 12)
    # One first message per page: a second send starts nothing more.
    await ws.send_json_to(_send("Again"))
    again = await ws.receive_json_from(timeout=WAIT)
    assert (again["type"], again["code"]) == ("error", "started")
    assert await _count() == 1
    await ws.disconnect()
    await page.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_leftover_generations")
@pytest.mark.parametrize(
    "frame,code,message",
    [
        (_send(model="openai:no-such-model"), "unknown_model", "no model 'no-such-model'"),
        (_send(content="   "), "empty", "The message is empty."),
        (_send(parent=5), "invalid", 'a "send" with "parent": null'),
        ({"action": "resume", "turn": 1, "offset": 0}, "invalid", 'a "send" with "parent": null'),
        (_send(variants=[{"model": "openai:fake-model"}] * 7), "wrong_type", '"variants" must be a list of 2 to 6'),
        (_send(settings={"temperature": 9}), "wrong_type", "settings.temperature must be a number from 0 to 2."),
        ({"action": "send"}, "missing_field", '"parent" is missing.'),
    ],
)
async def test_a_refused_first_send_stores_nothing(alice, providers, frame, code, message):
    workspace = await database_sync_to_async(personal_workspace)(alice)
    ws = await _new_socket(alice, workspace.id)
    await ws.send_json_to({**frame, "request_id": "bad"})
    error = await ws.receive_json_from(timeout=WAIT)
    assert (error["type"], error["code"], error["request_id"]) == ("error", code, "bad"), error
    assert message in error["error"]
    assert await _count() == 0
    assert await database_sync_to_async(Turn.objects.count)() == 0
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_leftover_generations")
async def test_a_first_fan_out_opens_its_replies_side_by_side(alice, providers):
    workspace = await database_sync_to_async(personal_workspace)(alice)
    ws = await _new_socket(alice, workspace.id)
    await ws.send_json_to({"action": "send", "parent": None, "content": "Two views",
                           "variants": [{"model": "openai:fake-model"}, {"model": "anthropic:fake-model"}]})
    created = await ws.receive_json_from(timeout=WAIT)
    replies = await database_sync_to_async(
        lambda: list(Turn.objects.filter(role="assistant").order_by("id").values_list("id", flat=True))
    )()
    conversation = created["conversation"]
    assert created["url"] == f"/c/{conversation}/compare/?tips={replies[0]},{replies[1]}"
    await ws.disconnect()
