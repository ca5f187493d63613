"""Export and import: lossless Workbench JSON, a branch as Markdown, ChatGPT's export, bad files."""
from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from conversations import services
from conversations.models import Conversation, Turn
from conversations.tokens import count_all
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
T0 = datetime(2024, 5, 1, 9, 30, 15, 123456, tzinfo=UTC)
COMPARED_TURN_FIELDS = [
    f.name for f in Turn._meta.concrete_fields if f.name not in ("id", "conversation", "parent", "chain", "author")
]



def add(conversation, parent, role, content, *, at: int, **fields) -> Turn:
    turn = Turn.objects.append(
        conversation=conversation, parent=parent, role=role, content=content,
        token_counts=count_all(content), author=conversation.owner, **fields,
    )
    # created_at is set on insert: give every turn its own exact time, microseconds included.
    Turn.objects.filter(pk=turn.pk).update(created_at=T0 + timedelta(minutes=at, microseconds=at))
    return turn


@pytest.fixture
def tree(alice):
    """A tree with two roots, an edited prompt, a regenerated reply, a stopped, a failed and a
    refused reply, usage, cost and an omitted context, settings, reasoning (text, signed blocks,
    tokens, seconds, effort and budget), non-ASCII and emoji."""
    conversation = services.conversation_create(owner=alice, title="Ünïcode & trees 🌳")
    settings = {"system_prompt": "Answer in haiku. 🎋", "temperature": 0.3, "max_tokens": 512}
    reply = dict(provider="openai", model="gpt-4.1-mini", settings=settings)
    t = {}
    t["q1"] = add(conversation, None, "user", "Naïve question: what is a 木? 🌲", at=0)
    t["a1"] = add(conversation, t["q1"], "assistant", "A tree — **木** (ki).", at=1, **reply,
                  input_tokens=21, output_tokens=9, cost=Decimal("0.0000123400"), response_id="chatcmpl-1",
                  context={"omitted": [], "input_tokens": 21, "window": 1047576, "history_budget": 1000,
                           "reply_budget": 512, "encoding": "o200k_base", "estimate": False},
                  first_token_at=T0 + timedelta(minutes=1, seconds=1, microseconds=7),
                  finished_at=T0 + timedelta(minutes=1, seconds=2, microseconds=9))
    t["a1b"] = add(conversation, t["q1"], "assistant", "Un arbre. 🌳", at=2, provider="anthropic",
                   model="claude-sonnet-4-5", settings={"temperature": 1.0, "max_tokens": 4096,
                                                        "thinking_budget": 2048},
                   input_tokens=20, output_tokens=5, cost=Decimal("0.0001100000"),
                   reasoning="Der Nutzer fragt nach 木: das ist „Baum“. 🌳", reasoning_tokens=17,
                   reasoning_seconds=1.25,
                   reasoning_blocks=[{"type": "thinking", "thinking": "Der Nutzer fragt nach 木: das ist „Baum“. 🌳",
                                      "signature": "EqQBCkgIAhABGAIiQL7x0p/5vQ=="},
                                     {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}])
    t["q2"] = add(conversation, t["a1"], "user", "Tell me more.\n\n```py\nprint('🌲')\n```", at=3)
    t["a2"] = add(conversation, t["q2"], "assistant", "Roots go", at=4, **reply, status="stopped",
                  input_tokens=40, output_tokens=2, usage_estimated=True, cost=Decimal("0.0000170000"))
    t["a2e"] = add(conversation, t["q2"], "assistant", "Partial", at=5, **reply, status="error",
                   error="Rate limited (429): slow down.", usage_estimated=True, input_tokens=40, output_tokens=1)
    t["a2r"] = add(conversation, t["q2"], "assistant", "I can't help with that.", at=5, **reply, refused=True,
                   input_tokens=40, output_tokens=6)
    t["a2x"] = add(conversation, t["q2"], "assistant", "Roots drink.", at=5, provider="openai-responses",
                   model="o4-mini", settings={**settings, "reasoning_effort": "high"}, input_tokens=40,
                   output_tokens=70, reasoning="**Brevity**\n\nTwo words.", reasoning_tokens=64, reasoning_seconds=3.5,
                   reasoning_blocks=[{"type": "reasoning", "id": "rs_68a1", "encrypted_content": "gAAAAABo…",
                                      "summary": [{"type": "summary_text", "text": "**Brevity**\n\nTwo words."}]}])
    t["q2b"] = add(conversation, t["a1"], "user", "Tell me less.", at=6)
    t["a3"] = add(conversation, t["q2b"], "assistant", "Leaves fall.", at=7, **reply, input_tokens=12,
                  output_tokens=3, cost=Decimal("0.0000096000"),
                  context={"omitted": [t["q1"].id, t["a1"].id], "input_tokens": 12, "window": 30,
                           "history_budget": 6, "reply_budget": 20, "encoding": "o200k_base", "estimate": True})
    t["s"] = add(conversation, None, "system", "You are terse.", at=8)
    t["q3"] = add(conversation, t["s"], "user", "Hi", at=9)
    Conversation.objects.filter(pk=conversation.pk).update(
        current_turn=t["a2e"], main_turn=t["a3"],
        created_at=T0 - timedelta(days=1, microseconds=3), updated_at=T0 + timedelta(hours=2, microseconds=11),
    )
    conversation.refresh_from_db()
    conversation.t = t  # type: ignore[attr-defined]  # the fixture hands its turns along on the instance
    return conversation


