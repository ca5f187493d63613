"""The Workbench export: a whole conversation tree as JSON, lossless.

Export writes every field of every turn; import reads one back into a plan that recreates the same
tree. Only database ids change (remapped, including context["omitted"] and the current and main
turns), and the author: see `conversation_plan`.

Version 4 adds attached files: each prompt's "attachments" (its descriptors, as Turn.attachments)
and a top-level "files" holding each file once, by its SHA-256, with its bytes in base64
(attached_files.py). Version 3 adds the conversation's review: comments, verdicts and preferred branches
(conversations/review/exchange.py). Version 2 adds a reply's reasoning (its text, the provider's
blocks with their signatures, its tokens and seconds), whether it refused, and the turn a fork was
copied from. Files of earlier versions, written before those existed, still import.
"""
from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime

from django.utils import timezone

from conversations.exchange import (
    ConversationPlan,
    ImportProblem,
    RepeatedKeys,
    TurnPlan,
    check_turn_count,
    describe_id,
    parents_first,
)
from conversations.exchange.attached_files import files_export, given_files
from conversations.exchange.schema import WorkbenchTurn, workbench_file
from conversations.fields import shown
from conversations.models import Conversation, Turn
from conversations.permissions import Need, conversation_for
from conversations.review.exchange import check_review, review_export

FORMAT = "workbench.conversation"
VERSION = 4
VERSIONS = (1, 2, 3, 4)
COPIED_FIELDS = ("role", "content", "reasoning", "reasoning_blocks", "reasoning_tokens", "reasoning_seconds",
                 "refused", "status", "provider", "model", "settings", "token_counts", "input_tokens",
                 "output_tokens", "usage_estimated")
EXPORTED_FIELDS = (
    "id", "parent_id", *COPIED_FIELDS, "cost", "context", "response_id", "error",
    "author__username", "created_at", "first_token_at", "finished_at", "attachments",
)


def _iso(value: datetime | None) -> str | None:
    # Full microseconds: DjangoJSONEncoder would cut them to milliseconds.
    return value.isoformat() if value is not None else None


def _fork_source(conversation: Conversation, user) -> dict | None:
    """The turn the conversation was forked from, if `user` may read it: an export says no more
    than the conversation page shows the same person."""
    source_id = conversation.forked_from_id
    if source_id is None or user is None:
        return None
    source = Turn.objects.filter(pk=source_id).values_list("conversation_id", flat=True).first()
    if source is None or conversation_for(user, source, need=Need.READ) is None:
        return None
    return {"conversation": source, "turn": source_id}


def conversation_export(*, conversation: Conversation, user=None) -> dict:
    """Every turn of the conversation, parents before children, in one query; the turn it was
    forked from when `user` may see it; and every attached file once, its bytes in base64."""
    rows = Turn.objects.filter(conversation=conversation).order_by("id").values(*EXPORTED_FIELDS)
    by_id = {row["id"]: row for row in rows}
    # Turns are only appended, so id order already has parents first; this is a guard.
    order = parents_first(by_id, lambda key: by_id[key]["parent_id"], lambda key: f"turn {key}")
    turns = []
    for turn_id in order:
        row = by_id[turn_id]
        turns.append({
            "id": row["id"],
            "parent": row["parent_id"],
            **{name: row[name] for name in COPIED_FIELDS},
            "cost": None if row["cost"] is None else format(row["cost"], "f"),
            "context": row["context"],
            "response_id": row["response_id"],
            "error": row["error"],
            "author": row["author__username"],
            "created_at": _iso(row["created_at"]),
            "first_token_at": _iso(row["first_token_at"]),
            "finished_at": _iso(row["finished_at"]),
            "attachments": row["attachments"] or [],
        })
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": _iso(timezone.now()),
        "conversation": {
            "title": conversation.title,
            "created_at": _iso(conversation.created_at),
            "updated_at": _iso(conversation.updated_at),
            "current_turn": conversation.current_turn_id,
            "main_turn": conversation.main_turn_id,
            "forked_from": _fork_source(conversation, user),
        },
        "turns": turns,
        "review": review_export(conversation),
        "files": files_export(turn["attachments"] for turn in turns),
    }


# --- import ------------------------------------------------------------------------------------


