"""The conversation socket, on the real Channels stack, against the fake upstream."""
from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from conversations import services
from conversations.models import Turn
from tests.fake_upstream import reply_text
from tests.wsclient import (
    WAIT,
    assemble,
    connect,
    created_reply,
    finished,
    frames_until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_leftover_generations")]


@pytest.fixture
def conversation(alice):
    return services.conversation_create(owner=alice)


def send_frame(content="Hello socket", parent=None, model="openai:fake-model", **extra):
    return {"action": "send", "parent": parent, "content": content, "model": model, **extra}


@database_sync_to_async
def turn(turn_id: int) -> Turn:
    return Turn.objects.get(pk=turn_id)


@database_sync_to_async
def turn_count() -> int:
    return Turn.objects.count()


async def wait_for_status(turn_id: int, *, not_status="streaming", timeout=WAIT) -> Turn:
    async with asyncio.timeout(timeout):
        while True:
            current = await turn(turn_id)
            if current.status != not_status:
                return current
            await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    "model", ["openai:fake-model", "openai-responses:fake-model", "anthropic:fake-model", "ollama:fake-model"]
)
async def test_send_streams_the_reply_and_saves_it(alice, conversation, providers, model):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model=model, request_id="r1", settings={"temperature": 0.2}))
    frames = await frames_until(ws, finished())
    created = [f for f in frames if f["type"] == "turn.created"]
    assert [c["turn"]["role"] for c in created] == ["user", "assistant"]
    assert all(c["request_id"] == "r1" for c in created)
    assert created[0]["title"] == "Hello socket"
    reply_id = created[1]["turn"]["id"]
    assert created[1]["turn"]["parent"] == created[0]["turn"]["id"]
    assert created[1]["turn"]["status"] == "streaming"
    expected = reply_text("Hello socket", 12)
    assert assemble(frames, reply_id) == expected
    done = frames[-1]["turn"]
    assert (done["status"], done["length"], done["output_tokens"]) == ("complete", len(expected), 12)
    saved = await turn(reply_id)
    assert (saved.status, saved.content, saved.output_tokens) == ("complete", expected, 12)
    assert saved.input_tokens and saved.response_id and saved.first_token_at and saved.finished_at
    assert saved.settings == {"temperature": 0.2}
    await ws.disconnect()


async def test_a_conversation_continues_on_its_branch(alice, conversation, providers, upstream):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame("first"))
    frames = await frames_until(ws, finished())
    first_reply = created_reply(frames)["id"]
    await ws.send_json_to(send_frame("second", parent=first_reply))
    frames = await frames_until(ws, finished())
    body = upstream.requests[-1]["json"]
    assert [m["content"] for m in body["messages"]] == ["first", reply_text("first", 12), "second"]
    assert assemble(frames, created_reply(frames)["id"]) == reply_text("second", 12)
    await ws.disconnect()


async def test_deltas_are_coalesced_and_carry_offsets(alice, conversation, providers, upstream, settings):
    upstream.interval = 0.002
    settings.STREAM_COALESCE_SECONDS = 0.03
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="openai:fake-long"))
    frames = await frames_until(ws, finished())
    deltas = [f for f in frames if f["type"] == "delta"]
    # 400 tokens over at least 0.8 s: about one frame per 30 ms, not one per token.
    assert 1 < len(deltas) < 80
    offsets = [d["offset"] for d in deltas]
    assert offsets[0] == 0
    assert all(b == a + len(d["text"]) for a, b, d in zip(offsets, offsets[1:], deltas, strict=False))
    assert assemble(frames, created_reply(frames)["id"]).startswith("Echo: Hello socket")
    await ws.disconnect()


async def test_a_process_over_its_frame_budget_sends_fewer_larger_frames(
    alice, conversation, providers, upstream, settings
):
    upstream.interval = 0.002
    settings.STREAM_COALESCE_SECONDS = 0.03
    # A budget of 4 frames a second for the whole process: the one reply's window is 0.25 s.
    settings.STREAM_FRAMES_PER_SECOND = 4
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="openai:fake-long"))
    frames: list[dict] = []
    arrivals: list[float] = []
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(WAIT):
        while not frames or not finished()(frames[-1]):
            frames.append(await ws.receive_json_from(timeout=WAIT))
            arrivals.append(loop.time())
    deltas = [(at, f) for at, f in zip(arrivals, frames, strict=True) if f["type"] == "delta"]
    # 400 tokens over at least 0.8 s: the first at once, then one frame per 0.25 s at most (the
    # 30 ms window alone would send one about every 30 ms); the last may follow the end at once.
    assert deltas[0][1]["offset"] == 0 and len(deltas) > 2
    gaps = [b - a for (a, _), (b, _) in zip(deltas[1:], deltas[2:-1], strict=False)]
    assert gaps and min(gaps) >= 0.2, gaps
    assert assemble(frames, created_reply(frames)["id"]) == reply_text("Hello socket", 400)
    await ws.disconnect()


