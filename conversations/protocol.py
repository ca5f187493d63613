"""The websocket protocol: validate what a client sends before anything acts on it.

Client → server frames are JSON objects with an "action":
  send        {"parent": id|null, "content": str, "model": "provider:model", "settings": {...}}
              or, for a fan-out, "variants": [{"model": ..., "settings": {...}}, ...] (2 to 6)
  edit        {"turn": id, "content": str, and "model"/"settings" or "variants" as for send}
  regenerate  {"turn": id, "model": "provider:model", "settings": {...}}
  stop        {"turn": id}
  resume      {"turn": id, "offset": int}
  delete      {"turn": id}
  main        {"turn": id|null}
Any frame may carry a "request_id" (string) that the server echoes in its answer.
Every string in a frame, keys included, must be valid Unicode (no unpaired surrogate).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings as django_settings
from django.core import checks

from conversations.providers.base import GenerationSettings
from conversations.services import MAX_VARIANTS, Variant
from conversations.validation import InvalidInput, check_strings

MAX_ID = 2**63 - 1  # the database's largest id
ACTIONS = ("send", "edit", "regenerate", "stop", "resume", "delete", "main")
SETTING_KEYS = ("system_prompt", "temperature", "max_tokens", "top_p")


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


# A refused frame is refused input like any other: one error type, whether the JSON, a string's
# Unicode or a field's value is at fault.
ProtocolError = InvalidInput


@dataclass(frozen=True)
class Action:
    name: str
    request_id: str = ""
    turn: int | None = None
    parent: int | None = None
    content: str = ""
    variants: tuple[Variant, ...] = ()
    offset: int = 0


def _turn_id(frame: dict, key: str, *, nullable: bool = False) -> int | None:
    if key not in frame:
        raise ProtocolError(f'"{key}" is missing.', code="missing_field")
    value = frame[key]
    if value is None and nullable:
        return None
    if type(value) is not int or not 1 <= value <= MAX_ID:
        kind = "a turn id (a positive integer)" + (" or null" if nullable else "")
        raise ProtocolError(f'"{key}" must be {kind}.', code="wrong_type")
    return value


def _check_text(text: str, what: str, limit: int) -> None:
    if "\x00" in text:
        raise ProtocolError(f"{what} contains a NUL character.", code="invalid")
    if len(text) > limit:
        raise ProtocolError(f"{what} is {len(text):,} characters; the limit is {limit:,}.", code="too_large")


def _number(values: dict, key: str, low: float, high: float) -> float | None:
    value = values.get(key)
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value) or not low <= value <= high:
        raise ProtocolError(
            f'settings.{key} must be a number from {low:g} to {high:g}.', code="wrong_type"
        )
    return float(value)


def parse_settings(values) -> GenerationSettings:
    if values is None:
        return GenerationSettings()
    if not isinstance(values, dict):
        raise ProtocolError('"settings" must be an object.', code="wrong_type")
    unknown = sorted(set(values) - set(SETTING_KEYS))
    if unknown:
        raise ProtocolError(
            f"Unknown setting {unknown[0]!r}; known settings: {', '.join(SETTING_KEYS)}.",
            code="unknown_setting",
        )
    system_prompt = values.get("system_prompt") or ""
    if not isinstance(system_prompt, str):
        raise ProtocolError("settings.system_prompt must be a string.", code="wrong_type")
    _check_text(system_prompt, "The system prompt", django_settings.MAX_SYSTEM_PROMPT_CHARS)
    max_tokens = values.get("max_tokens")
    if max_tokens is not None and (
        type(max_tokens) is not int or not 1 <= max_tokens <= django_settings.MAX_OUTPUT_TOKENS
    ):
        raise ProtocolError(
            f"settings.max_tokens must be a whole number from 1 to "
            f"{django_settings.MAX_OUTPUT_TOKENS}.",
            code="wrong_type",
        )
    return GenerationSettings(
        system_prompt=system_prompt,
        temperature=_number(values, "temperature", 0, 2),
        max_tokens=max_tokens,
        top_p=_number(values, "top_p", 0, 1),
    )


def _model(frame: dict) -> str:
    model = frame.get("model")
    if not isinstance(model, str) or ":" not in model:
        raise ProtocolError('"model" must be a model id like "local:smollm2-135m-instruct".', code="wrong_type")
    return model


def _variant(frame: dict) -> Variant:
    return Variant(model_id=_model(frame), settings=parse_settings(frame.get("settings")))


def _variants(frame: dict) -> tuple[Variant, ...]:
    """One variant from "model" and "settings", or a fan-out from "variants"."""
    if "variants" not in frame:
        return (_variant(frame),)
    variants = frame["variants"]
    if not isinstance(variants, list) or not 2 <= len(variants) <= MAX_VARIANTS:
        raise ProtocolError(
            f'"variants" must be a list of 2 to {MAX_VARIANTS} {{"model", "settings"}} objects.',
            code="wrong_type",
        )
    if not all(isinstance(v, dict) for v in variants):
        raise ProtocolError('Each of "variants" must be an object with "model" and "settings".', code="wrong_type")
    return tuple(_variant(v) for v in variants)


def _content(frame: dict) -> str:
    content = frame.get("content")
    if not isinstance(content, str):
        raise ProtocolError('"content" must be a string.', code="wrong_type")
    if not content.strip():
        raise ProtocolError("The message is empty.", code="empty")
    _check_text(content, "The message", django_settings.MAX_MESSAGE_CHARS)
    return content


def parse_action(frame) -> Action:
    if not isinstance(frame, dict):
        raise ProtocolError("A frame must be a JSON object.", code="wrong_type")
    check_strings(frame, name="The frame")
    request_id = frame.get("request_id", "")
    if not isinstance(request_id, str) or len(request_id) > 100:
        raise ProtocolError('"request_id" must be a string of at most 100 characters.', code="wrong_type")
    name = frame.get("action")
    if name not in ACTIONS:
        raise ProtocolError(
            f"Unknown action {name!r}; expected one of: {', '.join(ACTIONS)}.", code="unknown_action"
        )
    common = {"name": name, "request_id": request_id}
    if name == "send":
        return Action(
            **common,
            parent=_turn_id(frame, "parent", nullable=True),
            content=_content(frame),
            variants=_variants(frame),
        )
    if name == "edit":
        return Action(
            **common, turn=_turn_id(frame, "turn"), content=_content(frame), variants=_variants(frame)
        )
    if name == "regenerate":
        return Action(**common, turn=_turn_id(frame, "turn"), variants=(_variant(frame),))
    if name == "main":
        return Action(**common, turn=_turn_id(frame, "turn", nullable=True))
    if name in ("stop", "delete"):
        return Action(**common, turn=_turn_id(frame, "turn"))
    offset = frame.get("offset", 0)
    if type(offset) is not int or offset < 0:
        raise ProtocolError('"offset" must be a whole number of characters, 0 or more.', code="wrong_type")
    return Action(**common, turn=_turn_id(frame, "turn"), offset=offset)
