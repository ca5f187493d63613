"""A failed reply reads as a sentence a person can act on, the same for every reader, and never
shows where the model server is: the technical detail goes to the server's log.

Each kind of failure comes from the fake upstream through the real SDKs, end to end over the
conversation socket."""
from __future__ import annotations

import json
import logging
import socket

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import reverse

from conversations import services
from conversations.models import ShareLink, Turn
from conversations.providers.base import FailureKind
from conversations.sharing import services as sharing
from conversations.streaming.failures import INTERNAL_FAILURE, failure_sentence
from tests.conftest import signed_in
from tests.wsclient import WAIT, connect, created_reply, finished, frames_until, router

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_leftover_generations")]

LABELS = {"openai": "OpenAI", "openai-responses": "OpenAI Responses", "anthropic": "Anthropic", "ollama": "ollama"}

KINDS = [
    ("fake-error-401", FailureKind.AUTH, "refused the API key this Workbench uses"),
    ("fake-error-403", FailureKind.AUTH, "refused the API key this Workbench uses"),
    ("fake-error-404", FailureKind.MODEL_NOT_FOUND, "has no model called fake-error-404"),
    ("fake-error-429", FailureKind.RATE_LIMITED, "is receiving too many requests right now. Try again in a second."),
    ("fake-error-500", FailureKind.SERVER_ERROR, "had a problem; it may be busy. Try again in a moment."),
    ("fake-error-529", FailureKind.SERVER_ERROR, "had a problem; it may be busy. Try again in a moment."),
    ("fake-error-context", FailureKind.CONTEXT_LENGTH, "This conversation is too long for fake-error-context."),
    ("fake-error-filter", FailureKind.CONTENT_FILTER, "blocked this request with its content filter."),
    ("fake-midstream-error", FailureKind.SERVER_ERROR, "had a problem; it may be busy."),
    ("fake-stall", FailureKind.TIMEOUT, "took too long to respond, so the reply was stopped."),
    ("fake-malformed", FailureKind.INCOMPLETE, "broke off the reply before it was complete."),
]


def leaks(text: str, port: int | None = None, *, page: bool = False) -> list[str]:
    """Whatever in `text` tells where a server is. A page has addresses of its own (the SVG
    namespace), so only the upstream's are looked for there."""
    words = ["127.0.0.1", "localhost", "Errno", "Connect call failed", "/v1"]
    if not page:
        words += ["http://", "https://"]
    if port is not None:
        words += [f":{port}", f", {port})"]
    return [word for word in words if word in text]


@pytest.fixture
def conversation(alice, team):
    return services.conversation_create(owner=alice, workspace=team)


def send_frame(model: str, content: str = "Will this work?") -> dict:
    return {"action": "send", "parent": None, "content": content, "model": model}


async def failed_reply(user, conversation, model: str) -> tuple[list[dict], Turn]:
    ws = await connect(user, conversation.id)
    await ws.send_json_to(send_frame(model))
    frames = await frames_until(ws, finished())
    await ws.disconnect()
    saved = await database_sync_to_async(Turn.objects.get)(pk=created_reply(frames)["id"])
    return frames, saved


# Every kind through the two SDKs; the Responses API and an OpenAI-compatible server on the kinds
# whose error bodies or events they shape their own way.
CASES = [
    *[(name, *kind) for name in ("openai", "anthropic") for kind in KINDS],
    *[(name, *kind) for name in ("openai-responses", "ollama") for kind in KINDS
      if kind[0] in ("fake-error-401", "fake-error-429", "fake-error-context", "fake-midstream-error")],
]


def pages_of(conversation, link, users) -> list[tuple[int, str]]:
    answers = [signed_in(user).get(reverse("conversation", args=[conversation.id])) for user in users]
    answers.append(Client().get(reverse("shared", args=[link.token])))
    return [(answer.status_code, answer.content.decode()) for answer in answers]


@pytest.mark.parametrize("name,fault,kind,words", CASES)
async def test_each_kind_of_failure_reads_as_its_sentence(alice, conversation, providers, upstream, name, fault, kind,
                                                          words):
    frames, saved = await failed_reply(alice, conversation, f"{name}:{fault}")
    sentence = failure_sentence(kind, label=LABELS[name], model=fault, retry_after=1 if "429" in fault else None)
    assert words in sentence
    assert frames[-1]["turn"]["status"] == "error" and frames[-1]["turn"]["error"] == sentence
    assert saved.status == "error" and saved.error == sentence
    port = int(upstream.url.rsplit(":", 1)[1])
    assert leaks(json.dumps(frames), port) == []


