"""The "Cause and fix" lines of BENCHMARKS.md, written from what was measured, and the sections on
idle sockets and the CPU profile that the causes point to."""
from __future__ import annotations

import math
import statistics

from bench.report import (
    BYTES_TARGET,
    CONFIG_TITLES,
    FRAMES_TARGET,
    LOAD_PARTS,
    MET,
    NOT_MET,
    RSS_TARGET_MB,
    cpu_cell,
    cpu_target,
    f,
    integrity_table,
    latency_table,
    load_oks,
    lost,
    mark,
    ok_le,
    pct,
    streams,
    tokens_per_s,
    ttft_ok,
    ttft_targets,
    val,
    writes_target,
)

# Reading the upstream: the HTTP client stack, the SDK and the project's provider modules.
UPSTREAM_GROUPS = ("openai", "anthropic", "pydantic", "httpx", "httpcore", "anyio", "h11", "sniffio", "jiter",
                   "standard library: streams", "project: conversations/providers/")
# Relaying to the sockets: channel layer, websocket server, and the project's generation and consumer.
RELAY_GROUPS = ("channels", "daphne", "autobahn", "twisted", "txaio", "asgiref", "redis", "msgpack",
                "project: conversations/streaming/generation.py", "project: conversations/streaming/consumer.py",
                "project: conversations/streaming/frames.py")


def _ttft_cause(r: dict, config: str, x: dict, p50_target: float | None, p95_target: float | None) -> str:
    m, b = x["median"], x["baseline"]
    cores = m.get("core_busy", {})
    core0, core1 = cores.get("cpu0", math.nan), cores.get("cpu1", math.nan)
    server0, server1, loadgen = m["server0_util"], m["server1_util"], m["loadgen_util"]
    others0 = max(0.0, core0 - server0)
    others1 = max(0.0, core1 - server1 - loadgen)
    two = x["processes"] > 1
    to_upstream, relay = val(m, "to_upstream_p50"), val(m, "relay_p50")
    text = (f"Added TTFT at {streams(x['level'])} is {f(val(m, 'added_p50'))} ms (p50) and "
            f"{f(val(m, 'added_p95'))} ms (p95) against {f(p50_target, 0)} ms"
            + (f" and {f(p95_target, 0)} ms" if p95_target is not None else "")
            + f": a send took {f(to_upstream)} ms (p50) to reach the upstream, and the first token "
            f"{f(relay)} ms (p50) from the upstream to the client")
    if not (math.isnan(to_upstream) or math.isnan(relay)):
        text += (", so most of it is before the model is asked (the send's frame, the consumer, the database "
                 "writes, the provider's request)" if to_upstream > relay else
                 ", so most of it is the first token's way back (read, coalesced, through the channel layer, "
                 "written to the socket)")
    text += (f". Measured over the runs: core 0 was {pct(core0)} busy, daphne {pct(server0)} of it and other "
             f"processes {pct(others0)}; core 1 was {pct(core1)} busy, the load generator and upstream {pct(loadgen)}"
             + (f", the second daphne {pct(server1)}" if two else "")
             + f" and other processes {pct(others1)}. Across the machine PostgreSQL used {pct(m['postgres_util'])} "
             f"of a core, Redis {pct(m['redis_util'])}, other work {pct(m['rest_util'])}. The raw client's added "
             f"TTFT was {f(val(b, 'added_p50'), 2)} ms (p50) at the same level, so the client side explains at "
             "most that much. ")
    if core0 >= 0.9 and server0 >= 0.7:
        text += ("**The server was CPU-bound**: a stream's first token waits its turn on one event loop "
                 "behind every other stream's tokens and every new send")
        text += f" (other processes took {pct(others0)} of its core too)" if others0 >= 0.1 else ""
        text += ". Fix: less CPU per relayed token (see below and the profile), or more processes"
        scaled = next((y for y in r["configs"].get("scaleout") or [] if y["level"] == x["level"]), None)
        if scaled and config in CONFIG_TITLES and config != "scaleout":
            text += (f" (two processes measured {f(val(scaled['median'], 'added_p50'))} ms here, with core 1 shared "
                     "by the second server and the load generator)")
        return text + "."
    if core0 >= 0.9 and others0 >= 0.2:
        return text + (f"Core 0 was saturated but daphne had only {pct(server0)} of it: other processes "
                       f"took {pct(others0)}, so the delay is largely the shared machine's. Rerun on a quiet "
                       "machine before acting on it.")
    if two and core1 >= 0.9:
        return text + ("Core 1 was saturated: it runs the second server and the load generator together, "
                       "so on this 2-core machine the two-process figure is pessimistic; measure it with the "
                       "load generator on a third core.")
    if core1 >= 0.9 and others1 > loadgen:
        return text + (f"The load generator's core was saturated by other processes ({pct(others1)}): "
                       "the client read the frames late, so the figure is an upper bound. Rerun on a quiet machine.")
    if loadgen >= 0.85:
        return text + "The load generator itself was saturated, so the figure is an upper bound."
    spread = sorted(val(run, "added_p50") for run in x.get("runs", []) if not math.isnan(val(run, "added_p50")))
    if core0 >= 0.75 and server0 >= 0.7:
        text += (f"**The server was close to saturation** ({pct(server0)} of its core): at that load a first "
                 "token waits in line on the one event loop (behind other streams' reads and frames) and a "
                 "send waits for the one database thread (behind other replies' writes, each a round trip to "
                 "PostgreSQL when it is the database), and such waits grow steeply as a server nears a full core")
        if len(spread) > 1:
            text += f" (these runs: {f(spread[0])} to {f(spread[-1])} ms)"
        return text + (". Fix: less CPU per relayed token (see below), which lowers the load at which the "
                       "queues form, or more processes (see the two-process table).")
    where = ("on the send's way to the upstream (the consumer, the database writes, the provider's request)"
             if to_upstream > relay else "on the first token's way back (provider → channel layer → consumer → socket)")
    return text + (f"Neither core was saturated: the time is spent in the path itself, mostly {where}; "
                   + ("see the profile below." if r.get("profile") else
                      "profile it (the *profile* part, skipped in this run)."))


