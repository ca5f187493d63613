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

from conversations.errors import ServiceError
from conversations.providers.base import GenerationSettings
from conversations.services import MAX_VARIANTS, Variant
from conversations.validation import check_strings

MAX_ID = 2**63 - 1  # the database's largest id
ACTIONS = ("send", "edit", "regenerate", "stop", "resume", "delete", "main")
SETTING_KEYS = ("system_prompt", "temperature", "max_tokens", "top_p")


def frame_limit() -> int:
    """The longest frame read, in characters. A fan-out carries the system prompt once per
    variant, and JSON escaping can double text."""
    return (
        2 * (django_settings.MAX_MESSAGE_CHARS + MAX_VARIANTS * django_settings.MAX_SYSTEM_PROMPT_CHARS)
        + 10_000
    )


def frame_ceiling() -> int:
    """The longest frame the server takes in at all, in bytes: a frame within `frame_limit()`
    takes at most 4 bytes a character in UTF-8. The transport refuses longer ones (close 1009)."""
    return 4 * frame_limit()


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
        raise ServiceError(f'"{key}" is missing.', code="missing_field")
    value = frame[key]
    if value is None and nullable:
        return None
    if type(value) is not int or not 1 <= value <= MAX_ID:
        kind = "a turn id (a positive integer)" + (" or null" if nullable else "")
        raise ServiceError(f'"{key}" must be {kind}.', code="wrong_type")
    return value


def _check_text(text: str, what: str, limit: int) -> None:
    if "\x00" in text:
        raise ServiceError(f"{what} contains a NUL character.", code="invalid")
    if len(text) > limit:
        raise ServiceError(f"{what} is {len(text):,} characters; the limit is {limit:,}.", code="too_large")


def _number(values: dict, key: str, low: float, high: float) -> float | None:
    value = values.get(key)
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value) or not low <= value <= high:
        raise ServiceError(
            f'settings.{key} must be a number from {low:g} to {high:g}.', code="wrong_type"
        )
    return float(value)


def parse_settings(values) -> GenerationSettings:
    if values is None:
        return GenerationSettings()
    if not isinstance(values, dict):
        raise ServiceError('"settings" must be an object.', code="wrong_type")
    unknown = sorted(set(values) - set(SETTING_KEYS))
    if unknown:
        raise ServiceError(
            f"Unknown setting {unknown[0]!r}; known settings: {', '.join(SETTING_KEYS)}.",
            code="unknown_setting",
        )
    system_prompt = values.get("system_prompt") or ""
    if not isinstance(system_prompt, str):
        raise ServiceError("settings.system_prompt must be a string.", code="wrong_type")
    _check_text(system_prompt, "The system prompt", django_settings.MAX_SYSTEM_PROMPT_CHARS)
    max_tokens = values.get("max_tokens")
    if max_tokens is not None and (
        type(max_tokens) is not int or not 1 <= max_tokens <= django_settings.MAX_OUTPUT_TOKENS
    ):
        raise ServiceError(
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
        raise ServiceError('"model" must be a model id like "local:smollm2-135m-instruct".', code="wrong_type")
    return model


def _variant(frame: dict) -> Variant:
    return Variant(model_id=_model(frame), settings=parse_settings(frame.get("settings")))


def _variants(frame: dict) -> tuple[Variant, ...]:
    """One variant from "model" and "settings", or a fan-out from "variants"."""
    if "variants" not in frame:
        return (_variant(frame),)
    variants = frame["variants"]
    if not isinstance(variants, list) or not 2 <= len(variants) <= MAX_VARIANTS:
        raise ServiceError(
            f'"variants" must be a list of 2 to {MAX_VARIANTS} {{"model", "settings"}} objects.',
            code="wrong_type",
        )
    if not all(isinstance(v, dict) for v in variants):
        raise ServiceError('Each of "variants" must be an object with "model" and "settings".', code="wrong_type")
    return tuple(_variant(v) for v in variants)


def _content(frame: dict) -> str:
    content = frame.get("content")
    if not isinstance(content, str):
        raise ServiceError('"content" must be a string.', code="wrong_type")
    if not content.strip():
        raise ServiceError("The message is empty.", code="empty")
    _check_text(content, "The message", django_settings.MAX_MESSAGE_CHARS)
    return content


def parse_action(frame) -> Action:
    if not isinstance(frame, dict):
        raise ServiceError("A frame must be a JSON object.", code="wrong_type")
    check_strings(frame, name="The frame")
    request_id = frame.get("request_id", "")
    if not isinstance(request_id, str) or len(request_id) > 100:
        raise ServiceError('"request_id" must be a string of at most 100 characters.', code="wrong_type")
    name = frame.get("action")
    if name not in ACTIONS:
        raise ServiceError(
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
        raise ServiceError('"offset" must be a whole number of characters, 0 or more.', code="wrong_type")
    return Action(**common, turn=_turn_id(frame, "turn"), offset=offset)