def shape(conversation) -> dict:
    """Everything about a conversation except its database ids, which become positions."""
    turns = list(Turn.objects.filter(conversation=conversation).order_by("id"))
    position = {turn.id: index for index, turn in enumerate(turns)}
    rows = []
    for turn in turns:
        row = {name: getattr(turn, name) for name in COMPARED_TURN_FIELDS}
        row["parent"] = position[turn.parent_id] if turn.parent_id else None
        row["chain"] = position[turn.chain] if turn.chain else None
        if "omitted" in turn.context:
            row["context"] = {**turn.context, "omitted": [position[i] for i in turn.context["omitted"]]}
        rows.append(row)
    return {
        "title": conversation.title,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "current_turn": position.get(conversation.current_turn_id),
        "main_turn": position.get(conversation.main_turn_id),
        "turns": rows,
    }


def upload(client: Client, data: bytes, name: str = "export.json", **extra):
    return client.post(
        reverse("conversations_import"), {"file": SimpleUploadedFile(name, data, "application/json"), **extra}
    )


def export(client: Client, conversation) -> dict:
    response = client.get(reverse("conversation_export_json", args=[conversation.id]))
    assert response.status_code == 200
    return json.loads(response.content)


def imported(response) -> Conversation:
    assert response.status_code == 302, html.unescape(response.content.decode())
    conversation_id = int(response.url.rstrip("/").rsplit("/", 1)[-1])
    return Conversation.objects.get(pk=conversation_id)


def without_ids(document: dict) -> dict:
    """An export with ids replaced by positions and exported_at dropped: comparable across imports."""
    position = {turn["id"]: index for index, turn in enumerate(document["turns"])}
    turns = []
    for turn in document["turns"]:
        turn = {**turn, "id": position[turn["id"]], "parent": position.get(turn["parent"])}
        if "omitted" in turn["context"]:
            turn["context"] = {**turn["context"], "omitted": [position[i] for i in turn["context"]["omitted"]]}
        turns.append(turn)
    meta = dict(document["conversation"])
    meta["current_turn"] = position.get(meta["current_turn"])
    meta["main_turn"] = position.get(meta["main_turn"])
    return {**document, "exported_at": None, "conversation": meta, "turns": turns}


# --- Workbench JSON ----------------------------------------------------------------------------


def test_export_is_an_attachment_listing_every_turn_parents_first(tree, alice):
    response = signed_in(alice).get(reverse("conversation_export_json", args=[tree.id]))
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename")
    assert "%C3%BCn%C3%AFcode-trees" in response["Content-Disposition"]
    document = json.loads(response.content)
    assert document["format"] == "workbench.conversation" and document["version"] == 4
    assert len(document["turns"]) == 12
    seen = set()
    for turn in document["turns"]:
        assert turn["parent"] is None or turn["parent"] in seen
        seen.add(turn["id"])
    a1 = next(turn for turn in document["turns"] if turn["id"] == tree.t["a1"].id)
    assert a1["cost"] == "0.0000123400" and a1["author"] == "alice"
    assert a1["first_token_at"] == "2024-05-01T09:31:16.123463+00:00"
    assert document["conversation"]["main_turn"] == tree.t["a3"].id
    assert document["conversation"]["forked_from"] is None
    a1b = next(turn for turn in document["turns"] if turn["id"] == tree.t["a1b"].id)
    assert a1b["reasoning"] == "Der Nutzer fragt nach 木: das ist „Baum“. 🌳"
    assert [block["type"] for block in a1b["reasoning_blocks"]] == ["thinking", "redacted_thinking"]
    assert a1b["reasoning_blocks"][0]["signature"] == "EqQBCkgIAhABGAIiQL7x0p/5vQ=="
    assert [a1b["reasoning_tokens"], a1b["reasoning_seconds"], a1b["refused"]] == [17, 1.25, False]
    assert a1b["settings"] == {"temperature": 1.0, "max_tokens": 4096, "thinking_budget": 2048}
    a2x = next(turn for turn in document["turns"] if turn["id"] == tree.t["a2x"].id)
    assert a2x["settings"]["reasoning_effort"] == "high" and a2x["reasoning_blocks"][0]["id"] == "rs_68a1"
    assert next(turn for turn in document["turns"] if turn["id"] == tree.t["a2r"].id)["refused"] is True


