"""Edges: stop races, restarts, emoji offsets, limits, hostile ids and inputs."""
from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from conversations import services
from conversations.models import Turn
from conversations.providers.sdk import provider_error
from conversations.streaming import generation
from tests.fake_upstream import reply_text
from tests.wsclient import (
    WAIT,
    assemble,
    connect,
    created_reply,
    finished,
    frames_until,
)

ws_db = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(alice):
    return services.conversation_create(owner=alice)


def send_frame(content="Hello", parent=None, model="openai:fake-model", **extra):
    return {"action": "send", "parent": parent, "content": content, "model": model, **extra}


@database_sync_to_async
def turn(turn_id):
    return Turn.objects.get(pk=turn_id)


@ws_db
@pytest.mark.parametrize("read_interval", [0.0, 0.02])
async def test_a_stop_at_any_moment_never_leaves_a_reply_streaming(
    alice, conversation, providers, no_leftover_generations, settings, read_interval
):
    # Stop after 0, 1, 2, … turns of the event loop: before the first event, mid-stream (with
    # spaced reads: also while the reader waits between reads), while the reply is being saved,
    # and once it has had time to finish.
    settings.STREAM_READ_INTERVAL_SECONDS = read_interval
    outcomes = set()
    for ticks in [*range(0, 60, 3), None]:
        sent = await database_sync_to_async(services.turn_send)(
            conversation=conversation, parent_id=None, content="x", author=alice,
            variants=[services.Variant("openai:fake-model")],
        )
        running = generation.generation_start(sent.replies[0])
        assert running.task is not None
        if ticks is None:
            await asyncio.wait_for(asyncio.shield(running.task), timeout=WAIT)
        for _ in range(ticks or 0):
            await asyncio.sleep(0)
        running.stop()
        await running.task
        saved = await turn(running.turn_id)
        assert saved.status in ("stopped", "complete"), ticks
        assert generation.running(running.turn_id) is None
        outcomes.add(saved.status)
    assert outcomes == {"stopped", "complete"}


@ws_db
async def test_a_stop_before_the_first_event_is_saved_as_stopped(
    alice, conversation, providers, no_leftover_generations
):
    sent = await database_sync_to_async(services.turn_send)(
        conversation=conversation, parent_id=None, content="x", author=alice,
        variants=[services.Variant("openai:fake-slow")],
    )
    running = generation.generation_start(sent.replies[0])
    assert running.task is not None
    running.stop()
    await running.task
    assert (await turn(running.turn_id)).status == "stopped"


@pytest.mark.django_db
def test_recover_replies_marks_orphans_interrupted(conversation, capsys):
    prompt = Turn.objects.append(conversation=conversation, role="user", content="q")
    orphan = Turn.objects.append(
        conversation=conversation, parent=prompt, role="assistant", status="streaming", content="half a"
    )
    call_command("recover_replies")
    orphan.refresh_from_db()
    assert orphan.status == "interrupted" and orphan.content == "half a"
    assert "Regenerate it, or reply from here" in orphan.error
    assert "1 interrupted reply recovered" in capsys.readouterr().out


@ws_db
async def test_offsets_count_utf16_units_like_the_browser(alice, conversation, providers, no_leftover_generations):
    content = "Hi 😀 there 🎉 done"
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(content, model="openai:fake-slow"))
    frames = await frames_until(ws, lambda f: f["type"] == "delta" and f["offset"] > 8)
    reply_id = created_reply(frames)["id"]
    late = await connect(alice, conversation.id)
    await late.send_json_to({"action": "resume", "turn": reply_id, "offset": 0})
    frames += await frames_until(ws, finished(reply_id))
    late_frames = await frames_until(late, finished(reply_id))
    expected = reply_text(content, 12)
    assert assemble(frames, reply_id) == expected
    assert assemble(late_frames, reply_id) == expected
    assert frames[-1]["turn"]["length"] == len(expected.encode("utf-16-le")) // 2
    # Resume from the middle, in UTF-16 units, after the end: from the database.
    cut = len("Echo: Hi 😀".encode("utf-16-le")) // 2
    await late.send_json_to({"action": "resume", "turn": reply_id, "offset": cut})
    tail = await late.receive_json_from(timeout=WAIT)
    assert tail["text"] == expected[len("Echo: Hi 😀"):]
    await ws.disconnect()
    await late.disconnect()


