"""Benchmark: the CPU of reading replies from the upstream alone, by way of reading.

    .venv/bin/python -m bench.read_path [--streams 100] [--runs 3]
    .venv/bin/python -m bench.read_path --streams 10,50,100 --runs 5

The fake upstream (200 tokens, 5 ms apart, first after 50 ms) runs in a process of its own on
core 1; this process, on core 0, streams `--streams` replies at once through the OpenAI Chat
Completions provider and counts its own CPU time (`time.process_time`) per token received.

Each way of reading is an HTTP client under the SDK, read either as chunks come or with reads
spaced once text flows (`WORKBENCH_READ_INTERVAL_SECONDS`, the default 20 ms). The ways take
turns within each run (a run measures every way once, in an order rotated from run to run), so a
machine whose load changes weighs on all of them alike; each figure is the median of `--runs`.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPACED = 0.02  # the default WORKBENCH_READ_INTERVAL_SECONDS


def _sdk_default(sdk: Any) -> Any:
    return None  # the SDK makes its own: httpx2's AsyncHTTPTransport with the SDK's limits


def _httpx2_tuned(sdk: Any) -> Any:
    import httpx2

    # Its public knobs: HTTP/1.1 only (no h2 negotiation), no cap on connections or idle ones,
    # idle connections kept as long as the workbench's client keeps them.
    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=5.0)
    transport = httpx2.AsyncHTTPTransport(http1=True, http2=False, limits=limits)
    return httpx2.AsyncClient(transport=transport, follow_redirects=True)


def _workbench(sdk: Any) -> Any:
    from conversations.providers.sdk import http_client

    return http_client(sdk.__name__)


# (label, what makes the HTTP client the SDK is given; None: the SDK makes its own)
CLIENTS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("httpx2 AsyncHTTPTransport, the SDK's default client", _sdk_default),
    ("httpx2 AsyncHTTPTransport, tuned (http1 only, no pool caps)", _httpx2_tuned),
    ("aiohttp, the SDK's DefaultAioHttpClient (the workbench's client)", _workbench),
)
WAYS = tuple(
    (f"{label}, {'reads spaced 20 ms once text flows' if interval else 'every chunk read as it comes'}",
     factory, interval)
    for label, factory in CLIENTS for interval in (0.0, SPACED)
)


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
    os.environ.setdefault("WORKBENCH_LOCAL_MODEL", "false")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _provider(url: str, factory: Callable[[Any], Any], interval: float):
    from conversations.providers.openai_chat import OpenAIChatProvider

    class Provider(OpenAIChatProvider):
        def make_client(self, **options):
            import openai

            options.pop("http_client")
            client = factory(openai)
            if client is not None:
                options["http_client"] = client
            return super().make_client(**options)

    return Provider(name="openai", label="OpenAI", api_key="bench-key", base_url=url + "/v1",
                    models=["fake-model"], key_setting="OPENAI_API_KEY", timeouts=(10.0, 60.0), max_retries=0,
                    read_interval=interval)


async def _once(provider, streams: int) -> tuple[float, int]:
    from conversations.providers.base import GenerationRequest, Message, TextDelta

    async def one(index: int) -> int:
        tokens = 0
        request = GenerationRequest(model="fake-model", messages=[Message("user", f"read path {index}")])
        async for event in provider.stream(request):
            tokens += type(event) is TextDelta
        return tokens

    await asyncio.gather(*(one(i) for i in range(min(streams, 5))))  # connections and caches warm
    started = time.process_time()
    counts = await asyncio.gather(*(one(i) for i in range(streams)))
    cpu = time.process_time() - started
    await provider.client().close()
    return cpu, sum(counts)


def measure(streams: list[int], runs: int) -> dict[int, list[tuple[str, float]]]:

    from tests.live import free_port

    port = free_port()
    upstream = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, "-m", "tests.fake_upstream", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "/v1/models", timeout=1)
            except urllib.error.HTTPError:
                break  # it answers (401 without a key)
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the fake upstream did not start") from None
                time.sleep(0.1)
        os.sched_setaffinity(0, {0})
        results: dict[int, list[tuple[str, float]]] = {}
        for count in streams:
            per_token: dict[str, list[float]] = {label: [] for label, _, _ in WAYS}
            for run in range(runs):
                shift = run % len(WAYS)
                for label, factory, interval in WAYS[shift:] + WAYS[:shift]:
                    cpu, tokens = asyncio.run(_once(_provider(url, factory, interval), count))
                    per_token[label].append(cpu / tokens * 1e6)
            results[count] = [(label, statistics.median(values)) for label, values in per_token.items()]
        return results
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", default="100", help="replies at once; a comma-separated list for several")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    streams = [int(count) for count in args.streams.split(",")]
    _setup()
    results = measure(streams, args.runs)
    print(f"CPU of the reading process per token received: median of {args.runs} runs, the ways "
          "taking turns within each run.\n")
    print("| way of reading | " + " | ".join(f"{count} at once" for count in streams) + " |")
    print("|---|" + "---|" * len(streams))
    for index, (label, _, _) in enumerate(WAYS):
        print(f"| {label} | " + " | ".join(f"{results[count][index][1]:.1f} µs" for count in streams) + " |")


if __name__ == "__main__":
    main()