def test_export_then_import_gives_the_same_tree(tree, alice):
    client = signed_in(alice)
    first = export(client, tree)
    copy = imported(upload(client, json.dumps(first).encode()))
    assert copy.id != tree.id and copy.owner == alice and copy.forked_from is None
    assert shape(copy) == shape(tree)
    assert set(Turn.objects.filter(conversation=copy).values_list("author", flat=True)) == {alice.id}
    assert without_ids(export(client, copy)) == without_ids(first)
    # Ids are new; the omitted turns are the copy's own.
    assert copy.main_turn_id is not None
    a3 = Turn.objects.get(pk=copy.main_turn_id)
    assert a3.context["omitted"] == list(
        Turn.objects.filter(conversation=copy, content__in=[tree.t["q1"].content, tree.t["a1"].content])
        .order_by("id").values_list("id", flat=True)
    )


def test_a_version_1_file_still_imports(tree, alice):
    """As this workbench exported before version 2: no reasoning fields, no "forked_from"."""
    document = export(signed_in(alice), tree)
    document["version"] = 1
    del document["conversation"]["forked_from"]
    for turn in document["turns"]:
        for name in ("reasoning", "reasoning_blocks", "reasoning_tokens", "reasoning_seconds", "refused"):
            del turn[name]
        turn["settings"] = {
            key: value for key, value in turn["settings"].items() if key not in ("reasoning_effort", "thinking_budget")
        }
    copy = imported(upload(signed_in(alice), json.dumps(document).encode()))
    turns = Turn.objects.filter(conversation=copy)
    assert turns.count() == 12 and copy.title == tree.title
    reasoning = {(t.reasoning, t.reasoning_tokens, t.reasoning_seconds, t.refused) for t in turns}
    assert reasoning == {("", None, None, False)}
    assert all(t.reasoning_blocks == [] for t in turns)


# --- the fork's link to its source ---------------------------------------------------------------


@pytest.fixture
def fork(tree, alice):
    """alice's fork of the tree at a2, with a turn of its own after the copied branch."""
    fork = services.conversation_fork(conversation=tree, turn_id=tree.t["a2"].id, owner=alice)
    add(fork, fork.current_turn, "user", "And then?", at=20)
    return fork


def test_a_fork_exports_its_source_and_reimports_linked_to_it(tree, fork, alice):
    client = signed_in(alice)
    first = export(client, fork)
    assert first["conversation"]["forked_from"] == {"conversation": tree.id, "turn": tree.t["a2"].id}
    copy = imported(upload(client, json.dumps(first).encode()))
    assert copy.forked_from_id == tree.t["a2"].id
    # export → import → export: the same document, but for ids and the export's own time.
    again = export(client, copy)
    assert without_ids(again) == without_ids(first)
    assert again["conversation"]["forked_from"] == first["conversation"]["forked_from"]


def test_the_link_is_dropped_for_an_importer_who_cannot_read_the_source(tree, fork, alice, charlie):
    document = export(signed_in(alice), fork)
    copy = imported(upload(signed_in(charlie), json.dumps(document).encode()))
    assert copy.forked_from is None and Turn.objects.filter(conversation=copy).count() == 5


@pytest.mark.parametrize("change", ["another turn", "no such turn", "another conversation", "edited copy"])
def test_the_link_is_dropped_when_it_does_not_name_this_forks_source(change, tree, fork, alice):
    """Ids from another workbench, or a file edited since: the named turn is kept as the source only
    when its branch reads as the fork's copy of it does."""
    document = export(signed_in(alice), fork)
    source = document["conversation"]["forked_from"]
    if change == "another turn":
        source["turn"] = tree.t["a3"].id
    elif change == "no such turn":
        source["turn"] = 999_999
    elif change == "another conversation":
        source["conversation"] = services.conversation_create(owner=alice, title="Elsewhere").id
    else:
        document["turns"][0]["content"] = "Not what the source said"
    copy = imported(upload(signed_in(alice), json.dumps(document).encode()))
    assert copy.forked_from is None


def test_an_export_names_the_source_only_to_whom_may_read_it(tree, alice, bob, team):
    """bob forks a team conversation, then leaves the team: his fork's export no longer names it."""
    shared = services.conversation_create(owner=alice, title="Team plans", workspace=team)
    question = add(shared, None, "user", "Plan?", at=0)
    fork = services.conversation_fork(conversation=shared, turn_id=question.id, owner=bob)
    assert export(signed_in(bob), fork)["conversation"]["forked_from"] == {"conversation": shared.id,
                                                                            "turn": question.id}
    team.memberships.filter(user=bob).delete()
    assert export(signed_in(bob), fork)["conversation"]["forked_from"] is None


