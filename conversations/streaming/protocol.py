"""The websocket protocol: what a client may send, declared, and checked before anything acts on it.

Client → server frames are JSON objects with an "action":
  send        {"parent": id|null, "content": str, "model": "provider:model", "settings": {...}}
              or, for a fan-out, "variants": [{"model": ..., "settings": {...}}, ...] (2 to 6)
  edit        {"turn": id, "content": str, and "model"/"settings" or "variants" as for send}
  regenerate  {"turn": id, "model": "provider:model", "settings": {...}}
  stop        {"turn": id}
  resume      {"turn": id, "offset": int, "reasoning_offset": int} (the reply's text and reasoning
              the client has, in UTF-16 units; without "reasoning_offset" no reasoning is resent)
  delete      {"turn": id}
  main        {"turn": id|null}
Any frame may carry a "request_id" (string) that the server echoes in its answer. Keys an action
does not read are ignored, except in "settings", where an unknown one is refused.
Every string in a frame, keys included, must be valid Unicode (no unpaired surrogate).

Each action is a pydantic model, and a frame is read by the one its "action" names (for send and
edit, the fan-out's when it carries "variants"). Every field has one rule and one message, and a
frame with several problems is answered with the first in the order the model declares its fields.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from django.conf import settings as django_settings
from django.core import checks
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from conversations.errors import ServiceError
from conversations.providers.base import GenerationSettings
from conversations.refusals import REFUSED, refusal, refused
from conversations.services import MAX_VARIANTS, Variant
from conversations.validation import check_strings

MAX_ID = 2**63 - 1  # the database's largest id
ACTIONS = ("send", "edit", "regenerate", "stop", "resume", "delete", "main")


# The longest websocket message daphne takes in: its default --websocket-max-message-size (and
# --websocket-max-frame-size). daphne fails a longer one by dropping the TCP connection, without a
# close frame, so nothing reaches the consumer and the page sees only a lost connection; daphne has
# no public setting to answer it with close code 1009 instead.
DAPHNE_MAX_MESSAGE_BYTES = 1024 * 1024
# What one character of a text takes in the frame the page sends, at most: JSON.stringify writes
# any UTF-16 code unit in 3 bytes of UTF-8 or fewer, escaped quotes and line breaks included (only
# the other C0 control characters, written as \u00XX, take more).
FRAME_BYTES_PER_CHARACTER = 3
# The JSON around the texts of a fan-out: action, ids, request id, and each variant's model and numbers.
FRAME_ENVELOPE_BYTES = 10_000


def frame_limit() -> int:
    """The longest frame read, in characters. A fan-out carries the system prompt once per
    variant, and JSON escaping can double text."""
    return (
        2 * (django_settings.MAX_MESSAGE_CHARS + MAX_VARIANTS * django_settings.MAX_SYSTEM_PROMPT_CHARS)
        + 10_000
    )


def frame_ceiling() -> int:
    """The longest frame the server takes in at all, in bytes: daphne's own ceiling. Anything
    longer never reaches the consumer (see DAPHNE_MAX_MESSAGE_BYTES)."""
    return DAPHNE_MAX_MESSAGE_BYTES


def largest_page_frame() -> int:
    """The most bytes a frame the page sends within the limits can take: the longest message and
    MAX_VARIANTS system prompts at their longest (the page repeats it in every variant)."""
    texts = django_settings.MAX_MESSAGE_CHARS + MAX_VARIANTS * django_settings.MAX_SYSTEM_PROMPT_CHARS
    return FRAME_BYTES_PER_CHARACTER * texts + FRAME_ENVELOPE_BYTES


def check_frames_fit(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A system check: every frame within the limits must fit under daphne's ceiling, so that the
    consumer reads it and answers it, instead of daphne dropping the connection without a word."""
    largest, ceiling = largest_page_frame(), frame_ceiling()
    if largest <= ceiling:
        return []
    return [
        checks.Warning(
            f"With WORKBENCH_MAX_MESSAGE_CHARS={django_settings.MAX_MESSAGE_CHARS} and "
            f"WORKBENCH_MAX_SYSTEM_PROMPT_CHARS={django_settings.MAX_SYSTEM_PROMPT_CHARS}, a send to "
            f"{MAX_VARIANTS} models can take {largest:,} bytes, more than the {ceiling:,} daphne takes in "
            "by default: daphne drops such a connection, and the page only says it was lost.",
            hint="Lower those limits, or run daphne with --websocket-max-message-size and "
            f"--websocket-max-frame-size of at least {largest} (this check cannot see daphne's options).",
            id="workbench.W001",
        )
    ]


@dataclass(frozen=True)
class Action:
    name: str
    request_id: str = ""
    turn: int | None = None
    parent: int | None = None
    content: str = ""
    variants: tuple[Variant, ...] = ()
    offset: int = 0
    reasoning_offset: int | None = None


# --- one rule and one message per field --------------------------------------------------------
# The limits are Django settings, read at each validation (tests and deployments change them).


