"""Checks for what a client sends, before anything acts on it: the one JSON parser for untrusted
text (websocket frames, HTTP bodies), the one Unicode check, and the one check of one-line names.

Each refusal is a `ServiceError` with a message that says what to fix and a short code, raised
before anything is written. It imports only the errors module, so every layer may use it.

Form fields need no Unicode check: Django decodes form data (urlencoded and multipart) with
replacement, so an unpaired surrogate arrives as U+FFFD. JSON text is what can carry one.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from conversations.errors import ServiceError

# Far deeper than any frame or body the workbench reads (a frame is four levels at most), far
# shallower than the interpreter's recursion limit, so no later walk over a value can overflow.
MAX_JSON_DEPTH = 32

# A str holding a code point of the surrogate range cannot be encoded as UTF-8: the database, the
# tokenizer and the providers' SDKs all fail on it. JSON text can carry one ("\ud800") unpaired;
# Python's decoder keeps it, where a pair becomes one code point.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _too_deep(name: str) -> ServiceError:
    return ServiceError(
        f"{name} is nested too deeply: at most {MAX_JSON_DEPTH} levels of arrays and objects.",
        code="bad_json",
    )


def _nodes(value: Any) -> Iterator[tuple[str, Any, int]]:
    """Every value inside `value` with its path ("variants[1].model") and how many arrays and
    objects hold it (the value itself: 0), without recursion: a parsed value may be nested as deep
    as the parser allowed."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        where, node, depth = stack.pop()
        yield where, node, depth
        # Pushed last first, so they come out in the order they were written.
        if isinstance(node, dict):
            children = [(f"{where}.{key}" if where else str(key), item) for key, item in node.items()]
        elif isinstance(node, list):
            children = [(f"{where}[{index}]", item) for index, item in enumerate(node)]
        else:
            continue
        stack.extend((path, item, depth + 1) for path, item in reversed(children))


def loads_untrusted(data: str | bytes, *, name: str = "The JSON") -> Any:
    """Parse JSON from a client, refusing text that is not JSON or is nested too deeply; `name`
    says what the text is ("The frame") in the message."""
    try:
        value = json.loads(data)
    except RecursionError:
        # The standard decoder recurses per level: a few thousand "[" would exhaust the stack.
        raise _too_deep(name) from None
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for bytes
        raise ServiceError(f"{name} is not valid JSON ({exc}).", code="bad_json") from None
    # An array or object held by MAX_JSON_DEPTH others is one level too many.
    if any(depth >= MAX_JSON_DEPTH for _, node, depth in _nodes(value) if isinstance(node, (dict, list))):
        raise _too_deep(name)
    return value


def unpaired_surrogate(text: str) -> int | None:
    """Where `text` holds an unpaired UTF-16 surrogate (which cannot be stored), or None."""
    found = _SURROGATE.search(text)
    return None if found is None else found.start()


def check_text(text: str, *, field: str) -> None:
    """Refuse a string holding an unpaired UTF-16 surrogate, naming `field` and where it is."""
    at = unpaired_surrogate(text)
    if at is not None:
        raise ServiceError(
            f"{field} holds an unpaired surrogate (\\u{ord(text[at]):04x}) at character {at}; "
            "send valid Unicode.",
            code="bad_text",
        )


def check_strings(value: Any, *, name: str) -> None:
    """check_text on every string and key inside a parsed JSON value; `name` says what the value
    is ("The frame"), and a field inside it is named by its path ('"settings.system_prompt"')."""
    for where, node, _ in _nodes(value):
        if isinstance(node, dict):
            for key in node:
                if isinstance(key, str):
                    check_text(key, field=f'A key in "{where}"' if where else f"A key in {name.lower()}")
        elif isinstance(node, str):
            check_text(node, field=f'"{where}"' if where else name)


def clean_line(value: str, *, field: str, limit: int | None) -> str:
    """A one-line name or title as typed: runs of whitespace become one space and NULs go; refused
    when it holds invalid Unicode or is longer than `limit` once cleaned (never cut short). A limit
    of None is a column without one (Django's max_length=None)."""
    check_text(value, field=field)
    line = " ".join(value.replace("\x00", "").split())
    if limit is not None and len(line) > limit:
        raise ServiceError(f"{field} is {len(line):,} characters; the limit is {limit:,}.", code="too_large")
    return line
