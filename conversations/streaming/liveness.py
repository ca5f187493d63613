"""Which server process streams which reply, and which processes are still alive.

Each process has an id for its lifetime. It stamps the replies it streams with that id and, while
it serves, writes a heartbeat row every WORKBENCH_HEARTBEAT_SECONDS. A reply left `streaming` is
marked interrupted (keeping the text of its last checkpoint) only once its process is gone: its
heartbeat is older than three beats, or it ran on this host and its pid no longer exists. Two
things do that: `manage.py recover_replies` before a server starts, and every serving process's
sweeper at each beat, so a reply whose process died never stays `streaming`, restart or not,
while replies of processes that are alive are left alone.
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
import uuid
import weakref
from datetime import timedelta

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from conversations.models import ServerProcess, Turn
from conversations.streaming.frames import finished_frame, turn_payload
from conversations.streaming.groups import conversation_group
from conversations.streaming.replies import reply_finish

logger = logging.getLogger(__name__)

PROCESS_ID = uuid.uuid4().hex
HOSTNAME = socket.gethostname()
BEATS_BEFORE_DEAD = 3
INTERRUPTED_MESSAGE = (
    "The server stopped while this reply was streaming: the text up to its last checkpoint is "
    "kept. Regenerate it, or reply from here."
)
_loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


_beaten_at = -math.inf  # time.monotonic() of this process's last heartbeat written


def beat() -> None:
    """Say this process is alive."""
    global _beaten_at
    now = timezone.now()
    updated = ServerProcess.objects.filter(pk=PROCESS_ID).update(last_seen=now)
    if not updated:
        ServerProcess.objects.create(
            id=PROCESS_ID, hostname=HOSTNAME, pid=os.getpid(), started_at=now, last_seen=now
        )
    _beaten_at = time.monotonic()


def owner_id() -> str:
    """This process's id, registered before the first reply it owns (so no sweeper elsewhere can
    take the reply for an orphan before the first heartbeat). No query while the last heartbeat is
    less than one beat old: a sweeper takes a process for dead only after several silent beats, so
    its row is there. Otherwise a read, and a write only when the process is not registered."""
    if time.monotonic() - _beaten_at < settings.HEARTBEAT_SECONDS:
        return PROCESS_ID
    if not ServerProcess.objects.filter(pk=PROCESS_ID).exists():
        beat()
    return PROCESS_ID


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def dead_processes() -> set[str]:
    """Ids of the processes that are gone: silent for three beats, or vanished from this host."""
    silent_since = timezone.now() - timedelta(seconds=BEATS_BEFORE_DEAD * settings.HEARTBEAT_SECONDS)
    dead = set()
    for process in ServerProcess.objects.exclude(pk=PROCESS_ID):
        if process.last_seen < silent_since or (process.hostname == HOSTNAME and _pid_gone(process.pid)):
            dead.add(process.id)
    return dead


def orphans_interrupt() -> list[Turn]:
    """Interrupt every streaming reply whose process is gone or unknown; the replies interrupted."""

    dead = dead_processes()
    alive = set(ServerProcess.objects.exclude(pk__in=dead).values_list("pk", flat=True)) | {PROCESS_ID}
    orphans = list(
        Turn.objects.filter(status=Turn.Status.STREAMING)
        .exclude(owner_process__in=alive)
        .only("id", "conversation_id", "content", "reasoning", "first_token_at")
    )
    interrupted = []
    for turn in orphans:
        finished = reply_finish(
            turn_id=turn.id,
            content=turn.content,
            reasoning=turn.reasoning,
            status=Turn.Status.INTERRUPTED,
            first_token_at=turn.first_token_at,
            input_tokens=None,
            output_tokens=None,
            response_id="",
            error=INTERRUPTED_MESSAGE,
        )
        if finished.updated:
            interrupted.append(Turn.objects.get(pk=turn.id))
    ServerProcess.objects.filter(pk__in=dead).delete()
    return interrupted


async def _announce(turns: list[Turn]) -> None:
    layer = get_channel_layer()
    for turn in turns:
        await layer.group_send(
            conversation_group(turn.conversation_id),
            finished_frame(turn_payload(turn, content=False)),
        )


async def _keep_alive() -> None:
    while True:
        try:
            await database_sync_to_async(beat)()
            await _announce(await database_sync_to_async(orphans_interrupt)())
        except Exception:
            logger.exception("Heartbeat failed; trying again at the next beat")
        await asyncio.sleep(settings.HEARTBEAT_SECONDS)


def ensure_heartbeat() -> None:
    """Start this process's heartbeat and sweeper on the running loop (once; off when 0)."""
    if not settings.HEARTBEAT_SECONDS:
        return
    loop = asyncio.get_running_loop()
    task = _loops.get(loop)
    if task is None or task.done():
        _loops[loop] = loop.create_task(_keep_alive(), name="heartbeat")