def _within(text: str, what: str, limit: int) -> str:
    if "\x00" in text:
        raise refusal(f"{what} contains a NUL character.", code="invalid")
    if len(text) > limit:
        raise refusal(f"{what} is {len(text):,} characters; the limit is {limit:,}.", code="too_large")
    return text


def _message(text: str) -> str:
    if not text.strip():
        raise refusal("The message is empty.", code="empty")
    return _within(text, "The message", django_settings.MAX_MESSAGE_CHARS)


def _system_prompt(text: str | None) -> str:
    return _within(text or "", "The system prompt", django_settings.MAX_SYSTEM_PROMPT_CHARS)


def _max_tokens_rule(value: Any = None) -> str:
    return f"settings.max_tokens must be a whole number from 1 to {django_settings.MAX_OUTPUT_TOKENS}."


def _at_most_output_tokens(value: int) -> int:
    if value > django_settings.MAX_OUTPUT_TOKENS:
        raise ValueError(_max_tokens_rule())
    return value


def _unknown_setting(keys: list[str]) -> PydanticCustomError:
    return refusal(
        f"Unknown setting {keys[0]!r:.40}; known settings: {', '.join(SETTING_KEYS)}.", code="unknown_setting"
    )


# The most thinking budget a request may ask for (Anthropic's largest models answer in at most 128K).
MAX_THINKING_BUDGET = 128_000


def _unknown_action(value: Any) -> Any:
    raise refusal(f"Unknown action {value!r:.40}; expected one of: {', '.join(ACTIONS)}.", code="unknown_action")


_TURN_ID = Field(ge=1, le=MAX_ID)
Turn = Annotated[int, _TURN_ID, refused('"turn" must be a turn id (a positive integer).')]
TurnOrNull = Annotated[
    Annotated[int, _TURN_ID] | None, refused('"turn" must be a turn id (a positive integer) or null.')
]
Parent = Annotated[
    Annotated[int, _TURN_ID] | None, refused('"parent" must be a turn id (a positive integer) or null.')
]
RequestId = Annotated[str, Field(max_length=100), refused('"request_id" must be a string of at most 100 characters.')]
Content = Annotated[str, refused('"content" must be a string.'), AfterValidator(_message)]
# "<provider>:<model>" (the pattern is searched for, not matched whole); whether it names a
# configured model is the registry's to say.
ModelId = Annotated[
    str, Field(pattern=":"), refused('"model" must be a model id like "local:smollm2-135m-instruct".')
]
Offset = Annotated[int, Field(ge=0), refused('"offset" must be a whole number of characters, 0 or more.')]
ReasoningOffset = Annotated[
    Annotated[int, Field(ge=0)] | None,
    refused('"reasoning_offset" must be a whole number of characters, 0 or more.'),
]
SystemPrompt = Annotated[
    str | None, refused("settings.system_prompt must be a string."), AfterValidator(_system_prompt)
]
Temperature = Annotated[
    Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)] | None,
    refused("settings.temperature must be a number from 0 to 2."),
]
TopP = Annotated[
    Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None,
    refused("settings.top_p must be a number from 0 to 1."),
]
MaxTokens = Annotated[
    Annotated[int, Field(ge=1), AfterValidator(_at_most_output_tokens)] | None, refused(_max_tokens_rule)
]
ReasoningEffort = Annotated[
    Literal["low", "medium", "high"] | None,
    refused('settings.reasoning_effort must be "low", "medium" or "high".'),
]
# Anthropic's least thinking budget is 1,024 tokens.
ThinkingBudget = Annotated[
    Annotated[int, Field(ge=1024, le=MAX_THINKING_BUDGET)] | None,
    refused(f"settings.thinking_budget must be a whole number of tokens from 1024 to {MAX_THINKING_BUDGET}."),
]
UnknownAction = Annotated[Any, PlainValidator(_unknown_action)]

# A field whose absence reads as null: its rule says what is missing ('"content" must be a string').
_REQUIRED_AS_NULL: Any = Field(None, validate_default=True)


# --- the frames ---------------------------------------------------------------------------------


class Settings(BaseModel):
    """A reply's settings: every key known, every value checked."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    system_prompt: SystemPrompt = ""
    temperature: Temperature = None
    max_tokens: MaxTokens = None
    top_p: TopP = None
    reasoning_effort: ReasoningEffort = None
    thinking_budget: ThinkingBudget = None

    def generation(self) -> GenerationSettings:
        return GenerationSettings(
            system_prompt=self.system_prompt or "", temperature=self.temperature, max_tokens=self.max_tokens,
            top_p=self.top_p, reasoning_effort=self.reasoning_effort, thinking_budget=self.thinking_budget,
        )


SETTING_KEYS = tuple(Settings.model_fields)
SettingsObject = Annotated[
    Settings | None, refused('"settings" must be an object.', unknown=_unknown_setting)
]


def _one_reply(model: str, settings: Settings | None) -> Variant:
    return Variant(model_id=model, settings=(settings or Settings()).generation())


class _Read(BaseModel):
    """The keys a frame's reader uses, strictly typed; other keys are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class VariantFrame(_Read):
    model: ModelId = _REQUIRED_AS_NULL
    settings: SettingsObject = None


