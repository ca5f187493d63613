"""ChatGPT's data export (conversations.json): every branch of every conversation.

ChatGPT stores a conversation as a `mapping` of nodes linked by `parent`. An edited prompt or a
regenerated reply is a sibling node, exactly as in the Workbench, so every branch is kept, not only
the one ChatGPT shows. Nodes that are not a visible message (the empty root, hidden system
messages (and any message ChatGPT marks hidden), tool calls and results, reasoning, non-text
content) are left out, and their children hang from the nearest ancestor that is kept.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone as dt_timezone
from typing import Any, Hashable

from conversations.exchange import (
    ConversationPlan,
    ImportProblem,
    RepeatedKeys,
    TurnPlan,
    check_turn_count,
    has_nul,
    parents_first,
    turn_char_limit,
)

PROVIDER = "chatgpt"
KEPT_ROLES = ("user", "assistant", "system")
SKIPPED_ROLES = ("tool",)
PARTS_TYPES = ("text", "multimodal_text")
# Content written as one `text` field: code a reply ran, and quotes.
TEXT_TYPES = ("code",)
PART_PLACEHOLDERS = {"image_asset_pointer": "[image]", "audio_asset_pointer": "[audio]",
                     "real_time_user_audio_video_asset_pointer": "[video]"}
# How ChatGPT marked a reply the person stopped, or one that never finished.
REPLY_STATUSES = {"finished_partial_completion": "stopped", "in_progress": "interrupted"}
TITLE_LENGTH = 200


def is_chatgpt_export(data: Any) -> bool:
    if isinstance(data, dict):
        return "mapping" in data
    return isinstance(data, list) and bool(data) and isinstance(data[0], dict) and "mapping" in data[0]


def _moment(value: Any, place: str, name: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ImportProblem(f'{place}: "{name}" must be a Unix time in seconds or null, not {value!r:.40}.')
    try:
        return datetime.fromtimestamp(value, tz=dt_timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ImportProblem(f'{place}: "{name}" {value!r:.40} is not a usable date.') from None


def _text(content: Any, place: str) -> str | None:
    """The visible text of a message's content, or None when it has none to show."""
    if not isinstance(content, dict):
        raise ImportProblem(f'{place}: "message.content" must be an object.')
    content_type = content.get("content_type")
    if content_type in TEXT_TYPES:
        text = content.get("text")
        if not isinstance(text, str):
            raise ImportProblem(f'{place}: "content.text" of a {content_type} message must be a string.')
        return text
    if content_type not in PARTS_TYPES:
        return None
    parts = content.get("parts")
    if not isinstance(parts, list):
        raise ImportProblem(f'{place}: "content.parts" must be a list.')
    pieces = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, dict) and part.get("content_type") == "audio_transcription":
            pieces.append(str(part.get("text") or ""))
        elif isinstance(part, dict):
            pieces.append(PART_PLACEHOLDERS.get(part.get("content_type"), "[attachment]"))
        elif part is not None:
            raise ImportProblem(
                f'{place}: "content.parts" holds {part!r:.40}, which is neither text nor an attachment.'
            )
    return "\n\n".join(piece for piece in pieces if piece)


def _turn_fields(message: Any, place: str, fallback_time: datetime | None, default_model: str) -> dict | None:
    """The Turn fields of a node's message, or None when it is not a visible turn."""
    if message is None:
        return None
    if not isinstance(message, dict):
        raise ImportProblem(f'{place}: "message" must be an object or null.')
    author = message.get("author")
    role = author.get("role") if isinstance(author, dict) else None
    if role in SKIPPED_ROLES:
        return None
    if role not in KEPT_ROLES:
        raise ImportProblem(
            f"{place}: unknown author role {role!r:.40}; ChatGPT's roles are "
            f"{', '.join(KEPT_ROLES + SKIPPED_ROLES)}."
        )
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    text = _text(message.get("content"), place)
    if not text or not text.strip() or metadata.get("is_visually_hidden_from_conversation"):
        return None
    limit = turn_char_limit()
    if len(text) > limit:
        raise ImportProblem(f"{place}: its text is {len(text):,} characters; a turn may hold at most {limit:,}.")
    if "\x00" in text:
        raise ImportProblem(f"{place}: its text contains a NUL character, which cannot be stored.")
    fields: dict[str, Any] = {
        "role": role,
        "content": text,
        "created_at": _moment(message.get("create_time"), place, "create_time") or fallback_time,
    }
    if role == "assistant":
        model = metadata.get("model_slug") or default_model
        fields.update(
            provider=PROVIDER,
            model=model[:200] if isinstance(model, str) and not has_nul(model) else "",
            status=REPLY_STATUSES.get(message.get("status"), "complete"),
        )
    return fields


