"""The person's own socket, /ws/me/, open on every page they are signed in on: it says how many
notifications they have not read, on connect and whenever that changes. It takes no actions.

A socket of its own rather than the conversation's: the badge is in the header of every page, most
of which have no conversation open; and the person's `user_group` must stay free of messages that
the conversation and share sockets in it would have no handler for."""
from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from conversations.review.frames import inbox_frame
from conversations.review.selectors import inbox_unread
from conversations.streaming.groups import inbox_group
from conversations.streaming.sockets import CLOSE_UNAUTHENTICATED, Dispatches, SendsUntilClosed


class InboxConsumer(Dispatches, SendsUntilClosed, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.group = None
        await self.accept()
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        # In the group before counting: a change after the count is announced to the group.
        self.group = inbox_group(self.user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json(inbox_frame(await database_sync_to_async(inbox_unread)(self.user)))

    async def disconnect(self, code) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """Nothing to act on: frames from the page are ignored."""

    async def inbox_count(self, message) -> None:
        await self.send_json(inbox_frame(message["unread"]))
