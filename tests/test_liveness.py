"""Server death: a reply whose process is gone is marked interrupted with its last checkpoint's
text, at the next start or by a process that is still alive; replies of live processes are left
alone. Real daphne processes are killed with SIGKILL mid-reply."""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from conversations import services
from conversations.models import ServerProcess, Turn
from conversations.streaming import liveness
from tests.conftest import PASSWORD
from tests.live import ROOT, LiveServer, fake_upstream_env
from tests.test_scale_out import SEED, frames_until


def streaming_reply(conversation, owner: str) -> Turn:
    prompt = Turn.objects.append(conversation=conversation, role="user", content="q")
    return Turn.objects.append(
        conversation=conversation, parent=prompt, role="assistant", status="streaming",
        content="half a", owner_process=owner,
    )


def process(pid: int, *, host: str = liveness.HOSTNAME, silent_for: float = 0.0) -> str:
    seen = timezone.now() - timedelta(seconds=silent_for)
    row = ServerProcess.objects.create(
        id=os.urandom(8).hex(), hostname=host, pid=pid, started_at=seen, last_seen=seen
    )
    return row.id


@pytest.fixture
def conversation(alice):
    return services.conversation_create(owner=alice, title="Liveness")


@pytest.mark.django_db
def test_only_replies_of_processes_that_are_gone_are_interrupted(conversation, settings, capsys):
    settings.HEARTBEAT_SECONDS = 5
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout.strip()
    alive_elsewhere = process(12345, host="other-host")  # beat just now
    silent = process(23456, host="other-host", silent_for=16)  # three beats missed
    vanished = process(int(dead_pid))  # beat just now, but its pid is gone from this host
    alive_here = process(os.getpid())
    replies = {
        "alive elsewhere": streaming_reply(conversation, alive_elsewhere),
        "alive here": streaming_reply(conversation, alive_here),
        "this process": streaming_reply(conversation, liveness.PROCESS_ID),
        "silent": streaming_reply(conversation, silent),
        "vanished": streaming_reply(conversation, vanished),
        "unknown": streaming_reply(conversation, "f" * 32),
        "no owner": streaming_reply(conversation, ""),
    }
    call_command("recover_replies")
    status = {name: Turn.objects.get(pk=reply.pk) for name, reply in replies.items()}
    assert {name for name, turn in status.items() if turn.status == "streaming"} == {
        "alive elsewhere", "alive here", "this process"
    }
    for name in ("silent", "vanished", "unknown", "no owner"):
        turn = status[name]
        assert (turn.status, turn.content, turn.finished_at is not None) == ("interrupted", "half a", True)
        assert "Regenerate it, or reply from here" in turn.error
        assert turn.usage_estimated and turn.token_counts  # counted like any other ended reply
    assert "4 interrupted replies recovered" in capsys.readouterr().out
    # The gone processes are forgotten; the live ones stay known.
    assert set(ServerProcess.objects.values_list("pk", flat=True)) == {alive_elsewhere, alive_here}


@pytest.mark.django_db
def test_a_reply_is_owned_by_the_process_that_streams_it(conversation, alice, providers):
    sent = services.turn_send(
        conversation=conversation, parent_id=None, content="x", author=alice,
        variants=[services.Variant("openai:fake-model")],
    )
    reply = Turn.objects.get(pk=sent.replies[0].reply.pk)
    assert reply.owner_process == liveness.PROCESS_ID
    # Registered before its first reply, so no other process's sweeper takes it for an orphan.
    assert ServerProcess.objects.filter(pk=liveness.PROCESS_ID, pid=os.getpid()).exists()


def _status(server: LiveServer, reply: int) -> tuple[str, str, str]:
    out = server.run_python(
        "import json; from conversations.models import Turn; "
        f"t = Turn.objects.get(pk={reply}); print(json.dumps([t.status, t.content, t.error]))"
    )
    return tuple(json.loads(out.strip().splitlines()[-1]))


async def _start_reply(server: LiveServer, session_key: str, conversation_id: str) -> int:
    import aiohttp

    path = f"/ws/conversations/{conversation_id}/"
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(server.url.replace("http", "ws") + path,
                                   headers={"Cookie": f"sessionid={session_key}"}, origin=server.url) as ws:
            await ws.send_json({"action": "send", "parent": None, "content": "a long answer please",
                                "model": "openai:fake-slow-long"})
            created = await frames_until(ws, lambda f: f["type"] == "turn.created" and f["turn"]["role"] == "assistant")
            reply = created[-1]["turn"]["id"]
            await frames_until(ws, lambda f: f["type"] == "delta" and f["turn"] == reply)
            return reply  # closing the socket does not stop the reply


