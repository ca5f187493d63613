"""Starting, watching and stopping the processes the streaming benchmark measures.

A `Deployment` is one configuration of the workbench (SQLite; PostgreSQL; PostgreSQL + Redis with
several processes): its environment, a database of its own, `manage.py migrate`, seeding users,
sessions and conversations, and checking what the replies saved. A `Daphne` is one server process,
pinned to a core with `taskset` and allowed 8,192 open files with `prlimit`; it reads its own CPU
time and memory from /proc.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
NOFILE = 8192

SEED = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.db import transaction
from conversations.models import Conversation
from conversations.workspaces.services import personal_workspace
out = []
with transaction.atomic():
    for u in range({users}):
        user = User.objects.create_user("{prefix}-%d" % u)
        workspace = personal_workspace(user)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        for c in range({each}):
            conversation = Conversation.objects.create(owner=user, workspace=workspace, title="bench")
            out.append([conversation.id, session.session_key])
print("SEEDED " + json.dumps(out))
"""

CHECK = """
import hashlib, json
from conversations.models import Turn
ids = json.load(open({path!r}))
rows = Turn.objects.filter(pk__in=ids).values_list("id", "status", "content")
print("CHECKED " + json.dumps({{i: [s, hashlib.sha256(c.encode()).hexdigest()] for i, s, c in rows}}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads, living or exited), in seconds."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_cpu_seconds(pid: int, tid: int) -> float:
    """utime + stime of one thread of a process, in seconds."""
    with open(f"/proc/{pid}/task/{tid}/stat") as handle:
        fields = handle.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def proc_status_kb(pid: int, key: str) -> int:
    """A field of /proc/PID/status in kB (VmRSS: resident now; VmHWM: peak resident)."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def service_cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of the PostgreSQL and Redis processes (found by name in /proc)."""
    out = {"postgres": 0.0, "redis": 0.0}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                raw = handle.read()
        except OSError:  # gone meanwhile
            continue
        name = raw[raw.find("(") + 1:raw.rfind(")")]
        key = "postgres" if name.startswith("postgres") else "redis" if name.startswith("redis-server") else None
        if key:
            fields = raw.rpartition(")")[2].split()
            out[key] += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return out


def core_times() -> dict[str, tuple[int, int]]:
    """(busy, total) jiffies of each core from /proc/stat."""
    out = {}
    with open("/proc/stat") as handle:
        for line in handle:
            if line.startswith("cpu") and line[3].isdigit():
                name, *values = line.split()
                numbers = [int(v) for v in values[:8]]
                idle = numbers[3] + numbers[4]
                out[name] = (sum(numbers) - idle, sum(numbers))
    return out


