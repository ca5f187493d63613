"""What is measured: concurrency levels on one or two processes, idle sockets, a CPU profile.

Every figure of a level is the median over `runs` runs, each run of the server followed by the
same run of the baseline (a raw aiohttp client reading the upstream directly), so the two share
the machine's conditions. Daphne runs on core 0 (and, scaled out, a second one on core 1); the
load generator and the fake upstream share this process, pinned to core 1.
"""
from __future__ import annotations

import asyncio
import hashlib
import math
import pstats
import resource
import signal
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.server import (
    ROOT,
    Daphne,
    Deployment,
    core_busy,
    core_times,
    service_cpu_seconds,
    settled_turn_writes,
)
from bench.streams import Stream, run_baseline, run_sockets, summarize
from bench.upstream import TimedUpstream

LOADGEN_CPU = 1


@dataclass
class Plan:
    levels: list[int]
    runs: int
    min_replies: int  # per client and run
    min_total: int  # replies per run at least (small levels run longer, for CPU resolution)
    spread: float = 1.0
    idle_sockets: int = 2000
    idle_hold: float = 10.0
    profile_level: int = 50

    def replies(self, level: int) -> int:
        return max(self.min_replies, math.ceil(self.min_total / level))


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class RssSampler:
    """The highest VmRSS of each server, sampled every 50 ms while the run lasts."""

    def __init__(self, servers: list[Daphne]) -> None:
        self.servers = servers
        self.peak = [0] * len(servers)
        self._task: asyncio.Task | None = None

    async def _loop(self) -> None:
        for _ in range(36_000):  # 30 minutes at most; normally cancelled when the run ends
            for i, server in enumerate(self.servers):
                self.peak[i] = max(self.peak[i], server.rss_kb())
            await asyncio.sleep(0.05)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    def __exit__(self, *exc) -> None:
        assert self._task is not None
        self._task.cancel()


def _median_of(runs: list[dict]) -> dict:
    out = {}
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = [r[key] for r in runs if isinstance(r.get(key), (int, float)) and not math.isnan(r[key])]
            out[key] = statistics.median(values) if values else math.nan
        elif isinstance(value, dict) and all(isinstance(v, (int, float)) for v in value.values()):
            out[key] = {k: statistics.median(r[key].get(k, 0) for r in runs) for k in value}
    for key in ("streams", "complete", "failed", "wrong_text", "gaps", "repeats", "reorders", "tokens",
                "length_mismatch", "missing_upstream_stamp"):
        if key in runs[0]:
            out[key + "_total"] = sum(r[key] for r in runs)
    out["errors"] = sorted({e for r in runs for e in r.get("errors", [])})[:5]
    return out


class CpuWatch:
    """Who used the two cores over a run: the servers, this process (load generator and upstream),
    PostgreSQL, Redis, and the rest (other work on the machine), each in cores (1.0 = one core)."""

    def __init__(self, servers: list[Daphne]) -> None:
        self.servers = servers
        self.start = ([s.cpu_seconds() for s in servers], core_times(), own_cpu(), service_cpu_seconds(),
                      time.perf_counter(), [s.loop_cpu_seconds() for s in servers])

    def figures(self) -> dict:
        cpu0, cores0, own0, services0, t0, loop0 = self.start
        wall = time.perf_counter() - t0
        cpu = [s.cpu_seconds() - c for s, c in zip(self.servers, cpu0, strict=True)]
        loop = [s.loop_cpu_seconds() - c for s, c in zip(self.servers, loop0, strict=True)]
        services = {k: (v - services0[k]) / wall for k, v in service_cpu_seconds().items()}
        busy = core_busy(cores0, core_times())
        loadgen = (own_cpu() - own0) / wall
        on_core = {f"cpu{s.cpu}": c / wall for s, c in zip(self.servers, cpu, strict=True)}
        ours = sum(cpu) / wall + loadgen + services["postgres"] + services["redis"]
        return {
            "wall_s": wall, "server_cpu_s": sum(cpu),
            "loop_share": sum(loop) / sum(cpu) if sum(cpu) else math.nan,
            "server_util": max(on_core.values(), default=0.0),
            "server0_util": on_core.get("cpu0", 0.0), "server1_util": on_core.get("cpu1", 0.0),
            "loadgen_util": loadgen, "postgres_util": services["postgres"], "redis_util": services["redis"],
            "rest_util": max(0.0, sum(busy.values()) - ours), "core_busy": busy,
        }


