"""Moving conversations in and out: Workbench JSON, ChatGPT's export, Markdown.

Parsers are pure functions from parsed JSON to plans (no database); they raise ImportProblem with
a message that names the problem and where it is in the file, so a person can fix the file. The
importer validates a whole file into plans before it writes anything, then writes each conversation
in a transaction of its own. A Workbench file is one conversation: imported whole or refused. A
ChatGPT export holds many: each is imported whole or skipped (`Skipped`, with its problem and its
place), and one broken conversation does not keep the others out.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings

# Turns one import may create, over all its conversations: a bound on the memory and the time
# one request may take, far above any real conversation.
MAX_IMPORT_TURNS = 250_000
# Longest turn content accepted from a file. Longer than a typed message may be (replies and
# pasted documents are), but bounded.
MIN_TURN_CHAR_LIMIT = 1_000_000

ROLES = ("system", "user", "assistant")
STATUSES = ("complete", "streaming", "stopped", "interrupted", "error")


class ImportProblem(Exception):
    """A file that cannot be imported, with a message naming the problem and its place."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RepeatedKeys(dict):
    """A JSON object that names a key twice. json.loads would quietly keep the last value: in a
    ChatGPT mapping that would drop a node, so parsers report it where they can name the place."""

    def __init__(self, pairs: dict, *, repeated: str) -> None:
        super().__init__(pairs)
        self.repeated = repeated


def turn_char_limit() -> int:
    return max(settings.MAX_MESSAGE_CHARS, MIN_TURN_CHAR_LIMIT)


def human_size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB ({size:,} bytes)"
    return f"{size / (1024 * 1024):.1f} MB ({size:,} bytes)"


def check_size(size: int) -> None:
    """Refuse a file over MAX_IMPORT_BYTES before reading or parsing any of it."""
    limit = settings.MAX_IMPORT_BYTES
    if size > limit:
        raise ImportProblem(
            f"The file is {human_size(size)}; imports are limited to {human_size(limit)} "
            "(WORKBENCH_MAX_IMPORT_BYTES). Split the export, or ask the administrator to raise the limit."
        )


def check_turn_count(count: int) -> None:
    if count > MAX_IMPORT_TURNS:
        raise ImportProblem(
            f"The file holds {count:,} turns; one import takes at most {MAX_IMPORT_TURNS:,}. "
            "Split it into several files."
        )


@dataclass
class TurnPlan:
    """One turn to create. `key` and `parent` are ids as the file wrote them; `fields` are Turn
    field values ready to save, except that context["omitted"] still holds file ids."""

    key: Hashable
    parent: Hashable | None
    fields: dict[str, Any]


@dataclass
class ConversationPlan:
    title: str
    created_at: datetime | None
    updated_at: datetime | None
    current_turn: Hashable | None
    main_turn: Hashable | None
    # Parents before children; siblings in the order their ids should keep them.
    turns: list[TurnPlan] = field(default_factory=list)
    # What the file held that the conversation leaves out, by kind (see chatgpt.LEFT_OUT_KINDS).
    left_out: dict[str, int] = field(default_factory=dict)
    # (conversation id, turn id) of the turn it was forked from, as the exporting workbench
    # recorded them: restored only if the importer may read that turn and it is this one's source.
    forked_from: tuple[int, int] | None = None
    # Where the file holds it, for a file of several: conversations[3] ("Trip plan").
    place: str = ""
    # A Workbench file's review (version 3): comments, verdicts, preferences (review/exchange.py).
    review: Any = None
    # A Workbench file's attached files (version 4), decoded and checked against their names, by
    # the SHA-256 the file gives them (attached_files.GivenFile).
    files: dict[str, Any] = field(default_factory=dict)
    # Those files as they will be stored, after inspection (attached_files.PreparedFile), by the
    # same keys: filled in by the importer, outside the transaction that writes them.
    prepared: dict[str, Any] = field(default_factory=dict)


@dataclass
class Skipped:
    """A conversation of a file that is not imported, and why."""

    title: str
    # The whole message, its place in the file included: `conversations[3] ("Trip plan") node …: …`.
    problem: str


def describe_id(key: Hashable) -> str:
    return repr(key) if isinstance(key, str) else str(key)


Key = TypeVar("Key", bound=Hashable)


def parents_first(
    keys: Iterable[Key],
    parent_of: Callable[[Key], Key | None],
    place_of: Callable[[Key], str],
    noun: str = "turn",
) -> list[Key]:
    """`keys` reordered so that every parent comes before its children, keeping the given order
    wherever it already does. Raises ImportProblem for a parent that is not among the keys and
    for a loop of parent links (naming every id in the loop); iterative, so a 250,000-turn chain
    does not exhaust the stack."""
    known = list(keys)
    present = set(known)
    done: set[Key] = set()
    ordered: list[Key] = []
    for start in known:
        if start in done:
            continue
        chain: list[Key] = []
        on_chain: set[Key] = set()
        key: Key | None = start
        while key is not None and key not in done:
            if key in on_chain:
                loop = chain[chain.index(key):]
                names = " → ".join(describe_id(k) for k in [*loop, key])
                raise ImportProblem(
                    f"{place_of(key)}: its parent links form a loop ({names}), so the {noun}s have "
                    "no root. Every chain of parents must end at a root (parent null)."
                )
            chain.append(key)
            on_chain.add(key)
            parent = parent_of(key)
            if parent is not None and parent not in present:
                raise ImportProblem(
                    f"{place_of(key)}: its parent {describe_id(parent)} is not in the file."
                )
            key = parent
        for key in reversed(chain):
            done.add(key)
            ordered.append(key)
    return ordered

