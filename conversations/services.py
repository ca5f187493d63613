"""Writes: create conversations, send prompts, start and finish replies. One transaction each."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from conversations import liveness
from conversations.context import ContextOverflow, plan_context
from conversations.fields import stored_names_problem
from conversations.models import Conversation, Turn
from conversations.providers import registry
from conversations.providers.base import GenerationRequest, GenerationSettings, Message, Provider
from conversations.selectors import subtree_ids, turn_path
from conversations.tokens import count, count_all
from conversations.validation import clean_line

TITLE_LENGTH = 80


class ServiceError(Exception):
    """A request that cannot be carried out, with a message for the person who made it."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Variant:
    """One model and its settings: a send or an edit asks for one reply per variant."""

    model_id: str
    settings: GenerationSettings = GenerationSettings()


@dataclass(frozen=True)
class PreparedReply:
    reply: Turn
    request: GenerationRequest
    provider: Provider


@dataclass(frozen=True)
class Sent:
    prompt: Turn
    replies: list[PreparedReply]


MAX_VARIANTS = 6


def conversation_create(*, owner, title: str = "", workspace=None) -> Conversation:
    """A new conversation in `workspace` (the owner's personal one by default)."""
    from conversations.workspaces import personal_workspace

    return Conversation.objects.create(
        owner=owner, workspace=workspace or personal_workspace(owner), title=title.strip()[:200]
    )


