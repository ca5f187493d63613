"""The values that name things: providers and models, as one strict rule each.

Every place such a value enters the workbench (an import file, the model registry, a copy into a
fork) checks it with the rule here, so what is stored is always a plain name. None of the rules lets
through a space, a quote, a backslash or a line break: a name that passes can be printed anywhere,
even in a comment of generated code, without changing what the code does.

The rules are pydantic types (`ProviderName`, `ModelName`) for declared schemas, and plain functions
(`provider_name_problem`, `model_name_problem`) for code that checks one value. A problem reads as the
end of a sentence that begins with the field's name: `"model" must be a model name: …`.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import PlainValidator
from pydantic_core import ErrorDetails, PydanticCustomError

# pydantic error types of the validators here: a FIELD problem is written after the field's name, a
# SENTENCE is a whole statement about its place (see `describe`).
FIELD = "workbench_field"
SENTENCE = "workbench_sentence"

# The registry's names (openai, openai-responses, anthropic, local), those of
# OPENAI_COMPATIBLE_ENDPOINTS, and "chatgpt" for ChatGPT imports.
PROVIDER_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# gpt-4.1-mini, claude-sonnet-4-5, llama3.2:latest, Qwen/Qwen2.5-7B-Instruct, ft:gpt-4o:org::id,
# hf.co/org/model-GGUF:Q4_K_M, anthropic.claude-v2:1, and Cloudflare's @cf/meta/llama-3-8b-instruct.
MODEL_NAME = re.compile(r"[A-Za-z0-9@][A-Za-z0-9._:/@+-]{0,199}")

PROVIDER_RULE = (
    'a provider name: lower-case letters, digits, ".", "_" or "-", beginning with a letter or digit, '
    'at most 64 characters (like "openai" or "ollama")'
)
MODEL_RULE = (
    'a model name: letters, digits, ".", "_", ":", "/", "@", "+" or "-", beginning with a letter, digit '
    'or "@", at most 200 characters (like "gpt-4.1-mini", "llama3.2:latest" or "org/model")'
)

# A database id as a form sends it: ASCII digits, within the id range of every database.
ID_PATTERN = re.compile(r"[0-9]{1,18}")


def kind_of(value: Any) -> str:
    """What a JSON value is, in words."""
    if isinstance(value, bool):
        return "true/false"
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(type(value), "a number")


def shown(value: Any, length: int = 40) -> str:
    """A short, printable rendering of a value for an error message: repr escapes line breaks and
    every other non-printable character, and containers are named, not printed (they can be huge)."""
    if isinstance(value, (dict, list)):
        return kind_of(value)
    if isinstance(value, str):
        value = value[: length + 1]
    text = repr(value)
    return text if len(text) <= length else text[: length - 1] + "…"


def problem(message: str, *, sentence: bool = False) -> PydanticCustomError:
    """A validation error carrying `message` as it is (its braces are not a template)."""
    return PydanticCustomError(SENTENCE if sentence else FIELD, "{message}", {"message": message})


def _name_problem(value: Any, pattern: re.Pattern[str], rule: str) -> str | None:
    if not isinstance(value, str):
        return f"must be {rule}, not {kind_of(value)}."
    # fullmatch, not match with "$": "$" also matches before a final line break.
    if value and pattern.fullmatch(value) is None:
        return f"must be {rule}, not {shown(value)}."
    return None


def provider_name_problem(value: Any) -> str | None:
    """Why `value` is not a provider name ("" is: no provider), or None when it is one."""
    return _name_problem(value, PROVIDER_NAME, PROVIDER_RULE)


def model_name_problem(value: Any) -> str | None:
    """Why `value` is not a model name ("" is: no model), or None when it is one."""
    return _name_problem(value, MODEL_NAME, MODEL_RULE)


def is_provider_name(value: Any) -> bool:
    return bool(value) and provider_name_problem(value) is None


def stored_names_problem(*, provider: Any, model: Any) -> str | None:
    """What is wrong with a stored turn's provider and model names, for code that copies turns.
    The value is not repeated: the message may be shown as HTML, and the value may be anything."""
    for name, value, check, rule in (
        ("provider", provider, provider_name_problem, PROVIDER_RULE),
        ("model", model, model_name_problem, MODEL_RULE),
    ):
        if check(value) is not None:
            return f'its "{name}" is not {rule}.'
    return None


def checked(check: Callable[[Any], str | None]) -> PlainValidator:
    """A pydantic validator from a function that says what is wrong with a value (None: nothing)."""

    def validate(value: Any) -> Any:
        message = check(value)
        if message is not None:
            raise problem(message)
        return value

    return PlainValidator(validate)


ProviderName = Annotated[str, checked(provider_name_problem)]
ModelName = Annotated[str, checked(model_name_problem)]


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,80}")


def field_path(loc: tuple[int | str, ...]) -> str:
    """("context", "omitted", 2) as context.omitted[2]; a key that is not a plain word is shown
    quoted and escaped, as settings['odd key\\n']."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{shown(part, 60)}]"
    return text


def _sentence(place: str, subject: str, rest: str) -> str:
    if place and subject:
        return f"{place}: {subject} {rest}"
    return f"{place or subject} {rest}"


def describe(error: ErrorDetails, place: str, loc: tuple[int | str, ...]) -> str:
    """One pydantic error as a sentence: `place` says where in the file or the tree (may be empty),
    `loc` is the field's path below that place (empty: the place itself is wrong)."""
    kind = error["type"]
    if kind == SENTENCE:
        return f"{place}: {error['msg']}" if place else error["msg"]
    if loc and loc[-1] == "[key]":  # one of a dict's keys, not a value
        subject = f'"{field_path(loc[:-2])}" has the key {shown(loc[-2])}, which'
    else:
        subject = f'"{field_path(loc)}"' if loc else ""
    if kind == FIELD:
        return _sentence(place, subject, error["msg"])
    if kind == "missing":
        return f'{place or "The file"} has no "{field_path(loc)}".'
    if kind == "extra_forbidden":
        return _sentence(place, subject, "is not a field this workbench knows; remove it.")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return _sentence(place, subject, f"must be an object, not {kind_of(error['input'])}.")
    if kind == "list_type":
        return _sentence(place, subject, f"must be a list, not {kind_of(error['input'])}.")
    return _sentence(place, subject, f"is not valid: {error['msg']}.")
