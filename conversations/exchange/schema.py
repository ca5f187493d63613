"""What an import file may hold, declared field by field: the Workbench export and ChatGPT's export.

Each field has one type with one rule and one message. A Workbench file is checked whole: an
unknown field is an error, as is a value of the wrong type, out of range, or (for the names of
things: providers, models, encodings, ids) outside a strict character set. ChatGPT's export carries
many fields the workbench does not read; those are ignored, and every field it reads is checked.
The tree (parents, loops, ids named elsewhere) is checked by the parsers afterwards.

`workbench_file` and `chatgpt_file` raise ImportProblem naming the place of the first problem the
way the parsers do: `turns[3] (id 7): "model" must be a model name: …`.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone as dt_timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Callable, Literal

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from pydantic import BaseModel, ConfigDict, PlainValidator, TypeAdapter, ValidationError, model_validator

from conversations.exchange import ROLES, STATUSES, ImportProblem, describe_id, turn_char_limit
from conversations.fields import (
    ModelName,
    ProviderName,
    checked,
    describe,
    kind_of,
    model_name_problem,
    problem,
    shown,
)

# The largest value a PositiveIntegerField holds on every supported database.
MAX_COUNT = 2_147_483_647
MAX_ID = 2**63 - 1
COST_DIGITS, COST_PLACES = 16, 10
COST_STEP = Decimal(1).scaleb(-COST_PLACES)
TITLE_LENGTH = 200
CHATGPT_ROLES = ("user", "assistant", "system", "tool")

TURN_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
ENCODING_NAME = re.compile(r"[a-z0-9][a-z0-9_]{0,39}")
# chatcmpl-…, resp_…, msg_01…: what providers answer, in the characters ids are made of.
RESPONSE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:/+=@-]{0,199}")
USERNAME = re.compile(r"[\w.@+-]{1,150}")  # Django's own username rule
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,63}")  # ChatGPT's content types and statuses


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
            parsed = parsed.replace(tzinfo=dt_timezone.utc)
        try:
            return parsed.astimezone(dt_timezone.utc)  # as it is stored; years 1 to 9999 only
        except OverflowError:
            pass
    raise problem(f'must be a date and time like "2024-05-01T12:30:00.123456+00:00" or null, not {shown(value, 60)}.')


def _unix_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise problem(f"must be a Unix time in seconds or null, not {shown(value)}.")
    try:
        return datetime.fromtimestamp(value, tz=dt_timezone.utc)
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
ChatGPTRole = Annotated[str, PlainValidator(_choice(CHATGPT_ROLES, "author role", "ChatGPT's roles are"))]
ChatGPTPart = Annotated[Any, PlainValidator(_chatgpt_part)]


# --- the Workbench export -----------------------------------------------------------------------


class _Declared(BaseModel):
    """Every field declared: an unknown one is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def given(self) -> dict[str, Any]:
        """The fields the file gave, with their checked values (not the defaults of the others)."""
        return {name: getattr(self, name) for name in type(self).model_fields if name in self.model_fields_set}


class TurnSettings(_Declared):
    """The settings a reply was made with, as services store them (GenerationSettings.as_dict)."""

    system_prompt: SystemPrompt = ""
    temperature: Temperature = None
    max_tokens: MaxTokens = None
    top_p: TopP = None


class TurnContext(_Declared):
    """How a reply's request was fitted into the window (ContextPlan.as_json)."""

    omitted: list[TurnKey] = []
    input_tokens: Count = None
    window: Count = None
    history_budget: Count = None
    reply_budget: Count = None
    encoding: EncodingName = "o200k_base"
    estimate: Flag = False


class WorkbenchTurn(_Declared):
    id: TurnKey
    parent: OptionalTurnKey = None
    role: Role
    content: Content
    status: Status = "complete"
    provider: ProviderName = ""
    model: ModelName = ""
    settings: TurnSettings = TurnSettings()
    token_counts: dict[EncodingName, TokenCount] = {}
    input_tokens: Count = None
    output_tokens: Count = None
    usage_estimated: Flag = False
    cost: Cost = None
    context: TurnContext = TurnContext()
    response_id: ResponseId = ""
    error: ErrorText = ""
    author: Username = None  # read, never used: the importer is the author
    created_at: Moment = None
    first_token_at: Moment = None
    finished_at: Moment = None

    @model_validator(mode="after")
    def _only_replies_stream(self) -> WorkbenchTurn:
        if self.status != "complete" and self.role != "assistant":
            raise problem(
                f'a {self.role} turn cannot be "{self.status}"; only replies (role assistant) can.', sentence=True
            )
        return self


