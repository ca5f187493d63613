"""What the page and the websockets say about a turn: one JSON shape everywhere, built here.

`turn_payload` is a turn as the page reads it (the conversation page's data, `turn.created`,
branch and tree JSON); the field lists below say which of those fields each other message carries:
`turn.finished` (what a reply's end changes) and everything a share link's reader is told.
Review's frames (`review.*`, `inbox.count`) are built by conversations/review/frames.py, imported
here so that this module names every frame the sockets send.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from conversations.context import files_tokens
from conversations.models import Turn
from conversations.review.frames import (  # noqa: F401  (review's frames, built in their feature)
    comment_frame,
    inbox_frame,
    preference_frame,
    verdicts_frame,
)

# What a reply's end changes: the `turn.finished` frame (`finish_reason` is the provider's, kept
# only in the frame).
FINISHED_FIELDS = ("id", "status", "error", "length", "token_counts", "input_tokens", "output_tokens",
                   "usage_estimated", "cost", "finish_reason", "first_token_at", "finished_at",
                   "refused", "reasoning_length", "reasoning_tokens", "reasoning_seconds", "reasoning_redacted")
# What a share link's reader is told about a turn: no settings, usage, cost or context.
READER_FIELDS = ("id", "parent", "role", "content", "status", "provider", "model", "error", "refused",
                 "created_at", "first_token_at", "finished_at", "length", "attachments")
# ...and of its reasoning, when the link's maker chose to include it.
READER_REASONING_FIELDS = ("reasoning", "reasoning_seconds", "reasoning_redacted", "reasoning_length")
# The columns these are read from ("length"s are counted; "reasoning_redacted" is in the blocks).
_COLUMNS = {"parent": "parent_id", "reasoning_redacted": "reasoning_blocks"}


def reader_fields(*, reasoning: bool) -> tuple[str, ...]:
    """What a link's reader is told about a turn."""
    return READER_FIELDS + READER_REASONING_FIELDS if reasoning else READER_FIELDS


def reader_finished_fields(*, reasoning: bool) -> tuple[str, ...]:
    """What a link's reader is told when a reply ends."""
    shown = reader_fields(reasoning=reasoning)
    return tuple(name for name in FINISHED_FIELDS if name in shown)


def reader_columns(*, reasoning: bool) -> tuple[str, ...]:
    """The Turn columns a reader's fields are read from."""
    return tuple(dict.fromkeys(
        _COLUMNS.get(name, name) for name in reader_fields(reasoning=reasoning) if not name.endswith("length")
    ))


def reasoning_redacted(blocks: Any) -> bool:
    """Whether the provider withheld part of the reasoning (it sent it encrypted)."""
    return any(isinstance(block, dict) and block.get("type") == "redacted_thinking" for block in blocks or ())


def iso(value) -> str | None:
    return value.isoformat() if value else None


def utf16_length(text: str) -> int:
    """Length as the browser counts it (UTF-16 code units): the unit of every stream offset."""
    return len(text.encode("utf-16-le")) // 2


def utf16_tail(text: str, offset: int) -> str:
    """The text after the first `offset` UTF-16 code units."""
    return text.encode("utf-16-le")[offset * 2 :].decode("utf-16-le", errors="ignore")


def jsonable(value: Any) -> Any:
    """A field's value as JSON carries it: times in ISO 8601, prices as numbers."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def only(data: Mapping[str, Any], fields: tuple[str, ...]) -> dict:
    """The `fields` of a payload that it has, in the order of `fields`."""
    return {name: data[name] for name in fields if name in data}


def finished_payload(**values: Any) -> dict:
    """The turn of a `turn.finished` frame, from the values a reply ended with."""
    return compact({name: jsonable(values[name]) for name in FINISHED_FIELDS if name in values})


def reader_turn(turn: Turn, *, reasoning: bool = False) -> dict:
    """A turn as a share link's reader knows it, as a snapshot stores it: the reader's fields but
    the lengths. Reads only the reader's columns (`reader_columns`): the rest may be deferred."""
    data = {}
    for name in reader_fields(reasoning=reasoning):
        if name.endswith("length"):
            continue
        if name == "reasoning_redacted":
            data[name] = reasoning_redacted(turn.reasoning_blocks)
        else:
            data[name] = jsonable(getattr(turn, _COLUMNS.get(name, name)))
    return data


