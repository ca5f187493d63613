"""The "Cause and fix" lines of BENCHMARKS.md, written from what was measured, and the sections on
idle sockets and the CPU profile that the causes point to."""
from __future__ import annotations

import math
import statistics

from bench.report import (
    BYTES_TARGET,
    CPU_TARGET_US,
    FRAMES_TARGET,
    RSS_TARGET_MB,
    f,
    ok_le,
    pct,
    streams,
    ttft_target,
    writes_target,
)

# Reading the upstream: the HTTP client stack, the SDK and the project's provider modules.
UPSTREAM_GROUPS = ("openai", "anthropic", "pydantic", "httpx", "httpcore", "anyio", "h11", "sniffio", "jiter",
                   "standard library: streams", "project: conversations/providers/")
# Relaying to the sockets: channel layer, websocket server, and the project's generation and consumer.
RELAY_GROUPS = ("channels", "daphne", "autobahn", "twisted", "txaio", "asgiref", "redis", "msgpack",
                "project: conversations/streaming/generation.py", "project: conversations/streaming/consumer.py",
                "project: conversations/streaming/frames.py")


def _ttft_cause(r: dict, config: str, x: dict) -> str:
    m, b = x["median"], x["baseline"]
    cores = m.get("core_busy", {})
    core0, core1 = cores.get("cpu0", math.nan), cores.get("cpu1", math.nan)
    server0, server1, loadgen = m["server0_util"], m["server1_util"], m["loadgen_util"]
    others0 = max(0.0, core0 - server0)
    others1 = max(0.0, core1 - server1 - loadgen)
    text = (f"Added TTFT at {streams(x['level'])} is {f(m['added_p50'])} ms (p50) against "
            f"{f(ttft_target(x['level']), 0)} ms, and a send took {f(m['to_upstream_p50'])} ms (p50) to reach the "
            f"upstream. Measured over the runs: core 0 was {pct(core0)} busy, daphne {pct(server0)} of it and other "
            f"processes {pct(others0)}; core 1 was {pct(core1)} busy, the load generator and upstream {pct(loadgen)}"
            + (f", the second daphne {pct(server1)}" if config == "scaleout" else "")
            + f" and other processes {pct(others1)}. Across the machine PostgreSQL used {pct(m['postgres_util'])} "
            f"of a core, Redis {pct(m['redis_util'])}, other work {pct(m['rest_util'])}. The baseline added "
            f"{f(b['added_p50'], 2)} ms at the same level, so the client side explains at most that much. ")
    if core0 >= 0.9 and server0 >= 0.7:
        text += ("**The server was CPU-bound**: a stream's first token waits its turn on one event loop "
                 "behind every other stream's tokens and every new send")
        text += f" (other processes took {pct(others0)} of its core too)" if others0 >= 0.1 else ""
        text += ". Fix: less CPU per relayed token (see below and the profile), or more processes"
        scaled = next((y for y in r["configs"].get("scaleout") or [] if y["level"] == x["level"]), None)
        if scaled and config != "scaleout":
            text += (f" (two processes measured {f(scaled['median']['added_p50'])} ms here, with core 1 shared "
                     "by the second server and the load generator)")
        return text + "."
    if core0 >= 0.9 and others0 >= 0.2:
        return text + (f"Core 0 was saturated but daphne had only {pct(server0)} of it: other processes "
                       f"took {pct(others0)}, so the delay is largely the shared machine's. Rerun on a quiet "
                       "machine before acting on it.")
    if config == "scaleout" and core1 >= 0.9:
        return text + ("Core 1 was saturated: it runs the second server and the load generator together, "
                       "so on this 2-core machine the two-process figure is pessimistic; measure it with the "
                       "load generator on a third core.")
    if core1 >= 0.9 and others1 > loadgen:
        return text + (f"The load generator's core was saturated by other processes ({pct(others1)}): "
                       "the client read the frames late, so the figure is an upper bound. Rerun on a quiet machine.")
    if loadgen >= 0.85:
        return text + "The load generator itself was saturated, so the figure is an upper bound."
    spread = sorted(run["added_p50"] for run in x.get("runs", []) if not math.isnan(run.get("added_p50", math.nan)))
    if core0 >= 0.75 and server0 >= 0.7:
        text += (f"**The server was close to saturation** ({pct(server0)} of its core): at that load a first "
                 "token waits in line on the one event loop (behind other streams' reads and frames) and a "
                 "send waits for the one database thread (behind other replies' writes, each a round trip to "
                 "PostgreSQL when it is the database), and such waits grow steeply as a server nears a full core")
        if len(spread) > 1:
            text += f" (these runs: {f(spread[0])} to {f(spread[-1])} ms)"
        return text + (". Fix: less CPU per relayed token (see below), which lowers the load at which the "
                       "queues form, or more processes (see the two-process table).")
    return text + ("Neither core was saturated: the time is spent in the relay path itself "
                   "(provider → channel layer → consumer → socket); see the profile below.")