def core_busy(before: dict, after: dict) -> dict[str, float]:
    """Share of each core busy (anyone's work) between two `core_times` readings."""
    busy = {}
    for name, (b1, t1) in after.items():
        b0, t0 = before.get(name, (0, 0))
        busy[name] = (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
    return busy


class Daphne:
    """One daphne process on `cpu`, with a log file in `folder`."""

    def __init__(self, env: dict[str, str], folder: Path, *, cpu: int, name: str = "daphne",
                 profile: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.env = env
        self.cpu = cpu
        self.log_path = folder / f"{name}-{self.port}.log"
        self.profile = profile
        self.process: subprocess.Popen | None = None

    def start(self) -> Daphne:
        module = ["-m", "workbench.serve"] if self.profile is None else [
            "-m", "bench.profiled_daphne", str(self.profile)]
        command = ["taskset", "-c", str(self.cpu), "prlimit", f"--nofile={NOFILE}:{NOFILE}", sys.executable,
                   *module, "-b", "127.0.0.1", "-p", str(self.port), "workbench.asgi:application"]
        # taskset and prlimit exec what they run: the pid is daphne's own.
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/accounts/login/", timeout=2)
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daphne did not start; see {self.log_path}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def loop_cpu_seconds(self) -> float:
        """The main thread's: daphne's event loop (the database runs in worker threads)."""
        return thread_cpu_seconds(self.pid, self.pid)

    def rss_kb(self) -> int:
        return proc_status_kb(self.pid, "VmRSS")

    def peak_kb(self) -> int:
        return proc_status_kb(self.pid, "VmHWM")

    def reset_peak(self) -> None:
        """Start the peak-RSS mark (VmHWM) afresh from the current RSS."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as handle:
                handle.write("5")
        except OSError:
            pass

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class Deployment:
    """One configuration: env, a database of its own, migrations, seeding and checking."""

    def __init__(self, name: str, upstream_url: str, *, postgres: str = "", redis: str = "") -> None:
        self.name = name
        self.folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.postgres_admin = ""
        self.database = ""
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "WORKBENCH_CHANNEL_PREFIX")}
        env.update({
            "OPENAI_API_KEY": "bench-key",
            "OPENAI_BASE_URL": upstream_url + "/v1",
            "OPENAI_MODELS": "fake-model",
            "WORKBENCH_LOCAL_MODEL": "false",
            "WORKBENCH_DEFAULT_MODEL": "openai:fake-model",
            "WORKBENCH_PROVIDER_RETRIES": "0",
            "WORKBENCH_DATA_DIR": str(self.folder),
            "SECRET_KEY": "bench-secret-key-" + "x" * 40,
            "WORKBENCH_MAX_CONCURRENT_REPLIES": "10000",
        })
        if postgres:
            base = postgres.rstrip("/").rpartition("/")[0] if postgres.count("/") > 2 else postgres.rstrip("/")
            self.database = f"workbench_bench_{os.getpid()}_{name.replace('-', '_')}"
            self.postgres_admin = base + "/postgres"
            env["DATABASE_URL"] = f"{base}/{self.database}"
        if redis:
            env["REDIS_URL"] = redis
            env["WORKBENCH_CHANNEL_PREFIX"] = f"bench-{os.getpid()}-{name}"
        self.env = env
        self.servers: list[Daphne] = []
        self._seeded = 0

    @property
    def vendor(self) -> str:
        return "postgresql" if self.database else "sqlite"

    def setup(self) -> Deployment:
        if self.database:
            self._admin(f'DROP DATABASE IF EXISTS "{self.database}"')
            self._admin(f'CREATE DATABASE "{self.database}"')
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                       cwd=ROOT, env=self.env, check=True, timeout=300)
        return self

    def teardown(self, *, keep_folder: bool = False) -> None:
        """Stop the servers, drop the database, and remove the folder (kept, with the server logs,
        when something failed)."""
        for server in self.servers:
            server.stop()
        self.servers = []
        if self.database:
            self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        if not keep_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.postgres_admin, autocommit=True) as connection:
            connection.execute(sql)

    def start_server(self, *, cpu: int, profile: Path | None = None) -> Daphne:
        server = Daphne(self.env, self.folder, cpu=cpu, name=self.name, profile=profile).start()
        self.servers.append(server)
        return server

    def stop_servers(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers = []

    def shell(self, code: str, *, timeout: float = 600) -> str:
        result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=self.env,
                                check=True, timeout=timeout, capture_output=True, text=True)
        return result.stdout

    def seed(self, users: int, each: int = 1) -> list[tuple[int, str]]:
        """`users` users, each signed in once and owning `each` conversations: (id, session key)s."""
        self._seeded += 1
        out = self.shell(SEED.format(users=users, each=each, prefix=f"bench{self._seeded}"))
        line = next(x for x in out.splitlines() if x.startswith("SEEDED "))
        return [(int(c), s) for c, s in json.loads(line[7:])]

    def saved_replies(self, turn_ids: list[int]) -> dict[int, tuple[str, str]]:
        """Status and SHA-256 of the saved text of each reply, read back from the database."""
        path = self.folder / "check.json"
        path.write_text(json.dumps(turn_ids))
        out = self.shell(CHECK.format(path=str(path)))
        line = next(x for x in out.splitlines() if x.startswith("CHECKED "))
        return {int(k): (v[0], v[1]) for k, v in json.loads(line[8:]).items()}

    def turn_writes(self) -> dict[str, int] | None:
        """Rows inserted and updated so far, in conversations_turn and in all tables (PostgreSQL's
        statistics; a backend reports them when it goes idle or exits, so read after the servers stop)."""
        if not self.database:
            return None
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as connection:
            connection.execute("SELECT pg_stat_clear_snapshot()")
            rows = connection.execute(
                "SELECT relname, n_tup_ins, n_tup_upd FROM pg_stat_user_tables").fetchall()
        out = {"turn_ins": 0, "turn_upd": 0, "all": 0}
        for name, inserted, updated in rows:
            out["all"] += inserted + updated
            if name == "conversations_turn":
                out["turn_ins"], out["turn_upd"] = inserted, updated
        return out


def settled_turn_writes(deployment: Deployment, *, wait: float = 1.0, limit: float = 12.0) -> dict | None:
    """`turn_writes` once the statistics stop moving (at least `wait` s, at most `limit` s)."""
    if not deployment.database:
        return None
    time.sleep(wait)
    last = deployment.turn_writes()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = deployment.turn_writes()
        if now == last:
            return now
        last = now
    return last


def reachable(url: str) -> bool:
    """Whether a postgres:// or redis:// server answers on its host and port."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (6379 if parts.scheme.startswith("redis") else 5432)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False
