"""PostgreSQL timestamps are read with the standard library's ISO parser, giving exactly what
Django's own loader gives."""
from __future__ import annotations

import datetime

import psycopg
import pytest
from django.db import DataError, connection
from psycopg.pq import Format

from conversations import services
from conversations.models import Turn

POSTGRES = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: CI's second run")
TIMESTAMPTZ = psycopg.postgres.types["timestamptz"].oid


@POSTGRES
@pytest.mark.django_db
def test_timestamps_read_back_exactly_and_in_utc(alice):
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)
    assert loader.iso_fast_path and loader.timezone is datetime.UTC
    conversation = services.conversation_create(owner=alice)
    turn = Turn.objects.append(conversation=conversation, role="user", content="x")
    for moment in (
        datetime.datetime(2026, 11, 22, 17, 16, 7, 449600, tzinfo=datetime.UTC),
        datetime.datetime(2026, 11, 22, 17, 16, 7, tzinfo=datetime.UTC),
        datetime.datetime(
            1999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30))
        ),
        datetime.datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=datetime.UTC),
    ):
        Turn.objects.filter(pk=turn.pk).update(first_token_at=moment)
        read = Turn.objects.get(pk=turn.pk).first_token_at
        assert read == moment and read.tzinfo is datetime.UTC


@POSTGRES
@pytest.mark.django_db
def test_what_the_parser_cannot_read_goes_to_djangos_loader():
    with connection.cursor() as cursor:
        cursor.execute("SELECT '2026-01-02 03:04:05.6+00'::timestamptz")
        assert cursor.fetchone()[0] == datetime.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=datetime.UTC)
        # Beyond datetime's range: Django's loader decides, and raises as it always did.
        with pytest.raises(DataError, match="after year 10K"):
            cursor.execute("SELECT 'infinity'::timestamptz")
            cursor.fetchone()


def test_sqlite_connections_are_left_alone():
    from workbench import db

    class Fake:
        vendor = "sqlite"

    db.use_fast_timestamps(None, Fake())  # nothing to do, nothing touched
