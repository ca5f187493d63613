"""ChatGPT's export as it really is: reasoning, stopped replies, a broken conversation among good
ones, and the summary that names what was imported, skipped and left out.

tests/data/chatgpt_reasoning.json follows the shapes of real exports, read in public repositories
that hold or parse conversations.json files:
- a gpt-5-thinking conversation exported by a user: "thoughts" messages (content.thoughts, each
  {summary, content, chunks, finished}), "reasoning_recap" messages ("Thought for 33s", with
  metadata.finished_duration_sec and reasoning_status), tool nodes (container.exec, python
  execution_output, canmore) and their metadata;
- a gpt-5 conversation with a pasted screenshot (a multimodal_text part of content_type
  image_asset_pointer, sediment:// pointer, its attachment in metadata) between hidden contextual
  system messages (is_visually_hidden_from_conversation) and an empty assistant placeholder;
- pionxzh/chatgpt-exporter src/api.ts, whose message types give finish_details.type "stop" or
  "interrupted" (the stop button), tether_quote and tether_browsing_display tool content, and
  DALL-E images as image_asset_pointer parts of a tool's multimodal_text;
- mitkury/chatgpt-export-parser docs/chatgpt-data-export-format.md (the mapping tree, hidden
  custom instructions, "finished_partial_completion").
The third conversation is cut short the way a truncated export is: a node's parent is missing.
"""
from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError
from django.urls import reverse

from conversations.exchange import chatgpt, importer
from conversations.models import Conversation, Turn
from tests.conftest import signed_in
from tests.test_exchange import as_bytes, chatgpt_conversation, upload

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).parent / "data" / "chatgpt_reasoning.json"
T = datetime(2025, 11, 6, 17, 55, tzinfo=UTC)
BERTRAND = "Yes, for every n > 1: this is **Bertrand's postulate** (Chebyshev, 1852)."
STOPPED = "For n ≥ 25 there is always a prime between n and 6n/5 (Nagura, 1952); for 1.1n the bound"
REGENERATED = "Yes, for n large enough: known results give a prime between n and 1.1n once n ≥ 25."
TRUNCATED = 'conversations[2] ("Trip plan") node 43dcb695-8dac-4fc1-975f-40aeebf40302: ' \
            "its parent 'a43c8343-3740-4a54-8d7e-bf698c95b4c3' is not in the file."


def counts() -> tuple[int, int]:
    return Conversation.objects.count(), Turn.objects.count()


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def import_fixture(client):
    response = upload(client, FIXTURE.read_bytes(), name="conversations.json")
    assert response.status_code == 302, page_text(response)
    return response


def turns_of(title: str) -> dict[str, Turn]:
    conversation = Conversation.objects.get(title=title)
    return {turn.content: turn for turn in Turn.objects.filter(conversation=conversation).order_by("id")}


# --- reasoning and stopped replies ---------------------------------------------------------------


def test_thoughts_and_recaps_become_the_reasoning_of_the_reply_after_them(alice):
    import_fixture(signed_in(alice))
    turns = turns_of("Primes between n and 2n")
    # No turn of its own for a thought or a recap: two questions, three replies, the edited question.
    assert [turn.role for turn in turns.values()] == ["user", "assistant", "user", "assistant", "assistant", "user"]
    bertrand = turns[BERTRAND]
    assert bertrand.reasoning == (
        "Recalling Bertrand's postulate\n\n"
        "This is Bertrand's postulate, proved by Chebyshev in 1852: for every n > 1 there is a prime p with "
        "n < p < 2n.\n\n"
        "Checking the edge case\n\n"
        "For n = 1 the open interval (1, 2) holds no integer, so the statement needs n > 1."
    )
    assert bertrand.reasoning_seconds == 14.0  # the recap's metadata.finished_duration_sec
    assert bertrand.parent_id == turns["Is there always a prime between n and 2n?"].id
    assert [bertrand.provider, bertrand.model, bertrand.status] == ["chatgpt", "gpt-5-thinking", "complete"]
    # A thought with a summary and no text; the recap without finished_duration_sec: read from "1m 5s".
    assert turns[STOPPED].reasoning == "Nagura's theorem: n ≥ 25"
    assert turns[STOPPED].reasoning_seconds == 65.0
    # The regenerated reply did not reason: the thoughts belong to the other branch only.
    assert turns[REGENERATED].reasoning == "" and turns[REGENERATED].reasoning_seconds is None
    assert turns[REGENERATED].parent_id == turns[STOPPED].parent_id == turns["And between n and 1.1n?"].id
    assert turns["And between n and 1.1n?"].reasoning == ""