def _title_from(content: str) -> str:
    line = " ".join(content.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def messages_for(turns: list[Turn]) -> list[Message]:
    """The messages of the turns a request carries (see context.sendable)."""
    return [
        Message(role=t.role, content=t.content, response_id=t.response_id, provider=t.provider)
        for t in turns
    ]


def _path(conversation: Conversation, turn_id: int) -> list[Turn]:
    path = turn_path(conversation_id=conversation.id, turn_id=turn_id)
    if not path:
        raise ServiceError(f"Turn {turn_id} does not exist in this conversation.", code="not_found")
    return path


def _resolve(model_id: str) -> tuple[Provider, str]:
    try:
        return registry().resolve(model_id)
    except LookupError as exc:
        raise ServiceError(str(exc), code="unknown_model") from None


def _lock(conversation: Conversation) -> None:
    """Serialise writes to one conversation (PostgreSQL; SQLite's IMMEDIATE transactions already do)."""
    Conversation.objects.select_for_update().filter(pk=conversation.pk).values_list("pk").first()


def _create_replies(
    *, conversation: Conversation, path: list[Turn], author, variants: list[Variant]
) -> list[PreparedReply]:
    if not 1 <= len(variants) <= MAX_VARIANTS:
        raise ServiceError(f"Ask for 1 to {MAX_VARIANTS} replies at once.", code="invalid")
    limit = django_settings.MAX_CONCURRENT_REPLIES
    streaming = Turn.objects.filter(author=author, status=Turn.Status.STREAMING).count()
    if streaming + len(variants) > limit:
        raise ServiceError(
            f"You have {streaming} repl{'y' if streaming == 1 else 'ies'} streaming and asked for "
            f"{len(variants)} more; the limit is {limit} at once. Wait for some to finish or stop them.",
            code="limit",
        )
    planned = []
    for variant in variants:
        provider, model = _resolve(variant.model_id)
        settings = variant.settings
        info = registry().model_info(f"{provider.name}:{model}")
        try:
            plan = plan_context(
                path=path, info=info, system_prompt=settings.system_prompt, max_tokens=settings.max_tokens
            )
        except ContextOverflow as exc:
            raise ServiceError(exc.message, code="context_overflow") from None
        planned.append((provider, model, settings, plan))
    prepared = []
    for provider, model, settings, plan in planned:
        reply = Turn.objects.create(
            conversation=conversation,
            parent=path[-1] if path else None,
            role=Turn.Role.ASSISTANT,
            status=Turn.Status.STREAMING,
            provider=provider.name,
            model=model,
            settings=settings.as_dict(),
            context=plan.as_json(),
            owner_process=liveness.owner_id(),
            author=author,
        )
        request = GenerationRequest(
            model=model,
            messages=messages_for(plan.turns),
            settings=settings,
            # A trimmed history must not chain from a stored response that holds all of it.
            chain=not plan.omitted,
        )
        prepared.append(PreparedReply(reply=reply, request=request, provider=provider))
    conversation.current_turn = prepared[-1].reply
    conversation.save(update_fields=["current_turn", "updated_at"])
    return prepared


def turn_send(
    *,
    conversation: Conversation,
    parent_id: int | None,
    content: str,
    author,
    variants: list[Variant],
) -> Sent:
    """Append a user turn under `parent_id` (None starts a new root) and one reply per variant."""
    with transaction.atomic():
        _lock(conversation)
        path = _path(conversation, parent_id) if parent_id is not None else []
        if path and path[-1].status == Turn.Status.STREAMING:
            raise ServiceError(
                "That reply is still streaming: wait for it, or stop it, before continuing from it.",
                code="streaming",
            )
        prompt = Turn.objects.create(
            conversation=conversation,
            parent=path[-1] if path else None,
            role=Turn.Role.USER,
            content=content,
            token_counts=count_all(content),
            author=author,
        )
        if not conversation.title:
            conversation.title = _title_from(content)
            conversation.save(update_fields=["title"])
        replies = _create_replies(
            conversation=conversation, path=[*path, prompt], author=author, variants=variants
        )
    return Sent(prompt=prompt, replies=replies)


def prompt_edit(
    *, conversation: Conversation, turn_id: int, content: str, author, variants: list[Variant]
) -> Sent:
    """An edited prompt: a new sibling of user turn `turn_id`, answered anew. The original stays."""
    with transaction.atomic():
        _lock(conversation)
        original = _path(conversation, turn_id)[-1]
        if original.role != Turn.Role.USER:
            raise ServiceError("Only your own prompts can be edited; regenerate a reply instead.")
        return turn_send(
            conversation=conversation,
            parent_id=original.parent_id,
            content=content,
            author=author,
            variants=variants,
        )


def reply_regenerate(
    *, conversation: Conversation, turn_id: int, author, variant: Variant
) -> PreparedReply:
    """A new reply beside assistant turn `turn_id` (or under user turn `turn_id`)."""
    with transaction.atomic():
        _lock(conversation)
        path = _path(conversation, turn_id)
        target = path[-1]
        if target.role == Turn.Role.ASSISTANT:
            path = path[:-1]
        elif target.role != Turn.Role.USER:
            raise ServiceError("Only a reply or a prompt can be answered again.")
        return _create_replies(
            conversation=conversation, path=path, author=author, variants=[variant]
        )[0]


def turn_delete(*, conversation: Conversation, turn_id: int) -> int | None:
    """Delete a turn and everything below it; returns its parent's id. Refused while a reply in
    that subtree is still streaming."""
    with transaction.atomic():
        _lock(conversation)
        ids = subtree_ids(conversation_id=conversation.id, turn_id=turn_id)
        if not ids:
            raise ServiceError(f"Turn {turn_id} does not exist in this conversation.", code="not_found")
        doomed = Turn.objects.filter(pk__in=ids)
        if doomed.filter(status=Turn.Status.STREAMING).exists():
            raise ServiceError(
                "A reply in that branch is still streaming: stop it first, then delete.",
                code="streaming",
            )
        parent_id = Turn.objects.filter(pk=turn_id).values_list("parent_id", flat=True).get()
        fields = []
        for field in ("current_turn_id", "main_turn_id"):
            if getattr(conversation, field) in ids:
                setattr(conversation, field, parent_id)
                fields.append(field.removesuffix("_id"))
        if fields:
            conversation.save(update_fields=[*fields, "updated_at"])
        doomed.delete()
    return parent_id


def conversation_set_main(*, conversation: Conversation, turn_id: int | None) -> None:
    """Star the branch ending at `turn_id` as the main line (None clears it)."""
    if turn_id is not None:
        _path(conversation, turn_id)
    conversation.main_turn_id = turn_id
    conversation.save(update_fields=["main_turn", "updated_at"])


def conversation_fork(*, conversation: Conversation, turn_id: int, owner) -> Conversation:
    """A new conversation in the owner's personal workspace holding a copy of the path root →
    `turn_id`, linked back to it."""
    from conversations.workspaces import personal_workspace

    workspace = personal_workspace(owner)
    with transaction.atomic():
        path = _path(conversation, turn_id)
        if any(t.status == Turn.Status.STREAMING for t in path):
            raise ServiceError("That reply is still streaming: fork once it has finished.", code="streaming")
        for turn in path:  # turns stored before names were checked are not copied on
            problem = stored_names_problem(provider=turn.provider, model=turn.model)
            if problem is not None:
                raise ServiceError(f"Turn {turn.id} cannot be copied: {problem}", code="invalid")
        fork = Conversation.objects.create(
            owner=owner,
            workspace=workspace,
            title=_title_from(f"Fork of {conversation}"),
            forked_from_id=turn_id,
        )
        parent = None
        copies = []
        copied = ("role", "content", "status", "provider", "model", "settings", "token_counts",
                  "input_tokens", "output_tokens", "usage_estimated", "cost", "response_id", "error",
                  "author_id", "first_token_at", "finished_at")
        new_ids: dict[int, int] = {}
        for turn in path:
            context = dict(turn.context)
            if context.get("omitted"):
                context["omitted"] = [new_ids[i] for i in context["omitted"] if i in new_ids]
            parent = Turn.objects.create(
                conversation=fork,
                parent=parent,
                context=context,
                **{name: getattr(turn, name) for name in copied},
            )
            new_ids[turn.id] = parent.id
            # Keep the original timing (created_at is set on insert): restored in one query below.
            parent.created_at = turn.created_at
            copies.append(parent)
        Turn.objects.bulk_update(copies, ["created_at"], batch_size=500)
        fork.current_turn = parent
        fork.save(update_fields=["current_turn"])
    return fork


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
) -> FinishedReply:
    """The final state of a reply: its text and counts, its usage (counted here when the provider
    reported none) and its cost at the catalogue's prices."""
    finished_at = timezone.now()
    turn = Turn.objects.only("provider", "model", "context").filter(pk=turn_id).first()
    usage = _usage_of(turn, content, input_tokens, output_tokens) if turn else {}
    token_counts = count_all(content)
    updated = Turn.objects.filter(pk=turn_id, status=Turn.Status.STREAMING).update(
        content=content,
        status=status,
        first_token_at=first_token_at,
        finished_at=finished_at,
        token_counts=token_counts,
        response_id=response_id,
        error=error,
        **usage,
    )
    return FinishedReply(
        updated=bool(updated),
        finished_at=finished_at,
        token_counts=token_counts,
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        usage_estimated=usage.get("usage_estimated", False),
        cost=usage.get("cost"),
    )


