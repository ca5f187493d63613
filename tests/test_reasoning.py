"""A reply's reasoning and refusals, end to end: the real SDKs against the fake upstream, the real
Channels stack, the real database. The providers' reading of each API's events is proved against
real recordings in test_recorded_streams.py; this follows the reasoning from there to the page,
the database, resume, forks and share links."""
from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from conversations import services
from conversations.models import ShareLink, Turn
from conversations.sharing import services as sharing
from conversations.streaming import generation
from tests.conftest import chain, make_link, signed_in
from tests.wsclient import WAIT, assemble, connect, created_reply, finished, frames_until, router

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_leftover_generations")]

APIS = ["openai", "openai-responses", "anthropic", "ollama"]


@pytest.fixture
def conversation(alice):
    return services.conversation_create(owner=alice)


@pytest.fixture
def reasoning_catalogue(settings, providers):
    """The thinking models marked as taking each API's reasoning setting."""
    settings.MODEL_CATALOGUE = {
        "openai:fake-think": {"reasoning": "effort"},
        "openai-responses:fake-think": {"reasoning": "effort"},
        "anthropic:fake-think": {"reasoning": "budget"},
        "anthropic:fake-think-slow": {"reasoning": "budget"},
    }
    from conversations.registry import registry

    registry.cache_clear()
    return registry()


def send_frame(content="Why is the sky blue?", parent=None, model="openai:fake-think", **extra):
    return {"action": "send", "parent": parent, "content": content, "model": model, **extra}


def assemble_reasoning(frames: list[dict], turn_id: int, text: str = "") -> str:
    """Apply `reasoning` frames by offset, as the page does with `delta` frames."""
    as_deltas = [{**f, "type": "delta"} for f in frames if f["type"] == "reasoning"]
    return assemble(as_deltas, turn_id, text)


@database_sync_to_async
def saved(turn_id: int) -> Turn:
    return Turn.objects.get(pk=turn_id)


@pytest.mark.parametrize("api", APIS)
async def test_reasoning_streams_apart_from_the_reply_and_is_kept(alice, conversation, providers, api):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model=f"{api}:fake-think"))
    frames = await frames_until(ws, finished())
    reply_id = created_reply(frames)["id"]
    reasoning = assemble_reasoning(frames, reply_id)
    text = assemble(frames, reply_id)
    kinds = [f["type"] for f in frames if f["type"] in ("reasoning", "delta")]
    assert reasoning and text
    # All of the reasoning came before the reply's first text, and none of it is in the text.
    assert kinds.index("delta") > max(i for i, kind in enumerate(kinds) if kind == "reasoning")
    assert reasoning not in text and "<think>" not in text
    done = frames[-1]["turn"]
    turn = await saved(reply_id)
    assert (turn.status, turn.content, turn.reasoning, turn.refused) == ("complete", text, reasoning, False)
    assert done["reasoning_length"] == len(reasoning)
    assert turn.reasoning_seconds is not None and done["reasoning_seconds"] == turn.reasoning_seconds
    if api == "anthropic":
        # Signed, so that the branch can be continued as the API expects.
        assert {b["type"] for b in turn.reasoning_blocks} == {"thinking"}
        assert "\n\n".join(b["thinking"] for b in turn.reasoning_blocks) == reasoning
        assert all(b["signature"] for b in turn.reasoning_blocks)
    if api in ("openai", "openai-responses"):
        assert turn.reasoning_tokens and done["reasoning_tokens"] == turn.reasoning_tokens
        assert turn.output_tokens >= turn.reasoning_tokens  # billed as output
    await ws.disconnect()


async def test_think_tags_at_the_start_of_content_become_reasoning(alice, conversation, providers):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="ollama:fake-thinktag"))
    frames = await frames_until(ws, finished())
    reply_id = created_reply(frames)["id"]
    turn = await saved(reply_id)
    assert turn.reasoning and turn.content
    assert "think>" not in turn.content and "think>" not in turn.reasoning
    assert assemble(frames, reply_id) == turn.content
    await ws.disconnect()


@pytest.mark.parametrize("api", ["openai", "openai-responses", "anthropic"])
async def test_a_refusal_is_the_reply_marked_refused_never_an_empty_reply(alice, conversation, providers, api):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model=f"{api}:fake-refuse"))
    frames = await frames_until(ws, finished())
    reply_id = created_reply(frames)["id"]
    turn = await saved(reply_id)
    assert turn.refused and turn.content
    assert assemble(frames, reply_id) == turn.content
    assert frames[-1]["turn"]["refused"] is True
    if api != "anthropic":  # Anthropic says so only at the end (stop_reason "refusal")
        assert all(f.get("refused") for f in frames if f["type"] == "delta")
    await ws.disconnect()


