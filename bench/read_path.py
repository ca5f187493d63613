"""Benchmark: the CPU of reading replies from the upstream alone, by way of reading.

    .venv/bin/python -m bench.read_path [--streams 100] [--runs 3]

The fake upstream (200 tokens, 5 ms apart, first after 50 ms) runs in a process of its own on
core 1; this process, on core 0, streams `--streams` replies at once through the OpenAI Chat
Completions provider and counts its own CPU time (`time.process_time`) per token received. Three
ways of reading: the SDK on httpx2's own transport reading each chunk as it comes (how replies
were read before), the workbench's transport doing the same, and the workbench's transport with
reads spaced once text flows (the default). Medians of `--runs` runs.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAYS = (
    ("httpx2's transport, every chunk read as it comes", "httpx2", 0.0),
    ("workbench transport, every chunk read as it comes", "workbench", 0.0),
    ("workbench transport, reads spaced 20 ms once text flows (default)", "workbench", 0.02),
)


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
    os.environ.setdefault("WORKBENCH_LOCAL_MODEL", "false")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _provider(url: str, transport: str):
    from conversations.providers.openai_chat import OpenAIChatProvider

    class Provider(OpenAIChatProvider):
        def make_client(self, **options):
            if transport == "httpx2":
                options.pop("http_client")
            return super().make_client(**options)

    return Provider(name="openai", label="OpenAI", api_key="bench-key", base_url=url + "/v1",
                    models=["fake-model"], key_setting="OPENAI_API_KEY", timeouts=(10.0, 60.0), max_retries=0)


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


def measure(streams: int, runs: int) -> list[tuple[str, float]]:
    from django.conf import settings

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
        out = []
        for label, transport, interval in WAYS:
            settings.STREAM_READ_INTERVAL_SECONDS = interval
            per_token = []
            for _ in range(runs):
                cpu, tokens = asyncio.run(_once(_provider(url, transport), streams))
                per_token.append(cpu / tokens * 1e6)
            out.append((label, statistics.median(per_token)))
        return out
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    _setup()
    results = measure(args.streams, args.runs)
    print(f"{args.streams} replies at once, {args.runs} runs each; CPU of the reading process (median).\n")
    print("| way of reading | CPU per token |")
    print("|---|---|")
    for label, micros in results:
        print(f"| {label} | {micros:.1f} µs |")


if __name__ == "__main__":
    main()
