"""ChatGPT's data export (conversations.json): every branch of every conversation.

ChatGPT stores a conversation as a `mapping` of nodes linked by `parent`. An edited prompt or a
regenerated reply is a sibling node, exactly as in the Workbench, so every branch is kept, not only
the one ChatGPT shows. Nodes that are not a visible message are left out, and their children hang
from the nearest ancestor that is kept; what was left out is counted by kind (LEFT_OUT_KINDS), so
the import can say so. A reasoning model's thoughts ("thoughts", "reasoning_recap") are not turns of
their own: they become the reasoning of the reply that follows them.

Each conversation is read on its own: one that is broken is skipped with its problem and place, and
the others are imported.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from conversations.exchange import (
    ConversationPlan,
    ImportProblem,
    RepeatedKeys,
    Skipped,
    TurnPlan,
    check_turn_count,
    parents_first,
    turn_char_limit,
)
from conversations.exchange.schema import (
    ChatGPTContent,
    ChatGPTConversation,
    ChatGPTMessage,
    chatgpt_conversation,
    chatgpt_place,
)
from conversations.fields import kind_of, shown

PROVIDER = "chatgpt"
PARTS_TYPES = ("text", "multimodal_text")
# Content written as one `text` field: code a reply ran, and quotes.
TEXT_TYPES = ("code",)
REASONING_TYPES = ("thoughts", "reasoning_recap")
IMAGE_PART = "image_asset_pointer"
PART_PLACEHOLDERS = {IMAGE_PART: "[image]", "audio_asset_pointer": "[audio]",
                     "real_time_user_audio_video_asset_pointer": "[video]"}
# How ChatGPT marked a reply the person stopped, or one that never finished.
REPLY_STATUSES = {"finished_partial_completion": "stopped", "in_progress": "interrupted"}
# metadata.finish_details.type of a reply the person stopped with the stop button.
STOPPED_FINISH = "interrupted"
TITLE_LENGTH = 200
# What a conversation leaves out, by kind. Other kinds are content types, as "type:<name>".
HIDDEN, TOOL, IMAGE, REASONING = "hidden", "tool", "image", "reasoning"
LEFT_OUT_KINDS = (HIDDEN, TOOL, IMAGE, REASONING)
OTHER_PREFIX = "type:"
# "Thought for 12s", "Thought for 1m 5s", "Thought for 12 seconds", "Réfléchi pendant 10s".
_DURATION = re.compile(r"(\d+(?:[.,]\d+)?)\s*(h|hours?|m|mins?|minutes?|s|secs?|seconds?)\b", re.IGNORECASE)
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}


def is_chatgpt_export(data: Any) -> bool:
    if isinstance(data, dict):
        return "mapping" in data
    return isinstance(data, list) and any(isinstance(item, dict) and "mapping" in item for item in data)


@dataclass(frozen=True)
class _Reasoning:
    """A reasoning node: its readable text (thoughts) and how long it took (a recap's, or a
    thoughts node's own finished_duration_sec)."""

    key: Hashable
    text: str
    seconds: float | None
    recap: bool


def _is_empty(content: ChatGPTContent) -> bool:
    """A message with nothing in it: ChatGPT's empty system messages and placeholders."""
    if content.content_type in TEXT_TYPES:
        return not (content.text or "").strip()
    if content.content_type in PARTS_TYPES:
        return not any(part.strip() if isinstance(part, str) else part is not None for part in content.parts or [])
    return False


def _text(content: ChatGPTContent, place: str, left_out: Counter) -> str:
    """The visible text of a text, multimodal or code message; what it leaves out is counted."""
    if content.content_type in TEXT_TYPES:
        if content.text is None:
            raise ImportProblem(
                f'{place}: "message.content.text" of a {content.content_type} message must be a string.'
            )
        return content.text
    if content.parts is None:
        raise ImportProblem(f'{place}: "message.content.parts" must be a list, not null.')
    pieces = []
    for part in content.parts:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, dict) and part.get("content_type") == "audio_transcription":
            pieces.append(part.get("text") or "")
        elif isinstance(part, dict):
            kind = part.get("content_type") or "attachment"
            left_out[IMAGE if kind == IMAGE_PART else OTHER_PREFIX + kind] += 1
            pieces.append(PART_PLACEHOLDERS.get(kind, "[attachment]"))
    return "\n\n".join(piece for piece in pieces if piece)


def recap_seconds(recap: str) -> float | None:
    """The seconds a recap like "Thought for 1m 5s" names, or None when it names none."""
    found = _DURATION.findall(recap)
    if not found:
        return None
    return float(sum(float(number.replace(",", ".")) * _UNIT_SECONDS[unit[0].lower()] for number, unit in found))


