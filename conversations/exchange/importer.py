"""Import: read a file, validate all of it, then write it in one transaction.

Everything that can be wrong with a file is found before the first write (see the parsers), and
the write is one transaction, so a file is imported whole or not at all, however many
conversations it holds.
"""
from __future__ import annotations

import json
import re
import sys
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from conversations.exchange import (
    ConversationPlan,
    ImportProblem,
    RepeatedKeys,
    TurnPlan,
    chatgpt,
    check_size,
    workbench_json,
)
from conversations.fields import field_path, shown
from conversations.lineage import lineage
from conversations.models import Conversation, Turn
from conversations.tokens import count_all
from conversations.workspaces.services import personal_workspace

BATCH_SIZE = 500
ZIP_MAGIC = b"PK\x03\x04"
# Far deeper than any export (a Workbench file is 4 levels deep, ChatGPT's about 10), and far from
# the depth at which reading, storing or printing a value would exhaust Python's stack.
MAX_DEPTH = 100
# How a lone surrogate gets into a parsed file: a \ud800-\udfff escape without its other half.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def _reject_constant(name: str) -> Any:
    raise ImportProblem(f"The file is not valid JSON: it contains {name}, which JSON does not allow.")


def parse_json(data: bytes) -> tuple[Any, str | None]:
    """The file's JSON and the first key any object of it repeats, or an ImportProblem saying why
    it is not readable JSON and where."""
    if not data.strip():
        raise ImportProblem("The file is empty.")
    if data.startswith(ZIP_MAGIC):
        raise ImportProblem(
            "The file is a ZIP archive. Unzip ChatGPT's export and upload the conversations.json inside it."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise ImportProblem(
            f"The file is not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, byte {column} of "
            "the line, cannot be decoded. Save or export it as UTF-8 JSON."
        ) from None
    repeated: list[str] = []

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        seen: set[str] = set()
        for key, _ in pairs:  # the first key that comes twice
            if key in seen:
                break
            seen.add(key)
        repeated.append(key)
        return RepeatedKeys(obj, repeated=key)

    try:
        value = json.loads(text, object_pairs_hook=unique_keys, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ImportProblem(
            f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    except RecursionError:
        raise _too_deep(text) from None
    except ValueError:  # an integer over sys.get_int_max_str_digits() digits
        raise ImportProblem(
            f"The file is not usable JSON: it holds a whole number longer than {sys.get_int_max_str_digits():,} "
            "digits. No export holds one: the file is damaged."
        ) from None
    _check_shape(value, text)
    return value, (repeated[0] if repeated else None)


def _too_deep(text: str) -> ImportProblem:
    """The problem of a file nested deeper than MAX_DEPTH, with the line and column where it goes
    deeper: read bracket by bracket, without building anything."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        bracket = match.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                start = match.start()
                line = text.count("\n", 0, start) + 1
                where = f" at line {line:,}, column {start - text.rfind(chr(10), 0, start):,}"
                break
        elif bracket in "]}":
            depth -= 1
    else:
        where = ""
    return ImportProblem(
        f"The file is not usable JSON: it is nested more than {MAX_DEPTH} levels deep{where}. No export "
        "is nested more than a few levels: the file is damaged or is not an export."
    )


def _json_place(path: tuple | None) -> str:
    """A path built by _check_shape as conversations[0].mapping.node-1.message, or turns[3].content."""
    parts: list[int | str] = []
    while path is not None:
        path, part = path
        parts.append(part)
    parts.reverse()
    # A list at the top is ChatGPT's list of conversations.
    return ("conversations" if parts and isinstance(parts[0], int) else "") + field_path(tuple(parts))


def _check_shape(value: Any, text: str) -> None:
    """Refuse what JSON allows but nothing can store: nesting deeper than MAX_DEPTH, and a lone
    UTF-16 surrogate (no UTF-8 encoder, hence no database, takes one: it would fail mid-write).
    Iterative, so no depth exhausts the stack; strings are only looked at when the text has a
    surrogate escape at all."""
    strings = _SURROGATE_ESCAPE.search(text) is not None
    stack: list[tuple[Any, int, tuple | None]] = [(value, 0, None)]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise _too_deep(text)
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if strings and isinstance(key, str) and _SURROGATE.search(key):
                    _lone_surrogate(key, path, f" in the key {shown(key, 60)}")
                if strings or isinstance(child, (dict, list)):
                    stack.append((child, depth + 1, (path, key)))
        elif isinstance(item, str) and _SURROGATE.search(item):
            _lone_surrogate(item, path, "")


def _lone_surrogate(text: str, path: tuple | None, what: str) -> None:
    found = _SURROGATE.search(text)
    assert found is not None
    place = _json_place(path) or "The file"
    raise ImportProblem(
        f"{place}: the text{what} holds a lone UTF-16 surrogate ({found.group().encode('unicode_escape').decode()}), "
        "half of a character whose other half is missing, so it cannot be stored. The program that wrote the "
        "file cut a character in two: fix or remove it."
    )


def plans_for(data: Any) -> list[ConversationPlan]:
    """Detect the format and validate the whole file into plans. Pure: no database."""
    if isinstance(data, dict) and "format" in data:
        if data["format"] != workbench_json.FORMAT:
            raise ImportProblem(
                f'The file says its format is {data["format"]!r:.60}; this workbench imports '
                f'"{workbench_json.FORMAT}" files and ChatGPT\'s conversations.json.'
            )
        return [workbench_json.conversation_plan(data)]
    if data == []:
        raise ImportProblem("The file holds an empty list: there are no conversations in it to import.")
    if chatgpt.is_chatgpt_export(data):
        return chatgpt.conversation_plans(data)
    raise ImportProblem(
        "The file is JSON but not a format this workbench knows. It takes a Workbench export (an object "
        f'with "format": "{workbench_json.FORMAT}") or ChatGPT\'s conversations.json (a list of '
        'conversations, each with a "mapping" of messages).'
    )


def _update_rows(model, names: list[str], rows: list[tuple]) -> None:
    """UPDATE model SET <names> WHERE id = … for many rows, as one executemany.

    Django's bulk_update builds a CASE expression per row and field: seconds for 10,000 turns.
    Values go through each field's own database preparation, so times and JSON are stored exactly
    as the ORM would store them, on SQLite and PostgreSQL alike.
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in names]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(model._meta.pk.column)} = %s"
    params = [
        [field.get_db_prep_save(value, connection) for field, value in zip(fields, row[:-1], strict=True)] + [row[-1]]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _write(*, owner, plans: list[ConversationPlan]) -> list[Conversation]:
    """Create the planned conversations and turns: a few bulk statements, whatever the depth.

    Turns are inserted in plan order (parents first, so parents get the lower ids and siblings keep
    their order), then their parents, creation times and context ids are set by id: a chain of
    10,000 turns must not take 10,000 inserts, and created_at is overwritten on insert
    (auto_now_add), as are the conversations' times.
    """
    now = timezone.now()
    workspace = personal_workspace(owner)
    conversations = Conversation.objects.bulk_create(
        [Conversation(owner=owner, workspace=workspace, title=plan.title) for plan in plans],
        batch_size=BATCH_SIZE,
    )
    rows: list[tuple[Turn, int, TurnPlan]] = []
    for number, (conversation, plan) in enumerate(zip(conversations, plans, strict=True)):
        for turn_plan in plan.turns:
            fields = {name: value for name, value in turn_plan.fields.items() if name != "created_at"}
            turn = Turn(conversation=conversation, author=owner, **fields)
            rows.append((turn, number, turn_plan))
    Turn.objects.bulk_create([turn for turn, _, _ in rows], batch_size=BATCH_SIZE)
    ids = {(number, turn_plan.key): turn.id for turn, number, turn_plan in rows}
    parents = {
        turn.id: ids[number, turn_plan.parent] if turn_plan.parent is not None else None
        for turn, number, turn_plan in rows
    }
    # Siblings were inserted in plan order, so the lowest id is the first child, as lineage() has it.
    placement = lineage(parents.items())
    placed, contexts = [], []
    for turn, number, turn_plan in rows:
        created_at = turn_plan.fields.get("created_at") or now
        placed.append((parents[turn.id], created_at, *placement[turn.id], turn.id))
        omitted = turn.context.get("omitted")
        if isinstance(omitted, list):
            contexts.append(({**turn.context, "omitted": [ids[number, key] for key in omitted]}, turn.id))
    _update_rows(Turn, ["parent", "created_at", "depth", "chain"], placed)
    _update_rows(Turn, ["context"], contexts)
    ends = []
    for number, (conversation, plan) in enumerate(zip(conversations, plans, strict=True)):
        first = min((t.fields.get("created_at") or now for t in plan.turns), default=now)
        conversation.created_at = plan.created_at or first
        conversation.updated_at = plan.updated_at or conversation.created_at
        for name in ("current_turn", "main_turn"):
            key = getattr(plan, name)
            setattr(conversation, f"{name}_id", ids[number, key] if key is not None else None)
        ends.append((conversation.created_at, conversation.updated_at, conversation.current_turn_id,
                     conversation.main_turn_id, conversation.id))
    _update_rows(Conversation, ["created_at", "updated_at", "current_turn", "main_turn"], ends)
    return conversations


def conversations_import(*, owner, data: bytes) -> list[Conversation]:
    """Import every conversation in `data` for `owner`, all or nothing.

    Every imported turn is authored by `owner`, whatever the file says: a file must not be able to
    attribute words to another account. Raises ImportProblem, having written nothing.
    """
    check_size(len(data))
    parsed, repeated = parse_json(data)
    plans = plans_for(parsed)
    if repeated is not None:  # in a place no parser named more precisely
        raise ImportProblem(f'The file names the key "{repeated[:80]}" twice in one JSON object; keys must be unique.')
    for plan in plans:  # counted here, not inside the transaction: it holds the write lock
        for turn_plan in plan.turns:
            turn_plan.fields["token_counts"] = count_all(turn_plan.fields["content"])
    with transaction.atomic():
        return _write(owner=owner, plans=plans)


def import_summary(conversations: list[Conversation]) -> tuple[int, int]:
    """How many conversations and turns an import created."""
    turns = Turn.objects.filter(conversation__in=[c.id for c in conversations]).count() if conversations else 0
    return len(conversations), turns
