"""Which pages may open a websocket here: those served on this site's own origin, exactly.

A browser sends the visitor's cookies with a websocket handshake to any site, whichever page asks
for it, so the socket must check who asked. The page's origin (scheme, host and port) has to be
the very origin the socket was reached on: the Host header the browser sent, with the scheme the
site is served on (https when SECURE_SSL_REDIRECT sends every page there, else the scheme the
server was reached by, or the one a trusted proxy reports through SECURE_PROXY_SSL_HEADER), or
one of the CSRF_TRUSTED_ORIGINS entries for a deployment behind a proxy that rewrites either.
A page on the same host but another port or scheme is another origin and is turned away, as is a
Host that ALLOWED_HOSTS does not name (a DNS-rebinding page would send its own name). A
handshake without an Origin header is refused too: browsers always send one.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]
Origin = tuple[str, str, int]

DEFAULT_PORTS = {"http": 80, "https": 443}

logger = logging.getLogger(__name__)


def origin_parse(value: str) -> Origin | None:
    """(scheme, host, port) of a serialised origin such as `https://example.com:8443`, with the
    scheme's default port filled in; None for anything that is not one (`null`, a path, a
    user name, another scheme)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.username is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return scheme, parts.hostname.lower(), port if port is not None else DEFAULT_PORTS[scheme]


def _header_values(scope: Scope, name: bytes) -> list[str]:
    return [value.decode("latin1") for key, value in scope.get("headers", []) if key.lower() == name]


def _served_over_https(scope: Scope) -> bool:
    """Whether pages that open this socket are on https. A site that redirects every page to
    https (SECURE_SSL_REDIRECT) has no http pages, and daphne's websocket scope carries no
    scheme at all, so that setting decides first. Otherwise as Django's HttpRequest.is_secure()
    decides for pages: the proxy's header when SECURE_PROXY_SSL_HEADER names one and it is
    present, else the scheme the server was reached by. The header is never read unless that
    setting asks for it, since any client can send it."""
    if settings.SECURE_SSL_REDIRECT:
        return True
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if proxy_header:
        meta_name, secure_value = proxy_header
        # The name as Django's ASGI handler would put it in request.META.
        values = [
            value.decode("latin1")
            for key, value in scope.get("headers", [])
            if "HTTP_" + key.decode("latin1").upper().replace("-", "_") == meta_name
        ]
        if values:
            return ",".join(values).split(",", 1)[0].strip() == secure_value
    return scope.get("scheme") in ("wss", "https")


def allowed_origins(scope: Scope) -> set[Origin]:
    """The origins a page may have to open this socket; none when the Host is missing, repeated
    or not one of ALLOWED_HOSTS."""
    hosts = _header_values(scope, b"host")
    if len(hosts) != 1:
        return set()
    host = hosts[0].strip()
    domain, _ = split_domain_port(host)
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        # What Django itself serves in that case.
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
    if not domain or not validate_host(domain, allowed_hosts):
        return set()
    scheme = "https" if _served_over_https(scope) else "http"
    origins = {origin for origin in map(origin_parse, settings.CSRF_TRUSTED_ORIGINS) if origin}
    own = origin_parse(f"{scheme}://{host}")
    if own is not None:
        origins.add(own)
    return origins


def _serialise(origin: Origin) -> str:
    scheme, host, port = origin
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + ("" if port == DEFAULT_PORTS[scheme] else f":{port}")


def origin_refusal(scope: Scope) -> str | None:
    """Why this socket may not open, or None when the page that opened it is on an origin the
    site is served on."""
    sent = _header_values(scope, b"origin")
    if len(sent) != 1:
        return "the handshake has no Origin header" if not sent else "the handshake has several Origin headers"
    origin = origin_parse(sent[0])
    allowed = allowed_origins(scope)
    if not allowed:
        hosts = _header_values(scope, b"host")
        if len(hosts) != 1:
            return "its Host header is missing or repeated"
        return f"its Host {hosts[0]!r} is not in ALLOWED_HOSTS"
    if origin is None or origin not in allowed:
        accepted = ", ".join(sorted(map(_serialise, allowed)))
        return (f"a page on {sent[0]!r} opened it, and this socket accepts only {accepted} "
                "(behind a proxy, add the public origin to CSRF_TRUSTED_ORIGINS or set SECURE_PROXY_SSL_HEADER)")
    return None


class SameOriginValidator:
    """ASGI middleware for websockets: a handshake from any other origin is refused (daphne
    answers it with 403) before authentication or a consumer runs."""

    def __init__(self, application: ASGIApp) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator guards websocket connections only.")
        refusal = origin_refusal(scope)
        if refusal is not None:
            logger.warning("Refused a websocket to %s: %s.", scope.get("path", ""), refusal)
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
