"""The one permission check, used by every HTTP view and every websocket action."""
from __future__ import annotations

from enum import Enum

from conversations.models import Conversation


class Need(Enum):
    READ = "read"
    WRITE = "write"


def conversation_for(user, conversation_id: int, *, need: Need) -> Conversation | None:
    """The conversation if `user` may do what `need` says with it, else None.

    Callers answer None with 404 (HTTP) or a not-found close/error (websocket), never 403: an id
    that is not yours reveals nothing, not even that it exists.
    """
    if user is None or not user.is_authenticated:
        return None
    try:
        return Conversation.objects.get(pk=conversation_id, owner=user)
    except (Conversation.DoesNotExist, ValueError, TypeError):
        return None
