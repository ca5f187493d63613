"""The front end's pure JavaScript (static/js/: deltas by offset, formatting, the context meter's
sums, URL templates, word diffs, the tree map's layout and view) under Node's own test runner:
`node --test tests/js/`, run here so that `make test` runs it too."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JS_TESTS = ROOT / "tests" / "js"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        why = "Node.js is not installed (apt-get install -y nodejs): the JavaScript unit tests in tests/js/ did not run"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return node


def test_node_runs_the_javascript_unit_tests():
    node = _node()
    files = sorted(JS_TESTS.glob("*.test.mjs"))
    assert files, f"no *.test.mjs in {JS_TESTS}"
    result = subprocess.run(
        [node, "--test", *[str(f.relative_to(ROOT)) for f in files]],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "NODE_OPTIONS": "", "FORCE_COLOR": "0"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"node --test failed:\n{output[-20000:]}"
    # The runner's summary: every test file ran and passed, none was skipped or left to do.
    counted = {"tests", "pass", "fail", "skipped", "todo", "cancelled"}
    summary = dict(
        line[2:].split(" ", 1) for line in output.splitlines()
        if line.startswith("# ") and line[2:].split(" ", 1)[0] in counted
    )
    assert int(summary.get("tests", 0)) > 0 and summary.get("fail") == "0", output[-5000:]
    assert summary.get("skipped") == summary.get("todo") == summary.get("cancelled") == "0", output[-5000:]
