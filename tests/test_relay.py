"""A reply's frames reach every socket of this process once, directly, and the channel layer only
carries them to other processes (conversations/streaming/relay.py); a reply says nothing before the
sockets were told it exists; this process's heartbeat spares a query per reply.

The socket tests run on the real Channels stack against the fake upstream, in both configurations:
with the in-memory layer (nothing goes through the layer), and with Redis, where every frame also
goes through the layer marked with this process's id and the sockets here must skip that copy.
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations import services
from conversations.models import ServerProcess, Turn
from conversations.sharing.consumer import ShareConsumer
from conversations.streaming import generation, liveness, relay
from conversations.streaming.consumer import ConversationConsumer
from conversations.streaming.groups import conversation_group
from conversations.streaming.liveness import PROCESS_ID
from conversations.streaming.new_conversation import NewConversationConsumer
from conversations.streaming.sockets import Dispatches
from tests.conftest import make_link
from tests.fake_upstream import reply_text
from tests.wsclient import WAIT, assemble, connect, router

STREAM_TYPES = ("turn.created", "delta", "reasoning", "turn.finished")
# A frame no reply ever sends, relayed as it is by both kinds of socket: a turn that never existed
# was deleted. Sent through the channel layer after a reply has ended, it comes after every copy of
# the reply's frames the layer carries (a group's messages keep their order).
MARKER_TURN = 0


@pytest.fixture
def conversation(alice):
    return services.conversation_create(owner=alice)


def send_frame(content: str, model: str = "openai:fake-slow") -> dict:
    return {"action": "send", "parent": None, "content": content, "model": model}


async def share_socket(link) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(router, f"/ws/share/{link.token}/")
    ws.scope["user"] = AnonymousUser()
    connected, _ = await ws.connect(timeout=WAIT)
    assert connected
    return ws


async def frames_until_reply_created(ws) -> list[dict]:
    """The sender's reply frames up to its own announcement of the reply (the last one)."""
    frames: list[dict] = []
    async with asyncio.timeout(WAIT):
        while True:
            frame = await ws.receive_json_from(timeout=WAIT)
            if frame["type"] in STREAM_TYPES:
                frames.append(frame)
            if frame["type"] == "turn.created" and frame["turn"]["role"] == "assistant":
                return frames


async def reply_ended(reply_id: int) -> None:
    """Wait until this process no longer runs the reply: every frame of it was handed out."""
    async with asyncio.timeout(WAIT):
        while generation.running(reply_id) is not None:
            await asyncio.sleep(0.01)


async def send_marker(conversation_id: int) -> None:
    await get_channel_layer().group_send(
        conversation_group(conversation_id),
        {"type": "conversation.event",
         "event": {"type": "turn.deleted", "turn": MARKER_TURN, "parent": None, "main_turn": None}},
    )


async def stream_frames_until_marker(ws) -> list[dict]:
    """The reply frames a socket received up to the marker (presence frames left out)."""
    frames: list[dict] = []
    async with asyncio.timeout(WAIT):
        while True:
            frame = await ws.receive_json_from(timeout=WAIT)
            if frame["type"] == "turn.deleted" and frame["turn"] == MARKER_TURN:
                return frames
            if frame["type"] in STREAM_TYPES:
                frames.append(frame)


def assert_whole_reply_once(frames: list[dict], reply_id: int, expected: str) -> None:
    """The reply's frames, each once: announced, then its text by contiguous offsets, then its end."""
    mine = [f for f in frames if (f["turn"]["id"] if isinstance(f["turn"], dict) else f["turn"]) == reply_id]
    kinds = [f["type"] for f in mine]
    assert kinds.count("turn.created") == 1, kinds
    assert kinds.count("turn.finished") == 1, kinds
    assert kinds[0] == "turn.created" and kinds[-1] == "turn.finished", kinds
    deltas = [f for f in mine if f["type"] == "delta"]
    assert deltas, "no delta"
    offsets = [d["offset"] for d in deltas]
    assert len(set(offsets)) == len(offsets), f"a delta came twice: offsets {offsets}"
    position = 0
    for delta in deltas:  # each starts where the one before ended: nothing repeated, nothing missed
        assert delta["offset"] == position, f"offsets {offsets}"
        position += len(delta["text"].encode("utf-16-le")) // 2
    assert assemble(frames, reply_id) == expected
    assert mine[-1]["turn"]["status"] == "complete"


