"""What every live socket shares, the conversation's and a share link's: close codes, the frame
budget, resuming a reply from an offset, presence, and sends that tolerate a closing connection."""
from __future__ import annotations

import hashlib
import logging
import time
from typing import TYPE_CHECKING, Any

from autobahn.exception import Disconnected
from channels.db import database_sync_to_async

from conversations.errors import TURN_GONE, ServiceError
from conversations.models import Turn
from conversations.streaming import control, generation, relay
from conversations.streaming.frames import (
    delta_frame,
    finished_frame,
    frame_of,
    reasoning_frame,
    turn_payload,
    utf16_length,
    utf16_tail,
)
from conversations.validation import loads_untrusted, unpaired_surrogate

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404

@database_sync_to_async
def turn_in(conversation_id: int, turn_id: int) -> Turn:
    turn = Turn.objects.filter(pk=turn_id, conversation_id=conversation_id).first()
    if turn is None:
        raise ServiceError(TURN_GONE, code="not_found")
    return turn


class FrameBudget:
    """A token bucket: `rate` frames a second on average, bursts up to twice that."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = self.capacity = 2 * rate
        self.last = time.monotonic()
        self.last_refusal = 0.0

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def refusal(self) -> str | None:
        """What to answer a dropped frame with: said at most once a second, so a flood cannot
        make the server flood back (None: say nothing)."""
        now = time.monotonic()
        if now - self.last_refusal < 1:
            return None
        self.last_refusal = now
        return f"Too many frames: at most {self.rate:g} a second. Frames over the limit were ignored."


def echoed_request_id(content: Any) -> str:
    """The frame's "request_id", to echo in the answer: only when it is valid text (otherwise the
    error says what is wrong with it)."""
    request_id = content.get("request_id") if isinstance(content, dict) else ""
    if not isinstance(request_id, str) or unpaired_surrogate(request_id) is not None:
        return ""
    return request_id


async def resume(
    consumer, conversation_id: int, turn_id: int, offset: int, *, reasoning_offset: int | None = None, finished=None
) -> None:
    """Send a socket what it is missing of a reply from `offset` on (and of its reasoning from
    `reasoning_offset`, unless None): from memory while this process streams it, else from the
    database (and from the process streaming it, if another)."""
    running = generation.running(turn_id)
    if running is not None and running.conversation_id == conversation_id:
        for message in running.catch_up(offset, reasoning_offset):
            await consumer.send_json(frame_of(message))
        return
    turn = await turn_in(conversation_id, turn_id)
    if reasoning_offset is not None and reasoning_offset < utf16_length(turn.reasoning):
        reasoning = utf16_tail(turn.reasoning, reasoning_offset)
        await consumer.send_json(reasoning_frame(turn.id, reasoning_offset, reasoning))
    if offset < utf16_length(turn.content):
        text = utf16_tail(turn.content, offset)
        await consumer.send_json(delta_frame(turn.id, offset, text, refused=turn.refused))
    if turn.status == Turn.Status.STREAMING and control.spans_processes():
        # The checkpoint may be behind: the process writing the reply sends the rest.
        await control.request_resume(turn.id, offset, reasoning_offset, consumer.channel_name)
    if turn.status != Turn.Status.STREAMING:
        payload = turn_payload(turn, content=False)
        await consumer.send_json(finished_frame(finished(payload) if finished else payload))


def presence_id(channel_name: str) -> str:
    """A viewer's id on the page: stable for the socket, and not its channel name."""
    return hashlib.sha256(channel_name.encode()).hexdigest()[:12]