def _reasoning(key: Hashable, message: ChatGPTMessage, place: str) -> _Reasoning:
    content = message.content
    seconds = message.metadata.finished_duration_sec if message.metadata else None
    if content.content_type == "thoughts":
        if content.thoughts is None:
            raise ImportProblem(f'{place}: "message.content.thoughts" of a thoughts message must be a list, not null.')
        steps = []
        for thought in content.thoughts:
            summary, body = (thought.summary or "").strip(), (thought.content or "").strip()
            steps.append("\n\n".join(dict.fromkeys(piece for piece in (summary, body) if piece)))
        return _Reasoning(key, "\n\n".join(step for step in steps if step), seconds, recap=False)
    recap = content.content
    if recap is not None and not isinstance(recap, str):
        raise ImportProblem(
            f'{place}: "message.content.content" of a reasoning_recap message must be a string, not {kind_of(recap)}.'
        )
    if seconds is None and recap:
        seconds = recap_seconds(recap)
    return _Reasoning(key, "", seconds, recap=True)


def _left_out_kind(message: ChatGPTMessage) -> str | None:
    """Why a message that is not empty is left out, or None when it is a turn."""
    metadata = message.metadata
    if (metadata and metadata.is_visually_hidden_from_conversation) or message.author.role == "system":
        # ChatGPT never shows these: its own instructions, custom instructions, context it adds.
        return HIDDEN
    content_type = message.content.content_type
    if message.author.role == "tool":
        has_image = content_type == "multimodal_text" and any(
            isinstance(part, dict) and part.get("content_type") == IMAGE_PART for part in message.content.parts or []
        )
        return IMAGE if has_image else TOOL
    if content_type not in PARTS_TYPES + TEXT_TYPES:
        return OTHER_PREFIX + (content_type or "unknown")
    return None


def _turn_fields(
    message: ChatGPTMessage, place: str, fallback_time: datetime | None, default_model: str, left_out: Counter
) -> dict | None:
    """The Turn fields of a node's message, or None when it is not a visible turn (counted in
    `left_out` when it held anything)."""
    if _is_empty(message.content):
        return None
    kind = _left_out_kind(message)
    if kind is not None:
        left_out[kind] += 1
        return None
    text = _text(message.content, place, left_out)
    if not text.strip():
        return None
    limit = turn_char_limit()
    if len(text) > limit:
        raise ImportProblem(f"{place}: its text is {len(text):,} characters; a turn may hold at most {limit:,}.")
    if "\x00" in text:
        raise ImportProblem(f"{place}: its text contains a NUL character, which cannot be stored.")
    fields: dict[str, Any] = {
        "role": message.author.role,
        "content": text,
        "created_at": message.create_time or fallback_time,
    }
    if message.author.role == "assistant":
        metadata = message.metadata
        finish = metadata.finish_details.type if metadata and metadata.finish_details else None
        fields.update(
            provider=PROVIDER,
            model=(metadata and metadata.model_slug) or default_model,
            status="stopped" if finish == STOPPED_FINISH else REPLY_STATUSES.get(message.status or "", "complete"),
        )
    return fields


# Reasoning waiting for the reply it belongs to, down one branch: a linked list from the newest
# node up (branches share their common part, so a long chain of thoughts is not copied per node).
Pending: TypeAlias = "tuple[_Reasoning, Pending] | None"


def _take_reasoning(fields: dict, pending: Pending, place: str, used: set[Hashable]) -> None:
    """Give a reply the reasoning that came before it: the thoughts' text in order, and the
    seconds the recaps name (or, without a recap, the thoughts' own)."""
    steps: list[_Reasoning] = []
    while pending is not None:
        steps.append(pending[0])
        pending = pending[1]
    steps.reverse()
    used.update(step.key for step in steps)
    text = "\n\n".join(step.text for step in steps if step.text)
    limit = turn_char_limit()
    if len(text) > limit:
        raise ImportProblem(f"{place}: its reasoning is {len(text):,} characters; a turn may hold at most {limit:,}.")
    if "\x00" in text:
        raise ImportProblem(f"{place}: its reasoning contains a NUL character, which cannot be stored.")
    recaps = [step.seconds for step in steps if step.recap and step.seconds is not None]
    timed = recaps or [step.seconds for step in steps if step.seconds is not None]
    fields["reasoning"] = text
    fields["reasoning_seconds"] = float(sum(timed)) if timed else None


def _title(raw: str | None, turns: list[TurnPlan]) -> str:
    title = " ".join(raw.split()) if raw else ""
    if not title:
        first = next((t.fields["content"] for t in turns if t.fields["role"] == "user"), "")
        title = " ".join(first.split())
    title = title.replace("\x00", "")
    return title if len(title) <= TITLE_LENGTH else title[: TITLE_LENGTH - 1].rstrip() + "…"