# --- every socket of this process receives each frame once -----------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_leftover_generations")
async def test_two_sockets_each_receive_every_frame_once(alice, conversation, providers):
    sender = await connect(alice, conversation.id)
    watcher = await connect(alice, conversation.id)
    await sender.send_json_to(send_frame("Two tabs"))
    sender_frames = await frames_until_reply_created(sender)
    reply_id = sender_frames[-1]["turn"]["id"]
    await reply_ended(reply_id)
    await send_marker(conversation.id)
    sender_frames += await stream_frames_until_marker(sender)
    watcher_frames = await stream_frames_until_marker(watcher)
    expected = reply_text("Two tabs", 12)
    assert_whole_reply_once(sender_frames, reply_id, expected)
    assert_whole_reply_once(watcher_frames, reply_id, expected)
    # The prompt too, announced once to each (the sender is told it by its own answer, not again).
    for frames in (sender_frames, watcher_frames):
        prompts = [f for f in frames if f["type"] == "turn.created" and f["turn"]["role"] == "user"]
        assert len(prompts) == 1
    await sender.disconnect()
    await watcher.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_leftover_generations")
async def test_a_share_link_socket_receives_every_frame_once(alice, conversation, providers):
    link = await database_sync_to_async(make_link)(conversation, alice)
    reader = await share_socket(link)
    sender = await connect(alice, conversation.id)
    await sender.send_json_to(send_frame("Shared live"))
    reply_id = (await frames_until_reply_created(sender))[-1]["turn"]["id"]
    await reply_ended(reply_id)
    await send_marker(conversation.id)
    reader_frames = await stream_frames_until_marker(reader)
    assert_whole_reply_once(reader_frames, reply_id, reply_text("Shared live", 12))
    await sender.disconnect()
    await reader.disconnect()


# --- units: the consumers' dispatch and relay.deliver -----------------------------------------


class Recorder(Dispatches):
    """A socket's handlers, recording what they are handed (and, in `order`, who was handed one)."""

    def __init__(self, name: str = "", *, fails: bool = False, order: list[str] | None = None) -> None:
        self.name = name
        self.fails = fails
        self.order = order if order is not None else []
        self.handled: list[dict] = []

    async def stream_delta(self, message: dict) -> None:
        self.handled.append(message)
        self.order.append(self.name)
        if self.fails:
            raise RuntimeError(f"{self.name} is broken")

    async def turn_finished(self, message: dict) -> None:
        self.handled.append(message)
        self.order.append(self.name)


@pytest.fixture
def group():
    """A group of this process's sockets, emptied after the test."""
    name = "conversation-relay-test"
    yield name
    for member in list(relay._members.get(name, ())):
        relay.leave(name, member)
    assert relay.local_count(name) == 0


def delta(offset: int = 0, text: str = "Hi") -> dict:
    return {"type": "stream.delta", "turn": 7, "offset": offset, "text": text}


async def test_dispatch_skips_only_the_copies_this_process_relayed():
    socket = Recorder()
    await socket.dispatch({**delta(), relay.RELAYED_BY: PROCESS_ID})
    assert socket.handled == []
    from_elsewhere = {**delta(), relay.RELAYED_BY: "f" * 32}
    await socket.dispatch(from_elsewhere)
    plain = delta(2, "there")  # not relayed at all: a message another part of the server sent
    await socket.dispatch(plain)
    assert socket.handled == [from_elsewhere, plain]


@pytest.mark.parametrize("consumer_class", [ConversationConsumer, ShareConsumer, NewConversationConsumer])
def test_every_socket_dispatches_this_way(consumer_class):
    assert consumer_class.dispatch is Dispatches.dispatch


async def test_the_conversation_socket_sends_a_relayed_delta_without_the_thread_hop(monkeypatch):
    hops = []

    async def aclose_old_connections():
        hops.append(1)

    # channels' own dispatch closes old connections in a worker thread before each handler.
    monkeypatch.setattr("channels.consumer.aclose_old_connections", aclose_old_connections)
    socket = ConversationConsumer()
    sent: list[dict] = []

    async def send_json(content, close=False):
        sent.append(content)

    monkeypatch.setattr(socket, "send_json", send_json)
    await socket.dispatch({**delta(0, "Hi"), relay.RELAYED_BY: PROCESS_ID})
    await socket.dispatch({**delta(2, " there"), relay.RELAYED_BY: "f" * 32})
    assert sent == [{"type": "delta", "turn": 7, "offset": 2, "text": " there"}]
    assert hops == []


