"""The server's entry point, `python -m workbench.serve`: daphne on the chosen event loop."""
from __future__ import annotations

import subprocess
import sys

import pytest

from workbench.serve import event_loop_name

from .live import ROOT

REACTOR_LOOP = (
    "import sys; from workbench.serve import install_reactor; install_reactor();"
    "import daphne.server; from twisted.internet import reactor;"
    "print(type(reactor._asyncioEventloop).__module__, type(reactor).__name__)"
)


@pytest.mark.parametrize(("value", "expected"), [("", "uvloop"), ("uvloop", "uvloop"), (" AsyncIO ", "asyncio")])
def test_the_event_loop_is_uvloop_unless_asyncio_is_asked_for(monkeypatch, value, expected):
    monkeypatch.setenv("WORKBENCH_EVENT_LOOP", value)
    assert event_loop_name() == expected


def test_an_unknown_event_loop_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv("WORKBENCH_EVENT_LOOP", "trio")
    with pytest.raises(SystemExit, match="WORKBENCH_EVENT_LOOP must be one of: uvloop, asyncio"):
        event_loop_name()


@pytest.mark.parametrize(("value", "module"), [("uvloop", "uvloop"), ("asyncio", "asyncio.unix_events")])
def test_daphne_keeps_the_reactor_installed_on_the_chosen_loop(value, module):
    # In a fresh interpreter: Twisted's reactor is chosen once per process.
    result = subprocess.run(
        [sys.executable, "-c", REACTOR_LOOP], cwd=ROOT, env={"WORKBENCH_EVENT_LOOP": value, "PATH": ""},
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert result.stdout.split() == [module, "AsyncioSelectorReactor"]
