"""The socket of a live share link: read-only, and only what the link shares.

It relays the conversation's stream for the turns in the link's scope (new turns below a shared
subtree join it) and, when the link includes comments, the comments on those turns as they are
made, edited, deleted and resolved (named as the link says; never verdicts, preferences or
mentions); it answers `resume`, and nothing else. Whether the link still works is decided in
one place, `permissions.share_for`, asked on connect, on every frame and whenever something that
could end the link happens: it is revoked, it expires, it is deleted (with its conversation, turn
or maker), its maker's role changes, or a members-only reader leaves the workspace. A link that no
longer works sends `share.gone` and closes the socket (4404) at once.
"""
from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from conversations.errors import ServiceError
from conversations.models import ShareLink
from conversations.permissions import share_for
from conversations.review.shared import shared_comment_frame
from conversations.sharing import services as sharing
from conversations.streaming import control
from conversations.streaming.frames import (
    finished_frame,
    frame_of,
    only,
    reader_fields,
    reader_finished_fields,
    reasoning_frame,
)
from conversations.streaming.groups import (
    conversation_group,
    maker_group,
    share_group,
    user_group,
)
from conversations.streaming.protocol import parse_action
from conversations.streaming.sockets import (
    CLOSE_NOT_FOUND,
    Dispatches,
    FrameBudget,
    Presence,
    ReadsFrames,
    SendsUntilClosed,
    join_group,
    leave_group,
    resume,
)

logger = logging.getLogger(__name__)

MAX_FRAME = 1_000
FRAMES_PER_SECOND = 5
NOT_SHARED = "That turn is not shared here."
GONE = (
    "This link is no longer available: it was turned off or has expired. Ask the person who shared it for a new link."
)


@database_sync_to_async
def _live_link(user, token: str) -> ShareLink | None:
    link = share_for(user, token)
    return link if link is not None and link.mode == ShareLink.Mode.LIVE else None


@database_sync_to_async
def _live_scope(user, token: str) -> tuple[set[int] | None, set[int]] | None:
    """What the link shows now (see `sharing.scope_ids`), or None if it no longer works."""
    link = share_for(user, token)
    if link is None or link.mode != ShareLink.Mode.LIVE:
        return None
    return sharing.scope_ids(link)


@database_sync_to_async
def _comment_for_reader(user, token: str, event: dict, turn_ids: set[int] | None) -> tuple[bool, dict | None]:
    """Whether the link still works, and the reader's frame for a changed comment (None when the
    link does not include comments or the comment is not on a shared turn). Asked for each comment:
    the link may have been revoked, or its naming changed, since the socket opened."""
    link = share_for(user, token)
    if link is None or link.mode != ShareLink.Mode.LIVE:
        return False, None
    return True, shared_comment_frame(link, event["comment"]["id"], turn_ids, event["turn"])


