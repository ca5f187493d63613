"""Shared fixtures: the personas and their workspace, the fake upstream, providers pointed at it.

The personas (DESIGN.md): alice owns the team workspace "Team", bob is her teammate (an editor),
vera a viewer, charlie an outsider with only his personal workspace; an anonymous visitor holds a
share link, or none. Each is a fixture of its own (`alice`, `bob`, ...); `team` is the workspace,
`personas` all of them at once, and `world` the conversations and share links the permission tests
walk as each persona.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.contrib.auth.models import AnonymousUser, User
from django.db import connections
from django.test import Client
from django.utils import timezone

from conversations import services
from conversations.models import Conversation, Membership, ShareLink, Turn, Workspace
from conversations.registry import registry
from conversations.sharing import services as sharing
from conversations.streaming import generation
from conversations.streaming.sockets import FrameBudget
from conversations.tokens import count_all
from conversations.workspaces import services as workspaces
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


# --- the personas ------------------------------------------------------------------------------

# Each persona is named by their role in Team: the permission tables have a column per role.
OWNER, EDITOR, VIEWER, OUTSIDER, ANON = "owner", "editor", "viewer", "outsider", "anonymous"
USERNAMES = {OWNER: "alice", EDITOR: "bob", VIEWER: "vera", OUTSIDER: "charlie"}


def user_create(username: str) -> User:
    """An account with the shared password and an email of its own."""
    return User.objects.create_user(username, f"{username}@example.com", PASSWORD)


def signed_in(user: User, **client_options) -> Client:
    """A test client signed in as `user`."""
    client = Client(**client_options)
    client.force_login(user)
    return client


@pytest.fixture
def alice(db) -> User:
    """Owns Team and the conversations under test."""
    return user_create("alice")


@pytest.fixture
def bob(db) -> User:
    """alice's teammate: an editor of Team."""
    return user_create("bob")


@pytest.fixture
def vera(db) -> User:
    """A viewer of Team: reads, may not write."""
    return user_create("vera")


@pytest.fixture
def charlie(db) -> User:
    """An outsider: has an account, has no access to Team or to alice's conversations."""
    return user_create("charlie")


@pytest.fixture
def team(alice, bob, vera) -> Workspace:
    """alice's team workspace "Team": bob its editor, vera its viewer."""
    team = workspaces.workspace_create(owner=alice, name="Team")
    workspaces.member_invite(workspace=team, who="bob", role="editor")
    workspaces.member_invite(workspace=team, who="vera", role="viewer")
    return team


@dataclass
class Personas:
    alice: User
    bob: User
    vera: User
    charlie: User
    team: Workspace

    @property
    def users(self) -> dict[str, User]:
        """The signed-in personas by their role in Team."""
        return {OWNER: self.alice, EDITOR: self.bob, VIEWER: self.vera, OUTSIDER: self.charlie}

    def user(self, persona: str) -> User | AnonymousUser:
        """The persona's account; the anonymous visitor for any other name."""
        return self.users.get(persona, AnonymousUser())


@pytest.fixture
def personas(alice, bob, vera, charlie, team) -> Personas:
    return Personas(alice, bob, vera, charlie, team)


# --- the world the permission tests walk -------------------------------------------------------

# Distinctive strings: what a refused visitor or a share link must never see.
TITLE = "Quarterly-plans-7731"
OTHER_TITLE = "Other-team-title-5519"
PRIVATE_TITLE = "Charlie-private-8842"
SYSTEM_PROMPT = "SYSTEM-PROMPT-SECRET-1234"
COST = Decimal("0.0042421")
TEXTS = ["Question-one-text", "Answer-one-text", "Question-two-text", "Answer-two-text"]
SIBLING_TEXT = "Answer-two-sibling-text"
GARBAGE_TOKEN = "Zm9yZ2VkLXRva2VuLXRoYXQtbWF0Y2hlcy1ub3RoaW5n"  # the right shape, matches nothing


def chain(
    conversation: Conversation,
    contents: list[str],
    parent: Turn | None = None,
    *,
    provider: str = "openai",
    model: str = "fake-model",
    **reply_fields,
) -> list[Turn]:
    """Complete turns, alternating prompt and reply, with their counts stored as the service does."""
    turns = []
    for index, content in enumerate(contents):
        reply = index % 2 == 1
        parent = Turn.objects.append(
            conversation=conversation,
            parent=parent,
            role="assistant" if reply else "user",
            content=content,
            token_counts=count_all(content),
            provider=provider if reply else "",
            model=model if reply else "",
            **(reply_fields if reply else {}),
        )
        turns.append(parent)
    return turns


def make_link(
    conversation, by, *, mode="live", audience="anyone", turn=None, expires_at=None, include_reasoning=False
) -> ShareLink:
    return sharing.share_create(
        conversation=conversation, by=by, turn_id=turn.id if turn else None, with_subtree=False,
        mode=mode, audience=audience, expires_at=expires_at, include_reasoning=include_reasoning,
    )


def expire(link: ShareLink) -> None:
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


