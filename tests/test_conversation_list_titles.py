"""Automatic titles: once a conversation's first reply is done, its model names it from the first
prompt, through the real SDKs against the fake upstream (which echoes the prompt: see its
docstring), and every page open on it is told. The first prompt stays the title when the setting
is off, when the model fails or takes too long; a title a person typed is never replaced."""
from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from conversations import services, titles
from conversations.models import Conversation, Turn
from conversations.titles import INSTRUCTION, MAX_TOKENS, clean_title
from tests.wsclient import WAIT, connect, created_reply, finished, frames_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_leftover_generations")]

PROMPT = "Plan a weekend in Lisbon with two small kids"
# What the fake upstream answers the title request (its echo of the prompt, then filler, MAX_TOKENS
# words in all), as the title keeps it: the first 60 characters, cut between words.
TITLE = "Echo: Plan a weekend in Lisbon with two small kids lorem…"
Source = Conversation.TitleSource


@pytest.fixture
def auto_titles(settings):
    settings.AUTO_TITLES = True
    return settings


@pytest.fixture
def conversation(alice):
    return services.conversation_create(owner=alice)


@database_sync_to_async
def stored(conversation_id: int) -> Conversation:
    return Conversation.objects.get(pk=conversation_id)


def send(content=PROMPT, parent=None, model="openai:fake-model") -> dict:
    return {"action": "send", "parent": parent, "content": content, "model": model}


def title_requests(upstream) -> list[dict]:
    return [r for r in upstream.requests.snapshot() if INSTRUCTION in str(r["json"])]


def updated(frame: dict) -> bool:
    return frame["type"] == "conversation.updated"


@pytest.mark.parametrize("model", ["openai:fake-model", "openai-responses:fake-model", "anthropic:fake-model"])
async def test_the_model_titles_the_conversation_after_its_first_reply(
    alice, conversation, providers, upstream, auto_titles, model
):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send(model=model))
    frames = await frames_until(ws, updated)
    assert frames[-1] == {"type": "conversation.updated", "title": TITLE}
    # After the reply was done and said so: the title waits for the reply, never the other way.
    kinds = [f["type"] for f in frames]
    assert kinds.index("turn.finished") < kinds.index("conversation.updated")
    # The first prompt named it meanwhile.
    assert next(f for f in frames if f["type"] == "turn.created")["title"] == PROMPT
    saved = await stored(conversation.id)
    assert (saved.title, saved.title_source) == (TITLE, Source.MODEL)
    reply = await database_sync_to_async(Turn.objects.get)(pk=created_reply(frames)["id"])
    assert reply.status == "complete" and saved.updated_at <= reply.finished_at  # not activity
    # One request, to the reply's own model: the prompt, the instruction, a few tokens; not a turn.
    [request] = title_requests(upstream)
    body = request["json"]
    assert body["model"] == "fake-model"
    assert PROMPT in str(body) and [v for k, v in body.items() if k.startswith("max_")] == [MAX_TOKENS]
    assert await database_sync_to_async(Turn.objects.filter(conversation=conversation).count)() == 2
    # Only once: the next reply asks for no title.
    await ws.send_json_to(send("And on Sunday?", parent=reply.id, model=model))
    await frames_until(ws, finished())
    await titles.titles_settled()
    assert len(title_requests(upstream)) == 1
    assert (await stored(conversation.id)).title == TITLE
    await ws.disconnect()


async def test_a_page_opened_after_the_title_came_is_told_it(alice, conversation, providers, auto_titles):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send())
    await frames_until(ws, updated)
    await ws.disconnect()
    # The page made before the title, whose socket joins after it: told on connecting.
    late = await connect(alice, conversation.id)
    assert await late.receive_json_from(timeout=WAIT) == {"type": "conversation.updated", "title": TITLE}
    await late.disconnect()


async def test_the_first_prompt_stays_when_the_provider_fails(
    alice, conversation, providers, upstream, auto_titles
):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send(model="openai:fake-slow"))
    await frames_until(ws, lambda f: f["type"] == "turn.created" and f["turn"]["role"] == "assistant")
    # The reply streams with the key it started with; the title request, made after it, is refused.
    auto_titles.OPENAI_API_KEY = "bad-key"
    frames = await frames_until(ws, finished())
    assert frames[-1]["turn"]["status"] == "complete"
    await titles.titles_settled()
    saved = await stored(conversation.id)
    assert (saved.title, saved.title_source) == (PROMPT, Source.PROMPT)
    # Asked, and refused before the upstream read a word of it.
    reply_request, title_request = upstream.requests.snapshot()
    assert reply_request["status"] == 200
    assert (title_request["status"], title_request["headers"]["authorization"]) == (401, "Bearer bad-key")
    assert await ws.receive_nothing(timeout=0.2)  # no title to announce
    await ws.disconnect()


