"""ruff and mypy (with django-stubs) find nothing, so `make test` and CI fail on what they report.

Both run as `make lint` runs them, with the settings in pyproject.toml, on the whole project.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A cold mypy run (no .mypy_cache) takes about a minute of CPU; far more means something hangs.
TIMEOUT = 900


def run(module: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    # The settings mypy's Django plugin loads are the ones pyproject.toml names, whatever the test
    # run uses.
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )


def test_ruff_finds_nothing() -> None:
    result = run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, f"ruff check .\n{result.stdout}{result.stderr}"


def test_mypy_finds_nothing() -> None:
    result = run("mypy")
    assert result.returncode == 0, f"mypy\n{result.stdout}{result.stderr}"
    assert "Success: no issues found" in result.stdout, result.stdout
