"""Stop and resume replies that another server process is generating.

With several daphne processes sharing Redis, a reply lives in the process that started it, while
the sockets asking to stop it or to catch up on it may be connected to any process. Every process
listens on one control group; the process running the reply acts on what it hears there. With the
in-memory channel layer there is one process, and everything is local.
"""
from __future__ import annotations

import asyncio
import logging
import weakref

from channels.layers import get_channel_layer

from conversations.streaming import generation
from conversations.streaming.relay import spans_processes

logger = logging.getLogger(__name__)

__all__ = ["spans_processes"]  # read from here by the consumers

CONTROL_GROUP = "workbench.replies"
_listeners: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def ensure_listener() -> None:
    """Start this process's control listener (once per event loop)."""
    if not spans_processes():
        return
    loop = asyncio.get_running_loop()
    task = _listeners.get(loop)
    if task is not None and not task.done():
        return
    # Claimed before the first await, so sockets connecting at once start one listener, not several.
    _listeners[loop] = asyncio.create_task(_start_listening(), name="reply-control")


async def _start_listening() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(CONTROL_GROUP, channel)
    await _listen(layer, channel)


async def _listen(layer, channel: str) -> None:
    while True:
        message = await layer.receive(channel)
        try:
            await _handle(layer, message)
        except Exception:
            logger.exception("Could not act on %s", message.get("type"))


async def _handle(layer, message: dict) -> None:
    running = generation.running(message["turn"])
    if running is None:
        return
    if message["type"] == "reply.stop":
        running.stop()
    elif message["type"] == "reply.resume":
        for missing in running.catch_up(message["offset"], message.get("reasoning_offset")):
            await layer.send(message["reply_to"], missing)


async def request_stop(turn_id: int) -> None:
    await get_channel_layer().group_send(CONTROL_GROUP, {"type": "reply.stop", "turn": turn_id})


async def request_resume(turn_id: int, offset: int, reasoning_offset: int | None, reply_to: str) -> None:
    await get_channel_layer().group_send(
        CONTROL_GROUP,
        {"type": "reply.resume", "turn": turn_id, "offset": offset, "reasoning_offset": reasoning_offset,
         "reply_to": reply_to},
    )