class Dispatches:
    """How a consumer handles the messages it receives: without channels' extra thread hop, and
    skipping the channel layer's copies of what this process delivered directly (relay.py).

    channels runs `close_old_connections` in a worker thread before each message a consumer
    handles, for handlers that use the database inline. These consumers never do: every database
    access goes through `database_sync_to_async`, which closes old connections before and after,
    in the thread that uses them. The hop would only cost a thread round trip for every frame a
    reply sends to every socket."""

    async def dispatch(self, message: dict) -> None:
        if relay.already_delivered(message):
            return
        handler = getattr(self, relay.handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


async def join_group(consumer, group: str) -> None:
    """Join a conversation's group: its channel-layer group (messages from anywhere) and this
    process's direct delivery (relay.py)."""
    await consumer.channel_layer.group_add(group, consumer.channel_name)
    relay.join(group, consumer)


async def leave_group(consumer, group: str) -> None:
    relay.leave(group, consumer)
    await consumer.channel_layer.group_discard(group, consumer.channel_name)


class SendsUntilClosed:
    """Frames sent to a connection the server is already closing are dropped, not raised.

    daphne fails a connection itself (a frame over its ceiling: close 1009) and waits for the
    client's close before it tells the consumer; a group message in between would make the send
    raise autobahn's `Disconnected` and end the consumer, which then never handles its disconnect:
    it stays in its groups and in everyone's "Also here". The disconnect is on its way, so the
    frame is simply not sent. (Both methods: channels' send_json calls its own parent's send.)"""

    async def send(self, *args, **kwargs) -> None:
        try:
            await super().send(*args, **kwargs)  # type: ignore[misc]
        except Disconnected:
            logger.debug("A frame for a connection that is closing was dropped.")

    async def send_json(self, *args, **kwargs) -> None:
        try:
            await super().send_json(*args, **kwargs)  # type: ignore[misc]
        except Disconnected:
            logger.debug("A frame for a connection that is closing was dropped.")


class Presence:
    """Who has a conversation open, without a database: a socket announces itself to the group
    when it opens and leaves when it closes; everyone already there answers the newcomer."""

    if TYPE_CHECKING:  # provided by the consumer it is mixed into
        channel_layer: Any
        channel_name: str
        group: str

        async def send_json(self, content: dict, close: bool = False) -> None: ...

    async def presence_announce(self, who: dict) -> None:
        self.presence_who = who
        await self.channel_layer.group_send(
            self.group, {"type": "presence.join", "channel": self.channel_name, "who": who}
        )

    async def presence_leave_group(self) -> None:
        if getattr(self, "presence_who", None) is not None:
            await self.channel_layer.group_send(self.group, {"type": "presence.leave", "channel": self.channel_name})

    async def presence_join(self, message) -> None:
        if message["channel"] == self.channel_name or getattr(self, "presence_who", None) is None:
            return
        await self.presence_show({"type": "presence.join", "id": presence_id(message["channel"]), **message["who"]})
        await self.channel_layer.send(
            message["channel"], {"type": "presence.here", "channel": self.channel_name, "who": self.presence_who}
        )

    async def presence_here(self, message) -> None:
        await self.presence_show({"type": "presence.join", "id": presence_id(message["channel"]), **message["who"]})

    async def presence_leave(self, message) -> None:
        if message["channel"] != self.channel_name:
            await self.presence_show({"type": "presence.leave", "id": presence_id(message["channel"])})

    async def presence_show(self, frame: dict) -> None:
        await self.send_json(frame)


class ReadsFrames:
    """A client's frames read the same way on every socket: within the frame budget, as text,
    within `frame_chars()`, as JSON of bounded depth. Each refusal is answered with an `error`
    frame (at most once a second for the budget) and the socket stays open; nothing is acted on."""

    budget: FrameBudget

    def frame_chars(self) -> int:
        raise NotImplementedError

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if not self.budget.take():
            if refusal := self.budget.refusal():
                await self._error(refusal, code="rate_limited")
            return
        if text_data is None:
            await self._error("Frames must be JSON text, not binary.", code="wrong_type")
            return
        limit = self.frame_chars()
        if len(text_data) > limit:
            await self._error(f"The frame is {len(text_data):,} characters; the limit is {limit:,}.", code="too_large")
            return
        try:
            frame = loads_untrusted(text_data, name="The frame")
        except ServiceError as exc:
            await self._error(exc.message, code=exc.code)
            return
        await self.receive_json(frame)  # type: ignore[attr-defined]

    async def _error(self, message: str, *, code: str) -> None:
        raise NotImplementedError