async def test_stop_keeps_the_partial_text(alice, conversation, providers, upstream):
    ws = await connect(alice, conversation.id)
    # A reply that streams for 20 s: the stop comes before its end however slow the machine.
    await ws.send_json_to(send_frame(model="openai:fake-slow-long"))
    frames = await frames_until(ws, lambda f: f["type"] == "delta")
    reply_id = created_reply(frames)["id"]
    await ws.send_json_to({"action": "stop", "turn": reply_id})
    frames += await frames_until(ws, finished(reply_id))
    assert frames[-1]["turn"]["status"] == "stopped"
    saved = await turn(reply_id)
    text = assemble(frames, reply_id)
    assert saved.status == "stopped" and saved.content == text
    assert 0 < len(text) < len(reply_text("Hello socket", 400))
    # The upstream stream was closed, not left running.
    async with asyncio.timeout(WAIT):
        while not upstream.requests[-1].get("disconnected"):
            await asyncio.sleep(0.02)
    await ws.disconnect()


async def test_closing_the_socket_does_not_cancel_the_reply(alice, conversation, providers, settings):
    settings.STREAM_CHECKPOINT_SECONDS = 0.1
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="anthropic:fake-slow"))
    frames = await frames_until(ws, lambda f: f["type"] == "delta")
    reply_id = created_reply(frames)["id"]
    await ws.disconnect()
    # Checkpointed while streaming, with nobody watching...
    async with asyncio.timeout(WAIT):
        while not (await turn(reply_id)).content:
            await asyncio.sleep(0.02)
    # ...and saved complete at the end.
    saved = await wait_for_status(reply_id)
    assert saved.status == "complete"
    assert saved.content == reply_text("Hello socket", 12)


async def test_every_socket_on_the_conversation_receives_the_stream(alice, conversation, providers):
    first = await connect(alice, conversation.id)
    second = await connect(alice, conversation.id)
    await first.send_json_to(send_frame(model="openai:fake-slow"))
    frames_first = await frames_until(first, finished())
    frames_second = await frames_until(second, finished())
    reply_id = created_reply(frames_first)["id"]
    assert created_reply(frames_second)["id"] == reply_id
    expected = reply_text("Hello socket", 12)
    assert assemble(frames_first, reply_id) == assemble(frames_second, reply_id) == expected
    await first.disconnect()
    await second.disconnect()


async def test_resume_sends_what_a_late_socket_missed(alice, conversation, providers):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="openai:fake-slow"))
    frames = await frames_until(ws, lambda f: f["type"] == "delta" and f["offset"] > 0)
    reply_id = created_reply(frames)["id"]
    late = await connect(alice, conversation.id)
    await late.send_json_to({"action": "resume", "turn": reply_id, "offset": 0})
    late_frames = await frames_until(late, finished(reply_id))
    assert late_frames[0]["type"] == "delta" and late_frames[0]["offset"] == 0
    assert assemble(late_frames, reply_id) == reply_text("Hello socket", 12)
    # After the reply is finished, resume answers from the database.
    await late.send_json_to({"action": "resume", "turn": reply_id, "offset": 5})
    tail = await frames_until(late, finished(reply_id))
    assert tail[0] == {"type": "delta", "turn": reply_id, "offset": 5, "text": reply_text("Hello socket", 12)[5:]}
    await ws.disconnect()
    await late.disconnect()


async def test_regenerate_streams_a_sibling_reply(alice, conversation, providers):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame("pick a colour"))
    first = created_reply(await frames_until(ws, finished()))
    await ws.send_json_to(
        {"action": "regenerate", "turn": first["id"], "model": "anthropic:fake-model", "settings": {"max_tokens": 4}}
    )
    frames = await frames_until(ws, finished())
    again = created_reply(frames)
    assert again["parent"] == first["parent"] and again["id"] != first["id"]
    assert assemble(frames, again["id"]) == reply_text("pick a colour", 4)
    assert (await turn(first["id"])).content == reply_text("pick a colour", 12)
    await ws.disconnect()