async def test_deliver_hands_a_message_to_each_socket_in_joining_order(group, settings, monkeypatch, caplog):
    settings.REDIS_URL = ""
    monkeypatch.setattr(relay, "get_channel_layer", lambda: pytest.fail("no channel layer within one process"))
    order: list[str] = []
    first, broken, last = (Recorder("first", order=order), Recorder("broken", fails=True, order=order),
                           Recorder("last", order=order))
    for socket in (first, broken, last):
        relay.join(group, socket)
    relay.join(group, first)  # joining again changes nothing: still once, still first
    assert relay.local_count(group) == 3
    with caplog.at_level(logging.ERROR, logger=relay.__name__):
        await relay.deliver(group, delta())
        await relay.deliver(group, {"type": "turn.finished", "turn": {"id": 7}})
    # The broken socket's failure is logged, and the sockets after it are served all the same.
    assert order == ["first", "broken", "last", "first", "broken", "last"]
    assert [r.getMessage() for r in caplog.records] == ["Could not hand stream.delta to a socket"]
    assert caplog.records[0].exc_info is not None and "broken is broken" in str(caplog.records[0].exc_info[1])
    relay.leave(group, broken)
    await relay.deliver(group, delta(2, "again"))
    assert order[6:] == ["first", "last"]


class FakeLayer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group: str, message: dict) -> None:
        self.sent.append((group, message))


@pytest.mark.parametrize("redis_url", ["", "redis://127.0.0.1:6379/0"], ids=["one-process", "redis"])
async def test_deliver_uses_the_channel_layer_only_across_processes(group, settings, monkeypatch, redis_url):
    settings.REDIS_URL = redis_url
    layer = FakeLayer()
    monkeypatch.setattr(relay, "get_channel_layer", lambda: layer)
    here = Recorder()
    relay.join(group, here)
    message = delta()
    await relay.deliver(group, message)
    # The sockets here get the message as it was made, unmarked.
    assert here.handled == [message] and relay.RELAYED_BY not in message
    if redis_url:
        assert layer.sent == [(group, {**message, relay.RELAYED_BY: PROCESS_ID})]
    else:
        assert layer.sent == []
    # A group without a socket here still reaches the other processes' sockets.
    await relay.deliver("conversation-nobody-here", message)
    assert len(layer.sent) == (2 if redis_url else 0)


# --- a reply waits for its announcement ----------------------------------------------------------


