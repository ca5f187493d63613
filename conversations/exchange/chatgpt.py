"""ChatGPT's data export (conversations.json): every branch of every conversation.

ChatGPT stores a conversation as a `mapping` of nodes linked by `parent`. An edited prompt or a
regenerated reply is a sibling node, exactly as in the Workbench, so every branch is kept, not only
the one ChatGPT shows. Nodes that are not a visible message (the empty root, hidden system
messages (and any message ChatGPT marks hidden), tool calls and results, reasoning, non-text
content) are left out, and their children hang from the nearest ancestor that is kept.
"""
from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import Any

from conversations.exchange import (
    ConversationPlan,
    ImportProblem,
    RepeatedKeys,
    TurnPlan,
    check_turn_count,
    parents_first,
    turn_char_limit,
)
from conversations.exchange.schema import (
    ChatGPTContent,
    ChatGPTConversation,
    ChatGPTMessage,
    chatgpt_file,
    chatgpt_place,
)
from conversations.fields import shown

PROVIDER = "chatgpt"
SKIPPED_ROLES = ("tool",)  # the others (schema.CHATGPT_ROLES) are kept
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


def _text(content: ChatGPTContent, place: str) -> str | None:
    """The visible text of a message's content, or None when it has none to show."""
    if content.content_type in TEXT_TYPES:
        if content.text is None:
            raise ImportProblem(
                f'{place}: "message.content.text" of a {content.content_type} message must be a string.'
            )
        return content.text
    if content.content_type not in PARTS_TYPES:
        return None
    if content.parts is None:
        raise ImportProblem(f'{place}: "message.content.parts" must be a list, not null.')
    pieces = []
    for part in content.parts:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, dict) and part.get("content_type") == "audio_transcription":
            pieces.append(part.get("text") or "")
        elif isinstance(part, dict):
            pieces.append(PART_PLACEHOLDERS.get(part.get("content_type") or "", "[attachment]"))
    return "\n\n".join(piece for piece in pieces if piece)


def _turn_fields(
    message: ChatGPTMessage | None, place: str, fallback_time: datetime | None, default_model: str
) -> dict | None:
    """The Turn fields of a node's message, or None when it is not a visible turn."""
    if message is None or message.author.role in SKIPPED_ROLES:
        return None
    metadata = message.metadata
    text = _text(message.content, place)
    if not text or not text.strip() or (metadata and metadata.is_visually_hidden_from_conversation):
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
        fields.update(
            provider=PROVIDER,
            model=(metadata and metadata.model_slug) or default_model,
            status=REPLY_STATUSES.get(message.status or "", "complete"),
        )
    return fields


def _title(raw: str | None, turns: list[TurnPlan]) -> str:
    title = " ".join(raw.split()) if raw else ""
    if not title:
        first = next((t.fields["content"] for t in turns if t.fields["role"] == "user"), "")
        title = " ".join(first.split())
    title = title.replace("\x00", "")
    return title if len(title) <= TITLE_LENGTH else title[: TITLE_LENGTH - 1].rstrip() + "…"


def _conversation(conversation: ChatGPTConversation, raw: dict, index: int) -> ConversationPlan:
    place = chatgpt_place(index, raw)
    if isinstance(raw["mapping"], RepeatedKeys):
        raise ImportProblem(
            f'{place}: node {raw["mapping"].repeated[:80]} appears twice in its "mapping"; node ids must be unique.'
        )
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
    kept: list[TurnPlan] = []
    for key in order:
        parent = mapping[key].parent
        above = kept_ancestor[parent] if parent is not None else None
        fields = _turn_fields(mapping[key].message, node_place(key), created_at, default_model)
        if fields is None:
            kept_ancestor[key] = above
            continue
        kept_ancestor[key] = key
        kept.append(TurnPlan(key=key, parent=above, fields=fields))
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


def conversation_plans(data: Any) -> list[ConversationPlan]:
    """Validate a whole conversations.json (or one conversation of it) into plans: every field the
    workbench reads against the declared schema (schema.ChatGPTConversation), then each tree."""
    raws = [data] if isinstance(data, dict) else data
    if not raws:
        raise ImportProblem("The file holds an empty list: there are no conversations in it to import.")
    conversations = chatgpt_file(raws)
    plans = []
    total = 0
    for index, (raw, conversation) in enumerate(zip(raws, conversations, strict=True)):
        plan = _conversation(conversation, raw, index)
        total += len(plan.turns)
        check_turn_count(total)
        plans.append(plan)
    return plans

