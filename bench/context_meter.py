"""Benchmark: the context meter of a 2,000-turn branch, from stored token counts.

    .venv/bin/python -m bench.context_meter [--turns 2000] [--runs 30]

Builds a conversation with one branch of `--turns` turns (each ~60 words, counts stored as the
service stores them) in a throwaway SQLite database (or the PostgreSQL database named by
BENCH_DATABASE_URL), then times, over `--runs` runs, the median and 95th percentile of:

- the branch read (one recursive CTE) plus the meter's sum over it (`branch_meter`),
- the meter alone over turns already in memory,
- fitting the next request into a window that holds only part of the branch (`plan_context`),
- counting one turn's text (what is stored once when a turn is written).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
    os.environ.setdefault("WORKBENCH_LOCAL_MODEL", "false")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def timed(function, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-context-")
    setup(os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/bench.sqlite3")

    from django.contrib.auth.models import User
    from django.db import connection

    from conversations.catalogue import Catalogue, load_entries
    from conversations.context import branch_meter, plan_context
    from conversations.models import Conversation, Turn
    from conversations.tokens import count_all
    from conversations.workspaces.services import personal_workspace

    user = User.objects.create_user(f"bench{time.time_ns()}")
    conversation = Conversation.objects.create(owner=user, workspace=personal_workspace(user), title="bench")
    text = ("The quick brown fox jumps over the lazy dog while the rate limiter counts tokens. " * 4).strip()
    counts = count_all(text)
    parent = None
    for index in range(args.turns):
        reply = index % 2 == 1
        parent = Turn.objects.append(
            conversation=conversation, parent=parent, role="assistant" if reply else "user",
            content=f"{index}: {text}", token_counts=counts, provider="openai" if reply else "",
            model="gpt-4.1-mini" if reply else "",
        )
    assert parent is not None, "--turns must be at least 1"
    tip = parent.id
    catalogue = Catalogue(load_entries())
    info = catalogue.info("openai:gpt-4.1-mini")
    small = Catalogue({"gpt-4o-mini": {"context_window": 32000, "max_output": 4000}}).info("openai:gpt-4o-mini")
    path = Turn.objects.path(conversation_id=conversation.id, turn_id=tip)
    meter = branch_meter(path, info)

    read_and_meter = timed(
        lambda: branch_meter(Turn.objects.path(conversation_id=conversation.id, turn_id=tip), info), args.runs
    )
    meter_only = timed(lambda: branch_meter(path, info), args.runs)
    plan = plan_context(path=path, info=small)
    fit = timed(lambda: plan_context(path=path, info=small), args.runs)
    count_one = timed(lambda: count_all(f"x {text}"), args.runs)

    print(f"database: {connection.vendor}; branch of {len(path):,} turns, {meter.used:,} tokens "
          f"(o200k_base, stored); {args.runs} runs each")
    print(f"{'measure':<52} {'median ms':>10} {'p95 ms':>8}")
    for name, (median, p95) in [
        ("read branch (1 CTE) + meter sum", read_and_meter),
        ("meter sum over turns in memory", meter_only),
        (f"fit next request into 32k window ({len(plan.omitted):,} left out)", fit),
        ("count one turn's text, both encodings", count_one),
    ]:
        print(f"{name:<52} {median:>10.2f} {p95:>8.2f}")


if __name__ == "__main__":
    main()