def test_a_reply_the_person_stopped_is_imported_stopped(alice):
    import_fixture(signed_in(alice))
    turns = turns_of("Primes between n and 2n")
    # Its message says finished_successfully; metadata.finish_details.type "interrupted" is the stop button.
    assert turns[STOPPED].status == "stopped"
    assert turns[REGENERATED].status == "complete" and turns[BERTRAND].status == "complete"
    conversation = Conversation.objects.get(title="Primes between n and 2n")
    assert conversation.current_turn_id == turns[STOPPED].id
    assert conversation.created_at == T and turns[BERTRAND].created_at == T + timedelta(seconds=26.5)


@pytest.mark.parametrize(("recap", "seconds"), [
    ("Thought for 38s", 38.0), ("Thought for 1m 5s", 65.0), ("Thought for 12 seconds", 12.0),
    ("Thought for 2 minutes", 120.0), ("Réfléchi pendant 10s", 10.0), ("Worked for 1h 2m", 3720.0),
    ("Thought for 2.5s", 2.5), ("Thought for a few seconds", None), ("", None),
])
def test_the_seconds_a_recap_names(recap, seconds):
    assert chatgpt.recap_seconds(recap) == seconds


def test_finished_duration_sec_wins_over_the_recap_text(alice):
    conversation = chatgpt_conversation("Timed", a=("root", "user", "why?"), c=("b", "assistant", "because"))
    conversation["mapping"]["b"] = {"id": "b", "parent": "a", "children": ["c"], "message": {
        "author": {"role": "assistant"}, "content": {"content_type": "reasoning_recap", "content": "Thought for 9s"},
        "metadata": {"finished_duration_sec": 7.25}}}
    assert upload(signed_in(alice), as_bytes([conversation])).status_code == 302
    assert Turn.objects.get(content="because").reasoning_seconds == 7.25


# --- what is left out, and the summary -----------------------------------------------------------


def test_the_summary_names_what_was_imported_skipped_and_left_out(alice):
    client = signed_in(alice)
    before = counts()
    response = import_fixture(client)
    assert response.url.startswith(f"{reverse('conversations_import')}?report=")
    primes = Conversation.objects.get(title="Primes between n and 2n")
    venv = Conversation.objects.get(title="PowerShell venv error")
    # The cut-short conversation is skipped whole: none of its turns were written.
    assert not Conversation.objects.filter(title="Trip plan").exists()
    assert counts() == (before[0] + 2, before[1] + 6 + 7)

    page = client.get(response.url)
    assert page.status_code == 200
    text = page_text(page)
    assert "Imported 2 conversations (13 turns)." in text
    assert "1 conversation was skipped: its problem is named below." in text
    rows = re.findall(r'<li class="import-row( skipped)?">(.*?)</li>', text, re.S)
    assert len(rows) == 3
    (_, first), (_, second), (skipped, third) = rows
    assert f'href="{reverse("conversation", args=[primes.id])}">Primes between n and 2n</a>' in first
    assert "6 turns" in first
    assert "Left out: 1 hidden message, 1 piece of reasoning with no reply after it." in first
    assert f'href="{reverse("conversation", args=[venv.id])}">PowerShell venv error</a>' in second
    assert "7 turns" in second
    assert "Left out: 3 tool or browsing results, 2 images, 1 other item (audio_asset_pointer)." in second
    assert skipped and "Trip plan" in third and "skipped" in third and TRUNCATED in third and "href" not in third


def test_what_a_conversation_leaves_out_is_counted_by_kind(alice):
    import_fixture(signed_in(alice))
    turns = turns_of("PowerShell venv error")
    # The screenshot is marked in its turn; the recording's transcript is the prompt; the hidden
    # system messages, the empty placeholder and the tool output (browsing, code, the drawn image)
    # are not turns.
    assert list(turns) == [
        "[image]\n\nWhat does this error in my terminal mean?",
        "PowerShell cannot run `activate` as a module: run `.\\venv\\Scripts\\Activate.ps1` instead.",
        "How do I check which Python is active?\n\n[audio]",
        '{"search_query": [{"q": "check active python interpreter powershell"}]}',
        'Run `python -c "import sys; print(sys.executable)"`: it prints the interpreter in use.',
        "Draw me a python, then.",
        "Here is your python. 🐍",
    ]
    assert turns["Here is your python. 🐍"].parent_id == turns["Draw me a python, then."].id