def _cpu_cause(r: dict, config: str, bad: list[dict]) -> str:
    levels = ", ".join(f"{f(x['median']['cpu_us_per_token'], 0)} µs at {streams(x['level'])} (target ≤ "
                       f"{f(cpu_target(x['level']), 0)} µs; per frame {f(val(x['median'], 'cpu_us_per_frame'), 0)} µs, "
                       f"per reply {f(val(x['median'], 'cpu_ms_per_reply'), 1)} ms)" for x in bad)
    text = f"CPU per relayed token is {levels}. "
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
        if ttft_ok(x["median"], x["level"]) is False:
            out.append(_ttft_cause(r, config, x, *ttft_targets(x["level"])))
    bad = [x for x in levels if ok_le(val(x["median"], "cpu_us_per_token"), cpu_target(x["level"])) is False]
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


def load_section(r: dict, part: str) -> str:
    """A part holding many slow streams (rate, wide): how it was run, its figures, its verdicts."""
    goal = LOAD_PARTS[part]
    heading = f"## Many slow streams (*{part}*): {goal.title}"
    levels = r["configs"].get(part) or []
    if not levels:
        return f"{heading}\n\nNot measured: {r['skipped'].get(part, 'skipped')}\n"
    first = levels[0]
    upstream = first.get("upstream") or {}
    tokens, interval = upstream.get("tokens", 200), upstream.get("interval_s", math.nan)
    first_token = upstream.get("first_token_s", 0.05)
    replies = sorted({x["replies_per_client"] for x in levels})
    where = ("One daphne process (core 0) on SQLite with the in-memory channel layer" if first["processes"] == 1 else
             "Two daphne processes (cores 0 and 1) on PostgreSQL with channels-redis; client i connects to "
             "process i mod 2, and the second process shares core 1 with the load generator")
    top = max(x["level"] for x in levels)
    lines = [heading, "",
             f"{where}. A fake upstream of its own, on the load generator's loop, sends {tokens} tokens "
             f"{f(interval * 1000, 0)} ms apart ({tokens_per_s(first)}), the first {f(first_token * 1000, 0)} ms "
             f"after the request, so a reply streams for about {f(first_token + tokens * interval)} s. The "
             f"clients start staggered over {f(first.get('spread_s', math.nan))} s (one reply's length, as the "
             "other parts' 1 s is theirs), so prompts arrive at the steady rate of that many streams rather than "
             f"in one burst; each client sends {' or '.join(str(n) for n in replies)} "
             + ("reply per run, while the others still ramp up (*streams open at a send*)" if replies == [1] else
                "replies per run one after another, the first while the others still ramp up, the later ones "
                "with all of them open (*streams open at a send*)")
             + ". Warm-up, runs and the raw client's runs as in the other parts. "
             f"Goal at {goal.goal_streams} streams: added TTFT p50 ≤ {goal.ttft_p50:.0f} ms, no error, "
             "nothing lost (every reply complete at the client and saved complete with the exact text)"
             + (f"; this run measured up to {top}, so it shows the way, not the goal." if top < goal.goal_streams
                else "."), ""]
    lines += latency_table(levels, lambda x: (goal.ttft_p50, None, ok_le(val(x["median"], "added_p50"),
                                                                             goal.ttft_p50)))
    lines += ["", "| streams | CPU per token / per frame / per reply | daphne busy | core 0 / core 1 busy | "
              "load generator and upstreams | other CPU: PostgreSQL / Redis / the rest | frames per reply | "
              "frames/s p50 / max | streams open at a send, p50 | RSS start / idle / peak |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for x in levels:
        m = x["median"]
        cores = m.get("core_busy", {})
        daphne = pct(m["server0_util"]) + (f" / {pct(m['server1_util'])}" if x["processes"] > 1 else "")
        lines.append(f"| {x['level']} | {cpu_cell(m)} | {daphne} | {pct(cores.get('cpu0'))} / "
                     f"{pct(cores.get('cpu1'))} | {pct(m['loadgen_util'])} | {pct(m['postgres_util'])} / "
                     f"{pct(m['redis_util'])} / {pct(m['rest_util'])} | {f(val(m, 'frames_per_reply'), 0)} | "
                     f"{f(m['frames_per_s_p50'])} / {f(m['frames_per_s_max'])} | {f(val(m, 'open_at_send_p50'), 0)} | "
                     f"{f(x['rss_start_mb'], 0)} / {f(x['rss_idle_mb'], 0)} / {f(m['peak_rss_mb'], 0)} MB |")
    lines += ["", "No CPU or memory target here: the figures show what the load costs."
              " CPU per frame counts every frame the clients received, per reply every reply completed.", ""]
    lines += integrity_table(levels)
    lines.append("")
    causes = []
    for x in levels:
        ttft, errors, kept = load_oks(x, goal.ttft_p50)
        problems, checked = lost(x)
        verdict = all(o for o in (ttft, errors, kept) if o is not None)
        lines.append(f"Verdict at {streams(x['level'])}: {MET if verdict else NOT_MET} (added TTFT p50 "
                     f"{f(val(x['median'], 'added_p50'))} ms against ≤ {goal.ttft_p50:.0f} ms: {mark(ttft)}; "
                     f"{x['median']['failed_total']} errors: {mark(errors)}; {problems} of {checked:,} replies "
                     f"lost: {mark(kept)}).")
        lines.append("")
        if ttft is False:
            causes.append(_ttft_cause(r, part, x, goal.ttft_p50, None))
        if errors is False or kept is False:
            causes.append(f"{problems} replies lost, failed or saved wrong at {streams(x['level'])}; first errors: "
                          + ("; ".join(x["median"]["errors"]) or "none reported by the socket")
                          + f". See the server log in {r.get('folders', {}).get(part, 'the deployment folder')}.")
    if causes:
        lines += ["**Cause and fix:**", ""] + [f"- {c}" for c in causes]
    return "\n".join(lines).rstrip("\n") + "\n"