@ws_db
async def test_an_unexpected_failure_answers_and_keeps_the_socket(
    alice, conversation, providers, monkeypatch, no_leftover_generations
):
    def explode(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "turn_send", explode)
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(request_id="r9"))
    frame = await ws.receive_json_from(timeout=WAIT)
    assert frame == {"type": "error", "code": "server_error", "request_id": "r9",
                     "error": "The server could not carry that out. Try again."}
    await ws.send_json_to({"action": "resume", "turn": 999, "offset": 0})
    assert (await ws.receive_json_from(timeout=WAIT))["code"] == "not_found"
    await ws.disconnect()


@ws_db
@pytest.mark.parametrize(
    "frame,code,message",
    [
        ({"action": "delete", "turn": 2**70}, "wrong_type", '"turn" must be a turn id'),
        (send_frame(parent=2**63), "wrong_type", '"parent" must be a turn id'),
        (send_frame("nul \x00 byte"), "invalid", "NUL character"),
        (send_frame(settings={"system_prompt": "a\x00"}), "invalid", "NUL character"),
    ],
)
async def test_hostile_values_get_clear_errors(
    alice, conversation, providers, frame, code, message, no_leftover_generations
):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(frame)
    answer = await ws.receive_json_from(timeout=WAIT)
    assert answer["code"] == code and message in answer["error"]
    assert await database_sync_to_async(Turn.objects.count)() == 0
    await ws.disconnect()


@ws_db
async def test_concurrent_replies_per_person_are_limited(
    alice, conversation, providers, settings, no_leftover_generations
):
    settings.MAX_CONCURRENT_REPLIES = 2
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(variants=[{"model": "openai:fake-slow"}] * 3))
    answer = await ws.receive_json_from(timeout=WAIT)
    assert answer["code"] == "limit" and "the limit is 2 at once" in answer["error"]
    assert await database_sync_to_async(Turn.objects.count)() == 0
    await ws.disconnect()


@ws_db
async def test_continuing_from_a_streaming_reply_is_refused(alice, conversation, providers, no_leftover_generations):
    ws = await connect(alice, conversation.id)
    # 20 s of streaming: still streaming when the follow-up comes, however slow the machine.
    await ws.send_json_to(send_frame(model="openai:fake-slow-long"))
    frames = await frames_until(ws, lambda f: f["type"] == "delta")
    reply_id = created_reply(frames)["id"]
    await ws.send_json_to(send_frame("too soon", parent=reply_id))
    answer = await frames_until(ws, lambda f: f["type"] == "error")
    assert answer[-1]["code"] == "streaming" and "still streaming" in answer[-1]["error"]
    await ws.send_json_to({"action": "stop", "turn": reply_id})
    await frames_until(ws, finished(reply_id))
    await ws.disconnect()


@pytest.mark.django_db
def test_deleting_a_conversation_with_a_streaming_reply_is_refused(alice, conversation):
    prompt = Turn.objects.append(conversation=conversation, role="user", content="q")
    Turn.objects.append(conversation=conversation, parent=prompt, role="assistant", status="streaming")
    client = Client()
    client.force_login(alice)
    response = client.post(reverse("conversation_delete", args=[conversation.id]))
    assert response.status_code == 400 and b"still streaming" in response.content
    assert Turn.objects.count() == 2


@pytest.mark.django_db
def test_absurd_ids_are_404_and_odd_tips_400(alice, conversation):
    client = Client()
    client.force_login(alice)
    assert client.get(f"/c/{conversation.id}/t/{2**70}/").status_code == 404
    assert client.get(f"/c/{2**70}/").status_code == 404
    compare = reverse("compare", args=[conversation.id])
    assert client.get(f"{compare}?tips=1,{2**70}").status_code == 400
    assert client.get(f"{compare}?tips=\u00b2,1").status_code == 400
    assert client.get(f"{compare}?siblings=\u00b2").status_code == 400


@pytest.mark.django_db
def test_sign_up_can_be_closed(client, settings):
    settings.SIGNUP_OPEN = False
    assert client.get(reverse("signup")).status_code == 404
    assert client.post(reverse("signup"), {"username": "x", "password1": "a", "password2": "a"}).status_code == 404