async def test_resume_mid_stream_sends_the_missing_reasoning_and_text(alice, conversation, providers):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="anthropic:fake-think-slow"))
    frames = await frames_until(ws, lambda f: f["type"] == "reasoning")
    reply_id = created_reply(frames)["id"]
    late = await connect(alice, conversation.id)
    # A second page that has nothing yet asks for all of it, then follows the stream.
    await late.send_json_to({"action": "resume", "turn": reply_id, "offset": 0, "reasoning_offset": 0})
    late_frames = await frames_until(late, finished(reply_id))
    await frames_until(ws, finished(reply_id))
    turn = await saved(reply_id)
    assert assemble_reasoning(late_frames, reply_id) == turn.reasoning
    assert assemble(late_frames, reply_id) == turn.content
    await ws.disconnect()
    await late.disconnect()


async def test_resume_after_the_end_reads_the_reasoning_from_the_database(alice, conversation, providers):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="openai-responses:fake-think"))
    frames = await frames_until(ws, finished())
    reply_id = created_reply(frames)["id"]
    turn = await saved(reply_id)
    await ws.send_json_to({"action": "resume", "turn": reply_id, "offset": 0, "reasoning_offset": 3})
    resumed = await frames_until(ws, finished(reply_id))
    assert [f["type"] for f in resumed] == ["reasoning", "delta", "turn.finished"]
    assert resumed[0]["offset"] == 3 and turn.reasoning[:3] + resumed[0]["text"] == turn.reasoning
    assert resumed[-1]["turn"]["reasoning_length"] == len(turn.reasoning)
    # Without "reasoning_offset", a client that shows no reasoning is sent none.
    await ws.send_json_to({"action": "resume", "turn": reply_id, "offset": 0})
    plain = await frames_until(ws, finished(reply_id))
    assert [f["type"] for f in plain] == ["delta", "turn.finished"]
    await ws.disconnect()


async def test_a_bad_reasoning_offset_is_refused(alice, conversation, providers):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to({"action": "resume", "turn": 1, "offset": 0, "reasoning_offset": -1})
    error = await ws.receive_json_from(timeout=WAIT)
    assert error["type"] == "error"
    assert error["error"] == '"reasoning_offset" must be a whole number of characters, 0 or more.'
    await ws.disconnect()


async def test_reasoning_settings_travel_in_the_request_and_are_recorded(
    alice, conversation, reasoning_catalogue, upstream
):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="openai-responses:fake-think", settings={"reasoning_effort": "high"}))
    frames = await frames_until(ws, finished())
    assert upstream.requests[-1]["json"]["reasoning"] == {"effort": "high", "summary": "auto"}
    assert (await saved(created_reply(frames)["id"])).settings == {"reasoning_effort": "high"}

    await ws.send_json_to(send_frame(model="openai:fake-think", settings={"reasoning_effort": "low"}))
    await frames_until(ws, finished())
    assert upstream.requests[-1]["json"]["reasoning_effort"] == "low"

    await ws.send_json_to(send_frame(model="anthropic:fake-think", settings={"thinking_budget": 2048}))
    frames = await frames_until(ws, finished())
    body = upstream.requests[-1]["json"]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048
    assert (await saved(created_reply(frames)["id"])).settings == {"thinking_budget": 2048}
    await ws.disconnect()


@pytest.mark.parametrize(
    "model, chosen, error",
    [
        ("openai:fake-model", {"reasoning_effort": "low"}, "openai:fake-model takes no reasoning effort"),
        ("anthropic:fake-think", {"reasoning_effort": "low"}, "anthropic:fake-think takes no reasoning effort"),
        ("openai:fake-think", {"thinking_budget": 2048}, "openai:fake-think takes no thinking budget"),
        ("anthropic:fake-think", {"thinking_budget": 4096, "max_tokens": 4096},
         "The thinking budget (4096) must be less than max_tokens (4096)"),
        ("anthropic:fake-think", {"thinking_budget": 2048, "temperature": 0.5},
         "Extended thinking works only at temperature 1"),
        ("openai:fake-think", {"reasoning_effort": "extreme"},
         'settings.reasoning_effort must be "low", "medium" or "high".'),
        ("anthropic:fake-think", {"thinking_budget": 100},
         "settings.thinking_budget must be a whole number of tokens from 1024 to 128000."),
        ("anthropic:fake-think", {"thinking_budget": "2048"},
         "settings.thinking_budget must be a whole number of tokens from 1024 to 128000."),
    ],
)
async def test_reasoning_settings_a_model_does_not_take_are_refused_and_nothing_is_written(
    alice, conversation, reasoning_catalogue, model, chosen, error
):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model=model, settings=chosen))
    frame = await ws.receive_json_from(timeout=WAIT)
    assert frame["type"] == "error" and frame["error"].startswith(error), frame
    assert await database_sync_to_async(Turn.objects.count)() == 0
    await ws.disconnect()