def _title(raw: Any, turns: list[TurnPlan]) -> str:
    title = " ".join(raw.split()) if isinstance(raw, str) else ""
    if not title:
        first = next((t.fields["content"] for t in turns if t.fields["role"] == "user"), "")
        title = " ".join(first.split())
    title = title.replace("\x00", "")
    return title if len(title) <= TITLE_LENGTH else title[: TITLE_LENGTH - 1].rstrip() + "…"


def _conversation(raw: Any, index: int) -> ConversationPlan:
    place = f"conversations[{index}]"
    if not isinstance(raw, dict):
        raise ImportProblem(f"{place} must be an object, not {type(raw).__name__}.")
    if isinstance(raw.get("title"), str):
        place = f'{place} ("{" ".join(raw["title"].split())[:60]}")'
    mapping = raw.get("mapping")
    if not isinstance(mapping, dict):
        raise ImportProblem(f'{place}: "mapping" must be an object of nodes.')
    if isinstance(mapping, RepeatedKeys):
        raise ImportProblem(
            f'{place}: node {mapping.repeated[:80]} appears twice in its "mapping"; node ids must be unique.'
        )
    created_at = _moment(raw.get("create_time"), place, "create_time")
    updated_at = _moment(raw.get("update_time"), place, "update_time")
    default_model = raw.get("default_model_slug") or ""

    def node_place(key: Hashable) -> str:
        return f"{place} node {key}"

    parents: dict[str, str | None] = {}
    for key, node in mapping.items():
        if not isinstance(node, dict):
            raise ImportProblem(f"{node_place(key)} must be an object.")
        if "id" in node and node["id"] != key:
            raise ImportProblem(f'{node_place(key)} says its "id" is {node["id"]!r:.60}: a node\'s id must be its key.')
        parent = node.get("parent")
        if parent is not None and not isinstance(parent, str):
            raise ImportProblem(f'{node_place(key)}: "parent" must be a node id (a string) or null.')
        parents[key] = parent
    order = parents_first(mapping, parents.__getitem__, node_place, noun="node")
    position = {key: index for index, key in enumerate(order)}
    kept_ancestor: dict[str, str | None] = {}
    kept: list[TurnPlan] = []
    for key in order:
        parent = parents[key]
        above = kept_ancestor[parent] if parent is not None else None
        fields = _turn_fields(mapping[key].get("message"), node_place(key), created_at, default_model)
        if fields is None:
            kept_ancestor[key] = above
            continue
        kept_ancestor[key] = key
        kept.append(TurnPlan(key=key, parent=above, fields=fields))
    current = raw.get("current_node")
    if current is not None and current not in mapping:
        raise ImportProblem(f'{place}: "current_node" {current!r:.60} is not a node of its mapping.')
    return ConversationPlan(
        title=_title(raw.get("title"), kept),
        created_at=created_at,
        updated_at=updated_at or created_at,
        current_turn=kept_ancestor[current] if current is not None else None,
        main_turn=None,
        turns=_siblings_by_time(kept, position),
    )


def _siblings_by_time(turns: list[TurnPlan], position: dict[str, int]) -> list[TurnPlan]:
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


def conversation_plans(data: Any) -> list[ConversationPlan]:
    """Validate a whole conversations.json (or one conversation of it) into plans."""
    raws = [data] if isinstance(data, dict) else data
    if not raws:
        raise ImportProblem("The file holds an empty list: there are no conversations in it to import.")
    plans = []
    total = 0
    for index, raw in enumerate(raws):
        plan = _conversation(raw, index)
        total += len(plan.turns)
        check_turn_count(total)
        plans.append(plan)
    return plans

