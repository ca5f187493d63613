"""What a serving process loads: an SDK only once a provider of it streams, and tiktoken's
encodings, built offline, that do what the workbench asks of them."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.live import ROOT

PROBE = """
import asyncio, json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "workbench.settings"
import django
django.setup()
import workbench.asgi
from conversations.registry import registry
providers = registry().providers
loaded = {"start": sorted(m for m in ("openai", "anthropic") if m in sys.modules)}
async def client(name):  # a client belongs to an event loop
    providers[name].client()
asyncio.run(client("openai"))
loaded["openai client"] = sorted(m for m in ("openai", "anthropic") if m in sys.modules)
if "anthropic" in providers:
    asyncio.run(client("anthropic"))
    loaded["anthropic client"] = sorted(m for m in ("openai", "anthropic") if m in sys.modules)
print(json.dumps(loaded))
"""


def probe(env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "WORKBENCH_LOCAL_MODEL": "false", **env}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_sdk_is_imported_when_its_provider_first_needs_a_client(tmp_path):
    only_openai = probe({"OPENAI_API_KEY": "k", "WORKBENCH_DATA_DIR": str(tmp_path)})
    assert only_openai == {"start": [], "openai client": ["openai"]}
    both = probe({"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k", "WORKBENCH_DATA_DIR": str(tmp_path)})
    assert both == {"start": [], "openai client": ["openai"], "anthropic client": ["anthropic", "openai"]}


def test_the_encodings_built_offline_do_what_the_workbench_asks():
    from conversations.tokens import ENCODINGS, encoding

    for name in ENCODINGS:
        built = encoding(name)
        assert built.name == name
        assert built.decode(built.encode("naïve 😀 tokens")) == "naïve 😀 tokens"
        assert built.n_vocab > 100_000