def test_a_system_message_chatgpt_shows_nowhere_is_left_out(alice):
    conversation = chatgpt_conversation("Sys", s=("root", "system", "You are ChatGPT."), a=("s", "user", "hi"),
                                        b=("a", "assistant", "hello"))
    client = signed_in(alice)
    response = upload(client, as_bytes([conversation]))
    assert list(Turn.objects.order_by("id").values_list("role", "content")) == [
        ("user", "hi"), ("assistant", "hello")
    ]
    assert "Left out: 1 hidden message." in page_text(client.get(response.url))


# --- one broken conversation does not keep the others out ---------------------------------------

GOOD = chatgpt_conversation("Good one", a=("root", "user", "hi"), b=("a", "assistant", "hello"))
ALSO_GOOD = chatgpt_conversation("Also good", a=("root", "user", "bonjour"), b=("a", "assistant", "salut"))

BROKEN_ENTRIES: dict[str, tuple[Any, str]] = {
    "unknown role": (
        chatgpt_conversation("Robot talk", a=("root", "user", "hi"), b=("a", "critic", "no")),
        'conversations[1] ("Robot talk") node b: unknown author role \'critic\'; ChatGPT\'s roles are user, '
        "assistant, system, tool.",
    ),
    "a loop": (
        chatgpt_conversation("Loop", a=("c", "user", "hi"), b=("a", "assistant", "x"), c=("b", "user", "y")),
        'conversations[1] ("Loop") node a: its parent links form a loop (\'a\' → \'c\' → \'b\' → \'a\')',
    ),
    "not an object": (None, "conversations[1] must be an object, not null."),
    "no mapping": ({"title": "Empty shell"}, 'conversations[1] ("Empty shell") has no "mapping".'),
    "thoughts not a list": (
        {**chatgpt_conversation("Thinking", a=("root", "user", "hi"))},
        'conversations[1] ("Thinking") node t: "message.content.thoughts" must be a list, not a string.',
    ),
    "a thought's summary not text": (
        {**chatgpt_conversation("Thinking", a=("root", "user", "hi"))},
        'conversations[1] ("Thinking") node t: "message.content.thoughts[0].summary" must be a string or null, '
        "not a number.",
    ),
    "thoughts null": (
        {**chatgpt_conversation("Thinking", a=("root", "user", "hi"))},
        'conversations[1] ("Thinking") node t: "message.content.thoughts" of a thoughts message must be a list, '
        "not null.",
    ),
    "recap not text": (
        {**chatgpt_conversation("Thinking", a=("root", "user", "hi"))},
        'conversations[1] ("Thinking") node t: "message.content.content" of a reasoning_recap message must be '
        "a string, not a list.",
    ),
    "negative duration": (
        {**chatgpt_conversation("Thinking", a=("root", "user", "hi"))},
        'conversations[1] ("Thinking") node t: "message.metadata.finished_duration_sec" must be a number of '
        "seconds from 0 to 31,536,000 or null, not -3.",
    ),
    "finish details not an object": (
        chatgpt_conversation("Stopped", a=("root", "user", "hi"), b=("a", "assistant", "hel")),
        'conversations[1] ("Stopped") node b: "message.metadata.finish_details" must be an object, not a string.',
    ),
    "finish type not text": (
        chatgpt_conversation("Stopped", a=("root", "user", "hi"), b=("a", "assistant", "hel")),
        'conversations[1] ("Stopped") node b: "message.metadata.finish_details.type" must be a string or null, '
        "not true/false.",
    ),
}
_THINKING = {
    "thoughts not a list": {"content_type": "thoughts", "thoughts": "hmm"},
    "a thought's summary not text": {"content_type": "thoughts", "thoughts": [{"summary": 3, "content": "x"}]},
    "thoughts null": {"content_type": "thoughts", "thoughts": None},
    "recap not text": {"content_type": "reasoning_recap", "content": ["Thought", "for 3s"]},
    "negative duration": {"content_type": "reasoning_recap", "content": "Thought for 3s"},
}
for _name, _content in _THINKING.items():
    BROKEN_ENTRIES[_name][0]["mapping"] = {**BROKEN_ENTRIES[_name][0]["mapping"], "t": {
        "id": "t", "parent": "a", "children": [], "message": {
            "author": {"role": "assistant"}, "content": _content,
            "metadata": {"finished_duration_sec": -3} if _name == "negative duration" else {}}}}
