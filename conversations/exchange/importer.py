"""Import: read a file, validate all of it, then write each conversation in its own transaction.

Everything that can be wrong with a file is found before the first write (see the parsers). A
Workbench file is one conversation, imported whole or refused whole. A ChatGPT export holds many:
each is imported whole or skipped with its problem named, so one broken conversation does not keep
the others out, and the report (`ImportReport`) says which was which and what each left out.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from conversations.attachments.services import link_blobs
from conversations.exchange import (
    ConversationPlan,
    ImportProblem,
    RepeatedKeys,
    Skipped,
    TurnPlan,
    attached_files,
    chatgpt,
    check_size,
    workbench_json,
)
from conversations.fields import field_path, shown
from conversations.lineage import lineage
from conversations.models import Conversation, Turn, Workspace
from conversations.permissions import Need, conversation_for
from conversations.review.exchange import review_import
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


@dataclass
class ParsedFile:
    value: Any
    # The first key any object of the file repeats (None: no key is repeated).
    repeated: str | None = None
    # For a list of conversations, what makes one unreadable, by its index: each is skipped alone.
    problems: dict[int, str] = field(default_factory=dict)


def parse_json(data: bytes) -> ParsedFile:
    """The file's JSON, or an ImportProblem saying why it is not readable JSON and where."""
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
    problems = _check_shape(value, text)
    if repeated and isinstance(value, list):
        for index, problem in _repeated_keys(value).items():
            problems.setdefault(index, problem)
    return ParsedFile(value=value, repeated=repeated[0] if repeated else None, problems=problems)


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


def _entry(path: tuple) -> int:
    """The index in the top-level list that a _check_shape path starts from."""
    while path[0] is not None:
        path = path[0]
    return path[1]


def _check_shape(value: Any, text: str) -> dict[int, str]:
    """Refuse what JSON allows but nothing can store: nesting deeper than MAX_DEPTH, and a lone
    UTF-16 surrogate (no UTF-8 encoder, hence no database, takes one: it would fail mid-write).
    In a list (ChatGPT's conversations, each imported or skipped on its own) a surrogate is the
    problem of its conversation only: returned by index, the first found in each. Iterative, so
    no depth exhausts the stack; strings are only looked at when the text has a surrogate escape."""
    strings = _SURROGATE_ESCAPE.search(text) is not None
    by_entry = isinstance(value, list)
    problems: dict[int, str] = {}
    stack: list[tuple[Any, int, tuple | None]] = [(value, 0, None)]
    while stack:
        item, depth, path = stack.pop()
        found = None
        if isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise _too_deep(text)
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if strings and found is None and isinstance(key, str) and _SURROGATE.search(key):
                    found = _lone_surrogate(key, path, f" in the key {shown(key, 60)}")
                if strings or isinstance(child, (dict, list)):
                    stack.append((child, depth + 1, (path, key)))
        elif isinstance(item, str) and _SURROGATE.search(item):
            found = _lone_surrogate(item, path, "")
        if found is not None:
            if not by_entry or path is None:
                raise ImportProblem(found)
            problems.setdefault(_entry(path), found)
    return problems


def _lone_surrogate(text: str, path: tuple | None, what: str) -> str:
    found = _SURROGATE.search(text)
    assert found is not None
    place = _json_place(path) or "The file"
    return (
        f"{place}: the text{what} holds a lone UTF-16 surrogate ({found.group().encode('unicode_escape').decode()}), "
        "half of a character whose other half is missing, so it cannot be stored. The program that wrote the "
        "file cut a character in two: fix or remove it."
    )


def _repeated_keys(entries: list) -> dict[int, str]:
    """For each entry of a list that has an object naming a key twice, that problem and its place.
    A repeated node id in a conversation's own "mapping" is left to the ChatGPT parser, which names
    the node."""
    problems: dict[int, str] = {}
    for index, entry in enumerate(entries):
        mapping = entry.get("mapping") if isinstance(entry, dict) else None
        stack: list[tuple[Any, tuple]] = [(entry, (None, index))]
        while stack:
            item, path = stack.pop()
            if isinstance(item, RepeatedKeys) and item is not mapping:
                problems[index] = (
                    f'{_json_place(path)}: the key "{item.repeated[:80]}" appears twice in one JSON object; '
                    "keys must be unique."
                )
                break
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((child, (path, key)) for key, child in pairs if isinstance(child, (dict, list)))
    return problems


