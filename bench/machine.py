"""What the numbers were measured on, and where a server process's memory goes before any stream."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata

from bench.server import ROOT


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _command(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _uncommitted() -> list[str]:
    """Files changed but not committed, outside bench/ (the code measured is the working tree)."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    paths = [line[3:] for line in out.splitlines() if len(line) > 3]
    return [p for p in paths if not p.startswith("bench/") and p != "BENCHMARKS.md"]


def load_average() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def describe(postgres: str = "", redis: str = "") -> dict:
    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _mem_total_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in
                     ("Django", "daphne", "channels", "channels-redis", "Twisted", "openai", "aiohttp", "psycopg")},
        "load_start": load_average(),
        "commit": _command(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]) or "unknown",
        "uncommitted": _uncommitted(),
    }
    if postgres:
        info["postgresql"] = _command(["psql", postgres, "-Atc", "SHOW server_version"]) or "unknown"
    if redis:
        out = _command(["redis-cli", "-u", redis, "INFO", "server"])
        info["redis"] = next((x.split(":", 1)[1].strip() for x in out.splitlines() if x.startswith("redis_version")),
                             "unknown")
    return info


MEMORY_STAGES = """
import json, os
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
stages = [["Python", rss()]]
import django
django.setup()
stages.append(["django.setup()", rss()])
import workbench.asgi
stages.append(["import workbench.asgi (project, channels, daphne)", rss()])
from conversations.registry import registry
providers = registry().providers
stages.append(["provider registry", rss()])
import asyncio
async def clients():  # what the first reply of each configured SDK provider loads
    for provider in providers.values():
        if hasattr(provider, "client"):
            provider.client()
asyncio.run(clients())
stages.append(["SDK clients (the openai package and the transport, at the first reply)", rss()])
from conversations.tokens import count_all
count_all("hello")
stages.append(["tiktoken encodings loaded (first count_all)", rss()])
import gc
gc.collect()
stages.append(["after a garbage collection", rss()])
print("STAGES " + json.dumps(stages))
"""


def memory_stages(env: dict[str, str]) -> list[tuple[str, float]]:
    """RSS (MB) of a fresh Python after each start-up stage of the server, in the server's environment."""
    env = {**env, "DJANGO_SETTINGS_MODULE": "workbench.settings"}
    try:
        out = subprocess.run([sys.executable, "-c", MEMORY_STAGES], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120).stdout
        line = next(x for x in out.splitlines() if x.startswith("STAGES "))
    except (OSError, subprocess.SubprocessError, StopIteration):
        return []
    return [(name, mb) for name, mb in json.loads(line[7:])]
