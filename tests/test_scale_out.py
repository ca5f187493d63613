"""Two daphne processes sharing PostgreSQL and Redis: a reply started through one is watched,
caught up on and stopped through the other."""
from __future__ import annotations

import asyncio
import json
import os

import pytest

from tests.live import LiveServer, fake_upstream_env
from tests.wsclient import WAIT

SCALE_OUT = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")) and bool(
    os.environ.get("REDIS_URL")
)
pytestmark = pytest.mark.skipif(
    not SCALE_OUT, reason="the scale-out configuration: set DATABASE_URL (PostgreSQL) and REDIS_URL"
)

SEED = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from conversations.models import Conversation
user = User.objects.create_user("scaler")
from conversations.workspaces.services import personal_workspace
conversation = Conversation.objects.create(owner=user, workspace=personal_workspace(user))
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(conversation.id, session.session_key)
"""


@pytest.fixture(scope="module")
def two_processes(upstream_server, tmp_path_factory):
    env = fake_upstream_env(upstream_server.url, ["fake-model", "fake-slow-long"])
    env["SECRET_KEY"] = "scale-out-test-key-" + "x" * 40
    first = LiveServer(tmp_path_factory.mktemp("process-a"), env).start()
    second = LiveServer(tmp_path_factory.mktemp("process-b"), env, shared_with=first).start()
    yield first, second
    second.stop()
    first.stop()


async def frames_until(ws, predicate, timeout=WAIT):
    frames = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads((await ws.receive()).data)
            frames.append(frame)
            if predicate(frame):
                return frames


async def test_watch_resume_and_stop_through_the_other_process(two_processes):
    import aiohttp

    first, second = two_processes
    conversation_id, session_key = first.run_python(SEED).strip().splitlines()[-1].split()
    path = f"/ws/conversations/{conversation_id}/"
    headers = {"Cookie": f"sessionid={session_key}"}
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(first.url.replace("http", "ws") + path, headers=headers, origin=first.url) as a, \
                http.ws_connect(second.url.replace("http", "ws") + path, headers=headers, origin=second.url) as b:
            await a.send_json({"action": "send", "parent": None, "content": "across processes",
                               "model": "openai:fake-slow-long"})
            created = await frames_until(a, lambda f: f["type"] == "turn.created" and f["turn"]["role"] == "assistant")
            reply = created[-1]["turn"]["id"]
            # B sees the reply stream live, though A runs it.
            seen = await frames_until(b, lambda f: f["type"] == "delta" and f["turn"] == reply and f["offset"] > 22)
            assert any(f["type"] == "turn.created" and f["turn"]["id"] == reply for f in seen)
            # A resume through B is answered by A, from its memory, from offset 0: all it has sent,
            # "Echo: across processes" and more (B may first send its last checkpoint, shorter).
            await b.send_json({"action": "resume", "turn": reply, "offset": 0})
            caught_up = await frames_until(
                b,
                lambda f: f["type"] == "delta" and f["offset"] == 0 and f["text"].startswith("Echo: across processes"),
            )
            assert caught_up[-1]["turn"] == reply
            # Stop through B stops the reply A runs; both sockets hear it ended.
            await b.send_json({"action": "stop", "turn": reply})
            for ws in (a, b):
                done = await frames_until(ws, lambda f: f["type"] == "turn.finished" and f["turn"]["id"] == reply)
                assert done[-1]["turn"]["status"] == "stopped"
    status = first.run_python(f"from conversations.models import Turn; print(Turn.objects.get(pk={reply}).status)")
    assert status.strip().splitlines()[-1] == "stopped"