WORKBENCH, CHATGPT = "workbench", "chatgpt"


def plans_for(data: Any, problems: dict[int, str] | None = None) -> tuple[str, list[ConversationPlan | Skipped]]:
    """Detect the format and validate the whole file into plans (a ChatGPT conversation that
    cannot be imported is Skipped). Pure: no database."""
    if isinstance(data, dict) and "format" in data:
        if data["format"] != workbench_json.FORMAT:
            raise ImportProblem(
                f'The file says its format is {data["format"]!r:.60}; this workbench imports '
                f'"{workbench_json.FORMAT}" files and ChatGPT\'s conversations.json.'
            )
        return WORKBENCH, [workbench_json.conversation_plan(data)]
    if data == []:
        raise ImportProblem("The file holds an empty list: there are no conversations in it to import.")
    if chatgpt.is_chatgpt_export(data):
        return CHATGPT, chatgpt.conversation_plans(data, problems)
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


def _write(
    *, owner, workspace: Workspace, plan: ConversationPlan, forked_from_id: int | None
) -> tuple[Conversation, dict[str, int]]:
    """Create the planned conversation and its turns (and its review: how many comments, verdicts
    and preferences it kept): a few bulk statements, whatever the depth.

    Turns are inserted in plan order (parents first, so parents get the lower ids and siblings keep
    their order), then their parents, creation times and context ids are set by id: a chain of
    10,000 turns must not take 10,000 inserts, and created_at is overwritten on insert
    (auto_now_add), as are the conversation's times.
    """
    now = timezone.now()
    conversation = Conversation.objects.create(
        owner=owner, workspace=workspace, title=plan.title, forked_from_id=forked_from_id
    )
    rows: list[tuple[Turn, TurnPlan]] = []
    for turn_plan in plan.turns:
        fields = {name: value for name, value in turn_plan.fields.items() if name != "created_at"}
        rows.append((Turn(conversation=conversation, author=owner, **fields), turn_plan))
    Turn.objects.bulk_create([turn for turn, _ in rows], batch_size=BATCH_SIZE)
    link_blobs(turn for turn, _ in rows)
    ids = {turn_plan.key: turn.id for turn, turn_plan in rows}
    parents = {
        turn.id: ids[turn_plan.parent] if turn_plan.parent is not None else None for turn, turn_plan in rows
    }
    # Siblings were inserted in plan order, so the lowest id is the first child, as lineage() has it.
    placement = lineage(parents.items())
    placed, contexts = [], []
    for turn, turn_plan in rows:
        created_at = turn_plan.fields.get("created_at") or now
        placed.append((parents[turn.id], created_at, *placement[turn.id], turn.id))
        omitted = turn.context.get("omitted")
        if isinstance(omitted, list):
            contexts.append(({**turn.context, "omitted": [ids[key] for key in omitted]}, turn.id))
    _update_rows(Turn, ["parent", "created_at", "depth", "chain"], placed)
    _update_rows(Turn, ["context"], contexts)
    first = min((t.fields.get("created_at") or now for t in plan.turns), default=now)
    conversation.created_at = plan.created_at or first
    conversation.updated_at = plan.updated_at or conversation.created_at
    for name in ("current_turn", "main_turn"):
        key = getattr(plan, name)
        setattr(conversation, f"{name}_id", ids[key] if key is not None else None)
    _update_rows(Conversation, ["created_at", "updated_at", "current_turn", "main_turn"], [(
        conversation.created_at, conversation.updated_at, conversation.current_turn_id, conversation.main_turn_id,
        conversation.id,
    )])
    review = review_import(conversation=conversation, owner=owner, review=plan.review, ids=ids)
    return conversation, review


