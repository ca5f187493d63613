"""The conversation socket: authenticate, validate, call a service, relay the group's stream."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from conversations import services
from conversations.errors import ServiceError
from conversations.models import Conversation, Turn
from conversations.permissions import SOCKET_ACTION_NEEDS, Need, conversation_for
from conversations.streaming import control, generation, relay
from conversations.streaming.frames import (
    created_frame,
    finished_frame,
    frame_of,
)
from conversations.streaming.groups import conversation_group, user_group
from conversations.streaming.protocol import Action, frame_limit, parse_action
from conversations.streaming.sockets import (
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    Dispatches,
    FrameBudget,
    Presence,
    ReadsFrames,
    SendsUntilClosed,
    echoed_request_id,
    join_group,
    leave_group,
    resume,
    turn_in,
)

logger = logging.getLogger(__name__)

@database_sync_to_async
def _conversation(user, conversation_id: int, need: Need):
    return conversation_for(user, conversation_id, need=need)


@database_sync_to_async
def _checked(user, conversation_id: int, need: Need, write: Callable[[Conversation], Any] | None):
    """The permission check and, when it passes, the action's writes, in one database call: a send
    crosses to the database thread once, not twice, on its way to the model. (None, None) when the
    check fails."""
    conversation = conversation_for(user, conversation_id, need=need)
    if conversation is None:
        return None, None
    return conversation, (write(conversation) if write is not None else None)


class ConversationConsumer(Dispatches, ReadsFrames, SendsUntilClosed, Presence, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.budget = FrameBudget(settings.WS_FRAMES_PER_SECOND)
        self.user = self.scope.get("user")
        self.conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        self.group = conversation_group(self.conversation_id)
        allowed = self.user is not None and self.user.is_authenticated
        conversation = await _conversation(self.user, self.conversation_id, Need.READ) if allowed else None
        if conversation is not None:
            # Join before accepting, so nothing sent after the page sees the socket open is missed.
            await join_group(self, self.group)
            await self.channel_layer.group_add(user_group(self.user.pk), self.channel_name)
            await control.ensure_listener()
            await self.accept()
            await self.presence_announce({"name": self.user.get_username(), "kind": "member"})
            if conversation.title_source == Conversation.TitleSource.MODEL:
                # The model's title may have come after the page was made and before this socket
                # joined the group: the page is told it now (a title it has already is no change).
                await self.send_json({"type": "conversation.updated", "title": conversation.title})
            return
        # Accept, then close, so the code reaches the page: 4401 sign in, 4404 no such conversation.
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND if allowed else CLOSE_UNAUTHENTICATED)

    async def disconnect(self, code) -> None:
        await self.presence_leave_group()
        await leave_group(self, self.group)
        if self.user is not None and self.user.is_authenticated:
            await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)

    async def access_changed(self, message) -> None:
        """A role changed or was removed: an open socket keeps only what the user may still read."""
        if await _conversation(self.user, self.conversation_id, Need.READ) is None:
            await self._error("You no longer have access to this conversation.", code="not_found")
            await self.close(code=CLOSE_NOT_FOUND)

    def frame_chars(self) -> int:
        return frame_limit()

    async def receive_json(self, content, **kwargs) -> None:
        request_id = echoed_request_id(content)
        try:
            action = parse_action(content)
            need = SOCKET_ACTION_NEEDS[action.name]
            # Checked on every action, not cached from connect, with the action's writes.
            write = getattr(self, f"_write_{action.name}", None)
            conversation, written = await _checked(
                self.user, self.conversation_id, need, partial(write, action) if write else None
            )
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
            await handler(conversation, action, written)
        except (ServiceError, services.ServiceError) as exc:
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
        """Tell this socket at once, and every other socket on the conversation."""
        frame = created_frame(turn, request_id=request_id, title=title)
        await self.send_json(frame)
        await relay.deliver(self.group, {**frame, "origin": self.channel_name})

    async def _broadcast(self, message: dict) -> None:
        """A change everyone on the conversation sees, this socket included."""
        await self.channel_layer.group_send(self.group, {"type": "conversation.event", "event": message})

    async def _start(self, sent: services.Sent, action: Action, title: str) -> None:
        # The replies exist once the service has run: each model is asked first, and the sockets
        # are told while the requests are on their way. A reply's frames wait for its announcement,
        # and it streams even if telling the sockets failed (the page catches up by offset).
        started = [generation.generation_start(prepared, announced=False) for prepared in sent.replies]
        try:
            await asyncio.sleep(0)  # the requests go out before anything else is done
            await self._announce(sent.prompt, action.request_id, title)
            for prepared in sent.replies:
                await self._announce(prepared.reply, action.request_id)
        finally:
            for running in started:
                running.announce_done()

    # Each action that writes has a `_write_<action>`, run in the thread of the permission check
    # (`_checked`), and an `_act_<action>` that tells the sockets what it did.

    def _write_send(self, action: Action, conversation: Conversation) -> services.Sent:
        return services.turn_send(
            conversation=conversation,
            parent_id=action.parent,
            content=action.content,
            author=self.user,
            variants=list(action.variants),
            attachments=action.attachments,
            text_only=action.text_only,
        )

    async def _act_send(self, conversation, action: Action, sent: services.Sent) -> None:
        await self._start(sent, action, conversation.title)

    def _write_edit(self, action: Action, conversation: Conversation) -> services.Sent:
        assert action.turn is not None  # parse_action requires a turn id for edit
        return services.prompt_edit(
            conversation=conversation,
            turn_id=action.turn,
            content=action.content,
            author=self.user,
            variants=list(action.variants),
            attachments=action.attachments,
            text_only=action.text_only,
        )

    async def _act_edit(self, conversation, action: Action, sent: services.Sent) -> None:
        await self._start(sent, action, conversation.title)

    def _write_regenerate(self, action: Action, conversation: Conversation) -> services.PreparedReply:
        assert action.turn is not None  # parse_action requires a turn id for regenerate
        return services.reply_regenerate(
            conversation=conversation, turn_id=action.turn, author=self.user, variant=action.variants[0],
            text_only=action.text_only,
        )

    async def _act_regenerate(self, conversation, action: Action, prepared: services.PreparedReply) -> None:
        running = generation.generation_start(prepared, announced=False)
        try:
            await asyncio.sleep(0)  # the request goes out first (see _start)
            await self._announce(prepared.reply, action.request_id)
        finally:
            running.announce_done()

    def _write_delete(self, action: Action, conversation: Conversation) -> int | None:
        assert action.turn is not None  # parse_action requires a turn id for delete
        return services.turn_delete(conversation=conversation, turn_id=action.turn)

    async def _act_delete(self, conversation, action: Action, parent: int | None) -> None:
        await self._broadcast(
            {"type": "turn.deleted", "turn": action.turn, "parent": parent, "main_turn": conversation.main_turn_id}
        )

    def _write_main(self, action: Action, conversation: Conversation) -> None:
        services.conversation_set_main(conversation=conversation, turn_id=action.turn)

    async def _act_main(self, conversation, action: Action, _written: None) -> None:
        await self._broadcast({"type": "conversation.updated", "main_turn": action.turn})

    async def _act_stop(self, conversation, action: Action, _written: None) -> None:
        assert action.turn is not None  # parse_action requires a turn id for stop
        running = generation.running(action.turn)
        if running is not None and running.conversation_id == conversation.id:
            running.stop()
            return
        turn = await turn_in(conversation.id, action.turn)
        if turn.status == Turn.Status.STREAMING and control.spans_processes():
            # Another process is writing it: the one that is stops it.
            await control.request_stop(turn.id)
            return
        raise services.ServiceError("That reply is not streaming.", code="not_streaming")

    async def _act_resume(self, conversation, action: Action, _written: None) -> None:
        assert action.turn is not None  # parse_action requires a turn id for resume
        await resume(self, conversation.id, action.turn, action.offset, reasoning_offset=action.reasoning_offset)

    # Group messages, relayed to this socket.
    async def turn_created(self, message) -> None:
        if message["origin"] == self.channel_name:
            return
        await self.send_json({key: value for key, value in message.items() if key != "origin"})

    async def stream_delta(self, message) -> None:
        await self.send_json(frame_of(message))

    async def stream_reasoning(self, message) -> None:
        await self.send_json(frame_of(message))

    async def conversation_event(self, message) -> None:
        await self.send_json(message["event"])

    async def turn_finished(self, message) -> None:
        await self.send_json(finished_frame(message["turn"]))
