"""The conversation socket: authenticate, validate, call a service, relay the group's stream."""
from __future__ import annotations

import hashlib
import logging
import time

from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from conversations import control, generation, services
from conversations.models import Turn
from conversations.payloads import created_frame, turn_payload, utf16_length, utf16_tail
from conversations.permissions import Need, conversation_for
from conversations.protocol import Action, ProtocolError, frame_limit, parse_action
from conversations.validation import InvalidInput, loads_untrusted, unpaired_surrogate
from conversations.workspaces import user_group

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404

# What each action needs (see permissions.py): reading may resume, writing may send and stop,
# only owners delete.
ACTION_NEEDS = {
    "resume": Need.READ,
    "send": Need.WRITE,
    "edit": Need.WRITE,
    "regenerate": Need.WRITE,
    "stop": Need.WRITE,
    "main": Need.WRITE,
    "delete": Need.MANAGE,
}


@database_sync_to_async
def _conversation(user, conversation_id: int, need: Need):
    return conversation_for(user, conversation_id, need=need)


@database_sync_to_async
def _turn_in(conversation_id: int, turn_id: int) -> Turn:
    turn = Turn.objects.filter(pk=turn_id, conversation_id=conversation_id).first()
    if turn is None:
        raise services.ServiceError(f"Turn {turn_id} does not exist in this conversation.", code="not_found")
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


async def resume(consumer, conversation_id: int, turn_id: int, offset: int, *, finished=None) -> None:
    """Send a socket what it is missing of a reply from `offset` on: from memory while this
    process streams it, else from the database (and from the process streaming it, if another)."""
    running = generation.running(turn_id)
    if running is not None and running.conversation_id == conversation_id:
        if offset < running.sent_units:
            text = utf16_tail(running.text[: running.sent], offset)
            await consumer.send_json({"type": "delta", "turn": turn_id, "offset": offset, "text": text})
        return
    turn = await _turn_in(conversation_id, turn_id)
    if offset < utf16_length(turn.content):
        text = utf16_tail(turn.content, offset)
        await consumer.send_json({"type": "delta", "turn": turn.id, "offset": offset, "text": text})
    if turn.status == Turn.Status.STREAMING and control.spans_processes():
        # The checkpoint may be behind: the process writing the reply sends the rest.
        await control.request_resume(turn.id, offset, consumer.channel_name)
    if turn.status != Turn.Status.STREAMING:
        payload = turn_payload(turn, content=False)
        await consumer.send_json({"type": "turn.finished", "turn": finished(payload) if finished else payload})


def presence_id(channel_name: str) -> str:
    """A viewer's id on the page: stable for the socket, and not its channel name."""
    return hashlib.sha256(channel_name.encode()).hexdigest()[:12]


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