class WatchedEvent(asyncio.Event):
    """asyncio.Event that counts the waits blocked on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = 0

    async def wait(self):
        self.waiting += 1
        try:
            return await super().wait()
        finally:
            self.waiting -= 1


async def held_until_announced(running: generation.Generation, announced: WatchedEvent) -> None:
    """Wait until the provider's stream has been read to its end and the reply is held waiting for
    its announcement (or, if it does not wait, until it has ended)."""
    task = running.task
    assert task is not None
    async with asyncio.timeout(WAIT):
        # _streamer is the task reading the provider: done once everything the model said is in memory.
        while not (running._streamer.done() and announced.waiting) and not task.done():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    "model,status",
    [("openai:fake-slow", "complete"), ("openai:fake-error-500", "error"), ("unreachable:fake-model", "error")],
    ids=["streams", "upstream-error", "unreachable"],
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_leftover_generations")
async def test_a_reply_sends_nothing_until_announced(alice, conversation, providers, settings, model, status):
    if model.startswith("unreachable:"):
        # Nothing listens on port 1: the request fails at once.
        settings.OPENAI_COMPATIBLE_ENDPOINTS = [
            {"name": "unreachable", "base_url": "http://127.0.0.1:1/v1", "models": ["fake-model"]}
        ]
    sent = await database_sync_to_async(services.turn_send)(
        conversation=conversation, parent_id=None, content="Wait for it", author=alice,
        variants=[services.Variant(model)],
    )
    watcher = Recorder()
    group = conversation_group(conversation.id)
    relay.join(group, watcher)
    running = generation.generation_start(sent.replies[0], announced=False)
    # Before its tasks first run: an unset event as the one it was started with, watched.
    running.announced = announced = WatchedEvent()
    task = running.task
    assert task is not None
    try:
        await held_until_announced(running, announced)
        assert watcher.handled == [], "a frame went out before the reply was announced"
        assert not task.done()
    finally:
        running.announce_done()  # also when the test failed: a reply held forever cannot be stopped
        await asyncio.wait_for(task, WAIT)
        relay.leave(group, watcher)
    kinds = [m["type"] for m in watcher.handled]
    assert kinds[-1] == "turn.finished" and kinds.count("turn.finished") == 1
    assert watcher.handled[-1]["turn"]["status"] == status
    reply_id = sent.replies[0].reply.id
    text = assemble([{**m, "type": "delta"} for m in watcher.handled if m["type"] == "stream.delta"], reply_id)
    if status == "complete":
        assert watcher.handled[0]["offset"] == 0
        assert text == reply_text("Wait for it", 12)
    else:
        assert text == "" and kinds == ["turn.finished"]
    saved = await database_sync_to_async(Turn.objects.get)(pk=reply_id)
    assert saved.status == status


# --- liveness: a query per reply only when the heartbeat is old ------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def monotonic(self) -> float:
        return self.now


@pytest.mark.django_db
@pytest.mark.parametrize("beat_seconds", [5.0, 0.001])
def test_owner_id_asks_the_database_only_when_the_heartbeat_is_old(settings, monkeypatch, beat_seconds):
    settings.HEARTBEAT_SECONDS = beat_seconds
    clock = Clock()
    monkeypatch.setattr(liveness, "time", SimpleNamespace(monotonic=clock.monotonic))
    monkeypatch.setattr(liveness, "_beaten_at", -math.inf)  # restored after the test
    liveness.beat()
    assert ServerProcess.objects.filter(pk=PROCESS_ID).exists()

    def queries_of_owner_id() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert liveness.owner_id() == PROCESS_ID
        return len(queries)

    # Within a beat of the last heartbeat: no query, however often.
    clock.now += beat_seconds * 0.99
    assert [queries_of_owner_id() for _ in range(3)] == [0, 0, 0]
    # A beat later: is this process still registered? One read, and no write while it is.
    clock.now += beat_seconds * 0.02
    assert queries_of_owner_id() == 1
    # Its row gone (a sweeper took it for dead): the read, then it registers again (the heartbeat's
    # update, which finds no row, and the insert)...
    ServerProcess.objects.filter(pk=PROCESS_ID).delete()
    assert queries_of_owner_id() == 3
    assert ServerProcess.objects.filter(pk=PROCESS_ID, pid=os.getpid()).exists()
    # ...which counts as a heartbeat: no query again for a beat.
    assert queries_of_owner_id() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_leftover_generations")
async def test_a_shutdown_ends_a_reply_that_was_never_announced(alice, conversation, providers):
    sent = await database_sync_to_async(services.turn_send)(
        conversation=conversation, parent_id=None, content="Wait for it", author=alice,
        variants=[services.Variant("openai:fake-slow")],
    )
    running = generation.generation_start(sent.replies[0], announced=False)
    await asyncio.sleep(0.05)
    # Its starter never told the sockets (it failed, or the server stops first): a shutdown still
    # ends it, saved as interrupted, instead of waiting for an announcement that will not come.
    await asyncio.wait_for(generation.generations_stop_all(), WAIT)
    assert running.task is not None and running.task.done()
    saved = await database_sync_to_async(Turn.objects.get)(pk=sent.replies[0].reply.id)
    assert saved.status == Turn.Status.INTERRUPTED


@pytest.mark.parametrize(("replies", "budget", "window"), [
    (0, 1000.0, 0.05),  # alone: the configured window, 20 frames a second
    (50, 1000.0, 0.05),  # 50 × 20 = 1,000 frames a second: within the budget
    (200, 1000.0, 0.2),  # 200 replies share 1,000 frames a second: 5 each
    (500, 1000.0, 0.5),
    (500, 0.0, 0.05),  # no cap
])
def test_the_coalescing_window_widens_when_the_process_streams_more_than_its_frame_budget(
    settings, monkeypatch, replies, budget, window
):
    settings.STREAM_COALESCE_SECONDS = 0.05
    settings.STREAM_FRAMES_PER_SECOND = budget
    monkeypatch.setattr(generation, "_running", {turn: object() for turn in range(replies)})
    assert generation.coalescing_window() == pytest.approx(window)
