"""A 10,000-turn conversation with 2,000 comments opens with its review counts in a constant number
of queries: the page and its review summary ask the same number whatever the conversation holds."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.review import build
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db

# Session and user, the permission check (one query), and the summary's five: live comments per
# turn, open threads with their replies, verdicts, preferences, members.
SUMMARY_QUERIES = 2 + 1 + 5


def queries(client, url: str) -> int:
    client.get(url)  # the session's first read is not the page's
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_the_summary_and_the_page_take_the_same_queries_small_or_large(django_assert_num_queries):
    small = build(turns=20, comments=4)
    large = build(turns=10_000, comments=2_000)
    counts = {}
    for name, world in (("small", small), ("large", large)):
        client = signed_in(world["user"])
        conversation = world["conversation"].id
        counts[name] = (queries(client, f"/c/{conversation}/"), queries(client, f"/c/{conversation}/review.json"))
    assert counts["small"] == counts["large"]
    client = signed_in(large["user"])
    client.get(f"/c/{large['conversation'].id}/review.json")
    with django_assert_num_queries(SUMMARY_QUERIES):
        data = client.get(f"/c/{large['conversation'].id}/review.json").json()
    assert sum(turn["comments"] for turn in data["turns"].values()) == 2_000
    assert len(data["threads"]) == 1_000 - 200  # a fifth resolved
    assert sum(len(v["up"]) + len(v["down"]) for v in data["verdicts"].values()) == 2_000
