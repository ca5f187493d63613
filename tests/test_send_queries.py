"""How many queries a send costs, counted: the socket's permission check, then the service.

Each test lists the queries it expects, in order; the count is exact. A query added to the path of
a send fails here with that list beside the count found (pytest -v adds the SQL run). The tests run
inside the test's transaction, so a service's transaction is a savepoint: its SAVEPOINT and
RELEASE are counted. On PostgreSQL the conversation's row is locked first (services._lock: SELECT
... FOR UPDATE); SQLite has no row locks (its IMMEDIATE transactions serialise writers) and makes
no query for it. A first prompt with one reply: 9 queries on SQLite, 10 on PostgreSQL.

The heartbeat of a serving process is fresh (`fresh_heartbeat`): a reply's owner costs no query
(liveness.owner_id); the last test counts what an old heartbeat adds.
"""
from __future__ import annotations

import math

import pytest
from django.db import connection

from conversations import services
from conversations.models import Turn
from conversations.permissions import Need, conversation_for
from conversations.streaming import liveness

pytestmark = pytest.mark.django_db

PERMISSION = "SELECT the conversation with the user's role (permissions.conversation_for)"
SAVEPOINT = "SAVEPOINT (the service's transaction)"
RELEASE = "RELEASE SAVEPOINT"
COUNT_STREAMING = "SELECT COUNT of the author's streaming replies (the concurrency limit)"
INSERT_REPLY = "INSERT a reply"
CURRENT_TURN = "UPDATE the conversation's current turn"


def lock() -> list[str]:
    if connection.features.has_select_for_update:
        return ["SELECT ... FOR UPDATE the conversation's row (PostgreSQL)"]
    return []


@pytest.fixture
def expect_queries(django_assert_num_queries):
    """Assert that exactly the queries listed run (by their number), naming them if not."""

    def expect(queries: list[str]):
        numbered = "\n".join(f"{n}. {query}" for n, query in enumerate(queries, 1))
        return django_assert_num_queries(len(queries), info=f"Expected:\n{numbered}")

    return expect


@pytest.fixture
def fresh_heartbeat(settings, monkeypatch):
    """This process beat just now, as its heartbeat task does every HEARTBEAT_SECONDS."""
    settings.HEARTBEAT_SECONDS = 3600
    monkeypatch.setattr(liveness, "_beaten_at", -math.inf)  # restored after the test
    liveness.beat()


@pytest.fixture
def conversation(alice):
    return services.conversation_create(owner=alice)


def send(user, conversation_id: int, *, parent_id: int | None, count: int = 1) -> services.Sent:
    """What the socket does for a `send`: check the user may write, then send."""
    found = conversation_for(user, conversation_id, need=Need.WRITE)
    assert found is not None
    return services.turn_send(
        conversation=found, parent_id=parent_id, content="Count me", author=user,
        variants=[services.Variant("openai:fake-model")] * count,
    )


def first_prompt(replies: int) -> list[str]:
    return [
        PERMISSION,
        SAVEPOINT,
        *lock(),
        "INSERT the prompt (a root: no read of whether its parent has a child)",
        "SELECT title, title_source (untitled: read again under the lock)",
        "UPDATE the conversation's title",
        COUNT_STREAMING,
        # The first reply is the new prompt's first child, known without a read; so are the others.
        *[INSERT_REPLY] * replies,
        CURRENT_TURN,
        RELEASE,
    ]


@pytest.mark.usefixtures("fresh_heartbeat")
def test_a_first_prompt_with_one_reply(alice, conversation, providers, expect_queries):
    queries = first_prompt(1)
    assert len(queries) == (10 if connection.features.has_select_for_update else 9)
    with expect_queries(queries):
        sent = send(alice, conversation.id, parent_id=None)
    assert len(sent.replies) == 1


