"""What the page and the websockets say about a turn: one JSON shape everywhere, built here.

`turn_payload` is a turn as the page reads it (the conversation page's data, `turn.created`,
branch and tree JSON); the field lists below say which of those fields each other message carries:
`turn.finished` (what a reply's end changes) and everything a share link's reader is told.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from conversations.models import Turn

# What a reply's end changes: the `turn.finished` frame (`finish_reason` is the provider's, kept
# only in the frame).
FINISHED_FIELDS = ("id", "status", "error", "length", "token_counts", "input_tokens", "output_tokens",
                   "usage_estimated", "cost", "finish_reason", "first_token_at", "finished_at")
# What a share link's reader is told about a turn: no settings, usage, cost or context.
READER_FIELDS = ("id", "parent", "role", "content", "status", "provider", "model", "error",
                 "created_at", "first_token_at", "finished_at", "length")
READER_FINISHED_FIELDS = tuple(name for name in FINISHED_FIELDS if name in READER_FIELDS)


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


def reader_turn(turn: Turn) -> dict:
    """A turn as a share link's reader knows it, as a snapshot stores it: the reader's fields but
    `length`. Reads only the reader's columns: the rest may be deferred."""
    return {
        name: jsonable(getattr(turn, "parent_id" if name == "parent" else name))
        for name in READER_FIELDS if name != "length"
    }


def reader_payload(turn: Mapping[str, Any]) -> dict:
    """What a share link says about one turn: its `reader_turn` (live, or stored in a snapshot)
    with `length`."""
    return {**turn, "length": utf16_length(turn["content"])}


def compact(data: dict) -> dict:
    """A turn as a websocket frame carries it: without its empty values (null, "", {} and []), which
    the page reads as empty (static/js/turns.js: withTurnDefaults). `parent` always stays (null
    is a root), and so do zero and false."""
    return {
        key: value for key, value in data.items()
        if key == "parent" or not (value is None or value in ("", {}, []))
    }


def delta_frame(turn_id: int, offset: int, text: str) -> dict:
    """`delta`: text of a reply from `offset` (UTF-16 units) on."""
    return {"type": "delta", "turn": turn_id, "offset": offset, "text": text}


def stream_delta(turn_id: int, offset: int, text: str) -> dict:
    """The channel-layer message a generation sends its group: a `delta` for every socket on it."""
    return {"type": "stream.delta", "turn": turn_id, "offset": offset, "text": text}


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
        "created_at": jsonable(turn.created_at),
        "first_token_at": jsonable(turn.first_token_at),
        "finished_at": jsonable(turn.finished_at),
        "length": utf16_length(turn.content),
    }
    if content:
        data["content"] = turn.content
    if siblings is not None:
        data["siblings"] = siblings
    if forks:
        data["forks"] = forks
    return data
