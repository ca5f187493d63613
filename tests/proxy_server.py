"""A small forward HTTP proxy on 127.0.0.1 for tests, as a corporate proxy behaves: absolute-form
requests (`POST http://host:port/path HTTP/1.1`) are relayed to the origin, `CONNECT host:port`
opens a tunnel. Every request it relays is recorded, so a test can tell whether a client went
through it. It relays only to loopback addresses; given credentials, it refuses (407) a request
without them.

Also a TLS front: an https:// address on 127.0.0.1 that relays the decrypted bytes to a plain
HTTP server, so a request to an https URL (direct, or tunnelled with CONNECT) can reach the fake
upstream; `self_signed` makes its certificate.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

_CRLF = b"\r\n"
_HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"proxy-authorization", b"te", b"upgrade"}


@dataclass(frozen=True)
class Relayed:
    method: str
    target: str  # the absolute URL, or host:port for CONNECT


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(64 * 1024):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def _splice(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int,
                  *, reply: bytes = b"") -> None:
    """Both directions between a client and host:port, until either side closes; `reply` is
    said to the client once the connection to host:port is open."""
    upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
    if reply:
        writer.write(reply)
        await writer.drain()
    await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


class _Server:
    """An asyncio server on 127.0.0.1 that closes every connection it handled when it stops."""

    ssl_context: ssl.SSLContext | None = None

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def __aenter__(self):
        self._server = await asyncio.start_server(self._track, "127.0.0.1", 0, ssl=self.ssl_context)
        return self

    async def __aexit__(self, *exc) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def _track(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class ForwardProxy(_Server):
    """`async with ForwardProxy() as proxy:` then `HTTP_PROXY=proxy.url`; `proxy.relayed` lists
    what it relayed, in order. One request per connection: it answers `Connection: close`."""

    def __init__(self, *, credentials: str = "") -> None:
        super().__init__()
        self.relayed: list[Relayed] = []
        self.refused: list[Relayed] = []  # asked without the credentials
        self._authorization = b"Basic " + base64.b64encode(credentials.encode()) if credentials else b""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(_CRLF + _CRLF)
        request_line, *header_lines = head[:-4].split(_CRLF)
        method, target, version = request_line.decode("latin-1").split(" ")
        if self._authorization and not any(
            name.strip().lower() == b"proxy-authorization" and value.strip() == self._authorization
            for name, _, value in (line.partition(b":") for line in header_lines)
        ):
            self.refused.append(Relayed(method, target))
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            return
        self.relayed.append(Relayed(method, target))
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            if not _loopback(host):
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            await _splice(reader, writer, host.strip("[]"), int(port),
                          reply=b"HTTP/1.1 200 Connection Established\r\n\r\n")
            return
        url = urlsplit(target)
        if url.scheme != "http" or not url.hostname or not _loopback(url.hostname):
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        headers = [line for line in header_lines if line.split(b":", 1)[0].strip().lower() not in _HOP_BY_HOP]
        length = next((int(line.split(b":", 1)[1]) for line in headers
                       if line.split(b":", 1)[0].strip().lower() == b"content-length"), 0)
        body = await reader.readexactly(length)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        upstream_reader, upstream_writer = await asyncio.open_connection(url.hostname, url.port or 80)
        try:
            # One request per connection on both sides: the answer's end is the connection's end.
            request_head = [f"{method} {path} {version}".encode(), *headers, b"Connection: close"]
            upstream_writer.write(_CRLF.join(request_head) + _CRLF + _CRLF + body)
            await upstream_writer.drain()
            answer_head = await upstream_reader.readuntil(_CRLF + _CRLF)
            status_line, *answer_headers = answer_head[:-4].split(_CRLF)
            kept = [line for line in answer_headers if line.split(b":", 1)[0].strip().lower() not in _HOP_BY_HOP]
            writer.write(_CRLF.join([status_line, *kept, b"Connection: close"]) + _CRLF + _CRLF)
            await _pipe(upstream_reader, writer)
        finally:
            upstream_writer.close()


class TLSFront(_Server):
    """https://127.0.0.1:port in front of a plain HTTP server on 127.0.0.1:`origin_port`."""

    def __init__(self, ssl_context: ssl.SSLContext, origin_port: int) -> None:
        super().__init__()
        self.ssl_context = ssl_context
        self._origin_port = origin_port

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ssl.SSLError):
            await _splice(reader, writer, "127.0.0.1", self._origin_port)


def self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, str]:
    """A certificate for 127.0.0.1 that no authority signed: a server context that presents it,
    and the file of the certificate, for a client to trust."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return server, str(cert_file)