def _cpu_cause(r: dict, config: str, bad: list[dict]) -> str:
    levels = ", ".join(f"{f(x['median']['cpu_us_per_token'], 0)} µs at {x['level']}" for x in bad)
    text = f"CPU per relayed token is {levels} (target ≤ {CPU_TARGET_US:.0f} µs). "
    loop = [x["median"].get("loop_share", math.nan) for x in bad]
    if not all(math.isnan(v) for v in loop):
        text += (f"Daphne's event-loop thread did {pct(statistics.median(v for v in loop if not math.isnan(v)))} "
                 "of it and the database worker threads the rest (per-thread CPU from /proc/PID/task). ")
    profile = r.get("profile") or {}
    groups = {g: share for share, g in profile.get("groups", [])}
    if groups:
        upstream = sum(v for g, v in groups.items() if g.startswith(UPSTREAM_GROUPS))
        relay = sum(v for g, v in groups.items() if g.startswith(RELAY_GROUPS))
        loop = sum(v for g, v in groups.items() if g.startswith(("standard library", "C built-ins")))
        top = ", ".join(f"{g} {pct(share)}" for share, g in profile["groups"][:6])
        text += (f"Measured (cProfile of daphne's event-loop thread at {profile['level']} streams, CPU clock; "
                 f"shares of its CPU time): reading the upstream (HTTP client stack, SDK, provider "
                 f"modules) {pct(upstream)}, relaying (channel layer, generation, consumer, daphne/autobahn/"
                 f"twisted, asgiref) {pct(relay)}, the event loop and other standard library {pct(loop)}; "
                 f"largest groups: {top}. ")
        if upstream >= relay:
            text += ("Fix: most of the loop's time is reading the upstream; fewer, larger reads "
                     "(a longer WORKBENCH_READ_INTERVAL_SECONDS) or a compiled HTTP/SSE parser are the levers.")
        else:
            text += ("Fix: most of the loop's time is relaying and the fixed work of each reply (its "
                     "request, database writes and frames through channels, daphne and autobahn): fewer "
                     "frames per reply (a longer WORKBENCH_COALESCE_SECONDS), a socket path that skips the "
                     "channel layer for sockets of the same process, and more processes per machine.")
    else:
        text += "No profile was taken (`--skip profile`): rerun without it to see where the time goes."
    return text