def test_imported_turns_belong_to_the_importer_whatever_the_file_says(tree, alice, charlie):
    document = export(signed_in(alice), tree)
    copy = imported(upload(signed_in(charlie), json.dumps(document).encode()))
    assert copy.owner == charlie
    assert set(Turn.objects.filter(conversation=copy).values_list("author", flat=True)) == {charlie.id}


def test_a_reply_exported_while_streaming_is_imported_interrupted(tree, alice):
    document = export(signed_in(alice), tree)
    streaming = next(turn for turn in document["turns"] if turn["id"] == tree.t["a3"].id)
    streaming.update(status="streaming", token_counts={}, content="Leaves fa")
    copy = imported(upload(signed_in(alice), json.dumps(document).encode()))
    assert copy.main_turn_id is not None
    turn = Turn.objects.get(pk=copy.main_turn_id)
    assert turn.status == "interrupted" and turn.content == "Leaves fa"
    assert turn.token_counts == count_all("Leaves fa")


def test_an_empty_conversation_round_trips(alice):
    empty = services.conversation_create(owner=alice, title="")
    client = signed_in(alice)
    copy = imported(upload(client, json.dumps(export(client, empty)).encode()))
    assert shape(copy)["turns"] == [] and copy.title == ""


def test_ten_thousand_turns_import(alice):
    turns = [{"id": 1, "parent": None, "role": "user", "content": "start"}]
    for index in range(2, 10_001):
        turns.append({"id": index, "parent": index - 1, "role": "assistant" if index % 2 == 0 else "user",
                      "content": f"turn {index} ✓", "created_at": (T0 + timedelta(seconds=index)).isoformat()})
    document = {"format": "workbench.conversation", "version": 1,
                "conversation": {"title": "Deep", "current_turn": 10_000, "main_turn": None}, "turns": turns}
    copy = imported(upload(signed_in(alice), json.dumps(document).encode()))
    assert Turn.objects.filter(conversation=copy).count() == 10_000
    assert copy.current_turn_id is not None
    path = Turn.objects.path(conversation_id=copy.id, turn_id=copy.current_turn_id)
    assert len(path) == 10_000 and path[-1].content == "turn 10000 ✓"
    assert path[-1].created_at == T0 + timedelta(seconds=10_000)


# --- Markdown ----------------------------------------------------------------------------------


