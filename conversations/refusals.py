"""One message per field for declared pydantic schemas of untrusted input: the frames a client sends
on a socket (streaming/protocol.py) and what an administrator configures (registry.py,
catalogue.py).

Pydantic says what is wrong in its own words ("Input should be a valid integer"); each field here
says it once, in the words its reader needs. `refused` attaches that message to a type: a problem
with the value itself (its type, range, length or pattern) becomes the field's message, while a
problem inside it (an item of a list, a field of an object) keeps its own, so the message always
names the innermost place that is wrong. A validator that makes its own refusal (a limit read from
Django's settings, say) is written after `refused` in the `Annotated`, so its message stays.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError

# The pydantic error type of every refusal: its "msg" is the message, its ctx["code"] a short code
# for programs (the socket protocol sends it).
REFUSED = "workbench_refused"


def refusal(message: str, *, code: str = "invalid") -> PydanticCustomError:
    """A validation error carrying `message` as it is (braces in it are not a template)."""
    return PydanticCustomError(REFUSED, "{message}", {"message": message, "code": code})


def refused(
    message: str | Callable[[Any], str],
    *,
    code: str = "wrong_type",
    unknown: Callable[[list[str]], PydanticCustomError] | None = None,
    whole: bool = False,
) -> WrapValidator:
    """Validate with the annotated type; refuse with `message` (a text, or one made from the value)
    when the value itself is wrong, or with `whole`, when anything inside it is. For an object that
    forbids unknown keys, `unknown` makes the refusal from their names, sorted; it comes before any
    problem of the object's fields, as a misspelt key usually explains the rest."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            if whole or any(not error["loc"] for error in errors):
                raise refusal(message(value) if callable(message) else message, code=code) from None
            keys = sorted(
                str(error["loc"][0])
                for error in errors
                if error["type"] == "extra_forbidden" and len(error["loc"]) == 1
            )
            if keys and unknown is not None:
                raise unknown(keys) from None
            raise  # a problem inside the value, with its own message and place

    return WrapValidator(validate)