Variants = Annotated[
    list[Annotated[VariantFrame, refused('Each of "variants" must be an object with "model" and "settings".')]],
    Field(min_length=2, max_length=MAX_VARIANTS),
    refused(f'"variants" must be a list of 2 to {MAX_VARIANTS} {{"model", "settings"}} objects.'),
]


class _Frame(_Read):
    request_id: RequestId = ""

    def parsed(self) -> Action:
        raise NotImplementedError


class Send(_Frame):
    action: Literal["send"]
    parent: Parent
    content: Content = _REQUIRED_AS_NULL
    model: ModelId = _REQUIRED_AS_NULL
    settings: SettingsObject = None

    def parsed(self) -> Action:
        return Action(
            self.action, self.request_id, parent=self.parent, content=self.content,
            variants=(_one_reply(self.model, self.settings),),
        )


class SendVariants(_Frame):
    action: Literal["send"]
    parent: Parent
    content: Content = _REQUIRED_AS_NULL
    variants: Variants

    def parsed(self) -> Action:
        return Action(
            self.action, self.request_id, parent=self.parent, content=self.content,
            variants=tuple(_one_reply(v.model, v.settings) for v in self.variants),
        )


class Edit(_Frame):
    action: Literal["edit"]
    turn: Turn
    content: Content = _REQUIRED_AS_NULL
    model: ModelId = _REQUIRED_AS_NULL
    settings: SettingsObject = None

    def parsed(self) -> Action:
        return Action(
            self.action, self.request_id, turn=self.turn, content=self.content,
            variants=(_one_reply(self.model, self.settings),),
        )


class EditVariants(_Frame):
    action: Literal["edit"]
    turn: Turn
    content: Content = _REQUIRED_AS_NULL
    variants: Variants

    def parsed(self) -> Action:
        return Action(
            self.action, self.request_id, turn=self.turn, content=self.content,
            variants=tuple(_one_reply(v.model, v.settings) for v in self.variants),
        )


class Regenerate(_Frame):
    action: Literal["regenerate"]
    turn: Turn
    model: ModelId = _REQUIRED_AS_NULL
    settings: SettingsObject = None

    def parsed(self) -> Action:
        return Action(
            self.action, self.request_id, turn=self.turn, variants=(_one_reply(self.model, self.settings),)
        )


class OnTurn(_Frame):
    """stop and delete."""

    action: Literal["stop", "delete"]
    turn: Turn

    def parsed(self) -> Action:
        return Action(self.action, self.request_id, turn=self.turn)


class Main(_Frame):
    action: Literal["main"]
    turn: TurnOrNull

    def parsed(self) -> Action:
        return Action(self.action, self.request_id, turn=self.turn)


class Resume(_Frame):
    action: Literal["resume"]
    offset: Offset = 0
    reasoning_offset: ReasoningOffset = None
    turn: Turn

    def parsed(self) -> Action:
        return Action(self.action, self.request_id, turn=self.turn, offset=self.offset,
                      reasoning_offset=self.reasoning_offset)


class Unknown(_Frame):
    """A frame whose "action" is none of ACTIONS: refused once its request_id is checked."""

    action: UnknownAction = _REQUIRED_AS_NULL


def _reader(frame: Any) -> str:
    """Which model reads `frame`: its action's, the fan-out's for send and edit with "variants"."""
    action = frame.get("action") if isinstance(frame, dict) else None
    if not isinstance(action, str) or action not in ACTIONS:
        return "unknown"
    if action in ("send", "edit") and "variants" in frame:
        return f"{action} variants"
    return action


AnyFrame = Annotated[
    Annotated[Send, Tag("send")]
    | Annotated[SendVariants, Tag("send variants")]
    | Annotated[Edit, Tag("edit")]
    | Annotated[EditVariants, Tag("edit variants")]
    | Annotated[Regenerate, Tag("regenerate")]
    | Annotated[OnTurn, Tag("stop")]
    | Annotated[OnTurn, Tag("delete")]
    | Annotated[Main, Tag("main")]
    | Annotated[Resume, Tag("resume")]
    | Annotated[Unknown, Tag("unknown")],
    Discriminator(_reader),
]
FRAME: TypeAdapter[AnyFrame] = TypeAdapter(AnyFrame)


def _service_error(error: ErrorDetails) -> ServiceError:
    if error["type"] == REFUSED:
        return ServiceError(error["msg"], code=error["ctx"]["code"])
    if error["type"] == "missing":
        return ServiceError(f'"{error["loc"][-1]}" is missing.', code="missing_field")
    # Every field above has its own message; this is for one added without.
    return ServiceError(f'"{error["loc"][-1]}" is not valid: {error["msg"]}.', code="invalid")


def parse_action(frame: Any) -> Action:
    if not isinstance(frame, dict):
        raise ServiceError("A frame must be a JSON object.", code="wrong_type")
    check_strings(frame, name="The frame")
    try:
        return FRAME.validate_python(frame).parsed()
    except ValidationError as exc:
        raise _service_error(exc.errors(include_url=False)[0]) from None