async def test_an_unreachable_server_is_told_to_every_reader_without_its_address(
    alice, bob, vera, conversation, providers, settings, caplog
):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"
    link = await database_sync_to_async(sharing.share_create)(
        conversation=conversation, by=alice, turn_id=None, with_subtree=False, mode=ShareLink.Mode.LIVE,
        audience=ShareLink.Audience.ANYONE, expires_at=None,
    )
    watchers = [await connect(bob, conversation.id), await connect(vera, conversation.id)]
    reader = WebsocketCommunicator(router, f"/ws/share/{link.token}/")
    reader.scope["user"] = AnonymousUser()
    assert (await reader.connect(timeout=WAIT))[0]
    with caplog.at_level(logging.WARNING, logger="conversations.streaming.generation"):
        frames, saved = await failed_reply(alice, conversation, "openai:fake-model")
    sentence = failure_sentence(FailureKind.UNREACHABLE, label="OpenAI", model="fake-model")
    assert saved.error == sentence == frames[-1]["turn"]["error"]
    assert sentence.startswith("Could not reach OpenAI: its server did not answer.")
    assert leaks(json.dumps(frames), port) == []
    for ws in [*watchers, reader]:
        seen = await frames_until(ws, finished(saved.id))
        assert seen[-1]["turn"]["error"] == sentence
        assert leaks(json.dumps(seen), port) == []
        await ws.disconnect()
    # The page of every member, and the shared page, say the same and nothing of the address.
    pages = await sync_to_async(pages_of)(conversation, link, (alice, bob, vera))
    for status, html in pages:
        assert status == 200 and "Could not reach OpenAI" in html and leaks(html, port, page=True) == []
    # Whoever runs the server finds the detail, the address included, in the log.
    logged = [r.getMessage() for r in caplog.records if f"Reply {saved.id} " in r.getMessage()]
    assert len(logged) == 1 and f"127.0.0.1:{port}" in logged[0] and "unreachable" in logged[0]


async def test_a_fault_of_this_server_says_so_and_nothing_of_its_exception(
    alice, conversation, providers, monkeypatch, caplog
):
    provider = providers.providers["openai"]

    async def broken(request):
        raise RuntimeError("database at postgres://10.1.2.3:5432 said no")
        yield  # pragma: no cover - makes this an async generator

    monkeypatch.setattr(provider, "stream", broken)
    with caplog.at_level(logging.ERROR, logger="conversations.streaming.generation"):
        frames, saved = await failed_reply(alice, conversation, "openai:fake-model")
    assert saved.error == frames[-1]["turn"]["error"] == INTERNAL_FAILURE
    assert "10.1.2.3" not in json.dumps(frames)
    assert any("10.1.2.3" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_a_reply_stored_before_keeps_its_text(alice, conversation, providers):
    old = "[Errno 111] Connect call failed ('127.0.0.1', 8001)"
    turn = await database_sync_to_async(Turn.objects.append)(
        conversation=conversation, parent=None, role="user", content="q"
    )
    reply = await database_sync_to_async(Turn.objects.append)(
        conversation=conversation, parent=turn, role="assistant", content="", status="error", error=old,
        provider="openai", model="fake-model",
    )
    assert (await database_sync_to_async(Turn.objects.get)(pk=reply.pk)).error == old


@pytest.mark.parametrize(
    "seconds,words",
    [(None, "Wait a moment and try again."), (0.5, "Try again in a second."), (1, "Try again in a second."),
     (20, "Try again in 20 seconds."), (600, "Try again in 10 minutes.")],
)
def test_a_rate_limit_says_how_long_to_wait_when_the_provider_said(seconds, words):
    sentence = failure_sentence(FailureKind.RATE_LIMITED, label="OpenAI", model="gpt-4o", retry_after=seconds)
    assert sentence == f"OpenAI is receiving too many requests right now. {words}"


@pytest.mark.parametrize("kind", [*FailureKind, "no-such-kind", ""])
def test_every_kind_has_one_sentence_naming_the_provider_and_no_address(kind):
    sentence = failure_sentence(kind, label="Vendor", model="big-model")
    assert ("Vendor" in sentence) or ("big-model" in sentence)
    assert sentence.endswith(".") and "\n" not in sentence and leaks(sentence) == []
    if kind not in {k.value for k in FailureKind}:
        assert sentence == failure_sentence(FailureKind.UNKNOWN, label="Vendor", model="big-model")
        assert sentence.startswith("The model's server (Vendor) returned an error.")