class ShareConsumer(Dispatches, ReadsFrames, SendsUntilClosed, Presence, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.token = self.scope["url_route"]["kwargs"]["token"]
        self.user = self.scope.get("user")
        self.budget = FrameBudget(FRAMES_PER_SECOND)
        self.groups_joined: list[str] = []
        self.expiry: asyncio.TimerHandle | None = None
        self.gone = False
        self.in_scope: set[int] | None = set()  # nothing until the link is checked (None: everything)
        self.subtree: set[int] = set()
        link = await _live_link(self.user, self.token)
        await self.accept()
        if link is None:
            self.gone = True
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.link_id = link.id
        # What the reader is told of a turn: its reasoning too when the maker included it.
        self.fields = reader_fields(reasoning=link.include_reasoning)
        self.finished_fields = reader_finished_fields(reasoning=link.include_reasoning)
        self.conversation_id = link.conversation_id
        self.group = conversation_group(link.conversation_id)
        groups = [self.group, share_group(link.id), maker_group(link.created_by_id)]
        if self.user is not None and self.user.is_authenticated:
            groups.append(user_group(self.user.pk))
        for group in groups:
            if group == self.group:
                await join_group(self, group)
            else:
                await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        # Checked again now that the socket is in the groups: a change committed before it joined
        # is seen here, one committed after is announced to the groups.
        found = await _live_scope(self.user, self.token)
        if found is None:
            await self._gone(GONE)
            return
        self.in_scope, self.subtree = found
        await control.ensure_listener()
        if link.expires_at is not None:
            delay = max(0.0, (link.expires_at - timezone.now()).total_seconds())
            self.expiry = asyncio.get_running_loop().call_later(
                delay, lambda: asyncio.ensure_future(self._gone("This link has expired."))
            )
        # Members see that someone watches through a link; the reader is told nothing of them.
        await self.presence_announce({"name": "Someone with a link", "kind": "link"})

    async def disconnect(self, code) -> None:
        await self._leave()

    async def _leave(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        if self.groups_joined:
            await self.presence_leave_group()
        groups, self.groups_joined = self.groups_joined, []
        for group in groups:
            if group == self.group:
                await leave_group(self, group)
            else:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def presence_show(self, frame: dict) -> None:
        return

    async def send_json(self, content, close: bool = False) -> None:
        # Nothing after `share.gone`, not even a message the layer delivered before we left.
        if not self.gone:
            await super().send_json(content, close=close)

    async def _gone(self, message: str) -> None:
        """The link no longer works: out of its groups first, then say so and close (4404)."""
        if self.gone:
            return
        self.gone = True
        await self._leave()
        await super().send_json({"type": "share.gone", "error": message})
        await self.close(code=CLOSE_NOT_FOUND)

    async def _error(self, message: str, *, code: str) -> None:
        await self.send_json({"type": "error", "code": code, "error": message})

    def _shows(self, turn_id: int, parent_id: int | None = None) -> bool:
        if self.in_scope is None or turn_id in self.in_scope:
            return True
        if parent_id in self.subtree:
            self.subtree.add(turn_id)  # a new turn below the shared subtree joins it
            self.in_scope.add(turn_id)
            return True
        return False

    def frame_chars(self) -> int:
        return MAX_FRAME

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if not self.gone:
            await super().receive(text_data, bytes_data, **kwargs)

    async def receive_json(self, content, **kwargs) -> None:
        try:
            if await _live_link(self.user, self.token) is None:  # checked on every frame
                await self._gone(GONE)
                return
            action = parse_action(content)
            if action.name != "resume":
                await self._error("A shared page is read-only.", code="read_only")
                return
            assert action.turn is not None  # parse_action requires a turn id for resume
            if not self._shows(action.turn):
                raise ServiceError(NOT_SHARED, code="not_found")
            shows_reasoning = "reasoning" in self.fields
            await resume(self, self.conversation_id, action.turn, action.offset,
                         reasoning_offset=action.reasoning_offset if shows_reasoning else None,
                         finished=lambda payload: only(payload, self.finished_fields))
        except ServiceError as exc:
            # A bad frame is answered with its problem. A turn that does not exist, or no longer,
            # or is in another conversation: the reader is told no more than that it is not
            # shared here.
            await self._error(NOT_SHARED if exc.code == "not_found" else exc.message, code=exc.code)
        except Exception:
            # Whatever went wrong, the socket stays open and says so.
            logger.exception("Action failed on share link %s", self.link_id)
            await self._error("The server could not carry that out. Try again.", code="server_error")

    # Group messages, filtered to the link's scope and to what a reader may see.
    async def turn_created(self, message) -> None:
        turn = message["turn"]
        if self._shows(turn["id"], turn["parent"]):
            await self.send_json({"type": "turn.created", "turn": only(turn, self.fields)})

    async def stream_delta(self, message) -> None:
        if self._shows(message["turn"]):
            await self.send_json(
                frame_of(message)
            )

    async def stream_reasoning(self, message) -> None:
        if "reasoning" in self.fields and self._shows(message["turn"]):
            await self.send_json(reasoning_frame(message["turn"], message["offset"], message["text"]))

    async def turn_finished(self, message) -> None:
        if self._shows(message["turn"]["id"]):
            await self.send_json(finished_frame(only(message["turn"], self.finished_fields)))

    async def conversation_event(self, message) -> None:
        event = message["event"]
        if event["type"] == "turn.deleted" and self._shows(event["turn"]):
            await self.send_json({"type": "turn.deleted", "turn": event["turn"], "parent": event["parent"]})
        elif event["type"] == "review.comment" and self._shows(event["comment"]["turn"]):
            scope = None if self.in_scope is None else set(self.in_scope)
            works, frame = await _comment_for_reader(self.user, self.token, event, scope)
            if not works:
                await self._gone(GONE)
            elif frame is not None:
                await self.send_json(frame)

    async def share_revoked(self, message) -> None:
        await self._gone(
            "This link was revoked by the person who shared it. Ask them for a new link if you still need it."
        )

    async def share_check(self, message) -> None:
        """Something that can end the link happened (its maker's role, its deletion): ask again."""
        if await _live_link(self.user, self.token) is None:
            await self._gone(GONE)

    async def access_changed(self, message) -> None:
        if await _live_link(self.user, self.token) is None:
            await self._gone("This link is no longer available to you.")
