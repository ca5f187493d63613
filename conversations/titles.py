"""Short titles, made by the conversation's own model once its first reply is done.

The first prompt names a conversation the moment it is sent (services.turn_send), marked PENDING
when automatic titles are on (settings.AUTO_TITLES). When a reply of it completes, the
generation asks for a title here, after the reply's final write and its `turn.finished` frame, in a
task of its own: nothing about the reply waits for it. The request goes to the same provider and
model as that reply, through the registry's provider interface, and is never shown or stored as a
turn. Its text, cleaned, becomes the title and every page open on the conversation is told
(`conversation.updated`); if the model fails, refuses, answers nothing usable or takes longer than
settings.AUTO_TITLE_TIMEOUT, the first prompt stays the title.

The title moves PENDING → TITLING → MODEL (or PROMPT when none came) by conditional updates, so one
process makes it however many replies finish at once, and a title a person typed meanwhile (USER)
is never replaced.
"""
from __future__ import annotations

import asyncio
import logging
import re
from contextlib import aclosing

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from conversations.errors import ServiceError
from conversations.models import Conversation, Turn
from conversations.providers.base import (
    GenerationRequest,
    GenerationSettings,
    Message,
    Provider,
    ProviderError,
    RefusalDelta,
    TextDelta,
)
from conversations.registry import registry
from conversations.streaming.groups import conversation_group
from conversations.validation import clean_line

logger = logging.getLogger(__name__)

INSTRUCTION = (
    "You name conversations. Reply with a short title, at most six words, for the conversation "
    "that starts with the user's message. Reply with the title alone: no quotes, no full stop, "
    "no explanation."
)
# Enough of the first prompt to name it, and little enough for the smallest model's window.
PROMPT_CHARS = 2000
TITLE_CHARS = 60
MAX_TOKENS = 24
# A reasoning model spends tokens thinking before it writes: a title needs room for that.
REASONING_MAX_TOKENS = 1024
_LABEL = re.compile(r"^(conversation\s+)?title\s*[:\-–—]\s*", re.IGNORECASE)
_WRAPPING = " \t\"'`*_#“”‘’«»"

Source = Conversation.TitleSource
_running: set[asyncio.Task] = set()


def clean_title(text: str) -> str:
    """The title in a model's answer: its first line, without a "Title:" label, quotes, Markdown
    emphasis or a full stop, at most TITLE_CHARS long (cut between words). "" when none is left."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    line = _LABEL.sub("", line).strip(_WRAPPING).rstrip(".。").strip(_WRAPPING)
    try:
        line = clean_line(line, field="The title", limit=None)
    except ServiceError:  # not valid Unicode: no title
        return ""
    if len(line) > TITLE_CHARS:
        cut = line[: TITLE_CHARS - 1]
        line = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:-–—") + "…"
    return line


def title_request(*, model_id: str, model: str, prompt: str) -> GenerationRequest:
    """The request that asks `model` for a title of `prompt`."""
    reasons = registry().model_info(model_id).reasoning == "effort"
    return GenerationRequest(
        model=model,
        messages=[Message(role="user", content=prompt[:PROMPT_CHARS])],
        settings=GenerationSettings(
            system_prompt=INSTRUCTION,
            max_tokens=REASONING_MAX_TOKENS if reasons else MAX_TOKENS,
            reasoning_effort="low" if reasons else None,
        ),
        chain=False,
    )


async def title_from_model(provider: Provider, request: GenerationRequest) -> str:
    """The provider's answer to a title request, cleaned; "" for a refusal or no text. Raises
    ProviderError, or TimeoutError after settings.AUTO_TITLE_TIMEOUT."""
    parts: list[str] = []
    async with asyncio.timeout(settings.AUTO_TITLE_TIMEOUT), aclosing(provider.stream(request)) as events:
        async for event in events:
            if type(event) is TextDelta:
                parts.append(event.text)
            elif type(event) is RefusalDelta:
                return ""
    return clean_title("".join(parts))


def _claim(conversation_id: int) -> str | None:
    """The first prompt, if this process is to title the conversation (it still waits for a title,
    and no other process took it); else None."""
    if not Conversation.objects.filter(pk=conversation_id, title_source=Source.PENDING).exists():
        return None  # most replies: read, not written
    if not Conversation.objects.filter(pk=conversation_id, title_source=Source.PENDING).update(
        title_source=Source.TITLING
    ):
        return None
    first = (
        Turn.objects.filter(conversation_id=conversation_id, role=Turn.Role.USER)
        .order_by("id")
        .values_list("content", flat=True)
        .first()
    )
    return first or ""


def _save(conversation_id: int, title: str) -> bool:
    """Store the model's title, unless someone renamed the conversation meanwhile; with no title,
    the first prompt stays. Not activity: updated_at, and the list's order, stay as they are."""
    claimed = Conversation.objects.filter(pk=conversation_id, title_source=Source.TITLING)
    if not title:
        claimed.update(title_source=Source.PROMPT)
        return False
    return bool(claimed.update(title=title, title_source=Source.MODEL))


async def conversation_title(*, conversation_id: int, model_id: str) -> str:
    """Title the conversation with `model_id` (`<provider>:<model>`) if it still waits for a title;
    the title stored, or "" when it keeps the one it had."""
    prompt = await database_sync_to_async(_claim)(conversation_id)
    if prompt is None:
        return ""
    title = ""
    try:
        provider, model = registry().resolve(model_id)
        if prompt.strip():
            title = await title_from_model(provider, title_request(model_id=model_id, model=model, prompt=prompt))
    except (LookupError, ProviderError, TimeoutError) as exc:
        logger.info("No title for conversation %s from %s: %s", conversation_id, model_id, exc)
    except Exception:
        logger.exception("No title for conversation %s from %s", conversation_id, model_id)
    finally:
        # Also when cancelled (a shutdown): the first prompt stays, and the claim is given up.
        saved = await asyncio.shield(database_sync_to_async(_save)(conversation_id, title))
    if not saved:
        return ""
    await get_channel_layer().group_send(
        conversation_group(conversation_id),
        {"type": "conversation.event", "event": {"type": "conversation.updated", "title": title}},
    )
    return title


def title_after_reply(*, conversation_id: int, model_id: str) -> None:
    """A reply of the conversation completed: title it in the background if it waits for a title."""
    if not settings.AUTO_TITLES:
        return
    task = asyncio.create_task(
        conversation_title(conversation_id=conversation_id, model_id=model_id), name=f"title-{conversation_id}"
    )
    _running.add(task)
    task.add_done_callback(_running.discard)


async def titles_stop_all() -> None:
    """Stop making titles (tests and shutdown): those conversations keep their first prompt."""
    tasks = list(_running)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def titles_settled() -> None:
    """Wait until the titles being made are stored, or given up (tests)."""
    await asyncio.gather(*list(_running), return_exceptions=True)