@pytest.mark.parametrize(
    "model,message",
    [
        ("openai:fake-error-500", "The model's server (OpenAI) had a problem"),
        ("anthropic:fake-error-401", "Anthropic refused the API key"),
        ("openai-responses:fake-error-429", "OpenAI Responses is receiving too many requests"),
        ("anthropic:fake-midstream-error", "The model's server (Anthropic) had a problem"),
        ("openai:fake-stall", "OpenAI took too long to respond"),
    ],
)
async def test_provider_failures_end_the_reply_with_an_error_and_the_socket_stays_usable(
    alice, conversation, providers, model, message
):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model=model))
    frames = await frames_until(ws, finished())
    reply_id = created_reply(frames)["id"]
    done = frames[-1]["turn"]
    assert done["status"] == "error" and message in done["error"]
    saved = await turn(reply_id)
    assert saved.status == "error" and message in saved.error
    assert saved.content == assemble(frames, reply_id)
    # The same socket goes on working.
    await ws.send_json_to(send_frame("again", parent=reply_id))
    frames = await frames_until(ws, finished())
    assert frames[-1]["turn"]["status"] == "complete"
    await ws.disconnect()


BAD_FRAMES = [
    ("not json", "bad_json", "not valid JSON"),
    ("[1, 2]", "wrong_type", "must be a JSON object"),
    ('{"action": "dance"}', "unknown_action", "Unknown action 'dance'"),
    ('{"content": "x"}', "unknown_action", "Unknown action None"),
    ('{"action": "send", "parent": null, "model": "openai:fake-model"}', "wrong_type", '"content" must be a string'),
    ('{"action": "send", "parent": null, "content": 5, "model": "openai:fake-model"}',
     "wrong_type", '"content" must be a string'),
    ('{"action": "send", "parent": null, "content": "   ", "model": "openai:fake-model"}', "empty", "empty"),
    ('{"action": "send", "content": "x", "model": "openai:fake-model"}', "missing_field", '"parent" is missing'),
    ('{"action": "send", "parent": "7", "content": "x", "model": "openai:fake-model"}',
     "wrong_type", '"parent" must be a turn id'),
    ('{"action": "send", "parent": null, "content": "x", "model": 3}', "wrong_type", '"model" must be a model id'),
    ('{"action": "send", "parent": null, "content": "x", "model": "nope:model"}',
     "unknown_model", "Unknown model 'nope:model'"),
    ('{"action": "send", "parent": null, "content": "x", "model": "openai:gpt-0"}',
     "unknown_model", "has no model 'gpt-0'"),
    ('{"action": "send", "parent": 999999, "content": "x", "model": "openai:fake-model"}',
     "not_found", "is no longer in this conversation"),
    ('{"action": "send", "parent": null, "content": "x", "model": "openai:fake-model", "settings": {"temperature": 9}}',
     "wrong_type", "temperature must be a number from 0 to 2"),
    ('{"action": "send", "parent": null, "content": "x", "model": "openai:fake-model", '
     '"settings": {"temperature": "hot"}}',
     "wrong_type", "temperature"),
    ('{"action": "send", "parent": null, "content": "x", "model": "openai:fake-model", "settings": {"max_tokens": 0}}',
     "wrong_type", "max_tokens must be a whole number"),
    ('{"action": "send", "parent": null, "content": "x", "model": "openai:fake-model", "settings": {"seed": 1}}',
     "unknown_setting", "Unknown setting 'seed'"),
    ('{"action": "send", "parent": null, "content": "x", "model": "openai:fake-model", "settings": []}',
     "wrong_type", '"settings" must be an object'),
    ('{"action": "send", "parent": null, "content": "x", "model": "openai:fake-model", "request_id": 5}',
     "wrong_type", '"request_id" must be a string'),
    ('{"action": "send", "parent": null, "content": "a\\u0000b", "model": "openai:fake-model"}',
     "invalid", "The message contains a NUL character."),
    ('{"action": "send", "parent": null, "content": "x", "model": "openai:fake-model", '
     '"settings": {"system_prompt": false}}',
     "wrong_type", "settings.system_prompt must be a string."),
    ('{"action": "regenerate", "turn": 1, "model": "openai:fake-model", "settings": {"top_p": 2, "seed": 1}}',
     "unknown_setting", "Unknown setting 'seed'"),
    ('{"action": "stop"}', "missing_field", '"turn" is missing'),
    ('{"action": "stop", "turn": 999999}', "not_found", "is no longer in this conversation"),
    ('{"action": "regenerate", "turn": 999999, "model": "openai:fake-model"}',
     "not_found", "is no longer in this conversation"),
    ('{"action": "resume", "turn": 1, "offset": -1}', "wrong_type", '"offset" must be a whole number'),
    ('{"action": "resume", "turn": 999999, "offset": 0}', "not_found", "is no longer in this conversation"),
]