@dataclass(frozen=True)
class FinishedReply:
    updated: bool
    finished_at: datetime
    token_counts: dict
    input_tokens: int | None
    output_tokens: int | None
    usage_estimated: bool
    cost: Decimal | None


def _usage_of(turn: Turn, content: str, input_tokens: int | None, output_tokens: int | None) -> dict:
    info = registry().model_info(f"{turn.provider}:{turn.model}")
    estimated = input_tokens is None or output_tokens is None
    if input_tokens is None:
        # What the request was planned at; a reply that never reached the model used nothing.
        input_tokens = turn.context.get("input_tokens") if content else 0
    if output_tokens is None:
        output_tokens = count(content, info.encoding.name)
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "usage_estimated": estimated,
        "cost": info.cost(input_tokens, output_tokens),
    }


def conversation_delete(*, conversation: Conversation) -> None:
    with transaction.atomic():
        if Turn.objects.filter(conversation=conversation, status=Turn.Status.STREAMING).exists():
            raise ServiceError(
                "A reply in this conversation is still streaming: stop it first, then delete.",
                code="streaming",
            )
        Conversation.objects.filter(pk=conversation.pk).update(current_turn=None)
        Turn.objects.filter(conversation=conversation).delete()
        conversation.delete()


def conversation_rename(*, conversation: Conversation, title: str) -> None:
    """Raises InvalidInput for a title that is too long or not valid Unicode: refused, never cut."""
    limit = Conversation._meta.get_field("title").max_length
    conversation.title = clean_line(title, field="The title", limit=limit)
    conversation.save(update_fields=["title", "updated_at"])
