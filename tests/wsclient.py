"""Helpers for driving the conversation socket with Channels' WebsocketCommunicator."""
from __future__ import annotations

import asyncio

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from workbench.routing import websocket_urlpatterns

# The consumer without the session middleware: tests put the user in the scope themselves.
router = URLRouter(websocket_urlpatterns)

# How long a test waits for something it expects on a socket before failing. Generous, so that a
# loaded machine is never a failure: waiting ends as soon as what is awaited arrives.
WAIT = 30.0


async def connect(user, conversation_id: int) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(router, f"/ws/conversations/{conversation_id}/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected
    return communicator


async def frames_until(communicator, predicate, *, timeout: float = WAIT) -> list[dict]:
    """Every frame received up to and including the first one that satisfies `predicate`."""
    frames: list[dict] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = await communicator.receive_json_from(timeout=timeout)
            frames.append(frame)
            if predicate(frame):
                return frames


def finished(turn_id: int | None = None):
    def match(frame: dict) -> bool:
        return frame["type"] == "turn.finished" and (turn_id is None or frame["turn"]["id"] == turn_id)

    return match


def assemble(frames: list[dict], turn_id: int, text: str = "") -> str:
    """Apply delta frames the way the page does: by offset in UTF-16 code units (JavaScript's
    string length), ignoring what is already there."""
    units = text.encode("utf-16-le")
    for frame in frames:
        if frame["type"] != "delta" or frame["turn"] != turn_id:
            continue
        offset = frame["offset"] * 2
        assert offset <= len(units), f"gap: have {len(units) // 2} units, frame starts at {offset // 2}"
        units += frame["text"].encode("utf-16-le")[len(units) - offset :]
    return units.decode("utf-16-le")


def created_reply(frames: list[dict]) -> dict:
    return next(f["turn"] for f in frames if f["type"] == "turn.created" and f["turn"]["role"] == "assistant")


async def next_frame(communicator, *, timeout: float = WAIT) -> dict:
    """The next frame that is not about who else is viewing."""
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if not frame["type"].startswith("presence."):
            return frame