async def test_signed_thinking_goes_back_to_the_model_that_made_it_only(
    alice, conversation, reasoning_catalogue, upstream
):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="anthropic:fake-think", settings={"thinking_budget": 2048}))
    frames = await frames_until(ws, finished())
    first = await saved(created_reply(frames)["id"])

    await ws.send_json_to(send_frame("And at sunset?", parent=first.id, model="anthropic:fake-think",
                                     settings={"thinking_budget": 2048}))
    frames = await frames_until(ws, finished())
    sent = upstream.requests[-1]["json"]["messages"]
    text_block = {"type": "text", "text": first.content}
    assert sent[1] == {"role": "assistant", "content": [*first.reasoning_blocks, text_block]}

    # Another API gets the reply's text alone: neither the blocks nor the reasoning as text.
    await ws.send_json_to(send_frame("And at night?", parent=first.id, model="openai:fake-model"))
    await frames_until(ws, finished())
    sent = upstream.requests[-1]["json"]["messages"]
    assert {"role": "assistant", "content": first.content} in sent
    assert first.reasoning not in str(sent)
    await ws.disconnect()


async def test_a_stopped_thinking_reply_keeps_its_reasoning_and_bills_it(alice, conversation, providers):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="anthropic:fake-think-slow"))
    frames = await frames_until(ws, lambda f: f["type"] == "reasoning")
    reply_id = created_reply(frames)["id"]
    await ws.send_json_to({"action": "stop", "turn": reply_id})
    frames += await frames_until(ws, finished(reply_id))
    turn = await saved(reply_id)
    assert turn.status == "stopped" and turn.reasoning
    # Every socket got all of the reasoning that was kept.
    assert assemble_reasoning(frames, reply_id) == turn.reasoning
    # Nothing was reported: the output is counted here, the reasoning included.
    assert turn.usage_estimated and turn.output_tokens >= 1
    assert generation.running(reply_id) is None
    await ws.disconnect()


def test_a_fork_keeps_the_reasoning(alice, conversation):
    turns = chain(conversation, ["Q", "A"], provider="anthropic", model="m", reasoning="Because.",
                  reasoning_blocks=[{"type": "thinking", "thinking": "Because.", "signature": "sig"}],
                  reasoning_seconds=3.5, reasoning_tokens=None)
    fork = services.conversation_fork(conversation=conversation, turn_id=turns[-1].id, owner=alice)
    copy = fork.turns.get(role="assistant")
    assert (copy.reasoning, copy.reasoning_blocks, copy.reasoning_seconds) == (
        "Because.", [{"type": "thinking", "thinking": "Because.", "signature": "sig"}], 3.5)


# --- share links: reasoning only when the maker included it --------------------------------------


@pytest.fixture
def thought(conversation):
    return chain(conversation, ["Q", "A"], provider="anthropic", model="m", reasoning="I weighed it.",
                 reasoning_blocks=[{"type": "thinking", "thinking": "I weighed it.", "signature": "s3cret"},
                                   {"type": "redacted_thinking", "data": "opaque"}],
                 reasoning_seconds=12.0, refused=False)


@pytest.mark.parametrize("mode", ["snapshot", "live"])
@pytest.mark.parametrize("include", [False, True])
def test_a_share_page_shows_reasoning_only_when_included(alice, conversation, thought, mode, include):
    link = make_link(conversation, alice, mode=mode, include_reasoning=include)
    page = signed_in(alice).get(reverse("shared", args=[link.token]))
    assert page.status_code == 200
    body = page.content.decode()
    assert ("I weighed it." in body) is include
    assert "s3cret" not in body and "opaque" not in body  # signed blocks never leave through a link


def test_a_share_link_takes_include_reasoning_from_the_form(alice, conversation, thought):
    client = signed_in(alice)
    url = reverse("share_create", args=[conversation.id])
    made = client.post(url, {"mode": "live", "audience": "anyone", "include_reasoning": "1"})
    assert made.status_code == 201 and made.json()["include_reasoning"] is True
    assert ShareLink.objects.get().include_reasoning
    refused = client.post(url, {"mode": "live", "audience": "anyone", "include_reasoning": "yes please"})
    assert refused.status_code == 400
    assert refused.json()["error"] == '"include_reasoning" is on ("1", "true", "on") or off ("", "0", "false", "off").'
    assert ShareLink.objects.count() == 1


