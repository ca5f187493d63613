"""Common ground of the providers that talk through the openai and anthropic SDKs: their
configuration, one SDK client per event loop with its HTTP routes (direct, or through the proxies
the environment names), and their exceptions turned into messages a person can act on.

An SDK is imported when its provider first needs a client, not before: each weighs tens of
megabytes, and a deployment that uses one of them (or only the local model) never loads the other.
"""
from __future__ import annotations

import asyncio
import importlib
import ipaddress
import json
import ssl
import sys
import urllib.request
import weakref
from collections.abc import AsyncGenerator, Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx2

from conversations.providers.base import GenerationRequest, ProviderError
from conversations.providers.sse import loads
from conversations.providers.transport import StreamingTransport

if TYPE_CHECKING:
    import anthropic
    import openai
    from typing_extensions import TypeIs

_SDKS = ("openai", "anthropic")
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


def _sdk_classes(name: str, *extra: type) -> tuple[type, ...]:
    """The class `name` of each SDK already imported (an exception of an SDK means it is)."""
    return tuple(getattr(sys.modules[sdk], name) for sdk in _SDKS if sdk in sys.modules) + extra


def _is_status_error(exc: Exception) -> TypeIs[openai.APIStatusError | anthropic.APIStatusError]:
    return isinstance(exc, _sdk_classes("APIStatusError"))


def error_detail(body: Any, fallback: str) -> str:
    """The upstream's own words in an error body, else the fallback."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return fallback


def _upstream_message(exc: Exception) -> str:
    return error_detail(getattr(exc, "body", None), str(getattr(exc, "message", "") or exc))


def midstream_error(label: str, detail: str) -> ProviderError:
    """An error event inside a stream that had started fine."""
    return ProviderError(f"{label} reported an error mid-stream: {detail}")


def openai_stream_error(error: Any) -> str:
    """The detail of an OpenAI `{"error": ...}` event, worded as the SDK's APIError for it is."""
    message = error.get("message") if isinstance(error, dict) else None
    if not message or not isinstance(message, str):
        message = "An error occurred during streaming"
    return error_detail(error, message)


def anthropic_stream_error(data: bytes) -> str:
    """The detail of an Anthropic `event: error`, worded as the SDK's status error for it is."""
    try:
        body = loads(data)
    except Exception:  # noqa: BLE001 - as the SDK: an error event that is not JSON is shown as it is
        return data.decode(errors="replace") or "Error code: 200"
    return error_detail(body, f"{body}")


async def openai_body(response: httpx2.Response) -> AsyncGenerator[bytes, None]:
    """The body of a streamed OpenAI response, its transport errors raised as the SDK's own stream
    raises them (Anthropic's raises them unwrapped, as httpx2 does)."""
    import openai

    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    except httpx2.TimeoutException as err:
        raise openai.APITimeoutError(request=response.request) from err
    except (httpx2.RequestError, ssl.SSLError, anyio.EndOfStream) as err:
        raise openai.APIConnectionError(request=response.request) from err


