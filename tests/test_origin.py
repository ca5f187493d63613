"""A websocket opens only for a page on the very origin the site is served on (scheme, host and
port), on both socket routes, through the real ASGI application and through real daphne."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from conversations import services
from conversations.models import Turn
from conversations.sharing import services as sharing
from tests.wsclient import WAIT

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC = "workbench.example.com"
PROXY_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


@dataclass
class Case:
    name: str
    host: str | None
    origin: str | None
    accepted: bool
    scheme: str | None = "ws"  # what the server was reached by (daphne leaves it out)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    settings: dict = field(default_factory=dict)


CASES = [
    Case("the page's own origin", "127.0.0.1:8000", "http://127.0.0.1:8000", True),
    Case("daphne's scope, with no scheme", "127.0.0.1:8000", "http://127.0.0.1:8000", True, scheme=None),
    Case("same host, another port", "127.0.0.1:8000", "http://127.0.0.1:8001", False),
    Case("same host, the default port", "127.0.0.1:8000", "http://127.0.0.1", False),
    Case("another host in ALLOWED_HOSTS", "127.0.0.1:8000", "http://localhost:8000", False),
    Case("an https page, an http server", "127.0.0.1:8000", "https://127.0.0.1:8000", False),
    Case("another site", "127.0.0.1:8000", "http://evil.example", False),
    Case("no Origin header", "127.0.0.1:8000", None, False),
    Case("an opaque origin", "127.0.0.1:8000", "null", False),
    Case("an origin with a path", "127.0.0.1:8000", "http://127.0.0.1:8000/c/1/", False),
    Case("IPv6 loopback", "[::1]:8000", "http://[::1]:8000", True),
    Case("no Host header", None, "http://127.0.0.1:8000", False),
    Case("a Host not in ALLOWED_HOSTS (DNS rebinding)", "evil.example:8000", "http://evil.example:8000", False),
    Case("an https server", PUBLIC, f"https://{PUBLIC}", True, scheme="wss"),
    Case("an http page, an https server", PUBLIC, f"http://{PUBLIC}", False, scheme="wss"),
    Case("an https server, another port", PUBLIC, f"https://{PUBLIC}:8443", False, scheme="wss"),
    Case("behind a proxy: a CSRF_TRUSTED_ORIGINS origin", "127.0.0.1:8000", f"https://{PUBLIC}", True,
         settings={"CSRF_TRUSTED_ORIGINS": [f"https://{PUBLIC}"]}),
    Case("behind a proxy: an origin not trusted", "127.0.0.1:8000", f"https://{PUBLIC}", False),
    Case("a trusted origin on a Host not in ALLOWED_HOSTS", "evil.example", f"https://{PUBLIC}", False,
         settings={"CSRF_TRUSTED_ORIGINS": [f"https://{PUBLIC}"]}),
    Case("a trusted origin matches exactly: not another port", "127.0.0.1:8000", f"https://{PUBLIC}:444", False,
         settings={"CSRF_TRUSTED_ORIGINS": [f"https://{PUBLIC}"]}),
    Case("the proxy's X-Forwarded-Proto, when configured", PUBLIC, f"https://{PUBLIC}", True,
         headers=[(b"x-forwarded-proto", b"https")], settings={"SECURE_PROXY_SSL_HEADER": PROXY_HEADER}),
    Case("X-Forwarded-Proto is ignored unless configured", PUBLIC, f"https://{PUBLIC}", False,
         headers=[(b"x-forwarded-proto", b"https")]),
    Case("X-Forwarded-Proto: http, an https page", PUBLIC, f"https://{PUBLIC}", False,
         headers=[(b"x-forwarded-proto", b"http")], settings={"SECURE_PROXY_SSL_HEADER": PROXY_HEADER}),
    Case("X-Forwarded-Proto: https, an http page", PUBLIC, f"http://{PUBLIC}", False,
         headers=[(b"x-forwarded-proto", b"https")], settings={"SECURE_PROXY_SSL_HEADER": PROXY_HEADER}),
    Case("every page redirected to https", PUBLIC, f"https://{PUBLIC}", True, scheme=None,
         settings={"SECURE_SSL_REDIRECT": True}),
    Case("every page redirected to https: an http page", PUBLIC, f"http://{PUBLIC}", False, scheme=None,
         settings={"SECURE_SSL_REDIRECT": True}),
]


@pytest.fixture
def routes(alice) -> dict[str, tuple[str, list[tuple[bytes, bytes]]]]:
    """Both socket routes, each with what a legitimate page would send: alice's session for her
    conversation, nothing for an anonymous reader of a live link."""
    conversation = services.conversation_create(owner=alice)
    link = sharing.share_create(conversation=conversation, by=alice, turn_id=None, with_subtree=False,
                                mode="live", audience="anyone", expires_at=None)
    client = Client()
    client.force_login(alice)
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    return {
        "conversation": (f"/ws/conversations/{conversation.id}/", [cookie]),
        "share": (f"/ws/share/{link.token}/", []),
    }


async def handshake(path: str, headers: list[tuple[bytes, bytes]], case: Case) -> bool:
    from workbench.asgi import application

    sent = list(headers) + case.headers
    if case.host is not None:
        sent.append((b"host", case.host.encode()))
    if case.origin is not None:
        sent.append((b"origin", case.origin.encode()))
    communicator = WebsocketCommunicator(application, path, headers=sent)
    if case.scheme is not None:
        communicator.scope["scheme"] = case.scheme
    connected, _ = await communicator.connect(timeout=WAIT)
    if connected:
        await communicator.disconnect()
    else:
        # Refused at the handshake: nothing at all reaches the page.
        assert await communicator.receive_nothing()
    return connected


@pytest.mark.parametrize("route", ["conversation", "share"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_a_socket_opens_only_for_the_sites_own_origin(routes, route, case, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", PUBLIC]
    settings.CSRF_TRUSTED_ORIGINS = []
    for name, value in case.settings.items():
        setattr(settings, name, value)
    path, headers = routes[route]
    assert await handshake(path, headers, case) is case.accepted


async def test_a_refused_socket_writes_nothing_and_says_why_in_the_log(routes, settings, caplog):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    path, headers = routes["conversation"]
    turns = await Turn.objects.acount()
    case = Case("other port", "127.0.0.1:8000", "http://127.0.0.1:8001", False)
    with caplog.at_level(logging.WARNING, logger="workbench.origins"):
        assert await handshake(path, headers, case) is False
    assert await Turn.objects.acount() == turns
    message = caplog.records[-1].getMessage()
    assert "'http://127.0.0.1:8001'" in message and "accepts only http://127.0.0.1:8000" in message
    assert "CSRF_TRUSTED_ORIGINS" in message


def test_real_daphne_refuses_a_page_on_another_port(workbench_server):
    """Through daphne, as a browser would connect: the handshake from another origin gets 403."""
    import aiohttp

    from tests.test_compression import seed
    from tests.test_liveness import run_async

    conversation_id, session_key = seed(workbench_server, "origin-checker")
    url = workbench_server.url.replace("http", "ws") + f"/ws/conversations/{conversation_id}/"
    port = workbench_server.port

    async def status(origin: str) -> int:
        async with aiohttp.ClientSession() as http:
            try:
                async with http.ws_connect(url, headers={"Cookie": f"sessionid={session_key}"}, origin=origin):
                    return 101
            except aiohttp.WSServerHandshakeError as refused:
                return refused.status

    assert run_async(status(workbench_server.url)) == 101
    for origin in (f"http://127.0.0.1:{port + 1}", f"http://localhost:{port}", f"https://127.0.0.1:{port}"):
        assert run_async(status(origin)) == 403, origin