def test_provider_errors_never_show_credentials_in_urls():
    import httpx2
    import openai

    error = provider_error(
        openai.APIConnectionError(request=httpx2.Request("GET", "https://example.test:8443/v1")),
        label="OpenAI", key_setting="OPENAI_API_KEY", base_url="https://user:secret@example.test:8443/v1?key=abc",
    )
    assert "secret" not in error.message and "key=abc" not in error.message
    assert "https://example.test:8443/v1" in error.message


@ws_db
async def test_a_frame_flood_is_cut_and_answered_once_a_second(
    alice, conversation, providers, settings, frame_clock, no_leftover_generations
):
    settings.WS_FRAMES_PER_SECOND = 5  # bursts of 10
    ws = await connect(alice, conversation.id)
    for _ in range(40):
        await ws.send_json_to({"action": "resume", "turn": 999_999, "offset": 0})
    # The clock stands still: the burst's 10 are answered, the first frame over it is refused
    # with a word, and the other 29 in silence.
    answers = [await ws.receive_json_from(timeout=WAIT) for _ in range(11)]
    assert [a["code"] for a in answers] == ["not_found"] * 10 + ["rate_limited"]
    assert "at most 5 a second" in answers[-1]["error"]
    assert await ws.receive_nothing(timeout=0.3)
    frame_clock.now += 1.0  # a second later the budget has refilled
    await ws.send_json_to({"action": "resume", "turn": 999_999, "offset": 0})
    assert (await ws.receive_json_from(timeout=WAIT))["code"] == "not_found"
    await ws.disconnect()


def _fuzz_value(rng, depth=0):
    kinds = ["int", "str", "none", "bool", "float", "big"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, -1, 1, 2**31, 2**63, -(2**64), rng.randint(-10, 10**6)])
    if kind == "str":
        return rng.choice(
            ["", "x", "send", "openai:fake-model", "\x00", "😀" * 3, "<script>", "a" * rng.randint(0, 500)]
        )
    if kind == "float":
        return rng.choice([0.5, -1.5, 1e308, float("inf"), float("nan")])
    if kind == "big":
        return "z" * rng.randint(10_000, 300_000)
    if kind == "list":
        return [_fuzz_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == "dict":
        keys = ["action", "turn", "parent", "content", "model", "settings", "variants", "offset", "request_id",
                "temperature", "max_tokens", "system_prompt", "junk"]
        return {rng.choice(keys): _fuzz_value(rng, depth + 1) for _ in range(rng.randint(0, 6))}
    return rng.choice([None, True, False])


@ws_db
async def test_fuzzed_frames_write_nothing_and_others_are_served(
    alice, conversation, providers, settings, no_leftover_generations
):
    import json
    import random

    settings.WS_FRAMES_PER_SECOND = 10_000  # this test is about content, not rate
    rng = random.Random(20261122)
    fuzzer = await connect(alice, conversation.id)
    for _ in range(300):
        frame = {"action": rng.choice(["send", "edit", "regenerate", "stop", "resume", "delete", "main", "x"])}
        for _ in range(rng.randint(0, 5)):
            key = rng.choice(["turn", "parent", "content", "model", "settings", "variants", "offset", "request_id"])
            frame[key] = _fuzz_value(rng)
        if rng.random() < 0.1:
            raw = rng.choice(["{", "[]", "null", "\"\"", "{\"action\": ", json.dumps(frame)[:-1], "\x00"])
            await fuzzer.send_to(text_data=raw)
        else:
            await fuzzer.send_to(text_data=json.dumps(frame, allow_nan=True))
    answers = []
    while not await fuzzer.receive_nothing(timeout=0.5):
        answers.append(await fuzzer.receive_json_from())
    assert answers and all(
        a["type"] in ("error", "turn.created", "delta", "turn.finished", "conversation.updated") for a in answers
    )
    assert not [a for a in answers if a.get("code") == "server_error"]
    # Whatever was written is valid: every turn well formed, every reply saved or finished.
    turns = await database_sync_to_async(lambda: list(Turn.objects.all()))()
    assert all(t.role in ("user", "assistant") and "\x00" not in t.content for t in turns)
    # Another socket is served as usual.
    other = await connect(alice, conversation.id)
    await other.send_json_to(send_frame("still there?"))
    frames = await frames_until(other, lambda f: f["type"] == "turn.finished" and f["turn"]["status"] != "streaming")
    assert frames[-1]["turn"]["status"] == "complete"
    await fuzzer.disconnect()
    await other.disconnect()