class ConversationConsumer(SendsUntilClosed, Presence, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.budget = FrameBudget(settings.WS_FRAMES_PER_SECOND)
        self.user = self.scope.get("user")
        self.conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        self.group = generation.conversation_group(self.conversation_id)
        allowed = self.user is not None and self.user.is_authenticated
        if allowed and await _conversation(self.user, self.conversation_id, Need.READ) is not None:
            # Join before accepting, so nothing sent after the page sees the socket open is missed.
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.channel_layer.group_add(user_group(self.user.pk), self.channel_name)
            await control.ensure_listener()
            await self.accept()
            await self.presence_announce({"name": self.user.get_username(), "kind": "member"})
            return
        # Accept, then close, so the code reaches the page: 4401 sign in, 4404 no such conversation.
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND if allowed else CLOSE_UNAUTHENTICATED)

    async def disconnect(self, code) -> None:
        await self.presence_leave_group()
        await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.user is not None and self.user.is_authenticated:
            await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)

    async def access_changed(self, message) -> None:
        """A role changed or was removed: an open socket keeps only what the user may still read."""
        if await _conversation(self.user, self.conversation_id, Need.READ) is None:
            await self._error("You no longer have access to this conversation.", code="not_found")
            await self.close(code=CLOSE_NOT_FOUND)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if not self.budget.take():
            if refusal := self.budget.refusal():
                await self._error(refusal, code="rate_limited")
            return
        if text_data is None:
            await self._error("Frames must be JSON text, not binary.", code="wrong_type")
            return
        if len(text_data) > frame_limit():
            await self._error(
                f"The frame is {len(text_data):,} characters; the limit is {frame_limit():,}.",
                code="too_large",
            )
            return
        try:
            frame = loads_untrusted(text_data, name="The frame")
        except InvalidInput as exc:
            await self._error(exc.message, code=exc.code)
            return
        await self.receive_json(frame)

    async def receive_json(self, content, **kwargs) -> None:
        request_id = content.get("request_id") if isinstance(content, dict) else ""
        # Echoed only when it is valid text; otherwise the error says what is wrong with it.
        if not isinstance(request_id, str) or unpaired_surrogate(request_id) is not None:
            request_id = ""
        try:
            action = parse_action(content)
            need = ACTION_NEEDS[action.name]
            # Checked on every action, not cached from connect.
            conversation = await _conversation(self.user, self.conversation_id, need)
            if conversation is None:
                if need is not Need.READ and await _conversation(self.user, self.conversation_id, Need.READ):
                    # A reader asking to write: refused, and the socket stays for reading.
                    await self._error(
                        "Your role in this workspace does not allow that.", code="forbidden", request_id=request_id
                    )
                    return
                await self._error("This conversation does not exist.", code="not_found", request_id=request_id)
                await self.close(code=CLOSE_NOT_FOUND)
                return
            handler = getattr(self, f"_act_{action.name}")
            await handler(conversation, action)
        except (ProtocolError, services.ServiceError) as exc:
            await self._error(exc.message, code=exc.code, request_id=request_id)
        except Exception:
            # Whatever went wrong, the socket stays open and says so.
            logger.exception("Action failed on conversation %s", self.conversation_id)
            await self._error(
                "The server could not carry that out. Try again.",
                code="server_error",
                request_id=request_id,
            )

    async def _error(self, message: str, *, code: str, request_id: str = "") -> None:
        await self.send_json({"type": "error", "code": code, "error": message, "request_id": request_id})

    async def _announce(self, turn: Turn, request_id: str, title: str = "") -> None:
        """Tell this socket at once, and every other socket on the conversation through the group."""
        frame = created_frame(turn, request_id=request_id, title=title)
        await self.send_json(frame)
        await self.channel_layer.group_send(self.group, {**frame, "origin": self.channel_name})

    async def _broadcast(self, message: dict) -> None:
        """A change everyone on the conversation sees, this socket included."""
        await self.channel_layer.group_send(self.group, {"type": "conversation.event", "event": message})

    async def _start(self, sent: services.Sent, action: Action, title: str) -> None:
        try:
            await self._announce(sent.prompt, action.request_id, title)
            for prepared in sent.replies:
                await self._announce(prepared.reply, action.request_id)
        finally:
            # The replies exist once the service has run: they stream even if telling the
            # sockets failed (the page catches up by offset), never stay 'streaming' unowned.
            for prepared in sent.replies:
                generation.generation_start(prepared)

    async def _act_send(self, conversation, action: Action) -> None:
        sent = await database_sync_to_async(services.turn_send)(
            conversation=conversation,
            parent_id=action.parent,
            content=action.content,
            author=self.user,
            variants=list(action.variants),
        )
        await self._start(sent, action, conversation.title)

    async def _act_edit(self, conversation, action: Action) -> None:
        sent = await database_sync_to_async(services.prompt_edit)(
            conversation=conversation,
            turn_id=action.turn,
            content=action.content,
            author=self.user,
            variants=list(action.variants),
        )
        await self._start(sent, action, conversation.title)

    async def _act_regenerate(self, conversation, action: Action) -> None:
        prepared = await database_sync_to_async(services.reply_regenerate)(
            conversation=conversation, turn_id=action.turn, author=self.user, variant=action.variants[0]
        )
        try:
            await self._announce(prepared.reply, action.request_id)
        finally:
            generation.generation_start(prepared)

    async def _act_delete(self, conversation, action: Action) -> None:
        parent = await database_sync_to_async(services.turn_delete)(
            conversation=conversation, turn_id=action.turn
        )
        await self._broadcast(
            {"type": "turn.deleted", "turn": action.turn, "parent": parent, "main_turn": conversation.main_turn_id}
        )

    async def _act_main(self, conversation, action: Action) -> None:
        await database_sync_to_async(services.conversation_set_main)(
            conversation=conversation, turn_id=action.turn
        )
        await self._broadcast({"type": "conversation.updated", "main_turn": action.turn})

    async def _act_stop(self, conversation, action: Action) -> None:
        running = generation.running(action.turn)
        if running is not None and running.conversation_id == conversation.id:
            running.stop()
            return
        turn = await _turn_in(conversation.id, action.turn)
        if turn.status == Turn.Status.STREAMING and control.spans_processes():
            # Another process is writing it: the one that is stops it.
            await control.request_stop(turn.id)
            return
        raise services.ServiceError("That reply is not streaming.", code="not_streaming")

    async def _act_resume(self, conversation, action: Action) -> None:
        await resume(self, conversation.id, action.turn, action.offset)

    # Group messages, relayed to this socket.
    async def turn_created(self, message) -> None:
        if message["origin"] == self.channel_name:
            return
        await self.send_json({key: value for key, value in message.items() if key != "origin"})

    async def stream_delta(self, message) -> None:
        await self.send_json({"type": "delta", "turn": message["turn"], "offset": message["offset"], "text": message["text"]})

    async def conversation_event(self, message) -> None:
        await self.send_json(message["event"])

    async def turn_finished(self, message) -> None:
        await self.send_json({"type": "turn.finished", "turn": message["turn"]})