def _fork_source(owner, plan: ConversationPlan) -> int | None:
    """The turn the file says the conversation was forked from, if it is here for `owner` to see.

    The ids are those of the workbench that exported the file: here they may name nothing, a turn
    the importer may not read, or (from another workbench) some other conversation's turn. The
    link is kept only when the importer may read that turn and its branch, root to turn, reads
    as the first turns of the file do (a fork begins with a copy of it); otherwise it is dropped.
    Conversation has nowhere else to keep it, and ids of another database are no use to keep.
    """
    if plan.forked_from is None:
        return None
    conversation_id, turn_id = plan.forked_from
    if conversation_for(owner, conversation_id, need=Need.READ) is None:
        return None
    path = Turn.objects.path(conversation_id=conversation_id, turn_id=turn_id)
    copied = plan.turns[: len(path)]
    if not path or len(copied) < len(path):
        return None
    for index, (source, copy) in enumerate(zip(path, copied, strict=True)):
        parent = copied[index - 1].key if index else None
        if copy.parent != parent or (source.role, source.content) != (copy.fields["role"], copy.fields["content"]):
            return None
    return turn_id


@dataclass
class Imported:
    conversation: Conversation
    turns: int
    left_out: dict[str, int]
    # Its review, kept whole: {"comments": n, "verdicts": n, "preferences": n}; empty when it had none.
    review: dict[str, int] = field(default_factory=dict)


@dataclass
class ImportReport:
    """What an import did with each conversation of the file, in the file's order."""

    format: str  # WORKBENCH or CHATGPT
    outcomes: list[Imported | Skipped]

    @property
    def imported(self) -> list[Imported]:
        return [outcome for outcome in self.outcomes if isinstance(outcome, Imported)]

    @property
    def skipped(self) -> list[Skipped]:
        return [outcome for outcome in self.outcomes if isinstance(outcome, Skipped)]


def _unstorable(plan: ConversationPlan, error: Exception) -> str:
    reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
    return f"{plan.place or 'The conversation'}: the database refused it ({reason}), so none of it was stored."


def conversations_import(*, owner, data: bytes) -> ImportReport:
    """Import the conversations in `data` for `owner`, each whole or not at all: its attached
    files too, which are inspected before and stored within its transaction (attached_files.py).

    Every imported turn is authored by `owner`, whatever the file says: a file must not be able to
    attribute words to another account. Raises ImportProblem, having written nothing, for a file
    that cannot be imported as a whole (not JSON, not a known format, a Workbench file with any
    problem); a ChatGPT conversation that cannot be imported is reported as Skipped.
    """
    check_size(len(data))
    parsed = parse_json(data)
    problems = parsed.problems
    if parsed.repeated is not None and isinstance(parsed.value, dict) and "format" not in parsed.value:
        problems = _repeated_keys([parsed.value])  # one ChatGPT conversation, not in a list
    kind, outcomes = plans_for(parsed.value, problems)
    if parsed.repeated is not None and kind == WORKBENCH:  # in a place no parser named more precisely
        raise ImportProblem(
            f'The file names the key "{parsed.repeated[:80]}" twice in one JSON object; keys must be unique.'
        )
    plans = [outcome for outcome in outcomes if isinstance(outcome, ConversationPlan)]
    for plan in plans:  # counted and inspected here, not inside a transaction: it holds the write lock
        for turn_plan in plan.turns:
            turn_plan.fields["token_counts"] = count_all(turn_plan.fields["content"])
        if plan.files:
            plan.prepared = attached_files.files_prepare(plan.files)
            attached_files.rewrite_descriptors(plan.turns, plan.prepared)
    workspace = personal_workspace(owner)
    report = ImportReport(format=kind, outcomes=[])
    for outcome in outcomes:
        if isinstance(outcome, Skipped):
            report.outcomes.append(outcome)
            continue
        forked_from_id = _fork_source(owner, outcome)
        written: list[tuple[str, str]] = []
        try:
            with transaction.atomic():
                attached_files.files_store(owner, outcome.prepared, written)
                conversation, review = _write(
                    owner=owner, workspace=workspace, plan=outcome, forked_from_id=forked_from_id
                )
        except BaseException as error:
            # Nothing of a refused conversation stays: its rows are rolled back, its new files removed.
            attached_files.remove_unowned(written)
            if not isinstance(error, (IntegrityError, DataError)):
                raise
            if kind == WORKBENCH:
                raise ImportProblem(_unstorable(outcome, error)) from None
            report.outcomes.append(Skipped(title=outcome.title, problem=_unstorable(outcome, error)))
            continue
        report.outcomes.append(Imported(
            conversation=conversation, turns=len(outcome.turns), left_out=outcome.left_out, review=review
        ))
    return report
