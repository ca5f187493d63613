"""Installing the bundled local model while the server already serves.

llama-cpp-python compiles for minutes, so `make run` starts its install in the background and
serves at once. One install runs at a time: it holds an exclusive lock on a file in the install
folder for as long as pip runs, and records what it is doing in `state.json` beside its log, where
the server reads it (`read_state`) to tell the page whether the model is still installing or why
it failed. The lock, not the recorded pid, says whether an install is alive, so an install that
was killed never looks like one still running. No Django in here.
"""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

STATE_FILE = "state.json"
LOG_FILE = "install.log"
LOCK_FILE = "install.lock"

INSTALLING = "installing"
INSTALLED = "installed"
FAILED = "failed"
# Recorded as installing, but nothing holds the lock: the install was killed before it ended.
INTERRUPTED = "interrupted"
NOT_STARTED = "not started"

# A server or a `make run` checking the lock holds it (shared) for a moment; an install that
# starts then tries again for this long before taking the lock as another install's.
LOCK_ATTEMPTS = 20
LOCK_RETRY_SECONDS = 0.1


@dataclass(frozen=True)
class InstallState:
    phase: str
    log: Path
    detail: str = ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def install_running(folder: Path) -> bool:
    """Whether an install holds the lock now."""
    if not (folder / LOCK_FILE).exists():
        return False
    with open(folder / LOCK_FILE, "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def read_state(folder: Path) -> InstallState:
    """What the last install in `folder` did, as far as it got."""
    log = folder / LOG_FILE
    try:
        recorded = json.loads((folder / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return InstallState(NOT_STARTED, log)
    phase = recorded.get("phase", NOT_STARTED)
    detail = str(recorded.get("detail", ""))
    if phase == INSTALLING and not install_running(folder):
        return InstallState(INTERRUPTED, log, detail)
    return InstallState(phase, log, detail)


def _write_state(folder: Path, phase: str, detail: str = "") -> None:
    # Written whole and renamed into place: a reader never sees half a file.
    partial = folder / (STATE_FILE + ".partial")
    partial.write_text(json.dumps({"phase": phase, "detail": detail, "pid": os.getpid(), "at": _now()}))
    os.replace(partial, folder / STATE_FILE)


@contextmanager
def install_lock(folder: Path, *, wait: bool) -> Iterator[bool]:
    """Hold the install lock; yields False (holding nothing) when another install has it and
    `wait` is false."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "ab") as handle:
        acquired = False
        for _ in range(LOCK_ATTEMPTS):
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                acquired = True
                break
            except BlockingIOError:
                time.sleep(LOCK_RETRY_SECONDS)
        if not acquired and wait:
            fcntl.flock(handle, fcntl.LOCK_EX)
            acquired = True
        try:
            yield acquired
        finally:
            if acquired:
                fcntl.flock(handle, fcntl.LOCK_UN)


class Echo(Protocol):
    """Where the install's output is echoed: a text stream, or a management command's stdout."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> None: ...


def run_install(
    folder: Path, command: Sequence[str], *, stamp: Path | None = None, echo: Echo | None = None
) -> int:
    """Run `command` (the pip install) under the lock the caller holds, its output in the log
    (and on `echo`); record how it ended and, when it succeeded, touch `stamp`."""
    log_path = folder / LOG_FILE
    log_path.write_text("")
    # Appended to, like the output of a detached install, which may share this file.
    with open(log_path, "a", buffering=1) as log:

        def say(line: str) -> None:
            log.write(line)
            if echo is not None:
                echo.write(line)
                echo.flush()

        say(f"== Installing the bundled local model ({_now()}, pid {os.getpid()}): {' '.join(command)}\n")
        _write_state(folder, INSTALLING)
        try:
            process = subprocess.Popen(
                list(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, errors="replace",
            )
        except OSError as exc:
            status, detail = 127, f"the installer could not start: {exc}"
        else:
            assert process.stdout is not None
            for line in process.stdout:
                say(line)
            status = process.wait()
            detail = f"the installer exited with status {status}"
        if status == 0:
            if stamp is not None:
                stamp.touch()
            _write_state(folder, INSTALLED)
            say(f"== The bundled local model is installed ({_now()}).\n")
            return 0
        _write_state(folder, FAILED, detail)
        say(
            f"== The bundled local model failed to install: {detail} ({_now()}). The lines above "
            "say why. Fix that, then run `make setup-local-model` (or `make run`) again.\n"
        )
        return status or 1


def start_detached(argv: Sequence[str], folder: Path) -> int:
    """Start `argv` in its own session, its output appended to the log: it outlives the `make run`
    that started it (Ctrl-C there stops the server, not a half-done pip install). Its pid."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )
    return process.pid
