"""The HTTP client under the SDKs (aiohttp, through each SDK's own DefaultAioHttpClient), as the
providers use it, against servers on 127.0.0.1: connections kept alive and replaced once the
server closed them, connect and stall timeouts, TLS verified, answers cut short or not HTTP.
Streamed replies and refused connections are proved in tests/test_providers.py, proxies in
tests/test_proxy.py, all through the same client."""
from __future__ import annotations

import asyncio
import json
import socket
import urllib.request
from typing import Self

import httpx2
import pytest

from conversations.registry import build_registry
from tests.fake_upstream import reply_text
from tests.proxy_server import TLSFront, self_signed
from tests.test_providers import CLOUD, PATH, collect, text_of
from tests.test_proxy import point_providers_at

# One provider of each SDK: each SDK has its own aiohttp adapter, and the others share one of them.
ONE_PER_SDK = ["openai", "anthropic"]
REPLY = reply_text("Hello tree", 12)

# What a scripted connection does, in turn: send an answer to the request it reads (bytes), or
CLOSE_IDLE = "close idle"  # close the connection at once, idle after its last answer
CLOSE_ON_REQUEST = "close on request"  # read a request, then close without answering
SILENT = "silent"  # read a request and never answer


class Script:
    """A server that plays `plans[n]` on its n-th connection: one step after another, then it
    keeps the connection open until the client closes it."""

    def __init__(self, *plans: list) -> None:
        self.plans = list(plans)
        self.connections = 0
        self.requests = 0
        self.url = ""
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task] = set()
        self._open: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._open:  # the connections the client kept: their handlers end
            writer.close()
        await asyncio.gather(*self._handlers)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        plan = self.plans[self.connections] if self.connections < len(self.plans) else []
        self.connections += 1
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        self._open.add(writer)
        try:
            for step in plan:
                if step == CLOSE_IDLE:
                    return
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                self.requests += 1
                if step == CLOSE_ON_REQUEST:
                    return
                if step != SILENT:
                    writer.write(step)
                    await writer.drain()
            await reader.read()  # until the client closes it
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def recorded_reply(upstream, name: str) -> bytes:
    """The fake upstream's streamed reply to "Hello tree" for provider `name`, as a whole HTTP
    answer that keeps the connection open."""
    if name == "anthropic":
        body = {"model": "fake-model", "max_tokens": 100, "stream": True,
                "messages": [{"role": "user", "content": "Hello tree"}]}
        headers = {"x-api-key": "test-key", "anthropic-version": "2023-06-01"}
    else:
        body = {"model": "fake-model", "stream": True, "messages": [{"role": "user", "content": "Hello tree"}]}
        headers = {"authorization": "Bearer test-key"}
    request = urllib.request.Request(upstream.url + PATH[name], data=json.dumps(body).encode(),
                                     headers={**headers, "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        events = response.read()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Content-Length: %d\r\n\r\n" % len(events)) + events


def label_and_where(name: str, url: str) -> str:
    """How an error names the provider and the URL it was reaching."""
    label = build_registry().providers[name].label
    return f"{label} at {url}/v1" if name != "anthropic" else f"{label} at {url}"


@pytest.mark.parametrize("name", CLOUD)
async def test_a_connection_is_kept_alive_from_one_reply_to_the_next(providers, upstream, name):
    provider = providers.providers[name]
    for _ in range(3):
        events, error = await collect(provider)
        assert error is None and text_of(events) == REPLY
    peers = [request["peer"] for request in upstream.requests]
    assert len(peers) == 3 and len(set(peers)) == 1


@pytest.mark.parametrize("name", ONE_PER_SDK)
@pytest.mark.parametrize("closing", [CLOSE_IDLE, CLOSE_ON_REQUEST])
async def test_a_connection_the_server_closed_is_replaced(providers, settings, upstream, name, closing):
    # CLOSE_IDLE: the server closes the kept-alive connection right after its answer, as one whose
    # keep-alive time ran out; the next request follows at once, before the client has seen the
    # close. CLOSE_ON_REQUEST: it closes it as the next request arrives. Either way that request
    # fails on the old connection (aiohttp resends only idempotent methods, and these are POSTs),
    # and the SDK sends it again on a new one, as for any connection error before a reply.
    settings.PROVIDER_MAX_RETRIES = 1
    reply = recorded_reply(upstream, name)
    async with Script([reply, closing], [reply]) as server:
        point_providers_at(settings, server.url)
        provider = build_registry().providers[name]
        for _ in range(2):
            events, error = await collect(provider)
            assert error is None and text_of(events) == REPLY
    assert server.connections == 2


@pytest.mark.parametrize("name", ONE_PER_SDK)
async def test_a_server_that_never_accepts_the_connection_is_a_connect_timeout(providers, settings, name):
    settings.PROVIDER_CONNECT_TIMEOUT = 0.3
    with socket.socket() as listener:
        # A backlog of 0 takes one connection that nobody accepts; later ones are never answered.
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        with socket.create_connection(listener.getsockname()):
            url = f"http://127.0.0.1:{listener.getsockname()[1]}"
            point_providers_at(settings, url)
            events, error = await collect(build_registry().providers[name])
    assert events == []
    assert error is not None and error.message == (
        f"Could not reach {label_and_where(name, url)}: no connection within the connect timeout "
        "(WORKBENCH_CONNECT_TIMEOUT). Check that the server is running and the base URL is right."
    )


@pytest.mark.parametrize("name", ONE_PER_SDK)
async def test_a_server_that_never_answers_is_a_stall(providers, settings, name):
    async with Script([SILENT]) as server:
        point_providers_at(settings, server.url)
        events, error = await collect(build_registry().providers[name])
    assert events == [] and server.requests == 1
    assert error is not None and error.message.startswith(
        f"{label_and_where(name, server.url).replace(' at ', ' stopped sending at ')}: no data arrived "
        "within the stall timeout (WORKBENCH_STALL_TIMEOUT)."
    )


@pytest.mark.parametrize("name", ONE_PER_SDK)
async def test_an_answer_cut_short_keeps_the_text_that_arrived(providers, settings, upstream, name):
    reply = recorded_reply(upstream, name)
    cut = reply[: reply.index(b"data:", len(reply) // 2)]  # about half of the events, then closed
    async with Script([cut, CLOSE_IDLE]) as server:
        point_providers_at(settings, server.url)
        events, error = await collect(build_registry().providers[name])
    text = text_of(events)
    assert text and REPLY.startswith(text) and text != REPLY
    assert error is not None and error.message.startswith(
        f"Could not reach {label_and_where(name, server.url)}: Response payload is not completed"
    )
    assert error.message.endswith("Check that the server is running and the base URL is right.")


@pytest.mark.parametrize("name", ONE_PER_SDK)
async def test_an_answer_that_is_not_http_is_a_connection_error(providers, settings, name):
    async with Script([b"HTTX 200 OK\r\n\r\n"]) as server:
        point_providers_at(settings, server.url)
        events, error = await collect(build_registry().providers[name])
    assert events == []
    assert error is not None and error.message.startswith(
        f"Could not reach {label_and_where(name, server.url)}: 400 Bad status line: "
    )
    assert "b'HTTX 200 OK'" in error.message and "\n" not in error.message


@pytest.mark.parametrize("name", CLOUD)
async def test_https_is_verified(providers, settings, upstream, monkeypatch, tmp_path, name):
    server_context, cert_file = self_signed(tmp_path)
    port = httpx2.URL(upstream.url).port
    assert port is not None
    async with TLSFront(server_context, port) as front:
        point_providers_at(settings, front.url)
        # The system's authorities do not know this certificate.
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        events, error = await collect(build_registry().providers[name])
        assert events == [] and upstream.requests == []
        assert error is not None and error.message.startswith(f"Could not reach {label_and_where(name, front.url)}: ")
        assert "CERTIFICATE_VERIFY_FAILED" in error.message
        # Trusted once SSL_CERT_FILE names it, as for any httpx2 client.
        monkeypatch.setenv("SSL_CERT_FILE", cert_file)
        events, error = await collect(build_registry().providers[name])
        assert error is None and text_of(events) == REPLY
    assert upstream.requests[-1]["path"] == PATH[name]


def test_a_client_is_closed_when_its_event_loop_shuts_down(providers):
    # Otherwise its aiohttp session would outlive the loop, and be reported as unclosed.
    provider = providers.providers["openai"]

    async def reply_then_client():
        events, error = await collect(provider)
        assert error is None and text_of(events) == REPLY
        return provider.client()

    client = asyncio.run(reply_then_client())
    assert client.is_closed()