@dataclass
class World:
    personas: Personas
    conv: Conversation  # in Team: Q1 → A1 → Q2 → A2, and A2b beside A2
    turns: dict[str, Turn]
    doomed: Conversation  # in Team, for the delete cells
    private: Conversation  # charlie's, in his personal workspace
    links: dict[str, ShareLink] = field(default_factory=dict)

    @property
    def users(self) -> dict[str, User]:
        return self.personas.users

    @property
    def team(self) -> Workspace:
        return self.personas.team

    def user(self, persona: str) -> User | AnonymousUser:
        return self.personas.user(persona)

    def token(self, kind: str) -> str:
        return GARBAGE_TOKEN if kind == "garbage" else self.links[kind].token

    @property
    def ids(self) -> dict[str, int]:
        return {
            "team": self.team.id,
            "conv": self.conv.id,
            "doomed": self.doomed.id,
            "private": self.private.id,
            "private_turn": self.private.turns.get().id,
            "charlie_personal": self.private.workspace_id,
            "live_link": self.links["live"].id,
            "bobs_link": self.links["bobs"].id,
            "vera_membership": Membership.objects.get(workspace=self.team, user=self.users[VIEWER]).id,
            **{name: turn.id for name, turn in self.turns.items()},
        }


@pytest.fixture
def world(personas, providers) -> World:
    """Team's conversation with a branch, seen by every persona, and alice's share links to it.

    Links (alice's but for `bobs`): live, snapshot, members-only, revoked, expired, a branch
    (Q1 → A1 only), and bob's own live link.
    """
    alice = personas.alice
    conv = services.conversation_create(owner=alice, workspace=personas.team, title=TITLE)
    reply_fields: dict[str, Any] = {"settings": {"system_prompt": SYSTEM_PROMPT, "temperature": 0.3}, "cost": COST,
                    "input_tokens": 48611, "output_tokens": 39127}
    q1, a1, q2, a2 = chain(conv, TEXTS, **reply_fields)
    a2b = Turn.objects.append(conversation=conv, parent=q2, role="assistant", content=SIBLING_TEXT,
                              token_counts=count_all(SIBLING_TEXT), provider="openai", model="fake-model")
    conv.current_turn = a2
    conv.save(update_fields=["current_turn"])

    doomed = services.conversation_create(owner=alice, workspace=personas.team, title="Doomed-conversation")
    chain(doomed, ["Doomed question"])
    other = services.conversation_create(owner=alice, workspace=personas.team, title=OTHER_TITLE)
    chain(other, ["Other question"])
    private = services.conversation_create(owner=personas.charlie, title=PRIVATE_TITLE)
    chain(private, ["Charlie's own question"])

    w = World(personas, conv, {"q1": q1, "a1": a1, "q2": q2, "a2": a2, "a2b": a2b}, doomed, private)
    w.links = {
        "live": make_link(conv, alice),
        "snapshot": make_link(conv, alice, mode="snapshot"),
        "members": make_link(conv, alice, audience="members"),
        "revoked": make_link(conv, alice),
        "expired": make_link(conv, alice, expires_at=timezone.now() + timedelta(hours=1)),
        "branch": make_link(conv, alice, turn=a1),  # Q1 → A1 only
        "bobs": make_link(conv, personas.bob),
    }
    sharing.share_revoke(link=w.links["revoked"])
    expire(w.links["expired"])
    return w


# --- the fake upstream and the providers -------------------------------------------------------


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
    # 400 tokens over 20 s: a reply that is surely still streaming when a test acts on it.
    "fake-slow-long",
    "fake-error-401",
    "fake-error-403",
    "fake-error-404",
    "fake-error-429",
    "fake-error-500",
    "fake-error-529",
    "fake-error-context",
    "fake-error-filter",
    "fake-midstream-error",
    "fake-stall",
    "fake-malformed",
    # Reasoning before the reply, in each API's own form; slowly; in <think> tags; a refusal.
    "fake-think",
    "fake-think-slow",
    "fake-thinktag",
    "fake-refuse",
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


@pytest.fixture
def small_window(settings, providers):
    """fake-model gets a small window and a price, under every provider."""
    settings.MODEL_CATALOGUE = {
        "fake-model": {"context_window": 400, "max_output": 100, "input_per_million": 2.0, "output_per_million": 8.0},
    }
    registry.cache_clear()
    return registry()


class StoppedClock:
    """Stands in for the `time` module of the sockets' frame budget: the time stands still until
    a test moves it on, so how many frames a flood gets through does not depend on how fast
    the machine handles them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def frame_clock(monkeypatch) -> StoppedClock:
    clock = StoppedClock()
    monkeypatch.setattr(sys.modules[FrameBudget.__module__], "time", clock)
    return clock


@pytest.fixture(autouse=True)
def _no_heartbeat(settings):
    """In-process tests run no heartbeat task (its loop would outlive each test's event loop);
    the live servers keep theirs, and tests/test_liveness.py tests it there."""
    settings.HEARTBEAT_SECONDS = 0


@pytest.fixture(autouse=True)
def _attachment_storage(settings, tmp_path_factory):
    """Each test stores attached files in a folder of its own, never under var/: Django forgets
    its storages when STORAGES changes."""
    location = tmp_path_factory.mktemp("attachments")
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {**settings.STORAGES["attachments"], "OPTIONS": {"location": str(location)}},
    }
    return location


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
