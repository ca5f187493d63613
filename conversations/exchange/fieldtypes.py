"""The field types of import files: one type per kind of value, each with one rule and one
message (see schema.py for the files they make up)."""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from pydantic import (
    PlainValidator,
)

from conversations.exchange import (
    ROLES,
    STATUSES,
    turn_char_limit,
)
from conversations.fields import (
    checked,
    kind_of,
    model_name_problem,
    problem,
    shown,
)
from conversations.streaming.protocol import MAX_THINKING_BUDGET

# The largest value a PositiveIntegerField holds on every supported database.
MAX_COUNT = 2_147_483_647
MAX_ID = 2**63 - 1
COST_DIGITS, COST_PLACES = 16, 10
COST_STEP = Decimal(1).scaleb(-COST_PLACES)
TITLE_LENGTH = 200
CHATGPT_ROLES = ("user", "assistant", "system", "tool")
REASONING_EFFORTS = ("low", "medium", "high")
# Anthropic's least thinking budget, as a reply's settings are checked (streaming/protocol.py).
MIN_THINKING_BUDGET = 1024
# Longer than any model thinks or any ChatGPT reply took: a year.
MAX_SECONDS = 365 * 24 * 3600

TURN_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
ENCODING_NAME = re.compile(r"[a-z0-9][a-z0-9_]{0,39}")
# chatcmpl-…, resp_…, msg_01…: what providers answer, in the characters ids are made of.
RESPONSE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:/+=@-]{0,199}")
USERNAME = re.compile(r"[\w.@+-]{1,150}")  # Django's own username rule
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,63}")  # ChatGPT's content types and statuses
SHA256 = re.compile(r"[0-9a-f]{64}")
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9.+-]{0,49}/[a-z0-9][a-z0-9.+-]{0,49}")
ATTACHMENT_KINDS = ("image", "text")
FILE_NAME_LENGTH = 255


# --- one rule per kind of value ---------------------------------------------------------------


def _pattern(pattern: re.Pattern[str], rule: str, *, empty: bool, null: bool = False) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None and null:
            return None
        if not isinstance(value, str):
            return f"must be {rule}, not {kind_of(value)}."
        if (value or not empty) and pattern.fullmatch(value) is None:
            return f"must be {rule}, not {shown(value)}."
        return None

    return check


def _text(limit: Callable[[], int] | int | None, *, null: bool = False) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None and null:
            return None
        if not isinstance(value, str):
            return f"must be a string{' or null' if null else ''}, not {kind_of(value)}."
        most = limit() if callable(limit) else limit
        if most is not None and len(value) > most:
            return f"is {len(value):,} characters long; at most {most:,} fit."
        if "\x00" in value:
            return "contains a NUL character, which cannot be stored."
        return None

    return check


def _content(value: Any) -> Any:
    if not isinstance(value, str):
        raise problem(f'"content" must be a string, not {kind_of(value)}.', sentence=True)
    limit = turn_char_limit()
    if len(value) > limit:
        raise problem(f"its content is {len(value):,} characters; a turn may hold at most {limit:,}.", sentence=True)
    if "\x00" in value:
        raise problem('"content" contains a NUL character, which cannot be stored.', sentence=True)
    return value


def _whole(low: int, high: int, *, null: bool) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None and null:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"must be a whole number from {low:,} to {high:,}{' or null' if null else ''}, not {shown(value)}."
        return None

    return check


