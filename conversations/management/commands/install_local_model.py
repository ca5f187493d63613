from __future__ import annotations

import argparse
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations.providers.local_install import (
    LOG_FILE,
    install_lock,
    install_running,
    run_install,
    start_detached,
)


class Command(BaseCommand):
    help = (
        "Install the bundled local model by running the command given after --, one install at a "
        "time, logged in the install folder where the server reads how it is going. "
        "`make setup-local-model` runs it in the foreground (waiting for an install already "
        "running); `make run` runs it with --background and serves meanwhile."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--background", action="store_true",
            help="Start the install detached and return at once; do nothing while one is running.",
        )
        parser.add_argument("--stamp", type=Path, help="A file to touch when the install succeeds.")
        parser.add_argument(
            "--folder", type=Path, default=None,
            help="Where the install keeps its lock, state and log (default: LOCAL_MODEL_INSTALL_DIR).",
        )
        # The detached process started by --background: it takes the lock without waiting.
        parser.add_argument("--detached", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument("command", nargs="+", help="The install command, after --.")

    def handle(self, *args, command: list[str], background: bool, detached: bool, stamp: Path | None,
               folder: Path | None, **options) -> None:
        folder = (folder or settings.LOCAL_MODEL_INSTALL_DIR).resolve()
        stamp = stamp.resolve() if stamp is not None else None
        log = folder / LOG_FILE
        if background:
            self._start_background(folder, log, command, stamp)
            return
        if not detached and install_running(folder):
            self.stdout.write(f"Another install of the local model is running (log: {log}); waiting for it to end…")
        with install_lock(folder, wait=not detached) as held:
            if not held:
                self.stdout.write("Another install of the local model is running; not starting one.")
                return
            status = run_install(folder, command, stamp=stamp, echo=None if detached else self.stdout)
        if status != 0:
            raise CommandError(f"The local model failed to install (status {status}); see {log}.", returncode=status)

    def _start_background(self, folder: Path, log: Path, command: list[str], stamp: Path | None) -> None:
        if not settings.LOCAL_MODEL_ENABLED:
            self.stdout.write("The bundled local model is turned off (WORKBENCH_LOCAL_MODEL=false): not installing it.")
            return
        if install_running(folder):
            self.stdout.write(
                f"The local model is still installing in the background (log: {log}); not starting another install."
            )
            return
        argv = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "install_local_model",
                "--detached", "--folder", str(folder)]
        if stamp is not None:
            argv += ["--stamp", str(stamp)]
        pid = start_detached([*argv, "--", *command], folder)
        self.stdout.write(
            f"Installing the bundled local model in the background (pid {pid}; llama-cpp-python compiles "
            f"for a few minutes the first time; log: {log}). It joins the model list when it is ready."
        )
