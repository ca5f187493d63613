"""Timestamps read back exactly as they were written, aware and in UTC, through the path query the
pages read turns with, on SQLite and on PostgreSQL (CI's second run) alike."""
from __future__ import annotations

import datetime

import pytest

from conversations import services
from conversations.models import Turn

UTC = datetime.UTC


@pytest.mark.django_db
def test_timestamps_read_back_exactly_and_in_utc(alice):
    conversation = services.conversation_create(owner=alice)
    root = Turn.objects.append(conversation=conversation, role="user", content="x")
    reply = Turn.objects.append(conversation=conversation, parent=root, role="assistant", content="y")
    for moment in (
        datetime.datetime(2026, 11, 22, 17, 16, 7, 449600, tzinfo=UTC),
        datetime.datetime(2026, 11, 22, 17, 16, 7, tzinfo=UTC),  # no fraction of a second
        datetime.datetime(
            1999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30))
        ),
        datetime.datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ):
        Turn.objects.filter(pk=reply.pk).update(first_token_at=moment)
        path = Turn.objects.path(conversation_id=conversation.id, turn_id=reply.id)
        assert [turn.pk for turn in path] == [root.pk, reply.pk]
        read = path[-1].first_token_at
        assert read == moment and read.tzinfo is UTC, (moment, read)
        assert path[0].created_at.tzinfo is UTC
