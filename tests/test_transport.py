"""The SDKs' HTTP/1.1 transport against a scripted server on 127.0.0.1: body framings, keep-alive
and stale connections, timeouts, broken responses, interim answers and TLS. (Every provider test
also runs through it, against the fake upstream.)"""
from __future__ import annotations

import asyncio
import datetime
import ssl

import httpx2
import pytest

from conversations.providers import transport as transport_module
from conversations.providers.transport import StreamingTransport
from tests.wsclient import WAIT


class Script:
    """A server that answers each request on a connection with the next of `answers`: a list of
    byte strings written with a short pause between them (None: close the connection; ...: go
    silent)."""

    def __init__(self, *answers: list) -> None:
        self.answers = list(answers)
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Script:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=getattr(self, "tls", None))
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    @property
    def url(self) -> str:
        port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if getattr(self, 'tls', None) else 'http'}://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                self.requests.append(head + await reader.readexactly(length))
                for part in self.answers.pop(0):
                    if part is None:
                        writer.close()
                        return
                    if part is ...:
                        await asyncio.sleep(30)
                    writer.write(part)
                    await writer.drain()
                    await asyncio.sleep(0.01)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def client(**options) -> httpx2.AsyncClient:
    # A generous timeout: these tests expect answers (or errors other than a timeout), and a busy
    # machine can be slow to give them. The timeout tests below use clients of their own.
    return httpx2.AsyncClient(transport=StreamingTransport(**options), timeout=httpx2.Timeout(WAIT))


async def read_pieces(http: httpx2.AsyncClient, url: str, method: str = "GET") -> tuple[httpx2.Response, list[bytes]]:
    async with http.stream(method, url) as response:
        return response, [piece async for piece in response.aiter_raw()]


OK_CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"


async def test_a_chunked_body_split_anywhere_arrives_whole():
    body = [OK_CHUNKED + b"5;ext=1\r\nhel", b"lo\r\n6\r", b"\n world\r\n0\r\nTrailer: x\r\n", b"\r\n"]
    async with Script(body) as server, client() as http:
        response, pieces = await read_pieces(http, server.url)
    assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream"
    assert b"".join(pieces) == b"hello world"


async def test_chunks_that_arrived_together_come_out_as_one_piece():
    together = b"".join(b"%x\r\n%s\r\n" % (len(word), word) for word in (b"one ", b"two ", b"three"))
    async with Script([OK_CHUNKED + together + b"0\r\n\r\n"]) as server, client() as http:
        _, pieces = await read_pieces(http, server.url)
    assert pieces == [b"one two three"]


async def test_a_connection_is_kept_alive_and_reused():
    answer = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]
    async with Script(answer, answer, answer) as server, client() as http:
        for _ in range(3):
            response = await http.post(server.url + "/v1/x?q=1", content=b'{"a": 1}')
            assert response.content == b"ok"
    assert server.connections == 1
    request = server.requests[0]
    assert request.startswith(b"POST /v1/x?q=1 HTTP/1.1\r\n")
    assert b"\r\nContent-Length: 8\r\n" in request and request.endswith(b'\r\n\r\n{"a": 1}')


