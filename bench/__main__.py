"""The streaming benchmark: every measurement, then BENCHMARKS.md.

    .venv/bin/python -m bench                      # everything (15–25 minutes)
    .venv/bin/python -m bench --quick              # a smoke run (a few minutes)
    .venv/bin/python -m bench --levels 1,10 --runs 5 --skip scaleout,idle,tree
    .venv/bin/python -m bench --skip sqlite,postgresql,scaleout --rate-levels 100,200,300   # rate at three levels

Parts (all run unless skipped): sqlite, postgresql, scaleout (two processes on PostgreSQL + Redis),
rate (300 streams at 50 tokens a second on one process, SQLite), wide (500 streams at 20 tokens a
second on two processes, PostgreSQL + Redis), idle (2,000 open websockets), profile (cProfile of
the server), readpath (bench.read_path: reading the upstream alone), tree (bench.tree), context
(bench.context_meter), search (bench.search), review (bench.review). PostgreSQL is
BENCH_DATABASE_URL or --postgres (default the local server); Redis is REDIS_URL or --redis. Each
gets scratch databases / a channel prefix of its own, removed after. Not part of the test suite.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import extras, machine, report
from bench.scenarios import (
    LOADGEN_CPU,
    Plan,
    measure_idle,
    measure_levels,
    measure_profile,
)
from bench.server import ROOT, Deployment, reachable
from bench.streams import REPLY_TIMEOUT
from bench.upstream import FIRST_TOKEN_DELAY, TOKENS, TimedUpstream

PARTS = ("sqlite", "postgresql", "scaleout", "rate", "wide", "idle", "profile", "readpath", "tree", "context",
         "search", "review")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 10 streams, one run, rate at 30 and wide at 40 streams, 500 idle "
                             "sockets, small trees")
    parser.add_argument("--levels", help="concurrent streams per level (default 1,10,50,100)")
    parser.add_argument("--runs", type=int, help="runs per level; medians are reported (default 3)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: " + ",".join(PARTS))
    parser.add_argument("--postgres", default=os.environ.get("BENCH_DATABASE_URL")
                        or "postgres://postgres@127.0.0.1:5432/postgres", help="PostgreSQL server URL")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--rate-levels",
                        help="streams on one process in the rate part (default 300; 30 with --quick)")
    parser.add_argument("--rate-interval", type=float, default=0.02,
                        help="seconds between tokens in the rate part (default 0.02: 50 a second)")
    parser.add_argument("--wide-levels",
                        help="streams on two processes in the wide part (default 500; 40 with --quick)")
    parser.add_argument("--wide-interval", type=float, default=0.05,
                        help="seconds between tokens in the wide part (default 0.05: 20 a second)")
    parser.add_argument("--idle-sockets", type=int, help="idle websockets to hold (default 2000)")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", help="also write the raw measurements here")
    parser.add_argument("--render", metavar="JSON", help="measure nothing: write the Markdown again from a --json file")
    args = parser.parse_args(argv)
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = args.skip - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) to skip: {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}")
    args.levels = [int(v) for v in (args.levels or ("10" if args.quick else "1,10,50,100")).split(",")]
    args.rate_levels = [int(v) for v in (args.rate_levels or ("30" if args.quick else "300")).split(",")]
    args.wide_levels = [int(v) for v in (args.wide_levels or ("40" if args.quick else "500")).split(",")]
    for name in ("rate_interval", "wide_interval"):
        longest = FIRST_TOKEN_DELAY + TOKENS * getattr(args, name)
        if getattr(args, name) <= 0 or longest > REPLY_TIMEOUT / 2:
            parser.error(f"--{name.replace('_', '-')}: a reply of {TOKENS} tokens must take under "
                         f"{REPLY_TIMEOUT / 2:.0f} s (half the client's wait for one reply)")
    args.runs = args.runs or (1 if args.quick else 3)
    args.idle_sockets = args.idle_sockets or (500 if args.quick else 2000)
    return args


def plan_for(args: argparse.Namespace) -> Plan:
    if args.quick:
        return Plan(levels=args.levels, runs=args.runs, min_replies=1, min_total=3,
                    idle_sockets=args.idle_sockets, idle_hold=3.0, profile_level=10)
    return Plan(levels=args.levels, runs=args.runs, min_replies=3, min_total=12,
                idle_sockets=args.idle_sockets, idle_hold=10.0, profile_level=50)


def slow_plan(args: argparse.Namespace, levels: list[int], interval: float) -> Plan:
    """The rate and wide parts: long replies, so fewer of them per client, and the clients' start
    staggered over one reply's length (as the other parts' 1 s is theirs), so that prompts arrive
    at the steady rate of that many streams rather than all in one burst."""
    return Plan(levels=levels, runs=args.runs, min_replies=1 if args.quick else 2, min_total=1,
                spread=TOKENS * interval)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


async def measure(args: argparse.Namespace, results: dict) -> None:
    plan = plan_for(args)
    upstream = TimedUpstream()
    url = await upstream.serve()
    upstreams = [upstream]
    skipped, configs, folders = results["skipped"], results["configs"], results["folders"]
    on_postgres = ("postgresql", "scaleout", "wide")
    postgres = args.postgres if any(p not in args.skip for p in on_postgres) else ""
    if postgres and not reachable(postgres):
        skipped.update({p: f"PostgreSQL does not answer at {postgres}." for p in on_postgres})
        postgres = ""
    if not reachable(args.redis):
        skipped.setdefault("scaleout", f"Redis does not answer at {args.redis}.")
        skipped.setdefault("wide", f"Redis does not answer at {args.redis}.")

    async def part(name: str, deployment: Deployment, work) -> None:
        failed = False
        try:
            await asyncio.to_thread(deployment.setup)
            await work(deployment)
        except Exception:
            failed = True
            folders[name] = str(deployment.folder)
            skipped[name] = (f"it failed (server logs kept in `{deployment.folder}`):\n\n```\n"
                             + traceback.format_exc()[-3000:] + "```")
            log(f"{name} failed:\n{traceback.format_exc()}")
        finally:
            if any(report.lost(level)[0] for level in configs.get(name, [])):
                failed = True  # replies were lost: keep the server logs to find out why
                folders[name] = str(deployment.folder)
            await asyncio.to_thread(deployment.teardown, keep_folder=failed)

    async def levels(deployment: Deployment, processes: int = 1) -> None:
        configs[deployment.name] = await measure_levels(deployment, upstream, plan, processes=processes, log=log)

    async def slow_upstream(interval: float) -> tuple[TimedUpstream, str]:
        """Another fake upstream on this loop, `interval` s between tokens (same count, same first-token delay)."""
        slow = TimedUpstream(interval=interval)
        upstreams.append(slow)
        return slow, await slow.serve()

    try:
        if "sqlite" not in args.skip:
            log("one process, SQLite")
            await part("sqlite", Deployment("sqlite", url), levels)
        if "postgresql" not in args.skip and "postgresql" not in skipped:
            log("one process, PostgreSQL")
            await part("postgresql", Deployment("postgresql", url, postgres=postgres), levels)
        if "scaleout" not in args.skip and "scaleout" not in skipped:
            log("two processes, PostgreSQL + Redis")
            await part("scaleout", Deployment("scaleout", url, postgres=postgres, redis=args.redis),
                       lambda d: levels(d, processes=2))
        if "rate" not in args.skip:
            log(f"one process, SQLite, {args.rate_levels} streams at {1 / args.rate_interval:.0f} tokens/s")
            rate_upstream, rate_url = await slow_upstream(args.rate_interval)
            rate_plan = slow_plan(args, args.rate_levels, args.rate_interval)

            async def rate(deployment: Deployment) -> None:
                configs["rate"] = await measure_levels(deployment, rate_upstream, rate_plan, log=log)
            await part("rate", Deployment("rate", rate_url), rate)
        if "wide" not in args.skip and "wide" not in skipped:
            log(f"two processes, PostgreSQL + Redis, {args.wide_levels} streams at "
                f"{1 / args.wide_interval:.0f} tokens/s")
            wide_upstream, wide_url = await slow_upstream(args.wide_interval)
            wide_plan = slow_plan(args, args.wide_levels, args.wide_interval)

            async def wide(deployment: Deployment) -> None:
                configs["wide"] = await measure_levels(deployment, wide_upstream, wide_plan, processes=2, log=log)
            await part("wide", Deployment("wide", wide_url, postgres=postgres, redis=args.redis), wide)
        if "idle" not in args.skip:
            log(f"{plan.idle_sockets} idle websockets")

            async def idle(deployment):
                results["idle"] = await measure_idle(deployment, plan.idle_sockets, plan.idle_hold, log=log)
            await part("idle", Deployment("idle", url), idle)
        if "profile" not in args.skip:
            log(f"profile at {plan.profile_level} streams")

            async def profile(deployment):
                results["profile"] = await measure_profile(deployment, upstream, plan, log=log)
                results["memory_stages"] = await asyncio.to_thread(machine.memory_stages, deployment.env)
            await part("profile", Deployment("profile", url), profile)
    finally:
        for each in upstreams:
            await each.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for tool in ("taskset", "prlimit"):
        if shutil.which(tool) is None:
            print(f"error: `{tool}` is needed (util-linux): apt-get install -y util-linux", file=sys.stderr)
            return 2
    cores = os.cpu_count() or 1
    if cores < 2:
        print("error: two cores are needed (server on core 0, load generator on core 1)", file=sys.stderr)
        return 2
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        Path(args.output).write_text(report.render(saved, saved.get("extra_sections", [])))
        log(f"wrote {args.output} from {args.render}")
        return 0
    os.sched_setaffinity(0, {LOADGEN_CPU})
    os.chdir(ROOT)
    started = time.time()
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    results: dict = {"args": {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(args).items()},
                     "command": command.strip(), "configs": {}, "skipped": {}, "folders": {},
                     "machine": machine.describe(args.postgres, args.redis)}
    asyncio.run(measure(args, results))
    options = dict(results["args"])
    extra = []
    postgres = args.postgres if reachable(args.postgres) else ""
    if "readpath" not in args.skip:
        extra.append(extras.read_path_section(args.quick, log=log))
    if "tree" not in args.skip:
        extra.append(extras.tree_section(options, postgres, args.quick, log=log))
    if "context" not in args.skip:
        extra.append(extras.context_section(options, postgres, args.quick, log=log))
    if "search" not in args.skip:
        extra.append(extras.search_section(options, postgres, args.quick, log=log))
    if "review" not in args.skip:
        extra.append(extras.review_section(options, postgres, args.quick, log=log))
    results["load_end"] = machine.load_average()
    results["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results["minutes"] = (time.time() - started) / 60
    if not results["configs"]:
        print("error: nothing was measured; see the errors above", file=sys.stderr)
        return 1
    results["extra_sections"] = extra
    Path(args.output).write_text(report.render(results, extra))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
