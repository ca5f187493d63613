"""The Workbench export: a whole conversation tree as JSON, lossless.

Export writes every field of every turn; import reads one back into a plan that recreates the same
tree. Only database ids change (remapped, including context["omitted"] and the current and main
turns), and the author: see `conversation_plan`.
"""
from __future__ import annotations

from datetime import datetime, timezone as dt_timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Hashable

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from conversations.exchange import (
    ROLES,
    STATUSES,
    ConversationPlan,
    ImportProblem,
    RepeatedKeys,
    TurnPlan,
    check_turn_count,
    describe_id,
    has_nul,
    parents_first,
    turn_char_limit,
)
from conversations.models import Conversation, Turn

FORMAT = "workbench.conversation"
VERSION = 1
TEXT_FIELDS = {"provider": 64, "model": 200, "response_id": 200, "error": None}
TIME_FIELDS = ("first_token_at", "finished_at")
# The largest value a PositiveIntegerField holds on every supported database.
MAX_TOKENS = 2_147_483_647
COST_DIGITS, COST_PLACES = 16, 10
COST_STEP = Decimal(1).scaleb(-COST_PLACES)
COPIED_FIELDS = ("role", "content", "status", "provider", "model", "settings", "token_counts",
                 "input_tokens", "output_tokens", "usage_estimated")
EXPORTED_FIELDS = (
    "id", "parent_id", "role", "content", "status", "provider", "model", "settings", "token_counts",
    "input_tokens", "output_tokens", "usage_estimated", "cost", "context", "response_id", "error",
    "author__username", "created_at", "first_token_at", "finished_at",
)


def _iso(value: datetime | None) -> str | None:
    # Full microseconds: DjangoJSONEncoder would cut them to milliseconds.
    return value.isoformat() if value is not None else None


def conversation_export(*, conversation: Conversation) -> dict:
    """Every turn of the conversation, parents before children, in one query."""
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
        },
        "turns": turns,
    }


# --- import ------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false",
            type(None): "null"}.get(type(value), "a number")


def _datetime(value: Any, place: str, name: str) -> datetime | None:
    if value is None:
        return None
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
    if parsed is not None:
        if timezone.is_naive(parsed):
            parsed = parsed.replace(tzinfo=dt_timezone.utc)
        try:
            return parsed.astimezone(dt_timezone.utc)  # as it is stored; years 1 to 9999 only
        except OverflowError:
            pass
    raise ImportProblem(
        f'{place}: "{name}" must be a date and time like "2024-05-01T12:30:00.123456+00:00" '
        f"or null, not {value!r:.60}."
    )


def _key(value: Any, place: str, name: str) -> Hashable:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise ImportProblem(f'{place}: "{name}" must be a turn id (a number or a string), not {_kind(value)}.')
    return value


def _object(value: Any, place: str, name: str) -> dict:
    if not isinstance(value, dict):
        raise ImportProblem(f'{place}: "{name}" must be an object, not {_kind(value)}.')
    if has_nul(value):
        raise ImportProblem(f'{place}: "{name}" contains a NUL character, which cannot be stored.')
    return value