def reader_payload(turn: Mapping[str, Any]) -> dict:
    """What a share link says about one turn: its `reader_turn` (live, or stored in a snapshot)
    with its lengths."""
    data = {**turn, "length": utf16_length(turn["content"])}
    if "reasoning" in turn:
        data["reasoning_length"] = utf16_length(turn["reasoning"])
    return data


def compact(data: dict) -> dict:
    """A turn as a websocket frame carries it: without its empty values (null, "", {} and []), which
    the page reads as empty (static/js/turns.js: withTurnDefaults). `parent` always stays (null
    is a root), and so do zero and false."""
    return {
        key: value for key, value in data.items()
        if key == "parent" or not (value is None or value in ("", {}, []))
    }


def delta_frame(turn_id: int, offset: int, text: str, *, refused: bool = False) -> dict:
    """`delta`: text of a reply from `offset` (UTF-16 units) on; `refused` while it is a refusal."""
    frame = {"type": "delta", "turn": turn_id, "offset": offset, "text": text}
    if refused:
        frame["refused"] = True
    return frame


def stream_delta(turn_id: int, offset: int, text: str, *, refused: bool = False) -> dict:
    """The channel-layer message a generation sends its group: a `delta` for every socket on it."""
    message = {"type": "stream.delta", "turn": turn_id, "offset": offset, "text": text}
    if refused:
        message["refused"] = True
    return message


def reasoning_frame(turn_id: int, offset: int, text: str) -> dict:
    """`reasoning`: the reply's reasoning from `offset` (UTF-16 units of the reasoning) on."""
    return {"type": "reasoning", "turn": turn_id, "offset": offset, "text": text}


def stream_reasoning(turn_id: int, offset: int, text: str) -> dict:
    """The channel-layer message of a `reasoning` frame for every socket on the conversation."""
    return {"type": "stream.reasoning", "turn": turn_id, "offset": offset, "text": text}


def frame_of(message: dict) -> dict:
    """The frame a socket sends for a generation's `stream.delta` or `stream.reasoning` message."""
    if message["type"] == "stream.reasoning":
        return reasoning_frame(message["turn"], message["offset"], message["text"])
    return delta_frame(message["turn"], message["offset"], message["text"], refused=message.get("refused", False))


def finished_frame(turn: dict) -> dict:
    """`turn.finished`: a `finished_payload` (or, for a reply read back, a whole turn payload)."""
    return {"type": "turn.finished", "turn": turn}


def created_frame(turn: Turn, *, request_id: str = "", title: str = "") -> dict:
    """The `turn.created` frame: the turn without its empty fields, and of its context only which
    turns were left out (the rest is in the reply's request, fetched on demand); `request_id` and
    `title` when they are set."""
    data = compact(turn_payload(turn))
    omitted = turn.context.get("omitted") if isinstance(turn.context, dict) else None
    data.pop("context", None)
    if omitted:
        data["context"] = {"omitted": omitted}
    return compact({"type": "turn.created", "turn": data, "request_id": request_id, "title": title})


def turn_payload(
    turn: Turn, *, siblings: list[int] | None = None, forks: list[dict] | None = None, content: bool = True
) -> dict:
    data = {
        "id": turn.id,
        "parent": turn.parent_id,
        "role": turn.role,
        "status": turn.status,
        "provider": turn.provider,
        "model": turn.model,
        "settings": turn.settings,
        "token_counts": turn.token_counts,
        "input_tokens": turn.input_tokens,
        "output_tokens": turn.output_tokens,
        "usage_estimated": turn.usage_estimated,
        "cost": jsonable(turn.cost),
        "context": turn.context,
        "error": turn.error,
        "refused": turn.refused,
        "attachments": turn.attachments,
        "reasoning_length": utf16_length(turn.reasoning),
        "reasoning_tokens": turn.reasoning_tokens,
        "reasoning_seconds": turn.reasoning_seconds,
        "reasoning_redacted": reasoning_redacted(turn.reasoning_blocks),
        "created_at": jsonable(turn.created_at),
        "first_token_at": jsonable(turn.first_token_at),
        "finished_at": jsonable(turn.finished_at),
        "length": utf16_length(turn.content),
    }
    if any(d.get("kind") != "image" for d in turn.attachments or ()):
        # What its text files add, in each encoding, so that the page's meter needs no tokenizer.
        data["files_tokens"] = files_tokens(turn.attachments)
    if content:
        data["content"] = turn.content
        data["reasoning"] = turn.reasoning
    if siblings is not None:
        data["siblings"] = siblings
    if forks:
        data["forks"] = forks
    return data
