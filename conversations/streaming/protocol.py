"""The websocket protocol: what a client may send, declared, and checked before anything acts on it.

Client → server frames are JSON objects with an "action":
  send        {"parent": id|null, "content": str, "model": "provider:model", "settings": {...}}
              or, for a fan-out, "variants": [{"model": ..., "settings": {...}}, ...] (2 to 6);
              optionally "attachments": [{"upload": uuid} | {"turn": id, "index": n}, ...] (see
              attachments/refs.py; the content may then be blank) and "text_only": true (images
              left out for a model that cannot see them)
  edit        {"turn": id, "content": str, and "model"/"settings" or "variants", "attachments"
              and "text_only" as for send: the files kept from the original are named as turn refs}
  regenerate  {"turn": id, "model": "provider:model", "settings": {...}, optionally "text_only"}
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
    ValidationInfo,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from conversations.attachments.refs import AttachmentRef, AttachmentRefs, TextOnly
from conversations.errors import ServiceError
from conversations.providers.base import GenerationSettings
from conversations.refusals import REFUSED, refusal, refused
from conversations.services import MAX_VARIANTS, Variant

# Frame sizes live in frame_size.py; they are read from here by the consumers, apps.py and tests.
from conversations.streaming.frame_size import (  # noqa: F401
    DAPHNE_MAX_MESSAGE_BYTES,
    FRAME_BYTES_PER_CHARACTER,
    FRAME_ENVELOPE_BYTES,
    check_frames_fit,
    frame_ceiling,
    frame_limit,
    largest_page_frame,
)
from conversations.validation import check_strings

MAX_ID = 2**63 - 1  # the database's largest id
ACTIONS = ("send", "edit", "regenerate", "stop", "resume", "delete", "main")


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
    attachments: tuple[AttachmentRef, ...] = ()
    text_only: bool = False


# --- one rule and one message per field --------------------------------------------------------
# The limits are Django settings, read at each validation (tests and deployments change them).


def _within(text: str, what: str, limit: int) -> str:
    if "\x00" in text:
        raise refusal(f"{what} contains a NUL character.", code="invalid")
    if len(text) > limit:
        raise refusal(f"{what} is {len(text):,} characters; the limit is {limit:,}.", code="too_large")
    return text


def _message(text: str, info: ValidationInfo) -> str:
    # A message may be files alone (the frame's "attachments" come before its "content").
    if not text.strip() and not info.data.get("attachments"):
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


class _Prompt(_Frame):
    """What send and edit share: the files attached, and whether images are left out."""

    attachments: AttachmentRefs = ()  # type: ignore[assignment]
    text_only: TextOnly = False

    def _action(self, name: str, **fields: Any) -> Action:
        return Action(name, self.request_id, attachments=tuple(self.attachments), text_only=self.text_only, **fields)


class Send(_Prompt):
    action: Literal["send"]
    parent: Parent
    content: Content = _REQUIRED_AS_NULL
    model: ModelId = _REQUIRED_AS_NULL
    settings: SettingsObject = None

    def parsed(self) -> Action:
        return self._action(
            self.action, parent=self.parent, content=self.content, variants=(_one_reply(self.model, self.settings),)
        )


class SendVariants(_Prompt):
    action: Literal["send"]
    parent: Parent
    content: Content = _REQUIRED_AS_NULL
    variants: Variants

    def parsed(self) -> Action:
        return self._action(
            self.action, parent=self.parent, content=self.content,
            variants=tuple(_one_reply(v.model, v.settings) for v in self.variants),
        )


class Edit(_Prompt):
    action: Literal["edit"]
    turn: Turn
    content: Content = _REQUIRED_AS_NULL
    model: ModelId = _REQUIRED_AS_NULL
    settings: SettingsObject = None

    def parsed(self) -> Action:
        return self._action(
            self.action, turn=self.turn, content=self.content, variants=(_one_reply(self.model, self.settings),)
        )


class EditVariants(_Prompt):
    action: Literal["edit"]
    turn: Turn
    content: Content = _REQUIRED_AS_NULL
    variants: Variants

    def parsed(self) -> Action:
        return self._action(
            self.action, turn=self.turn, content=self.content,
            variants=tuple(_one_reply(v.model, v.settings) for v in self.variants),
        )


class Regenerate(_Frame):
    action: Literal["regenerate"]
    turn: Turn
    model: ModelId = _REQUIRED_AS_NULL
    settings: SettingsObject = None
    text_only: TextOnly = False

    def parsed(self) -> Action:
        return Action(
            self.action, self.request_id, turn=self.turn, variants=(_one_reply(self.model, self.settings),),
            text_only=self.text_only,
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
