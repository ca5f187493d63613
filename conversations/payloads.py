"""What the page and the websocket say about a turn: the same JSON shape everywhere."""
from __future__ import annotations

from conversations.models import Turn


def iso(value) -> str | None:
    return value.isoformat() if value else None


def utf16_length(text: str) -> int:
    """Length as the browser counts it (UTF-16 code units): the unit of every stream offset."""
    return len(text.encode("utf-16-le")) // 2


def utf16_tail(text: str, offset: int) -> str:
    """The text after the first `offset` UTF-16 code units."""
    return text.encode("utf-16-le")[offset * 2 :].decode("utf-16-le", errors="ignore")


def compact(data: dict) -> dict:
    """A turn as a websocket frame carries it: without its empty values (null, "", {} and []), which
    the page reads as empty (static/js/turns.js: withTurnDefaults). `parent` always stays (null
    is a root), and so do zero and false."""
    return {
        key: value for key, value in data.items()
        if key == "parent" or not (value is None or value in ("", {}, []))
    }


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
        "cost": None if turn.cost is None else float(turn.cost),
        "context": turn.context,
        "error": turn.error,
        "created_at": iso(turn.created_at),
        "first_token_at": iso(turn.first_token_at),
        "finished_at": iso(turn.finished_at),
        "length": utf16_length(turn.content),
    }
    if content:
        data["content"] = turn.content
    if siblings is not None:
        data["siblings"] = siblings
    if forks:
        data["forks"] = forks
    return data