def run_async(coroutine):
    """Run a coroutine on a loop of its own in a worker thread: these tests are synchronous
    because Playwright's sync API owns this thread's loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def wait_for(condition, timeout: float = 60.0) -> None:
    """Poll until `condition()` holds; fail if it has not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _last_beat(server: LiveServer) -> str | None:
    """When `server`'s process last said it is alive, read from the deployment's SQLite file."""
    path = server.env["DATABASE_URL"].removeprefix("sqlite:///")
    assert server.process is not None
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as database:
        row = database.execute(
            "SELECT last_seen FROM conversations_serverprocess WHERE pid = ?", (server.process.pid,)
        ).fetchone()
    return row[0] if row else None


def wait_for_sweeps(server: LiveServer, count: int) -> None:
    """Until `server`'s process has beaten `count` times after its beat seen first. It sweeps for
    orphaned replies after each beat and beats again only once that sweep is done: `count` sweeps
    are done, and all but the first of them began after this was called."""
    beats: set[str] = set()

    def swept() -> bool:
        beat = _last_beat(server)
        if beat is not None:
            beats.add(beat)
        return len(beats) > count

    wait_for(swept)


@pytest.fixture
def deployment(upstream_server, tmp_path):
    """Server processes sharing one SQLite database, with a fast heartbeat: a process is taken for
    dead after six seconds of silence, so that a process starved on a busy machine is not."""
    env = fake_upstream_env(upstream_server.url, ["fake-model", "fake-slow-long"])
    env.update({
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
        "SECRET_KEY": "liveness-test-key-" + "x" * 40,
        "WORKBENCH_HEARTBEAT_SECONDS": "2",
        "WORKBENCH_CHECKPOINT_SECONDS": "0.5",
    })
    servers = []

    def start(name: str) -> LiveServer:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        server = LiveServer(folder, env).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_a_live_process_ends_the_replies_of_one_that_died(deployment):
    first = deployment("a")
    second = deployment("b")
    conversation_id, session_key = first.run_python(SEED).strip().splitlines()[-1].split()
    reply = run_async(_start_reply(first, session_key, conversation_id))
    # A reply whose process is alive survives another process's start.
    subprocess.run([sys.executable, "manage.py", "recover_replies"], cwd=ROOT, env=first.env, check=True,
                   capture_output=True)
    wait_for_sweeps(second, 2)  # at least one of them begun after the reply started
    assert _status(first, reply)[0] == "streaming"
    # Kill the process streaming it: the other one, still serving, interrupts it, no restart needed.
    first.process.kill()
    first.process.wait()
    wait_for(lambda: _status(second, reply)[0] == "interrupted")
    status, content, error = _status(second, reply)
    assert content.startswith("Echo: a long answer") and "Regenerate it" in error


def test_killing_the_server_mid_reply_leaves_it_interrupted_with_its_text(deployment, browser):
    server = deployment("first")
    seed = SEED.replace('create_user("scaler")', f'create_user("scaler", password="{PASSWORD}")')
    conversation_id, session_key = server.run_python(seed).strip().splitlines()[-1].split()
    reply = run_async(_start_reply(server, session_key, conversation_id))
    wait_for(lambda: len(_status(server, reply)[1]) > 20)  # a checkpoint holds some text
    server.process.kill()  # SIGKILL: no shutdown handler runs
    server.process.wait()
    status, checkpoint, _ = _status(server, reply)
    assert status == "streaming"  # what a killed server leaves behind

    # The next start (make run runs recover_replies first) marks it interrupted with its text.
    recovered = subprocess.run([sys.executable, "manage.py", "recover_replies"], cwd=ROOT, env=server.env,
                               capture_output=True, text=True, check=True)
    assert "1 interrupted reply recovered" in recovered.stdout
    status, content, error = _status(server, reply)
    assert (status, content) == ("interrupted", checkpoint)
    assert "Regenerate it, or reply from here" in error

    # The page shows it so, and offers to regenerate it or to continue from it.
    restarted = deployment("again")

    def look() -> None:
        page = browser.new_page()
        try:
            page.goto(restarted.url + "/accounts/login/")
            page.fill("#id_username", "scaler")
            page.fill("#id_password", PASSWORD)
            page.click("main button[type=submit]")
            page.goto(f"{restarted.url}/c/{conversation_id}/")
            article = page.locator(f'article[data-turn="{reply}"]')
            expect(article).to_have_attribute("data-status", "interrupted")
            expect(article.locator(".turn-error")).to_contain_text("Regenerate it, or reply from here")
            expect(article.locator(".turn-body")).to_contain_text(checkpoint[:20])
            expect(article.get_by_role("button", name="Regenerate", exact=True)).to_be_attached()
            article.get_by_role("button", name="More actions").click()
            expect(article.get_by_role("menuitem", name="Reply here")).to_be_visible()
        finally:
            page.close()

    look()