def _turn_plan(turn: WorkbenchTurn) -> TurnPlan:
    fields = {
        "role": turn.role,
        "content": turn.content,
        "reasoning": turn.reasoning,
        "reasoning_blocks": list(turn.reasoning_blocks),
        "reasoning_tokens": turn.reasoning_tokens,
        "reasoning_seconds": turn.reasoning_seconds,
        "refused": turn.refused,
        # Nothing generates it any more: it stopped where the export caught it.
        "status": "interrupted" if turn.status == "streaming" else turn.status,
        "provider": turn.provider,
        "model": turn.model,
        "settings": turn.settings.given(),
        "context": turn.context.given(),
        "input_tokens": turn.input_tokens,
        "output_tokens": turn.output_tokens,
        "usage_estimated": turn.usage_estimated,
        "cost": turn.cost,
        "response_id": turn.response_id,
        "error": turn.error,
        "created_at": turn.created_at,
        "first_token_at": turn.first_token_at,
        "finished_at": turn.finished_at,
        # Rebuilt from the stored files on import (attached_files.rewrite_descriptors).
        "attachments": [attachment.given() for attachment in turn.attachments],
    }
    return TurnPlan(key=turn.id, parent=turn.parent, fields=fields)


def conversation_plan(data: dict) -> ConversationPlan:
    """Validate a Workbench export completely and return what to create.

    Every field is checked against the declared schema (schema.WorkbenchFile), then the tree: ids,
    parents, loops and the turns named by others. The author of every turn becomes the person
    importing: the file's "author" names are ignored, because a file anyone can edit must not be
    able to attribute words to another account. Token counts are checked here but counted afresh
    from the content on import, so they always match it (a reply exported mid-stream has none yet).
    """
    version = data.get("version")
    if isinstance(version, bool) or version not in VERSIONS:
        raise ImportProblem(
            f'This Workbench export has "version": {shown(version, 20)}; this workbench reads versions '
            f"{', '.join(map(str, VERSIONS[:-1]))} and {VERSIONS[-1]}."
        )
    raw_turns = data.get("turns")
    if isinstance(raw_turns, list):  # before checking each of them
        check_turn_count(len(raw_turns))
    document = workbench_file(data)
    keys: set[Hashable] = set()
    plans = []
    for index, (raw, turn) in enumerate(zip(data["turns"], document.turns, strict=True)):
        place = f"turns[{index}] (id {describe_id(turn.id)})"
        if isinstance(raw, RepeatedKeys):
            raise ImportProblem(f'{place} has the key "{raw.repeated[:80]}" twice.')
        if turn.id in keys:
            raise ImportProblem(f"{place}: another turn earlier in the file has the same id {describe_id(turn.id)}.")
        keys.add(turn.id)
        plans.append(_turn_plan(turn))
    by_key = {plan.key: plan for plan in plans}
    index_of = {plan.key: index for index, plan in enumerate(plans)}

    def place_of(key: Hashable) -> str:
        return f"turns[{index_of[key]}] (id {describe_id(key)})"

    order = parents_first(by_key, lambda key: by_key[key].parent, place_of)
    for plan in plans:
        for key in plan.fields["context"].get("omitted", []):
            if key not in keys:
                raise ImportProblem(
                    f'{place_of(plan.key)}: "context.omitted" names turn {describe_id(key)}, which is not in the file.'
                )
    check_review(document.review, keys, {plan.key: plan.fields["role"] for plan in plans})
    files = given_files(document, lambda index: f"turns[{index}] (id {describe_id(document.turns[index].id)})")
    meta = document.conversation
    for name in ("current_turn", "main_turn"):
        key = getattr(meta, name)
        if key is not None and key not in keys:
            raise ImportProblem(f'conversation: "{name}" is turn {describe_id(key)}, which is not in the file.')
    return ConversationPlan(
        title=meta.title,
        created_at=meta.created_at,
        updated_at=meta.updated_at,
        current_turn=meta.current_turn,
        main_turn=meta.main_turn,
        turns=[by_key[key] for key in order],
        forked_from=(meta.forked_from.conversation, meta.forked_from.turn) if meta.forked_from else None,
        review=document.review,
        files=files,
    )