def _conversation(conversation: ChatGPTConversation, raw: dict, index: int) -> ConversationPlan:
    place = chatgpt_place(index, raw)
    mapping = conversation.mapping
    created_at = conversation.create_time
    default_model = conversation.default_model_slug or ""

    def node_place(key: Hashable) -> str:
        return f"{place} node {key}"

    for key, node in mapping.items():
        if node.id is not None and node.id != key:
            raise ImportProblem(
                f'{node_place(key)} says its "id" is {shown(node.id, 60)}: a node\'s id must be its key.'
            )
    order = parents_first(mapping, lambda key: mapping[key].parent, node_place, noun="node")
    position: dict[Hashable, int] = {key: index for index, key in enumerate(order)}
    kept_ancestor: dict[str, str | None] = {}
    pending: dict[str, Pending] = {}
    used: set[Hashable] = set()
    reasonings: list[_Reasoning] = []
    left_out: Counter = Counter()
    kept: list[TurnPlan] = []
    for key in order:
        parent = mapping[key].parent
        above = kept_ancestor[parent] if parent is not None else None
        waiting = pending[parent] if parent is not None else None
        message = mapping[key].message
        kept_ancestor[key], pending[key] = above, waiting
        if message is None:  # the empty root
            continue
        if message.author.role == "assistant" and message.content.content_type in REASONING_TYPES:
            step = _reasoning(key, message, node_place(key))
            reasonings.append(step)
            pending[key] = (step, waiting)
            continue
        fields = _turn_fields(message, node_place(key), created_at, default_model, left_out)
        if fields is None:
            continue
        if fields["role"] == "assistant":
            _take_reasoning(fields, waiting, node_place(key), used)
        kept_ancestor[key], pending[key] = key, None
        kept.append(TurnPlan(key=key, parent=above, fields=fields))
    # Thoughts no reply came after (the person stopped it while it was thinking).
    left_out[REASONING] += sum(1 for step in reasonings if step.text and step.key not in used)
    current = conversation.current_node
    if current is not None and current not in mapping:
        raise ImportProblem(f'{place}: "current_node" {shown(current, 60)} is not a node of its mapping.')
    return ConversationPlan(
        title=_title(conversation.title, kept),
        created_at=created_at,
        updated_at=conversation.update_time or created_at,
        current_turn=kept_ancestor[current] if current is not None else None,
        main_turn=None,
        turns=_siblings_by_time(kept, position),
        left_out={kind: count for kind, count in left_out.items() if count},
        place=place,
    )


def _siblings_by_time(turns: list[TurnPlan], position: dict[Hashable, int]) -> list[TurnPlan]:
    """Parents first, siblings in the order they were written (create_time; file order when
    it is missing), so ids keep ChatGPT's version order."""
    children: dict[Hashable | None, list[TurnPlan]] = {}
    for turn in turns:
        children.setdefault(turn.parent, []).append(turn)

    def when(turn: TurnPlan) -> tuple:
        created = turn.fields["created_at"]
        return (created is None, created.timestamp() if created else 0.0, position[turn.key])

    ordered: list[TurnPlan] = []
    stack = sorted(children.get(None, []), key=when, reverse=True)
    while stack:
        turn = stack.pop()
        ordered.append(turn)
        stack.extend(sorted(children.get(turn.key, []), key=when, reverse=True))
    return ordered


def skipped_title(raw: Any) -> str:
    """A skipped conversation's title as the file gives it, for the summary."""
    title = raw.get("title") if isinstance(raw, dict) else None
    return _title(title, []) if isinstance(title, str) else ""


def _plan(raw: Any, index: int, problem: str | None) -> ConversationPlan:
    """One conversation checked and read, or ImportProblem naming its first problem."""
    if problem is not None:  # found while reading the file: a lone surrogate, a repeated key
        raise ImportProblem(problem)
    if isinstance(raw, dict) and isinstance(raw.get("mapping"), RepeatedKeys):
        raise ImportProblem(
            f'{chatgpt_place(index, raw)}: node {raw["mapping"].repeated[:80]} appears twice in its "mapping"; '
            "node ids must be unique."
        )
    return _conversation(chatgpt_conversation(raw, index), raw, index)


def conversation_plans(data: Any, problems: dict[int, str] | None = None) -> list[ConversationPlan | Skipped]:
    """Each conversation of a conversations.json (or the one conversation of a file that holds
    one) validated against the declared schema (schema.ChatGPTConversation) and read into a plan,
    or Skipped with the problem that keeps it out. `problems` are those the reader of the file
    already found, by the conversation's index. Raises ImportProblem only for the file as a whole:
    no conversations, or more turns than one import takes."""
    raws = [data] if isinstance(data, dict) else data
    if not raws:
        raise ImportProblem("The file holds an empty list: there are no conversations in it to import.")
    problems = problems or {}
    outcomes: list[ConversationPlan | Skipped] = []
    total = 0
    for index, raw in enumerate(raws):
        try:
            plan = _plan(raw, index, problems.get(index))
        except ImportProblem as problem:
            outcomes.append(Skipped(title=skipped_title(raw) or f"conversations[{index}]", problem=problem.message))
            continue
        total += len(plan.turns)
        check_turn_count(total)
        outcomes.append(plan)
    return outcomes