@pytest.mark.parametrize("raw,code,message", BAD_FRAMES)
async def test_bad_frames_get_a_clear_error_and_write_nothing(alice, conversation, providers, raw, code, message):
    ws = await connect(alice, conversation.id)
    await ws.send_to(text_data=raw)
    frame = await ws.receive_json_from(timeout=WAIT)
    assert frame["type"] == "error" and frame["code"] == code, frame
    assert message in frame["error"]
    assert await turn_count() == 0
    await ws.disconnect()


async def test_oversized_content_and_frames_are_refused(alice, conversation, providers, settings):
    settings.MAX_MESSAGE_CHARS = 1000
    settings.MAX_SYSTEM_PROMPT_CHARS = 1000  # the frame limit: 2 × (1,000 + 6 × 1,000) + 10,000
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame("x" * 1001))
    frame = await ws.receive_json_from(timeout=WAIT)
    assert frame["code"] == "too_large" and "1,001 characters; the limit is 1,000" in frame["error"]
    await ws.send_to(text_data=json.dumps(send_frame("y" * 24_001)))
    frame = await ws.receive_json_from(timeout=WAIT)
    assert frame["code"] == "too_large" and "The frame is" in frame["error"]
    await ws.send_to(bytes_data=b"\x00\x01")
    frame = await ws.receive_json_from(timeout=WAIT)
    assert frame["code"] == "wrong_type"
    assert await turn_count() == 0
    await ws.disconnect()


async def test_a_turn_of_another_conversation_is_not_found(alice, charlie, conversation, providers):
    foreign_conversation = await sync_to_async(services.conversation_create)(owner=charlie)
    foreign = await database_sync_to_async(Turn.objects.create)(
        conversation=foreign_conversation, role="user", content="secret"
    )
    ws = await connect(alice, conversation.id)
    for frame in (
        send_frame(parent=foreign.id),
        {"action": "regenerate", "turn": foreign.id, "model": "openai:fake-model"},
        {"action": "resume", "turn": foreign.id, "offset": 0},
        {"action": "stop", "turn": foreign.id},
    ):
        await ws.send_json_to(frame)
        answer = await ws.receive_json_from(timeout=WAIT)
        assert answer["code"] == "not_found" and "secret" not in json.dumps(answer)
    assert await turn_count() == 1
    await ws.disconnect()


async def test_stop_on_a_finished_reply_says_so(alice, conversation, providers):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame())
    reply_id = created_reply(await frames_until(ws, finished()))["id"]
    await ws.send_json_to({"action": "stop", "turn": reply_id})
    frame = await ws.receive_json_from(timeout=WAIT)
    assert frame["code"] == "not_streaming"
    await ws.disconnect()


async def _closed_with(communicator: WebsocketCommunicator) -> int:
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected
    message = await communicator.receive_output(timeout=WAIT)
    assert message["type"] == "websocket.close"
    return message["code"]


async def test_anonymous_and_outsiders_are_turned_away(alice, charlie, conversation, providers):
    from django.contrib.auth.models import AnonymousUser

    from tests.wsclient import router

    cases = [(AnonymousUser(), conversation.id, 4401), (charlie, conversation.id, 4404), (alice, 10**9, 4404)]
    for user, conversation_id, code in cases:
        communicator = WebsocketCommunicator(router, f"/ws/conversations/{conversation_id}/")
        communicator.scope["user"] = user
        assert await _closed_with(communicator) == code


async def test_the_full_stack_authenticates_by_session_and_checks_the_origin(alice, conversation, providers):
    from workbench.asgi import application

    client = Client()
    await sync_to_async(client.force_login)(alice)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    path = f"/ws/conversations/{conversation.id}/"

    host = (b"host", b"127.0.0.1:8000")  # what a browser sends with the handshake
    good = WebsocketCommunicator(application, path, headers=[host, (b"cookie", cookie), (b"origin", b"http://127.0.0.1:8000")])
    connected, _ = await good.connect(timeout=WAIT)
    assert connected
    await good.send_json_to(send_frame())
    frames = await frames_until(good, finished())
    assert frames[-1]["turn"]["status"] == "complete"
    await good.disconnect()

    for headers in ([host, (b"cookie", cookie), (b"origin", b"http://evil.example")], [host, (b"cookie", cookie)]):
        hostile = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await hostile.connect(timeout=WAIT)
        assert not connected

    anonymous = WebsocketCommunicator(application, path, headers=[host, (b"origin", b"http://127.0.0.1:8000")])
    assert await _closed_with(anonymous) == 4401
