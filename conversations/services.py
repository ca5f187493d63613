"""Writes: create conversations, send prompts, start and finish replies. One transaction each."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings as django_settings
from django.db import connection, transaction

from conversations.attachments.refs import AttachmentRef
from conversations.attachments.sending import attach, carries_images, message_attachments
from conversations.attachments.services import check_stored, link_blobs
from conversations.context import ContextOverflow, plan_context
from conversations.errors import TURN_GONE, ServiceError
from conversations.fields import stored_names_problem
from conversations.model_checks import check_reasoning_settings, check_vision
from conversations.models import Conversation, ConversationPin, Turn
from conversations.providers.base import (
    GenerationRequest,
    GenerationSettings,
    Message,
    Provider,
)
from conversations.registry import registry
from conversations.streaming import liveness
from conversations.tokens import count_all
from conversations.validation import clean_line
from conversations.workspaces.services import personal_workspace

TITLE_LENGTH = 80


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


@dataclass(frozen=True)
class Started:
    conversation: Conversation
    sent: Sent


MAX_VARIANTS = 6


def conversation_create(*, owner, title: str = "", workspace=None) -> Conversation:
    """A new conversation in `workspace` (the owner's personal one by default)."""
    return Conversation.objects.create(
        owner=owner, workspace=workspace or personal_workspace(owner), title=title.strip()[:200]
    )


def conversation_start(
    *, owner, workspace, content: str, variants: list[Variant],
    attachments: Sequence[AttachmentRef] = (), text_only: bool = False,
) -> Started:
    """A new conversation in `workspace` with its first prompt and replies, in one transaction: a
    conversation is only ever stored with its first message, and a refused send stores nothing."""
    with transaction.atomic():
        conversation = Conversation.objects.create(owner=owner, workspace=workspace)
        sent = turn_send(
            conversation=conversation, parent_id=None, content=content, author=owner, variants=variants,
            attachments=attachments, text_only=text_only,
        )
    return Started(conversation=conversation, sent=sent)


def _title_from(content: str) -> str:
    line = " ".join(content.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def messages_for(turns: list[Turn], *, images: bool = True, files: dict | None = None) -> list[Message]:
    """The messages of the turns a request carries (see context.sendable), a prompt's with its
    files (without its images when `images` is false: a send with "text_only"); `files` may give
    them read already (message_attachments), as for several replies to one branch."""
    if files is None:
        files = message_attachments(turns, images=images)
    return [
        Message(
            role=t.role, content=t.content, response_id=t.response_id, provider=t.provider,
            reasoning_blocks=tuple(t.reasoning_blocks or ()), attachments=files.get(t.id, ()),
        )
        for t in turns
    ]


def _path(conversation: Conversation, turn_id: int) -> list[Turn]:
    path = Turn.objects.path(conversation_id=conversation.id, turn_id=turn_id)
    if not path:
        raise ServiceError(TURN_GONE, code="not_found")
    return path


def _resolve(model_id: str) -> tuple[Provider, str]:
    try:
        return registry().resolve(model_id)
    except LookupError as exc:
        raise ServiceError(str(exc), code="unknown_model") from None


def _lock(conversation: Conversation) -> None:
    """Serialise writes to one conversation (PostgreSQL; SQLite's IMMEDIATE transactions already
    do, and it has no row locks: no query there)."""
    if connection.features.has_select_for_update:
        Conversation.objects.select_for_update().filter(pk=conversation.pk).values_list("pk").first()


def _create_replies(
    *, conversation: Conversation, path: list[Turn], author, variants: list[Variant], text_only: bool = False,
    childless: bool | None = None,
) -> list[PreparedReply]:
    """One reply per variant under the path's last turn; `childless` says whether that turn has
    no child yet, when the caller knows (None: asked of the database)."""
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
        check_reasoning_settings(settings, info, variant.model_id)
        check_vision(path, info, variant.model_id, text_only)
        try:
            plan = plan_context(
                path=path, info=info, system_prompt=settings.system_prompt, max_tokens=settings.max_tokens,
                images=not text_only,
            )
        except ContextOverflow as exc:
            raise ServiceError(exc.message, code="context_overflow") from None
        planned.append((provider, model, settings, plan, info.reasoning))
    prepared = []
    # Described once for every reply of a fan-out; each reply reads its images from storage as it
    # starts, after this transaction (streaming/generation.py).
    files = message_attachments(path, images=not text_only, read_images=False)
    for index, (provider, model, settings, plan, reasoning) in enumerate(planned):
        context = plan.as_json()
        left_out = carries_images(plan.turns) if text_only else 0
        if left_out:  # "What the model saw" says so, and the request is rebuilt without them
            context["images_left_out"] = left_out
        reply = Turn.objects.append(
            conversation=conversation,
            parent=path[-1] if path else None,
            first_child=None if childless is None else (childless and index == 0),
            role=Turn.Role.ASSISTANT,
            status=Turn.Status.STREAMING,
            provider=provider.name,
            model=model,
            settings=settings.as_dict(),
            context=context,
            owner_process=liveness.owner_id(),
            author=author,
        )
        request = GenerationRequest(
            model=model,
            messages=messages_for(plan.turns, files=files),
            settings=settings,
            # A trimmed history must not chain from a stored response that holds all of it.
            chain=not plan.omitted,
            reasoning=reasoning,
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
    attachments: Sequence[AttachmentRef] = (),
    text_only: bool = False,
) -> Sent:
    """Append a user turn under `parent_id` (None starts a new root), carrying the files
    `attachments` names (see attachments/sending.py), and one reply per variant."""
    with transaction.atomic():
        _lock(conversation)
        path = _path(conversation, parent_id) if parent_id is not None else []
        if path and path[-1].status == Turn.Status.STREAMING:
            raise ServiceError(
                "That reply is still streaming: wait for it, or stop it, before continuing from it.",
                code="streaming",
            )
        attaching = attach(conversation=conversation, author=author, refs=attachments)
        if not content.strip() and not attaching.descriptors:
            raise ServiceError("The message is empty.", code="empty")
        prompt = Turn.objects.append(
            conversation=conversation,
            parent=path[-1] if path else None,
            role=Turn.Role.USER,
            content=content,
            token_counts=count_all(content),
            author=author,
            attachments=attaching.descriptors,
        )
        attaching.write(prompt)
        if not conversation.title:
            # As stored now (renamed in another tab since it was read?), under the lock.
            conversation.refresh_from_db(fields=["title", "title_source"])
        if not conversation.title and conversation.title_source != Conversation.TitleSource.USER:
            # The first prompt names it at once; the model's shorter title may follow its first
            # reply (see titles.py).
            conversation.title = _title_from(content) or _title_from(
                ", ".join(d["name"] for d in attaching.descriptors)
            )
            conversation.title_source = (
                Conversation.TitleSource.PENDING if django_settings.AUTO_TITLES else Conversation.TitleSource.PROMPT
            )
            conversation.save(update_fields=["title", "title_source"])
        replies = _create_replies(
            conversation=conversation, path=[*path, prompt], author=author, variants=variants, text_only=text_only,
            childless=True,  # the prompt was created just now
        )
    return Sent(prompt=prompt, replies=replies)


def prompt_edit(
    *, conversation: Conversation, turn_id: int, content: str, author, variants: list[Variant],
    attachments: Sequence[AttachmentRef] = (), text_only: bool = False,
) -> Sent:
    """An edited prompt: a new sibling of user turn `turn_id`, answered anew. The original stays.
    It carries the files `attachments` names: those it keeps of the original's are named as refs
    to the original turn ({"turn": turn_id, "index": n}); a file not named is not carried."""
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
            attachments=attachments,
            text_only=text_only,
        )


def reply_regenerate(
    *, conversation: Conversation, turn_id: int, author, variant: Variant, text_only: bool = False
) -> PreparedReply:
    """A new reply beside assistant turn `turn_id` (or under user turn `turn_id`); with `text_only`,
    without the branch's images."""
    with transaction.atomic():
        _lock(conversation)
        path = _path(conversation, turn_id)
        target = path[-1]
        childless = None
        if target.role == Turn.Role.ASSISTANT:
            path, childless = path[:-1], False  # the prompt has a child: this reply
        elif target.role != Turn.Role.USER:
            raise ServiceError("Only a reply or a prompt can be answered again.")
        return _create_replies(
            conversation=conversation, path=path, author=author, variants=[variant], text_only=text_only,
            childless=childless,
        )[0]


def turn_delete(*, conversation: Conversation, turn_id: int) -> int | None:
    """Delete a turn and everything below it; returns its parent's id. Refused while a reply in
    that subtree is still streaming."""
    with transaction.atomic():
        _lock(conversation)
        ids = Turn.objects.subtree_ids(conversation_id=conversation.id, turn_id=turn_id)
        if not ids:
            raise ServiceError(TURN_GONE, code="not_found")
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


# What a fork keeps of each turn: what the branch says and how it was made, not where it was stored.
FORK_FIELDS = ("role", "content", "status", "provider", "model", "settings", "token_counts",
               "input_tokens", "output_tokens", "usage_estimated", "cost", "response_id", "error",
               "author_id", "first_token_at", "finished_at", "created_at", "context", "reasoning",
               "reasoning_blocks", "reasoning_tokens", "reasoning_seconds", "refused", "attachments")


def conversation_fork(*, conversation: Conversation, turn_id: int, owner) -> Conversation:
    """A new conversation in the owner's personal workspace holding a copy of the path root →
    `turn_id`, linked back to it. Each copy keeps its author (the forker wrote none of it), so the
    files its prompts carry count against no one's attachment quota anew: each person's quota
    counts every distinct file of the turns they wrote once, and these are the same files."""
    with transaction.atomic():
        path = [
            {"id": turn.id, **{name: getattr(turn, name) for name in FORK_FIELDS}}
            for turn in _path(conversation, turn_id)
        ]
        title = f"Fork of {conversation.title or 'an untitled conversation'}"
        return path_copy(path=path, owner=owner, title=title, forked_from_id=turn_id)


def path_copy(*, path: list[dict], owner, title: str, forked_from_id: int | None = None) -> Conversation:
    """The one way a branch is copied into a new conversation of the owner's personal workspace:
    `path` is root first, each turn its old "id" and the fields to keep (a subset of FORK_FIELDS:
    a fork of a conversation keeps them all, a share link's visitor gets what the link shows).
    Prompts keep their attachments: the copies name the same stored files (`Turn.blobs`), which
    stay stored while any turn carries them, whatever becomes of the original.
    A copy cannot be made of a reply still streaming, nor of turns whose stored names break the
    rules imports are checked by."""
    if any(turn["status"] == Turn.Status.STREAMING for turn in path):
        raise ServiceError("That reply is still streaming: copy it once it has finished.", code="streaming")
    for turn in path:
        problem = stored_names_problem(provider=turn["provider"], model=turn["model"])
        if problem is not None:
            what = "A reply" if turn.get("role") == Turn.Role.ASSISTANT else "A message"
            raise ServiceError(f"{what} on this branch cannot be copied: {problem}", code="invalid")
    with transaction.atomic():
        check_stored(path)
        fork = Conversation.objects.create(
            owner=owner, workspace=personal_workspace(owner), title=_title_from(title), forked_from_id=forked_from_id
        )
        parent: Turn | None = None
        new_ids: dict[int, int] = {}
        copies, created = [], []
        for turn in path:
            fields = {name: value for name, value in turn.items() if name != "id"}
            if "token_counts" not in fields:  # a share link's reader is not told them
                fields["token_counts"] = count_all(fields["content"])
            context = dict(fields.pop("context", None) or {})
            if context.get("omitted"):
                context["omitted"] = [new_ids[i] for i in context["omitted"] if i in new_ids]
            created_at = fields.pop("created_at", None)
            parent = Turn.objects.append(
                conversation=fork, parent=parent, first_child=True, context=context, **fields
            )
            new_ids[turn["id"]] = parent.id
            created.append(parent)
            if created_at is not None:  # set on insert: the original timing is restored below
                parent.created_at = created_at
                copies.append(parent)
        Turn.objects.bulk_update(copies, ["created_at"], batch_size=500)
        # The copies carry the same stored files (content-addressed: shared, never copied).
        link_blobs(created)
        fork.current_turn = parent
        fork.save(update_fields=["current_turn"])
    return fork


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
    """Raises ServiceError for a title that is too long or not valid Unicode: refused, never cut.
    A title typed by a person is theirs: the model's automatic title never replaces it. Renaming
    is not activity in the conversation: it keeps its place in the list (ordered by updated_at)."""
    limit = Conversation._meta.get_field("title").max_length
    conversation.title = clean_line(title, field="The title", limit=limit)
    conversation.title_source = Conversation.TitleSource.USER
    conversation.save(update_fields=["title", "title_source"])


def conversation_pin(*, conversation: Conversation, user, pinned: bool) -> bool:
    """Pin the conversation to the top of `user`'s list, or unpin it; True if anything changed.
    Pins are each person's own (see models.ConversationPin)."""
    if pinned:
        _, created = ConversationPin.objects.get_or_create(user=user, conversation=conversation)
        return created
    deleted, _ = ConversationPin.objects.filter(user=user, conversation=conversation).delete()
    return bool(deleted)