def public_url(url: str) -> str:
    """The URL without credentials or query, which may hold a key."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed host such as "http://[proxy": nothing of it is shown
        return "(a malformed URL)"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def provider_error(exc: Exception, *, label: str, key_setting: str, base_url: str) -> ProviderError:
    """A ProviderError for an exception raised while talking to a provider through its SDK."""
    where = f" at {public_url(base_url)}" if base_url else ""
    if isinstance(exc, _sdk_classes("APITimeoutError", httpx2.TimeoutException)):
        return ProviderError(
            f"{label} stopped sending{where}: no data arrived within the stall timeout "
            "(WORKBENCH_STALL_TIMEOUT). The text received so far is kept."
        )
    if isinstance(exc, _sdk_classes("APIConnectionError", httpx2.TransportError)):
        cause = exc.__cause__ or exc
        check = (
            f"Check the proxy and the proxy variables ({', '.join(PROXY_VARIABLES)})."
            if isinstance(cause, httpx2.ProxyError)
            else "Check that the server is running and the base URL is right."
        )
        return ProviderError(f"Could not reach {label}{where}: {cause}. {check}")
    if _is_status_error(exc) and exc.status_code < 400:
        # An error event inside a stream that had started fine (the SDK reports the HTTP 200).
        return midstream_error(label, _upstream_message(exc))
    if _is_status_error(exc):
        status = exc.status_code
        detail = _upstream_message(exc)
        if status == 401:
            hint = f"{label} rejected the API key (401): {detail} Check {key_setting}."
        elif status == 407:
            hint = (
                f"The proxy in front of {label} asks for credentials (407): {detail} Put them in the "
                "proxy's URL (http://user:password@host:port)."
            )
        elif status == 403:
            hint = f"{label} refused the request (403): {detail} Check the key's permissions."
        elif status == 404:
            hint = f"{label} does not know this model or endpoint (404): {detail}"
        elif status == 429:
            retry_after = exc.response.headers.get("retry-after") if exc.response else None
            wait = f" Retry after {retry_after} s." if retry_after else ""
            hint = f"{label} is rate limiting this key (429): {detail}{wait}"
        elif status == 529:
            hint = f"{label} is overloaded (529): {detail} Try again in a moment."
        elif status >= 500:
            hint = f"{label} had a server error ({status}): {detail} Try again in a moment."
        else:
            hint = f"{label} rejected the request ({status}): {detail}"
        return ProviderError(hint, status=status)
    if isinstance(exc, _sdk_classes("APIError")):
        return midstream_error(label, _upstream_message(exc))
    if isinstance(exc, json.JSONDecodeError):
        return ProviderError(f"{label} sent a malformed event that could not be read: {exc}.")
    return ProviderError(f"{label} failed: {type(exc).__name__}: {exc}")


def environment_proxy_routes() -> dict[str, str | None]:
    """The proxies the environment names, read as httpx2 reads them for a client that makes its
    own transports, so requests take the same way as with any httpx-based tool: HTTP_PROXY,
    HTTPS_PROXY and ALL_PROXY (upper or lower case, through the standard library's `getproxies`)
    and NO_PROXY's hosts, `.domains`, `*.domains`, host:port, addresses and networks, or `*`.

    The keys are URL patterns of the client's `mounts`, each mapped to a proxy URL, or to None for
    the NO_PROXY entries, which go direct. Empty when no proxy is set: every request goes direct.
    """
    found = urllib.request.getproxies()
    routes: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        if found.get(scheme):
            url = found[scheme]
            routes[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    if not routes:
        return {}
    for entry in (entry.strip() for entry in found.get("no", "").split(",")):
        if entry == "*":
            return {}
        pattern = _bypass_pattern(entry) if entry else None
        if pattern is not None:
            routes[pattern] = None
    return {pattern: url for pattern, url in routes.items() if _routable(pattern)}


def _bypass_pattern(entry: str) -> str | None:
    """The `mounts` pattern of one NO_PROXY entry, as curl reads them: `example.com` is the domain
    and its subdomains, `.example.com` and `*.example.com` only the subdomains."""
    if "://" in entry:
        return entry
    address = entry.split("/")[0]
    if _is_address(address, ipaddress.IPv4Address) or entry.lower() == "localhost" or entry.startswith("["):
        return f"all://{entry}"
    if _is_address(address, ipaddress.IPv6Address):
        network, slash, prefix = entry.partition("/")
        return f"all://[{network}]{slash}{prefix}"
    if "/" in entry:
        return None
    return f"all://{entry}" if entry.startswith("*.") else f"all://*{entry}"


def _is_address(text: str, kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def _routable(pattern: str) -> bool:
    """Whether httpx2 takes `pattern` as a route; like curl and Go, it skips a NO_PROXY entry that
    it cannot read (`10.0.0.0/x`), and so do we. It is asked through a client of its own, which
    only parses the pattern: httpx2 is the judge of what it can route."""
    try:
        httpx2.AsyncClient(transport=httpx2.AsyncBaseTransport(), mounts={pattern: None}, trust_env=False)
    except (httpx2.InvalidURL, ValueError):
        return False
    return True


class ProxyTransport(httpx2.AsyncBaseTransport):
    """httpx2's own transport through one proxy (CONNECT tunnels for https://, absolute-form
    requests for http://), which names the proxy when it cannot be reached or refuses."""

    def __init__(self, url: str, *, variable: str) -> None:
        self._where = f"the proxy {public_url(url)} ({variable})"
        try:
            self._transport = httpx2.AsyncHTTPTransport(proxy=url)
        except (ValueError, httpx2.InvalidURL, ImportError) as exc:  # an unknown scheme, SOCKS without socksio
            raise ProviderError(
                f"Cannot use {self._where}: {exc}. Set {variable} to a proxy's URL "
                "(http://host:port, or http://user:password@host:port), or unset it."
            ) from None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await self._transport.handle_async_request(request)
        except (httpx2.ConnectError, httpx2.ProxyError) as exc:
            raise httpx2.ProxyError(f"through {self._where}: {exc}", request=request) from exc

    async def aclose(self) -> None:
        await self._transport.aclose()


def http_client() -> httpx2.AsyncClient:
    """The SDKs' HTTP client: requests go direct on the lean StreamingTransport (see transport.py),
    except those the environment routes through a proxy, which go through httpx2's own proxy
    transport. httpx2 reads the environment only when it makes its own transports, so the routes
    are given as its `mounts`. They are read once, here: a proxy variable changed after the
    client is made is seen by the next process, not this one."""
    mounts: dict[str, httpx2.AsyncBaseTransport | None] = {
        # None: the client's own transport, that is, direct.
        pattern: None if url is None else ProxyTransport(url, variable=f"{pattern[:-3].upper()}_PROXY")
        for pattern, url in environment_proxy_routes().items()
    }
    return httpx2.AsyncClient(transport=StreamingTransport(), mounts=mounts, follow_redirects=True)


class ClientsPerLoop:
    """One SDK client per event loop: an async HTTP pool must not cross loops."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._factory()
        return client


class SDKProvider:
    """A provider configured with a key, a base URL and a list of models."""

    sdk = ""  # the SDK's module, imported with the first client
    sdk_client = ""  # its async client class
    sdk_error = ""  # the base class of its exceptions
    api = ""  # the API it speaks (see base.Provider)

    def __init__(
        self,
        *,
        name: str,
        label: str,
        api_key: str,
        base_url: str,
        models: list[str],
        key_setting: str,
        timeouts: tuple[float, float],
        max_retries: int,
        read_interval: float = 0.0,
    ) -> None:
        self.name = name
        self.read_interval = read_interval  # see sse.ReadPacer
        self.label = label
        self.base_url = base_url
        self.key_setting = key_setting
        self._models = list(models)
        connect, stall = timeouts
        self._clients = ClientsPerLoop(
            lambda: self.make_client(
                api_key=api_key or "none",
                base_url=base_url or None,
                timeout=httpx2.Timeout(stall, connect=connect),
                max_retries=max_retries,
                http_client=http_client(),
            )
        )

    @property
    def public_base_url(self) -> str:
        return public_url(self.base_url)

    def request_body(self, request: GenerationRequest) -> dict:
        raise NotImplementedError

    def sent_body(self, request: GenerationRequest) -> dict:
        return self.request_body(request)

    def make_client(self, **options: Any) -> Any:
        return getattr(importlib.import_module(self.sdk), self.sdk_client)(**options)

    @cached_property
    def errors(self) -> tuple[type[Exception], ...]:
        """What the provider catches around its SDK calls and hands to `failure`."""
        base = getattr(importlib.import_module(self.sdk), self.sdk_error)
        return (base, httpx2.HTTPError, json.JSONDecodeError)

    def client(self) -> Any:
        return self._clients.get()

    def models(self) -> list[str]:
        return list(self._models)

    def failure(self, exc: Exception) -> ProviderError:
        return provider_error(exc, label=self.label, key_setting=self.key_setting, base_url=self.base_url)

    def midstream(self, detail: str) -> ProviderError:
        return midstream_error(self.label, detail)
