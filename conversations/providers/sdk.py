"""Common ground of the providers that talk through the openai and anthropic SDKs: their
configuration, one SDK client per event loop on the SDK's own aiohttp-backed HTTP client (which
takes the proxies the environment names, as any httpx2 client does), and their exceptions turned
into a kind of failure (base.FailureKind) with the technical detail for the server's log.

An SDK is imported when its provider first needs a client, not before: each weighs tens of
megabytes, and a deployment that uses one of them (or only the local model) never loads the other.
"""
from __future__ import annotations

import asyncio
import importlib
import json
import ssl
import sys
import urllib.request
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx2

from conversations.providers.base import FailureKind, GenerationRequest, ProviderError
from conversations.providers.sse import loads

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


def _error_object(body: Any) -> dict:
    """The error object of a body: OpenAI's SDK gives the inner `error`, Anthropic's the whole body."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return error
    return {}


def error_type(body: Any) -> str:
    """The provider's own name for an error: its `code` (OpenAI), else its `type`."""
    error = _error_object(body)
    for key in ("code", "type"):
        if isinstance(error.get(key), str) and error[key]:
            return error[key]
    return ""


_CONTEXT_WORDS = ("context_length_exceeded", "maximum context length", "prompt is too long", "context window",
                  "too many tokens", "reduce the length")
_FILTER_WORDS = ("content_filter", "content_policy_violation", "content filter", "content management policy",
                 "content filtering policy")
_QUOTA_WORDS = ("insufficient_quota", "exceeded your current quota", "credit balance is too low", "billing")


def failure_kind(status: int | None, body: Any, detail: str) -> FailureKind:
    """What kind of failure an upstream's error was, from its HTTP status (None: an error event in
    a stream that had started) and its error object's code and type; the words of its message
    only where the vendors give no code (Anthropic's "prompt is too long")."""
    error = _error_object(body)
    codes = {str(error.get("code") or ""), str(error.get("type") or "")} - {""}
    said = " ".join([detail, *codes]).lower()
    if any(word in said for word in _QUOTA_WORDS):
        return FailureKind.QUOTA
    if status == 413 or any(word in said for word in _CONTEXT_WORDS):
        return FailureKind.CONTEXT_LENGTH
    if any(word in said for word in _FILTER_WORDS):
        return FailureKind.CONTENT_FILTER
    if status == 404 or codes & {"model_not_found", "not_found_error"}:
        return FailureKind.MODEL_NOT_FOUND
    if status in (401, 403) or codes & {"authentication_error", "permission_error", "invalid_api_key"}:
        return FailureKind.AUTH
    if status == 429 or codes & {"rate_limit_error", "rate_limit_exceeded", "requests", "tokens"}:
        return FailureKind.RATE_LIMITED
    if status == 407:
        return FailureKind.UNREACHABLE
    if (status is not None and status >= 500) or codes & {"overloaded_error", "api_error", "server_error"}:
        return FailureKind.SERVER_ERROR
    if (status is not None and status >= 400) or "invalid_request_error" in codes:
        return FailureKind.BAD_REQUEST
    return FailureKind.UNKNOWN


def midstream_error(label: str, detail: str, body: Any = None) -> ProviderError:
    """An error event inside a stream that had started fine; `body` is its error object, if any."""
    return ProviderError(
        f"{label} reported an error mid-stream: {detail}",
        kind=failure_kind(None, body, detail),
        error_type=error_type(body),
    )


def retry_after_seconds(value: str | None) -> float | None:
    """A retry-after header's seconds; None for an HTTP date or nonsense (the wait is then not told)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 86400 else None


def openai_stream_error(error: Any) -> str:
    """The detail of an OpenAI `{"error": ...}` event, worded as the SDK's APIError for it is."""
    message = error.get("message") if isinstance(error, dict) else None
    if not message or not isinstance(message, str):
        message = "An error occurred during streaming"
    return error_detail(error, message)


def anthropic_error_body(data: bytes) -> Any:
    """The body of an Anthropic `event: error`, or None when it is not JSON."""
    try:
        return loads(data)
    except Exception:  # noqa: BLE001 - read as anthropic_stream_error reads it
        return None


def anthropic_stream_error(data: bytes) -> str:
    """The detail of an Anthropic `event: error`, worded as the SDK's status error for it is."""
    try:
        body = loads(data)
    except Exception:  # noqa: BLE001 - as the SDK: an error event that is not JSON is shown as it is
        return data.decode(errors="replace") or "Error code: 200"
    return error_detail(body, f"{body}")


@asynccontextmanager
async def streamed_post(client: Any, path: str, body: dict) -> AsyncIterator[httpx2.Response]:
    """A streamed request sent through the SDK client's generic `post`, its documented way to send
    any body: the SDK's authentication, base URL, retries and typed HTTP errors, and the response
    left unread. The typed `create` methods would first walk every message of the body against the
    SDK's parameter types (its `async_transform`: 0.25 ms a request warm, 2 ms cold, measured) to
    send the body unchanged, since the providers build it in the wire format already."""
    response = cast(httpx2.Response, await client.post(path, cast_to=httpx2.Response, body=body, stream=True))
    try:
        yield response
    finally:
        await response.aclose()


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


