"""Provider requests honour HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY as httpx2 itself reads
them: a real forward proxy on 127.0.0.1 (tests/proxy_server.py) between the real SDKs and the fake
upstream, absolute-form for http:// and CONNECT tunnels for https://."""
from __future__ import annotations

import httpx2
import pytest

from conversations.registry import build_registry
from tests.fake_upstream import reply_text
from tests.proxy_server import ForwardProxy, Relayed, TLSFront, self_signed
from tests.test_providers import CLOUD, PATH, collect, text_of

PROXY_VARIABLES = [f"{name}_proxy" for name in ("http", "https", "all", "no")]


@pytest.fixture
def environment(monkeypatch):
    """No proxy variable but those a test sets: the machine's own would change the routes."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


@pytest.fixture
async def proxy():
    async with ForwardProxy() as server:
        yield server


def point_providers_at(settings, url: str) -> None:
    """Every cloud provider (the providers fixture's settings) at `url` instead of the upstream."""
    settings.OPENAI_BASE_URL = url + "/v1"
    settings.ANTHROPIC_BASE_URL = url
    settings.OPENAI_COMPATIBLE_ENDPOINTS = [{"name": "ollama", "base_url": url + "/v1", "models": ["fake-model"]}]


@pytest.mark.parametrize("name", CLOUD)
async def test_http_requests_go_through_the_proxy_in_http_proxy(providers, upstream, environment, proxy, name):
    environment.setenv("HTTP_PROXY", proxy.url)
    environment.setenv("NO_PROXY", "")
    events, error = await collect(providers.providers[name])
    assert error is None
    assert text_of(events) == reply_text("Hello tree", 12)
    assert proxy.relayed == [Relayed("POST", upstream.url + PATH[name])]
    assert upstream.requests[-1]["path"] == PATH[name]


@pytest.mark.parametrize("name", CLOUD)
async def test_https_requests_are_tunnelled_through_the_proxy_in_https_proxy(
    providers, settings, upstream, environment, proxy, tmp_path, name
):
    server_context, cert_file = self_signed(tmp_path)
    environment.setenv("SSL_CERT_FILE", cert_file)  # trusted by the SDKs' client, as by any httpx2 client
    environment.setenv("HTTPS_PROXY", proxy.url)
    async with TLSFront(server_context, upstream_port(upstream)) as front:
        point_providers_at(settings, front.url)
        events, error = await collect(build_registry().providers[name])
        assert error is None
        assert text_of(events) == reply_text("Hello tree", 12)
        assert proxy.relayed == [Relayed("CONNECT", f"127.0.0.1:{front.port}")]
    assert upstream.requests[-1]["path"] == PATH[name]


def upstream_port(upstream) -> int:
    port = httpx2.URL(upstream.url).port
    assert port is not None
    return port


# (proxy variables, the host the provider is given, whether its request goes through the proxy).
# "{proxy}" is the proxy's URL, "{address}" the same without its scheme, "{port}" the upstream's.
ROUTES = [
    pytest.param({}, "127.0.0.1", False, id="no-variables"),
    pytest.param({"NO_PROXY": "127.0.0.1"}, "127.0.0.1", False, id="no_proxy-alone"),
    pytest.param({"HTTP_PROXY": "{proxy}", "NO_PROXY": ""}, "127.0.0.1", True, id="http_proxy"),
    pytest.param({"http_proxy": "{proxy}"}, "127.0.0.1", True, id="lower-case"),
    pytest.param({"ALL_PROXY": "{proxy}"}, "127.0.0.1", True, id="all_proxy"),
    pytest.param({"HTTP_PROXY": "{address}"}, "127.0.0.1", True, id="proxy-without-scheme"),
    pytest.param({"HTTPS_PROXY": "{proxy}"}, "127.0.0.1", False, id="https_proxy-is-for-https-only"),
    pytest.param({"HTTP_PROXY": "{proxy}", "NO_PROXY": "127.0.0.1"}, "127.0.0.1", False, id="no_proxy-address"),
    pytest.param({"HTTP_PROXY": "{proxy}", "no_proxy": "127.0.0.1"}, "127.0.0.1", False, id="no_proxy-lower-case"),
    pytest.param({"HTTP_PROXY": "{proxy}", "NO_PROXY": "*"}, "127.0.0.1", False, id="no_proxy-star"),
    pytest.param({"HTTP_PROXY": "{proxy}", "NO_PROXY": "example.com, 127.0.0.1"}, "127.0.0.1", False,
                 id="no_proxy-list"),
    pytest.param({"HTTP_PROXY": "{proxy}", "NO_PROXY": "127.0.0.0/8"}, "127.0.0.1", False, id="no_proxy-cidr"),
    pytest.param({"HTTP_PROXY": "{proxy}", "NO_PROXY": "127.0.0.1:{port}"}, "127.0.0.1", False,
                 id="no_proxy-host-and-port"),
    pytest.param({"HTTP_PROXY": "{proxy}", "NO_PROXY": "127.0.0.1:1"}, "127.0.0.1", True,
                 id="no_proxy-another-port"),
    pytest.param({"HTTP_PROXY": "{proxy}", "NO_PROXY": "http://127.0.0.1"}, "127.0.0.1", False,
                 id="no_proxy-http-url"),
    pytest.param({"HTTP_PROXY": "{proxy}", "NO_PROXY": "https://127.0.0.1"}, "127.0.0.1", True,
                 id="no_proxy-https-url"),
    pytest.param({"HTTP_PROXY": "{proxy}", "NO_PROXY": "127.0.0.1/x"}, "127.0.0.1", True,
                 id="no_proxy-unreadable-entry-skipped"),
    pytest.param({"HTTP_PROXY": "{proxy}", "NO_PROXY": "localhost"}, "127.0.0.1", True,
                 id="no_proxy-names-are-not-resolved"),
    pytest.param({"HTTP_PROXY": "{proxy}", "NO_PROXY": "localhost"}, "localhost", False, id="no_proxy-localhost"),
    pytest.param({"HTTP_PROXY": "{proxy}", "NO_PROXY": "host"}, "localhost", True, id="no_proxy-whole-labels"),
    pytest.param({"HTTP_PROXY": "{proxy}"}, "localhost", True, id="localhost-is-not-exempt"),
]


@pytest.mark.parametrize("variables,host,proxied", ROUTES)
async def test_routes_are_those_httpx2_takes_from_the_environment(
    providers, settings, upstream, environment, proxy, variables, host, proxied
):
    port = upstream_port(upstream)
    address = proxy.url.removeprefix("http://")
    for name, value in variables.items():
        environment.setenv(name, value.format(proxy=proxy.url, address=address, port=port))
    base = f"http://{host}:{port}"
    point_providers_at(settings, base)
    events, error = await collect(build_registry().providers["openai"])
    assert error is None and text_of(events) == reply_text("Hello tree", 12)
    # httpx2 with no transport of its own reads the same variables: it is the reference.
    async with httpx2.AsyncClient() as plain:
        assert (await plain.get(base + "/v1/models", headers={"authorization": "Bearer k"})).status_code == 200
    went_through = (
        Relayed("POST", base + "/v1/chat/completions") in proxy.relayed,
        Relayed("GET", base + "/v1/models") in proxy.relayed,
    )
    assert went_through == (proxied, proxied)


async def test_a_proxy_that_cannot_be_reached_is_named(providers, upstream, environment):
    async with ForwardProxy() as gone:
        address = gone.url
    environment.setenv("HTTP_PROXY", address.replace("http://", "http://user:secret@"))
    events, error = await collect(providers.providers["openai"])
    assert events == [] and upstream.requests == []
    assert error is not None and error.message.startswith(
        f"Could not reach OpenAI at {upstream.url}/v1: through the proxy {address} (HTTP_PROXY): "
    )
    assert error.message.endswith(
        "Check the proxy and the proxy variables (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY)."
    )
    assert "secret" not in error.message


@pytest.mark.parametrize("value,message", [
    ("ftp://127.0.0.1:21", "Cannot use the proxy ftp://127.0.0.1:21 (HTTP_PROXY): Unknown scheme for proxy URL"),
    ("socks4://user:secret@127.0.0.1:1080", "Cannot use the proxy socks4://127.0.0.1:1080 (HTTP_PROXY)"),
    # httpx2 takes it, but aiohttp, which carries the requests, would speak HTTP to it.
    ("socks5://user:secret@127.0.0.1:1080",
     "Cannot use the proxy socks5://127.0.0.1:1080 (HTTP_PROXY): socks5:// proxies are not supported"),
])
async def test_a_proxy_url_the_client_cannot_use_is_refused_clearly(providers, upstream, environment, value, message):
    environment.setenv("HTTP_PROXY", value)
    events, error = await collect(providers.providers["anthropic"])
    assert events == [] and upstream.requests == []
    assert error is not None and error.message.startswith(message)
    assert "Set HTTP_PROXY to a proxy's URL" in error.message and "secret" not in error.message


async def test_proxy_credentials_come_from_the_proxy_url(providers, settings, upstream, environment, tmp_path):
    server_context, cert_file = self_signed(tmp_path)
    environment.setenv("SSL_CERT_FILE", cert_file)
    async with (
        ForwardProxy(credentials="user:secret") as proxy,
        TLSFront(server_context, upstream_port(upstream)) as front,
    ):
        # Without them: http:// gets the proxy's 407 answer, https:// its refused tunnel.
        environment.setenv("HTTP_PROXY", proxy.url)
        environment.setenv("HTTPS_PROXY", proxy.url)
        _, error = await collect(providers.providers["openai"])
        assert error is not None and error.status == 407
        assert error.message.startswith("The proxy in front of OpenAI asks for credentials (407)")
        point_providers_at(settings, front.url)
        _, error = await collect(build_registry().providers["openai"])
        assert error is not None and error.message.startswith(
            f"Could not reach OpenAI at {front.url}/v1: through the proxy {proxy.url} (HTTPS_PROXY): "
            "407 Proxy Authentication Required."
        )
        assert proxy.relayed == [] and upstream.requests == []
        # With them.
        environment.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://user:secret@"))
        events, error = await collect(build_registry().providers["openai"])
        assert error is None and text_of(events) == reply_text("Hello tree", 12)
        assert proxy.relayed == [Relayed("CONNECT", f"127.0.0.1:{front.port}")]