def _number(low: float, high: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not low <= value <= high:
            return f"must be a number from {low:g} to {high:g} or null, not {shown(value)}."
        return None

    return check


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, not {kind_of(value)}."


def _choice(values: tuple[str, ...], what: str, listing: str) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if not isinstance(value, str) or value not in values:
            raise problem(f"unknown {what} {shown(value)}; {listing} {', '.join(values)}.", sentence=True)
        return value

    return validate


def _turn_key(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        return f"must be a turn id (a number or a string), not {kind_of(value)}."
    if isinstance(value, int) and not 0 <= value <= MAX_ID:
        return f"must be a turn id: a number from 0 to {MAX_ID:,}, not {shown(value)}."
    if isinstance(value, str) and TURN_KEY.fullmatch(value) is None:
        return (
            'must be a turn id: a number, or a string of letters, digits, ".", "_", ":" or "-" of at most '
            f"100 characters, not {shown(value)}."
        )
    return None


def _optional_turn_key(value: Any) -> str | None:
    return None if value is None else _turn_key(value)


def _moment(value: Any) -> datetime | None:
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
            parsed = parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)  # as it is stored; years 1 to 9999 only
        except OverflowError:
            pass
    raise problem(f'must be a date and time like "2024-05-01T12:30:00.123456+00:00" or null, not {shown(value, 60)}.')


def _unix_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise problem(f"must be a Unix time in seconds or null, not {shown(value)}.")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise problem(f"is {shown(value)}, which is not a usable date.") from None


def _cost(value: Any) -> Decimal | None:
    if value is None:
        return None
    rule = 'must be a decimal number written as a string, like "0.0012", or null'
    if not isinstance(value, str):
        raise problem(f"{rule}, not {kind_of(value)}.")
    try:
        cost = Decimal(value)
    except InvalidOperation:
        raise problem(f"{rule}, not {shown(value)}.") from None
    whole = 10 ** (COST_DIGITS - COST_PLACES)
    if not cost.is_finite() or not 0 <= cost < whole or cost != cost.quantize(COST_STEP):
        raise problem(
            f"{rule}: {shown(value)} is not an amount from 0 to under {whole:,} with at most {COST_PLACES} "
            "decimal places."
        )
    return cost


def _chatgpt_part(value: Any) -> Any:
    """A piece of a message's content: text, an attachment (an object), or null."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        for name, check in (("content_type", _identifier), ("text", _optional_string)):
            message = check(value.get(name))
            if message is not None:
                raise problem(f'has "{name}" that {message}')
        return value
    raise problem(f"holds {shown(value)}, which is neither text nor an attachment.")


def _seconds(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= MAX_SECONDS:
        return f"must be a number of seconds from 0 to {MAX_SECONDS:,} or null, not {shown(value)}."
    return None


def _reasoning_effort(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value in REASONING_EFFORTS):
        return None
    return f'must be "low", "medium" or "high", or null, not {shown(value)}.'


def _reasoning_block(value: Any) -> Any:
    """One piece of a reply's reasoning as its provider must get it back (see providers/base.py:
    ReasoningBlock): an object with a "type", any JSON inside, and no NUL character anywhere (a
    JSON column on PostgreSQL cannot hold one)."""
    if not isinstance(value, dict):
        raise problem(f"must be an object (a provider's reasoning block), not {kind_of(value)}.")
    kind = value.get("type")
    if not isinstance(kind, str) or IDENTIFIER.fullmatch(kind) is None:
        raise problem(
            f'must have a "type" of lower-case letters, digits and "_" (like "thinking"), not {shown(kind)}.'
        )
    stack: list[Any] = [value]
    while stack:  # iterative: nesting is bounded by the importer, but not small
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and "\x00" in item:
            raise problem("contains a NUL character, which cannot be stored.")
    return value


def _optional_string(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else f"must be a string or null, not {kind_of(value)}."


_identifier = _pattern(IDENTIFIER, 'a name of lower-case letters, digits and "_" (like "text")', empty=False, null=True)


def _system_prompt_limit() -> int:
    return max(settings.MAX_SYSTEM_PROMPT_CHARS, turn_char_limit())


TurnKey = Annotated[int | str, checked(_turn_key)]
OptionalTurnKey = Annotated[int | str | None, checked(_optional_turn_key)]
Count = Annotated[int | None, checked(_whole(0, MAX_COUNT, null=True))]
TokenCount = Annotated[int, checked(_whole(0, MAX_COUNT, null=False))]
Flag = Annotated[bool, checked(_boolean)]
Moment = Annotated[datetime | None, PlainValidator(_moment)]
UnixTime = Annotated[datetime | None, PlainValidator(_unix_time)]
Cost = Annotated[Decimal | None, PlainValidator(_cost)]
Title = Annotated[str, checked(_text(TITLE_LENGTH))]
ErrorText = Annotated[str, checked(_text(turn_char_limit))]
SystemPrompt = Annotated[str, checked(_text(_system_prompt_limit))]
Temperature = Annotated[float | None, checked(_number(0, 2))]
TopP = Annotated[float | None, checked(_number(0, 1))]
MaxTokens = Annotated[int | None, checked(_whole(1, MAX_COUNT, null=True))]
Content = Annotated[str, PlainValidator(_content)]
Role = Annotated[str, PlainValidator(_choice(ROLES, "role", "a turn's role is one of"))]
Status = Annotated[str, PlainValidator(_choice(STATUSES, "status", "a turn's status is one of"))]
EncodingName = Annotated[str, checked(_pattern(
    ENCODING_NAME, 'an encoding name: lower-case letters, digits or "_" (like "o200k_base")', empty=False
))]
ResponseId = Annotated[str, checked(_pattern(
    RESPONSE_ID, 'a response id: letters, digits, "_", ".", ":", "/", "+", "=", "@" or "-", at most 200 characters',
    empty=True,
))]
Username = Annotated[str | None, checked(_pattern(USERNAME, "a username", empty=True, null=True))]
NodeId = Annotated[str, checked(_pattern(
    NODE_ID, 'a node id: letters, digits, ".", "_", ":" or "-", at most 200 characters', empty=False
))]
OptionalNodeId = Annotated[str | None, checked(_pattern(
    NODE_ID, 'a node id (letters, digits, ".", "_", ":" or "-", at most 200 characters) or null', empty=False,
    null=True,
))]
OptionalModelName = Annotated[str | None, checked(lambda value: None if value is None else model_name_problem(value))]
Identifier = Annotated[str | None, checked(_identifier)]
OptionalString = Annotated[str | None, checked(_optional_string)]
OptionalFlag = Annotated[bool | None, checked(lambda value: None if value is None else _boolean(value))]
ReasoningText = Annotated[str, checked(_text(turn_char_limit))]
# Review (a version 3 file): a comment's text and id, a verdict.
CommentText = Annotated[str, checked(_text(10_000))]
CommentKey = Annotated[int, checked(_whole(1, MAX_ID, null=False))]
VerdictValue = Annotated[int, checked(lambda value: None if value in (1, -1) and not isinstance(value, bool)
                                      else f"must be 1 (👍) or -1 (👎), not {shown(value)}.")]
ReasoningBlock = Annotated[dict, PlainValidator(_reasoning_block)]
# Attached files (a version 4 file): a prompt's descriptors and the files they name.
Sha256 = Annotated[str, checked(_pattern(SHA256, "a SHA-256: 64 lower-case hexadecimal digits", empty=False))]
FileName = Annotated[str, checked(_text(FILE_NAME_LENGTH))]
MediaType = Annotated[str, checked(_pattern(MEDIA_TYPE, 'a media type like "image/png"', empty=False))]
AttachmentKind = Annotated[str, PlainValidator(_choice(ATTACHMENT_KINDS, "kind", "an attached file's kind is one of"))]
FileSize = Annotated[int, checked(_whole(0, MAX_ID, null=False))]
Pixels = Annotated[int | None, checked(_whole(1, MAX_COUNT, null=True))]
Base64Text = Annotated[str, checked(_text(None))]
Seconds = Annotated[float | None, checked(_seconds)]
ReasoningEffort = Annotated[str | None, checked(_reasoning_effort)]
ThinkingBudget = Annotated[int | None, checked(_whole(MIN_THINKING_BUDGET, MAX_THINKING_BUDGET, null=True))]
DatabaseId = Annotated[int, checked(_whole(1, MAX_ID, null=False))]
ChatGPTRole = Annotated[str, PlainValidator(_choice(CHATGPT_ROLES, "author role", "ChatGPT's roles are"))]
ChatGPTPart = Annotated[Any, PlainValidator(_chatgpt_part)]