def _bytes_cause(x: dict) -> str:
    m = x["median"]
    per = m["bytes_per_reply"]
    text_bytes = m["text_bytes_per_reply"]
    deltas = per.get("delta", 0)
    frames = m["delta_frames_per_reply"]
    text = (f"Bytes ÷ text is {f(m['bytes_ratio'], 2)}× at {streams(x['level'])} on the wire, "
            f"{f(m.get('prose_ratio', math.nan), 2)}× with prose ({f(m.get('prose_first_ratio', math.nan), 2)}× "
            f"for the first reply on a new socket; target ≤ {BYTES_TARGET}×). "
            f"Uncompressed, per reply: {text_bytes:,.0f} B of text; deltas {deltas:,.0f} B in {f(frames, 0)} frames; "
            + ", ".join(f"{k} {v:,.0f} B" for k, v in sorted(per.items()) if k != "delta") + ". ")
    prose = dict(m.get("prose_bytes") or {})
    words = prose.pop("text", 0)
    if words:
        text += (f"With {words:,.0f} B of prose: deltas {prose.get('delta', 0):,.0f} B, "
                 + ", ".join(f"{k} {v:,.0f} B" for k, v in sorted(prose.items()) if k != "delta")
                 + f"; so the deltas alone are {f(prose.get('delta', 0) / words, 2)}× the prose (each frame "
                 "carries its JSON envelope and header, uncompressed) and the turn frames add "
                 f"{f(sum(v for k, v in prose.items() if k != 'delta') / words, 2)}×. ")
    text += ("Fix: fewer, larger frames (a longer WORKBENCH_COALESCE_SECONDS: 50 ms gives about 20 a second), "
             "turn frames that carry only what changed, or permessage-deflate, which daphne has no public "
             "setting to accept (BENCHMARKS.md, *Websocket bytes*).")
    return text


def _rss_cause(r: dict, x: dict) -> str:
    m = x["median"]
    text = (f"Peak RSS at {x['level']} streams is {f(m['peak_rss_mb'], 0)} MB (target ≤ {RSS_TARGET_MB:.0f} MB). "
            f"Measured: {f(x['rss_start_mb'], 0)} MB right after start-up, {f(x['rss_idle_mb'], 0)} MB after "
            f"the warm-up, so the streams themselves added {f(m['peak_rss_mb'] - x['rss_idle_mb'], 0)} MB. ")
    stages = r.get("memory_stages") or []
    if stages:
        steps, previous = [f"{stages[0][0]} {stages[0][1]:.0f} MB"], stages[0][1]
        for name, mb in stages[1:]:
            steps.append(f"{name} {mb - previous:+.0f} MB")
            previous = mb
        text += "A fresh interpreter loading what the server loads: " + "; ".join(steps) + ". "
        biggest = max(range(1, len(stages)), key=lambda i: stages[i][1] - stages[i - 1][1])
        name, grew = stages[biggest][0], stages[biggest][1] - stages[biggest - 1][1]
        if "tiktoken" in name:
            remedy = ("it is the two encodings every turn is counted in, their ranks held twice (in tiktoken's "
                      "Rust tables, and as the Python dict the encoding keeps, about 35 MB for the two); "
                      "counting only the encodings of the configured models (cl100k_base serves only "
                      "older OpenAI models) or counting in one process shared by all server processes "
                      "would take it out of each server")
        else:
            remedy = "load it lazily, share it between processes, or keep it out of the serving process"
        text += f"Fix: the fixed cost dominates; the largest step is “{name}” (+{grew:.0f} MB): {remedy}."
    return text


