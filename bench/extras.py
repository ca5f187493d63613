"""The other benchmarks' sections: tree size (bench.tree), the context meter (bench.context_meter)
and search (bench.search).

Each runs in a subprocess of its own (they set Django up for their own database), on SQLite and, when
PostgreSQL is reachable, on a scratch database made for it and dropped after; their command-line
output is included as they print it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager

from bench.server import ROOT


def _all_cores() -> None:
    os.sched_setaffinity(0, range(os.cpu_count() or 1))


def _run(args: list[str], env: dict | None = None, timeout: float = 1800) -> tuple[int, str]:
    try:
        done = subprocess.run(args, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, preexec_fn=_all_cores)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout:.0f} s"
    return done.returncode, done.stdout + (("\n" + done.stderr[-2000:]) if done.returncode else "")


@contextmanager
def scratch_database(postgres: str, name: str):
    """A fresh PostgreSQL database URL for the block (None without PostgreSQL)."""
    if not postgres:
        yield None
        return
    import psycopg

    base = postgres.rstrip("/").rpartition("/")[0] if postgres.count("/") > 2 else postgres.rstrip("/")
    database = f"workbench_bench_{os.getpid()}_{name}"
    with psycopg.connect(base + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}"')
        connection.execute(f'CREATE DATABASE "{database}"')
    try:
        yield f"{base}/{database}"
    finally:
        with psycopg.connect(base + "/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _demote(markdown: str) -> str:
    """Headings two levels down, to sit under this section's own."""
    return "\n".join("##" + line if line.startswith("#") else line for line in markdown.splitlines())


# Kept when the section is written anew: the figures of a client the SDKs no longer use.
READ_PATH_HISTORY = """### History: the hand-written transport (removed)

Until the SDKs were given their own aiohttp client, they ran on a hand-written HTTP/1.1 transport
(`conversations/providers/transport.py`, now removed). The benchmark that chose its successor took
it among the ways, on the same loaded machine (`.venv/bin/python -m bench.read_path --streams
10,50,100 --runs 7` at the commit “bench.read_path compares HTTP clients under the SDK in one run,
taking turns”); reads spaced 20 ms once text flows (the default), CPU per token:

| replies at once | hand-written transport | aiohttp (DefaultAioHttpClient) | httpx2, the SDK's default | httpx2, tuned |
|---|---|---|---|---|
| 10 | 62.8 µs | 57.6 µs | 93.6 µs | 80.4 µs |
| 50 | 23.5 µs | 31.0 µs | 54.4 µs | 51.3 µs |
| 100 | 20.8 µs | 22.1 µs | 46.0 µs | 46.5 µs |

Earlier, with three runs at 100 replies and only httpx2 beside it, this section read 16.3 µs for the
hand-written transport (18.9 µs with every chunk read as it came) and 52.8 µs for httpx2's transport.
"""  # noqa: E501 (a Markdown table row is one line)


def read_path_section(quick: bool, log=print) -> str:
    log("reading the upstream alone (bench.read_path)…")
    flags = ["--streams", "50", "--runs", "1"] if quick else ["--streams", "10,50,100", "--runs", "5"]
    code, out = _run([sys.executable, "-m", "bench.read_path", *flags])
    command = f".venv/bin/python -m bench.read_path {' '.join(flags)}".strip()
    body = out.strip() if code == 0 else f"**Failed** (exit {code}):\n\n```\n{out.strip()[-2000:]}\n```"
    return (f"## Reading the upstream\n\n`{command}`: the CPU one process spends reading streamed replies "
            "through the OpenAI provider, nothing else (no database, no websockets).\n\n" + body + "\n\n"
            + READ_PATH_HISTORY)


def tree_section(options: dict, postgres: str, quick: bool, log=print) -> str:
    log("tree size (bench.tree)…")
    flags = ["--turns", "20000", "--runs", "10"] if quick else []
    return _per_database("Tree size and page size", "bench.tree", flags, postgres, "tree",
                         "Measured by `python -m bench.tree` on each database (it builds the database "
                         "first); its output as it printed it.")


def context_section(options: dict, postgres: str, quick: bool, log=print) -> str:
    log("context meter (bench.context_meter)…")
    flags = ["--runs", "5"] if quick else []
    return _per_database("Context meter of a 2,000-turn branch", "bench.context_meter", flags, postgres,
                         "context", "Printed by `python -m bench.context_meter` (medians and 95th percentiles "
                         "of its runs), included as it printed it.")


def search_section(options: dict, postgres: str, quick: bool, log=print) -> str:
    log("search (bench.search)…")
    flags = ["--turns", "20000", "--conversations", "400", "--runs", "2", "--writes", "50"] if quick else []
    from bench.search import METHOD

    return _per_database("Search", "bench.search", flags, postgres, "search",
                         METHOD + "\n\nIts output on each database, as it printed it.")


def review_section(options: dict, postgres: str, quick: bool, log=print) -> str:
    log("review (bench.review)…")
    flags = ["--turns", "2000", "--comments", "400", "--runs", "3"] if quick else []
    return _per_database("Review on a 10,000-turn conversation", "bench.review", flags, postgres, "review",
                         "Measured by `python -m bench.review` on each database (it builds the conversation "
                         "first: 10,000 turns, 2,000 comments, 2,000 verdicts); its output as it printed it.")


def _per_database(title: str, module: str, flags: list[str], postgres: str, name: str, note: str) -> str:
    parts = [f"## {title}", "", note, ""]
    runs: list[tuple[str, str | None]] = [("SQLite", None)]
    if postgres:
        runs.append(("PostgreSQL", postgres))
    for label, url in runs:
        with scratch_database(url or "", name) as database:
            env = {"BENCH_DATABASE_URL": database} if database else {}
            if database is None:
                env["BENCH_DATABASE_URL"] = ""
            code, out = _run([sys.executable, "-m", module, *flags], env=env)
        prefix = "BENCH_DATABASE_URL=postgres://… " if database else ""
        command = f"{prefix}.venv/bin/python -m {module} {' '.join(flags)}".strip()
        parts.append(f"### {label}: `{command}`\n")
        if code != 0:
            tail = "\n".join(out.strip().splitlines()[-6:])
            parts.append(f"**Failed** (exit {code}); the end of its output:\n\n```\n{tail}\n```\n")
        elif "|" in out:
            parts.append(_demote(out.strip()) + "\n")
        else:
            parts.append(f"```\n{out.strip()}\n```\n")
    return "\n".join(parts)
