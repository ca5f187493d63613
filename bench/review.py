"""Benchmark: review on a large conversation. A 10,000-turn conversation (one long branch with side
branches every 50 turns) with 2,000 comments (1,000 threads, 1,000 replies, a fifth of the threads
resolved), 2,000 verdicts from four members and their preferred branches. Times, over `--runs` runs,
the conversation page and its review summary (review.json: every turn's counts, the open threads,
verdicts, preferences, members) through Django's test client, server time, and counts the queries
of each.

    .venv/bin/python -m bench.review [--turns 10000] [--comments 2000] [--runs 20]
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from bench.tree import django_setup, percentiles

TARGET_SUMMARY_MS = 150.0


def build(turns: int, comments: int) -> dict:
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from conversations.lineage import lineage
    from conversations.models import Conversation, Turn
    from conversations.review.models import Comment, Preference, Verdict
    from conversations.workspaces import services as workspaces

    stamp = time.time_ns()
    people = [User.objects.create_user(f"{name}{stamp}", password="bench-password-1")
              for name in ("alice", "bob", "vera", "dan")]
    team = workspaces.workspace_create(owner=people[0], name="Bench team")
    for person in people[1:]:
        workspaces.member_invite(workspace=team, who=person.username, role="editor")
    conversation = Conversation.objects.create(owner=people[0], workspace=team, title=f"{turns:,} turns")
    trunk = turns - turns // 50
    parents = [index - 1 if index else None for index in range(trunk)]
    parents += [(index - trunk) * 50 for index in range(trunk, turns)]
    text = "A turn of ordinary length, some sixty characters or so, give or take."
    rows = [Turn(conversation=conversation, role="user" if i % 2 == 0 else "assistant", content=f"{i}: {text}")
            for i in range(turns)]
    rng = random.Random(16)
    with transaction.atomic():
        ids = [t.id for t in Turn.objects.bulk_create(rows, batch_size=2000)]
        links = [(ids[i], ids[p] if p is not None else None) for i, p in enumerate(parents)]
        placed = lineage(links)
        table = connection.ops.quote_name(Turn._meta.db_table)
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET parent_id = %s, depth = %s, chain = %s WHERE id = %s",
                               [(parent, *placed[turn], turn) for turn, parent in links])
        Conversation.objects.filter(pk=conversation.pk).update(current_turn_id=ids[trunk - 1])
        threads = Comment.objects.bulk_create([
            Comment(conversation=conversation, turn_id=rng.choice(ids), author=rng.choice(people),
                    body=f"Thread {n}: why this step? @{people[1].username}")
            for n in range(comments // 2)
        ], batch_size=1000)
        Comment.objects.bulk_create([
            Comment(conversation=conversation, turn_id=root.turn_id, thread=root, author=rng.choice(people),
                    body=f"Reply {n}: because.")
            for n, root in enumerate(rng.choice(threads) for _ in range(comments - comments // 2))
        ], batch_size=1000)
        Comment.objects.filter(pk__in=[t.pk for t in threads[::5]]).update(resolved_at=threads[0].created_at)
        replies = ids[1::2]
        Verdict.objects.bulk_create([
            Verdict(conversation=conversation, turn_id=turn, user=person, value=rng.choice((1, -1)))
            for turn in rng.sample(replies, min(len(replies), 500)) for person in people
        ], batch_size=1000)
        Preference.objects.bulk_create([
            Preference(conversation=conversation, turn_id=ids[trunk - 1 if n % 2 else -1], user=person,
                       created_at=threads[0].created_at)
            for n, person in enumerate(people)
        ])
    return {"user": people[0], "conversation": conversation}


def measure(turns: int, comments: int, runs: int) -> dict:
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections, connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    started = time.perf_counter()
    world = build(turns, comments)
    built = time.perf_counter() - started
    client = Client()
    client.force_login(world["user"])
    results: dict = {"database": connection.vendor, "built_s": built, "turns": turns, "comments": comments}
    for name, url in (("page", f"/c/{world['conversation'].id}/"),
                      ("summary", f"/c/{world['conversation'].id}/review.json")):
        client.get(url)  # warm the session and caches
        # Counted on one connection: a request's start and end would otherwise close it, and its log.
        for signal in (request_started, request_finished):
            signal.disconnect(close_old_connections)
        try:
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            counted = len(queries)  # now: the log is read lazily, and a later request's reconnection clears it
        finally:
            for signal in (request_started, request_finished):
                signal.connect(close_old_connections)
        assert response.status_code == 200
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - start) * 1000)
        results[name] = {"ms": percentiles(samples), "queries": counted, "kb": len(response.content) / 1024}
    return results


def section(r: dict) -> str:
    mark = "met" if r["summary"]["ms"][0] <= TARGET_SUMMARY_MS else "**not met**"
    return "\n".join([
        f"built {r['turns']:,} turns and {r['comments']:,} comments in {r['built_s']:.0f} s",
        "",
        "| database | what | server p50 / p95 | queries | size | target |",
        "|---|---|---|---|---|---|",
        f"| {r['database']} | the conversation page | {r['page']['ms'][0]:.0f} / {r['page']['ms'][1]:.0f} ms "
        f"| {r['page']['queries']} | {r['page']['kb']:.0f} KB | – |",
        f"| {r['database']} | its review summary (review.json) | {r['summary']['ms'][0]:.0f} / "
        f"{r['summary']['ms'][1]:.0f} ms | {r['summary']['queries']} | {r['summary']['kb']:.0f} KB "
        f"| p50 ≤ {TARGET_SUMMARY_MS:.0f} ms ({mark}) |",
    ]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--comments", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    database = os.environ.get("BENCH_DATABASE_URL", "")
    with tempfile.TemporaryDirectory() as folder:
        django_setup(database or f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        print(section(measure(args.turns, args.comments, args.runs)))


if __name__ == "__main__":
    main()