async def _server_run(servers: list[Daphne], targets, origins, upstream: TimedUpstream, *, replies: int,
                      spread: float, tag: str) -> tuple[dict, list[Stream]]:
    watch = CpuWatch(servers)
    with RssSampler(servers) as sampler:
        streams = await run_sockets(targets, replies=replies, spread=spread, tag=tag, origins=origins)
    figures = summarize(streams, upstream)
    figures.update(watch.figures())
    figures.update(
        cpu_us_per_token=figures["server_cpu_s"] / figures["tokens"] * 1e6 if figures["tokens"] else math.nan,
        cpu_us_per_frame=(figures["server_cpu_s"] / figures["frames_total"] * 1e6
                          if figures["frames_total"] else math.nan),
        cpu_ms_per_reply=(figures["server_cpu_s"] / figures["replies_total"] * 1e3
                          if figures["replies_total"] else math.nan),
        peak_rss_mb=max(sampler.peak) / 1024,
        peak_hwm_mb=max(s.peak_kb() for s in servers) / 1024,
    )
    return figures, streams


async def _baseline_run(upstream: TimedUpstream, clients: int, *, replies: int, spread: float, tag: str) -> dict:
    watch = CpuWatch([])
    streams = await run_baseline(upstream.url, clients, replies=replies, spread=spread, tag=tag)
    figures = summarize(streams, upstream)
    figures.update(watch.figures())
    return figures


