"""The per-chunk hot loop of a streamed reply: server-sent events read from the raw bytes and their
JSON decoded with orjson, with no typed object per chunk.

The SDKs still send the request (auth, base URL, retries, typed HTTP errors); the providers read the
body of their raw streaming response through this module. It reads events as the SDKs' own decoders
do, so both paths see the same events: CR, LF or CRLF end a line, a blank line ends an event, data
lines are joined with a newline, comments and other fields are skipped, and an event the stream
never finished with a blank line is dropped.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import orjson

# What a finished stream may still send after its last event, read within this time so that the
# connection goes back to the pool (an unread HTTP/1.1 response has to be closed instead).
DRAIN_SECONDS = 0.1

SSEEvent = tuple[bytes | None, bytes]  # (event name or None, data)


class SSEDecoder:
    """Splits the bytes of a stream, as they arrive, into (event name, data) pairs."""

    __slots__ = ("_tail", "_cr", "_name", "_data", "_id", "_retry")

    def __init__(self) -> None:
        self._tail = b""  # an unfinished line
        self._cr = False  # the last chunk ended with CR: a LF opening the next one ends no line
        self._name: bytes | None = None
        self._data: bytes | None = None
        # As in the SDKs' decoders, a retry field makes an event of the next blank line, and so does
        # every blank line while the last id seen is not empty.
        self._id = False
        self._retry = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events that this chunk completes."""
        if self._cr:
            self._cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            self._cr = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = (self._tail + chunk if self._tail else chunk).split(b"\n")
        self._tail = lines.pop()
        events: list[SSEEvent] = []
        name, data = self._name, self._data
        for line in lines:
            if line[:5] == b"data:":  # nearly every line
                value = line[6:] if line[5:6] == b" " else line[5:]
                data = value if data is None else data + b"\n" + value
            elif not line:
                if data is not None or name is not None or self._id or self._retry:
                    events.append((name, b"" if data is None else data))
                    name = data = None
                    self._retry = False
            else:
                field, _, value = line.partition(b":")
                if value[:1] == b" ":
                    value = value[1:]
                if field == b"event":
                    name = value or None
                elif field == b"data":  # "data" alone: an empty data line
                    data = value if data is None else data + b"\n" + value
                elif field == b"id" and b"\0" not in value:
                    self._id = bool(value)
                elif field == b"retry":
                    self._retry = self._retry or _is_int(value)
                # ":" opens a comment, and other fields are ignored.
        self._name, self._data = name, data
        return events


def _is_int(value: bytes) -> bool:
    try:
        int(value.decode())
    except ValueError:  # UnicodeDecodeError is one
        return False
    return True


def loads(data: bytes) -> Any:
    """The JSON of one event, read with orjson."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # Read again by the standard library, as the SDKs read events: a malformed event is
        # reported in the same words, and what only the standard library accepts (NaN, integers
        # beyond 64 bits, lone surrogates) is read as they would read it.
        return json.loads(data.decode())


class ReadPacer:
    """Spaces the network reads of a reply's stream once its text flows.

    A model sends each token as soon as it has it, so reading as fast as bytes arrive costs a
    wake-up of the reading task and a pass through the HTTP client's stream (aiohttp's reader,
    then httpx2's response) per token. After the first token (read at once: it is what a person
    waits for), whenever a chunk had to be waited for, the reader waits `interval`
    (WORKBENCH_READ_INTERVAL_SECONDS) before the next read; the chunks that arrived meanwhile are
    then taken from the buffers without waiting. The page gets at most one frame per coalescing
    window anyway, so text reaches it at most one interval later.
    """

    __slots__ = ("interval", "flowing", "_asked")

    # A chunk that took longer than this to come was waited for (a buffered one comes at once).
    WAITED = 0.0005

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.flowing = False  # set by the provider once it has yielded text
        self._asked = 0.0

    async def pause(self) -> None:
        """Called after each chunk is handled, before the next is asked for."""
        if not self.flowing or self.interval <= 0:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._asked > self.WAITED:
            await asyncio.sleep(self.interval)
        self._asked = loop.time()


async def drain(chunks: AsyncIterator[bytes]) -> None:
    """Read the rest of a finished stream for a moment, so that its connection can be reused."""
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in chunks:
                pass
    except Exception:  # noqa: BLE001 - the reply is complete; cleanup must not turn it into an error
        pass