async def test_the_first_prompt_stays_when_the_model_takes_too_long(
    alice, conversation, providers, upstream, auto_titles
):
    # The slow model sends a word every 50 ms: MAX_TOKENS of them take far longer than this.
    auto_titles.AUTO_TITLE_TIMEOUT = 0.2
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send(model="openai:fake-slow"))
    await frames_until(ws, finished())
    await titles.titles_settled()
    saved = await stored(conversation.id)
    assert (saved.title, saved.title_source) == (PROMPT, Source.PROMPT)
    assert len(title_requests(upstream)) == 1
    await ws.disconnect()


async def test_no_title_request_when_the_setting_is_off(alice, conversation, providers, upstream, settings):
    settings.AUTO_TITLES = False
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send())
    await frames_until(ws, finished())
    await titles.titles_settled()
    saved = await stored(conversation.id)
    assert (saved.title, saved.title_source) == (PROMPT, Source.PROMPT)
    assert upstream.request_count("/v1/chat/completions") == 1
    await ws.disconnect()


async def test_a_title_the_user_typed_is_never_replaced(alice, conversation, providers, upstream, auto_titles):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send(model="openai:fake-slow"))
    await frames_until(ws, lambda f: f["type"] == "turn.created" and f["turn"]["role"] == "assistant")
    # Renamed while the first reply streams.
    current = await stored(conversation.id)
    await database_sync_to_async(services.conversation_rename)(conversation=current, title="Lisbon trip")
    await frames_until(ws, finished())
    await titles.titles_settled()
    saved = await stored(conversation.id)
    assert (saved.title, saved.title_source) == ("Lisbon trip", Source.USER)
    assert title_requests(upstream) == []
    await ws.disconnect()


def test_a_rename_while_the_model_writes_the_title_wins(alice, settings):
    conversation = services.conversation_create(owner=alice)
    Conversation.objects.filter(pk=conversation.pk).update(title=PROMPT, title_source=Source.TITLING)
    services.conversation_rename(conversation=Conversation.objects.get(pk=conversation.pk), title="Mine")
    assert titles._save(conversation.pk, "The model's") is False
    saved = Conversation.objects.get(pk=conversation.pk)
    assert (saved.title, saved.title_source) == ("Mine", Source.USER)


async def test_a_failed_first_reply_leaves_the_title_to_the_next(
    alice, conversation, providers, upstream, auto_titles
):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send(model="openai:fake-error-500"))
    frames = await frames_until(ws, finished())
    assert frames[-1]["turn"]["status"] == "error"
    await titles.titles_settled()
    assert (await stored(conversation.id)).title_source == Source.PENDING
    prompt = next(f["turn"]["id"] for f in frames if f["type"] == "turn.created" and f["turn"]["role"] == "user")
    # Asked again from the same prompt: the title is still the first prompt's.
    await ws.send_json_to({"action": "regenerate", "turn": prompt, "model": "anthropic:fake-model"})
    assert (await frames_until(ws, updated))[-1]["title"] == TITLE
    await ws.disconnect()


async def test_a_fan_out_is_titled_once(alice, conversation, providers, upstream, auto_titles):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to({"action": "send", "parent": None, "content": PROMPT,
                           "variants": [{"model": "openai:fake-model"}, {"model": "anthropic:fake-model"}]})
    seen = {"turn.finished": 0, "conversation.updated": 0}

    def both_done_and_titled(frame: dict) -> bool:
        if frame["type"] in seen:
            seen[frame["type"]] += 1
        return seen == {"turn.finished": 2, "conversation.updated": 1}

    await frames_until(ws, both_done_and_titled)
    await titles.titles_settled()
    assert len(title_requests(upstream)) == 1
    await ws.disconnect()


@pytest.mark.parametrize(
    "answer,title",
    [
        ("Weekend in Lisbon", "Weekend in Lisbon"),
        ('Title: "Weekend in Lisbon."\nThis title captures...', "Weekend in Lisbon"),
        ("\n\n  **Lisbon   weekend**  ", "Lisbon weekend"),
        ("“Lisbon with kids”", "Lisbon with kids"),
        ("Conversation title - Lisbon", "Lisbon"),
        ("", ""),
        ("   \n ", ""),
        ("x" * 80, "x" * 59 + "…"),
    ],
)
def test_a_models_answer_is_cleaned_into_a_title(answer, title):
    assert clean_title(answer) == title


@pytest.mark.local_model
async def test_the_local_model_titles_too(alice, conversation, settings, auto_titles):
    settings.LOCAL_MODEL_ENABLED = True
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send(model="local:smollm2-135m-instruct"))
    await frames_until(ws, finished(), timeout=300)
    async with asyncio.timeout(300):
        await titles.titles_settled()
    saved = await stored(conversation.id)
    assert saved.title_source == Source.MODEL and 0 < len(saved.title) <= titles.TITLE_CHARS
    await ws.disconnect()
