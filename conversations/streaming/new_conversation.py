"""The socket of a conversation not yet stored: /ws/workspaces/<id>/conversations/new/.

"+ New conversation" opens a page (/c/new/) with a composer and no conversation: nothing is stored
until the first message. That page's socket takes one `send` (the conversation socket's frame, with
"parent": null), creates the conversation with its first prompt and replies in one transaction
(services.conversation_start), starts the replies, and answers

  {"type": "conversation.created", "conversation": id, "url": "/c/<id>/", "request_id": ...}

(for a fan-out, "url" is the comparison of its replies). The page then opens it, and its socket
resumes the replies by offset as after any reload. A send refused (an unknown model, too many replies streaming, ...) is
answered with an `error` frame, and nothing is stored.
"""
from __future__ import annotations

import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.urls import reverse

from conversations import services
from conversations.errors import ServiceError
from conversations.permissions import Need, workspace_for
from conversations.streaming import generation
from conversations.streaming.protocol import frame_limit, parse_action
from conversations.streaming.sockets import (
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    Dispatches,
    FrameBudget,
    ReadsFrames,
    SendsUntilClosed,
    echoed_request_id,
)

logger = logging.getLogger(__name__)


@database_sync_to_async
def _workspace(user, workspace_id: int):
    return workspace_for(user, workspace_id, need=Need.WRITE)


class NewConversationConsumer(Dispatches, ReadsFrames, SendsUntilClosed, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.budget = FrameBudget(settings.WS_FRAMES_PER_SECOND)
        self.user = self.scope.get("user")
        self.workspace_id = int(self.scope["url_route"]["kwargs"]["workspace_id"])
        self.started: int | None = None  # the conversation this socket created
        signed_in = self.user is not None and self.user.is_authenticated
        # Accept, then close, so the code reaches the page: 4401 sign in, 4404 no workspace you may
        # start conversations in (a viewer's included).
        await self.accept()
        if not signed_in:
            await self.close(code=CLOSE_UNAUTHENTICATED)
        elif await _workspace(self.user, self.workspace_id) is None:
            await self.close(code=CLOSE_NOT_FOUND)

    def frame_chars(self) -> int:
        return frame_limit()

    async def receive_json(self, content, **kwargs) -> None:
        request_id = echoed_request_id(content)
        try:
            action = parse_action(content)
            if action.name != "send" or action.parent is not None:
                raise ServiceError(
                    'A new conversation starts with its first message: a "send" with "parent": null.',
                    code="invalid",
                )
            if self.started is not None:
                raise ServiceError(
                    "This conversation has started: continue it on its own page.", code="started"
                )
            # Checked on every action, not cached from connect.
            workspace = await _workspace(self.user, self.workspace_id)
            if workspace is None:
                await self._error(
                    "You can no longer start conversations in this workspace.", code="not_found", request_id=request_id
                )
                await self.close(code=CLOSE_NOT_FOUND)
                return
            started = await database_sync_to_async(services.conversation_start)(
                owner=self.user, workspace=workspace, content=action.content, variants=list(action.variants),
                attachments=action.attachments, text_only=action.text_only,
            )
            self.started = conversation_id = started.conversation.id
            replies = [prepared.reply.id for prepared in started.sent.replies]
            # Where it opens: the conversation, or for a fan-out its replies side by side (as a fan-out
            # sent on the conversation's page opens them).
            url = reverse("conversation", args=[conversation_id])
            if len(replies) > 1:
                url = f"{reverse('compare', args=[conversation_id])}?tips={','.join(map(str, replies))}"
            # Stored, so they stream whatever becomes of this socket (its page catches up by offset):
            # the models are asked first, and the page told while the requests are on their way.
            for prepared in started.sent.replies:
                generation.generation_start(prepared)
            await self.send_json({
                "type": "conversation.created", "conversation": conversation_id, "url": url,
                "request_id": request_id,
            })
        except ServiceError as exc:
            await self._error(exc.message, code=exc.code, request_id=request_id)
        except Exception:
            logger.exception("Could not start a conversation in workspace %s", self.workspace_id)
            await self._error(
                "The server could not carry that out. Try again.", code="server_error", request_id=request_id
            )

    async def _error(self, message: str, *, code: str, request_id: str = "") -> None:
        await self.send_json({"type": "error", "code": code, "error": message, "request_id": request_id})