@pytest.mark.usefixtures("fresh_heartbeat")
def test_a_first_prompt_with_three_replies(alice, conversation, providers, expect_queries):
    queries = first_prompt(3)
    assert len(queries) == (12 if connection.features.has_select_for_update else 11)
    with expect_queries(queries):
        sent = send(alice, conversation.id, parent_id=None, count=3)
    replies = Turn.objects.filter(pk__in=[p.reply.pk for p in sent.replies]).order_by("pk")
    # The first continues the prompt's chain, the others start chains of their own (lineage.py).
    assert [r.chain for r in replies] == [sent.prompt.pk, None, None]


def finished_first_reply(alice, conversation) -> tuple[Turn, Turn]:
    """A first prompt and its reply, finished."""
    sent = send(alice, conversation.id, parent_id=None)
    reply = sent.replies[0].reply
    Turn.objects.filter(pk=reply.pk).update(status=Turn.Status.COMPLETE, content="Done")
    return sent.prompt, reply


@pytest.mark.usefixtures("fresh_heartbeat")
def test_a_prompt_that_continues_a_branch(alice, conversation, providers, expect_queries):
    _, reply = finished_first_reply(alice, conversation)
    queries = [
        PERMISSION,
        SAVEPOINT,
        *lock(),
        "SELECT the path root → parent (one recursive query)",
        "SELECT whether the parent has a child already (the prompt continues its chain if not)",
        "INSERT the prompt",
        # Titled already: no title read or write.
        COUNT_STREAMING,
        INSERT_REPLY,
        CURRENT_TURN,
        RELEASE,
    ]
    assert len(queries) == (10 if connection.features.has_select_for_update else 9)
    with expect_queries(queries):
        sent = send(alice, conversation.id, parent_id=reply.pk)
    assert sent.prompt.parent_id == reply.pk and sent.prompt.chain == (reply.chain or reply.pk)


@pytest.mark.usefixtures("fresh_heartbeat")
def test_regenerating_a_reply(alice, conversation, providers, expect_queries):
    prompt, reply = finished_first_reply(alice, conversation)
    queries = [
        PERMISSION,
        SAVEPOINT,
        *lock(),
        "SELECT the path root → the reply",
        COUNT_STREAMING,
        # Not asked whether the prompt has a child: it has, the reply regenerated.
        INSERT_REPLY,
        CURRENT_TURN,
        RELEASE,
    ]
    assert len(queries) == (8 if connection.features.has_select_for_update else 7)
    with expect_queries(queries):
        found = conversation_for(alice, conversation.id, need=Need.WRITE)
        assert found is not None
        prepared = services.reply_regenerate(
            conversation=found, turn_id=reply.pk, author=alice, variant=services.Variant("openai:fake-model")
        )
    assert prepared.reply.parent_id == prompt.pk and prepared.reply.chain is None


def test_an_old_heartbeat_costs_a_read_for_each_reply(alice, conversation, providers, expect_queries):
    # Heartbeats off (tests/conftest.py), so never fresh: every reply asks whether this process is
    # registered. The first one here finds it is not and registers it.
    registered = "SELECT whether this process is registered (liveness.owner_id)"
    queries = [
        PERMISSION, SAVEPOINT, *lock(),
        "INSERT the prompt", "SELECT title, title_source", "UPDATE the conversation's title", COUNT_STREAMING,
        registered, "UPDATE this process's heartbeat (no row)", "INSERT this process's row", INSERT_REPLY,
        registered, INSERT_REPLY,
        registered, INSERT_REPLY,
        CURRENT_TURN, RELEASE,
    ]
    with expect_queries(queries):
        send(alice, conversation.id, parent_id=None, count=3)
    # Registered now, and titled: a read for each reply, no write.
    queries = [
        PERMISSION, SAVEPOINT, *lock(), "INSERT the prompt", COUNT_STREAMING,
        *[registered, INSERT_REPLY] * 3, CURRENT_TURN, RELEASE,
    ]
    with expect_queries(queries):
        send(alice, conversation.id, parent_id=None, count=3)
