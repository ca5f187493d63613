"""How a conversation's live messages reach its open sockets: those of this process directly, those
of other processes through the channel layer.

A reply sends a frame every coalescing window to every socket on its conversation. Through the
channel layer, each of those costs, per socket, a deep copy and a queue (in memory) or a Redis round
trip (scaled out), then the consumer's dispatch, before its handler runs. The sockets of the process
that makes a message are called here directly instead, in the order the messages are made. The
channel layer carries a message only when other processes may have sockets on the conversation,
marked with this process's id so that this process's own sockets, already served, skip their copy
(sockets.Dispatches).
"""
from __future__ import annotations

import logging
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from conversations.streaming.liveness import PROCESS_ID

logger = logging.getLogger(__name__)

# The key that marks a message delivered through the channel layer by a process that has already
# delivered it to its own sockets.
RELAYED_BY = "relayed_by"


# group → the consumers of this process on it, in joining order (a dict as an ordered set); a
# message of type "a.b" is handled by a consumer's method `a_b`, as channels does.
_members: dict[str, dict[Any, None]] = {}


def spans_processes() -> bool:
    """Whether sockets on one conversation may be held by several server processes (Redis)."""
    return bool(settings.REDIS_URL)


def join(group: str, consumer: Any) -> None:
    _members.setdefault(group, {})[consumer] = None


def leave(group: str, consumer: Any) -> None:
    members = _members.get(group)
    if members is not None:
        members.pop(consumer, None)
        if not members:
            del _members[group]


def local_count(group: str) -> int:
    return len(_members.get(group, ()))


def handler_name(message: dict) -> str:
    """The consumer method that handles `message` (channels' own rule: "a.b" → `a_b`)."""
    name = message["type"].replace(".", "_")
    if name.startswith("_"):
        raise ValueError("Malformed type in message (leading underscore)")
    return name


async def deliver(group: str, message: dict) -> None:
    """Hand `message` to every socket on `group`: this process's at once, the others' through the
    channel layer when there may be any."""
    name = handler_name(message)
    for consumer in tuple(_members.get(group, ())):
        try:
            await getattr(consumer, name)(message)
        except Exception:
            # One socket's failure is its own: the others, and the reply, go on.
            logger.exception("Could not hand %s to a socket", message["type"])
    if spans_processes():
        await get_channel_layer().group_send(group, {**message, RELAYED_BY: PROCESS_ID})


def already_delivered(message: dict) -> bool:
    """A channel-layer copy of a message this process delivered to its own sockets directly."""
    return message.get(RELAYED_BY) == PROCESS_ID