def allow_open_files(count: int) -> None:
    """Raise this process's soft limit on open files to `count` (as far as the hard limit allows)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        allowed = count if hard == resource.RLIM_INFINITY else min(count, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (allowed, hard))


async def measure_levels(deployment: Deployment, upstream: TimedUpstream, plan: Plan, *, processes: int = 1,
                         log=print) -> list[dict]:
    """Every level of `plan` on `deployment`, with `processes` daphne processes (cores 0, 1, ...),
    streaming from `upstream`."""
    # At the top level this process holds each client's websocket, the upstream's end of each
    # server's request, and (in the baseline run) the raw clients' connections and their other ends.
    allow_open_files(4 * max(plan.levels) + 1024)
    results, streams_of = [], []
    everyone = await asyncio.to_thread(deployment.seed, max(plan.levels))  # level n uses the first n
    for level in plan.levels:
        seeded = everyone[:level]
        writes_before = await asyncio.to_thread(deployment.turn_writes)
        servers = [await asyncio.to_thread(deployment.start_server, cpu=i % 2) for i in range(processes)]
        rss_start = max(s.rss_kb() for s in servers) / 1024
        origins = {s.ws_url: s.url for s in servers}
        targets = [(servers[i % processes].ws_url, cid, key) for i, (cid, key) in enumerate(seeded)]
        replies = plan.replies(level)
        tag = f"{deployment.name}-{level}"
        warm = targets[:min(level, 10 * processes)]
        warm_streams = await run_sockets(warm, replies=1, spread=0.2, tag=tag + "-warm", origins=origins)
        rss_idle = max(s.rss_kb() for s in servers) / 1024
        for server in servers:
            server.reset_peak()
        runs, baselines, streams = [], [], list(warm_streams)
        for run in range(plan.runs):
            figures, run_streams = await _server_run(servers, targets, origins, upstream, replies=replies,
                                                     spread=plan.spread, tag=f"{tag}-run{run}")
            streams += run_streams
            runs.append(figures)
            baselines.append(await _baseline_run(upstream, level, replies=replies, spread=plan.spread,
                                                 tag=f"{tag}-base{run}"))
            log(f"  {deployment.name} x{processes} level {level} run {run + 1}: added TTFT p50 "
                f"{figures['added_p50']:.1f} ms (baseline {baselines[-1]['added_p50']:.2f}; relay "
                f"{figures['relay_p50']:.1f}, send → upstream {figures['to_upstream_p50']:.1f}), "
                f"{figures['cpu_us_per_token']:.0f} µs/token, {figures['complete']}/{figures['streams']} complete")
            upstream.forget()
        for server in servers:
            await asyncio.to_thread(server.stop)
        deployment.servers = []
        streams_of.append(streams)
        writes_after = await asyncio.to_thread(settled_turn_writes, deployment)
        writes = None
        if writes_before is not None and writes_after is not None:
            ins = writes_after["turn_ins"] - writes_before["turn_ins"]
            upd = writes_after["turn_upd"] - writes_before["turn_upd"]
            replies_made = len(streams)
            writes = {"replies": replies_made, "turn_ins": ins, "turn_upd": upd,
                      "per_reply": (ins + upd) / replies_made,
                      "all_per_reply": (writes_after["all"] - writes_before["all"]) / replies_made}
        median = _median_of(runs)
        median["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
        median["peak_hwm_mb"] = max(r["peak_hwm_mb"] for r in runs)
        results.append({"level": level, "processes": processes, "replies_per_client": replies,
                        "spread_s": plan.spread,
                        "upstream": {"tokens": upstream.tokens, "interval_s": upstream.interval,
                                     "first_token_s": upstream.first_token_delay},
                        "median": median, "baseline": _median_of(baselines), "runs": runs,
                        "baseline_runs": baselines, "writes": writes,
                        "rss_start_mb": rss_start, "rss_idle_mb": rss_idle})
    saved = await asyncio.to_thread(deployment.saved_replies,
                                    sorted(s.reply_id for group in streams_of for s in group if s.reply_id))
    for result, streams in zip(results, streams_of, strict=True):
        result["verify"] = _verify(saved, streams)
    return results


def _verify(saved: dict[int, tuple[str, str]], streams: list[Stream]) -> dict:
    """Replies as read back from the database: complete, with exactly the text the upstream sent."""
    known = {s.reply_id: s for s in streams if s.reply_id is not None}
    good = sum(1 for i, s in known.items()
               if saved.get(i) == ("complete", hashlib.sha256(s.expected.encode()).hexdigest()))
    return {"replies": len(streams), "announced": len(known), "saved_exact": good,
            "missing": sum(1 for i in known if i not in saved), "bad": len(known) - good}


async def measure_idle(deployment: Deployment, count: int, hold: float, *, log=print) -> dict:
    """`count` open websockets on one process: memory before and after, and that all stay open."""
    allow_open_files(count + 1024)
    each = 100
    seeded = await asyncio.to_thread(deployment.seed, math.ceil(count / each), each)
    seeded = seeded[:count]
    server = await asyncio.to_thread(deployment.start_server, cpu=0)
    sockets = []
    result: dict = {"sockets": count, "hold_s": hold}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def connect(conversation_id: int, key: str):
            try:
                return await http.ws_connect(f"{server.ws_url}/ws/conversations/{conversation_id}/",
                                             headers={"Cookie": f"sessionid={key}"}, origin=server.url)
            except (aiohttp.ClientError, OSError):
                return None

        try:
            for ws in await asyncio.gather(*(connect(c, k) for c, k in seeded[:20])):  # warm the code paths
                if ws is not None:
                    await ws.close()
            await asyncio.sleep(1.0)
            result["rss_before_mb"] = server.rss_kb() / 1024
            t0 = time.perf_counter()
            cpu0 = server.cpu_seconds()
            async with asyncio.timeout(300):
                for start in range(0, count, 100):
                    sockets += await asyncio.gather(*(connect(c, k) for c, k in seeded[start:start + 100]))
            result["connect_s"] = time.perf_counter() - t0
            result["connect_cpu_ms_per_socket"] = (server.cpu_seconds() - cpu0) / count * 1000
            result["connected"] = sum(1 for ws in sockets if ws is not None)
            open_counts = []
            deadline = time.monotonic() + hold
            cpu_hold = server.cpu_seconds()
            while time.monotonic() < deadline:
                await asyncio.sleep(1.0)
                open_counts.append(sum(1 for ws in sockets if ws is not None and not ws.closed))
            result["idle_cpu_pct"] = (server.cpu_seconds() - cpu_hold) / hold * 100
            result["min_open"] = min(open_counts) if open_counts else 0
            result["rss_after_mb"] = server.rss_kb() / 1024
            result["kb_per_socket"] = (
                (result["rss_after_mb"] - result["rss_before_mb"]) * 1024 / max(1, result["connected"])
            )
            result["answered"] = await _answer_all([ws for ws in sockets if ws is not None])
            log(f"  idle: {result['connected']} connected, {result['min_open']} open throughout, "
                f"{result['answered']} answered, {result['kb_per_socket']:.1f} kB each")
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets if ws is not None), return_exceptions=True)
            await asyncio.to_thread(server.stop)
            deployment.servers = []
    return result


async def _answer_all(sockets) -> int:
    """Every socket asks for a turn that is not there and must get the not-found error back."""
    async def ask(ws) -> bool:
        try:
            await ws.send_str('{"action": "resume", "turn": 999999999, "offset": 0}')
            async with asyncio.timeout(60):
                while True:
                    message = await ws.receive()
                    if message.type != aiohttp.WSMsgType.TEXT:
                        return False
                    if '"not_found"' in message.data:
                        return True
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False

    answers = []
    try:
        async with asyncio.timeout(180):
            for start in range(0, len(sockets), 200):
                answers += await asyncio.gather(*(ask(ws) for ws in sockets[start:start + 200]))
    except TimeoutError:
        pass
    return sum(answers)


async def measure_profile(deployment: Deployment, upstream: TimedUpstream, plan: Plan, *, log=print) -> dict:
    """One run at `plan.profile_level` under cProfile (daphne's event-loop thread): where CPU goes."""
    level = plan.profile_level
    seeded = await asyncio.to_thread(deployment.seed, level)
    path = deployment.folder / "daphne.prof"
    server = await asyncio.to_thread(deployment.start_server, cpu=0, profile=path)
    origins = {server.ws_url: server.url}
    targets = [(server.ws_url, c, k) for c, k in seeded]
    await run_sockets(targets[:10], replies=1, spread=0.2, tag="profile-warm", origins=origins)
    server.signal(signal.SIGUSR1)
    figures, _ = await _server_run([server], targets, origins, upstream, replies=plan.min_replies,
                                   spread=plan.spread, tag="profile")
    server.signal(signal.SIGUSR2)
    for _ in range(100):  # the profile is written by a signal handler: wait for it, 10 s at most
        if path.exists() and path.stat().st_size:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    upstream.forget()
    await asyncio.to_thread(server.stop)
    deployment.servers = []
    if not path.exists():
        return {"error": "daphne wrote no profile"}
    return {"level": level, "tokens": figures["tokens"], "cpu_us_per_token": figures["cpu_us_per_token"],
            **profile_breakdown(path)}


def _group(filename: str) -> tuple[str, str]:
    """(kind, group) of a profiled function: a package, a project module, the standard library or C."""
    if "site-packages/" in filename:
        return "package", filename.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    if filename.startswith(str(ROOT)):
        return "project", "project: " + filename[len(str(ROOT)) + 1:]
    if filename.startswith(("~", "<")):
        return "builtin", "C built-ins"
    return "stdlib", "standard library: " + Path(filename).stem


def profile_breakdown(path: Path) -> dict:
    """CPU shares by package or project module. The time of a standard-library or C function called
    from a package or project module (a socket send, json.dumps, deepcopy) goes to that caller, so
    the shares say whose work it was; what the event loop itself does stays with the library."""
    # {(file, line, function): (calls, primitive calls, tottime, cumtime, callers)}; typeshed's
    # Stats does not declare it.
    entries: dict = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values()) or 1.0
    groups: dict[str, float] = {}
    functions = []
    for (filename, line, name), (_, calls, tottime, _, callers) in entries.items():
        kind, group = _group(filename)
        if kind in ("builtin", "stdlib"):
            owners = {c: v[2] for c, v in callers.items() if _group(c[0])[0] in ("package", "project")}
            called = sum(v[2] for v in callers.values()) or tottime
            for caller, share in owners.items():
                owner = _group(caller[0])[1]
                groups[owner] = groups.get(owner, 0.0) + tottime * share / called
            tottime -= tottime * sum(owners.values()) / called
        groups[group] = groups.get(group, 0.0) + tottime
        where = {"builtin": filename, "project": f"{group[9:]}:{line}",
                 "package": f"{group}/{Path(filename).name}:{line}"}.get(kind, f"{Path(filename).name}:{line}")
        functions.append((entries[(filename, line, name)][2], calls, f"{where} {name}"))
    functions.sort(reverse=True)
    return {"total_s": total,
            "groups": sorted(((t / total, g) for g, t in groups.items()), reverse=True)[:16],
            "functions": [(t / total, calls, name) for t, calls, name in functions[:15]]}
