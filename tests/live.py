"""A real daphne server in a subprocess, and real Chromium driven by Playwright."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-dev-shm-usage"]


def require(condition: bool, why: str) -> None:
    """Skip with a message saying how to get what is missing; in CI a missing piece is a failure."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI must install it)")
    pytest.skip(why)


# The browser tests create an account for nearly every test, all from 127.0.0.1 on one server: the
# sign-up limit is raised for them, not turned off. tests/test_throttling.py tests the limits.
LIVE_LIMITS = {"WORKBENCH_SIGNUP_LIMIT": "1000"}
TEST_SETTINGS = "tests.settings"
EXPECT_TIMEOUT_MS = 30_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """daphne in a subprocess with a database and channel prefix of its own: SQLite in a temporary
    folder, or, when DATABASE_URL names PostgreSQL, a fresh database on that server."""

    def __init__(self, data_dir: Path, env: dict[str, str], *, shared_with: LiveServer | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **LIVE_LIMITS, "WORKBENCH_DATA_DIR": str(data_dir), **env}
        # The tests' settings (tests/settings.py), as in the tests themselves: the fast hasher for
        # the accounts that browser tests sign up and sign in with.
        self.env["DJANGO_SETTINGS_MODULE"] = TEST_SETTINGS
        self.env["WORKBENCH_CHANNEL_PREFIX"] = f"workbench-live-{self.port}"
        # Attached files in the server's own folder, never under var/ (whatever the environment says).
        self.env["WORKBENCH_ATTACHMENT_STORAGE"] = "django.core.files.storage.FileSystemStorage"
        self.env["WORKBENCH_ATTACHMENT_STORAGE_OPTIONS"] = json.dumps({"location": str(data_dir / "attachments")})
        self.shared_with = shared_with
        if shared_with is not None:
            # A second process of the same deployment: same database, channel layer and storage.
            shared = ("DATABASE_URL", "WORKBENCH_CHANNEL_PREFIX", "SECRET_KEY", "WORKBENCH_ATTACHMENT_STORAGE_OPTIONS")
            for name in shared:
                self.env[name] = shared_with.env[name]
        self.log = open(data_dir / "server.log", "w")  # noqa: SIM115 (open while the server runs)
        self.process: subprocess.Popen | None = None
        self.database = ""

    def _create_database(self) -> None:
        url = self.env.get("DATABASE_URL", "")
        if not url.startswith(("postgres://", "postgresql://")):
            return
        import psycopg

        base, _, _ = url.rpartition("/")
        self.database = f"workbench_live_{self.port}"
        with psycopg.connect(base + "/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.database}"')
            connection.execute(f'CREATE DATABASE "{self.database}"')
        self.env["DATABASE_URL"] = f"{base}/{self.database}"
        self._admin_url = base + "/postgres"

    def _drop_database(self) -> None:
        if not self.database:
            return
        import psycopg

        with psycopg.connect(self._admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def start(self) -> LiveServer:
        if self.shared_with is None:
            self._create_database()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT, env=self.env, check=True, timeout=120,
        )
        self.process = subprocess.Popen(
            # As `make run` serves: daphne on uvloop (workbench/serve.py).
            [sys.executable, "-m", "workbench.serve", "-b", "127.0.0.1", "-p", str(self.port),
             "workbench.asgi:application"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        # Generous: a loaded machine takes a while to import Django and daphne; the loop ends as
        # soon as the server answers.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/accounts/login/", timeout=1)
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError(f"daphne did not start; see {self.log.name}")

    def run_python(self, code: str) -> str:
        """Run Python inside the server's Django project and database (to seed data)."""
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT, env=self.env, check=True, timeout=120, capture_output=True, text=True,
        )
        return result.stdout

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()
        self._drop_database()


def fake_upstream_env(url: str, models: list[str]) -> dict[str, str]:
    joined = ",".join(models)
    return {
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": url + "/v1",
        "OPENAI_MODELS": joined,
        "OPENAI_RESPONSES_MODELS": joined,
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_MODELS": joined,
        "WORKBENCH_LOCAL_MODEL": "false",
        "WORKBENCH_DEFAULT_MODEL": f"openai:{models[0]}",
        "WORKBENCH_PROVIDER_RETRIES": "0",
    }


def launch_chromium(playwright):
    from playwright.sync_api import expect

    # An expectation waits for what it expects until it holds, or fails after this long (5 s by
    # default, which a busy machine can take to stream a short reply).
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    require(
        Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None,
        f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium",
    )
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