async def _share_socket(link) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(router, f"/ws/share/{link.token}/")
    connected, _ = await ws.connect(timeout=WAIT)
    assert connected
    return ws


@pytest.mark.parametrize("include", [False, True])
async def test_a_live_share_socket_relays_reasoning_only_when_included(alice, conversation, providers, include):
    link = await database_sync_to_async(make_link)(conversation, alice, include_reasoning=include)
    reader = await _share_socket(link)
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="anthropic:fake-think"))
    frames = await frames_until(reader, finished())
    reply_id = frames[-1]["turn"]["id"]
    assert any(f["type"] == "reasoning" for f in frames) is include
    assert ("reasoning_length" in frames[-1]["turn"]) is include
    await reader.send_json_to({"action": "resume", "turn": reply_id, "offset": 0, "reasoning_offset": 0})
    resumed = await frames_until(reader, finished(reply_id))
    assert [f["type"] for f in resumed] == (["reasoning", "delta", "turn.finished"] if include
                                            else ["delta", "turn.finished"])
    await ws.disconnect()
    await reader.disconnect()


def test_the_reply_payload_carries_reasoning_and_its_marks(alice, conversation, thought):
    from conversations.streaming.frames import turn_payload

    payload = turn_payload(thought[-1])
    assert payload["reasoning"] == "I weighed it."
    assert payload["reasoning_length"] == len("I weighed it.")
    assert (payload["reasoning_seconds"], payload["reasoning_redacted"], payload["refused"]) == (12.0, True, False)
    assert "reasoning_blocks" not in payload  # signatures are for the API, not the page


def test_a_share_snapshot_made_with_reasoning_keeps_it_for_forks(alice, bob, conversation, thought):
    link = make_link(conversation, alice, mode="snapshot", include_reasoning=True)
    tree = sharing.shared_tree(link)
    fork = sharing.shared_fork(link=link, tree=tree, turn_id=thought[-1].id, owner=bob)
    copy = fork.turns.get(role="assistant")
    assert (copy.reasoning, copy.reasoning_seconds, copy.reasoning_blocks) == ("I weighed it.", 12.0, [])


async def test_reasoning_checkpoints_while_it_streams(alice, conversation, providers, settings):
    settings.STREAM_CHECKPOINT_SECONDS = 0.0
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="anthropic:fake-think-slow"))
    frames = await frames_until(ws, lambda f: f["type"] == "reasoning")
    reply_id = created_reply(frames)["id"]
    async with asyncio.timeout(WAIT):
        while not (await saved(reply_id)).reasoning:
            await asyncio.sleep(0.02)
    assert (await saved(reply_id)).status == "streaming"
    await ws.send_json_to({"action": "stop", "turn": reply_id})
    await frames_until(ws, finished(reply_id))
    await ws.disconnect()


@pytest.mark.parametrize(
    "provider, model, chosen, sent_back",
    [
        ("anthropic", "fake-think", {"thinking_budget": 2048}, 1),  # signed, to the model that made it
        ("anthropic", "fake-think", {}, 0),  # thinking off: the reply's text alone
        ("openai", "fake-model", {}, 0),  # another API: never
    ],
)
def test_what_the_model_saw_says_whether_earlier_reasoning_went_back(
    alice, conversation, thought, reasoning_catalogue, provider, model, chosen, sent_back
):
    later = chain(conversation, ["Q", "A"], thought[-1], provider=provider, model=model, settings=chosen)
    data = signed_in(alice).get(reverse("reply_request", args=[conversation.id, later[-1].id])).json()
    assert data["reasoning"] == {"earlier_replies": 1, "sent_back": sent_back}
    blocks = [b for m in data["body"]["messages"] if isinstance(m["content"], list) for b in m["content"]]
    assert ("s3cret" in str(blocks)) is bool(sent_back)
    assert "I weighed it." not in str(data["body"]) or sent_back  # never as text


async def test_a_reasoning_model_is_asked_for_its_summaries_without_an_effort(
    alice, conversation, reasoning_catalogue, upstream
):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="openai-responses:fake-think"))
    frames = await frames_until(ws, finished())
    assert upstream.requests[-1]["json"]["reasoning"] == {"summary": "auto"}
    assert (await saved(created_reply(frames)["id"])).reasoning
    # A model the catalogue does not mark as reasoning is asked for none.
    await ws.send_json_to(send_frame(model="openai-responses:fake-model"))
    await frames_until(ws, finished())
    assert "reasoning" not in upstream.requests[-1]["json"]
    await ws.disconnect()