def _client_error(exc: BaseException) -> BaseException | None:
    """The aiohttp error under `exc`, if the HTTP client raised one. It tells more than the httpx2
    error it was turned into: the openai SDK's adapter turns every aiohttp connection error (a
    refused connection, a failed TLS handshake, a proxy that is down) into httpx2.ConnectTimeout,
    and lets some through as they are (an answer that is not HTTP)."""
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is None:  # not imported, so none was raised
        return None
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, aiohttp.ClientError):
            return seen
        seen = seen.__cause__
    return None


def _one_line(text: str) -> str:
    """aiohttp's parser errors draw the bad line over several lines, with a caret under it."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip() not in ("", "^"))


def _network_failure(exc: Exception, *, label: str, where: str, base_url: str) -> ProviderError | None:
    """The message for a request that failed on the network, or None if it did not."""
    through_proxy = False
    cause = _client_error(exc)
    if cause is not None:
        aiohttp = sys.modules["aiohttp"]
        timed_out = "connect" if isinstance(cause, aiohttp.ConnectionTimeoutError) else (
            "stall" if isinstance(cause, aiohttp.ServerTimeoutError) else "")
        if isinstance(cause, aiohttp.ClientResponseError):  # an answer that is not HTTP, or a proxy's refusal
            detail = f"{cause.status} {_one_line(cause.message)}"
        else:
            detail = _one_line(str(cause)) or type(cause).__name__
        through_proxy = isinstance(cause, (aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError))
    elif isinstance(exc, _sdk_classes("APITimeoutError", httpx2.TimeoutException)):
        # httpx2's own errors: a transport given to the SDK, or the SDK's own timeout.
        timed_out = "connect" if isinstance(exc.__cause__ or exc, httpx2.ConnectTimeout) else "stall"
    elif isinstance(exc, _sdk_classes("APIConnectionError", httpx2.TransportError)):
        timed_out, detail = "", str(exc.__cause__ or exc)
    else:
        return None
    if timed_out == "stall":
        return ProviderError(
            f"{label} stopped sending{where}: no data arrived within the stall timeout "
            "(WORKBENCH_STALL_TIMEOUT). The text received so far is kept.",
            kind=FailureKind.TIMEOUT, error_type="stall_timeout",
        )
    if timed_out == "connect":
        return ProviderError(
            f"Could not reach {label}{where}: no connection within the connect timeout "
            "(WORKBENCH_CONNECT_TIMEOUT). Check that the server is running and the base URL is right.",
            kind=FailureKind.TIMEOUT, error_type="connect_timeout",
        )
    if through_proxy:
        proxy, variable = _proxy_in_use(base_url)
        return ProviderError(
            f"Could not reach {label}{where}: through the proxy {public_url(proxy)} ({variable}): {detail}. "
            f"Check the proxy and the proxy variables ({', '.join(PROXY_VARIABLES)}).",
            kind=FailureKind.UNREACHABLE, error_type="proxy_error",
        )
    return ProviderError(
        f"Could not reach {label}{where}: {detail}. Check that the server is running and the base URL is right.",
        kind=FailureKind.UNREACHABLE, error_type=type(cause or exc.__cause__ or exc).__name__,
    )


def provider_error(exc: Exception, *, label: str, key_setting: str, base_url: str) -> ProviderError:
    """A ProviderError for an exception raised while talking to a provider through its SDK."""
    where = f" at {public_url(base_url)}" if base_url else ""
    network = _network_failure(exc, label=label, where=where, base_url=base_url)
    if network is not None:
        return network
    if _is_status_error(exc) and exc.status_code < 400:
        # An error event inside a stream that had started fine (the SDK reports the HTTP 200).
        return midstream_error(label, _upstream_message(exc), exc.body)
    if _is_status_error(exc):
        status = exc.status_code
        detail = _upstream_message(exc)
        retry_after = retry_after_seconds(exc.response.headers.get("retry-after") if exc.response else None)
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
            wait = f" Retry after {retry_after:g} s." if retry_after is not None else ""
            hint = f"{label} is rate limiting this key (429): {detail}{wait}"
        elif status == 529:
            hint = f"{label} is overloaded (529): {detail} Try again in a moment."
        elif status >= 500:
            hint = f"{label} had a server error ({status}): {detail} Try again in a moment."
        else:
            hint = f"{label} rejected the request ({status}): {detail}"
        return ProviderError(
            hint, status=status, kind=failure_kind(status, exc.body, detail), error_type=error_type(exc.body),
            retry_after=retry_after if status == 429 else None,
        )
    if isinstance(exc, _sdk_classes("APIError")):
        return midstream_error(label, _upstream_message(exc), getattr(exc, "body", None))
    if isinstance(exc, json.JSONDecodeError):
        return ProviderError(
            f"{label} sent a malformed event that could not be read: {exc}.",
            kind=FailureKind.INCOMPLETE, error_type="malformed_event",
        )
    return ProviderError(f"{label} failed: {type(exc).__name__}: {exc}", error_type=type(exc).__name__)


def _proxy_in_use(base_url: str) -> tuple[str, str]:
    """The proxy that the environment names for requests to `base_url`, and its variable, as
    httpx2 picks it: the scheme's own variable (HTTPS_PROXY, HTTP_PROXY) before ALL_PROXY. Upper
    or lower case, read through the standard library's `getproxies`, as httpx2 reads them; read
    when a request failed, so it names another proxy only if a variable changed since the client
    was made."""
    found = urllib.request.getproxies()
    scheme = urlsplit(base_url).scheme or "https"  # the SDKs' default base URLs are https
    for name in (scheme, "all"):
        if found.get(name):
            url = found[name]
            return (url if "://" in url else f"http://{url}"), f"{name.upper()}_PROXY"
    return "", "the proxy variables"


def _check_proxy_variables() -> None:
    """Refuse, naming its variable, a proxy that the client could not use. httpx2 reads the
    variables (and refuses a URL it cannot take); aiohttp, which carries the requests, speaks to
    HTTP proxies only, so a socks5:// proxy, which httpx2 accepts, would be sent HTTP it cannot
    answer. NO_PROXY=* turns every proxy off, as httpx2 reads it."""
    found = urllib.request.getproxies()
    if "*" in (entry.strip() for entry in found.get("no", "").split(",")):
        return
    for name in ("http", "https", "all"):
        if not found.get(name):
            continue
        url, variable = found[name], f"{name.upper()}_PROXY"
        url = url if "://" in url else f"http://{url}"
        try:
            httpx2.Proxy(url)
        except (ValueError, httpx2.InvalidURL) as exc:
            raise _unusable_proxy(url, variable, str(exc)) from None
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise _unusable_proxy(url, variable, f"{scheme}:// proxies are not supported, only http:// and https://")


def _unusable_proxy(url: str, variable: str, reason: str) -> ProviderError:
    return ProviderError(
        f"Cannot use the proxy {public_url(url)} ({variable}): {reason}. Set {variable} to a proxy's URL "
        "(http://host:port, or http://user:password@host:port), or unset it.",
        kind=FailureKind.UNREACHABLE, error_type="unusable_proxy",
    )


def http_client(sdk: str) -> httpx2.AsyncClient:
    """The HTTP client under the SDK `sdk`: its own `DefaultAioHttpClient`, httpx2's client
    carrying each request on aiohttp (C-parsed HTTP/1.1, connections kept alive for 5 s per host),
    which reads a streamed reply for half to two thirds of the CPU of httpx2's own transport
    (BENCHMARKS.md, *Reading the upstream*). As any httpx2 client, it reads HTTP_PROXY,
    HTTPS_PROXY, ALL_PROXY and NO_PROXY (and SSL_CERT_FILE) when it is made, so a variable changed
    later is seen by the next process, not this one."""
    _check_proxy_variables()
    return importlib.import_module(sdk).DefaultAioHttpClient()


class ClientsPerLoop:
    """One SDK client per event loop: an async HTTP pool must not cross loops.

    Each client is closed when its loop shuts down: an async generator of the loop holds it, and
    shutting a loop down (as `asyncio.run` and `asyncio.Runner` do) finishes every such generator.
    Without that, an aiohttp session that outlives its loop is reported as unclosed."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self) -> Any:
        loop = asyncio.get_running_loop()
        held = self._clients.get(loop)
        if held is None:
            client = self._factory()
            keeper = _closed_with_the_loop(client)
            loop.create_task(keeper.asend(None))  # its first step makes the loop know it
            held = self._clients[loop] = (client, keeper)
        return held[0]


async def _closed_with_the_loop(client: Any) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await client.close()


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
                http_client=http_client(self.sdk),
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
        import aiohttp  # some of its errors reach the provider as they are (see _client_error)

        base = getattr(importlib.import_module(self.sdk), self.sdk_error)
        return (base, httpx2.HTTPError, aiohttp.ClientError, json.JSONDecodeError)

    def client(self) -> Any:
        return self._clients.get()

    def models(self) -> list[str]:
        return list(self._models)

    def failure(self, exc: Exception) -> ProviderError:
        return provider_error(exc, label=self.label, key_setting=self.key_setting, base_url=self.base_url)

    def midstream(self, detail: str, body: Any = None) -> ProviderError:
        return midstream_error(self.label, detail, body)

    def ended(self, what: str = "message") -> ProviderError:
        return ProviderError(
            f"{self.label} ended the stream before the {what} was complete.",
            kind=FailureKind.INCOMPLETE, error_type="stream_ended",
        )