async def test_connection_close_and_bodies_read_to_the_end_are_not_reused():
    closing = [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na", None]
    until_close = [b"HTTP/1.1 200 OK\r\n\r\nuntil the end", None]
    plain = [b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"]
    async with Script(closing, until_close, plain) as server, client() as http:
        assert (await http.get(server.url)).content == b"a"
        assert (await http.get(server.url)).content == b"until the end"
        assert (await http.get(server.url)).content == b"b"
    assert server.connections == 3


async def test_a_connection_the_server_closed_while_idle_is_replaced(monkeypatch):
    # The server answers and then closes, but the transport only sees that when it reuses it.
    first = [b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", None]
    second = [b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"]
    async with Script(first, second) as server, client() as http:
        assert (await http.get(server.url)).content == b"a"
        monkeypatch.setattr(transport_module._Connection, "open", lambda self: True)  # looks fine
        assert (await http.get(server.url)).content == b"b"
    assert server.connections == 2


async def test_an_idle_connection_past_its_keepalive_is_not_reused(monkeypatch):
    answer = [b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"]
    async with Script(answer, answer) as server, client() as http:
        await http.get(server.url)
        monkeypatch.setattr(transport_module, "KEEPALIVE_SECONDS", 0.0)
        await http.get(server.url)
    assert server.connections == 2


async def test_no_body_for_head_204_and_after_an_interim_answer():
    head = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"]
    no_content = [b"HTTP/1.1 204 No Content\r\n\r\n"]
    interim = [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nnew"]
    async with Script(head, no_content, interim) as server, client() as http:
        response = await http.head(server.url)
        assert (response.status_code, response.content) == (200, b"")
        response = await http.get(server.url)
        assert (response.status_code, response.content) == (204, b"")
        response = await http.post(server.url, content=b"x")
        assert (response.status_code, response.content, response.reason_phrase) == (201, b"new", "Created")
    assert server.connections == 1


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        ([OK_CHUNKED + b"5\r\nhel", None], httpx2.RemoteProtocolError, "without sending complete message body"),
        ([OK_CHUNKED + b"zz\r\nhello\r\n"], httpx2.RemoteProtocolError, "bad chunk size"),
        ([OK_CHUNKED + b"5\r\nhelloXY"], httpx2.RemoteProtocolError, "not followed by CRLF"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", None], httpx2.RemoteProtocolError,
         "without sending complete message body"),
        ([b"HTTX 200 OK\r\n\r\n"], httpx2.RemoteProtocolError, "Malformed status line"),
        ([b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"], httpx2.RemoteProtocolError, "Malformed header line"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n"], httpx2.RemoteProtocolError, "Content-Length"),
        ([None], httpx2.RemoteProtocolError, "without sending a response"),
    ],
)
async def test_a_broken_response_raises_httpx2s_error(answer, error, words):
    async with Script(answer) as server, client() as http:
        with pytest.raises(error, match=words):
            await read_pieces(http, server.url)


async def test_a_silent_server_times_out_waiting_for_the_head_and_mid_body():
    async with Script([...]) as server, httpx2.AsyncClient(
        transport=StreamingTransport(), timeout=httpx2.Timeout(0.2)
    ) as http:
        with pytest.raises(httpx2.ReadTimeout):
            await http.get(server.url)
    stalls_mid_body = [OK_CHUNKED + b"5\r\nhello\r\n", ...]  # and never the rest
    async with Script(stalls_mid_body) as server, httpx2.AsyncClient(
        transport=StreamingTransport(), timeout=httpx2.Timeout(0.2)
    ) as http:
        async with http.stream("GET", server.url) as response:
            pieces = []
            with pytest.raises(httpx2.ReadTimeout):
                async for piece in response.aiter_raw():
                    pieces.append(piece)
        assert pieces == [b"hello"]


async def test_an_unreachable_server_and_a_bad_scheme():
    async with Script() as server:
        url = server.url
    async with client() as http:
        with pytest.raises(httpx2.ConnectError):
            await http.get(url)
        with pytest.raises(httpx2.UnsupportedProtocol):
            await StreamingTransport().handle_async_request(httpx2.Request("GET", "ftp://127.0.0.1/"))


def self_signed(tmp_path) -> tuple[ssl.SSLContext, str]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
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


async def test_https_is_verified(tmp_path):
    server_context, cert_file = self_signed(tmp_path)
    answer = [OK_CHUNKED + b"3\r\nTLS\r\n0\r\n\r\n"]
    script = Script(answer, answer)
    script.tls = server_context
    async with script as server:
        async with client(verify=ssl.create_default_context(cafile=cert_file)) as http:
            assert (await http.get(server.url)).content == b"TLS"
        async with client() as http:  # the system's authorities do not know this certificate
            with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await http.get(server.url)