def test_markdown_export_of_one_branch(tree, alice):
    response = signed_in(alice).get(reverse("branch_export_markdown", args=[tree.id, tree.t["a3"].id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename")
    text = response.content.decode()
    assert text == (
        "# Ünïcode & trees 🌳\n\n"
        "## System prompt\n\nAnswer in haiku. 🎋\n\n"
        "## User\n\nNaïve question: what is a 木? 🌲\n\n"
        "## Assistant · openai:gpt-4.1-mini\n\nA tree — **木** (ki).\n\n"
        "## User\n\nTell me less.\n\n"
        "## Assistant · openai:gpt-4.1-mini\n\nLeaves fall.\n"
    )


def test_markdown_export_notes_a_failed_reply(tree, alice):
    response = signed_in(alice).get(reverse("branch_export_markdown", args=[tree.id, tree.t["a2e"].id]))
    text = response.content.decode()
    assert "Tell me more.\n\n```py\nprint('🌲')\n```" in text
    assert text.endswith("## Assistant · openai:gpt-4.1-mini\n\nPartial\n\n*Failed: Rate limited (429): slow down.*\n")
    assert text.count("## System prompt") == 1


def test_markdown_export_is_404_for_others_and_for_turns_of_other_conversations(tree, alice, charlie):
    other = services.conversation_create(owner=alice, title="Other")
    stranger = add(other, None, "user", "elsewhere", at=0)
    url = reverse("branch_export_markdown", args=[tree.id, tree.t["a3"].id])
    assert signed_in(charlie).get(url).status_code == 404
    assert signed_in(alice).get(reverse("branch_export_markdown", args=[tree.id, stranger.id])).status_code == 404


# --- Permissions -------------------------------------------------------------------------------


def test_only_the_owner_can_export(tree, charlie, client):
    url = reverse("conversation_export_json", args=[tree.id])
    assert signed_in(charlie).get(url).status_code == 404
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_import_needs_an_account(client):
    for response in (client.get(reverse("conversations_import")), upload(client, b"[]")):
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_import_needs_a_csrf_token(tree, alice):
    strict = signed_in(alice, enforce_csrf_checks=True)
    document = json.dumps(export(strict, tree)).encode()
    before = Conversation.objects.count()
    assert upload(strict, document).status_code == 403
    assert Conversation.objects.count() == before
    strict.get(reverse("conversations_import"))
    token = strict.cookies["csrftoken"].value
    assert upload(strict, document, csrfmiddlewaretoken=token).status_code == 302
    assert Conversation.objects.count() == before + 1


def test_import_page_explains_both_formats(alice):
    response = signed_in(alice).get(reverse("conversations_import"))
    text = response.content.decode()
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in text and "conversations.json" in text and "Workbench export" in text
    assert reverse("conversations_import") in signed_in(alice).get(reverse("home")).content.decode()


# --- ChatGPT -----------------------------------------------------------------------------------

BASE = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
PLAN = "Plan three days in Kyoto for me — temples, food, no rush. 🍵"
FIRST_REPLY = "**Day 1**: Fushimi Inari at dawn, then Tōfuku-ji.\n\n**Day 2**: Arashiyama.\n\n**Day 3**: Higashiyama."
REGENERATED = "Day 1: Kiyomizu-dera. Day 2: Nara day trip. Day 3: Nishiki market."
EAT, VEGETARIAN = "What should I eat?", "What should I eat? I'm vegetarian."
SEARCH = 'search("vegetarian shojin ryori Kyoto")'
SHOJIN = "Shōjin ryōri at Shigetsu in Tenryū-ji is the classic choice."
PHOTO, TEMPLE = "[image]\n\nWhich temple is this?", "That is Kinkaku-ji, the Golden Pavilion."


def by_content(conversation) -> dict[str, Turn]:
    return {turn.content: turn for turn in Turn.objects.filter(conversation=conversation).order_by("id")}


def test_chatgpt_export_imports_every_branch(alice):
    data = (DATA / "chatgpt_conversations.json").read_bytes()
    client = signed_in(alice)
    response = upload(client, data, name="conversations.json")
    assert response.status_code == 302
    assert response.url.startswith(f"{reverse('conversations_import')}?report=")
    kyoto, regex = Conversation.objects.filter(owner=alice).order_by("id")

    assert kyoto.title == "Three days in Kyoto 🗾" and kyoto.forked_from is None
    assert kyoto.created_at == BASE and kyoto.updated_at == BASE + timedelta(seconds=125.5)
    turns = by_content(kyoto)
    parent = {text: (turn.parent.content if turn.parent else None) for text, turn in turns.items()}
    # The empty root, the hidden system message, the custom instructions and the tool result are
    # gone; the answer after the tool result hangs from the search call that led to it.
    assert parent == {
        PLAN: None,
        FIRST_REPLY: PLAN,
        REGENERATED: PLAN,
        EAT: FIRST_REPLY,
        "Try yudofu, kaiseki and matcha sweets.": EAT,
        VEGETARIAN: FIRST_REPLY,
        SEARCH: VEGETARIAN,
        SHOJIN: SEARCH,
        PHOTO: SHOJIN,
        TEMPLE: PHOTO,
    }
    # Siblings in the order they were written, although the file lists the regenerated reply first.
    assert turns[FIRST_REPLY].id < turns[REGENERATED].id and turns[EAT].id < turns[VEGETARIAN].id
    assert kyoto.current_turn_id == turns[TEMPLE].id and kyoto.main_turn_id is None
    assert [turns[FIRST_REPLY].provider, turns[FIRST_REPLY].model] == ["chatgpt", "gpt-4o"]
    assert [turns[REGENERATED].provider, turns[REGENERATED].model] == ["chatgpt", "gpt-4o-mini"]
    assert [turns[PLAN].provider, turns[PLAN].model, turns[PLAN].role] == ["", "", "user"]
    assert turns[PLAN].created_at == BASE + timedelta(seconds=10.25)
    assert turns[TEMPLE].created_at == BASE + timedelta(seconds=95)
    assert all(t.status == "complete" and t.author_id == alice.id for t in turns.values())
    assert all(t.token_counts == count_all(t.content) for t in turns.values())

    assert regex.title == "ISO date regex"
    turns = by_content(regex)
    assert list(turns) == ["Write a regex for ISO dates", "`^\\d{4}-\\d{2}-\\d{2}$`", "And with times?",
                           "`^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}"]
    stopped = turns["`^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}"]
    assert stopped.status == "stopped" and stopped.model == "o4-mini"
    # current_node is a tool result: the nearest turn above it is current.
    assert regex.current_turn_id == stopped.id

    summary = client.get(response.url)
    text = html.unescape(summary.content.decode())
    assert "Imported 2 conversations (14 turns)." in text and "From conversations.json." in text
    assert reverse("conversation", args=[kyoto.id]) in text and reverse("conversation", args=[regex.id]) in text
    # What each left out: the hidden custom instructions (the empty system message held nothing to
    # leave out), the browsing result, the photo (marked [image] in its turn); the regex's tool output.
    assert "Left out: 1 hidden message, 1 tool or browsing result, 1 image." in text
    assert "Left out: 1 tool or browsing result." in text


def test_one_chatgpt_conversation_ends_on_its_summary_too(alice):
    conversations = json.loads((DATA / "chatgpt_conversations.json").read_text())
    client = signed_in(alice)
    response = upload(client, json.dumps(conversations[1:]).encode())
    regex = Conversation.objects.get(owner=alice)
    assert response.status_code == 302 and response.url.startswith(f"{reverse('conversations_import')}?report=")
    text = html.unescape(client.get(response.url).content.decode())
    assert "Imported 1 conversation (4 turns)." in text and reverse("conversation", args=[regex.id]) in text


# --- Bad files ---------------------------------------------------------------------------------


def workbench(*turns, **conversation) -> dict:
    return {"format": "workbench.conversation", "version": 1,
            "conversation": {"title": "Bad", "current_turn": None, "main_turn": None, **conversation},
            "turns": list(turns)}


def turn(id, parent=None, role="user", content="text", **fields) -> dict:
    return {"id": id, "parent": parent, "role": role, "content": content, **fields}


def chatgpt_conversation(title="Chat", **nodes) -> dict:
    mapping: dict[str, dict[str, Any]] = {"root": {"id": "root", "message": None, "parent": None, "children": []}}
    for node_id, (parent, role, text) in nodes.items():
        mapping[node_id] = {
            "id": node_id, "parent": parent, "children": [],
            "message": {"id": node_id, "author": {"role": role}, "create_time": 1714557600.0,
                        "content": {"content_type": "text", "parts": [text]}, "metadata": {}},
        }
    return {"title": title, "create_time": 1714557600.0, "update_time": None, "mapping": mapping,
            "current_node": None}


def as_bytes(document) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


GOOD_CHAT = chatgpt_conversation("Good one", a=("root", "user", "hi"), b=("a", "assistant", "hello"))
BAD_FILES = {
    "not JSON": (
        b'{"format": "workbench.conversation",\n  "version": 1,,\n}',
        "The file is not valid JSON: Expecting property name enclosed in double quotes at line 2, column 16.",
    ),
    "not UTF-8": (
        b'{"format": "workbench.conversation",\n "conversation": {"title": "Caf\xe9"}}',
        "The file is not UTF-8 text: byte 0xe9 at line 2, byte 32 of the line, cannot be decoded.",
    ),
    "empty file": (b"", "The file is empty."),
    "blank file": (b"  \n", "The file is empty."),
    "empty list": (b"[]", "The file holds an empty list: there are no conversations in it to import."),
    "unknown JSON": (b'{"messages": []}', "The file is JSON but not a format this workbench knows."),
    "unknown format": (b'{"format": "slack.export"}', "The file says its format is 'slack.export'"),
    "newer version": (
        as_bytes({**workbench(), "version": 5}), 'has "version": 5; this workbench reads versions 1, 2, 3 and 4.'
    ),
    "NaN": (as_bytes(workbench(turn(1, settings={"temperature": float("nan")}))),
            "it contains NaN, which JSON does not allow."),
    "zip": (b"PK\x03\x04rest-of-archive", "The file is a ZIP archive."),
    "cycle": (
        as_bytes(workbench(turn(1), turn(2, parent=4), turn(3, parent=2), turn(4, parent=3))),
        "turns[1] (id 2): its parent links form a loop (2 → 4 → 3 → 2)",
    ),
    "own parent": (
        as_bytes(workbench(turn("x", parent="x"))), "turns[0] (id 'x'): its parent links form a loop ('x' → 'x')"
    ),
    "dangling parent": (
        as_bytes(workbench(turn(1), turn(17, parent=99))), "turns[1] (id 17): its parent 99 is not in the file."
    ),
    "duplicate id": (
        as_bytes(workbench(turn(1), turn(2, parent=1), turn(1, parent=2))),
        "turns[2] (id 1): another turn earlier in the file has the same id 1.",
    ),
    "unknown role": (
        as_bytes(workbench(turn(1), turn(2, parent=1, role="wizard"))),
        "turns[1] (id 2): unknown role 'wizard'; a turn's role is one of system, user, assistant.",
    ),
    "unknown status": (
        as_bytes(workbench(turn(1, role="assistant", status="paused"))),
        "turns[0] (id 1): unknown status 'paused'; a turn's status is one of complete, streaming, stopped, "
        "interrupted, error.",
    ),
    "a prompt that stopped": (
        as_bytes(workbench(turn(1, status="stopped"))),
        'turns[0] (id 1): a user turn cannot be "stopped"; only replies (role assistant) can.',
    ),
    "oversized content": (
        as_bytes(workbench(turn(1), turn(2, parent=1, content="x" * 1_000_001))),
        "turns[1] (id 2): its content is 1,000,001 characters; a turn may hold at most 1,000,000.",
    ),
    "content not a string": (
        as_bytes(workbench(turn(1, content=["hi"]))), 'turns[0] (id 1): "content" must be a string, not a list.'
    ),
    "parent not an id": (
        as_bytes(workbench(turn(1), turn(2, parent=True))),
        'turns[1] (id 2): "parent" must be a turn id (a number or a string), not true/false.',
    ),
    "id missing": (as_bytes(workbench({"role": "user", "content": "x"})), 'turns[0] has no "id".'),
    "settings not an object": (
        as_bytes(workbench(turn(1, settings="hot"))), 'turns[0] (id 1): "settings" must be an object, not a string.'
    ),
    "negative tokens": (
        as_bytes(workbench(turn(1, role="assistant", input_tokens=-3))),
        'turns[0] (id 1): "input_tokens" must be a whole number from 0 to 2,147,483,647 or null, not -3.',
    ),
    "tokens as text": (
        as_bytes(workbench(turn(1, role="assistant", output_tokens="12"))),
        "turns[0] (id 1): \"output_tokens\" must be a whole number from 0 to 2,147,483,647 or null, not '12'.",
    ),
    "fractional token count": (
        as_bytes(workbench(turn(1, token_counts={"o200k_base": 1.5}))),
        '"token_counts.o200k_base" must be a whole number',
    ),
    "usage_estimated not a boolean": (
        as_bytes(workbench(turn(1, usage_estimated="yes"))),
        'turns[0] (id 1): "usage_estimated" must be true or false, not a string.',
    ),
    "cost as a number": (
        as_bytes(workbench(turn(1, role="assistant", cost=0.5))),
        'turns[0] (id 1): "cost" must be a decimal number written as a string, like "0.0012", or null, not a number.',
    ),
    "cost too precise": (
        as_bytes(workbench(turn(1, role="assistant", cost="0.000000000001"))), "with at most 10 decimal places."
    ),
    "bad time": (
        as_bytes(workbench(turn(1, created_at="yesterday"))),
        'turns[0] (id 1): "created_at" must be a date and time like',
    ),
    "omitted turn missing": (
        as_bytes(workbench(turn(1), turn(2, parent=1, role="assistant", context={"omitted": [1, 5]}))),
        'turns[1] (id 2): "context.omitted" names turn 5, which is not in the file.',
    ),
    "current turn missing": (
        as_bytes(workbench(turn(1), current_turn=8)),
        'conversation: "current_turn" is turn 8, which is not in the file.',
    ),
    "NUL character": (
        as_bytes(workbench(turn(1, content="a\x00b"))),
        'turns[0] (id 1): "content" contains a NUL character, which cannot be stored.',
    ),
    "reasoning not text": (
        as_bytes(workbench(turn(1, role="assistant", reasoning=["step"]))),
        'turns[0] (id 1): "reasoning" must be a string, not a list.',
    ),
    "reasoning with a NUL": (
        as_bytes(workbench(turn(1, role="assistant", reasoning="a\x00b"))),
        'turns[0] (id 1): "reasoning" contains a NUL character, which cannot be stored.',
    ),
    "oversized reasoning": (
        as_bytes(workbench(turn(1, role="assistant", reasoning="x" * 1_000_001))),
        'turns[0] (id 1): "reasoning" is 1,000,001 characters long; at most 1,000,000 fit.',
    ),
    "reasoning blocks not a list": (
        as_bytes(workbench(turn(1, role="assistant", reasoning_blocks={"type": "thinking"}))),
        'turns[0] (id 1): "reasoning_blocks" must be a list, not an object.',
    ),
    "reasoning block not an object": (
        as_bytes(workbench(turn(1, role="assistant", reasoning_blocks=["thinking"]))),
        'turns[0] (id 1): "reasoning_blocks[0]" must be an object (a provider\'s reasoning block), not a string.',
    ),
    "reasoning block without a type": (
        as_bytes(workbench(turn(1, role="assistant", reasoning_blocks=[{"type": "thinking"}, {"data": "x"}]))),
        'turns[0] (id 1): "reasoning_blocks[1]" must have a "type" of lower-case letters, digits and "_" (like '
        '"thinking"), not None.',
    ),
    "reasoning block with a NUL": (
        as_bytes(workbench(turn(1, role="assistant", reasoning_blocks=[{"type": "thinking", "x": [{"y": "\x00"}]}]))),
        'turns[0] (id 1): "reasoning_blocks[0]" contains a NUL character, which cannot be stored.',
    ),
    "negative reasoning tokens": (
        as_bytes(workbench(turn(1, role="assistant", reasoning_tokens=-1))),
        'turns[0] (id 1): "reasoning_tokens" must be a whole number from 0 to 2,147,483,647 or null, not -1.',
    ),
    "reasoning seconds as text": (
        as_bytes(workbench(turn(1, role="assistant", reasoning_seconds="12s"))),
        "turns[0] (id 1): \"reasoning_seconds\" must be a number of seconds from 0 to 31,536,000 or null, not '12s'.",
    ),
    "refused not a boolean": (
        as_bytes(workbench(turn(1, role="assistant", refused="yes"))),
        'turns[0] (id 1): "refused" must be true or false, not a string.',
    ),
    "unknown reasoning effort": (
        as_bytes(workbench(turn(1, role="assistant", settings={"reasoning_effort": "extreme"}))),
        'turns[0] (id 1): "settings.reasoning_effort" must be "low", "medium" or "high", or null, not \'extreme\'.',
    ),
    "thinking budget too small": (
        as_bytes(workbench(turn(1, role="assistant", settings={"thinking_budget": 100}))),
        'turns[0] (id 1): "settings.thinking_budget" must be a whole number from 1,024 to 128,000 or null, not 100.',
    ),
    "fork source not an object": (
        as_bytes(workbench(turn(1), forked_from=12)),
        'conversation: "forked_from" must be an object, not a number.',
    ),
    "fork source without its turn": (
        as_bytes(workbench(turn(1), forked_from={"conversation": 3})),
        'conversation has no "forked_from.turn".',
    ),
    "fork source id not a number": (
        as_bytes(workbench(turn(1), forked_from={"conversation": "3", "turn": 4})),
        "conversation: \"forked_from.conversation\" must be a whole number from 1 to 9,223,372,036,854,775,807, "
        "not '3'.",
    ),
    "fork source with an unknown field": (
        as_bytes(workbench(turn(1), forked_from={"conversation": 3, "turn": 4, "title": "x"})),
        'conversation: "forked_from.title" is not a field this workbench knows; remove it.',
    ),
    "ChatGPT: dangling parent": (
        as_bytes([chatgpt_conversation("Lost", a=("root", "user", "hi"), b=("gone-123", "assistant", "x"))]),
        'conversations[0] ("Lost") node b: its parent \'gone-123\' is not in the file.',
    ),
    "ChatGPT: duplicate node": (
        b'[{"title": "Twice", "mapping": {"n1": {"id": "n1", "message": null, "parent": null}, '
        b'"n1": {"id": "n1", "message": null, "parent": null}}}]',
        'conversations[0] ("Twice"): node n1 appears twice in its "mapping"; node ids must be unique.',
    ),
    "repeated key in a turn": (
        b'{"format": "workbench.conversation", "version": 1, "conversation": {}, '
        b'"turns": [{"id": 1, "role": "user", "content": "a", "content": "b"}]}',
        'turns[0] (id 1) has the key "content" twice.',
    ),
    "repeated key elsewhere": (
        b'{"format": "workbench.conversation", "version": 1, "conversation": {"title": "a", "title": "b"}, '
        b'"turns": []}',
        'The file names the key "title" twice in one JSON object; keys must be unique.',
    ),
    "ChatGPT: parts not a list": (
        as_bytes([{"title": "P", "mapping": {"a": {"id": "a", "parent": None, "message": {
            "author": {"role": "user"}, "content": {"content_type": "text", "parts": "hi"}}}}}]),
        'conversations[0] ("P") node a: "message.content.parts" must be a list, not a string.',
    ),
    "ChatGPT: current node missing": (
        as_bytes([{**GOOD_CHAT, "current_node": "zzz"}]),
        'conversations[0] ("Good one"): "current_node" \'zzz\' is not a node of its mapping.',
    ),
}


@pytest.fixture
def existing(alice):
    conversation = services.conversation_create(owner=alice, title="Already here")
    add(conversation, None, "user", "keep me", at=0)
    return conversation


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_a_bad_file_is_refused_whole_and_says_what_and_where(name, alice, existing):
    data, expected = BAD_FILES[name]
    counts = Conversation.objects.count(), Turn.objects.count()
    response = upload(signed_in(alice), data, name="upload.json")
    assert response.status_code == 400
    text = html.unescape(response.content.decode())
    assert "Nothing was imported.</strong> upload.json: " in text
    assert expected in text
    assert (Conversation.objects.count(), Turn.objects.count()) == counts


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(alice, existing, settings):
    settings.MAX_IMPORT_BYTES = 2048
    counts = Conversation.objects.count(), Turn.objects.count()
    response = upload(signed_in(alice), as_bytes(workbench(turn(1, content="x" * 3000))))
    assert response.status_code == 400
    assert "The file is 3.1 KB (3,194 bytes); imports are limited to 2.0 KB (2,048 bytes)" in html.unescape(
        response.content.decode()
    )
    assert (Conversation.objects.count(), Turn.objects.count()) == counts


def test_too_many_turns_are_refused(alice, existing):
    document = workbench(*({"id": index, "role": "user", "content": ""} for index in range(250_001)))
    counts = Conversation.objects.count(), Turn.objects.count()
    response = upload(signed_in(alice), json.dumps(document, separators=(",", ":")).encode())
    assert response.status_code == 400
    assert "The file holds 250,001 turns; one import takes at most 250,000." in response.content.decode()
    assert (Conversation.objects.count(), Turn.objects.count()) == counts


def test_no_file_is_refused(alice):
    response = signed_in(alice).post(reverse("conversations_import"))
    assert response.status_code == 400 and "Choose a file to import." in response.content.decode()