def _count(value: Any, place: str, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
        raise ImportProblem(
            f'{place}: "{name}" must be a whole number from 0 to {MAX_TOKENS:,} or null, not {value!r:.40}.'
        )
    return value


def _cost(value: Any, place: str) -> Decimal | None:
    if value is None:
        return None
    problem = f'{place}: "cost" must be a decimal number written as a string, like "0.0012", or null'
    if not isinstance(value, str):
        raise ImportProblem(f"{problem}, not {_kind(value)}.")
    try:
        cost = Decimal(value)
    except InvalidOperation:
        raise ImportProblem(f"{problem}, not {value!r:.40}.") from None
    whole = 10 ** (COST_DIGITS - COST_PLACES)
    if not cost.is_finite() or not 0 <= cost < whole or cost != cost.quantize(COST_STEP):
        raise ImportProblem(
            f"{problem}: {value!r:.40} is not an amount from 0 to under {whole:,} "
            f"with at most {COST_PLACES} decimal places."
        )
    return cost


def _turn(raw: Any, index: int, keys: set[Hashable]) -> TurnPlan:
    place = f"turns[{index}]"
    if not isinstance(raw, dict):
        raise ImportProblem(f"{place} must be an object, not {_kind(raw)}.")
    if "id" not in raw:
        raise ImportProblem(f'{place} has no "id".')
    key = _key(raw["id"], place, "id")
    place = f"{place} (id {describe_id(key)})"
    if isinstance(raw, RepeatedKeys):
        raise ImportProblem(f'{place} has the key "{raw.repeated[:80]}" twice.')
    if key in keys:
        raise ImportProblem(f"{place}: another turn earlier in the file has the same id {describe_id(key)}.")
    keys.add(key)
    parent = raw.get("parent")
    if parent is not None:
        parent = _key(parent, place, "parent")
    role = raw.get("role")
    if role not in ROLES:
        raise ImportProblem(f"{place}: unknown role {role!r:.40}; a turn's role is one of {', '.join(ROLES)}.")
    status = raw.get("status", "complete")
    if status not in STATUSES:
        raise ImportProblem(f"{place}: unknown status {status!r:.40}; a turn's status is one of {', '.join(STATUSES)}.")
    if status != "complete" and role != "assistant":
        raise ImportProblem(f'{place}: a {role} turn cannot be "{status}"; only replies (role assistant) can.')
    content = raw.get("content")
    if not isinstance(content, str):
        raise ImportProblem(f'{place}: "content" must be a string, not {_kind(content)}.')
    limit = turn_char_limit()
    if len(content) > limit:
        raise ImportProblem(f"{place}: its content is {len(content):,} characters; a turn may hold at most {limit:,}.")
    fields: dict[str, Any] = {"role": role, "content": content,
                              # Nothing generates it any more: it stopped where the export caught it.
                              "status": "interrupted" if status == "streaming" else status}
    for name, max_length in TEXT_FIELDS.items():
        value = raw.get(name, "")
        if not isinstance(value, str):
            raise ImportProblem(f'{place}: "{name}" must be a string, not {_kind(value)}.')
        if max_length and len(value) > max_length:
            raise ImportProblem(f'{place}: "{name}" is {len(value)} characters long; at most {max_length} fit.')
        fields[name] = value
    if "\x00" in content or any("\x00" in fields[name] for name in TEXT_FIELDS):
        raise ImportProblem(f"{place} contains a NUL character, which cannot be stored.")
    fields["settings"] = _object(raw.get("settings", {}), place, "settings")
    fields["context"] = dict(_object(raw.get("context", {}), place, "context"))
    token_counts = _object(raw.get("token_counts", {}), place, "token_counts")
    for name, value in token_counts.items():
        _count(value, place, f"token_counts.{name}")
    fields["input_tokens"] = _count(raw.get("input_tokens"), place, "input_tokens")
    fields["output_tokens"] = _count(raw.get("output_tokens"), place, "output_tokens")
    usage_estimated = raw.get("usage_estimated", False)
    if not isinstance(usage_estimated, bool):
        raise ImportProblem(f'{place}: "usage_estimated" must be true or false, not {_kind(usage_estimated)}.')
    fields["usage_estimated"] = usage_estimated
    fields["cost"] = _cost(raw.get("cost"), place)
    fields["created_at"] = _datetime(raw.get("created_at"), place, "created_at")
    for name in TIME_FIELDS:
        fields[name] = _datetime(raw.get(name), place, name)
    return TurnPlan(key=key, parent=parent, fields=fields)


def _omitted(plan: TurnPlan, place: str, keys: set[Hashable]) -> None:
    omitted = plan.fields["context"].get("omitted")
    if omitted is None:
        return
    if not isinstance(omitted, list):
        raise ImportProblem(f'{place}: "context.omitted" must be a list of turn ids, not {_kind(omitted)}.')
    for value in omitted:
        key = _key(value, place, "context.omitted")
        if key not in keys:
            raise ImportProblem(f'{place}: "context.omitted" names turn {describe_id(key)}, which is not in the file.')


def conversation_plan(data: dict) -> ConversationPlan:
    """Validate a Workbench export completely and return what to create.

    The author of every turn becomes the person importing: the file's "author" names are ignored,
    because a file anyone can edit must not be able to attribute words to another account. Token
    counts are checked here but counted afresh from the content on import, so they always match it
    (a reply exported mid-stream has none yet).
    """
    version = data.get("version")
    if version != VERSION:
        raise ImportProblem(
            f'This Workbench export has "version": {version!r:.20}; this workbench reads version {VERSION}.'
        )
    meta = data.get("conversation")
    if not isinstance(meta, dict):
        raise ImportProblem(f'"conversation" must be an object, not {_kind(meta)}.')
    title = meta.get("title", "")
    if not isinstance(title, str) or len(title) > 200 or "\x00" in title:
        raise ImportProblem('conversation: "title" must be a string of at most 200 characters.')
    raw_turns = data.get("turns")
    if not isinstance(raw_turns, list):
        raise ImportProblem(f'"turns" must be a list, not {_kind(raw_turns)}.')
    check_turn_count(len(raw_turns))
    keys: set[Hashable] = set()
    plans = [_turn(raw, index, keys) for index, raw in enumerate(raw_turns)]
    by_key = {plan.key: plan for plan in plans}
    index_of = {plan.key: index for index, plan in enumerate(plans)}

    def place_of(key: Hashable) -> str:
        return f"turns[{index_of[key]}] (id {describe_id(key)})"

    order = parents_first(by_key, lambda key: by_key[key].parent, place_of)
    for plan in plans:
        _omitted(plan, place_of(plan.key), keys)
    ends = {}
    for name in ("current_turn", "main_turn"):
        value = meta.get(name)
        if value is not None and _key(value, "conversation", name) not in keys:
            raise ImportProblem(f'conversation: "{name}" is turn {describe_id(value)}, which is not in the file.')
        ends[name] = value
    return ConversationPlan(
        title=title,
        created_at=_datetime(meta.get("created_at"), "conversation", "created_at"),
        updated_at=_datetime(meta.get("updated_at"), "conversation", "updated_at"),
        turns=[by_key[key] for key in order],
        **ends,
    )