BROKEN_ENTRIES["finish details not an object"][0]["mapping"]["b"]["message"]["metadata"]["finish_details"] = "stop"
BROKEN_ENTRIES["finish type not text"][0]["mapping"]["b"]["message"]["metadata"]["finish_details"] = {"type": True}


@pytest.mark.parametrize("name", list(BROKEN_ENTRIES))
def test_a_broken_conversation_is_skipped_with_its_place_and_the_others_are_imported(name, alice):
    broken, expected = BROKEN_ENTRIES[name]
    client = signed_in(alice)
    before = counts()
    response = upload(client, as_bytes([GOOD, broken, ALSO_GOOD]), name="upload.json")
    assert response.status_code == 302, page_text(response)
    assert sorted(Conversation.objects.values_list("title", flat=True)) == ["Also good", "Good one"]
    assert counts() == (before[0] + 2, before[1] + 4)
    text = page_text(client.get(response.url))
    assert "Imported 2 conversations (4 turns)." in text and "1 conversation was skipped" in text
    assert expected in text


@pytest.mark.parametrize("name", list(BROKEN_ENTRIES))
def test_a_file_of_one_broken_conversation_imports_nothing_and_says_why(name, alice):
    broken, expected = BROKEN_ENTRIES[name]
    if name in ("not an object", "no mapping"):  # then nothing in the file is a ChatGPT conversation
        expected = "The file is JSON but not a format this workbench knows."
    before = counts()
    response = upload(signed_in(alice), as_bytes([broken]), name="upload.json")
    assert response.status_code == 400
    text = page_text(response)
    assert "Nothing was imported.</strong> upload.json: " + expected.replace("conversations[1]", "conversations[0]") \
        in text
    assert counts() == before


def test_a_file_where_no_conversation_could_be_imported_names_each_problem_and_writes_nothing(alice):
    before = counts()
    response = upload(signed_in(alice), as_bytes([BROKEN_ENTRIES["unknown role"][0], None]), name="upload.json")
    assert response.status_code == 400
    text = page_text(response)
    assert ("Nothing was imported.</strong> upload.json: none of its 2 conversations could be imported; the "
            "problem of each is named below.") in text
    assert "Imported" not in text
    assert 'conversations[0] ("Robot talk") node b: unknown author role' in text
    assert "conversations[1] must be an object, not null." in text
    assert counts() == before


LONE_SURROGATE = (
    b'[{"title": "Good one", "mapping": {"a": {"id": "a", "parent": null, "message": {"author": {"role": "user"}, '
    b'"content": {"content_type": "text", "parts": ["hi"]}}}}}, '
    b'{"title": "Cut", "mapping": {"a": {"id": "a", "parent": null, "message": {"author": {"role": "user"}, '
    b'"content": {"content_type": "text", "parts": ["half \\ud83d"]}}}}}]'
)
REPEATED_KEY = (
    b'[{"title": "Twice", "mapping": {"a": {"id": "a", "parent": null, "message": {"author": {"role": "user"}, '
    b'"content": {"content_type": "text", "parts": ["one"], "parts": ["two"]}}}}}, '
    b'{"title": "Good one", "mapping": {"a": {"id": "a", "parent": null, "message": {"author": {"role": "user"}, '
    b'"content": {"content_type": "text", "parts": ["hi"]}}}}}]'
)


@pytest.mark.parametrize(("data", "expected"), [
    (LONE_SURROGATE, "conversations[1].mapping.a.message.content.parts[0]: the text holds a lone UTF-16 surrogate "
                     "(\\ud83d)"),
    (REPEATED_KEY, 'conversations[0].mapping.a.message.content: the key "parts" appears twice in one JSON object; '
                   "keys must be unique."),
])
def test_what_the_reader_finds_wrong_in_one_conversation_skips_that_one_only(data, expected, alice):
    client = signed_in(alice)
    response = upload(client, data, name="upload.json")
    assert response.status_code == 302, page_text(response)
    assert list(Turn.objects.values_list("content", flat=True)) == ["hi"]
    text = page_text(client.get(response.url))
    assert "Imported 1 conversation (1 turn)." in text and expected in text


