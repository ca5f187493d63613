"""Writes: create conversations, send prompts, start and finish replies. One transaction each."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from conversations.models import Conversation, Turn
from conversations.providers import registry
from conversations.providers.base import GenerationRequest, GenerationSettings, Message, Provider
from conversations.selectors import turn_path

TITLE_LENGTH = 80


class ServiceError(Exception):
    """A request that cannot be carried out, with a message for the person who made it."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class PreparedReply:
    reply: Turn
    request: GenerationRequest
    provider: Provider
    prompt: Turn | None = None


def conversation_create(*, owner, title: str = "") -> Conversation:
    return Conversation.objects.create(owner=owner, title=title.strip()[:200])


def _title_from(content: str) -> str:
    line = " ".join(content.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def _messages_for(path: list[Turn]) -> list[Message]:
    return [
        Message(role=t.role, content=t.content, response_id=t.response_id, provider=t.provider)
        for t in path
        # A reply that failed before its first word has nothing to tell the model.
        if t.content or t.role != Turn.Role.ASSISTANT
    ]


def _parent_path(conversation: Conversation, parent_id: int | None) -> list[Turn]:
    if parent_id is None:
        return []
    path = turn_path(conversation_id=conversation.id, turn_id=parent_id)
    if not path:
        raise ServiceError(f"Turn {parent_id} does not exist in this conversation.", code="not_found")
    return path


def _resolve(model_id: str) -> tuple[Provider, str]:
    try:
        return registry().resolve(model_id)
    except LookupError as exc:
        raise ServiceError(str(exc), code="unknown_model") from None


def _create_reply(
    *,
    conversation: Conversation,
    path: list[Turn],
    author,
    model_id: str,
    settings: GenerationSettings,
) -> PreparedReply:
    provider, model = _resolve(model_id)
    parent = path[-1] if path else None
    reply = Turn.objects.create(
        conversation=conversation,
        parent=parent,
        role=Turn.Role.ASSISTANT,
        status=Turn.Status.STREAMING,
        provider=provider.name,
        model=model,
        settings=settings.as_dict(),
        author=author,
    )
    conversation.current_turn = reply
    conversation.save(update_fields=["current_turn", "updated_at"])
    request = GenerationRequest(model=model, messages=_messages_for(path), settings=settings)
    return PreparedReply(reply=reply, request=request, provider=provider)


def turn_send(
    *,
    conversation: Conversation,
    parent_id: int | None,
    content: str,
    author,
    model_id: str,
    settings: GenerationSettings,
) -> PreparedReply:
    """Append a user turn under `parent_id` (None starts a new root) and a reply to stream under it."""
    with transaction.atomic():
        path = _parent_path(conversation, parent_id)
        prompt = Turn.objects.create(
            conversation=conversation,
            parent=path[-1] if path else None,
            role=Turn.Role.USER,
            content=content,
            author=author,
        )
        if not conversation.title:
            conversation.title = _title_from(content)
            conversation.save(update_fields=["title"])
        prepared = _create_reply(
            conversation=conversation,
            path=[*path, prompt],
            author=author,
            model_id=model_id,
            settings=settings,
        )
    return PreparedReply(
        reply=prepared.reply, request=prepared.request, provider=prepared.provider, prompt=prompt
    )


def reply_regenerate(
    *,
    conversation: Conversation,
    turn_id: int,
    author,
    model_id: str,
    settings: GenerationSettings,
) -> PreparedReply:
    """A new reply beside assistant turn `turn_id` (or under user turn `turn_id`)."""
    with transaction.atomic():
        path = _parent_path(conversation, turn_id)
        target = path[-1]
        if target.role == Turn.Role.ASSISTANT:
            path = path[:-1]
        elif target.role != Turn.Role.USER:
            raise ServiceError("Only a reply or a prompt can be answered again.")
        return _create_reply(
            conversation=conversation, path=path, author=author, model_id=model_id, settings=settings
        )


def reply_checkpoint(*, turn_id: int, content: str, first_token_at: datetime | None) -> None:
    """Save the text streamed so far; a no-op once the reply has its final state."""
    Turn.objects.filter(pk=turn_id, status=Turn.Status.STREAMING).update(
        content=content, first_token_at=first_token_at
    )


def reply_finish(
    *,
    turn_id: int,
    content: str,
    status: str,
    first_token_at: datetime | None,
    input_tokens: int | None,
    output_tokens: int | None,
    response_id: str,
    error: str,
) -> datetime:
    finished_at = timezone.now()
    Turn.objects.filter(pk=turn_id, status=Turn.Status.STREAMING).update(
        content=content,
        status=status,
        first_token_at=first_token_at,
        finished_at=finished_at,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        response_id=response_id,
        error=error,
    )
    return finished_at


def conversation_delete(*, conversation: Conversation) -> None:
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(current_turn=None)
        Turn.objects.filter(conversation=conversation).delete()
        conversation.delete()


def conversation_rename(*, conversation: Conversation, title: str) -> None:
    conversation.title = " ".join(title.split())[:200]
    conversation.save(update_fields=["title", "updated_at"])
