"""Benchmark: tree size. The root→leaf path of a 2,000-turn branch in a database of 250,000 turns,
and opening the page of a 10,000-turn conversation.

    .venv/bin/python -m bench.tree [--turns 250000] [--runs 50]

Builds the database once (SQLite in a temporary folder, or the PostgreSQL database named by
BENCH_DATABASE_URL): many conversations of bushy trees up to the total,
one of which holds a 2,000-turn branch, plus a 10,000-turn conversation (one long branch with side
branches every 50 turns). Then times, over `--runs` runs, the path query (`selectors.path_sql`: one
query, chain by chain) and the conversation page through Django's test client (server time, HTML
size).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET_PATH_P95_MS = 10.0
TARGET_PAGE_MS = 150.0
TARGET_PAGE_KB = 500.0


def django_setup(database_url: str) -> None:
    """Django set up on `database_url`, its schema migrated: for the benchmarks run outside a server."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
    os.environ.setdefault("WORKBENCH_LOCAL_MODEL", "false")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def _build(total: int) -> dict:
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from conversations.lineage import lineage
    from conversations.models import Conversation, Turn
    from conversations.tokens import count_all
    from conversations.workspaces.services import personal_workspace

    user = User.objects.create_user(f"bench{time.time_ns()}", password="bench-password-1")
    workspace = personal_workspace(user)
    text = "A turn of ordinary length, some sixty characters or so, give or take."
    counts = count_all(text)
    rng = random.Random(7)

    def grow(conversation, size: int, *, trunk: int = 0, side_every: int = 0) -> list[int]:
        """`size` turns: a trunk of `trunk` turns (root down), the rest as random branches."""
        rows, parents, ids = [], [], []
        for index in range(size):
            if index < trunk:
                parent = index - 1 if index else None
            elif side_every and index - trunk < trunk // side_every:
                parent = (index - trunk) * side_every  # one side turn every `side_every` trunk turns
            else:
                parent = rng.randrange(index) if index else None
            parents.append(parent)
            rows.append(Turn(conversation=conversation, role="user" if index % 2 == 0 else "assistant",
                             content=f"{index}: {text}", token_counts=counts))
        with transaction.atomic():
            created = Turn.objects.bulk_create(rows, batch_size=2000)
            ids = [t.id for t in created]
            table = connection.ops.quote_name(Turn._meta.db_table)
            links = [(ids[i], ids[p] if p is not None else None) for i, p in enumerate(parents)]
            placed = lineage(links)
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {table} SET parent_id = %s, depth = %s, chain = %s WHERE id = %s",
                    [(parent, *placed[turn], turn) for turn, parent in links],
                )
            tip = ids[trunk - 1] if trunk else ids[-1]
            Conversation.objects.filter(pk=conversation.pk).update(current_turn_id=tip)
        return ids

    made = 0
    deep = Conversation.objects.create(owner=user, workspace=workspace, title="2,000-turn branch")
    deep_ids = grow(deep, 4000, trunk=2000)
    made += 4000
    page = Conversation.objects.create(owner=user, workspace=workspace, title="10,000 turns")
    page_ids = grow(page, 10_000, trunk=9800, side_every=50)
    made += 10_000
    while made < total:
        size = min(2000, total - made)
        conversation = Conversation.objects.create(owner=user, workspace=workspace, title="filler")
        grow(conversation, size)
        made += size
    return {"user": user, "deep": deep, "deep_tip": deep_ids[1999], "page": page, "page_tip": page_ids[9799]}


def measure(total: int, runs: int) -> dict:
    from django.db import connection
    from django.test import Client

    from conversations.models import Turn

    started = time.perf_counter()
    world = _build(total)
    built = time.perf_counter() - started
    assert len(Turn.objects.path(conversation_id=world["deep"].id, turn_id=world["deep_tip"])) == 2000

    # The query alone (rows fetched through the cursor), and the selector that builds Turn objects.

    query = Turn.objects.path_sql()
    query_ms, path_ms = [], []
    for _ in range(runs):
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(query, [world["deep_tip"], world["deep"].id])
            rows = cursor.fetchall()
        query_ms.append((time.perf_counter() - start) * 1000)
        assert len(rows) == 2000
        start = time.perf_counter()
        Turn.objects.path(conversation_id=world["deep"].id, turn_id=world["deep_tip"])
        path_ms.append((time.perf_counter() - start) * 1000)

    client = Client()
    client.force_login(world["user"])
    url = f"/c/{world['page'].id}/"
    client.get(url)  # warm the session and caches
    page_ms, size = [], 0
    for _ in range(max(5, runs // 5)):
        start = time.perf_counter()
        response = client.get(url)
        page_ms.append((time.perf_counter() - start) * 1000)
        size = len(response.content)
        assert response.status_code == 200
    return {
        "database": connection.vendor,
        "turns": Turn.objects.count(),
        "built_s": built,
        "query": percentiles(query_ms),
        "path": percentiles(path_ms),
        "page": percentiles(page_ms),
        "page_kb": size / 1024,
    }


def _mark(value: float, target: float) -> str:
    return "met" if value <= target else "**not met**"


def section(results: list[dict]) -> str:
    lines = [
        "| database | turns in it | path root→leaf of a 2,000-turn branch: the query, p50 / p95 | target p95 "
        "| with Turn objects built, p50 / p95 | 10,000-turn page, server p50 / p95 | target | page HTML | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['database']} | {r['turns']:,} | {r['query'][0]:.1f} / {r['query'][1]:.1f} ms "
            f"| ≤ {TARGET_PATH_P95_MS:.0f} ms "
            f"({_mark(r['query'][1], TARGET_PATH_P95_MS)}) | {r['path'][0]:.1f} / {r['path'][1]:.1f} ms "
            f"| {r['page'][0]:.0f} / {r['page'][1]:.0f} ms | ≤ {TARGET_PAGE_MS:.0f} ms "
            f"({_mark(r['page'][0], TARGET_PAGE_MS)}) | {r['page_kb']:.0f} KB "
            f"| ≤ {TARGET_PAGE_KB:.0f} KB ({_mark(r['page_kb'], TARGET_PAGE_KB)}) |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=250_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-tree-')}/bench.sqlite3"
    django_setup(url)
    result = measure(args.turns, args.runs)
    print(f"built {result['turns']:,} turns in {result['built_s']:.0f} s\n")
    print(section([result]))


if __name__ == "__main__":
    main()