def causes_for(r: dict, config: str) -> list[str]:
    levels = r["configs"][config]
    out = []
    for x in levels:
        if ok_le(x["median"]["added_p50"], ttft_target(x["level"])) is False:
            out.append(_ttft_cause(r, config, x))
    bad = [x for x in levels if ok_le(x["median"]["cpu_us_per_token"], CPU_TARGET_US) is False]
    if bad:
        out.append(_cpu_cause(r, config, bad))
    def bytes_ratio(x: dict) -> float:
        known = [v for v in (x["median"]["bytes_ratio"], x["median"].get("prose_ratio", math.nan)) if not math.isnan(v)]
        return max(known, default=math.nan)

    worst = max(levels, key=lambda x: -1 if math.isnan(bytes_ratio(x)) else bytes_ratio(x))
    if ok_le(bytes_ratio(worst), BYTES_TARGET) is False:
        out.append(_bytes_cause(worst))
    fast = [x for x in levels if ok_le(x["median"]["frames_per_s_max"], FRAMES_TARGET) is False]
    if fast:
        out.append("Frames per stream-second over 40 at " + ", ".join(str(x["level"]) for x in fast)
                   + ": the coalescing window (WORKBENCH_COALESCE_SECONDS, 30 ms) is not holding; measured "
                   + ", ".join(f"{f(x['median']['frames_per_s_max'])}/s" for x in fast) + ".")
    for x in levels:
        w = x.get("writes")
        if w and w["per_reply"] > writes_target(x["median"]["stream_s"]):
            out.append(f"DB writes per reply {w['per_reply']:.2f} at {streams(x['level'])}: {w['turn_ins']} inserts "
                       f"and {w['turn_upd']} updates of turns for {w['replies']} replies (the prompt's insert, the "
                       "reply's insert, checkpoints every 2 s, the final update are the expected 3 + checkpoints).")
    top = levels[-1]
    if top["level"] >= 100 and top["median"]["peak_rss_mb"] > RSS_TARGET_MB:
        out.append(_rss_cause(r, top))
    for x in levels:
        problems = (x["median"]["failed_total"] + x["median"]["wrong_text_total"] + x["verify"]["bad"]
                    + x["median"]["gaps_total"])
        if problems:
            out.append(f"{problems} replies lost, failed or saved wrong at {streams(x['level'])}; first errors: "
                       + ("; ".join(x["median"]["errors"]) or "none reported by the socket")
                       + f". See the server log in {r.get('folders', {}).get(config, 'the deployment folder')}.")
    return out


def idle_section(r: dict) -> str:
    i = r["idle"]
    held = i["min_open"] == i["sockets"] and i["answered"] == i["sockets"]
    lines = ["## Idle connections", "",
             f"{i['sockets']:,} websockets (each on its own conversation) opened to one daphne process "
             f"(SQLite, in-memory channel layer, `prlimit --nofile=8192`) and held for {i['hold_s']:.0f} s; "
             "then each asked for a turn that does not exist and had to get the `not_found` error back.", "",
             "| measure | value |", "|---|---|",
             f"| connected | {i['connected']:,} of {i['sockets']:,} in {f(i['connect_s'])} s "
             f"({f(i['connect_cpu_ms_per_socket'], 2)} ms of server CPU each) |",
             f"| open at every check (once a second) | {i['min_open']:,} |",
             f"| answered a frame at the end | {i['answered']:,} |",
             f"| server RSS before → after | {f(i['rss_before_mb'], 0)} MB → {f(i['rss_after_mb'], 0)} MB |",
             f"| memory per idle socket | {f(i['kb_per_socket'], 1)} kB |",
             f"| server CPU while idle | {f(i['idle_cpu_pct'], 1)}% of a core |",
             "", f"Verdict: all stay open and answer: {'met' if held else '**not met**'}."]
    if not held:
        lines += ["", f"**Cause and fix:** {i['sockets'] - i['min_open']} sockets closed during the hold and "
                  f"{i['sockets'] - i['answered']} did not answer; see the server log in the deployment folder."]
    return "\n".join(lines) + "\n"


def profile_section(r: dict) -> str:
    p = r["profile"]
    if "error" in p:
        return f"## Where the server's CPU goes\n\nNo profile: {p['error']}.\n"
    lines = ["## Where the server's CPU goes", "",
             f"One run of {p['level']} streams with daphne under `python -m cProfile` (only its event-loop "
             "thread: database calls run in a worker thread and are not in it; the profiler slows everything, "
             f"so shares matter, not times). {f(p['total_s'])} s profiled.", "",
             "| group (package or module) | share |", "|---|---|"]
    lines += [f"| {g} | {pct(share)} |" for share, g in p["groups"]]
    lines += ["", "| function | calls | share |", "|---|---|---|"]
    lines += [f"| `{name}` | {calls:,} | {pct(share)} |" for share, calls, name in p["functions"]]
    return "\n".join(lines) + "\n"