class ConversationMeta(_Declared):
    title: Title = ""
    created_at: Moment = None
    updated_at: Moment = None
    current_turn: OptionalTurnKey = None
    main_turn: OptionalTurnKey = None


class WorkbenchFile(_Declared):
    format: Literal["workbench.conversation"]
    version: Literal[1]
    exported_at: Moment = None
    conversation: ConversationMeta
    turns: list[WorkbenchTurn]


def _workbench_place(data: dict, loc: tuple) -> tuple[str, tuple]:
    if len(loc) >= 2 and loc[0] == "turns" and isinstance(loc[1], int):
        place = f"turns[{loc[1]}]"
        raw = data["turns"][loc[1]]
        if loc[2:3] != ("id",) and isinstance(raw, dict) and _turn_key(raw.get("id")) is None:
            place += f" (id {describe_id(raw['id'])})"
        return place, loc[2:]
    if loc[:1] == ("conversation",) and len(loc) > 1:
        return "conversation", loc[1:]
    return "", loc


def workbench_file(data: dict) -> WorkbenchFile:
    """The whole Workbench export, checked; ImportProblem naming the first problem's place."""
    try:
        return WorkbenchFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        place, loc = _workbench_place(data, error["loc"])
        raise ImportProblem(describe(error, place, loc)) from None


# --- ChatGPT's export -----------------------------------------------------------------------------


class _Read(BaseModel):
    """The fields the workbench reads, checked; ChatGPT's many others are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class ChatGPTAuthor(_Read):
    role: ChatGPTRole


class ChatGPTContent(_Read):
    content_type: Identifier = None
    parts: list[ChatGPTPart] | None = None
    text: OptionalString = None


class ChatGPTMetadata(_Read):
    model_slug: OptionalModelName = None
    is_visually_hidden_from_conversation: OptionalFlag = None


class ChatGPTMessage(_Read):
    author: ChatGPTAuthor
    content: ChatGPTContent
    create_time: UnixTime = None
    status: Identifier = None
    metadata: ChatGPTMetadata | None = None


class ChatGPTNode(_Read):
    id: OptionalNodeId = None
    parent: OptionalNodeId = None
    message: ChatGPTMessage | None = None


class ChatGPTConversation(_Read):
    title: OptionalString = None
    create_time: UnixTime = None
    update_time: UnixTime = None
    mapping: dict[NodeId, ChatGPTNode]
    current_node: OptionalNodeId = None
    default_model_slug: OptionalModelName = None


_CHATGPT_FILE = TypeAdapter(list[ChatGPTConversation])


def chatgpt_place(index: int, raw: Any) -> str:
    """conversations[1] ("Its title"), as the ChatGPT parser names a conversation."""
    place = f"conversations[{index}]"
    if isinstance(raw, dict) and isinstance(raw.get("title"), str):
        place = f'{place} ("{" ".join(raw["title"].split())[:60]}")'
    return place


def _chatgpt_place(raws: list, loc: tuple) -> tuple[str, tuple]:
    place = chatgpt_place(loc[0], raws[loc[0]])
    loc = loc[1:]
    if len(loc) >= 2 and loc[0] == "mapping" and loc[2:3] != ("[key]",):
        node = loc[1] if NODE_ID.fullmatch(str(loc[1])) else shown(loc[1], 60)
        return f"{place} node {node}", loc[2:]
    return place, loc


def chatgpt_file(raws: list) -> list[ChatGPTConversation]:
    """Every conversation of a ChatGPT export, checked; ImportProblem naming the first problem's place."""
    try:
        return _CHATGPT_FILE.validate_python(raws)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        place, loc = _chatgpt_place(raws, error["loc"])
        raise ImportProblem(describe(error, place, loc)) from None
