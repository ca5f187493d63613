"""The SDKs' HTTP/1.1 transport: their requests on asyncio streams, each read of a streamed body
taking every byte that has arrived.

The SDKs keep building the requests, retrying them and raising their typed errors; only the bytes
on the wire go through here. httpx2's own transport hands a streamed body over one HTTP chunk at a
time, each through h11, httpcore and anyio: with a model sending a chunk per token, that was the
largest cost of relaying a reply. Here a read decodes all the chunks that are in (the reader of a
reply waits between reads, see `sse.ReadPacer`, so there are several) and yields them as one piece.

Connections are kept alive and reused per host for `KEEPALIVE_SECONDS`; one that the server closed
while idle is replaced and the request sent again, as nothing of it was read.

It connects only directly: it knows no proxy. A client that holds it reads nothing of the
environment's proxy variables by itself (httpx2 skips them when given a transport), so
`sdk.http_client` mounts httpx2's own proxy transport for the requests that HTTP_PROXY,
HTTPS_PROXY, ALL_PROXY and NO_PROXY send through a proxy; the rest come here.
"""
from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2

KEEPALIVE_SECONDS = 5.0
MAX_IDLE_PER_HOST = 100
READ_SIZE = 64 * 1024
MAX_HEAD_BYTES = 64 * 1024

_CRLF = b"\r\n"
_NO_BODY_STATUS = (204, 304)


class _Connection:
    __slots__ = ("reader", "writer", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def open(self) -> bool:
        """Neither side has closed it."""
        return not self.writer.is_closing() and not self.reader.at_eof()

    def usable(self) -> bool:
        """Fit to send a request on: open, and not idle for longer than servers keep it."""
        return self.open() and time.monotonic() - self.idle_since < KEEPALIVE_SECONDS

    def close(self) -> None:
        self.writer.close()


class _StaleConnection(Exception):
    """A reused connection was closed by the server before it answered."""


class StreamingTransport(httpx2.AsyncBaseTransport):
    def __init__(self, *, verify: ssl.SSLContext | str | bool = True) -> None:
        self._verify = verify
        self._ssl: ssl.SSLContext | None = None
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx2.create_ssl_context(verify=self._verify)
        return self._ssl

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx2.UnsupportedProtocol(f"Request URL has an unsupported protocol '{url.scheme}://'.")
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        payload = _request_bytes(request, await request.aread())
        while True:
            connection, reused = self._pooled(key), True
            if connection is None:
                connection, reused = await self._connect(request, key, timeouts.get("connect")), False
            try:
                return await self._exchange(request, connection, key, payload, timeouts, reused=reused)
            except _StaleConnection:
                connection.close()  # and send it again on a fresh one

    def _pooled(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.usable():
                return connection
            connection.close()
        return None

    def _release(self, key: tuple[str, str, int], connection: _Connection) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) >= MAX_IDLE_PER_HOST or not connection.open():
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def _connect(self, request: httpx2.Request, key: tuple[str, str, int], timeout: float | None) -> _Connection:
        scheme, host, port = key
        tls: dict[str, Any] | None = None
        if scheme == "https":
            tls = {"ssl": self._ssl_context(), "server_hostname": request.extensions.get("sni_hostname") or host}
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD_BYTES, **(tls or {}))
        except TimeoutError as exc:
            raise httpx2.ConnectTimeout(f"Timed out connecting to {host}:{port}", request=request) from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx2.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        return _Connection(reader, writer)

    async def _exchange(self, request: httpx2.Request, connection: _Connection, key, payload: bytes,
                        timeouts: dict, *, reused: bool) -> httpx2.Response:
        try:
            connection.writer.write(payload)
            async with asyncio.timeout(timeouts.get("write")):
                await connection.writer.drain()
        except TimeoutError as exc:
            connection.close()
            raise httpx2.WriteTimeout("Timed out sending the request", request=request) from exc
        except OSError as exc:
            if reused:
                raise _StaleConnection from exc
            connection.close()
            raise httpx2.WriteError(str(exc) or type(exc).__name__, request=request) from exc
        read_timeout = timeouts.get("read")
        try:
            while True:
                try:
                    async with asyncio.timeout(read_timeout):
                        head = await connection.reader.readuntil(_CRLF + _CRLF)
                except asyncio.IncompleteReadError as exc:
                    if reused and not exc.partial:
                        raise _StaleConnection from exc
                    raise httpx2.RemoteProtocolError("Server disconnected without sending a response.",
                                                     request=request) from exc
                except ConnectionError as exc:
                    if reused:
                        raise _StaleConnection from exc
                    raise
                status, reason, headers, version = _parse_head(head, request)
                if 100 <= status < 200 and status != 101:
                    continue  # 100 Continue and other interim answers: the real one follows
                break
        except TimeoutError as exc:
            connection.close()
            raise httpx2.ReadTimeout("Timed out waiting for the response", request=request) from exc
        except asyncio.LimitOverrunError as exc:
            connection.close()
            raise httpx2.RemoteProtocolError("The response's head is too large.", request=request) from exc
        except OSError as exc:
            connection.close()
            raise httpx2.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        except httpx2.HTTPError:
            connection.close()
            raise

        names = {name.lower(): value for name, value in headers}
        keep_alive = version == b"HTTP/1.1" and b"close" not in names.get(b"connection", b"").lower()
        if request.method == "HEAD" or status in _NO_BODY_STATUS:
            framing: _Framing = _Length(0)
        elif b"chunked" in names.get(b"transfer-encoding", b"").lower():
            framing = _Chunked()
        elif b"content-length" in names:
            try:
                framing = _Length(int(names[b"content-length"]))
            except ValueError as exc:
                connection.close()
                raise httpx2.RemoteProtocolError("Malformed Content-Length.", request=request) from exc
        else:
            framing, keep_alive = _UntilClose(), False
        body = _Body(self, key, connection, framing, request, read_timeout, keep_alive)
        return httpx2.Response(
            status, headers=headers, stream=body, request=request,
            extensions={"http_version": version, "reason_phrase": reason},
        )

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