def test_a_repeated_key_in_a_file_of_one_conversation_is_named(alice):
    data = (b'{"title": "Twice", "mapping": {"a": {"id": "a", "parent": null, "message": {"author": {"role": "user"}, '
            b'"content": {"content_type": "text", "parts": ["one"], "parts": ["two"]}}}}}')
    before = counts()
    response = upload(signed_in(alice), data, name="upload.json")
    assert response.status_code == 400
    assert ('Nothing was imported.</strong> upload.json: conversations[0].mapping.a.message.content: the key "parts" '
            "appears twice in one JSON object; keys must be unique.") in page_text(response)
    assert counts() == before


def test_each_conversation_is_written_in_its_own_transaction(alice, monkeypatch):
    """A conversation the database refuses is rolled back alone and reported; the others stay."""
    write = importer._write

    def refuse_the_second(*, plan, **kwargs):
        conversation = write(plan=plan, **kwargs)
        if plan.title == "Also good":  # after its rows were written: they must be rolled back
            raise IntegrityError("CHECK constraint failed: turn_role_valid")
        return conversation

    monkeypatch.setattr(importer, "_write", refuse_the_second)
    client = signed_in(alice)
    response = upload(client, as_bytes([GOOD, ALSO_GOOD]), name="upload.json")
    assert list(Conversation.objects.values_list("title", flat=True)) == ["Good one"]
    assert sorted(Turn.objects.values_list("content", flat=True)) == ["hello", "hi"]
    text = page_text(client.get(response.url))
    assert ('conversations[1] ("Also good"): the database refused it (CHECK constraint failed: turn_role_valid), '
            "so none of it was stored.") in text


def test_a_file_that_is_not_an_export_is_still_refused_whole(alice):
    before = counts()
    for data, expected in [
        (b'[{"messages": []}]', "The file is JSON but not a format this workbench knows."),
        (b"[1, 2", "The file is not valid JSON"),
        (b"[]", "The file holds an empty list"),
    ]:
        response = upload(signed_in(alice), data, name="upload.json")
        assert response.status_code == 400 and expected in page_text(response)
    assert counts() == before


# --- the summary belongs to the import that made it ----------------------------------------------


def test_the_summary_is_shown_only_to_the_session_that_imported(alice, charlie):
    client = signed_in(alice)
    response = import_fixture(client)
    report_id = response.url.split("report=", 1)[1]
    another_report = report_id[:-1] + ("y" if report_id.endswith("x") else "x")
    assert "PowerShell venv error" in page_text(client.get(response.url))
    for other, url in [
        (signed_in(charlie), response.url),  # another person
        (signed_in(alice), response.url),  # another session
        (client, f"{reverse('conversations_import')}?report={another_report}"),
        (client, f"{reverse('conversations_import')}?report=%3Cscript%3E"),
    ]:
        page = other.get(url)
        assert page.status_code == 200 and "import-report" not in page.content.decode()


def test_a_conversation_deleted_since_is_listed_without_its_link(alice):
    client = signed_in(alice)
    response = import_fixture(client)
    venv = Conversation.objects.get(title="PowerShell venv error")
    url = reverse("conversation", args=[venv.id])
    venv.delete()
    text = page_text(client.get(response.url))
    assert "PowerShell venv error" in text and url not in text


def test_a_title_cannot_inject_markup_into_the_summary(alice):
    hostile = chatgpt_conversation('<img src=x onerror="alert(1)">', a=("root", "user", "hi"))
    broken = chatgpt_conversation("<script>alert(2)</script>", a=("root", "user", "hi"), b=("a", "critic", "x"))
    client = signed_in(alice)
    response = upload(client, as_bytes([hostile, broken]))
    body = client.get(response.url).content.decode()
    assert "<img src=x" not in body and "<script>alert" not in body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in body and "&lt;script&gt;alert(2)" in body


def test_a_large_file_lists_its_first_conversations(alice, monkeypatch):
    monkeypatch.setattr("conversations.exchange.views.SUMMARY_ROWS", 2)
    client = signed_in(alice)
    response = upload(client, json.dumps([GOOD, ALSO_GOOD, GOOD]).encode())
    text = page_text(client.get(response.url))
    assert "Imported 3 conversations (6 turns)." in text
    assert text.count('<li class="import-row') == 2
    assert "1 more conversation of the file is not listed here" in text