def _request_bytes(request: httpx2.Request, body: bytes) -> bytes:
    url = request.url
    target = url.raw_path or b"/"
    lines = [request.method.encode("ascii") + b" " + target + b" HTTP/1.1"]
    for name, value in request.headers.raw:
        if name.lower() == b"transfer-encoding":  # the body was read whole: its length is known
            continue
        lines.append(name + b": " + value)
    if body and b"content-length" not in {name.lower() for name, _ in request.headers.raw}:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return _CRLF.join(lines) + _CRLF + _CRLF + body


def _parse_head(head: bytes, request: httpx2.Request) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes]:
    status_line, *header_lines = head[:-4].split(_CRLF)
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise httpx2.RemoteProtocolError(f"Malformed status line: {status_line[:80]!r}", request=request)
    headers = []
    for line in header_lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise httpx2.RemoteProtocolError(f"Malformed header line: {line[:80]!r}", request=request)
        headers.append((name, value.strip()))
    return int(parts[1]), parts[2] if len(parts) > 2 else b"", headers, parts[0]


class _Framing:
    """Turns what arrives on the connection into body bytes; `done` once the body has ended."""

    done = False

    def feed(self, data: bytes) -> bytes:
        raise NotImplementedError

    def eof(self) -> None:
        """The connection closed: fine only if the body was complete."""
        raise _Truncated


class _Truncated(Exception):
    pass


class _Length(_Framing):
    def __init__(self, length: int) -> None:
        self.left = length
        self.done = length == 0
        self.buffer = b""  # what came after the body: the connection is then not reused

    def feed(self, data: bytes) -> bytes:
        body, self.buffer = data[: self.left], data[self.left:]
        self.left -= len(body)
        self.done = self.left == 0
        return body


class _UntilClose(_Framing):
    def feed(self, data: bytes) -> bytes:
        return data

    def eof(self) -> None:
        self.done = True


class _Chunked(_Framing):
    """Chunked transfer coding (RFC 9112 §7.1): sizes, extensions, data and trailers."""

    def __init__(self) -> None:
        self.buffer = b""
        self.left = 0  # bytes still to come of the current chunk's data
        self.state = "size"  # size, data, data-end, trailers

    def feed(self, data: bytes) -> bytes:
        buffer = self.buffer + data if self.buffer else data
        out = []
        at = 0
        while True:
            if self.state == "data":
                take = buffer[at: at + self.left]
                if take:
                    out.append(take)
                    self.left -= len(take)
                    at += len(take)
                if self.left:
                    break
                self.state = "data-end"
            if self.state == "data-end":
                if len(buffer) - at < 2:
                    break
                if buffer[at: at + 2] != _CRLF:
                    raise _Malformed("chunk data not followed by CRLF")
                at += 2
                self.state = "size"
            end = buffer.find(_CRLF, at)
            if end < 0:
                if len(buffer) - at > 4096:
                    raise _Malformed("chunk size line too long")
                break
            line = buffer[at:end]
            at = end + 2
            if self.state == "trailers":
                if not line:
                    self.done = True
                    break
                continue
            size = line.split(b";", 1)[0].strip()
            try:
                self.left = int(size, 16)
            except ValueError:
                raise _Malformed(f"bad chunk size {size[:20]!r}") from None
            if self.left < 0:
                raise _Malformed("negative chunk size")
            self.state = "data" if self.left else "trailers"
        self.buffer = buffer[at:]
        return b"".join(out)


class _Malformed(Exception):
    pass


class _Body(httpx2.AsyncByteStream):
    def __init__(self, transport: StreamingTransport, key, connection: _Connection, framing: _Framing,
                 request: httpx2.Request, read_timeout: float | None, keep_alive: bool) -> None:
        self._transport = transport
        self._key = key
        self._connection = connection
        self._framing = framing
        self._request = request
        self._read_timeout = read_timeout
        self._keep_alive = keep_alive
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        framing, reader, request = self._framing, self._connection.reader, self._request
        try:
            while not framing.done:
                async with asyncio.timeout(self._read_timeout):
                    data = await reader.read(READ_SIZE)
                if not data:
                    framing.eof()
                    break
                body = framing.feed(data)
                if body:
                    yield body
        except TimeoutError as exc:
            self._keep_alive = False
            raise httpx2.ReadTimeout("Timed out reading the response", request=request) from exc
        except _Truncated as exc:
            self._keep_alive = False
            raise httpx2.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from exc
        except _Malformed as exc:
            self._keep_alive = False
            raise httpx2.RemoteProtocolError(f"Malformed chunked body: {exc}", request=request) from exc
        except OSError as exc:
            self._keep_alive = False
            raise httpx2.ReadError(str(exc) or type(exc).__name__, request=request) from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._keep_alive and self._framing.done and not getattr(self._framing, "buffer", b""):
            # The whole body was read and nothing after it: the connection can serve another.
            self._transport._release(self._key, self._connection)
        else:
            self._connection.close()
